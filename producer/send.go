package producer

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/rocketgo/rocketgo/remoting/netclient"

	retry "github.com/avast/retry-go/v4"
	"github.com/sony/gobreaker/v2"

	iclient "github.com/rocketgo/rocketgo/internal/client"
	"github.com/rocketgo/rocketgo/message"
	"github.com/rocketgo/rocketgo/remoting"
	"github.com/rocketgo/rocketgo/selector"
)

// SendMode tells interceptors how a message is being sent.
type SendMode int

// Send modes.
const (
	ModeSync SendMode = iota
	ModeAsync
	ModeOneway
	ModeOrderly
	ModeTransaction
)

// sendState is one send (single message or batch) across its attempts. The
// message is encoded once; each attempt only builds a request header.
type sendState struct {
	p    *Producer
	mode SendMode
	msgs []*message.Message

	parent     context.Context // the caller's context
	ctx        context.Context // parent bounded by the send budget (see deadline)
	cancel     context.CancelFunc
	attempts   int
	lastBroker string
	lastErr    error
	notStoreOK *SendResult // the last stored-but-not-OK result, when such results are retried

	topic string // on the wire (namespace applied)
	body  []byte
	props string
	msgID string
	key   string // sharding key for selectors
	arg   any    // selector argument (SendOrderly)
	info  *iclient.TopicInfo
	hdr   remoting.SendMessageRequestHeader

	cb    func(*SendResult, error)
	start time.Time // when the send call began, for SendHooks
	sinfo *SendInfo // with interceptors only

	// An async send waiting for a slot (asyncSlots, async.go): the wait
	// queue's link and the waiter's wake-up, guarded by the slots' mutex,
	// and who runs the send once a slot was handed over.
	nextWaiter *sendState
	wake       chan struct{}
	handover   atomic.Int32

	// An async send's first attempt, made by launch: the broker's address
	// (its name is lastBroker), when (unix ns) and the breaker's reporter.
	// (The state is allocated per send and sits in the 480-byte size
	// class: a field added here should make room elsewhere.)
	aaddr string
	at0   int64
	adone func(bool)

	// The small fields last, side by side, so that padding does not push
	// the state (allocated per send) into a larger size class.
	sysFlag     int32
	needBudget  bool // parent's deadline is later than the budget (or absent)
	unrecovered bool
	// staleRoute marks a failure a master change explains (the broker is
	// gone, refuses writes as a slave, or has no master): the next attempt
	// reads the route from the name servers instead of the cache.
	staleRoute bool
	batch      bool
	reply      bool // MSG_TYPE=reply: sent with SEND_REPLY_MESSAGE_V2
	ordered    bool
	queued     bool // in the async slots' wait queue
}

// SendSync sends one message, or several as one batch (same topic, no
// delay), and waits for the broker's answer. Failed attempts are retried on
// another broker up to the configured retries, all within one time budget:
// ctx's deadline or the send timeout, whichever ends first. Validation
// errors are returned before any network work.
func (p *Producer) SendSync(ctx context.Context, msgs ...*message.Message) (*SendResult, error) {
	return p.sendSync(ctx, ModeSync, nil, msgs)
}

// SendOrderly sends synchronously to the queue chosen by the configured
// selector (selector.Hash when none was configured) for arg, so every
// message with the same arg lands on the same queue. With a nil arg the
// messages' sharding key is used. Retries stay on that queue: the message
// is never silently moved to another queue, which would break ordering.
func (p *Producer) SendOrderly(ctx context.Context, arg any, msgs ...*message.Message) (*SendResult, error) {
	return p.sendSync(ctx, ModeOrderly, arg, msgs)
}

func (p *Producer) sendSync(ctx context.Context, mode SendMode, arg any, msgs []*message.Message) (*SendResult, error) {
	if err := p.enter(); err != nil {
		return nil, err
	}
	defer p.inflight.Done()
	st, err := p.prepare(ctx, mode, msgs, false)
	if err != nil {
		return nil, err
	}
	st.arg, st.ordered = arg, mode == ModeOrderly
	res, err := st.run()
	st.finish(res, err)
	return res, err
}

