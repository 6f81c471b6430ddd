package consumer

import (
	"context"
	"math"
	"slices"
	"sync/atomic"
	"time"

	"github.com/rocketgo/rocketgo/message"
)

// POP mode of the push consumer (WithClientRebalance(false)): instead of
// owning queues through the client-side rebalance, the consumer pops
// from every queue of each subscribed topic on every broker, as many
// members of the group as there are, and settles each message with the
// broker: an acknowledgement on success, a change of its invisible time
// (a delayed redelivery) on failure. The broker hands an unsettled
// message out again once its invisible time passes, so a member that
// dies loses nothing. Orderly listeners pop with the FIFO flag: the
// broker hands out a queue's next messages only after the previous ones
// are settled.

// Defaults of POP mode: the Java push consumer's popInvisibleTime,
// popBatchNums and popThresholdForQueue.
const (
	DefaultPopInvisibleTime = time.Minute
	DefaultPopBatchSize     = 32
	DefaultPopThreshold     = 96
)

// popRetryDelays are the delays of the broker's default delay levels
// 1..18 (messageDelayLevel), which a failed POP message waits before it
// is handed out again, as a failed message of the classic mode waits in
// the delay levels.
var popRetryDelays = [...]time.Duration{
	time.Second, 5 * time.Second, 10 * time.Second, 30 * time.Second,
	time.Minute, 2 * time.Minute, 3 * time.Minute, 4 * time.Minute, 5 * time.Minute, 6 * time.Minute,
	7 * time.Minute, 8 * time.Minute, 9 * time.Minute, 10 * time.Minute, 20 * time.Minute, 30 * time.Minute,
	time.Hour, 2 * time.Hour,
}

// WithClientRebalance(false) makes a push consumer consume with 5.x POP
// instead of the client-side rebalance (the Java push consumer's
// setClientRebalance(false)): every member pops from every queue, so a
// group may have more members than queues, and messages a member took
// but did not settle come back to the group after the invisible time
// (WithPopInvisibleTime). The listener API is the same. A concurrent
// listener's successful messages are acknowledged (in batches); failed
// ones are handed out again after the delay of their delay level
// (ConcurrentContext.DelayLevel, by default 3 + reconsume times, as
// CONSUMER_SEND_MSG_BACK) and go to the group's DLQ after the max
// reconsume times. An orderly listener consumes each queue in order: the
// broker keeps a queue's later messages back until the earlier ones are
// acknowledged, and OrderlySuspend hands the unsettled messages out again
// after the suspend time, with their reconsume count raised.
//
// Needs a broker with POP (Apache RocketMQ 5.x, rocketgo); Broadcasting is
// refused. Default true: the classic client-side rebalance.
func WithClientRebalance(on bool) Option { return func(c *config) { c.popMode = !on } }

// WithPopInvisibleTime sets how long popped messages stay invisible to the
// rest of the group in POP mode: a message not settled within it is
// handed out again. It should exceed the listener's longest run. Default
// 60 s (Java popInvisibleTime, which Java bounds to 5 s..300 s; here
// anything up to 12 h is accepted).
func WithPopInvisibleTime(d time.Duration) Option { return func(c *config) { c.popInvisible = d } }

// WithPopBatchSize sets how many messages one POP request asks for in POP
// mode. Default 32 (Java popBatchNums); range 1..32.
func WithPopBatchSize(n int) Option { return func(c *config) { c.popBatch = n } }

// WithPopThreshold caps, in POP mode, the messages popped but not yet
// settled per subscribed topic and broker; popping pauses at the cap.
// Default 96 (Java popThresholdForQueue).
func WithPopThreshold(n int) Option { return func(c *config) { c.popThreshold = n } }

// popKey names one pop loop: a subscribed topic on one broker.
type popKey struct{ topic, broker string }

// popRun is one pop loop.
type popRun struct {
	sub      *subscription // fixed for the loop's life
	broker   string
	cancel   context.CancelFunc
	done     chan struct{}
	inflight atomic.Int64 // popped, not yet settled
}

