// Package rgotel instruments rocketgo producers and consumers with
// OpenTelemetry, following the messaging semantic conventions: a "send"
// span per send call, a "receive" span per pull that brought messages and
// a "process" span per listener call, and the RocketMQ 5.x client metrics.
//
// The send span's context travels in the message properties as W3C trace
// context ("traceparent", "tracestate"), as the RocketMQ 5.x clients write
// it, so a process span continues the producer's trace: for a single
// message its parent is the producer's span, and it links to the context
// of every message it processes.
//
//	k := rgotel.New(rgotel.WithTracerProvider(tp), rgotel.WithMeterProvider(mp))
//	cl, _ := client.New(client.WithNameServers(ns), client.WithHooks(k))
//	p, _ := producer.New(producer.WithClient(cl), producer.WithInterceptors(k))
//	c, _ := consumer.NewPush(consumer.WithClient(cl), consumer.WithInterceptors(k))
//
// It is a module of its own so that the SDK never requires OpenTelemetry.
package rgotel

import (
	"context"
	"strconv"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/propagation"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/rocketgo/rocketgo/consumer"
	"github.com/rocketgo/rocketgo/message"
	"github.com/rocketgo/rocketgo/producer"
)

// ScopeName is the instrumentation scope of rgotel's tracer and meter.
const ScopeName = "github.com/rocketgo/rocketgo/plugin/rgotel"

// Metric names, as the RocketMQ 5.x clients export them (milliseconds).
const (
	MetricSendCostTime    = "rocketmq_send_cost_time"
	MetricDeliveryLatency = "rocketmq_delivery_latency"
	MetricProcessTime     = "rocketmq_process_time"
)

// Metric attribute keys, as the 5.x clients name them.
const (
	attrTopic         = attribute.Key("topic")
	attrClientID      = attribute.Key("client_id")
	attrConsumerGroup = attribute.Key("consumer_group")
	attrStatus        = attribute.Key("invocation_status")
)

// attrClientGroup is the producer or consumer group as the RocketMQ 5.x
// clients tag their spans (dropped from recent semantic conventions,
// which have only messaging.consumer.group.name).
const attrClientGroup = attribute.Key("messaging.rocketmq.client_group")

// Instrumentation is a producer interceptor, a consumer interceptor and a
// client hook (for receive spans). It is safe for concurrent use.
type Instrumentation struct {
	tracer   trace.Tracer
	prop     propagation.TextMapPropagator
	clientID string

	sendCost metric.Float64Histogram
	delivery metric.Float64Histogram
	process  metric.Float64Histogram
}

// Opt configures New.
type Opt func(*options)

type options struct {
	tp       trace.TracerProvider
	mp       metric.MeterProvider
	prop     propagation.TextMapPropagator
	clientID string
}

// WithTracerProvider sets the tracer provider. Default: otel's global one.
func WithTracerProvider(tp trace.TracerProvider) Opt { return func(o *options) { o.tp = tp } }

// WithMeterProvider sets the meter provider. Default: otel's global one.
func WithMeterProvider(mp metric.MeterProvider) Opt { return func(o *options) { o.mp = mp } }

// WithPropagator sets how span context is written to and read from
// message properties. Default: W3C trace context (traceparent,
// tracestate), whatever the global propagator is, since that is what
// RocketMQ 5.x clients exchange.
func WithPropagator(p propagation.TextMapPropagator) Opt { return func(o *options) { o.prop = p } }

// WithClientID sets messaging.client.id and the client_id metric
// attribute, typically client.Client.ID(). Default: none.
func WithClientID(id string) Opt { return func(o *options) { o.clientID = id } }

// New returns the instrumentation. Instruments that cannot be created
// (a misbehaving meter provider) are left out; tracing still works.
func New(opts ...Opt) *Instrumentation {
	o := options{tp: otel.GetTracerProvider(), mp: otel.GetMeterProvider(), prop: propagation.TraceContext{}}
	for _, f := range opts {
		f(&o)
	}
	k := &Instrumentation{
		tracer:   o.tp.Tracer(ScopeName, trace.WithSchemaURL(semconv.SchemaURL)),
		prop:     o.prop,
		clientID: o.clientID,
	}
	m := o.mp.Meter(ScopeName, metric.WithSchemaURL(semconv.SchemaURL))
	ms := metric.WithExplicitBucketBoundaries(1, 5, 10, 20, 50, 200, 500, 1000)
	k.sendCost, _ = m.Float64Histogram(MetricSendCostTime, metric.WithUnit("ms"), ms,
		metric.WithDescription("Time from a send call to the broker's answer"))
	k.delivery, _ = m.Float64Histogram(MetricDeliveryLatency, metric.WithUnit("ms"), ms,
		metric.WithDescription("Time from a message's storing to its processing starting"))
	k.process, _ = m.Float64Histogram(MetricProcessTime, metric.WithUnit("ms"), ms,
		metric.WithDescription("Time a listener spent on a batch of messages"))
	return k
}