// SendAsync sends like SendSync but returns at once; cb is called exactly
// once with the result, never on the calling goroutine: on one of the
// transport's callback workers, which run callbacks one after another (a
// callback may block: those queued behind it move to another worker
// within a few milliseconds), or, after a failed attempt, on one of the
// producer's async workers. Failed attempts are
// retried like sync sends (the official Go client never retries async
// sends). An error returned by SendAsync itself (validation, closed
// producer, no async slot free before ctx ended) means cb will not be
// called. ctx bounds the whole send and must stay live until cb runs. At
// most WithAsyncLimit async sends are in flight; SendAsync waits for a slot.
func (p *Producer) SendAsync(ctx context.Context, cb func(*SendResult, error), msgs ...*message.Message) error {
	if err := p.enter(); err != nil {
		return err
	}
	st, err := p.prepare(ctx, ModeAsync, msgs, false)
	if err != nil {
		p.inflight.Done()
		return err
	}
	if cb == nil {
		cb = func(*SendResult, error) {}
	}
	st.cb = cb
	// Back-pressure: at most WithAsyncLimit sends in flight, as the Java
	// client's async semaphore does; wait for a slot within ctx.
	start, err := p.slots.acquire(ctx, st)
	if err != nil {
		err = fmt.Errorf("producer: waiting for an async slot: %w", err)
		st.finish(nil, err)
		p.inflight.Done()
		return err
	}
	if start {
		st.launch()
	}
	return nil
}

// SendOneway sends without waiting for the broker: one attempt, no retry,
// no result. It returns once the request is queued on the connection.
func (p *Producer) SendOneway(ctx context.Context, msgs ...*message.Message) error {
	if err := p.enter(); err != nil {
		return err
	}
	defer p.inflight.Done()
	st, err := p.prepare(ctx, ModeOneway, msgs, false)
	if err != nil {
		return err
	}
	q, addr, err := st.choose()
	if err == nil {
		req := st.request(q, time.Now())
		err = p.cl.InvokeOneway(st.ctx, addr, req)
		p.putRequest(req)
		if err != nil {
			err = fmt.Errorf("producer: oneway send to %s (%s): %w", q.BrokerName, addr, err)
		}
	}
	st.finish(nil, err)
	return err
}

// sendStateInfo is a send's state with its SendInfo, for producers with
// interceptors or a tracer.
type sendStateInfo struct {
	st   sendState
	info SendInfo
}

// prepare validates and encodes msgs, runs interceptors' BeforeSend and
// looks up the route.
func (p *Producer) prepare(ctx context.Context, mode SendMode, msgs []*message.Message, tx bool) (*sendState, error) {
	if len(msgs) == 0 {
		return nil, ErrNoMessage
	}
	var st *sendState
	if len(p.cfg.interceptors) == 0 && p.tracer == nil {
		st = &sendState{p: p, mode: mode, msgs: msgs, parent: ctx, ctx: ctx}
	} else {
		// The state and the SendInfo of the interceptors and the tracer
		// in one allocation: with tracing on every send has one.
		both := &sendStateInfo{
			st:   sendState{p: p, mode: mode, msgs: msgs, parent: ctx, ctx: ctx},
			info: SendInfo{Mode: mode, Group: p.group, Messages: msgs},
		}
		st = &both.st
		st.sinfo = &both.info
		// Before encoding, so that an interceptor may add properties (a
		// trace context) that travel with the message.
		if msgs[0] != nil {
			st.sinfo.Topic = p.cl.Wrap(msgs[0].Topic)
		}
		st.sinfo.ctx = ctx
		for _, in := range p.cfg.interceptors {
			st.sinfo.ctx = in.BeforeSend(st.sinfo.ctx, st.sinfo)
		}
	}
	// The send's start, read before encoding so that the unique keys
	// share this clock read (encodeSingle reads it again after compressing).
	st.start = time.Now()
	var err error
	if len(msgs) == 1 {
		err = st.encodeSingle(msgs[0], tx)
	} else {
		err = st.encodeBatch(msgs)
	}
	if err != nil {
		st.afterSend(nil, err)
		return nil, err
	}

	// The budget: ctx's deadline or the send timeout, whichever is first.
	// A derived context costs allocations, so it is made only when needed:
	// the transport already applies the client's request timeout when ctx
	// has none, which is the send timeout in the default configuration.
	start := st.start
	if st.sinfo != nil {
		// The tracer's clock: the send's start, read once.
		st.sinfo.start = start
	}
	if dl, ok := ctx.Deadline(); !ok || dl.After(st.deadline()) {
		st.needBudget = true
		if ok || p.cfg.sendTimeout != p.cl.RequestTimeout() {
			st.ctx, st.cancel = context.WithDeadline(ctx, st.deadline())
		}
	}

	if st.info, err = p.cl.PublishInfo(st.ctx, st.topic); err != nil {
		err = fmt.Errorf("producer: route of %q: %w", st.topic, err)
		st.finish(nil, err)
		return nil, err
	}
	if st.needBudget && st.cancel == nil && time.Since(start) > time.Millisecond {
		// The route had to be fetched: what is left of the budget is less
		// than the transport's own timeout, so bound the attempts by it.
		st.ctx, st.cancel = context.WithDeadline(ctx, st.deadline())
	}
	return st, nil
}

