package rgotel_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/rocketgo/rocketgo/client"
	"github.com/rocketgo/rocketgo/consumer"
	"github.com/rocketgo/rocketgo/message"
	"github.com/rocketgo/rocketgo/plugin/rgotel"
	"github.com/rocketgo/rocketgo/producer"
	"github.com/rocketgo/rocketgo/remoting"
	"github.com/rocketgo/rocketgo/server/embedded/embeddedtest"
)

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func attrs(s sdktrace.ReadOnlySpan) map[attribute.Key]attribute.Value {
	out := map[attribute.Key]attribute.Value{}
	for _, kv := range s.Attributes() {
		out[kv.Key] = kv.Value
	}
	return out
}

// TestSpansLinkedThroughBroker: a message sent by an instrumented producer
// and processed by an instrumented consumer yields a send span and a
// process span in one trace, the process span the send span's child and
// linked to it, both carrying the messaging semantic-convention
// attributes; the message carries "traceparent"; the 5.x metrics are
// recorded.
func TestSpansLinkedThroughBroker(t *testing.T) {
	srv := embeddedtest.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	defer tp.Shutdown(context.Background())
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	defer mp.Shutdown(context.Background())
	k := rgotel.New(rgotel.WithTracerProvider(tp), rgotel.WithMeterProvider(mp), rgotel.WithClientID("test-client"))

	cl, err := client.New(client.WithNameServers(srv.NamesrvAddr()), client.WithHooks(k))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	resp, err := cl.Request(ctx, srv.BrokerAddr(), remoting.NewRequest(remoting.UpdateAndCreateTopic, &remoting.CreateTopicRequestHeader{
		Topic: "OtelT", DefaultTopic: "TBW102", ReadQueueNums: 1, WriteQueueNums: 1, Perm: 6, TopicFilterType: "SINGLE_TAG",
	}, nil))
	if err != nil || resp.Code != remoting.Success {
		t.Fatalf("create topic: %v %v", err, resp)
	}

	p, err := producer.New(producer.WithClient(cl), producer.WithGroup("otel-pg"), producer.WithInterceptors(k))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Shutdown(ctx)
	waitFor(t, "a route for OtelT", func() bool {
		_, err := p.SendSync(ctx, message.New("OtelT", []byte("warm-up")))
		return err == nil
	})
	rec.Reset()
	msg := message.New("OtelT", []byte("hello")).WithTags("tagA").WithKeys("k1")
	res, err := p.SendSync(ctx, msg)
	if err != nil {
		t.Fatal(err)
	}

	var (
		mu          sync.Mutex
		traceparent string
		listenerSC  trace.SpanContext
	)
	c, err := consumer.NewPush(consumer.WithClient(cl), consumer.WithGroup("otel-cg"),
		consumer.WithConsumeFrom(consumer.ConsumeFromFirstOffset), consumer.WithInterceptors(k))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Subscribe("OtelT", "*", consumer.ConcurrentListener(func(lctx context.Context, _ *consumer.ConcurrentContext, msgs []*message.MessageExt) consumer.ConsumeResult {
		mu.Lock()
		defer mu.Unlock()
		for _, m := range msgs {
			if m.MsgID == res.MsgID {
				traceparent, _ = m.Property("traceparent")
				listenerSC = trace.SpanContextFromContext(lctx)
			}
		}
		return consumer.ConsumeSuccess
	})); err != nil {
		t.Fatal(err)
	}
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer c.Shutdown(ctx)

	var send, process sdktrace.ReadOnlySpan
	waitFor(t, "send and process spans", func() bool {
		for _, s := range rec.Ended() {
			a := attrs(s)
			if a["messaging.message.id"].AsString() != res.MsgID {
				continue
			}
			switch s.SpanKind() {
			case trace.SpanKindProducer:
				send = s
			case trace.SpanKindConsumer:
				process = s
			}
		}
		return send != nil && process != nil
	})

	if send.Name() != "send OtelT" || process.Name() != "process OtelT" {
		t.Fatalf("span names %q, %q", send.Name(), process.Name())
	}
	if process.SpanContext().TraceID() != send.SpanContext().TraceID() {
		t.Fatalf("process trace %s, send trace %s", process.SpanContext().TraceID(), send.SpanContext().TraceID())
	}
	if process.Parent().SpanID() != send.SpanContext().SpanID() {
		t.Fatalf("process parent %s, want the send span %s", process.Parent().SpanID(), send.SpanContext().SpanID())
	}
	if l := process.Links(); len(l) != 1 || l[0].SpanContext.SpanID() != send.SpanContext().SpanID() {
		t.Fatalf("process links %+v", l)
	}
	mu.Lock()
	if want := "00-" + send.SpanContext().TraceID().String() + "-" + send.SpanContext().SpanID().String() + "-01"; traceparent != want {
		t.Errorf("traceparent %q, want %q", traceparent, want)
	}
	if listenerSC.SpanID() != process.SpanContext().SpanID() {
		t.Errorf("listener context span %s, want the process span", listenerSC.SpanID())
	}
	mu.Unlock()

	for _, c := range []struct {
		span sdktrace.ReadOnlySpan
		want map[string]string
	}{
		{send, map[string]string{"messaging.system": "rocketmq", "messaging.operation.type": "send", "messaging.operation.name": "send",
			"messaging.destination.name": "OtelT", "messaging.rocketmq.message.tag": "tagA", "messaging.rocketmq.message.type": "normal",
			"messaging.rocketmq.client_group": "otel-pg", "messaging.client.id": "test-client"}},
		{process, map[string]string{"messaging.system": "rocketmq", "messaging.operation.type": "process", "messaging.operation.name": "process",
			"messaging.destination.name": "OtelT", "messaging.consumer.group.name": "otel-cg", "messaging.rocketmq.message.tag": "tagA",
			"messaging.destination.partition.id": "0"}},
	} {
		a := attrs(c.span)
		for k, v := range c.want {
			if got := a[attribute.Key(k)].Emit(); got != v {
				t.Errorf("%s: %s = %q, want %q", c.span.Name(), k, got, v)
			}
		}
		if got := a["messaging.rocketmq.message.keys"].AsStringSlice(); len(got) != 1 || got[0] != "k1" {
			t.Errorf("%s: keys %v", c.span.Name(), got)
		}
	}

	// A receive span for the pull that brought the message.
	receive := false
	for _, s := range rec.Ended() {
		if s.Name() == "receive OtelT" && attrs(s)["messaging.operation.type"].AsString() == "receive" {
			receive = true
		}
	}
	if !receive {
		t.Error("no receive span")
	}

	var rm metricdata.ResourceMetrics
	if err := reader.Collect(ctx, &rm); err != nil {
		t.Fatal(err)
	}
	seen := map[string]uint64{}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if h, ok := m.Data.(metricdata.Histogram[float64]); ok {
				for _, dp := range h.DataPoints {
					seen[m.Name] += dp.Count
				}
			}
		}
	}
	for _, name := range []string{rgotel.MetricSendCostTime, rgotel.MetricProcessTime, rgotel.MetricDeliveryLatency} {
		if seen[name] == 0 {
			t.Errorf("metric %s not recorded (%v)", name, seen)
		}
	}
}
