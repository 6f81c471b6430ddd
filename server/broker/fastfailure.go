package broker

import (
	"fmt"
	"sync"
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
}

func newSendQueue(capacity int) *sendQueue {
	return &sendQueue{tasks: make(chan sendTask, capacity), quit: make(chan struct{})}
}

// enqueueSend queues a send for a worker; it runs on the event loop and
// never blocks. A busy page cache or a full queue is answered at once.
func (b *Broker) enqueueSend(rc *transport.RequestContext, req *remoting.Command, h *remoting.SendMessageRequestHeader) {
	if b.cfg.BrokerFastFailureEnable && b.pageCacheBusy() {
		b.stats.sendShed()
		reply(rc, req, remoting.SystemBusy, remarkRejectRequest)
		return
	}
	select {
	case b.sends.tasks <- sendTask{rc: rc, req: req, h: h, enqueued: time.Now()}:
	default:
		b.stats.sendShed()
		reply(rc, req, remoting.SystemBusy, remarkOverload)
	}
}

// pageCacheBusy is upstream's isOSPageCacheBusy: an append has held the
// commit-log lock longer than osPageCacheBusyTimeOutMills.
func (b *Broker) pageCacheBusy() bool {
	return b.store.AppendLockHeld() > b.cfg.OsPageCacheBusyTimeOutMills
}

// startSendWorkers starts the send workers and the fast-failure sweeper;
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
	if !b.cfg.BrokerFastFailureEnable {
		return
	}
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		tick := time.NewTicker(fastFailureInterval)
		defer tick.Stop()
		for {
			select {
			case <-tick.C:
				if b.pageCacheBusy() {
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
	b.send(t.rc, t.req, t.h)
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
