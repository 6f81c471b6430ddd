package broker

import (
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rocketgo/rocketgo/remoting"
	"github.com/rocketgo/rocketgo/server/transport"
)

// Overload protection, as upstream's BrokerFastFailure: a send is answered
// SYSTEM_BUSY (never stored) rather than queued behind a store that cannot
// keep up, so that producers take it to another broker at once instead of
// timing out here. The remarks are upstream's, which operators grep for.
const (
	// The send queue is full (upstream: the executor rejected the task).
	remarkOverload = "[OVERLOAD]system busy, start flow control for a while"
	// The page cache was busy when the send arrived (upstream: rejectRequest).
	remarkRejectRequest = "[REJECTREQUEST]system busy, start flow control for a while"
	// The page cache was busy when a worker took the send.
	remarkPCSynchronized = "[PC_SYNCHRONIZED]broker busy, start flow control for a while"
	// The page cache turned busy while sends were queued: all are shed.
	remarkPCBusyCleanQueue = "[PCBUSY_CLEAN_QUEUE]broker busy, start flow control for a while, period in queue: %dms, size of queue: %d"
	// The send waited in the queue longer than waitTimeMillsInSendQueue.
	remarkTimeoutCleanQueue = "[TIMEOUT_CLEAN_QUEUE]broker busy, start flow control for a while, period in queue: %dms, size of queue: %d"
)

// fastFailureInterval is how often the page-cache check sweeps the send
// queue; upstream's BrokerFastFailure runs every 10 ms.
const fastFailureInterval = 10 * time.Millisecond

// A send to a topic that exists runs inline on the event loop while the
// store is healthy: handing it to a worker costs two cross-thread wake-ups
// per send (loop → worker, worker → loop for the reply). Measured with 64
// sync senders (BENCHMARKS.md, "Send mode"), inline moves about 1.15× the
// messages of worker mode at three quarters of the broker's CPU per
// message. The loop still never waits for the store: it appends only with
// TryAppendAsync, which gives up when another append holds the commit-log
// lock or a file must be created, and the send then queues for a worker
// like any other.
//
// What the loop cannot avoid is an inline append that stalls once it holds
// the lock (a page cache that stops taking writes). So the broker watches
// how long appends hold the lock (the sweeper every fastFailureInterval,
// and each inline send around itself) and sends everything through the
// worker queue, where stalls are shed as upstream sheds them, once the
// store looks stalled: slowBurst distinct holds longer than
// inlineSlowAppend within slowWindow, or one hold as long as
// osPageCacheBusyTimeOutMills (the page cache is busy by upstream's own
// measure). One slow hold alone is not enough: on a loaded two-core machine
// a lock holder that is merely preempted, or caught by one page fault,
// holds it over 100 ms now and then, and when a single such outlier sent
// every send to the workers for inlineCooldown a run's throughput moved by
// up to 2× with it. Once in worker mode every further slow hold extends
// the cooldown, and sends return inline only after inlineCooldown without
// one: entering takes a burst, leaving takes quiet (hysteresis).
const (
	inlineSlowAppend = 100 * time.Millisecond
	slowBurst        = 3
	slowWindow       = 2 * time.Second
	inlineCooldown   = 10 * time.Second
)

// sendTask is a send waiting for a worker, stamped when it was queued.
type sendTask struct {
	rc       *transport.RequestContext
	req      *remoting.Command
	h        *remoting.SendMessageRequestHeader
	enqueued time.Time
}

// sendQueue hands sends from the network event loops (which must never
// block on the store's lock) to sendMessageThreadPoolNums workers.
type sendQueue struct {
	tasks chan sendTask
	quit  chan struct{} // closed once the server stopped: workers exit
	stop  sync.Once
	// slowUntil (UnixNano) is when sends may run inline again; 0 while
	// the store has not looked stalled.
	slowUntil atomic.Int64
	inlined   atomic.Int64 // sends served on the event loop
	queued    atomic.Int64 // sends handed to a worker
	toWorkers atomic.Int64 // times sends left the event loop (inline → worker mode)
	lockBusy  atomic.Int64 // sends queued without an inline try: the commit-log lock was held

	stallHold time.Duration // one hold this long sends everything to the workers

	mu sync.Mutex // guards what follows: slow holds are rare, the fast path never takes it
	// The slow hold last reported, [holdStart, holdEnd] in UnixNano: the
	// sweeper sees one hold at several ticks and the inline sender that
	// held it reports it again; overlapping reports are one hold.
	holdStart, holdEnd int64
	recent             [slowBurst]int64 // start of the last slowBurst distinct slow holds, a ring
	nholds             int              // distinct slow holds seen
}