// deadline is the end of the send's time budget (not a field: st.start
// no longer moves once the budget is set).
func (st *sendState) deadline() time.Time {
	return st.start.Add(st.p.cfg.sendTimeout)
}

// encodeSingle fills body, properties, unique key and flags of one message.
// The caller's message is not modified: the unique key and transaction
// properties are appended to the encoded property string.
func (st *sendState) encodeSingle(m *message.Message, tx bool) error {
	p := st.p
	if err := m.Validate(p.cfg.maxMessageSize); err != nil {
		if errors.Is(err, message.ErrBodyTooLarge) {
			return fmt.Errorf("producer: %w: %w", ErrMessageTooLarge, err)
		}
		return fmt.Errorf("producer: %w", err)
	}
	st.topic = p.cl.Wrap(m.Topic)
	// Room for the usual properties plus the keys, which may be long (a
	// trace message's list every traced message id): growing the buffer
	// from 128 bytes copies them at each doubling.
	n := 128
	for _, k := range m.Keys {
		n += len(k) + 1
	}
	// The usual message's properties fit in a buffer on the stack: only
	// the string made from it is allocated. Long KEYS (a trace message's
	// ~17 KB of ids) get a buffer of their own, referenced nowhere else,
	// which the string shares instead of copying it. Two variables, so
	// that the stack buffer is never seen flowing into unsafe.String:
	// escape analysis would move it to the heap (one more allocation per
	// send).
	if n > propsOnStack {
		big, err := st.appendProps(m, tx, make([]byte, 0, n))
		if err != nil {
			return err
		}
		st.props = unsafe.String(unsafe.SliceData(big), len(big))
	} else {
		var stack [propsOnStack]byte
		small, err := st.appendProps(m, tx, stack[:0])
		if err != nil {
			return err
		}
		st.props = string(small)
	}
	st.body = m.Body
	if t := p.cfg.compressThreshold; t > 0 && len(m.Body) >= t {
		if f := p.cfg.compressor; f != nil {
			st.body = f(make([]byte, 0, len(m.Body)/8+64), m.Body)
		} else {
			z, err := p.codec.Compress(p.cfg.compressType, m.Body, p.cfg.compressLevel)
			if err != nil {
				return fmt.Errorf("producer: %w", err)
			}
			st.body = z
		}
		// 0x1 plus the type bits, as DefaultMQProducerImpl sets them; a
		// zlib body is 0x301, which every consumer reads as zlib.
		st.sysFlag |= p.cfg.compressType.SysFlag()
		// Compressing can take long (zstd's high levels, a big body): the
		// send's time budget starts after it, as it did before the unique
		// key shared the start's clock read.
		st.start = time.Now()
	}
	st.hdr.Flag = m.Flag
	st.key = shardingKey(m)
	st.reply = message.IsReply(m)
	return nil
}

// appendProps appends m's encoded properties to buf, with the unique key
// (setting st.msgID) and a transaction's properties (setting its flag).
func (st *sendState) appendProps(m *message.Message, tx bool, buf []byte) ([]byte, error) {
	p := st.p
	props := m.EncodeProperties(buf)
	if id, ok := m.Property(message.PropertyUniqKey); ok && id != "" {
		st.msgID = id
	} else {
		st.msgID = p.uniq.NextAt(st.start)
		props = message.AppendProperty(props, message.PropertyUniqKey, st.msgID)
	}
	if tx {
		props = message.AppendProperty(props, message.PropertyTransactionPrepared, "true")
		props = message.AppendProperty(props, message.PropertyProducerGroup, p.group)
		st.sysFlag |= remoting.TransactionPrepared
	}
	if len(props) > message.MaxPropertiesLength {
		return nil, fmt.Errorf("producer: %w: %d bytes", message.ErrPropertiesTooLarge, len(props))
	}
	return props, nil
}

