package consumer

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/rocketgo/rocketgo/message"
	"github.com/rocketgo/rocketgo/producer"
	"github.com/rocketgo/rocketgo/trace"
)

// TraceConfig configures message trace; see trace.Config for the fields
// and their defaults.
type TraceConfig = trace.Config

// WithTrace turns on message trace for a push consumer (RocketMQ's RIP-6):
// every listener call writes a SubBefore record per message before the
// listener runs and a SubAfter record (cost, success, how it returned)
// after. Records go out in batches from a producer of the consumer's own
// (group trace.ProducerGroupPrefix + this group) on cfg.Client or the
// consumer's Client, created by Start. Tracing never waits: when the trace
// queue is full records are dropped and counted (TraceStats). Messages of
// the trace topic itself and messages whose TRACE_ON property is "false"
// are not traced. A lite pull consumer (NewLitePull) traces each message
// Poll returns as upstream's lite pull consumer does: a SubBefore and a
// successful SubAfter at once, since what the application then does with
// the message is not the client's to see. A push consumer in POP mode
// traces its listener calls as in the classic mode. NewSimple refuses the
// option (ErrInvalidOption): a simple consumer has no listener call to
// trace. Default: off.
func WithTrace(cfg TraceConfig) Option {
	return func(c *config) { c.trace = &cfg }
}

// tracer writes the consumer's trace records; it is the first interceptor.
type tracer struct {
	d     *trace.Dispatcher
	inner *producer.Producer
	reqs  requestIDs // request ids pairing SubBefore and SubAfter
	host  string
	group string
	topic string // the trace topic (Local access), whose messages are not traced
}

// requestIDs makes the request ids that pair a listener call's SubBefore
// and SubAfter records. Upstream takes a fresh unique message id for each;
// readers only compare them, so ours are a unique id's address, pid and
// random part (fixed per consumer) followed by a counter: unique without
// the generator's lock and clock read on every listener call. They are
// written idsPerBlock at a time into one string and handed out as its
// substrings, one allocation per block instead of one per call.
type requestIDs struct {
	prefix string // 20 hex digits for IPv4, 44 for IPv6
	// n is on a cache line of its own: every listener call adds to it,
	// and the tracer's other fields are read on every call.
	_     [64]byte
	n     atomic.Uint64
	_     [56]byte
	block atomic.Pointer[idBlock] // the latest block made
}

// idBlock holds the ids first..first+idsPerBlock-1, of equal length,
// concatenated.
type idBlock struct {
	first uint64
	ids   string
}

const idsPerBlock = 64

func (r *requestIDs) next() string {
	n := r.n.Add(1)
	b := r.block.Load()
	if b == nil || n < b.first || n >= b.first+idsPerBlock {
		b = r.newBlock(n &^ (idsPerBlock - 1))
	}
	w := len(b.ids) / idsPerBlock
	i := int(n-b.first) * w
	return b.ids[i : i+w]
}

// newBlock writes the block starting at first and publishes it unless a
// later one is already out; callers racing for one block each make it,
// identical, and use their own.
func (r *requestIDs) newBlock(first uint64) *idBlock {
	var sb strings.Builder
	sb.Grow((len(r.prefix) + 12) * idsPerBlock)
	for n := first; n < first+idsPerBlock; n++ {
		sb.WriteString(r.prefix)
		for shift := 44; shift >= 0; shift -= 4 { // 12 hex digits, as a unique id's time and counter
			sb.WriteByte("0123456789ABCDEF"[(n>>shift)&0xF])
		}
	}
	b := &idBlock{first: first, ids: sb.String()}
	if old := r.block.Load(); old == nil || old.first < first {
		r.block.CompareAndSwap(old, b)
	}
	return b
}

// traceMsg is what BeforeConsume read from one message for AfterConsume.
type traceMsg struct {
	on   bool   // traced
	keys string // its KEYS, sanitized
}

// startTrace creates the trace producer and dispatcher; c.mu is not held
// and no listener runs yet.
func (c *PushConsumer) startTrace() error {
	t, err := newTracer(&c.cfg, c.cl)
	if err != nil {
		return err
	}
	c.tracer = t
	c.cfg.interceptors = append([]Interceptor{c.tracer}, c.cfg.interceptors...)
	c.reuseInfo = len(c.cfg.interceptors) == 1
	return nil
}

