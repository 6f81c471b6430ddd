package consumer

import (
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rocketgo/rocketgo/message"
)

// pqEntry is one cached message.
type pqEntry struct {
	msg     *message.MessageExt
	arrived int64 // unix nanos it was cached (await time)
	start   int64 // unix nanos a callback began, 0 before (consume timeout)
	done    bool
}

// processQueue caches the messages pulled from one queue until they are
// consumed. Messages arrive in offset order and are kept in that order, so
// the committed offset — the lowest offset still in flight — is simply the
// first entry not yet done. Done entries are trimmed off the front.
//
// Concurrent consumption marks entries done in any order (remove). Orderly
// consumption takes entries strictly in order (take), and either commits
// them (commit) or gives them back (rollback).
type processQueue struct {
	q Queue

	mu      sync.Mutex
	entries []pqEntry // entries[head:] are live, ordered by offset
	head    int
	taken   int   // orderly: entries[head:head+taken] are being consumed
	count   int   // live entries not done
	bytes   int64 // body bytes of live entries not done
	maxSeen int64 // highest offset ever put, -1 before the first

	dropped atomic.Bool
	// running counts concurrent callbacks in flight, so a rebalance can
	// wait for them before persisting the offset.
	running atomic.Int32
	// Orderly: whether the broker lock is held and until when it is
	// trusted client-side (Java: 30 s).
	locked   atomic.Bool
	lockedAt atomic.Int64 // unix nanos of the last successful lock

	// consumeMu serialises orderly callbacks on this queue and lets a
	// rebalance wait for the one in flight.
	consumeMu sync.Mutex
	// scheduled says an orderly task for this queue is queued or running.
	scheduled atomic.Bool

	lastPull    atomic.Int64
	lastConsume atomic.Int64
}

func newProcessQueue(q Queue) *processQueue {
	return &processQueue{q: q, maxSeen: -1}
}

// put appends freshly pulled messages (offset order), skipping any at or
// below the highest offset already cached, and stamps their arrival (one
// clock read per pull).
func (pq *processQueue) put(msgs []*message.MessageExt) {
	now := time.Now().UnixNano()
	pq.mu.Lock()
	defer pq.mu.Unlock()
	for _, m := range msgs {
		if m.QueueOffset <= pq.maxSeen {
			continue // a duplicate pull after a reset; already cached
		}
		pq.entries = append(pq.entries, pqEntry{msg: m, arrived: now})
		pq.count++
		pq.bytes += int64(len(m.Body))
		pq.maxSeen = m.QueueOffset
	}
}

// stats returns the cached count, bytes and offset span.
func (pq *processQueue) stats() (count int, bytes int64, span int64) {
	pq.mu.Lock()
	defer pq.mu.Unlock()
	if pq.count > 0 {
		span = pq.maxSeen - pq.entries[pq.head].msg.QueueOffset
	}
	return pq.count, pq.bytes, span
}

// find returns the index of offset in entries[head:], or -1.
func (pq *processQueue) find(offset int64) int {
	live := pq.entries[pq.head:]
	i := sort.Search(len(live), func(i int) bool { return live[i].msg.QueueOffset >= offset })
	if i < len(live) && live[i].msg.QueueOffset == offset {
		return pq.head + i
	}
	return -1
}

// remove marks msgs consumed and returns the offset to commit: the first
// offset still in flight, or maxSeen+1 when nothing is. ok is false when
// the queue holds no message at all (nothing to commit).
func (pq *processQueue) remove(msgs []*message.MessageExt) (commit int64, ok bool) {
	pq.mu.Lock()
	defer pq.mu.Unlock()
	for _, m := range msgs {
		i := pq.find(m.QueueOffset)
		if i < 0 || pq.entries[i].done {
			continue
		}
		pq.entries[i].done = true
		pq.count--
		pq.bytes -= int64(len(m.Body))
	}
	pq.trim()
	if pq.maxSeen < 0 {
		return 0, false
	}
	return pq.commitOffset(), true
}

// commitOffset is the first not-done offset, or maxSeen+1. mu held.
func (pq *processQueue) commitOffset() int64 {
	if pq.head < len(pq.entries) {
		return pq.entries[pq.head].msg.QueueOffset
	}
	return pq.maxSeen + 1
}

// trim drops done entries off the front and compacts the slice once most
// of it is dead, so memory follows the live window. mu held.
func (pq *processQueue) trim() {
	for pq.head < len(pq.entries) && pq.entries[pq.head].done {
		pq.entries[pq.head] = pqEntry{}
		pq.head++
		if pq.taken > 0 {
			pq.taken--
		}
	}
	if pq.head == len(pq.entries) {
		pq.entries = pq.entries[:0]
		pq.head = 0
		return
	}
	if pq.head > 1024 && pq.head*2 > len(pq.entries) {
		n := copy(pq.entries, pq.entries[pq.head:])
		clear(pq.entries[n:])
		pq.entries = pq.entries[:n]
		pq.head = 0
	}
}

