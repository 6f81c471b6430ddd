package consumer

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rocketgo/rocketgo/message"
	"github.com/rocketgo/rocketgo/remoting"
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
	addr, err := c.cl.brokerAddr(ctx, broker, c.topic)
	if err != nil {
		return nil, err
	}
	initMode := remoting.PopInitModeMax
	if c.cfg.consumeFrom == ConsumeFromFirstOffset {
		initMode = remoting.PopInitModeMin
	}
	now := time.Now()
	h := &remoting.PopMessageRequestHeader{
		ConsumerGroup: c.cfg.group, Topic: c.topic, QueueID: -1, MaxMsgNums: int32(maxMessages),
		InvisibleTime: invisible.Milliseconds(), PollTime: c.await.Milliseconds(), BornTime: now.UnixMilli(),
		InitMode: initMode, ExpType: "TAG", Exp: c.expr, BrokerName: broker,
	}
	// The broker may hold the request for the await duration; the
	// request timeout covers the round trip on top of it.
	ctx, cancel := context.WithTimeout(ctx, c.await+c.cfg.requestTimeout)
	defer cancel()
	stop := context.AfterFunc(c.ctx, cancel)
	defer stop()
	resp, err := c.cl.Invoke(ctx, addr, remoting.NewWideRequest(remoting.PopMessage, h, nil))
	if err != nil {
		if c.alive() != nil {
			return nil, ErrClosed
		}
		return nil, fmt.Errorf("consumer: receive from %s: %w", broker, err)
	}
	switch resp.Code {
	case remoting.Success:
	case remoting.PollingTimeout, remoting.PullNotFound, remoting.NoMessage, remoting.PollingFull:
		return nil, nil
	default:
		re := remoting.NewResponseError(remoting.CodeOutOfRange, addr, resp)
		re.Op, re.Broker = "POP_MESSAGE", broker
		return nil, fmt.Errorf("consumer: receive: %w", re)
	}
	var rh remoting.PopMessageResponseHeader
	if err := resp.DecodeHeader(&rh); err != nil {
		return nil, fmt.Errorf("consumer: receive: bad POP response header: %w", err)
	}
	msgs, err := message.DecodeMessages(resp.Body, message.WithCodec(&c.cl.codec))
	if err != nil {
		return nil, fmt.Errorf("consumer: receive: %w", err)
	}
	starts, err := remoting.ParsePopOffsetInfo(rh.StartOffsetInfo)
	if err != nil {
		return nil, fmt.Errorf("consumer: receive: %w", err)
	}
	for _, m := range msgs {
		m.BrokerName = broker
		if _, ok := m.Property(message.PropertyPopCK); ok {
			continue // a redelivery: the broker wrote the handle
		}
		k := remoting.PopQueueKey{RetryMark: remoting.PopRetryMark(m.Topic), QueueID: m.QueueID}
		st, ok := starts[k]
		if !ok || len(st) != 1 {
			return nil, fmt.Errorf("consumer: receive: POP response has no start offset for queue %d", m.QueueID)
		}
		handle := remoting.ExtraInfo{
			CkQueueOffset: st[0], PopTime: rh.PopTime, InvisibleTime: rh.InvisibleTime, ReviveQid: rh.ReviveQid,
			RetryMark: k.RetryMark, BrokerName: broker, QueueID: m.QueueID, QueueOffset: m.QueueOffset,
		}
		m.SetProperty(message.PropertyPopCK, handle.String())
	}
	if len(c.cl.receives) > 0 {
		// Redeliveries come from the group's retry topic; they count
		// under the subscribed topic.
		c.cl.received(c.cfg.group, c.topic, msgs)
	}
	return msgs, nil
}

// handleOf returns msg's receipt handle and where to send requests on it.
func (c *SimpleConsumer) handleOf(ctx context.Context, msg *message.MessageExt) (remoting.ExtraInfo, string, string, error) {
	v, ok := msg.Property(message.PropertyPopCK)
	if !ok {
		return remoting.ExtraInfo{}, "", "", fmt.Errorf("%w: message has no POP_CK", ErrReceiptHandle)
	}
	ei, err := remoting.ParseExtraInfo(v)
	if err != nil || ei.QueueOffset < 0 {
		return remoting.ExtraInfo{}, "", "", fmt.Errorf("%w: %q", ErrReceiptHandle, v)
	}
	topic, err := remoting.PopRealTopic(msg.Topic, c.cfg.group, ei.RetryMark)
	if err != nil {
		return remoting.ExtraInfo{}, "", "", fmt.Errorf("%w: %v", ErrReceiptHandle, err)
	}
	addr, err := c.cl.brokerAddr(ctx, ei.BrokerName, c.topic)
	if err != nil {
		return remoting.ExtraInfo{}, "", "", err
	}
	return ei, topic, addr, nil
}

// Ack acknowledges a received message: it will not be handed out again.
// Acknowledging twice is fine; after the invisible duration passed (the
// message was handed out again) the error wraps ErrReceiptHandle.
func (c *SimpleConsumer) Ack(ctx context.Context, msg *message.MessageExt) error {
	if err := c.alive(); err != nil {
		return err
	}
	ei, topic, addr, err := c.handleOf(ctx, msg)
	if err != nil {
		return err
	}
	h := &remoting.AckMessageRequestHeader{ConsumerGroup: c.cfg.group, Topic: topic, QueueID: ei.QueueID,
		ExtraInfo: ei.String(), Offset: ei.QueueOffset, BrokerName: ei.BrokerName}
	resp, err := c.cl.Invoke(ctx, addr, remoting.NewWideRequest(remoting.AckMessage, h, nil))
	if err != nil {
		return fmt.Errorf("consumer: ack: %w", err)
	}
	return c.answer("ACK_MESSAGE", addr, ei.BrokerName, resp)
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
	ei, topic, addr, err := c.handleOf(ctx, msg)
	if err != nil {
		return err
	}
	h := &remoting.ChangeInvisibleTimeRequestHeader{ConsumerGroup: c.cfg.group, Topic: topic, QueueID: ei.QueueID,
		ExtraInfo: ei.String(), Offset: ei.QueueOffset, InvisibleTime: d.Milliseconds(), BrokerName: ei.BrokerName}
	resp, err := c.cl.Invoke(ctx, addr, remoting.NewWideRequest(remoting.ChangeMessageInvisibleTime, h, nil))
	if err != nil {
		return fmt.Errorf("consumer: change invisible duration: %w", err)
	}
	if err := c.answer("CHANGE_MESSAGE_INVISIBLETIME", addr, ei.BrokerName, resp); err != nil {
		return err
	}
	var rh remoting.ChangeInvisibleTimeResponseHeader
	if err := resp.DecodeHeader(&rh); err != nil {
		return fmt.Errorf("consumer: change invisible duration: bad response header: %w", err)
	}
	// As upstream's client: the new checkpoint starts at the message.
	ei.CkQueueOffset, ei.PopTime, ei.InvisibleTime, ei.ReviveQid = ei.QueueOffset, rh.PopTime, rh.InvisibleTime, rh.ReviveQid
	msg.SetProperty(message.PropertyPopCK, ei.String())
	return nil
}

func (c *SimpleConsumer) answer(op, addr, broker string, resp *remoting.Command) error {
	if resp.Code == remoting.Success {
		return nil
	}
	re := remoting.NewResponseError(remoting.CodeOutOfRange, addr, resp)
	re.Op, re.Broker = op, broker
	if resp.Code == remoting.NoMessage {
		return fmt.Errorf("consumer: %w: %w", ErrReceiptHandle, re)
	}
	return fmt.Errorf("consumer: %w", re)
}
