package broker

import (
	"container/heap"
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rocketgo/rocketgo/message"
	"github.com/rocketgo/rocketgo/remoting"
)

// TopicTimer holds messages sent with an arbitrary delivery time (the 5.x
// TIMER_DELIVER_MS / TIMER_DELAY_SEC / TIMER_DELAY_MS properties).
const TopicTimer = "rmq_sys_wheel_timer"

// maxTimerDelay is upstream's timerMaxDelaySec (3 days).
const maxTimerDelay = 72 * time.Hour

// timerRequestProps are the properties that ask for a delivery time; they
// are removed when the message is delivered, so that a copy sent on (a
// retry, a forward) is not parked again. TIMER_OUT_MS, the due time the
// broker recorded, stays, as upstream's timer keeps it: it is how a
// consumer (the gRPC proxy's delivery timestamp) learns when the message
// was due, and the send path never reads it as a request.
var timerRequestProps = []string{message.PropertyTimerDeliverMS, message.PropertyTimerDelaySec, message.PropertyTimerDelayMS}

// timerPropertyPrefix starts every property in timerRequestProps.
const timerPropertyPrefix = "TIMER_"

// deliverAt reads a message's requested delivery time. ok is false when it
// asked for none; a malformed or too distant time is an error.
func deliverAt(props string, clock func() time.Time) (at time.Time, ok bool, err error) {
	if !strings.Contains(props, timerPropertyPrefix) {
		// Every send passes here and almost none is timed: one scan
		// instead of three lookups, and no clock read.
		return time.Time{}, false, nil
	}
	now := clock()
	for _, p := range []struct {
		key  string
		when func(n int64) time.Time
	}{
		{message.PropertyTimerDeliverMS, func(n int64) time.Time { return time.UnixMilli(n) }},
		{message.PropertyTimerDelaySec, func(n int64) time.Time { return now.Add(time.Duration(n) * time.Second) }},
		{message.PropertyTimerDelayMS, func(n int64) time.Time { return now.Add(time.Duration(n) * time.Millisecond) }},
	} {
		v, found := message.LookupPropertyString(props, p.key)
		if !found {
			continue
		}
		n, perr := strconv.ParseInt(v, 10, 64)
		if perr != nil || n < 0 {
			return time.Time{}, false, fmt.Errorf("%s %q is not a non-negative number", p.key, v)
		}
		at = p.when(n)
		if at.Sub(now) > maxTimerDelay {
			return time.Time{}, false, fmt.Errorf("delivery time %s is more than %v ahead", at.Format(time.RFC3339), maxTimerDelay)
		}
		return at, true, nil
	}
	return time.Time{}, false, nil
}

// parkTimed points a message with a future delivery time at the timer topic.
func (b *Broker) parkTimed(m *message.StoredMessage, at time.Time) (int16, string) {
	if _, _, err := b.topics.CreateIfAbsent(TopicTimer, 1, PermRead|PermWrite, 0); err != nil {
		return remoting.SystemError, err.Error()
	}
	props := setProperty([]byte(m.Properties), message.PropertyTimerOutMS, strconv.FormatInt(at.UnixMilli(), 10))
	b.park(m, props, TopicTimer, 0)
	return remoting.Success, ""
}

// timerScheduler delivers timed messages. Unlike delay levels, delivery
// order is not arrival order, so pending messages wait in a min-heap of
// (due time, queue offset, commit-log offset) built by reading the timer
// queue. Progress — the lowest undelivered queue offset plus the delivered
// offsets above it — is persisted after each delivery, so a restart
// rebuilds the heap from progress and skips what was already delivered.
// Memory is 24 bytes per pending timed message.
//
// Recall markers (recall.go) are records of the same queue, due one
// millisecond after the message they cancel: scanned, a marker's key joins
// recalled, so the message it names is skipped when it falls due; the
// marker itself is "delivered" (dropped) at its own due time. Until then it
// is not covered by progress, so a restart reads it again.
type timerScheduler struct {
	b    *Broker
	file *jsonFile
	wake chan struct{}

	mu        sync.Mutex
	pending   timerHeap
	scanned   int64
	progress  int64
	delivered map[int64]bool
	markers   map[int64]string // queue offset of a pending recall marker → its key
	recalled  map[string]int   // recall key → pending markers naming it
}

type timerProgress struct {
	Progress  int64   `json:"progress"`
	Delivered []int64 `json:"delivered"`
}

type timerEntry struct {
	due         int64 // ms
	queueOffset int64
	phyOffset   int64
}

type timerHeap []timerEntry

func (h timerHeap) Len() int           { return len(h) }
func (h timerHeap) Less(i, j int) bool { return h[i].due < h[j].due }
func (h timerHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *timerHeap) Push(x any)        { *h = append(*h, x.(timerEntry)) }
func (h *timerHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	*h = old[:len(old)-1]
	return e
}

