//go:build !race

package embedded_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	rocketmq "github.com/apache/rocketmq-client-go/v2"
	"github.com/apache/rocketmq-client-go/v2/consumer"
	"github.com/apache/rocketmq-client-go/v2/primitive"
	"github.com/apache/rocketmq-client-go/v2/producer"
	"github.com/apache/rocketmq-client-go/v2/rlog"
)

// TestOfficialClientAcrossMasterKill: the official Go client v2.1.2,
// unmodified, produces and consumes across a controller-mode failover. It
// knows nothing of controllers; it recovers through its own 30 s route
// refresh, and nothing it saw acknowledged is lost.
func TestOfficialClientAcrossMasterKill(t *testing.T) {
	rlog.SetLogLevel("fatal")
	c := startCluster(t, fastFailover(t.TempDir(), 1, 3))
	waitInSync(t, c, 3, 30*time.Second)
	ns := primitive.NewPassthroughResolver([]string{c.NamesrvAddr()})
	const topic = "OfficialFailover"

	p, err := rocketmq.NewProducer(producer.WithNsResolver(ns), producer.WithGroupName("official-failover-pg"),
		producer.WithInstanceName("official-failover-pg"), producer.WithRetry(2))
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	defer p.Shutdown()
	if _, err := p.SendSync(context.Background(), primitive.NewMessage(topic, []byte("warm-up"))); err != nil {
		t.Fatal(err)
	}

	var mu sync.Mutex
	acked := map[string]time.Time{}
	got := map[string]int{}
	cons, err := rocketmq.NewPushConsumer(consumer.WithNsResolver(ns), consumer.WithGroupName("official-failover-cg"),
		consumer.WithInstance("official-failover-cg"), consumer.WithConsumeFromWhere(consumer.ConsumeFromFirstOffset))
	if err != nil {
		t.Fatal(err)
	}
	err = cons.Subscribe(topic, consumer.MessageSelector{Type: consumer.TAG, Expression: "*"},
		func(_ context.Context, msgs ...*primitive.MessageExt) (consumer.ConsumeResult, error) {
			mu.Lock()
			for _, m := range msgs {
				got[string(m.Body)]++
			}
			mu.Unlock()
			return consumer.ConsumeSuccess, nil
		})
	if err != nil {
		t.Fatal(err)
	}
	if err := cons.Start(); err != nil {
		t.Fatal(err)
	}
	defer cons.Shutdown()

	ctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 0; ctx.Err() == nil; n++ {
				id := fmt.Sprintf("o-%d-%06d", g, n)
				for ctx.Err() == nil {
					res, err := p.SendSync(ctx, primitive.NewMessage(topic, []byte(id)))
					if err == nil && res.Status == primitive.SendOK {
						mu.Lock()
						acked[id] = time.Now()
						mu.Unlock()
						break
					}
					time.Sleep(50 * time.Millisecond)
				}
			}
		}()
	}
	count := func() int {
		mu.Lock()
		defer mu.Unlock()
		return len(acked)
	}
	waitFor := func(what string, d time.Duration, ok func() bool) {
		t.Helper()
		deadline := time.Now().Add(d)
		for !ok() {
			if time.Now().After(deadline) {
				t.Fatalf("timed out after %v waiting for %s", d, what)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	waitFor("acknowledgements before the kill", 30*time.Second, func() bool { return count() >= 100 })
	old, _ := c.Master()
	killed := time.Now()
	c.KillBroker(old)
	// The official client has no notion of a failover: its route refresh
	// runs every 30 s.
	waitFor("an acknowledgement after the kill", 60*time.Second, func() bool {
		mu.Lock()
		defer mu.Unlock()
		for _, at := range acked {
			if at.After(killed) {
				return true
			}
		}
		return false
	})
	t.Logf("official producer recovered %v after the master kill", time.Since(killed))
	base := count()
	waitFor("more acknowledgements", 30*time.Second, func() bool { return count() >= base+100 })
	stop()
	wg.Wait()
	waitFor("every acknowledged message delivered", 90*time.Second, func() bool {
		mu.Lock()
		defer mu.Unlock()
		for id := range acked {
			if got[id] == 0 {
				return false
			}
		}
		return true
	})
	mu.Lock()
	dups := 0
	for _, n := range got {
		dups += n - 1
	}
	t.Logf("official client: %d acknowledged, all delivered, %d duplicate deliveries", len(acked), dups)
	mu.Unlock()
}