// propsOnStack is the property string length encodeSingle builds on the
// stack.
const propsOnStack = 256

func shardingKey(m *message.Message) string {
	if m.ShardingKey != "" {
		return m.ShardingKey
	}
	if k, ok := m.Property(message.PropertyShardingKeyGo); ok {
		return k
	}
	k, _ := m.Property(message.PropertyShardingKey)
	return k
}

// encodeBatch builds a SEND_BATCH_MESSAGE body. Every inner message gets
// its own unique key (as Java does, unlike the official Go client) so that
// each stored message has an id and SendResult.MsgID lists them.
func (st *sendState) encodeBatch(msgs []*message.Message) error {
	p := st.p
	topic := ""
	inner := make([]*message.Message, len(msgs))
	ids := make([]string, len(msgs))
	for i, m := range msgs {
		if err := m.Validate(p.cfg.maxMessageSize); err != nil {
			if errors.Is(err, message.ErrBodyTooLarge) {
				return fmt.Errorf("producer: batch message %d: %w: %w", i, ErrMessageTooLarge, err)
			}
			return fmt.Errorf("producer: batch message %d: %w", i, err)
		}
		if i == 0 {
			topic = m.Topic
		} else if m.Topic != topic {
			return fmt.Errorf("%w: %q and %q", ErrBatchMixed, topic, m.Topic)
		}
		if m.DelayLevel > 0 {
			return fmt.Errorf("%w: message %d", ErrBatchDelay, i)
		}
		if id, ok := m.Property(message.PropertyUniqKey); ok && id != "" {
			ids[i], inner[i] = id, m
			continue
		}
		ids[i] = p.uniq.NextAt(st.start)
		inner[i] = withProperty(m, message.PropertyUniqKey, ids[i])
	}
	body, err := message.AppendBatch(nil, inner)
	if err != nil {
		return fmt.Errorf("producer: %w", err)
	}
	if len(body) > p.cfg.maxMessageSize {
		return fmt.Errorf("%w: batch of %d bytes exceeds %d", ErrMessageTooLarge, len(body), p.cfg.maxMessageSize)
	}
	st.topic = p.cl.Wrap(topic)
	st.body = body
	st.batch = true
	st.msgID = strings.Join(ids, ",")
	st.key = shardingKey(msgs[0])
	return nil
}

// withProperty returns a copy of m with one more property, leaving m (which
// the caller owns) untouched.
func withProperty(m *message.Message, key, value string) *message.Message {
	cp := &message.Message{
		Topic: m.Topic, Body: m.Body, Flag: m.Flag, Tags: m.Tags, Keys: m.Keys,
		DelayLevel: m.DelayLevel, ShardingKey: m.ShardingKey, TransactionID: m.TransactionID,
	}
	m.RangeProperties(func(k, v string) bool {
		cp.SetProperty(k, v)
		return true
	})
	cp.SetProperty(key, value)
	return cp
}

// request builds the request of one attempt to queue q: SEND_MESSAGE_V2
// (310) for single messages, SEND_REPLY_MESSAGE_V2 (325) for replies,
// SEND_BATCH_MESSAGE (320) for batches, all with the short V2 header keys.
func (st *sendState) request(q selector.Queue, now time.Time) *remoting.Command {
	h := &st.hdr
	h.ProducerGroup = st.p.group
	h.Topic = st.topic
	h.DefaultTopic = iclient.DefaultTopic
	h.DefaultTopicQueueNums = iclient.DefaultTopicQueueNums
	h.QueueID = int32(q.QueueID)
	h.SysFlag = st.sysFlag
	h.BornTimestamp = now.UnixMilli()
	h.Properties = st.props
	h.Batch = st.batch
	c, _ := st.p.reqs.Get().(*remoting.Command)
	if c == nil {
		c = new(remoting.Command)
	}
	// A Command (and ext storage) used before: the transport keeps no
	// reference to a request once the call that sent it returns (see
	// putRequest).
	c.ResetRequest(st.requestCode(), st.body)
	h.V2().EncodeExt(&c.Ext)
	return c
}

