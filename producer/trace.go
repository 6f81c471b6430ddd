package producer

import (
	"bytes"
	"context"
	"strings"
	"sync/atomic"
	"time"

	"github.com/rocketgo/rocketgo/message"
	"github.com/rocketgo/rocketgo/trace"
)

// TraceConfig configures message trace; see trace.Config for the fields
// and their defaults.
type TraceConfig = trace.Config

// WithTrace turns on message trace (RocketMQ's RIP-6): after every sync
// or async send the broker answered, and after every END_TRANSACTION, a
// record (Pub, EndTransaction) is queued for the trace topic. Records go
// out in batches from a producer of their own (group
// trace.ProducerGroupPrefix + this group, no retries) on cfg.Client or
// this producer's Client. Tracing never waits: when the trace queue is
// full records are dropped and counted (TraceStats), and a failed trace
// send never fails the traced one. Oneway sends are not traced, as
// upstream. Default: off.
func WithTrace(cfg TraceConfig) Option {
	return func(c *config) { c.trace = &cfg }
}

// tracer writes the producer's trace records.
type tracer struct {
	d     *trace.Dispatcher
	cfg   trace.Config // d.Config(), kept rather than copied per record
	inner *Producer    // sends the trace messages
	host  string       // this client's IP, the records' ClientHost
	ns    bool         // the client has a namespace to strip from names

	lastHost atomic.Pointer[hostCache] // the last store host decoded
}

// startTrace creates the trace producer and dispatcher. The tracer is
// not one of the interceptors but called after them (afterSend), without
// their interface calls: it has nothing to do before a send.
func (p *Producer) startTrace() error {
	tc := *p.cfg.trace
	cl := tc.Client
	if cl == nil {
		cl = p.pub
	}
	inner, err := New(WithClient(cl), WithGroup(trace.ProducerGroupPrefix+p.cfg.group),
		WithRetries(0), WithLogger(p.cfg.logger), WithSendTimeout(tc.SendTimeout),
		// zlib, the one type every reader of the trace topic inflates, made
		// by trace.AppendZlib, as trace.CompressThreshold explains.
		WithCompression(trace.CompressThreshold, 0), WithCompressionType(message.CompressZlib),
		WithCompressor(trace.AppendZlib))
	if err != nil {
		return err
	}
	d := trace.NewDispatcher(tc, SenderOf(inner))
	p.tracer = &tracer{
		d:     d,
		cfg:   d.Config(),
		inner: inner,
		host:  p.cl.IP().String(),
		ns:    p.cl.Wrap("x") != "x",
	}
	return nil
}

// stop flushes the queued records and shuts the trace producer down.
func (t *tracer) stop(ctx context.Context) {
	t.d.Close(ctx)
	t.inner.Shutdown(ctx)
}

// SenderOf adapts p to trace.Sender, sending each trace message
// asynchronously. consumer.WithTrace uses it for its trace producer. The
// Sender is a trace.BodyReleaser: a body p compresses is read only while
// SendAsync encodes it, and one it would send as is (under the
// compression threshold) is copied first, so the dispatcher may reuse
// the body's memory as soon as SendTrace returns.
func SenderOf(p *Producer) trace.Sender { return traceSender{p} }

type traceSender struct{ p *Producer }

func (s traceSender) SendTrace(ctx context.Context, msg *message.Message, done func(error)) {
	if t := s.p.cfg.compressThreshold; t <= 0 || len(msg.Body) < t {
		msg.Body = bytes.Clone(msg.Body)
	}
	if err := s.p.SendAsync(ctx, func(_ *SendResult, err error) { done(err) }, msg); err != nil {
		done(err)
	}
}

func (traceSender) ReleasesBody() {}

// TraceStats returns the trace dispatcher's counters (records queued,
// dropped, sent, failed), all zero when tracing is off.
func (p *Producer) TraceStats() trace.Stats {
	if p.tracer == nil {
		return trace.Stats{}
	}
	return p.tracer.d.Stats()
}

