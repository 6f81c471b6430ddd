package producer

import (
	"context"
	"time"

	"github.com/rocketgo/rocketgo/message"
)

// SendInfo describes a send to interceptors.
type SendInfo struct {
	Mode     SendMode
	Group    string // producer group on the wire
	Topic    string // topic on the wire
	Messages []*message.Message

	// For the tracer, which reads no clock of its own: when the
	// send began (after encoding) and when the last attempt's answer
	// arrived (zero if no attempt got that far).
	start, end time.Time
	ctx        context.Context // what BeforeSend returned, for AfterSend
}

// Interceptor observes sends, for tracing and metrics. BeforeSend runs on
// the caller's goroutine before the messages are encoded and the route
// looked up; it may return a derived context (for a span) and may set
// properties on the messages (a trace context such as "traceparent"),
// which are sent with them. AfterSend runs once with the final outcome —
// a validation error included; for async sends just before the callback,
// for oneway sends once the request is queued (res is nil). Interceptors run in the order given
// for BeforeSend and in reverse for AfterSend. A producer without
// interceptors pays nothing for the feature.
type Interceptor interface {
	BeforeSend(ctx context.Context, info *SendInfo) context.Context
	AfterSend(ctx context.Context, info *SendInfo, res *SendResult, err error)
}

// InterceptorFuncs adapts two functions to Interceptor; either may be nil.
type InterceptorFuncs struct {
	Before func(ctx context.Context, info *SendInfo) context.Context
	After  func(ctx context.Context, info *SendInfo, res *SendResult, err error)
}

// BeforeSend calls Before.
func (f InterceptorFuncs) BeforeSend(ctx context.Context, info *SendInfo) context.Context {
	if f.Before != nil {
		if c := f.Before(ctx, info); c != nil {
			return c
		}
	}
	return ctx
}

// AfterSend calls After.
func (f InterceptorFuncs) AfterSend(ctx context.Context, info *SendInfo, res *SendResult, err error) {
	if f.After != nil {
		f.After(ctx, info, res, err)
	}
}
