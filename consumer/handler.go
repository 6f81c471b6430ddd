package consumer

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"time"

	"github.com/rocketgo/rocketgo/message"
	"github.com/rocketgo/rocketgo/remoting"
	"github.com/rocketgo/rocketgo/remoting/wire"
)

// pushHandler is the PushConsumer as the shared client sees it: heartbeat
// data and the broker → client requests of its group.
type pushHandler PushConsumer

// ConsumerData describes the group for heartbeats.
func (h *pushHandler) ConsumerData() wire.ConsumerData {
	c := (*PushConsumer)(h)
	c.mu.Lock()
	defer c.mu.Unlock()
	cd := wire.ConsumerData{
		GroupName:        c.cfg.group,
		ConsumeType:      wire.ConsumePassively,
		MessageModel:     c.cfg.model.String(),
		ConsumeFromWhere: c.cfg.consumeFrom.wire(),
	}
	if c.cfg.popMode {
		cd.ConsumeType = wire.ConsumePop
	}
	for _, t := range c.topicList() {
		cd.SubscriptionDataSet = append(cd.SubscriptionDataSet, c.subs[t].data)
	}
	return cd
}

// HandleRequest answers NOTIFY_CONSUMER_IDS_CHANGED (rebalance now),
// GET_CONSUMER_RUNNING_INFO, CONSUME_MESSAGE_DIRECTLY,
// GET_CONSUMER_STATUS_FROM_CLIENT and RESET_CONSUMER_CLIENT_OFFSET.
func (h *pushHandler) HandleRequest(ctx context.Context, _ string, req *remoting.Command) *remoting.Command {
	c := (*PushConsumer)(h)
	switch req.Code {
	case remoting.NotifyConsumerIDsChanged:
		c.triggerRebalance()
		return nil
	case remoting.GetConsumerRunningInfo:
		resp := remoting.NewResponse(req, remoting.Success, "")
		resp.Body = c.runningInfo()
		return resp
	case remoting.ConsumeMessageDirectly:
		return c.consumeDirectly(ctx, req)
	case remoting.GetConsumerStatusFromClient:
		var gh remoting.GetConsumerStatusRequestHeader
		if err := req.DecodeHeader(&gh); err != nil {
			return remoting.NewResponse(req, remoting.SystemError, err.Error())
		}
		var keys []wire.MessageQueue
		var vals []string
		for q, off := range c.store.snapshot() {
			if q.Topic == gh.Topic {
				keys = append(keys, wire.MessageQueue{Topic: q.Topic, BrokerName: q.BrokerName, QueueID: int32(q.QueueID)})
				vals = append(vals, strconv.FormatInt(off, 10))
			}
		}
		resp := remoting.NewResponse(req, remoting.Success, "")
		resp.Body = wire.EncodeQueueTable("messageQueueTable", keys, vals, "")
		return resp
	case remoting.ResetConsumerClientOffset:
		table, err := wire.DecodeOffsetTable(req.Body)
		if err != nil {
			return nil
		}
		offs := make(map[Queue]int64, len(table))
		for mq, off := range table {
			offs[Queue{Topic: mq.Topic, BrokerName: mq.BrokerName, QueueID: int(mq.QueueID)}] = off
		}
		select {
		case c.resets <- offs:
		case <-ctx.Done():
		}
		return nil
	}
	return remoting.NewResponse(req, remoting.RequestCodeNotSupported, "request type "+strconv.Itoa(int(req.Code))+" not supported")
}

