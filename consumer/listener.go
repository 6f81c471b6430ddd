package consumer

import (
	"context"
	"time"

	"github.com/rocketgo/rocketgo/message"
)

// ConsumeResult is a concurrent listener's verdict on a batch.
type ConsumeResult int

const (
	// ConsumeSuccess acknowledges the batch (up to ConcurrentContext.AckIndex).
	ConsumeSuccess ConsumeResult = iota
	// ConsumeRetryLater sends the batch back; the broker redelivers it
	// through the delay levels and, after the max reconsume times, to the
	// group's DLQ.
	ConsumeRetryLater
)

// OrderlyResult is an orderly listener's verdict on a batch.
type OrderlyResult int

const (
	// OrderlySuccess acknowledges the batch.
	OrderlySuccess OrderlyResult = iota
	// OrderlySuspend pauses the queue (OrderlyContext.Suspend, default 1 s)
	// and redelivers the same batch, keeping the queue's order.
	OrderlySuspend
)

// ConcurrentContext carries per-callback details for concurrent listeners.
type ConcurrentContext struct {
	Queue Queue
	// DelayLevel chosen by the listener for retried messages: 0 lets the
	// broker use 3 + reconsume times (10 s, 30 s, 1 min ...); -1 sends them
	// straight to the DLQ.
	DelayLevel int32
	// AckIndex: with ConsumeSuccess, messages after this index are retried.
	// It starts at len(msgs)-1.
	AckIndex int
}

// OrderlyContext carries per-callback details for orderly listeners.
type OrderlyContext struct {
	Queue Queue
	// Suspend overrides the pause after OrderlySuspend (0 = the consumer's
	// WithSuspendCurrentQueueTime).
	Suspend time.Duration
}

// Listener is a ConcurrentListener or an OrderlyListener.
type Listener interface{ orderly() bool }

// ConcurrentListener consumes messages in any order on the consume pool,
// several batches of one queue at once. A panic or a non-nil return is
// treated as ConsumeRetryLater, and so is running past the consume timeout.
type ConcurrentListener func(ctx context.Context, cc *ConcurrentContext, msgs []*message.MessageExt) ConsumeResult

// OrderlyListener consumes each queue's messages one batch at a time, in
// queue order, while this consumer holds the queue's broker lock.
type OrderlyListener func(ctx context.Context, oc *OrderlyContext, msgs []*message.MessageExt) OrderlyResult

func (ConcurrentListener) orderly() bool { return false }
func (OrderlyListener) orderly() bool    { return true }
