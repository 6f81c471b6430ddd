package broker

import (
	"slices"
	"strings"
	"time"

	"github.com/rocketgo/rocketgo/remoting/wire"
	"github.com/rocketgo/rocketgo/server/store"
)

// This file is the broker's read-only view for metrics (package
// server/metrics reads it at scrape time) and for the admin answers that
// share its figures. Nothing here is on the send or pull path.

// QueueProgress is one consumer group's position on one queue.
type QueueProgress struct {
	Topic   string
	QueueID int32
	// BrokerOffset is the queue's max offset: where the next message goes.
	BrokerOffset int64
	// ConsumerOffset is the group's committed offset (0 when it has none).
	ConsumerOffset int64
	// PullOffset is where the group's next pull starts, as far as this
	// broker answered; at least ConsumerOffset.
	PullOffset int64
	// LastTimestamp is the store time (ms) of the last committed message,
	// 0 when none.
	LastTimestamp int64
	// Committed reports whether the group has a committed offset here.
	Committed bool
}

// queueProgress reads a group's position on one queue.
func (b *Broker) queueProgress(group, topic string, qid int32) QueueProgress {
	p := QueueProgress{Topic: topic, QueueID: qid, BrokerOffset: max(b.store.MaxOffset(topic, qid), 0)}
	p.ConsumerOffset, p.Committed = b.offsets.Query(group, topic, qid)
	p.ConsumerOffset = max(p.ConsumerOffset, 0)
	p.PullOffset = p.ConsumerOffset
	if pulled, ok := b.pullOffset(group, topic, qid); ok {
		p.PullOffset = max(pulled, p.ConsumerOffset)
	}
	if p.ConsumerOffset > 0 {
		p.LastTimestamp, _ = b.store.StoreTime(topic, qid, p.ConsumerOffset-1)
	}
	return p
}

// GroupLag is one consumer group's backlog on one topic, summed over the
// topic's queues as upstream's ConsumerLagCalculator does.
type GroupLag struct {
	Group, Topic string
	// Lag is stored but not committed: broker offset − consumer offset
	// (a queue without a committed offset counts as caught up).
	Lag int64
	// Inflight is pulled but not committed.
	Inflight int64
	// Ready is stored but not pulled yet.
	Ready int64
	// EarliestUnconsumed and EarliestUnpulled are the store times (ms) of
	// the oldest message not committed and not pulled; 0 when none.
	EarliestUnconsumed, EarliestUnpulled int64
}

// ConsumerLags computes the lag of every online group on every topic it
// subscribes to (retry topics aside), sorted by group and topic.
func (b *Broker) ConsumerLags() []GroupLag {
	perm := b.live.brokerPermission.Load()
	var out []GroupLag
	for _, group := range b.consumers.Groups() {
		if _, ok := b.groups.Get(group); !ok {
			continue
		}
		for _, topic := range b.consumers.Topics(group) {
			t, ok := b.topics.Get(topic)
			if !ok || IsRetryTopic(topic) || (t.Perm&perm)&(PermRead|PermWrite) == 0 {
				continue
			}
			out = append(out, b.groupLag(group, t))
		}
	}
	return out
}

func (b *Broker) groupLag(group string, t wire.TopicConfig) GroupLag {
	l := GroupLag{Group: group, Topic: t.TopicName}
	earliest := func(cur *int64, topic string, qid int32, off, end int64) {
		if off >= end {
			return
		}
		if ts, ok := b.store.StoreTime(topic, qid, off); ok && (*cur == 0 || ts < *cur) {
			*cur = ts
		}
	}
	for qid := int32(0); qid < int32(t.WriteQueueNums); qid++ {
		p := b.queueProgress(group, t.TopicName, qid)
		consumed := p.ConsumerOffset
		if !p.Committed {
			consumed = p.BrokerOffset
		}
		pulled := max(p.PullOffset, consumed)
		l.Lag += max(p.BrokerOffset-consumed, 0)
		l.Inflight += pulled - consumed
		l.Ready += max(p.BrokerOffset-pulled, 0)
		earliest(&l.EarliestUnconsumed, t.TopicName, qid, consumed, p.BrokerOffset)
		earliest(&l.EarliestUnpulled, t.TopicName, qid, pulled, p.BrokerOffset)
	}
	return l
}

// TopicCount and GroupCount are the sizes of the topic and subscription
// group tables.
func (b *Broker) TopicCount() int {
	topics, _ := b.topics.Snapshot()
	return len(topics)
}

func (b *Broker) GroupCount() int {
	groups, _ := b.groups.Snapshot()
	return len(groups)
}

// PendingRequests is the number of requests waiting for a worker.
func (b *Broker) PendingRequests() int { return b.server.QueueLen() }

// Permission is the broker's current brokerPermission.
func (b *Broker) Permission() int { return int(b.live.brokerPermission.Load()) }

// ProducerConns and ConsumerConns list the registered client connections.
func (b *Broker) ProducerConns() []ClientConn { return b.producers.All() }
func (b *Broker) ConsumerConns() []ClientConn { return b.consumers.All() }

// StoreHealth reports the store's flush and dispatch backlogs and disk
// use, and the store time of the oldest message (0 when none).
func (b *Broker) StoreHealth() (store.Health, int64) {
	earliest, _ := b.store.EarliestMessageTime()
	return b.store.Health(), earliest
}

// IsSystemTopic reports topics the broker uses itself, labelled is_system
// in metrics as upstream's TopicValidator.isSystemTopic does.
func IsSystemTopic(topic string) bool {
	switch topic {
	case TopicAutoCreate, TopicSchedule, TopicTimer, TopicTransHalf, TopicTransOpHalf, TopicTransCheckMax,
		TopicSelfTest, TopicOffsetMoved, TopicBenchmark, "RMQ_SYS_TRACE_TOPIC":
		return true
	}
	return strings.HasPrefix(topic, SystemTopicPrefix)
}

// IsSystemGroup reports groups of RocketMQ's own (CID_RMQ_SYS_ prefix).
func IsSystemGroup(group string) bool {
	return len(group) >= len("CID_RMQ_SYS_") && strings.EqualFold(group[:len("CID_RMQ_SYS_")], "CID_RMQ_SYS_")
}

// uptime is how long the broker has run.
func (b *Broker) uptime() time.Duration { return b.clock().Sub(b.started) }

// sortedTopics lists topic names in order.
func sortedTopics(m map[string]wire.TopicConfig) []string {
	names := make([]string, 0, len(m))
	for n := range m {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}
