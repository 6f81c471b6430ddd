package consumer

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/rocketgo/rocketgo/remoting"
	"github.com/rocketgo/rocketgo/remoting/wire"
)

func toWireQueues(qs []Queue) []wire.MessageQueue {
	out := make([]wire.MessageQueue, len(qs))
	for i, q := range qs {
		out[i] = wire.MessageQueue{Topic: q.Topic, BrokerName: q.BrokerName, QueueID: int32(q.QueueID)}
	}
	return out
}

// lock asks broker brokerName to lock qs for this client (LOCK_BATCH_MQ)
// and returns the queues it granted.
func (c *PushConsumer) lock(ctx context.Context, brokerName, topic string, qs []Queue) ([]Queue, error) {
	addr, err := c.cl.brokerAddr(ctx, brokerName, topic)
	if err != nil {
		return nil, err
	}
	body, err := json.Marshal(&wire.LockBatchRequest{ConsumerGroup: c.cfg.group, ClientID: c.cl.ClientID(), MQSet: toWireQueues(qs)})
	if err != nil {
		return nil, err
	}
	resp, err := c.cl.Invoke(ctx, addr, remoting.NewRequest(remoting.LockBatchMQ, nil, body))
	if err != nil {
		return nil, fmt.Errorf("consumer: lock: %w", err)
	}
	if resp.Code != remoting.Success {
		return nil, brokerError(remoting.LockBatchMQ, addr, resp)
	}
	var lr wire.LockBatchResponse
	if err := json.Unmarshal(resp.Body, &lr); err != nil {
		return nil, fmt.Errorf("consumer: lock answer: %w", err)
	}
	out := make([]Queue, 0, len(lr.LockOKMQSet))
	for _, m := range lr.LockOKMQSet {
		out = append(out, Queue{Topic: m.Topic, BrokerName: m.BrokerName, QueueID: int(m.QueueID)})
	}
	return out, nil
}

// unlock releases q's broker lock (UNLOCK_BATCH_MQ).
func (c *PushConsumer) unlock(ctx context.Context, q Queue) {
	addr, err := c.cl.brokerAddr(ctx, q.BrokerName, q.Topic)
	if err != nil {
		return
	}
	body, err := json.Marshal(&wire.LockBatchRequest{ConsumerGroup: c.cfg.group, ClientID: c.cl.ClientID(), MQSet: toWireQueues([]Queue{q})})
	if err != nil {
		return
	}
	if _, err := c.cl.Invoke(ctx, addr, remoting.NewRequest(remoting.UnlockBatchMQ, nil, body)); err != nil {
		c.cfg.logger.Debug("unlock failed", "queue", q, "err", err)
	}
}

// lockAll renews the locks of every owned queue, broker by broker; queues
// the broker refuses stop being consumed until a later renewal succeeds.
func (c *PushConsumer) lockAll(ctx context.Context) {
	byBroker := map[string][]Queue{}
	topicOf := map[string]string{}
	for q := range c.table {
		byBroker[q.BrokerName] = append(byBroker[q.BrokerName], q)
		topicOf[q.BrokerName] = q.Topic
	}
	now := time.Now().UnixNano()
	for b, qs := range byBroker {
		granted, err := c.lock(ctx, b, topicOf[b], qs)
		if err != nil {
			c.cfg.logger.Debug("lock renewal failed", "broker", b, "err", err)
			continue
		}
		ok := make(map[Queue]bool, len(granted))
		for _, q := range granted {
			ok[q] = true
		}
		for _, q := range qs {
			pq := c.table[q].pq
			if ok[q] {
				pq.locked.Store(true)
				pq.lockedAt.Store(now)
			} else {
				pq.locked.Store(false)
			}
		}
	}
}