// putRequest recycles a request built by request once the transport call
// that sent it has returned (InvokeSync, InvokeHandler and InvokeOneway
// keep no reference to it). It saves the Command and its ext pairs, a
// quarter of a send's allocated bytes.
func (p *Producer) putRequest(c *remoting.Command) {
	c.Body = nil
	c.Ext.Reset()
	p.reqs.Put(c)
}

// requestCode is the send request's code.
func (st *sendState) requestCode() int16 {
	switch {
	case st.batch:
		return remoting.SendBatchMessage
	case st.reply:
		// As Java's MQClientAPIImpl: a reply goes to the broker's reply
		// processor, which pushes it to the requester.
		return remoting.SendReplyMessageV2
	}
	return remoting.SendMessageV2
}

// choose picks the queue of the next attempt and its broker's master.
func (st *sendState) choose() (selector.Queue, string, error) {
	p := st.p
	if st.attempts > 0 {
		// A retry sees routes refreshed since the first attempt, and reads
		// them afresh when the last failure suggests a new master.
		if st.staleRoute {
			st.staleRoute = false
			p.cl.RefreshSoon() // the other topics too
			if info, err := p.cl.RefreshRoute(st.ctx, st.topic, true); err == nil && !info.FromDefault && len(info.Publish) > 0 {
				st.info = info
			}
		} else if info, err := p.cl.PublishInfo(st.ctx, st.topic); err == nil && len(info.Publish) > 0 {
			st.info = info
		}
	}
	if len(st.info.Publish) == 0 {
		st.staleRoute = true
		return selector.Queue{}, "", fmt.Errorf("%w: topic %q has no writable queue", ErrNoRoute, st.topic)
	}
	q := p.pick(st)
	addr := p.cl.MasterAddr(q.BrokerName)
	if addr == "" {
		st.lastBroker = q.BrokerName
		st.staleRoute = true
		return q, "", fmt.Errorf("%w: broker %q of topic %q has no master", ErrNoRoute, q.BrokerName, st.topic)
	}
	return q, addr, nil
}

// pick applies the selection policy. Ordered sends and custom selectors
// get the selector's answer as is; the default policy is round-robin that
// skips brokers in latency backoff or with an open circuit breaker, prefers
// a broker other than the one that just failed, and falls back to any
// queue rather than failing when every broker looks unhealthy.
func (p *Producer) pick(st *sendState) selector.Queue {
	in := selector.SelectInput{Topic: st.topic, ShardingKey: st.key, Arg: st.arg}
	qs := st.info.Publish
	if st.ordered {
		if s := p.cfg.selector; s != nil {
			return s.Select(in, qs, st.lastBroker)
		}
		return selector.Hash{}.Select(in, qs, st.lastBroker)
	}
	if s := p.cfg.selector; s != nil {
		return s.Select(in, qs, st.lastBroker)
	}
	if p.table == nil {
		return p.rr.Select(in, qs, st.lastBroker)
	}
	n := len(qs)
	if st.lastBroker != "" {
		p.rr.Reset(st.topic) // so concurrent retries do not march in step
	}
	for pass := 0; pass < 2; pass++ {
		for i := 0; i < n; i++ {
			q := qs[p.rr.Next(st.topic)%n]
			b := q.BrokerName
			if b == st.lastBroker || p.breakerOpen(b) {
				continue
			}
			if (pass == 0 && p.table.Available(b)) || (pass == 1 && p.table.Reachable(b)) {
				return q
			}
		}
	}
	return qs[p.rr.Next(st.topic)%n]
}

// run makes the first attempt and, if it failed retriably, the retries.
func (st *sendState) run() (*SendResult, error) {
	return st.afterFirst(st.attempt())
}

// afterFirst settles a send after its first attempt's outcome, making the
// retries if that failed retriably.
func (st *sendState) afterFirst(res *SendResult, err error) (*SendResult, error) {
	if err == nil || !st.retriable(err) || st.p.cfg.retries == 0 {
		return st.settle(res, st.wrapErr(err))
	}
	return st.settle(st.retry())
}