// msgCarrier reads and writes span context in a message's properties.
type msgCarrier struct{ m *message.Message }

func (c msgCarrier) Get(key string) string { v, _ := c.m.Property(key); return v }
func (c msgCarrier) Set(key, val string)   { c.m.SetProperty(key, val) }
func (c msgCarrier) Keys() []string {
	var ks []string
	c.m.RangeProperties(func(k, _ string) bool { ks = append(ks, k); return true })
	return ks
}

type extCarrier struct{ m *message.MessageExt }

func (c extCarrier) Get(key string) string { v, _ := c.m.Property(key); return v }
func (c extCarrier) Set(key, val string)   { c.m.SetProperty(key, val) }
func (c extCarrier) Keys() []string {
	ks := make([]string, 0, 8)
	for k := range c.m.Properties() {
		ks = append(ks, k)
	}
	return ks
}

func (k *Instrumentation) common(op string, topic string) []attribute.KeyValue {
	attrs := []attribute.KeyValue{
		semconv.MessagingSystemRocketMQ,
		semconv.MessagingOperationName(op),
		semconv.MessagingDestinationName(topic),
	}
	if k.clientID != "" {
		attrs = append(attrs, semconv.MessagingClientID(k.clientID))
	}
	return attrs
}

// BeforeSend starts the send span and writes its context into every
// message of the send.
func (k *Instrumentation) BeforeSend(ctx context.Context, info *producer.SendInfo) context.Context {
	attrs := append(k.common("send", info.Topic), semconv.MessagingOperationTypeSend,
		attrClientGroup.String(info.Group))
	switch {
	case info.Mode == producer.ModeTransaction:
		attrs = append(attrs, semconv.MessagingRocketMQMessageTypeTransaction)
	case info.Mode == producer.ModeOrderly:
		attrs = append(attrs, semconv.MessagingRocketMQMessageTypeFifo)
	case len(info.Messages) == 1 && info.Messages[0] != nil && info.Messages[0].DelayLevel > 0:
		attrs = append(attrs, semconv.MessagingRocketMQMessageTypeDelay,
			semconv.MessagingRocketMQMessageDelayTimeLevel(int(info.Messages[0].DelayLevel)))
	default:
		attrs = append(attrs, semconv.MessagingRocketMQMessageTypeNormal)
	}
	if len(info.Messages) > 1 {
		attrs = append(attrs, semconv.MessagingBatchMessageCount(len(info.Messages)))
	} else if m := info.Messages[0]; m != nil {
		if m.Tags != "" {
			attrs = append(attrs, semconv.MessagingRocketMQMessageTag(m.Tags))
		}
		if len(m.Keys) > 0 {
			attrs = append(attrs, semconv.MessagingRocketMQMessageKeys(m.Keys...))
		}
		attrs = append(attrs, semconv.MessagingMessageBodySize(len(m.Body)))
	}
	ctx, _ = k.tracer.Start(ctx, "send "+info.Topic, trace.WithSpanKind(trace.SpanKindProducer), trace.WithAttributes(attrs...))
	for _, m := range info.Messages {
		if m != nil {
			k.prop.Inject(ctx, msgCarrier{m})
		}
	}
	return context.WithValue(ctx, sendStartKey{}, time.Now())
}

type sendStartKey struct{}

// AfterSend ends the send span with the outcome and records the send
// cost.
func (k *Instrumentation) AfterSend(ctx context.Context, info *producer.SendInfo, res *producer.SendResult, err error) {
	span := trace.SpanFromContext(ctx)
	if res != nil {
		if len(info.Messages) == 1 {
			span.SetAttributes(semconv.MessagingMessageID(res.MsgID))
		}
		span.SetAttributes(semconv.ServerAddress(res.Queue.BrokerName),
			semconv.MessagingDestinationPartitionID(itoa(res.Queue.QueueID)))
	}
	status := "success"
	if err != nil {
		status = "failure"
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
	}
	span.End()
	if start, ok := ctx.Value(sendStartKey{}).(time.Time); ok && k.sendCost != nil {
		k.sendCost.Record(context.Background(), ms(time.Since(start)), metric.WithAttributes(
			attrTopic.String(info.Topic), attrClientID.String(k.clientID), attrStatus.String(status)))
	}
}

