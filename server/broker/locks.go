package broker

import (
	"encoding/json"
	"sync"
	"time"

	"github.com/rocketgo/rocketgo/server/transport"

	"github.com/rocketgo/rocketgo/remoting"
	"github.com/rocketgo/rocketgo/remoting/wire"
)

// lockMaxLive is how long a queue lock lives without renewal (upstream's
// rocketmq.broker.rebalance.lockMaxLiveTime). Orderly consumers renew every
// 20 s.
const lockMaxLive = 60 * time.Second

type lockEntry struct {
	clientID string
	renewed  time.Time
}

// lockTable holds the per-(group, queue) locks orderly consumers take so
// that one client at a time consumes a queue in order.
type lockTable struct {
	clock func() time.Time

	mu     sync.Mutex
	groups map[string]map[wire.MessageQueue]*lockEntry
}

func newLockTable(clock func() time.Time) *lockTable {
	return &lockTable{clock: clock, groups: map[string]map[wire.MessageQueue]*lockEntry{}}
}

// lock grants clientID every queue that is free, expired or already its
// own, renewing the ones it holds, and returns the granted set.
func (t *lockTable) lock(group, clientID string, mqs []wire.MessageQueue) []wire.MessageQueue {
	now := t.clock()
	t.mu.Lock()
	defer t.mu.Unlock()
	g := t.groups[group]
	if g == nil {
		g = map[wire.MessageQueue]*lockEntry{}
		t.groups[group] = g
	}
	granted := make([]wire.MessageQueue, 0, len(mqs))
	for _, mq := range mqs {
		e := g[mq]
		if e == nil || e.clientID == clientID || now.Sub(e.renewed) > lockMaxLive {
			g[mq] = &lockEntry{clientID: clientID, renewed: now}
			granted = append(granted, mq)
		}
	}
	return granted
}

// unlock releases the queues clientID holds.
func (t *lockTable) unlock(group, clientID string, mqs []wire.MessageQueue) {
	t.mu.Lock()
	defer t.mu.Unlock()
	g := t.groups[group]
	for _, mq := range mqs {
		if e := g[mq]; e != nil && e.clientID == clientID {
			delete(g, mq)
		}
	}
	if len(g) == 0 {
		delete(t.groups, group)
	}
}

// Lock and unlock batches are served on the connection's event loop, in the
// order they arrived (registerProcessors): the official clients unlock one
// way on a rebalance and may lock the same queue again right after, and on
// the workers the unlock could be applied after the lock, leaving the queue
// free while its consumer believed it held it — a second consumer could
// then lock it and consume the queue in parallel. A body over
// inlineLockBody (some 10,000 queues, far beyond a real group on one
// broker) is decoded on a goroutine of its own instead, so that one request
// cannot hold the loop's other connections for long; it is then not
// ordered with the connection's other requests.
const inlineLockBody = 1 << 20

func (b *Broker) processLockBatch(rc *transport.RequestContext, req *remoting.Command) {
	if b.offLoop(rc, req, b.lockBatch) {
		return
	}
	b.lockBatch(rc, req)
}

func (b *Broker) processUnlockBatch(rc *transport.RequestContext, req *remoting.Command) {
	if b.offLoop(rc, req, b.unlockBatch) {
		return
	}
	b.unlockBatch(rc, req)
}

// offLoop runs p on a goroutine of its own when req's body is too large to
// decode on the event loop, and reports whether it did.
func (b *Broker) offLoop(rc *transport.RequestContext, req *remoting.Command, p transport.Processor) bool {
	if len(req.Body) <= inlineLockBody {
		return false
	}
	rc.KeepBody()
	b.goRequest(func() { p(rc, req) })
	return true
}

func (b *Broker) lockBatch(rc *transport.RequestContext, req *remoting.Command) {
	var body wire.LockBatchRequest
	if err := json.Unmarshal(req.Body, &body); err != nil || body.ConsumerGroup == "" || body.ClientID == "" {
		reply(rc, req, remoting.InvalidParameter, "bad lock batch body")
		return
	}
	granted := b.locks.lock(body.ConsumerGroup, body.ClientID, body.MQSet)
	b.replyJSON(rc, req, wire.LockBatchResponse{LockOKMQSet: granted})
}

func (b *Broker) unlockBatch(rc *transport.RequestContext, req *remoting.Command) {
	var body wire.LockBatchRequest
	if err := json.Unmarshal(req.Body, &body); err != nil || body.ConsumerGroup == "" {
		reply(rc, req, remoting.InvalidParameter, "bad unlock batch body")
		return
	}
	b.locks.unlock(body.ConsumerGroup, body.ClientID, body.MQSet)
	reply(rc, req, remoting.Success, "")
}