// runningInfo builds the ConsumerRunningInfo JSON: properties,
// subscriptions, per-queue process state and per-topic consume rates. Its
// mqTable uses fastjson's object keys, as Java brokers and tools expect.
func (c *PushConsumer) runningInfo() []byte {
	c.mu.Lock()
	subs := make([]wire.SubscriptionData, 0, len(c.subs))
	for _, t := range c.topicList() {
		subs = append(subs, c.subs[t].data)
	}
	c.mu.Unlock()
	c.stats.mu.Lock()
	okTPS, failTPS, pullTPS := c.stats.okTPS, c.stats.failTPS, c.stats.pullT
	c.stats.mu.Unlock()

	var b strings.Builder
	props := map[string]string{
		"PROP_CLIENT_VERSION":           "rocketgo",
		"PROP_CONSUME_TYPE":             wire.ConsumePassively,
		"PROP_CONSUMEORDERLY":           strconv.FormatBool(c.orderly),
		"PROP_THREADPOOL_CORE_SIZE":     strconv.Itoa(c.cfg.goroutinesMin),
		"PROP_CONSUMER_START_TIMESTAMP": strconv.FormatInt(c.stats.start.UnixMilli(), 10),
		"messageModel":                  c.cfg.model.String(),
		"consumeFromWhere":              c.cfg.consumeFrom.wire(),
		"consumerGroup":                 c.cfg.group,
		"pullBatchSize":                 strconv.Itoa(c.cfg.pullBatchSize),
		"consumeMessageBatchMaxSize":    strconv.Itoa(c.cfg.consumeBatchSize),
		"pullThresholdForQueue":         strconv.Itoa(c.cfg.thresholdQueue),
		"consumeConcurrentlyMaxSpan":    strconv.FormatInt(c.cfg.maxSpan, 10),
	}
	pj, _ := json.Marshal(props)
	sj, _ := json.Marshal(subs)
	b.WriteString(`{"properties":`)
	b.Write(pj)
	b.WriteString(`,"subscriptionSet":`)
	b.Write(sj)
	b.WriteString(`,"mqTable":{`)
	c.tableMu.RLock()
	first := true
	topics := map[string]bool{}
	for q, run := range c.table {
		topics[q.Topic] = true
		pq := run.pq
		pq.mu.Lock()
		info := map[string]any{
			"commitOffset":         -1,
			"cachedMsgCount":       pq.count,
			"cachedMsgSizeInMiB":   pq.bytes >> 20,
			"cachedMsgMaxOffset":   pq.maxSeen,
			"cachedMsgMinOffset":   int64(-1),
			"locked":               pq.locked.Load(),
			"droped":               pq.dropped.Load(),
			"lastLockTimestamp":    pq.lockedAt.Load() / int64(time.Millisecond),
			"lastPullTimestamp":    pq.lastPull.Load() / int64(time.Millisecond),
			"lastConsumeTimestamp": pq.lastConsume.Load() / int64(time.Millisecond),
		}
		if pq.maxSeen >= 0 {
			info["commitOffset"] = pq.commitOffset()
		}
		if pq.head < len(pq.entries) {
			info["cachedMsgMinOffset"] = pq.entries[pq.head].msg.QueueOffset
		}
		pq.mu.Unlock()
		if o, ok := c.store.snapshot()[q]; ok {
			info["commitOffset"] = o
		}
		if !first {
			b.WriteByte(',')
		}
		first = false
		qj, _ := json.Marshal(q)
		ij, _ := json.Marshal(info)
		b.Write(qj)
		b.WriteByte(':')
		b.Write(ij)
	}
	c.tableMu.RUnlock()
	b.WriteString(`},"statusTable":{`)
	first = true
	for t := range topics {
		if !first {
			b.WriteByte(',')
		}
		first = false
		tj, _ := json.Marshal(t)
		st, _ := json.Marshal(map[string]any{
			"pullTPS": pullTPS, "consumeOKTPS": okTPS, "consumeFailedTPS": failTPS,
			"consumeFailedMsgs": c.stats.failed.Load(), "pullRT": 0, "consumeRT": 0,
		})
		b.Write(tj)
		b.WriteByte(':')
		b.Write(st)
	}
	b.WriteString(`},"jstack":""}`)
	return []byte(b.String())
}

// consumeDirectResult is CONSUME_MESSAGE_DIRECTLY's answer body.
type consumeDirectResult struct {
	Order          bool   `json:"order"`
	AutoCommit     bool   `json:"autoCommit"`
	ConsumeResult  string `json:"consumeResult"`
	Remark         string `json:"remark"`
	SpentTimeMills int64  `json:"spentTimeMills"`
}

// consumeDirectly runs the message in the request body through the
// listener of its topic, outside the normal flow (an admin tool's
// "consume this message now"); nothing is committed or sent back.
func (c *PushConsumer) consumeDirectly(ctx context.Context, req *remoting.Command) *remoting.Command {
	msgs, err := message.DecodeMessages(req.Body, message.WithCopyInput(true))
	if err != nil || len(msgs) == 0 {
		return remoting.NewResponse(req, remoting.SystemError, "bad message body")
	}
	m := msgs[0]
	if bn, ok := req.Ext.Get("brokerName"); ok {
		m.BrokerName = bn
	}
	// A retry or dead-letter message of this group goes to the listener of
	// the topic it was first sent to (an admin re-sending a DLQ message to
	// a consumer is the common case).
	if m.Topic == c.retry || m.Topic == DLQPrefix+c.cfg.group {
		if t, ok := m.Property(message.PropertyRetryTopic); ok {
			m.Topic = t
		}
	}
	c.mu.Lock()
	s := c.subs[m.Topic]
	c.mu.Unlock()
	if s == nil {
		return remoting.NewResponse(req, remoting.SystemError, "topic "+m.Topic+" not subscribed")
	}
	q := Queue{Topic: m.Topic, BrokerName: m.BrokerName, QueueID: int(m.QueueID)}
	out := consumeDirectResult{Order: s.listener.orderly(), AutoCommit: true}
	start := time.Now()
	switch l := s.listener.(type) {
	case ConcurrentListener:
		out.ConsumeResult = "CR_LATER"
		if callConcurrent(ctx, l, &ConcurrentContext{Queue: q}, msgs[:1]) == ConsumeSuccess {
			out.ConsumeResult = "CR_SUCCESS"
		}
	case OrderlyListener:
		out.ConsumeResult = "CR_LATER"
		if callOrderly(ctx, l, &OrderlyContext{Queue: q}, msgs[:1]) == OrderlySuccess {
			out.ConsumeResult = "CR_SUCCESS"
		}
	}
	out.SpentTimeMills = time.Since(start).Milliseconds()
	resp := remoting.NewResponse(req, remoting.Success, "")
	resp.Body, _ = json.Marshal(&out)
	return resp
}
