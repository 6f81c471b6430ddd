package consumer

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rocketgo/rocketgo/message"
	"github.com/rocketgo/rocketgo/remoting"
)

// dispatch hands freshly cached messages to the consume pool; false when
// the consumer is stopping.
func (c *PushConsumer) dispatch(ctx context.Context, run *queueRun, msgs []*message.MessageExt) bool {
	if c.orderly {
		c.scheduleOrderly(ctx, run)
		return true
	}
	n := c.cfg.consumeBatchSize
	for i := 0; i < len(msgs); i += n {
		batch := msgs[i:min(i+n, len(msgs))]
		if !c.pool.submit(ctx, func() { c.consumeConcurrently(run, batch) }) {
			return false
		}
	}
	return true
}

// listenerFor picks the listener of a message's (restored) topic; retry
// queues carry messages of every subscribed topic.
func (c *PushConsumer) listenerFor(run *queueRun, m *message.MessageExt) Listener {
	if run.sub.topic != c.retry {
		return run.sub.listener
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if s, ok := c.subs[m.Topic]; ok {
		return s.listener
	}
	return run.sub.listener
}

func callConcurrent(ctx context.Context, l ConcurrentListener, cc *ConcurrentContext, msgs []*message.MessageExt) (res ConsumeResult) {
	res, _ = callConcurrentP(ctx, l, cc, msgs)
	return res
}

// callConcurrentP calls l, turning a panic into ConsumeRetryLater and
// reporting it.
func callConcurrentP(ctx context.Context, l ConcurrentListener, cc *ConcurrentContext, msgs []*message.MessageExt) (res ConsumeResult, panicked bool) {
	defer func() {
		if r := recover(); r != nil {
			res, panicked = ConsumeRetryLater, true
		}
	}()
	return l(ctx, cc, msgs), false
}

func callOrderly(ctx context.Context, l OrderlyListener, oc *OrderlyContext, msgs []*message.MessageExt) (res OrderlyResult) {
	res, _ = callOrderlyP(ctx, l, oc, msgs)
	return res
}

// callOrderlyP calls l, turning a panic into OrderlySuspend and reporting
// it.
func callOrderlyP(ctx context.Context, l OrderlyListener, oc *OrderlyContext, msgs []*message.MessageExt) (res OrderlyResult, panicked bool) {
	defer func() {
		if r := recover(); r != nil {
			res, panicked = OrderlySuspend, true
		}
	}()
	return l(ctx, oc, msgs), false
}

// consumeConcurrently runs one batch through the listener and settles it:
// acknowledged and successfully sent-back messages leave the cache and the
// offset advances to the lowest message still cached; messages whose
// send-back failed stay cached and are consumed again after a delay, so a
// failure never moves the offset past an unsettled message.
func (c *PushConsumer) consumeConcurrently(run *queueRun, msgs []*message.MessageExt) {
	arrived, ok := run.pq.beginBatch(msgs)
	if !ok {
		return
	}
	defer run.pq.end()
	c.consumeBegun(run, msgs, arrived)
}

// consumeGaps consumes, on the goroutine removing run's dropped queue, the
// queue's gaps (processQueue.gaps), so that the offset the removal commits
// passes every message a callback of this consumer consumed: the next owner
// then gets none of them again. There are few: at most the batches the
// pool had taken but not begun when the queue was dropped.
func (c *PushConsumer) consumeGaps(ctx context.Context, run *queueRun) {
	gaps := run.pq.gaps()
	n := c.cfg.consumeBatchSize
	for i := 0; i < len(gaps) && ctx.Err() == nil; i += n {
		batch := gaps[i:min(i+n, len(gaps))]
		arrived := run.pq.begin(batch)
		c.consumeBegun(run, batch, arrived)
		run.pq.end()
	}
}

// consumeBegun runs one begun batch (see consumeConcurrently) through the
// listener and settles it.
func (c *PushConsumer) consumeBegun(run *queueRun, msgs []*message.MessageExt, arrived int64) {
	pq := run.pq
	l, _ := c.listenerFor(run, msgs[0]).(ConcurrentListener)
	cc := ConcurrentContext{Queue: pq.q, AckIndex: len(msgs) - 1}
	lctx, info, start := c.beforeConsume(pq.q, msgs)
	res, panicked := ConsumeRetryLater, false
	if l != nil {
		res, panicked = callConcurrentP(lctx, l, &cc, msgs)
	}
	elapsed := time.Since(start)
	timedOut := c.cfg.consumeTimeout > 0 && elapsed > c.cfg.consumeTimeout
	if timedOut {
		// Too late: the timeout scan may already have sent some of these
		// back; settle only the rest, as failures.
		if len(c.cl.consumes) > 0 {
			c.cl.consumed(c.cfg.group, msgs, 0, awaited(arrived, start), elapsed)
		}
		c.afterConsume(lctx, info, ConsumeOutcome{TimedOut: true, Elapsed: elapsed})
		msgs = pq.undone(msgs)
		if len(msgs) == 0 {
			return
		}
		res, cc.AckIndex = ConsumeRetryLater, -1
	}
	pq.lastConsume.Store(time.Now().UnixNano())
	ack := len(msgs)
	if res == ConsumeSuccess {
		ack = min(max(cc.AckIndex+1, 0), len(msgs))
	} else {
		ack = 0
	}
	if !timedOut {
		if len(c.cl.consumes) > 0 {
			c.cl.consumed(c.cfg.group, msgs, ack, awaited(arrived, start), elapsed)
		}
		c.afterConsume(lctx, info, ConsumeOutcome{Success: res == ConsumeSuccess, Acked: ack, Panicked: panicked, Elapsed: elapsed})
	}
	c.stats.consumed(int64(ack), int64(len(msgs)-ack), time.Since(start))
	done := msgs
	if ack < len(msgs) && c.cfg.model == Clustering {
		done = msgs[:ack:ack]
		var failed []*message.MessageExt
		for _, m := range msgs[ack:] {
			if err := c.sendBack(c.consumeCtx, m, cc.DelayLevel); err != nil {
				c.cfg.logger.Debug("send back failed; retrying locally", "msg", m.MsgID, "err", err)
				failed = append(failed, m)
				continue
			}
			done = append(done, m)
		}
		if len(failed) > 0 {
			for _, m := range failed {
				m.ReconsumeTimes++
			}
			c.later(c.cfg.sendBackRetryDelay, func() bool {
				return c.pool.submit(c.ctx, func() { c.consumeConcurrently(run, failed) })
			}, nil)
		}
	}
	// A dropped queue's removal reads the offset from pq itself once this
	// callback is done, so only a live queue updates the store here.
	if off, ok := pq.remove(done); ok && !pq.dropped.Load() {
		c.store.update(pq.q, off, true)
	}
}

// awaited is the time from arrived (unix nanos, 0 when unknown) to start,
// never negative.
func awaited(arrived int64, start time.Time) time.Duration {
	if arrived == 0 {
		return 0
	}
	return max(0, time.Duration(start.UnixNano()-arrived))
}

// later runs fn after d unless the consumer stops first, in which case
// (or when fn reports false) abandon runs.
func (c *PushConsumer) later(d time.Duration, fn func() bool, abandon func()) {
	c.timers.Add(1)
	go func() {
		defer c.timers.Done()
		if sleepCtx(c.ctx, d) && fn() {
			return
		}
		if abandon != nil {
			abandon()
		}
	}()
}

// sendBack asks the broker to redeliver m through the delay levels
// (CONSUMER_SEND_MSG_BACK). When that fails it re-sends m as a new message
// to the retry topic, as the Java client does.
func (c *PushConsumer) sendBack(ctx context.Context, m *message.MessageExt, delayLevel int32) error {
	maxTimes := c.cfg.maxReconsumeFor(c.orderly)
	q := Queue{Topic: m.Topic, BrokerName: m.BrokerName}
	rctx, cancel := context.WithTimeout(ctx, c.cfg.requestTimeout)
	defer cancel()
	resp, addr, err := c.cl.invokeQueue(rctx, q, remoting.NewRequest(remoting.ConsumerSendMsgBack,
		&remoting.ConsumerSendMsgBackRequestHeader{
			Offset: m.CommitLogOffset, Group: c.cfg.group, DelayLevel: delayLevel,
			OriginMsgID: m.MsgID, OriginTopic: m.Topic,
			MaxReconsumeTimes: maxTimes, HasMaxReconsumeTimes: true,
		}, nil))
	if err == nil && resp.Code == remoting.Success {
		return nil
	}
	if err == nil {
		err = brokerError(remoting.ConsumerSendMsgBack, addr, resp)
	}
	if addr == "" {
		return err
	}
	if err2 := c.sendRetryMessage(rctx, addr, m, delayLevel, maxTimes); err2 != nil {
		return fmt.Errorf("%w; resend: %w", err, err2)
	}
	return nil
}

// sendRetryMessage stores a copy of m in the retry topic (or the DLQ when
// delayLevel < 0) with SEND_MESSAGE, carrying the headers the broker uses
// to count reconsumption.
func (c *PushConsumer) sendRetryMessage(ctx context.Context, addr string, m *message.MessageExt, delayLevel, maxTimes int32) error {
	msg := m.ToMessage()
	msg.Topic = c.retry
	if _, ok := m.Property(message.PropertyRetryTopic); !ok {
		msg.SetProperty(message.PropertyRetryTopic, m.Topic)
	}
	if _, ok := m.Property(message.PropertyOriginMessageID); !ok {
		msg.SetProperty(message.PropertyOriginMessageID, m.MsgID)
	}
	msg.RemoveProperty(message.PropertyDelayLevel)
	msg.DelayLevel = min(3+m.ReconsumeTimes, message.MaxDelayLevel)
	if delayLevel < 0 || m.ReconsumeTimes >= maxTimes {
		msg.Topic = DLQPrefix + c.cfg.group
		msg.DelayLevel = 0
	}
	h := remoting.SendMessageRequestHeader{
		ProducerGroup: "CLIENT_INNER_PRODUCER", Topic: msg.Topic, DefaultTopic: "TBW102",
		// The stored body goes back as it is, so its compression flag and
		// type bits (LZ4, ZSTD, zlib) must go with it.
		DefaultTopicQueueNums: 4, QueueID: 0, SysFlag: m.SysFlag & (message.SysFlagCompressed | message.SysFlagCompressMask),
		BornTimestamp: time.Now().UnixMilli(), Flag: m.Flag,
		Properties: string(msg.EncodeProperties(nil)), ReconsumeTimes: m.ReconsumeTimes + 1,
		MaxReconsumeTimes: maxTimes,
	}
	resp, err := c.cl.Invoke(ctx, addr, remoting.NewRequest(remoting.SendMessage, &h, m.StoredBody()))
	if err != nil {
		return err
	}
	if resp.Code != remoting.Success {
		return brokerError(remoting.SendMessage, addr, resp)
	}
	return nil
}

// scheduleOrderly queues one orderly task for run unless one is queued or
// running already.
func (c *PushConsumer) scheduleOrderly(ctx context.Context, run *queueRun) {
	if run.pq.scheduled.CompareAndSwap(false, true) {
		if !c.pool.submit(ctx, func() { c.consumeOrderly(run) }) {
			run.pq.scheduled.Store(false)
		}
	}
}

// rescheduleOrderly runs run's orderly task again after d.
func (c *PushConsumer) rescheduleOrderly(run *queueRun, d time.Duration) {
	c.later(d, func() bool {
		return c.pool.submit(c.ctx, func() { c.consumeOrderly(run) })
	}, func() { run.pq.scheduled.Store(false) })
}

// consumeOrderly consumes run's messages in order, one batch at a time,
// while the queue's lock is valid. On failure the batch is rolled back and
// the queue pauses; past the max reconsume times a message goes to the DLQ.
func (c *PushConsumer) consumeOrderly(run *queueRun) {
	pq := run.pq
	start := time.Now()
	locking := c.cfg.model == Clustering
	maxTimes := c.cfg.maxReconsumeFor(true)
	for {
		if pq.dropped.Load() {
			pq.scheduled.Store(false)
			return
		}
		if locking && !pq.lockValid(lockMaxLive) {
			c.rescheduleOrderly(run, 100*time.Millisecond)
			return
		}
		if time.Since(start) > maxContinuousOrderly {
			c.rescheduleOrderly(run, 10*time.Millisecond)
			return
		}
		pq.consumeMu.Lock()
		if pq.dropped.Load() {
			pq.consumeMu.Unlock()
			pq.scheduled.Store(false)
			return
		}
		msgs, arrived := pq.take(c.cfg.consumeBatchSize)
		if len(msgs) == 0 {
			pq.consumeMu.Unlock()
			pq.scheduled.Store(false)
			// A put may have raced with the store above; re-claim if so.
			if pq.pending() && pq.scheduled.CompareAndSwap(false, true) {
				continue
			}
			return
		}
		l, _ := c.listenerFor(run, msgs[0]).(OrderlyListener)
		oc := OrderlyContext{Queue: pq.q}
		lctx, info, t0 := c.beforeConsume(pq.q, msgs)
		res, panicked := OrderlySuspend, false
		if l != nil {
			res, panicked = callOrderlyP(lctx, l, &oc, msgs)
		}
		elapsed := time.Since(t0)
		acked := 0
		if res == OrderlySuccess {
			acked = len(msgs)
		}
		if len(c.cl.consumes) > 0 {
			c.cl.consumed(c.cfg.group, msgs, acked, awaited(arrived, t0), elapsed)
		}
		c.afterConsume(lctx, info, ConsumeOutcome{Success: res == OrderlySuccess, Acked: acked, Panicked: panicked, Elapsed: elapsed})
		pq.lastConsume.Store(time.Now().UnixNano())
		if res == OrderlySuccess {
			c.stats.consumed(int64(len(msgs)), 0, time.Since(t0))
			c.store.update(pq.q, pq.commit(), true)
			pq.consumeMu.Unlock()
			continue
		}
		c.stats.consumed(0, int64(len(msgs)), time.Since(t0))
		suspend := false
		for _, m := range msgs {
			if m.ReconsumeTimes >= maxTimes && c.cfg.model == Clustering {
				m.SetProperty(message.PropertyReconsumeTime, fmt.Sprint(m.ReconsumeTimes))
				if err := c.sendBack(c.consumeCtx, m, -1); err == nil {
					continue
				}
			}
			suspend = true
			m.ReconsumeTimes++
		}
		if !suspend {
			c.store.update(pq.q, pq.commit(), true)
			pq.consumeMu.Unlock()
			continue
		}
		pq.rollback()
		pq.consumeMu.Unlock()
		d := oc.Suspend
		if d <= 0 {
			d = c.cfg.suspendQueue
		}
		c.rescheduleOrderly(run, d)
		return
	}
}

// expireStuck sends back the head message of a queue whose callback has
// run longer than the consume timeout (Java cleanExpireMsg), so one stuck
// callback cannot hold the queue's offset forever.
func (c *PushConsumer) expireStuck(ctx context.Context) {
	if c.orderly || c.cfg.consumeTimeout <= 0 || c.cfg.model != Clustering {
		return
	}
	now := time.Now().UnixNano()
	for _, run := range c.table {
		pq := run.pq
		pq.mu.Lock()
		var m *message.MessageExt
		if pq.head < len(pq.entries) {
			e := pq.entries[pq.head]
			if !e.done && e.start != 0 && time.Duration(now-e.start) > c.cfg.consumeTimeout {
				m = e.msg
			}
		}
		pq.mu.Unlock()
		if m == nil {
			continue
		}
		if err := c.sendBack(ctx, m, 0); err == nil {
			if off, ok := pq.remove([]*message.MessageExt{m}); ok {
				c.store.update(pq.q, off, true)
			}
		}
	}
}

// consumeStats counts consumption for GET_CONSUMER_RUNNING_INFO.
type consumeStats struct {
	start          time.Time
	ok, failed     atomic.Int64
	pulledMsgs     atomic.Int64
	rtNanos        atomic.Int64
	flowControlled atomic.Int64

	mu                    sync.Mutex
	lastAt                time.Time
	lastOK, lastFailed    int64
	lastPulled            int64
	okTPS, failTPS, pullT float64
}

func (s *consumeStats) consumed(ok, failed int64, rt time.Duration) {
	if ok > 0 {
		s.ok.Add(ok)
	}
	if failed > 0 {
		s.failed.Add(failed)
	}
	s.rtNanos.Add(int64(rt))
}

func (s *consumeStats) pulled(n int) { s.pulledMsgs.Add(int64(n)) }

// tick turns the counters into rates over the last interval.
func (s *consumeStats) tick() {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	if s.lastAt.IsZero() {
		s.lastAt = s.start
	}
	el := now.Sub(s.lastAt).Seconds()
	if el <= 0 {
		return
	}
	ok, failed, pulled := s.ok.Load(), s.failed.Load(), s.pulledMsgs.Load()
	s.okTPS = float64(ok-s.lastOK) / el
	s.failTPS = float64(failed-s.lastFailed) / el
	s.pullT = float64(pulled-s.lastPulled) / el
	s.lastAt, s.lastOK, s.lastFailed, s.lastPulled = now, ok, failed, pulled
}
