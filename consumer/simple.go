package consumer

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rocketgo/rocketgo/message"
)

// SimpleConsumer consumes with 5.x POP over remoting: Receive pops
// messages from any queue of the topic on its brokers, they stay
// invisible to the rest of the group for the invisible duration, and the
// broker hands them out again (reconsume count +1, to the group's DLQ
// after the group's retryMaxTimes) unless Ack comes first. There is no
// client-side rebalance, so a group may have more consumers than queues.
// All methods are safe for concurrent use.
type SimpleConsumer struct {
	cfg   config
	topic string
	expr  string
	await time.Duration
	cl    *cluster
	turn  atomic.Uint64

	mu     sync.Mutex
	closed bool
	ctx    context.Context // cancelled by Close: ends waiting Receives
	cancel context.CancelFunc
}

// Defaults of a SimpleConsumer.
const (
	// DefaultAwaitDuration is how long a broker may hold a Receive that
	// found nothing, waiting for messages (long polling). rocketgo's
	// choice; the 5.x Java client's SimpleConsumer sets it explicitly.
	DefaultAwaitDuration = 5 * time.Second
	// MaxReceiveMessages is the most one Receive returns (upstream's POP
	// limit).
	MaxReceiveMessages = 32
)

// ErrReceiptHandle: Ack or ChangeInvisibleDuration on a message that
// carries no usable POP receipt handle (not from Receive), or whose
// handle the broker no longer accepts (its invisible time ran out and it
// was handed out again, or it was acknowledged).
var ErrReceiptHandle = errors.New("consumer: invalid or expired receipt handle")

// WithAwaitDuration sets how long the broker may hold a Receive that
// finds nothing (SimpleConsumer only). 0 makes Receive return at once.
// Default DefaultAwaitDuration.
func WithAwaitDuration(d time.Duration) Option {
	return func(c *config) { c.awaitDuration = d }
}

// NewSimple creates a SimpleConsumer of the group (WithGroup) for topic
// and a tag expression ("*" or "" for all, "TagA || TagB"). Where a group
// that never consumed a queue starts follows WithConsumeFrom: the default
// ConsumeFromLastOffset starts at the queue's end (upstream's POP init
// mode MAX), ConsumeFromFirstOffset at its beginning.
func NewSimple(topic, expression string, opts ...Option) (*SimpleConsumer, error) {
	cfg := defaultConfig()
	cfg.awaitDuration = DefaultAwaitDuration
	for _, o := range opts {
		if o != nil {
			o(&cfg)
		}
	}
	if cfg.group == "" {
		return nil, fmt.Errorf("%w: WithGroup is required", ErrInvalidOption)
	}
	if topic == "" {
		return nil, fmt.Errorf("%w: empty topic", ErrInvalidOption)
	}
	if cfg.awaitDuration < 0 || cfg.awaitDuration > time.Minute {
		return nil, fmt.Errorf("%w: await duration %v not in [0, 1m]", ErrInvalidOption, cfg.awaitDuration)
	}
	if cfg.trace != nil {
		// Silently untraced would be worse: a simple consumer has no
		// listener whose call a SubBefore and a SubAfter could bracket.
		return nil, fmt.Errorf("%w: WithTrace is for push and lite pull consumers, not a simple consumer", ErrInvalidOption)
	}
	if expression == "" {
		expression = "*"
	}
	cl, err := newCluster(&cfg)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &SimpleConsumer{cfg: cfg, topic: topic, expr: expression, await: cfg.awaitDuration, cl: cl, ctx: ctx, cancel: cancel}, nil
}

// Close ends waiting Receives and releases the client (a private one is
// closed). Calling it again is a no-op.
func (c *SimpleConsumer) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil
	}
	c.closed = true
	c.cancel()
	c.cl.release()
	return nil
}

func (c *SimpleConsumer) alive() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return ErrClosed
	}
	return nil
}

// Receive pops up to maxMessages (1..32) messages, which stay invisible
// to the group for invisible (at least 1ms). It waits up to the await
// duration on the broker when there are none, and returns an empty slice
// and no error if none came. Brokers are asked in turn, one per call.
func (c *SimpleConsumer) Receive(ctx context.Context, maxMessages int, invisible time.Duration) ([]*message.MessageExt, error) {
	if err := c.alive(); err != nil {
		return nil, err
	}
	if maxMessages < 1 || maxMessages > MaxReceiveMessages {
		return nil, fmt.Errorf("%w: maxMessages %d not in [1, %d]", ErrInvalidOption, maxMessages, MaxReceiveMessages)
	}
	if invisible < time.Millisecond {
		return nil, fmt.Errorf("%w: invisible duration %v under 1ms", ErrInvalidOption, invisible)
	}
	queues, err := c.cl.readQueues(ctx, c.topic, false)
	if err != nil {
		return nil, err
	}
	var brokers []string
	seen := map[string]bool{}
	for _, q := range queues {
		if !seen[q.BrokerName] {
			seen[q.BrokerName] = true
			brokers = append(brokers, q.BrokerName)
		}
	}
	broker := brokers[int(c.turn.Add(1)%uint64(len(brokers)))]
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stopOnClose := context.AfterFunc(c.ctx, cancel)
	defer stopOnClose()
	msgs, err := popMessages(ctx, c.cl, &c.cfg, popCall{broker: broker, topic: c.topic, expr: c.expr,
		max: maxMessages, invisible: invisible, await: c.await})
	if err != nil {
		if c.alive() != nil {
			return nil, ErrClosed
		}
		return nil, err // "consumer: pop ...", with the broker named
	}
	if len(msgs) == 0 {
		return nil, nil
	}
	if len(c.cl.receives) > 0 {
		// Redeliveries come from the group's retry topic; they count
		// under the subscribed topic.
		c.cl.received(c.cfg.group, c.topic, msgs)
	}
	return msgs, nil
}

// Ack acknowledges a received message: it will not be handed out again.
// Acknowledging twice is fine; after the invisible duration passed (the
// message was handed out again) the error wraps ErrReceiptHandle.
func (c *SimpleConsumer) Ack(ctx context.Context, msg *message.MessageExt) error {
	if err := c.alive(); err != nil {
		return err
	}
	return ackOne(ctx, c.cl, c.cfg.group, c.topic, msg)
}

// AckBatch acknowledges several received messages with one
// BATCH_ACK_MESSAGE request per broker instead of one ACK_MESSAGE per
// message (a broker that does not know the request gets single acks).
// Handles whose invisible time passed are skipped by the broker, as
// upstream; the error reports the first failure, and the other messages
// are still acknowledged.
func (c *SimpleConsumer) AckBatch(ctx context.Context, msgs []*message.MessageExt) error {
	if err := c.alive(); err != nil {
		return err
	}
	return ackMany(ctx, c.cl, c.cfg.group, c.topic, msgs)
}

// ChangeInvisibleDuration makes a received message visible again d from
// now (0: at once) and gives msg a new receipt handle; the old one stops
// working.
func (c *SimpleConsumer) ChangeInvisibleDuration(ctx context.Context, msg *message.MessageExt, d time.Duration) error {
	if err := c.alive(); err != nil {
		return err
	}
	if d < 0 {
		return fmt.Errorf("%w: negative invisible duration", ErrInvalidOption)
	}
	return changeInvisible(ctx, c.cl, c.cfg.group, c.topic, msg, d)
}