// errNotStoreOK marks an attempt whose message was stored with a status
// other than SEND_OK, retried under WithRetryAnotherBrokerWhenNotStoreOK.
var errNotStoreOK = errors.New("producer: message stored, but not flushed or replicated in time")

// settle returns the outcome of all attempts: as Java does, a message that
// was stored by some attempt is reported with that attempt's result even if
// later retries failed.
func (st *sendState) settle(res *SendResult, err error) (*SendResult, error) {
	if err != nil && st.notStoreOK != nil {
		return st.notStoreOK, nil
	}
	return res, err
}

// retry runs the remaining attempts with retry-go, immediately one after
// the other (as Java does) and inside the one time budget.
func (st *sendState) retry() (*SendResult, error) {
	if st.needBudget && st.cancel == nil {
		st.ctx, st.cancel = context.WithDeadline(st.parent, st.deadline())
	}
	res, err := retry.DoWithData(st.attempt,
		retry.Attempts(uint(st.p.cfg.retries)),
		retry.Context(st.ctx),
		retry.Delay(0),
		retry.DelayType(retry.FixedDelay),
		retry.LastErrorOnly(true),
		retry.RetryIf(st.retriable),
	)
	return res, st.wrapErr(err)
}

// retriable decides whether another attempt may help: transport failures,
// a missing master and the broker codes Java 5.x retries; never once the
// budget or the caller's context is gone.
func (st *sendState) retriable(err error) bool {
	if st.unrecovered || !retry.IsRecoverable(err) || st.ctx.Err() != nil {
		return false
	}
	var re *remoting.ResponseError
	if errors.As(err, &re) {
		return retriableCode(re.Code)
	}
	var oe *remoting.OpError
	if errors.As(err, &oe) {
		return !errors.Is(err, netclient.ErrClientClosed) && !errors.Is(err, context.Canceled)
	}
	return errors.Is(err, ErrNoRoute) || errors.Is(err, errNotStoreOK)
}

// wrapErr adds the attempt count; when the budget ran out it keeps both the
// context error and the last attempt's error.
func (st *sendState) wrapErr(err error) error {
	if err == nil {
		return nil
	}
	if st.lastErr != nil && err != st.lastErr && !errors.Is(err, st.lastErr) {
		err = errors.Join(err, st.lastErr)
	}
	return fmt.Errorf("producer: send to topic %q failed after %d attempt(s): %w", st.topic, st.attempts, err)
}

// attempt is one synchronous try.
func (st *sendState) attempt() (*SendResult, error) {
	q, addr, err := st.choose()
	st.attempts++
	if err != nil {
		st.lastErr = err
		return nil, err
	}
	done := st.p.allow(q.BrokerName)
	// A first sync attempt follows prepare at once: spare a clock read. An
	// async one may have waited for a worker, which is not the broker's time.
	t0 := st.start
	if st.attempts > 1 || st.mode == ModeAsync {
		t0 = time.Now()
	}
	req := st.request(q, t0)
	resp, err := st.p.cl.Invoke(st.ctx, addr, req)
	st.p.putRequest(req)
	return st.complete(q, addr, t0, done, resp, err)
}

// launch makes an async send's first attempt on the calling goroutine: the
// request is queued on the connection and nothing waits for it; the
// transport calls HandleResponse with the outcome, on its callback
// workers. An async send thus costs no goroutine hand-off of its own: the
// response reaches the callback through the transport's batched hand-off
// to its workers (a sync send waits for a wake-up of its own).
func (st *sendState) launch() {
	q, addr, err := st.choose()
	st.attempts++
	if err != nil {
		st.lastErr = err
		st.p.startAsync(st, nil, err) // the retries look the route up again
		return
	}
	st.lastBroker, st.aaddr = q.BrokerName, addr
	st.adone = st.p.allow(q.BrokerName)
	// Not st.start: the send may have waited for a slot, which is not the
	// broker's time.
	t0 := time.Now()
	st.at0 = t0.UnixNano()
	req := st.request(q, t0)
	st.p.cl.InvokeHandler(st.ctx, addr, req, st)
	st.p.putRequest(req)
}