// popOwnerLoop replaces ownerLoop in POP mode: it keeps one pop loop per
// subscribed topic and broker, following subscription and route changes.
func (c *PushConsumer) popOwnerLoop() {
	defer close(c.loopDone)
	runs := map[popKey]*popRun{}
	defer func() {
		for _, r := range runs {
			r.cancel()
		}
		for _, r := range runs {
			<-r.done
		}
	}()
	rb := time.NewTicker(c.cfg.rebalanceInterval)
	defer rb.Stop()
	st := time.NewTicker(c.cfg.persistInterval)
	defer st.Stop()
	c.refreshPopRuns(c.ctx, runs)
	for {
		select {
		case <-c.ctx.Done():
			return
		case <-rb.C:
			c.refreshPopRuns(c.ctx, runs)
		case <-c.rebalanceNow:
			c.refreshPopRuns(c.ctx, runs)
		case <-c.resets:
			// Offsets do not steer POP consumption; a reset is the
			// broker's business.
		case <-st.C:
			c.stats.tick()
		}
	}
}

// refreshPopRuns starts a pop loop for every subscribed topic on every
// broker of its route and stops loops no longer wanted. A route that
// cannot be read keeps the topic's loops as they are.
func (c *PushConsumer) refreshPopRuns(ctx context.Context, runs map[popKey]*popRun) {
	c.mu.Lock()
	subs := make([]*subscription, 0, len(c.subs))
	for _, s := range c.subs {
		subs = append(subs, s)
	}
	c.mu.Unlock()
	wanted := map[popKey]*subscription{}
	known := map[string]bool{}
	for _, s := range subs {
		qs, err := c.cl.readQueues(ctx, s.topic, false)
		if err != nil {
			c.cfg.logger.Debug("pop: route", "topic", s.topic, "err", err)
			continue
		}
		known[s.topic] = true
		for _, q := range qs {
			wanted[popKey{topic: s.topic, broker: q.BrokerName}] = s
		}
	}
	for k, r := range runs {
		if _, ok := wanted[k]; !ok && (known[k.topic] || !slices.ContainsFunc(subs, func(s *subscription) bool { return s.topic == k.topic })) {
			r.cancel()
			<-r.done
			delete(runs, k)
		}
	}
	for k, s := range wanted {
		if r, ok := runs[k]; ok {
			if r.sub == s {
				continue
			}
			// Subscribed again (new expression or listener): a new loop.
			r.cancel()
			<-r.done
		}
		rctx, cancel := context.WithCancel(ctx)
		r := &popRun{sub: s, broker: k.broker, cancel: cancel, done: make(chan struct{})}
		runs[k] = r
		c.pullWG.Add(1)
		go c.popLoop(rctx, r)
	}
}

// popLoop pops from one broker for one subscription and hands what came
// to the consume pool, keeping at most the pop threshold unsettled.
func (c *PushConsumer) popLoop(ctx context.Context, r *popRun) {
	defer c.pullWG.Done()
	defer close(r.done)
	for ctx.Err() == nil {
		room := int64(c.cfg.popThreshold) - r.inflight.Load()
		if room <= 0 {
			sleepCtx(ctx, c.cfg.flowBackoff)
			continue
		}
		sub := r.sub
		msgs, err := popMessages(ctx, c.cl, &c.cfg, popCall{
			broker: r.broker, topic: sub.topic, expr: sub.data.SubString,
			max: int(min(int64(c.cfg.popBatch), room)), invisible: c.cfg.popInvisible,
			await: c.cfg.brokerSuspend, order: c.orderly,
		})
		if err != nil {
			if ctx.Err() == nil {
				c.cfg.logger.Debug("pop", "topic", sub.topic, "broker", r.broker, "err", err)
				sleepCtx(ctx, c.cfg.pullBackoff)
			}
			continue
		}
		if len(msgs) == 0 {
			continue
		}
		c.stats.pulled(len(msgs))
		if len(c.cl.receives) > 0 {
			c.cl.received(c.cfg.group, sub.topic, msgs)
		}
		// No trace here: the listener call is traced (the tracer is the
		// first interceptor), as in the classic mode.
		r.inflight.Add(int64(len(msgs)))
		c.popInflight.Add(int64(len(msgs)))
		if !c.dispatchPop(ctx, r, msgs) {
			return
		}
	}
}