// BeforeConsume starts the process span: a child of the producer's span
// when it processes one message that carries one, and linked to the
// context of every message it processes.
func (k *Instrumentation) BeforeConsume(ctx context.Context, info *consumer.ConsumeInfo) context.Context {
	var (
		links  []trace.Link
		parent trace.SpanContext
	)
	now := time.Now()
	for _, m := range info.Messages {
		if m == nil {
			continue
		}
		sc := trace.SpanContextFromContext(k.prop.Extract(context.Background(), extCarrier{m}))
		if sc.IsValid() {
			links = append(links, trace.Link{SpanContext: sc})
			parent = sc
		}
		if k.delivery != nil && m.StoreTimestamp > 0 {
			k.delivery.Record(ctx, ms(now.Sub(time.UnixMilli(m.StoreTimestamp))), metric.WithAttributes(
				attrTopic.String(m.Topic), attrConsumerGroup.String(info.Group), attrClientID.String(k.clientID)))
		}
	}
	topic := info.Queue.Topic
	if len(info.Messages) > 0 && info.Messages[0] != nil {
		topic = info.Messages[0].Topic // a retry queue's message names its own topic
	}
	attrs := append(k.common("process", topic), semconv.MessagingOperationTypeProcess,
		semconv.MessagingConsumerGroupName(info.Group),
		attrClientGroup.String(info.Group),
		semconv.MessagingDestinationPartitionID(itoa(info.Queue.QueueID)),
		semconv.ServerAddress(info.Queue.BrokerName))
	if len(info.Messages) == 1 && info.Messages[0] != nil {
		m := info.Messages[0]
		attrs = append(attrs, semconv.MessagingMessageID(m.MsgID), semconv.MessagingMessageBodySize(len(m.Body)))
		if tag := m.Tags(); tag != "" {
			attrs = append(attrs, semconv.MessagingRocketMQMessageTag(tag))
		}
		if keys := m.Keys(); len(keys) > 0 {
			attrs = append(attrs, semconv.MessagingRocketMQMessageKeys(keys...))
		}
	} else {
		attrs = append(attrs, semconv.MessagingBatchMessageCount(len(info.Messages)))
	}
	if len(links) == 1 {
		ctx = trace.ContextWithRemoteSpanContext(ctx, parent)
	}
	ctx, _ = k.tracer.Start(ctx, "process "+topic, trace.WithSpanKind(trace.SpanKindConsumer),
		trace.WithLinks(links...), trace.WithAttributes(attrs...))
	return ctx
}

// AfterConsume ends the process span and records the process time.
func (k *Instrumentation) AfterConsume(ctx context.Context, info *consumer.ConsumeInfo, out consumer.ConsumeOutcome) {
	span := trace.SpanFromContext(ctx)
	status := "success"
	if !out.Success {
		status = "failure"
		reason := "listener asked to retry later"
		switch {
		case out.Panicked:
			reason = "listener panicked"
		case out.TimedOut:
			reason = "listener timed out"
		}
		span.SetStatus(codes.Error, reason)
	}
	span.End()
	if k.process != nil {
		topic := info.Queue.Topic
		if len(info.Messages) > 0 && info.Messages[0] != nil {
			topic = info.Messages[0].Topic
		}
		k.process.Record(context.Background(), ms(out.Elapsed), metric.WithAttributes(
			attrTopic.String(topic), attrConsumerGroup.String(info.Group), attrClientID.String(k.clientID), attrStatus.String(status)))
	}
}

// OnPull records a receive span for every pull that brought messages
// (client.PullHook); empty long-poll answers are not spans.
func (k *Instrumentation) OnPull(topic, brokerName string, queueID int32, messages int, latency time.Duration, err error) {
	if messages == 0 && err == nil {
		return
	}
	end := time.Now()
	attrs := append(k.common("receive", topic), semconv.MessagingOperationTypeReceive,
		semconv.MessagingBatchMessageCount(messages), semconv.ServerAddress(brokerName),
		semconv.MessagingDestinationPartitionID(itoa(int(queueID))))
	_, span := k.tracer.Start(context.Background(), "receive "+topic, trace.WithSpanKind(trace.SpanKindConsumer),
		trace.WithTimestamp(end.Add(-latency)), trace.WithAttributes(attrs...))
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
	}
	span.End(trace.WithTimestamp(end))
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func itoa(n int) string { return strconv.Itoa(n) }
