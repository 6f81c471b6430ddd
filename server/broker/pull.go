package broker

import (
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rocketgo/rocketgo/server/transport"

	"github.com/rocketgo/rocketgo/remoting"
	"github.com/rocketgo/rocketgo/remoting/wire"
	"github.com/rocketgo/rocketgo/server/filter"
	"github.com/rocketgo/rocketgo/server/store"
)

// Pull limits. Upstream transfers at most 32 messages / 256 KiB from memory
// per pull, and a parked pull must be answered before the client's own 30 s
// RPC deadline.
const (
	maxPullMessages   = 32
	maxPullBytes      = 256 << 10
	maxSuspendTimeout = 25 * time.Second
)

// pull is one PULL_MESSAGE request on its way through the broker.
type pull struct {
	rc  *transport.RequestContext
	req *remoting.Command
	h   remoting.PullMessageRequestHeader
	sub wire.SubscriptionData
	sql *filter.Expr // compiled SQL92 subscription, nil for tags
	g   GroupConfig  // the group's settings as the pull arrived

	answered atomic.Bool                // set by whoever answers a parked pull first
	timer    atomic.Pointer[time.Timer] // the suspend timeout; it may fire before park stores it
}

// claim reports whether the caller is the one to answer a parked pull.
func (p *pull) claim() bool { return p.answered.CompareAndSwap(false, true) }

func (b *Broker) processPull(rc *transport.RequestContext, req *remoting.Command) {
	if b.shedStale(rc, req, b.cfg.WaitTimeMillsInPullQueue) {
		return
	}
	p := &pull{rc: rc, req: req}
	if !decodeHeader(rc, req, &p.h) {
		return
	}
	if code, remark := b.checkPull(p); code != remoting.Success {
		reply(rc, req, code, remark)
		return
	}
	// The piggy-backed commit is taken on the first pass only, never on a
	// long-poll wake-up (upstream does the same), and only forward: see
	// CommitForward.
	if p.h.SysFlag&remoting.PullFlagCommitOffset != 0 && p.h.CommitOffset >= 0 && !b.isSlave() {
		b.offsets.CommitForward(p.h.ConsumerGroup, p.h.Topic, p.h.QueueID, p.h.CommitOffset)
	}
	b.pullOnce(p, true)
}

// checkPull validates a pull and resolves its subscription.
func (b *Broker) checkPull(p *pull) (int16, string) {
	h := &p.h
	if b.live.brokerPermission.Load()&PermRead == 0 {
		return remoting.NoPermission, "the broker[" + b.cfg.BrokerName + "] pulling message is forbidden"
	}
	g, err := b.groups.Find(h.ConsumerGroup)
	if err != nil {
		return remoting.SubscriptionGroupNotExist, "subscription group [" + h.ConsumerGroup + "] does not exist"
	}
	p.g = g
	if !g.ConsumeEnable {
		return remoting.NoPermission, "subscription group no permission, " + h.ConsumerGroup
	}
	t, ok := b.topics.Get(h.Topic)
	if !ok {
		return remoting.TopicNotExist, "topic[" + h.Topic + "] not exist, apply first please!"
	}
	if !t.Readable() {
		return remoting.NoPermission, "the topic[" + h.Topic + "] pulling message is forbidden"
	}
	if h.QueueID < 0 || h.QueueID >= t.ReadQueueNums {
		return remoting.SystemError, "queueId[" + strconv.Itoa(int(h.QueueID)) + "] is illegal, topic:[" + h.Topic + "] topicConfig.readQueueNums:[" + strconv.Itoa(int(t.ReadQueueNums)) + "]"
	}
	if h.SysFlag&remoting.PullFlagSubscription != 0 {
		switch h.ExpressionType {
		case "", wire.ExpressionTag:
			p.sub = wire.ParseSubscription(h.Topic, h.Subscription, h.SubVersion)
		default:
			p.sub = wire.ParseSQL92Subscription(h.Topic, h.Subscription, h.SubVersion)
			p.sub.ExpressionType = h.ExpressionType
		}
	} else {
		sub, ok := b.consumers.Subscription(h.ConsumerGroup, h.Topic)
		if !ok {
			return remoting.SubscriptionNotExist, "the consumer's subscription not exist, group: " + h.ConsumerGroup + " topic: " + h.Topic
		}
		p.sub = sub
	}
	var code int16
	var remark string
	p.sql, code, remark = b.compileSubscription(&p.sub)
	return code, remark
}