// HandleResponse continues an async send with its first attempt's
// outcome, on one of the transport's callback workers. A stored message
// (the usual case) is settled here; anything else — a transport error, a
// broker's refusal — goes to an async worker: the retries, and the route
// refresh some refusals call for, may wait on the network, which the
// transport's workers should not.
func (st *sendState) HandleResponse(resp *remoting.Command, err error) {
	if err != nil || !storedCode(resp.Code) {
		st.p.startAsync(st, resp, err)
		return
	}
	st.conclude(st.afterFirst(st.completeFirst(resp, nil)))
}

// completeFirst is complete for the attempt launch made.
func (st *sendState) completeFirst(resp *remoting.Command, err error) (*SendResult, error) {
	q := selector.Queue{Topic: st.topic, BrokerName: st.lastBroker, QueueID: int(st.hdr.QueueID)}
	return st.complete(q, st.aaddr, time.Unix(0, st.at0), st.adone, resp, err)
}

// storedCode reports whether a send response's code says the broker
// stored the message (in time or not).
func storedCode(code int16) bool {
	switch code {
	case remoting.Success, remoting.FlushDiskTimeout, remoting.FlushSlaveTimeout, remoting.SlaveNotAvailable:
		return true
	}
	return false
}

// runAsync continues an async send on a worker after its first attempt's
// outcome (resp, err): one that launch could not make, or that did not
// store the message, gets the same retries as a sync send; then its
// callback runs.
func (st *sendState) runAsync(resp *remoting.Command, err error) {
	var res *SendResult
	if st.aaddr == "" {
		res, err = st.afterFirst(nil, err) // no route for the first attempt
	} else {
		res, err = st.afterFirst(st.completeFirst(resp, err))
	}
	st.conclude(res, err)
}

// conclude reports an async send's result: interceptors and hooks, its
// slot (launching the send of a caller waiting for it), the callback.
func (st *sendState) conclude(res *SendResult, err error) {
	st.adone = nil
	st.finish(res, err)
	p := st.p
	if next := p.slots.release(); next != nil && next.handover.CompareAndSwap(handoverPending, handoverWorker) {
		// Before the callback, which may block: launching only queues
		// the request.
		next.launch()
	}
	st.cb(res, err)
	p.inflight.Done()
}

// finish releases the budget context and runs interceptors' AfterSend and
// the Client's SendHooks.
func (st *sendState) finish(res *SendResult, err error) {
	if st.cancel != nil {
		st.cancel()
	}
	if hooks := st.p.sends; len(hooks) > 0 {
		latency := time.Since(st.start)
		for _, h := range hooks {
			h.OnSend(st.topic, len(st.msgs), latency, err)
		}
	}
	st.afterSend(res, err)
}

// afterSend runs interceptors' AfterSend, in reverse order, and then the
// tracer's. The tracer's Pub records the send's own cost (SendInfo's start
// to end), whatever the interceptors took.
func (st *sendState) afterSend(res *SendResult, err error) {
	if st.sinfo != nil {
		for i := len(st.p.cfg.interceptors) - 1; i >= 0; i-- {
			st.p.cfg.interceptors[i].AfterSend(st.sinfo.ctx, st.sinfo, res, err)
		}
		if t := st.p.tracer; t != nil {
			t.afterSend(st.sinfo, res, err)
		}
	}
}

// allow passes one request through broker's circuit breaker when the
// broker is suspect, and returns the outcome reporter (nil when the breaker
// is bypassed). When the breaker refuses (open, or half-open with its probe
// already out) the send goes ahead anyway — the selector only picks such a
// broker when nothing healthier exists — and is not counted.
func (p *Producer) allow(broker string) func(bool) {
	if p.table == nil {
		return nil
	}
	h := p.health(broker)
	if !h.suspect.Load() {
		return nil
	}
	done, err := h.cb.Allow()
	if err != nil {
		return nil
	}
	return func(ok bool) {
		done(breakerOutcome(ok))
		if ok && h.cb.State() == gobreaker.StateClosed && h.cb.Counts().ConsecutiveFailures == 0 {
			h.suspect.Store(false)
		}
	}
}

// failed records a transport failure of an attempt that bypassed the
// breaker (the broker was not suspect): it becomes suspect and the failure
// is counted after the fact.
func (p *Producer) failed(broker string) {
	h := p.health(broker)
	h.suspect.Store(true)
	if done, err := h.cb.Allow(); err == nil {
		done(errAttemptFailed)
	}
}