// afterSend records a Pub per message the broker answered for, as
// upstream: not for failed sends (no result), not for trace messages, not
// when the broker switched trace off.
func (t *tracer) afterSend(info *SendInfo, res *SendResult, err error) {
	if res == nil || !res.TraceOn || info.Topic == t.cfg.TopicFor(res.RegionID) {
		return
	}
	now := info.end // the answer's arrival: the send path read the clock already
	if now.IsZero() {
		now = time.Now()
	}
	cost := now.Sub(info.start).Milliseconds()
	group, topic := info.Group, info.Topic
	if t.ns {
		group, topic = trace.StripNamespace(group), trace.StripNamespace(topic)
	}
	msgType := trace.NormalMsg
	switch {
	case info.Mode == ModeTransaction:
		msgType = trace.TransMsgHalf
	case len(info.Messages) == 1 && info.Messages[0].DelayLevel > 0:
		msgType = trace.DelayMsg
	case info.Mode == ModeOrderly:
		msgType = trace.OrderMsg
	}
	host := t.storeHost(res)
	ids, offs := []string{res.MsgID}, []string{res.OffsetMsgID}
	if len(info.Messages) > 1 {
		ids, offs = strings.Split(res.MsgID, ","), strings.Split(res.OffsetMsgID, ",")
	}
	for i, m := range info.Messages {
		r := trace.Record{
			Type:       trace.Pub,
			Timestamp:  now.UnixMilli(),
			RegionID:   res.RegionID,
			Group:      group,
			Topic:      topic,
			Tags:       trace.Sanitize(m.Tags),
			Keys:       joinKeys(m.Keys),
			StoreHost:  host,
			ClientHost: t.host,
			BodyLength: len(m.Body),
			CostTime:   cost,
			MsgType:    msgType,
			Success:    err == nil && res.Status == SendOK,
		}
		if i < len(ids) {
			r.MsgID = ids[i]
		}
		if i < len(offs) {
			r.OffsetMsgID = offs[i]
		}
		t.d.Append(r)
	}
}

// joinKeys is the KEYS value of keys, without separator bytes.
func joinKeys(keys []string) string {
	switch len(keys) {
	case 0:
		return ""
	case 1:
		return trace.Sanitize(keys[0])
	}
	return trace.Sanitize(strings.Join(keys, " "))
}

// storeHost is the broker's address as the offset message id records it.
// The address is the id's first 16 hex digits (IPv4) and brokers are few,
// so the last one decoded is kept and reused while the prefix matches.
func (t *tracer) storeHost(res *SendResult) string {
	id := res.OffsetMsgID
	if i := strings.IndexByte(id, ','); i >= 0 {
		id = id[:i]
	}
	if c := t.lastHost.Load(); c != nil && len(id) == 32 && len(c.prefix) == 16 && id[:16] == c.prefix {
		return c.host
	}
	ap, _, err := message.ParseOffsetMsgID(id)
	if err != nil {
		return ""
	}
	host := ap.String()
	if len(id) == 32 {
		t.lastHost.Store(&hostCache{prefix: id[:16], host: host})
	}
	return host
}

type hostCache struct{ prefix, host string }

// endTransaction records an EndTransaction.
func (t *tracer) endTransaction(region, group, topic, msgID, txID string, tags string, keys []string, state LocalTransactionState, storeHost string, fromCheck bool) {
	if region == "" {
		region = "DefaultRegion"
	}
	if t.ns {
		group, topic = trace.StripNamespace(group), trace.StripNamespace(topic)
	}
	txState := trace.TxUnknown
	switch state {
	case CommitMessage:
		txState = trace.TxCommit
	case RollbackMessage:
		txState = trace.TxRollback
	}
	t.d.Append(trace.Record{
		Type:                 trace.EndTransaction,
		Timestamp:            time.Now().UnixMilli(),
		RegionID:             region,
		Group:                group,
		Topic:                topic,
		MsgID:                msgID,
		Tags:                 trace.Sanitize(tags),
		Keys:                 joinKeys(keys),
		StoreHost:            storeHost,
		MsgType:              trace.TransMsgCommit,
		TransactionID:        txID,
		TransactionState:     txState,
		FromTransactionCheck: fromCheck,
	})
}