// settledPop counts n messages of r as settled.
func (c *PushConsumer) settledPop(r *popRun, n int) {
	r.inflight.Add(-int64(n))
	c.popInflight.Add(-int64(n))
}

// dispatchPop hands popped messages to the consume pool: concurrent
// listeners in consume-batch-size pieces, orderly listeners one task per
// queue, in queue order. false when the consumer is stopping (the
// messages not handed over come back after their invisible time).
func (c *PushConsumer) dispatchPop(ctx context.Context, r *popRun, msgs []*message.MessageExt) bool {
	if c.orderly {
		byQueue := map[Queue][]*message.MessageExt{}
		var order []Queue
		for _, m := range msgs {
			q := popQueueOf(m)
			if _, ok := byQueue[q]; !ok {
				order = append(order, q)
			}
			byQueue[q] = append(byQueue[q], m)
		}
		for i, q := range order {
			qm := byQueue[q]
			slices.SortFunc(qm, func(a, b *message.MessageExt) int { return int(a.QueueOffset - b.QueueOffset) })
			if !c.pool.submit(ctx, func() { c.consumePopOrderly(r, q, qm) }) {
				for _, q := range order[i:] {
					c.settledPop(r, len(byQueue[q]))
				}
				return false
			}
		}
		return true
	}
	n := c.cfg.consumeBatchSize
	for i := 0; i < len(msgs); i += n {
		batch := msgs[i:min(i+n, len(msgs))]
		if !c.pool.submit(ctx, func() { c.consumePopConcurrently(r, batch) }) {
			c.settledPop(r, len(msgs)-i)
			return false
		}
	}
	return true
}

func popQueueOf(m *message.MessageExt) Queue {
	return Queue{Topic: m.Topic, BrokerName: m.BrokerName, QueueID: int(m.QueueID)}
}

// settleCtx bounds the requests that settle messages; they outlive the
// pop loop's context so a stopping consumer still acknowledges what its
// listeners finished.
func (c *PushConsumer) settleCtx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(c.consumeCtx), c.cfg.requestTimeout)
}

// consumePopConcurrently runs one batch through a concurrent listener and
// settles it with the broker.
func (c *PushConsumer) consumePopConcurrently(r *popRun, msgs []*message.MessageExt) {
	defer c.settledPop(r, len(msgs))
	q := popQueueOf(msgs[0])
	l, _ := r.sub.listener.(ConcurrentListener)
	cc := ConcurrentContext{Queue: q, AckIndex: len(msgs) - 1}
	lctx, info, start := c.beforeConsume(q, msgs)
	res, panicked := ConsumeRetryLater, false
	if l != nil {
		res, panicked = callConcurrentP(lctx, l, &cc, msgs)
	}
	elapsed := time.Since(start)
	ack := 0
	if res == ConsumeSuccess {
		ack = min(max(cc.AckIndex+1, 0), len(msgs))
	}
	if len(c.cl.consumes) > 0 {
		c.cl.consumed(c.cfg.group, msgs, ack, 0, elapsed)
	}
	c.afterConsume(lctx, info, ConsumeOutcome{Success: res == ConsumeSuccess, Acked: ack, Panicked: panicked, Elapsed: elapsed})
	c.stats.consumed(int64(ack), int64(len(msgs)-ack), elapsed)
	ctx, cancel := c.settleCtx()
	defer cancel()
	if ack > 0 {
		if err := ackMany(ctx, c.cl, c.cfg.group, r.sub.topic, msgs[:ack]); err != nil {
			c.cfg.logger.Debug("pop: ack", "topic", r.sub.topic, "err", err)
		}
	}
	maxTimes := c.cfg.maxReconsumeFor(false)
	for _, m := range msgs[ack:] {
		c.retryPop(ctx, r, m, cc.DelayLevel, maxTimes)
	}
}