// take hands out up to n messages after those already taken (orderly),
// and when the first of them arrived.
func (pq *processQueue) take(n int) (msgs []*message.MessageExt, arrived int64) {
	pq.mu.Lock()
	defer pq.mu.Unlock()
	start := pq.head + pq.taken
	end := min(start+n, len(pq.entries))
	if start >= end {
		return nil, 0
	}
	out := make([]*message.MessageExt, 0, end-start)
	for i := start; i < end; i++ {
		out = append(out, pq.entries[i].msg)
	}
	pq.taken += end - start
	return out, pq.entries[start].arrived
}

// commit marks every taken message consumed and returns the next offset.
func (pq *processQueue) commit() int64 {
	pq.mu.Lock()
	defer pq.mu.Unlock()
	for i := pq.head; i < pq.head+pq.taken; i++ {
		pq.entries[i].done = true
		pq.count--
		pq.bytes -= int64(len(pq.entries[i].msg.Body))
	}
	pq.taken = 0
	pq.trim()
	return pq.commitOffset()
}

// rollback returns the taken messages to the front for another attempt.
func (pq *processQueue) rollback() {
	pq.mu.Lock()
	pq.taken = 0
	pq.mu.Unlock()
}

// pending reports whether messages wait to be taken (orderly).
func (pq *processQueue) pending() bool {
	pq.mu.Lock()
	defer pq.mu.Unlock()
	return pq.head+pq.taken < len(pq.entries)
}

// clear drops every cached message (the queue was reset or removed).
func (pq *processQueue) clear() {
	pq.mu.Lock()
	clear(pq.entries)
	pq.entries = pq.entries[:0]
	pq.head, pq.taken, pq.count, pq.bytes = 0, 0, 0, 0
	pq.mu.Unlock()
}

// lockValid says whether an orderly queue may be consumed: locked, and the
// lock renewed recently enough to still be the broker's view.
func (pq *processQueue) lockValid(maxLive time.Duration) bool {
	return pq.locked.Load() && time.Since(time.Unix(0, pq.lockedAt.Load())) < maxLive
}

// begin registers a concurrent callback unless the queue was dropped; the
// check and the increment share mu with the drop, so a removal that saw
// running == 0 after dropping cannot miss a callback.
// It also stamps the batch's start time for the consume-timeout scan, and
// returns the earliest arrival among msgs (the await time).
func (pq *processQueue) beginBatch(msgs []*message.MessageExt) (arrived int64, ok bool) {
	pq.mu.Lock()
	defer pq.mu.Unlock()
	if pq.dropped.Load() {
		return 0, false
	}
	return pq.beginLocked(msgs), true
}

// begin is beginBatch even on a dropped queue: for its removal, which runs
// the queue's gaps itself.
func (pq *processQueue) begin(msgs []*message.MessageExt) (arrived int64) {
	pq.mu.Lock()
	defer pq.mu.Unlock()
	return pq.beginLocked(msgs)
}

func (pq *processQueue) beginLocked(msgs []*message.MessageExt) (arrived int64) {
	pq.running.Add(1)
	now := time.Now().UnixNano()
	arrived = now
	for _, m := range msgs {
		if i := pq.find(m.QueueOffset); i >= 0 {
			pq.entries[i].start = now
			arrived = min(arrived, pq.entries[i].arrived)
		}
	}
	return arrived
}

// gaps returns, in offset order, the cached messages no callback has begun
// that lie below a consumed one. Pool goroutines begin batches in whatever
// order they reach them, so when a queue is dropped, batch n+1 may have
// begun while batch n had not: n's callback then sees the drop and skips
// it, and a commit of the first offset not consumed (n) would hand n+1 to
// the next owner a second time. The scan stops at a message a callback
// began but did not settle (its send-back failed and it waits for a local
// retry): the offset cannot pass it, so the gaps above it would not help.
func (pq *processQueue) gaps() []*message.MessageExt {
	pq.mu.Lock()
	defer pq.mu.Unlock()
	var out []*message.MessageExt
	n := 0 // len(out) up to the last consumed message seen
	for _, e := range pq.entries[pq.head:] {
		if e.done {
			n = len(out)
			continue
		}
		if e.start != 0 {
			break
		}
		out = append(out, e.msg)
	}
	return out[:n]
}

func (pq *processQueue) end() { pq.running.Add(-1) }

// undone returns the messages of msgs still cached and not consumed; a
// late callback uses it to leave alone what the timeout scan settled.
func (pq *processQueue) undone(msgs []*message.MessageExt) []*message.MessageExt {
	pq.mu.Lock()
	defer pq.mu.Unlock()
	out := msgs[:0:0]
	for _, m := range msgs {
		if i := pq.find(m.QueueOffset); i >= 0 && !pq.entries[i].done {
			out = append(out, m)
		}
	}
	return out
}
