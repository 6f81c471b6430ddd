package kprom_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/rocketgo/rocketgo/client"
	"github.com/rocketgo/rocketgo/consumer"
	"github.com/rocketgo/rocketgo/loadtest"
	"github.com/rocketgo/rocketgo/message"
	"github.com/rocketgo/rocketgo/plugin/kprom"
	"github.com/rocketgo/rocketgo/producer"
	"github.com/rocketgo/rocketgo/server/embedded/embeddedtest"
)

var (
	_ client.ReceiveHook = (*kprom.Metrics)(nil)
	_ client.ConsumeHook = (*kprom.Metrics)(nil)
)

// sampleCount sums the sample counts of histogram name's series carrying
// every label in want.
func sampleCount(t *testing.T, g prometheus.Gatherer, name string, want map[string]string) uint64 {
	t.Helper()
	mfs, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var n uint64
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	metrics:
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, lp := range m.GetLabel() {
				labels[lp.GetName()] = lp.GetValue()
			}
			for k, v := range want {
				if labels[k] != v {
					continue metrics
				}
			}
			n += m.GetHistogram().GetSampleCount()
		}
	}
	return n
}

// counts is what one consumer's series should reach.
type counts struct {
	delivery, await, ok, failed uint64
}

func (c counts) read(t *testing.T, g prometheus.Gatherer, topic, group string) counts {
	tg := map[string]string{"topic": topic, "consumer_group": group, "client_id": "kprom-test"}
	st := func(s string) map[string]string {
		m := map[string]string{"invocation_status": s}
		for k, v := range tg {
			m[k] = v
		}
		return m
	}
	return counts{
		delivery: sampleCount(t, g, "rocketmq_delivery_latency", tg),
		await:    sampleCount(t, g, "rocketmq_await_time", tg),
		ok:       sampleCount(t, g, "rocketmq_process_time", st("success")),
		failed:   sampleCount(t, g, "rocketmq_process_time", st("failure")),
	}
}