// retryPop settles a failed message: to the DLQ when the listener asked
// for it or its reconsume count is used up, otherwise handed out again
// after the delay of its delay level. A failure here only means the
// message comes back after its invisible time instead.
func (c *PushConsumer) retryPop(ctx context.Context, r *popRun, m *message.MessageExt, delayLevel, maxTimes int32) {
	if delayLevel < 0 || m.ReconsumeTimes >= maxTimes {
		err := c.sendBack(ctx, m, -1)
		if err == nil {
			err = ackOne(ctx, c.cl, c.cfg.group, r.sub.topic, m)
		}
		if err != nil {
			c.cfg.logger.Debug("pop: to DLQ", "msg", m.MsgID, "err", err)
		}
		return
	}
	level := int(delayLevel)
	if level == 0 {
		level = 3 + int(m.ReconsumeTimes)
	}
	level = min(max(level, 1), len(popRetryDelays))
	if err := changeInvisible(ctx, c.cl, c.cfg.group, r.sub.topic, m, popRetryDelays[level-1]); err != nil {
		c.cfg.logger.Debug("pop: change invisible time", "msg", m.MsgID, "err", err)
	}
}

// consumePopOrderly consumes the messages one FIFO pop handed out of one
// queue, in order, one consume batch at a time. On OrderlySuspend the
// rest stay unacknowledged and are made visible again after the suspend
// time; the broker then hands them out again (reconsume count +1) before
// anything later in the queue. With WithMaxReconsumeTimes set, a message
// failing past it goes to the DLQ instead (the broker also moves it there
// after the group's retryMaxTimes).
func (c *PushConsumer) consumePopOrderly(r *popRun, q Queue, msgs []*message.MessageExt) {
	defer c.settledPop(r, len(msgs))
	l, _ := r.sub.listener.(OrderlyListener)
	maxTimes := c.cfg.maxReconsumeFor(true)
	for len(msgs) > 0 {
		batch := msgs[:min(c.cfg.consumeBatchSize, len(msgs))]
		oc := OrderlyContext{Queue: q}
		lctx, info, t0 := c.beforeConsume(q, batch)
		res, panicked := OrderlySuspend, false
		if l != nil && c.consumeCtx.Err() == nil {
			res, panicked = callOrderlyP(lctx, l, &oc, batch)
		}
		elapsed := time.Since(t0)
		acked := 0
		if res == OrderlySuccess {
			acked = len(batch)
		}
		if len(c.cl.consumes) > 0 {
			c.cl.consumed(c.cfg.group, batch, acked, 0, elapsed)
		}
		c.afterConsume(lctx, info, ConsumeOutcome{Success: res == OrderlySuccess, Acked: acked, Panicked: panicked, Elapsed: elapsed})
		c.stats.consumed(int64(acked), int64(len(batch)-acked), elapsed)
		ctx, cancel := c.settleCtx()
		if res == OrderlySuccess {
			if err := ackMany(ctx, c.cl, c.cfg.group, r.sub.topic, batch); err != nil {
				c.cfg.logger.Debug("pop: orderly ack", "queue", q, "err", err)
			}
			cancel()
			msgs = msgs[len(batch):]
			continue
		}
		var dead []*message.MessageExt
		if maxTimes != math.MaxInt32 {
			for _, m := range batch {
				if m.ReconsumeTimes >= maxTimes {
					dead = append(dead, m)
				}
			}
		}
		if len(dead) == len(batch) {
			for _, m := range dead {
				c.retryPop(ctx, r, m, -1, maxTimes)
			}
			cancel()
			msgs = msgs[len(batch):]
			continue
		}
		d := oc.Suspend
		if d <= 0 {
			d = c.cfg.suspendQueue
		}
		for _, m := range msgs {
			if err := changeInvisible(ctx, c.cl, c.cfg.group, r.sub.topic, m, d); err != nil {
				c.cfg.logger.Debug("pop: orderly suspend", "queue", q, "err", err)
			}
		}
		cancel()
		return
	}
}