// newTracer creates the trace producer (on cfg.trace.Client or the
// consumer's own client) and its dispatcher.
func newTracer(cfg *config, cl *cluster) (*tracer, error) {
	tc := *cfg.trace
	pub := tc.Client
	if pub == nil {
		pub = cl.pub
	}
	inner, err := producer.New(producer.WithClient(pub), producer.WithGroup(trace.ProducerGroupPrefix+cfg.group),
		producer.WithRetries(0), producer.WithLogger(cfg.logger), producer.WithSendTimeout(tc.SendTimeout),
		// zlib by trace.AppendZlib, as trace.CompressThreshold explains.
		producer.WithCompression(trace.CompressThreshold, 0), producer.WithCompressionType(message.CompressZlib),
		producer.WithCompressor(trace.AppendZlib))
	if err != nil {
		return nil, fmt.Errorf("consumer: trace: %w", err)
	}
	t := &tracer{
		d:     trace.NewDispatcher(tc, producer.SenderOf(inner)),
		inner: inner,
		host:  cl.IP().String(),
		group: trace.StripNamespace(cfg.group),
		topic: tc.TopicFor(""),
	}
	id := message.NewUniqIDGenerator(cl.IP(), os.Getpid()).Next()
	t.reqs.prefix = id[:len(id)-12] // without the time and counter
	return t, nil
}

func (t *tracer) stop(ctx context.Context) {
	t.d.Close(ctx)
	t.inner.Shutdown(ctx)
}

// TraceStats returns the trace dispatcher's counters, all zero when
// tracing is off or the consumer has not started.
func (c *PushConsumer) TraceStats() trace.Stats {
	c.mu.Lock()
	t := c.tracer
	c.mu.Unlock()
	if t == nil {
		return trace.Stats{}
	}
	return t.d.Stats()
}

func (t *tracer) traced(m *message.MessageExt) bool {
	if m == nil || m.Topic == t.topic || strings.HasPrefix(m.Topic, trace.CloudTopicPrefix) {
		return false
	}
	on, _ := m.Property(message.PropertyTraceSwitch)
	return on != "false"
}

func (t *tracer) BeforeConsume(ctx context.Context, info *ConsumeInfo) context.Context {
	info.traceRequest = t.reqs.next()
	now := info.at.UnixMilli()
	ms := info.traceOne[:0]
	if len(info.Messages) > 1 {
		ms = make([]traceMsg, 0, len(info.Messages))
	}
	for _, m := range info.Messages {
		if !t.traced(m) {
			ms = append(ms, traceMsg{})
			continue
		}
		tm := traceMsg{on: true, keys: keysOf(m)}
		ms = append(ms, tm)
		region, _ := m.Property(message.PropertyMsgRegion)
		t.d.Append(trace.Record{
			Type:       trace.SubBefore,
			Timestamp:  now,
			RegionID:   region,
			Group:      t.group,
			RequestID:  info.traceRequest,
			MsgID:      m.MsgID,
			RetryTimes: int(m.ReconsumeTimes),
			Keys:       tm.keys,
			ClientHost: t.host,
		})
	}
	info.traceMsgs = ms
	return ctx
}

func (t *tracer) AfterConsume(_ context.Context, info *ConsumeInfo, out ConsumeOutcome) {
	code := trace.ConsumeSuccess
	switch {
	case out.TimedOut:
		code = trace.ConsumeTimeout
	case out.Panicked:
		code = trace.ConsumeException
	case !out.Success:
		code = trace.ConsumeFailed
	}
	// The listener's end, from BeforeConsume's clock and its running time.
	now := info.at.Add(out.Elapsed).UnixMilli()
	for i, m := range info.Messages {
		if i >= len(info.traceMsgs) || !info.traceMsgs[i].on {
			continue
		}
		t.d.Append(trace.Record{
			Type:        trace.SubAfter,
			Timestamp:   now,
			Group:       t.group,
			RequestID:   info.traceRequest,
			MsgID:       m.MsgID,
			CostTime:    out.Elapsed.Milliseconds(),
			Success:     out.Success && i < out.Acked,
			Keys:        info.traceMsgs[i].keys,
			ContextCode: code,
		})
	}
}

// keysOf is m's KEYS property as stored (already space separated).
func keysOf(m *message.MessageExt) string {
	k, _ := m.Property(message.PropertyKeys)
	return trace.Sanitize(k)
}

// polled records a lite pull consumer's Poll as upstream's lite pull
// consumer does: the application's processing is invisible to the
// client, so each returned message gets a SubBefore and at once a
// successful SubAfter (cost 0) sharing one request id. The trace then
// says which consumer took the message and when, not how processing went.
func (t *tracer) polled(msgs []*message.MessageExt) {
	info := ConsumeInfo{Messages: msgs, at: time.Now()}
	t.BeforeConsume(context.Background(), &info)
	t.AfterConsume(context.Background(), &info, ConsumeOutcome{Success: true, Acked: len(msgs)})
}
