package broker

import (
	"strings"
	"time"

	"github.com/rocketgo/rocketgo/message"
	"github.com/rocketgo/rocketgo/server/store"
)

// Observer receives the broker's events for metrics (package
// server/metrics implements it for Prometheus). Its methods run on the
// send and pull paths, some on the network event loop: they must not
// block, and should neither lock nor allocate in the steady state.
type Observer interface {
	// MessagesIn reports messages a producer sent that are now stored:
	// msgs messages of kind on topic taking bytes in the commit log.
	// Retry and dead-letter topics are not reported, as upstream.
	MessagesIn(topic string, kind MessageKind, msgs, bytes int)
	// MessagesOut reports messages a pull delivered to a consumer group.
	MessagesOut(topic, group string, msgs, bytes int)
	// SentToDLQ reports one message of group, consumed from topic, that
	// went to the group's dead-letter queue.
	SentToDLQ(group, topic string)
	// RequestServed reports one answered request: its request code, the
	// response code, the time from its arrival to the answer, and whether
	// it waited parked (a long-polling pull).
	RequestServed(code, result int16, elapsed time.Duration, longPolling bool)
	// TopicDeleted lets the observer drop what it keeps for a topic.
	TopicDeleted(topic string)
}

// WithObserver makes the broker report to o (default: nobody).
func WithObserver(o Observer) Option { return func(opts *options) { opts.observer = o } }

// nopObserver is the default Observer.
type nopObserver struct{}

func (nopObserver) MessagesIn(string, MessageKind, int, int)        {}
func (nopObserver) MessagesOut(string, string, int, int)            {}
func (nopObserver) SentToDLQ(string, string)                        {}
func (nopObserver) RequestServed(int16, int16, time.Duration, bool) {}
func (nopObserver) TopicDeleted(string)                             {}

// MessageKind is the message_type of upstream's metrics.
type MessageKind uint8

const (
	MessageNormal MessageKind = iota
	MessageFIFO
	MessageDelay
	MessageTransaction
)

var messageKindNames = [...]string{"normal", "fifo", "delay", "transaction"}

// String is the label value upstream uses: normal, fifo, delay or
// transaction.
func (k MessageKind) String() string {
	if int(k) < len(messageKindNames) {
		return messageKindNames[k]
	}
	return "normal"
}

// messageKindOf classifies a sent message by its properties the way
// upstream's metrics do: a transaction half message, then one with a
// sharding key, then one with any delay.
func messageKindOf(props string) MessageKind {
	if v, ok := message.LookupPropertyString(props, message.PropertyTransactionPrepared); ok && strings.EqualFold(v, "true") {
		return MessageTransaction
	}
	if _, ok := message.LookupPropertyString(props, message.PropertyShardingKey); ok {
		return MessageFIFO
	}
	for _, key := range [...]string{message.PropertyDelayLevel, message.PropertyTimerDeliverMS,
		message.PropertyTimerDelaySec, message.PropertyTimerDelayMS, "__STARTDELIVERTIME"} {
		if _, ok := message.LookupPropertyString(props, key); ok {
			return MessageDelay
		}
	}
	return MessageNormal
}

// storedSent books messages a producer sent that the store accepted: the
// broker's own figures, and the observer's under the topic stored to.
func (b *Broker) storedSent(topic string, kind MessageKind, msgs int, res store.AppendResult, start time.Time) {
	b.stats.put(topic, msgs, int(res.WroteBytes), time.Since(start))
	if !IsRetryTopic(topic) && !IsDLQTopic(topic) {
		b.observer.MessagesIn(topic, kind, msgs, int(res.WroteBytes))
	}
}