// pullOnce reads from the store and answers, or parks the pull when there
// is nothing to read, suspension is allowed and the client asked for it.
func (b *Broker) pullOnce(p *pull, allowSuspend bool) {
	h := &p.h
	maxNums := min(max(int(h.MaxMsgNums), 1), maxPullMessages)
	maxBytes := maxPullBytes
	if h.MaxMsgBytes > 0 {
		maxBytes = min(int(h.MaxMsgBytes), maxBytes)
	}
	var f store.Filter
	switch {
	case p.sql != nil:
		f.Properties = p.sql.MatchRaw
	case !p.sub.MatchAll():
		f.TagsCode = p.sub.MatchesCode
	}
	res, err := b.store.GetMatching(h.Topic, h.QueueID, h.QueueOffset, maxNums, maxBytes, f)
	if err != nil {
		reply(p.rc, p.req, remoting.SystemError, "read failed: "+err.Error())
		return
	}
	rh := remoting.PullMessageResponseHeader{
		NextBeginOffset: res.NextBeginOffset,
		MinOffset:       res.MinOffset,
		MaxOffset:       res.MaxOffset,
	}
	code := b.suggestBroker(&p.g, res, pullCode(res.Status, h.QueueOffset), &rh)
	if code == remoting.PullNotFound && allowSuspend && h.SysFlag&remoting.PullFlagSuspend != 0 {
		timeout := time.Duration(b.live.shortPolling.Load())
		if b.live.longPolling.Load() {
			timeout = min(time.Duration(h.SuspendTimeoutMillis)*time.Millisecond, maxSuspendTimeout)
		}
		if timeout > 0 {
			res.Release()
			p.rc.MarkParked()
			b.pulls.park(p, timeout)
			return
		}
	}
	resp := remoting.NewResponse(p.req, code, res.Status.String())
	resp.SetHeader(&rh)
	b.stats.pulled(h.ConsumerGroup, h.Topic, res.MsgCount, res.BufferTotalSize)
	if code == remoting.Success {
		b.pullOffsets.GetOrCreate(pullKey{h.ConsumerGroup, h.Topic, h.QueueID}, nil).Store(res.NextBeginOffset)
		if !IsRetryTopic(h.Topic) && !IsDLQTopic(h.Topic) {
			b.observer.MessagesOut(h.Topic, h.ConsumerGroup, res.MsgCount, res.BufferTotalSize)
		}
		// One copy straight from the mapped log into the reply: the stored
		// records are already in the wire format.
		body := make([]byte, 0, res.BufferTotalSize)
		for _, buf := range res.Buffers {
			body = append(body, buf...)
		}
		resp.Body = body
	}
	res.Release()
	p.rc.Reply(resp)
}

// pullKey names one queue as read by one consumer group.
type pullKey struct {
	group, topic string
	queueID      int32
}

// pullOffset is where the group's next pull on a queue starts, as the
// broker last answered it (upstream's pull offset table; memory only).
// Between it and the committed offset lie the messages in flight.
func (b *Broker) pullOffset(group, topic string, queueID int32) (int64, bool) {
	if v := b.pullOffsets.Get(pullKey{group, topic, queueID}); v != nil {
		return v.Load(), true
	}
	return 0, false
}

// pullCode maps a store status onto the pull response code clients expect.
func pullCode(s store.GetStatus, requested int64) int16 {
	switch s {
	case store.Found:
		return remoting.Success
	case store.MessageWasRemoving, store.NoMatchedMessage:
		return remoting.PullRetryImmediately
	case store.NoMatchedLogicQueue, store.NoMessageInQueue:
		if requested != 0 {
			return remoting.PullOffsetMoved
		}
		return remoting.PullNotFound
	case store.OffsetFoundNull, store.OffsetOverflowOne:
		return remoting.PullNotFound
	case store.OffsetOverflowBadly, store.OffsetTooSmall:
		return remoting.PullOffsetMoved
	}
	return remoting.SystemError
}

// pullHolder parks long-polling pulls per queue and answers them when a
// message for their queue is stored or their suspend time runs out.
// Answers run on short-lived goroutines so that the store's append path,
// which calls notify, never executes a pull itself.
type pullHolder struct {
	b      *Broker
	parked atomic.Int64 // lets notify skip the lock when nobody waits

	mu     sync.Mutex
	closed bool
	queues map[queueKey][]*pull
	wg     sync.WaitGroup
}

type queueKey struct {
	topic   string
	queueID int32
}