// errAttemptFailed is what the breaker is told about a failed attempt:
// gobreaker counts outcomes by error, and the real error has been recorded
// elsewhere (fault table, send result) already.
var errAttemptFailed = errors.New("producer: attempt failed")

// breakerOutcome turns an attempt's success into gobreaker's error-based
// outcome (nil counts as a success).
func breakerOutcome(ok bool) error {
	if ok {
		return nil
	}
	return errAttemptFailed
}

// complete turns one attempt's outcome into a result or error and feeds
// the fault table and the breaker.
func (st *sendState) complete(q selector.Queue, addr string, t0 time.Time, done func(bool), resp *remoting.Command, err error) (*SendResult, error) {
	p := st.p
	end := time.Now()
	elapsed := end.Sub(t0)
	if st.sinfo != nil {
		st.sinfo.end = end // the tracer's clock, read once per attempt
	}
	st.lastBroker = q.BrokerName
	if err != nil {
		if p.table != nil {
			p.table.Update(q.BrokerName, elapsed, true)
			p.table.SetReachable(q.BrokerName, false)
		}
		if done != nil {
			done(false)
		} else if p.table != nil {
			p.failed(q.BrokerName)
		}
		err = fmt.Errorf("producer: send to %s (%s): %w", q.BrokerName, addr, err)
		st.lastErr = err
		st.staleRoute = true
		return nil, err
	}
	if done != nil {
		done(true) // the broker answered: the connection is healthy
	}
	var status SendStatus
	switch resp.Code {
	case remoting.Success:
		status = SendOK
	case remoting.FlushDiskTimeout:
		status = SendFlushDiskTimeout
	case remoting.FlushSlaveTimeout:
		status = SendFlushSlaveTimeout
	case remoting.SlaveNotAvailable:
		status = SendSlaveNotAvailable
	default:
		be := &remoting.ResponseError{Op: remoting.CodeName(st.requestCode(), false), Addr: addr,
			Broker: q.BrokerName, Code: resp.Code, Remark: resp.Remark}
		if p.table != nil {
			p.table.Update(q.BrokerName, elapsed, retriableCode(be.Code))
		}
		st.lastErr = be
		if be.Code == remoting.ServiceNotAvailable {
			st.staleRoute = true // a slave (or a broker waiting for its role) refusing writes
		}
		if be.Code == remoting.TopicNotExist {
			// Retry only if a fresh route now knows the topic.
			ti, rerr := p.cl.RefreshRoute(st.ctx, st.topic, true)
			if rerr != nil || ti.FromDefault {
				st.unrecovered = true
			}
		}
		return nil, be
	}
	if p.table != nil {
		p.table.Update(q.BrokerName, elapsed, false)
	}
	var h remoting.SendMessageResponseHeader
	if err := resp.DecodeHeader(&h); err != nil {
		err = fmt.Errorf("producer: send response from %s: %w", addr, err)
		st.lastErr = err
		st.unrecovered = true // the message was stored; do not send it again
		return nil, err
	}
	res := &SendResult{
		Status:        status,
		MsgID:         st.msgID,
		OffsetMsgID:   h.MsgID,
		Queue:         selector.Queue{Topic: p.cl.Unwrap(st.topic), BrokerName: q.BrokerName, QueueID: int(h.QueueID)},
		QueueOffset:   h.QueueOffset,
		TransactionID: h.TransactionID,
		RegionID:      h.MsgRegion,
		TraceOn:       h.TraceOn != "false",
		RecallHandle:  h.RecallHandle,
	}
	if res.RegionID == "" {
		res.RegionID = "DefaultRegion"
	}
	if status != SendOK {
		// Stored but not replicated in time: the broker may have lost its
		// slaves to a failover it has not heard of; look for a new master.
		p.cl.RefreshSoon()
	}
	if status != SendOK && p.cfg.retryNotStoreOK && st.mode == ModeSync {
		st.notStoreOK = res
		err := fmt.Errorf("%w: %s on %s", errNotStoreOK, status, q.BrokerName)
		st.lastErr = err
		return nil, err
	}
	return res, nil
}