// newSendQueue makes a queue of capacity sends; a single append holding
// the lock for stallHold (osPageCacheBusyTimeOutMills) switches to worker
// mode on its own.
func newSendQueue(capacity int, stallHold time.Duration) *sendQueue {
	return &sendQueue{tasks: make(chan sendTask, capacity), quit: make(chan struct{}), stallHold: max(stallHold, inlineSlowAppend)}
}

// inlineAllowed reports whether sends may run on the event loop at now.
func (q *sendQueue) inlineAllowed(now time.Time) bool {
	until := q.slowUntil.Load()
	return until == 0 || now.UnixNano() > until
}

// noteAppend records that an append held the commit-log lock (or took)
// d from start, and reports whether that sent sends off the event loop. It
// is called for every inline send, so the common case, a fast append,
// returns before any shared write.
func (q *sendQueue) noteAppend(start time.Time, d time.Duration) (switched bool) {
	if d <= inlineSlowAppend {
		return false
	}
	s := start.UnixNano()
	e := s + int64(d)
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.nholds > 0 && s <= q.holdEnd {
		q.holdEnd = max(q.holdEnd, e) // the hold already counted, seen again
	} else {
		q.holdStart, q.holdEnd = s, e
		q.recent[q.nholds%slowBurst] = s
		q.nholds++
	}
	// With slowBurst holds counted, the oldest of the last slowBurst is
	// the slot the next one would overwrite.
	burst := q.nholds >= slowBurst && e-q.recent[q.nholds%slowBurst] <= int64(slowWindow)
	stalled := time.Duration(q.holdEnd-q.holdStart) >= q.stallHold
	until := q.slowUntil.Load()
	inWorkerMode := until != 0 && until >= s
	if !burst && !stalled && !inWorkerMode {
		return false
	}
	q.slowUntil.Store(max(until, e+int64(inlineCooldown)))
	if inWorkerMode {
		return false
	}
	q.toWorkers.Add(1)
	return true
}

// noteAppend is sendQueue.noteAppend, logging a switch to worker mode: it
// is rare, and an operator reading throughput should know of it.
func (b *Broker) noteAppend(start time.Time, d time.Duration) {
	if b.sends.noteAppend(start, d) {
		b.log.Info("sends go through the send workers for a while: appends held the commit-log lock too long",
			"lastHold", d.Round(time.Millisecond), "cooldown", inlineCooldown)
	}
}

// enqueueSend runs on the event loop and never waits for the store: a busy
// page cache or a full queue is answered at once, a send runs inline when
// that cannot wait (see inlineSlowAppend), and the rest queue for a worker.
func (b *Broker) enqueueSend(rc *transport.RequestContext, req *remoting.Command, h *remoting.SendMessageRequestHeader) {
	if b.cfg.BrokerFastFailureEnable && b.pageCacheBusy() {
		b.stats.sendShed()
		reply(rc, req, remoting.SystemBusy, remarkRejectRequest)
		return
	}
	// Not only when the queue is empty: sends queue when a worker holds
	// the lock, and a loop that queued everything behind them would stay
	// on the slow path for as long as the load lasts.
	if start := time.Now(); b.sends.inlineAllowed(start) && b.plainSend(h) {
		if b.store.AppendLocked() {
			// Another append holds the commit-log lock, and would most
			// likely still hold it when this send, prepared and encoded,
			// tried to take it (a trace message's append holds it for
			// tens of µs): queue it now rather than do that work twice.
			b.sends.lockBusy.Add(1)
			b.queueSend(rc, req, h)
			return
		}
		if b.send(rc, req, h, true, start) {
			b.sends.inlined.Add(1)
			b.noteAppend(start, time.Since(start))
			return
		}
	}
	b.queueSend(rc, req, h)
}