func newTimerScheduler(b *Broker, file *jsonFile) (*timerScheduler, error) {
	t := &timerScheduler{b: b, file: file, wake: make(chan struct{}, 1), delivered: map[int64]bool{},
		markers: map[int64]string{}, recalled: map[string]int{}}
	var p timerProgress
	if _, err := file.load(&p); err != nil {
		return nil, err
	}
	t.progress, t.scanned = p.Progress, p.Progress
	for _, off := range p.Delivered {
		t.delivered[off] = true
	}
	return t, nil
}

func (t *timerScheduler) arrived() {
	select {
	case t.wake <- struct{}{}:
	default:
	}
}

func (t *timerScheduler) loop(ctx context.Context) {
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for sleepOrWake(ctx, timer, t.step(ctx), t.wake) {
	}
}

// step reads newly parked messages into the heap, delivers every due one
// and returns how long to sleep.
func (t *timerScheduler) step(ctx context.Context) time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.scan()
	now := t.b.clock().UnixMilli()
	changed := false
	for len(t.pending) > 0 && t.pending[0].due <= now && ctx.Err() == nil {
		e := t.pending[0]
		if err := t.deliver(ctx, e); err != nil {
			t.b.log.Warn("delivering a timed message failed; will retry", "offset", e.queueOffset, "err", err)
			return 100 * time.Millisecond
		}
		heap.Pop(&t.pending)
		t.delivered[e.queueOffset] = true
		changed = true
	}
	if changed {
		t.advance()
	}
	if len(t.pending) == 0 {
		return idlePoll
	}
	return time.Duration(t.pending[0].due-now) * time.Millisecond
}

func (t *timerScheduler) scan() {
	t.scanned = t.b.readQueue(TopicTimer, 0, t.scanned, func(rec *message.StoredRecord) {
		if rec.QueueOffset < t.progress || t.delivered[rec.QueueOffset] {
			return
		}
		due, _ := message.LookupProperty(rec.Properties, message.PropertyTimerOutMS)
		ms, _ := strconv.ParseInt(string(due), 10, 64)
		if key, ok := message.LookupProperty(rec.Properties, message.PropertyTimerDelUniqKey); ok {
			t.markers[rec.QueueOffset] = string(key)
			t.recalled[string(key)]++
		}
		heap.Push(&t.pending, timerEntry{due: ms, queueOffset: rec.QueueOffset, phyOffset: rec.PhysicalOffset})
	})
}

func (t *timerScheduler) deliver(ctx context.Context, e timerEntry) error {
	if key, ok := t.markers[e.queueOffset]; ok {
		t.dropMarker(e.queueOffset, key)
		return nil
	}
	res, err := t.b.store.MessageAt(e.phyOffset)
	if err != nil || res.MsgCount == 0 {
		if res != nil {
			res.Release()
		}
		t.b.log.Error("timed message vanished from the log; skipping", "offset", e.queueOffset)
		return nil
	}
	defer res.Release()
	rec, err := message.ParseStored(res.Buffers[0], false)
	if err != nil {
		t.b.log.Error("timed message unreadable; skipping", "offset", e.queueOffset, "err", err)
		return nil
	}
	if key := recallKeyOf(&rec); t.recalled[key] > 0 {
		t.b.log.Debug("timed message recalled; not delivered", "key", key, "offset", e.queueOffset)
		return nil
	}
	return t.b.unparkRecord(ctx, &rec, timerRequestProps...)
}

// advance moves progress over contiguously delivered offsets and persists.
func (t *timerScheduler) advance() {
	for t.delivered[t.progress] {
		delete(t.delivered, t.progress)
		t.progress++
	}
	p := timerProgress{Progress: t.progress, Delivered: slices.Sorted(maps.Keys(t.delivered))}
	if err := t.file.store(p); err != nil {
		t.b.log.Error("persisting timer progress failed", "err", err)
	}
}

// snapshot is the progress a slave copies (GET_TIMER_CHECK_POINT).
func (t *timerScheduler) snapshot() timerProgress {
	t.mu.Lock()
	defer t.mu.Unlock()
	return timerProgress{Progress: t.progress, Delivered: slices.Sorted(maps.Keys(t.delivered))}
}

// replace takes a master's progress on a slave, whose scheduler does not
// run: promoted, it rebuilds its pending heap from there.
func (t *timerScheduler) replace(p timerProgress) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if p.Progress == t.progress && len(p.Delivered) == len(t.delivered) {
		return nil
	}
	t.progress, t.scanned, t.pending = p.Progress, p.Progress, nil
	t.markers, t.recalled = map[int64]string{}, map[string]int{}
	t.delivered = make(map[int64]bool, len(p.Delivered))
	for _, off := range p.Delivered {
		t.delivered[off] = true
	}
	return t.file.store(p)
}