func newPullHolder(b *Broker) *pullHolder {
	return &pullHolder{b: b, queues: map[queueKey][]*pull{}}
}

// park suspends p until a message arrives or timeout passes.
func (ph *pullHolder) park(p *pull, timeout time.Duration) {
	key := queueKey{p.h.Topic, p.h.QueueID}
	ph.mu.Lock()
	if ph.closed {
		ph.mu.Unlock()
		ph.answer(p) // answers inline once stopAll has begun
		return
	}
	ph.queues[key] = append(ph.queues[key], p)
	ph.parked.Add(1)
	p.timer.Store(time.AfterFunc(timeout, func() {
		ph.remove(key, p)
		ph.answer(p)
	}))
	ph.mu.Unlock()
	// A message stored between the read and the park would otherwise wait
	// for the timeout: look once more now that notify can see us.
	if ph.b.store.MaxOffset(key.topic, key.queueID) > p.h.QueueOffset {
		ph.remove(key, p)
		ph.answer(p)
	}
}

func (ph *pullHolder) remove(key queueKey, p *pull) {
	ph.mu.Lock()
	defer ph.mu.Unlock()
	list := ph.queues[key]
	for i, q := range list {
		if q == p {
			list = append(list[:i], list[i+1:]...)
			ph.parked.Add(-1)
			break
		}
	}
	if len(list) == 0 {
		delete(ph.queues, key)
	} else {
		ph.queues[key] = list
	}
}

// answer re-runs a parked pull (without suspension) on its own goroutine,
// once, whoever calls it first.
func (ph *pullHolder) answer(p *pull) {
	if !p.claim() {
		return
	}
	if t := p.timer.Load(); t != nil {
		t.Stop()
	}
	// A timer or an arrival may have taken p off its queue just before
	// stopAll looked; once stopAll is waiting, no new goroutine may join
	// the group it waits for, so such late answers run here instead.
	ph.mu.Lock()
	if ph.closed {
		ph.mu.Unlock()
		ph.b.pullOnce(p, false)
		return
	}
	ph.wg.Add(1)
	ph.mu.Unlock()
	go func() {
		defer ph.wg.Done()
		ph.b.pullOnce(p, false)
	}()
}

// notify is the store's arrival listener: it wakes the pulls parked on the
// queue that want an offset at or before the new message and whose filter
// accepts its tag code.
func (ph *pullHolder) notify(topic string, queueID int32, queueOffset int64, tagsCode int64) {
	if ph.parked.Load() == 0 {
		return
	}
	key := queueKey{topic, queueID}
	var wake []*pull
	ph.mu.Lock()
	list := ph.queues[key]
	keep := list[:0]
	for _, p := range list {
		if p.h.QueueOffset <= queueOffset && p.sub.MatchesCode(tagsCode) {
			wake = append(wake, p)
		} else {
			keep = append(keep, p)
		}
	}
	ph.parked.Add(-int64(len(wake)))
	if len(keep) == 0 {
		delete(ph.queues, key)
	} else {
		ph.queues[key] = keep
	}
	ph.mu.Unlock()
	for _, p := range wake {
		ph.answer(p)
	}
}

// stopAll answers every parked pull now and waits for the answers, so a
// shutting-down broker leaves no client waiting on its suspend timeout.
func (ph *pullHolder) stopAll() {
	ph.mu.Lock()
	ph.closed = true
	var all []*pull
	for key, list := range ph.queues {
		all = append(all, list...)
		delete(ph.queues, key)
	}
	ph.parked.Store(0)
	ph.mu.Unlock()
	for _, p := range all {
		ph.answer(p)
	}
	ph.wg.Wait()
}

// wakeReadable answers every parked pull whose queue now has a readable
// message at its offset: controller mode moves a read fence instead of
// announcing arrivals (controller_mode.go).
func (ph *pullHolder) wakeReadable() {
	if ph.parked.Load() == 0 {
		return
	}
	var wake []*pull
	ph.mu.Lock()
	for key, list := range ph.queues {
		max := ph.b.store.MaxOffset(key.topic, key.queueID)
		keep := list[:0]
		for _, p := range list {
			if p.h.QueueOffset < max {
				wake = append(wake, p)
			} else {
				keep = append(keep, p)
			}
		}
		if len(keep) == 0 {
			delete(ph.queues, key)
		} else {
			ph.queues[key] = keep
		}
	}
	ph.parked.Add(-int64(len(wake)))
	ph.mu.Unlock()
	for _, p := range wake {
		ph.answer(p)
	}
}