// waitCounts polls the registry until the series of (topic, group) reach
// want, failing at the deadline with what they show.
func waitCounts(t *testing.T, ctx context.Context, g prometheus.Gatherer, topic, group string, want counts) {
	t.Helper()
	var got counts
	for {
		got = got.read(t, g, topic, group)
		if got == want {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%s/%s: series show %+v, want %+v", group, topic, got, want)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// send stores bodies in topic (created by the first send) and waits until
// the name server routes the topic, which a consumer's Start needs.
func send(t *testing.T, ctx context.Context, namesrv string, p *producer.Producer, topic string, bodies ...string) {
	t.Helper()
	for _, b := range bodies {
		if _, err := p.SendSync(ctx, message.New(topic, []byte(b))); err != nil {
			t.Fatal(err)
		}
	}
	if err := loadtest.WaitRoute(ctx, namesrv, topic); err != nil {
		t.Fatal(err)
	}
}

// TestConsumeMetrics: consumers on a client carrying the hook fill
// rocketmq_delivery_latency, rocketmq_await_time and rocketmq_process_time
// of a registry the test passes in, one sample per message, with the
// listener's verdict as invocation_status; the names pass promlint and
// nothing reaches the default registerer.
func TestConsumeMetrics(t *testing.T) {
	srv := embeddedtest.Start(t)
	m := kprom.New(kprom.WithClientID("kprom-test"))
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(m)
	cl, err := client.New(client.WithNameServers(srv.NamesrvAddr()), client.WithHooks(m))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	p, err := producer.New(producer.WithClient(cl), producer.WithGroup("KpromConsumePG"))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Shutdown(context.Background())

	start := func(t *testing.T, c *consumer.PushConsumer) {
		t.Helper()
		if err := c.Start(ctx); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if err := c.Shutdown(context.Background()); err != nil {
				t.Error(err)
			}
		})
	}

	t.Run("concurrent", func(t *testing.T) {
		const topic, group = "KpromPushT", "KpromPushCG"
		bodies := []string{"a", "b", "fail", "c", "d", "fail", "e", "f", "g", "h", "i", "fail"}
		c, err := consumer.NewPush(consumer.WithClient(cl), consumer.WithGroup(group),
			consumer.WithConsumeFrom(consumer.ConsumeFromFirstOffset))
		if err != nil {
			t.Fatal(err)
		}
		err = c.Subscribe(topic, "*", func(_ context.Context, cc *consumer.ConcurrentContext, msgs []*message.MessageExt) consumer.ConsumeResult {
			if string(msgs[0].Body) == "fail" {
				cc.DelayLevel = -1 // straight to the DLQ: no redelivery to count
				return consumer.ConsumeRetryLater
			}
			return consumer.ConsumeSuccess
		})
		if err != nil {
			t.Fatal(err)
		}
		send(t, ctx, srv.NamesrvAddr(), p, topic, bodies...)
		start(t, c)
		waitCounts(t, ctx, reg, topic, group, counts{delivery: 12, await: 12, ok: 9, failed: 3})
	})

	t.Run("orderly", func(t *testing.T) {
		const topic, group = "KpromOrderlyT", "KpromOrderlyCG"
		c, err := consumer.NewPush(consumer.WithClient(cl), consumer.WithGroup(group),
			consumer.WithConsumeFrom(consumer.ConsumeFromFirstOffset))
		if err != nil {
			t.Fatal(err)
		}
		var once sync.Once
		err = c.SubscribeOrderly(topic, "*", func(_ context.Context, oc *consumer.OrderlyContext, msgs []*message.MessageExt) consumer.OrderlyResult {
			res := consumer.OrderlySuccess
			once.Do(func() { // the first call fails once and is redelivered
				oc.Suspend = 10 * time.Millisecond
				res = consumer.OrderlySuspend
			})
			return res
		})
		if err != nil {
			t.Fatal(err)
		}
		send(t, ctx, srv.NamesrvAddr(), p, topic, "1", "2", "3", "4", "5")
		start(t, c)
		// The redelivered message waits again and is processed twice.
		waitCounts(t, ctx, reg, topic, group, counts{delivery: 5, await: 6, ok: 5, failed: 1})
	})

	t.Run("lite pull and simple", func(t *testing.T) {
		const topic = "KpromPullT"
		send(t, ctx, srv.NamesrvAddr(), p, topic, "x", "y", "z")
		lp, err := consumer.NewLitePull(consumer.WithClient(cl), consumer.WithGroup("KpromLiteCG"),
			consumer.WithConsumeFrom(consumer.ConsumeFromFirstOffset))
		if err != nil {
			t.Fatal(err)
		}
		if err := lp.Subscribe(topic, "*"); err != nil {
			t.Fatal(err)
		}
		if err := lp.Start(ctx); err != nil {
			t.Fatal(err)
		}
		defer lp.Shutdown(context.Background())
		for got := 0; got < 3; {
			msgs, err := lp.Poll(ctx)
			if err != nil {
				t.Fatal(err)
			}
			got += len(msgs)
		}
		// Lite pull has no listener: delivery only.
		waitCounts(t, ctx, reg, topic, "KpromLiteCG", counts{delivery: 3})

		sc, err := consumer.NewSimple(topic, "*", consumer.WithClient(cl), consumer.WithGroup("KpromSimpleCG"),
			consumer.WithConsumeFrom(consumer.ConsumeFromFirstOffset), consumer.WithAwaitDuration(200*time.Millisecond))
		if err != nil {
			t.Fatal(err)
		}
		defer sc.Close()
		for got := 0; got < 3; {
			msgs, err := sc.Receive(ctx, 32, time.Minute)
			if err != nil && !errors.Is(err, context.DeadlineExceeded) {
				t.Fatal(err)
			}
			if ctx.Err() != nil {
				t.Fatalf("received %d of 3", got)
			}
			got += len(msgs)
		}
		waitCounts(t, ctx, reg, topic, "KpromSimpleCG", counts{delivery: 3})
	})

	// Every consumer has stopped: the counts stayed exact (no late or
	// duplicate samples).
	for _, w := range []struct {
		topic, group string
		want         counts
	}{
		{"KpromPushT", "KpromPushCG", counts{12, 12, 9, 3}},
		{"KpromOrderlyT", "KpromOrderlyCG", counts{5, 6, 5, 1}},
		{"KpromPullT", "KpromLiteCG", counts{delivery: 3}},
		{"KpromPullT", "KpromSimpleCG", counts{delivery: 3}},
	} {
		if got := (counts{}).read(t, reg, w.topic, w.group); got != w.want {
			t.Errorf("%s/%s after shutdown: %+v, want %+v", w.group, w.topic, got, w.want)
		}
	}
	if probs, err := testutil.GatherAndLint(reg); err != nil || len(probs) > 0 {
		t.Fatalf("lint: %v %v", probs, err)
	}
	mfs, err := prometheus.DefaultGatherer.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if strings.HasPrefix(mf.GetName(), "rocketmq_") {
			t.Errorf("%s is registered on the default registerer", mf.GetName())
		}
	}
}
