package consumer

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/rocketgo/rocketgo/message"
	"github.com/rocketgo/rocketgo/remoting"
	"github.com/rocketgo/rocketgo/remoting/wire"
)

// pullResult is one PULL_MESSAGE answer, already decoded.
type pullResult struct {
	code       int16
	next       int64
	minOffset  int64
	maxOffset  int64
	msgs       []*message.MessageExt
	remark     string
	brokerAddr string
	// stalled: the broker asked for an immediate retry without moving
	// the offset and the next pull goes to the same broker (a slave whose
	// master is alive but not in this consumer's route yet, say). Loops
	// back off instead of spinning.
	stalled bool
}

// pullRequest describes one pull.
type pullRequest struct {
	group      string
	q          Queue
	offset     int64
	max        int
	suspend    time.Duration
	commit     int64 // <0: none
	expression string
	exprType   string // "TAG" (also when empty) or "SQL92"
}

// pullOnce sends one PULL_MESSAGE and decodes the answer. A non-nil error
// is a transport failure or an unexpected response code.
func pullOnce(ctx context.Context, cl *cluster, r *pullRequest) (*pullResult, error) {
	if len(cl.pulls) == 0 {
		return pull(ctx, cl, r)
	}
	start := time.Now()
	res, err := pull(ctx, cl, r)
	n := 0
	if res != nil {
		n = len(res.msgs)
	}
	cl.pulled(r.q, n, time.Since(start), err)
	return res, err
}

// pull is one PULL_MESSAGE round trip and the decoding of its answer.
func pull(ctx context.Context, cl *cluster, r *pullRequest) (*pullResult, error) {
	addr, slave, err := cl.pullTarget(ctx, r.q)
	if err != nil {
		return nil, err
	}
	flag := remoting.PullFlagSubscription
	if r.suspend > 0 {
		flag |= remoting.PullFlagSuspend
	}
	if r.commit > 0 && !slave {
		// Slaves keep no offsets of their own (Java clears the flag too).
		flag |= remoting.PullFlagCommitOffset
	}
	h := remoting.PullMessageRequestHeader{
		ConsumerGroup:        r.group,
		Topic:                r.q.Topic,
		QueueID:              int32(r.q.QueueID),
		QueueOffset:          r.offset,
		MaxMsgNums:           int32(r.max),
		SysFlag:              flag,
		CommitOffset:         max(r.commit, 0),
		SuspendTimeoutMillis: r.suspend.Milliseconds(),
		Subscription:         r.expression,
		ExpressionType:       cmp.Or(r.exprType, wire.ExpressionTag),
	}
	// The RPC outlives the broker's hold by a margin, as Java's 30 s
	// timeout outlives its 15 s suspension.
	pctx, cancel := context.WithTimeout(ctx, r.suspend+10*time.Second)
	defer cancel()
	resp, err := cl.Invoke(pctx, addr, remoting.NewRequest(remoting.PullMessage, &h, nil))
	if err != nil {
		if slave {
			// The slave may be gone: the master (or whoever the route
			// offers) takes the next pull.
			cl.suggestPullFrom(r.q, wire.MasterID, addr)
		}
		return nil, fmt.Errorf("consumer: pull %v: %w", r.q, err)
	}
	res := &pullResult{code: resp.Code, remark: resp.Remark, brokerAddr: addr}
	switch resp.Code {
	case remoting.Success, remoting.PullNotFound, remoting.PullRetryImmediately, remoting.PullOffsetMoved:
	default:
		return res, brokerError(remoting.PullMessage, addr, resp)
	}
	var rh remoting.PullMessageResponseHeader
	if err := resp.DecodeHeader(&rh); err != nil {
		return res, fmt.Errorf("consumer: pull %v: %w", r.q, err)
	}
	res.next, res.minOffset, res.maxOffset = rh.NextBeginOffset, rh.MinOffset, rh.MaxOffset
	moved := cl.suggestPullFrom(r.q, rh.SuggestWhichBrokerID, addr)
	res.stalled = resp.Code == remoting.PullRetryImmediately && rh.NextBeginOffset == r.offset && !moved
	if resp.Code == remoting.Success && len(resp.Body) > 0 {
		msgs, err := message.DecodeMessages(resp.Body, message.WithCodec(&cl.codec))
		if err != nil && len(msgs) == 0 {
			return res, fmt.Errorf("consumer: pull %v: %w", r.q, err)
		}
		res.msgs = msgs
	}
	return res, nil
}

// prepare filters msgs by exact tag (the broker filtered by hash only; SQL92
// subscriptions were filtered exactly by the broker),
// restores the original topic of retried messages and stamps the broker.
func prepare(msgs []*message.MessageExt, s *subscription, brokerName, retryTopic string) []*message.MessageExt {
	out := msgs[:0]
	matchAll := s.data.MatchAll()
	for _, m := range msgs {
		if !matchAll && !s.data.MatchesTag(m.Tags()) {
			continue
		}
		m.BrokerName = brokerName
		if m.Topic == retryTopic {
			if t, ok := m.Property(message.PropertyRetryTopic); ok && t != "" {
				m.Topic = t
			}
		}
		out = append(out, m)
	}
	return out
}