// queueSend queues a send for a worker, or answers [OVERLOAD] when the
// queue is full.
func (b *Broker) queueSend(rc *transport.RequestContext, req *remoting.Command, h *remoting.SendMessageRequestHeader) {
	rc.KeepBody() // on the event loop still; the worker runs after the read buffer moved on
	select {
	case b.sends.tasks <- sendTask{rc: rc, req: req, h: h, enqueued: time.Now()}:
		b.sends.queued.Add(1)
	default:
		b.stats.sendShed()
		reply(rc, req, remoting.SystemBusy, remarkOverload)
	}
}

// plainSend reports whether a send goes to a topic that exists and is not a
// retry topic: one that writes no configuration file, so it may run inline.
func (b *Broker) plainSend(h *remoting.SendMessageRequestHeader) bool {
	if IsRetryTopic(h.Topic) {
		return false
	}
	_, ok := b.topics.Get(h.Topic)
	return ok
}

// pageCacheBusy is upstream's isOSPageCacheBusy: an append has held the
// commit-log lock longer than osPageCacheBusyTimeOutMills.
func (b *Broker) pageCacheBusy() bool {
	return b.store.AppendLockHeld() > b.cfg.OsPageCacheBusyTimeOutMills
}

// startSendWorkers starts the send workers and the sweeper that watches
// the commit-log lock (and sheds queued sends when fast failure is on);
// Shutdown stops them after the server stopped taking requests.
func (b *Broker) startSendWorkers() {
	for range b.cfg.SendMessageThreadPoolNums {
		b.wg.Add(1)
		go func() {
			defer b.wg.Done()
			for {
				select {
				case t := <-b.sends.tasks:
					b.runSend(t)
				case <-b.sends.quit:
					return
				}
			}
		}()
	}
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		tick := time.NewTicker(fastFailureInterval)
		defer tick.Stop()
		for {
			select {
			case <-tick.C:
				now := time.Now()
				held := b.store.AppendLockHeld()
				b.noteAppend(now.Add(-held), held)
				if b.cfg.BrokerFastFailureEnable && held > b.cfg.OsPageCacheBusyTimeOutMills {
					b.cleanSendQueue()
				}
			case <-b.sends.quit:
				return
			}
		}
	}()
}

// cleanSendQueue answers every queued send SYSTEM_BUSY: while the page cache
// is this slow they would only time out in the producer.
func (b *Broker) cleanSendQueue() {
	for {
		select {
		case t := <-b.sends.tasks:
			b.stats.sendShed()
			reply(t.rc, t.req, remoting.SystemBusy, fmt.Sprintf(remarkPCBusyCleanQueue, time.Since(t.enqueued).Milliseconds(), len(b.sends.tasks)))
		default:
			return
		}
	}
}

// runSend serves one queued send on a worker, unless it waited too long
// or the page cache turned busy meanwhile.
func (b *Broker) runSend(t sendTask) {
	if b.cfg.BrokerFastFailureEnable {
		if waited := time.Since(t.enqueued); waited >= b.cfg.WaitTimeMillsInSendQueue {
			b.stats.sendShed()
			reply(t.rc, t.req, remoting.SystemBusy, fmt.Sprintf(remarkTimeoutCleanQueue, waited.Milliseconds(), len(b.sends.tasks)))
			return
		}
		if b.pageCacheBusy() {
			b.stats.sendShed()
			reply(t.rc, t.req, remoting.SystemBusy, remarkPCSynchronized)
			return
		}
	}
	b.send(t.rc, t.req, t.h, false, time.Now())
}

// stopSendWorkers makes the send workers and the sweeper return; sends
// still queued are dropped with their connections.
func (b *Broker) stopSendWorkers() {
	if b.sends != nil {
		b.sends.stop.Do(func() { close(b.sends.quit) })
	}
}

// shedStale answers SYSTEM_BUSY a request that waited in the server's
// worker queue longer than limit (waitTimeMillsInPullQueue,
// waitTimeMillsInHeartbeatQueue) and reports whether it did: by then the
// client has probably timed out, and serving it would only delay the
// requests queued behind it.
func (b *Broker) shedStale(rc *transport.RequestContext, req *remoting.Command, limit time.Duration) bool {
	waited := rc.QueueWait()
	if !b.cfg.BrokerFastFailureEnable || waited < limit {
		return false
	}
	reply(rc, req, remoting.SystemBusy, fmt.Sprintf(remarkTimeoutCleanQueue, waited.Milliseconds(), b.server.QueueLen()))
	return true
}
