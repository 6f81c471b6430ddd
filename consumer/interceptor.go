package consumer

import (
	"context"
	"time"

	"github.com/rocketgo/rocketgo/message"
)

// ConsumeInfo describes one listener call to interceptors.
type ConsumeInfo struct {
	Group    string // consumer group
	Queue    Queue
	Orderly  bool
	Messages []*message.MessageExt

	// at is when the listener call began, read once before the
	// interceptors run: the consume loop times the listener from it and
	// the trace interceptor stamps SubBefore with it (SubAfter is at plus
	// the listener's Elapsed), so tracing adds no clock read per call.
	at time.Time

	// The trace interceptor's state from BeforeConsume to AfterConsume:
	// the request id pairing its records and what it read from each
	// message, so AfterConsume scans no property.
	traceRequest string
	traceMsgs    []traceMsg
	traceOne     [1]traceMsg // traceMsgs' storage for the usual one-message call
}

// ConsumeOutcome is how a listener call ended.
type ConsumeOutcome struct {
	// Success: the listener returned ConsumeSuccess or OrderlySuccess.
	Success bool
	// Acked is how many of the messages were acknowledged (a concurrent
	// listener may acknowledge a prefix through AckIndex).
	Acked int
	// Panicked: the listener panicked (counted as a failure).
	Panicked bool
	// TimedOut: the listener outlived the consume timeout.
	TimedOut bool
	// Elapsed is the listener's running time.
	Elapsed time.Duration
}

// Interceptor observes listener calls of a push consumer, for tracing and
// metrics. BeforeConsume runs on the consuming goroutine just before the
// listener and may return a derived context, which the listener receives
// (a span's); AfterConsume runs once the listener returned, with the same
// context. Interceptors run in the order given for BeforeConsume and in
// reverse for AfterConsume; they must be safe for concurrent use. A
// consumer without interceptors pays nothing for the feature.
type Interceptor interface {
	BeforeConsume(ctx context.Context, info *ConsumeInfo) context.Context
	AfterConsume(ctx context.Context, info *ConsumeInfo, out ConsumeOutcome)
}

// InterceptorFuncs adapts two functions to Interceptor; either may be nil.
type InterceptorFuncs struct {
	Before func(ctx context.Context, info *ConsumeInfo) context.Context
	After  func(ctx context.Context, info *ConsumeInfo, out ConsumeOutcome)
}

// BeforeConsume calls Before.
func (f InterceptorFuncs) BeforeConsume(ctx context.Context, info *ConsumeInfo) context.Context {
	if f.Before != nil {
		if c := f.Before(ctx, info); c != nil {
			return c
		}
	}
	return ctx
}

// AfterConsume calls After.
func (f InterceptorFuncs) AfterConsume(ctx context.Context, info *ConsumeInfo, out ConsumeOutcome) {
	if f.After != nil {
		f.After(ctx, info, out)
	}
}

// WithInterceptors adds listener interceptors (push consumers only),
// run in order around every listener call. Default: none.
func WithInterceptors(is ...Interceptor) Option {
	return func(c *config) { c.interceptors = append(c.interceptors, is...) }
}

// beforeConsume runs the interceptors' BeforeConsume and returns when the
// listener call begins; info is nil when there are no interceptors.
func (c *PushConsumer) beforeConsume(q Queue, msgs []*message.MessageExt) (context.Context, *ConsumeInfo, time.Time) {
	ctx := c.consumeCtx
	if len(c.cfg.interceptors) == 0 {
		return ctx, nil, time.Now()
	}
	var info *ConsumeInfo
	if c.reuseInfo {
		// A traced listener call allocated one ConsumeInfo, the largest
		// allocation tracing adds per message consumed.
		info, _ = c.infos.Get().(*ConsumeInfo)
	}
	if info == nil {
		info = new(ConsumeInfo)
	}
	*info = ConsumeInfo{Group: c.cfg.group, Queue: q, Orderly: c.orderly, Messages: msgs, at: time.Now()}
	for _, in := range c.cfg.interceptors {
		ctx = in.BeforeConsume(ctx, info)
	}
	return ctx, info, info.at
}

func (c *PushConsumer) afterConsume(ctx context.Context, info *ConsumeInfo, out ConsumeOutcome) {
	if info == nil {
		return
	}
	for i := len(c.cfg.interceptors) - 1; i >= 0; i-- {
		c.cfg.interceptors[i].AfterConsume(ctx, info, out)
	}
	if c.reuseInfo {
		*info = ConsumeInfo{} // drops the messages and the trace state
		c.infos.Put(info)
	}
}