// pullLoop pulls one queue until its context ends. Pulls are delayed by
// flow control, never dropped; errors back off and retry, so a broker that
// restarts is picked up again without help.
func (c *PushConsumer) pullLoop(ctx context.Context, run *queueRun, offset int64) {
	defer c.pullWG.Done()
	defer close(run.done)
	pq := run.pq
	req := &pullRequest{group: c.cfg.group, q: pq.q, max: c.cfg.pullBatchSize,
		suspend: c.cfg.brokerSuspend, expression: run.sub.data.SubString, exprType: run.sub.data.ExpressionType}
	if c.cfg.handover > 0 && c.cfg.model == Clustering {
		if !sleepCtx(ctx, c.cfg.handover) {
			return
		}
		// The previous owner has had time to persist: start from there.
		if o, err := c.store.read(ctx, pq.q, true); err == nil && o > offset {
			offset = o
		} else {
			c.store.update(pq.q, offset, false)
		}
	}
	for ctx.Err() == nil {
		d, room := c.flowDelay(run)
		if d > 0 {
			if !sleepCtx(ctx, d) {
				return
			}
			continue
		}
		if c.cfg.pullInterval > 0 && !sleepCtx(ctx, c.cfg.pullInterval) {
			return
		}
		// No commit offset rides on pulls: the broker handles requests
		// concurrently, so a pull carrying an older offset could land after
		// the UPDATE_CONSUMER_OFFSET a removal or Shutdown just sent and move
		// the group backwards (duplicates for the next owner).
		req.offset, req.commit, req.max = offset, -1, min(c.cfg.pullBatchSize, room)
		pq.lastPull.Store(time.Now().UnixNano())
		res, err := pullOnce(ctx, c.cl, req)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			c.cfg.logger.Debug("pull failed", "queue", pq.q, "err", err)
			var be *remoting.ResponseError
			if !errors.As(err, &be) {
				// The broker may be gone for good (a controller-mode
				// failover): read the routes again now, not in 30 s.
				c.cl.RefreshSoon()
			}
			if !errors.As(err, &be) || be.Code == remoting.SubscriptionNotExist ||
				be.Code == remoting.SubscriptionGroupNotExist || be.Code == remoting.TopicNotExist {
				// The broker may have restarted and forgotten us.
				c.cl.TriggerHeartbeat()
			}
			if !sleepCtx(ctx, c.cfg.pullBackoff) {
				return
			}
			continue
		}
		switch res.code {
		case remoting.Success:
			msgs := prepare(res.msgs, run.sub, pq.q.BrokerName, c.retry)
			offset = res.next
			if len(msgs) == 0 {
				c.advanceIdle(pq, offset)
				continue
			}
			c.stats.pulled(len(msgs))
			if len(c.cl.receives) > 0 {
				c.cl.received(c.cfg.group, "", msgs)
			}
			pq.put(msgs)
			if !c.dispatch(ctx, run, msgs) {
				return
			}
		case remoting.PullNotFound, remoting.PullRetryImmediately:
			offset = res.next
			c.advanceIdle(pq, offset)
			if res.stalled && !sleepCtx(ctx, c.cfg.pullBackoff) {
				return
			}
		case remoting.PullOffsetMoved:
			// The offset fell outside the queue: restart from where the
			// broker says, and store that at once so a restart agrees.
			c.cfg.logger.Debug("offset moved", "queue", pq.q, "from", offset, "to", res.next)
			offset = res.next
			pq.clear()
			pq.mu.Lock()
			pq.maxSeen = offset - 1
			pq.mu.Unlock()
			c.store.update(pq.q, offset, false)
			_ = c.store.persist(ctx, []Queue{pq.q})
		}
	}
}

// advanceIdle moves the stored offset past filtered or absent messages when
// nothing of the queue is in flight (Java correctTagsOffset).
func (c *PushConsumer) advanceIdle(pq *processQueue, next int64) {
	pq.mu.Lock()
	idle := pq.count == 0
	if idle && next-1 > pq.maxSeen {
		pq.maxSeen = next - 1
	}
	pq.mu.Unlock()
	if idle {
		c.store.update(pq.q, next, true)
	}
}

// flowDelay is how long to hold the next pull of run (0 to pull now) and
// how many messages the pull may ask for without passing the count limit.
func (c *PushConsumer) flowDelay(run *queueRun) (time.Duration, int) {
	pq := run.pq
	count, bytes, span := pq.stats()
	limit, sizeLimit := c.cfg.thresholdQueue, c.cfg.thresholdSizeQueue
	if c.cfg.thresholdTopic > 0 || c.cfg.thresholdSizeTopic > 0 {
		n := c.topicQueues(pq.q.Topic)
		if c.cfg.thresholdTopic > 0 {
			limit = max(1, c.cfg.thresholdTopic/n)
		}
		if c.cfg.thresholdSizeTopic > 0 {
			sizeLimit = max(1, c.cfg.thresholdSizeTopic/int64(n))
		}
	}
	if count >= limit || bytes >= sizeLimit {
		c.stats.flowControlled.Add(1)
		return c.cfg.flowBackoff, 0
	}
	if !c.orderly && span >= c.cfg.maxSpan {
		c.stats.flowControlled.Add(1)
		return c.cfg.flowBackoff, 0
	}
	if c.orderly && c.cfg.model == Clustering && !pq.lockValid(lockMaxLive) {
		return c.cfg.pullBackoff, 0
	}
	return 0, limit - count
}

// topicQueues counts the owned queues of topic (at least 1).
func (c *PushConsumer) topicQueues(topic string) int {
	c.tableMu.RLock()
	defer c.tableMu.RUnlock()
	n := 0
	for q := range c.table {
		if q.Topic == topic {
			n++
		}
	}
	return max(n, 1)
}
