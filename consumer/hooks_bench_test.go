package consumer

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/rocketgo/rocketgo/client"
	"github.com/rocketgo/rocketgo/message"
	"github.com/rocketgo/rocketgo/plugin/kprom"
)

// noopHook takes the receive and consume events and does nothing: the
// cost of the dispatch alone.
type noopHook struct{}

func (noopHook) OnReceive(string, string, time.Duration)                      {}
func (noopHook) OnConsume(string, string, time.Duration, time.Duration, bool) {}

// hookCases are the hook set-ups the benchmarks compare.
func hookCases() []struct {
	name string
	hook any
} {
	return []struct {
		name string
		hook any
	}{
		{"none", nil},
		{"noop", noopHook{}},
		{"kprom", func() any {
			m := kprom.New(kprom.WithClientID("bench"))
			prometheus.NewRegistry().MustRegister(m)
			return m
		}()},
	}
}

func benchCluster(hook any) *cluster {
	cl := &cluster{}
	if r, ok := hook.(client.ReceiveHook); ok {
		cl.receives = []client.ReceiveHook{r}
	}
	if h, ok := hook.(client.ConsumeHook); ok {
		cl.consumes = []client.ConsumeHook{h}
	}
	return cl
}

// BenchmarkHookDispatch is the hook work alone, per message, as the push
// path does it: the receive hooks once per pulled batch of 32, the consume
// hooks once per listener call of one message.
func BenchmarkHookDispatch(b *testing.B) {
	for _, tc := range hookCases() {
		b.Run(tc.name, func(b *testing.B) {
			cl := benchCluster(tc.hook)
			batch := make([]*message.MessageExt, 32)
			now := time.Now().UnixMilli()
			for i := range batch {
				batch[i] = &message.MessageExt{Topic: "BenchT", StoreTimestamp: now}
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i += len(batch) {
				if len(cl.receives) > 0 {
					cl.received("BenchCG", "", batch)
				}
				for j := range batch {
					if len(cl.consumes) > 0 {
						cl.consumed("BenchCG", batch[j:j+1], 1, time.Millisecond, 2*time.Millisecond)
					}
				}
			}
		})
	}
}

// BenchmarkConsumePathHooks runs messages through the push consumer's
// consume path without the network — receive hooks, process queue,
// concurrent listener call (batch size 1), consume hooks, settle, offset —
// with no hook, a no-op hook and kprom (a registered *kprom.Metrics).
// ns/op and allocs/op are per message.
func BenchmarkConsumePathHooks(b *testing.B) {
	for _, tc := range hookCases() {
		b.Run(tc.name, func(b *testing.B) {
			cl := benchCluster(tc.hook)
			c, err := NewPush(WithGroup("BenchCG"))
			if err != nil {
				b.Fatal(err)
			}
			c.cl = cl
			c.store = &remoteStore{cl: cl, group: "BenchCG"}
			c.consumeCtx = context.Background()
			q := Queue{Topic: "BenchT", BrokerName: "b", QueueID: 0}
			run := &queueRun{pq: newProcessQueue(q), sub: &subscription{topic: "BenchT",
				listener: ConcurrentListener(func(context.Context, *ConcurrentContext, []*message.MessageExt) ConsumeResult {
					return ConsumeSuccess
				})}}
			batch := make([]*message.MessageExt, 32)
			now := time.Now().UnixMilli()
			for i := range batch {
				batch[i] = &message.MessageExt{Topic: "BenchT", StoreTimestamp: now, Body: make([]byte, 128)}
			}
			var off int64
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i += len(batch) {
				for _, m := range batch {
					m.QueueOffset = off
					off++
				}
				if len(c.cl.receives) > 0 {
					c.cl.received(c.cfg.group, "", batch)
				}
				run.pq.put(batch)
				for j := range batch {
					c.consumeConcurrently(run, batch[j:j+1])
				}
			}
		})
	}
}
