//go:build !race

// Controller-mode failover seen through the official Go client v2.1.2.
// Race-free pass only (the official client races internally).

package embedded_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"testing"
	"time"

	rocketmq "github.com/apache/rocketmq-client-go/v2"
	"github.com/apache/rocketmq-client-go/v2/consumer"
	"github.com/apache/rocketmq-client-go/v2/primitive"
	"github.com/apache/rocketmq-client-go/v2/producer"
	"github.com/apache/rocketmq-client-go/v2/rlog"

	"github.com/rocketgo/rocketgo/server/broker"
	"github.com/rocketgo/rocketgo/server/controller"
	"github.com/rocketgo/rocketgo/server/embedded"
)

// TestOfficialClientFailoverMasterKill: the official Go client v2.1.2,
// unmodified, produces and consumes across a controller-mode failover. It
// knows nothing of controllers; it recovers through its own 30 s route
// refresh, and nothing it saw acknowledged is lost.
func TestOfficialClientFailoverMasterKill(t *testing.T) {
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
					sent := time.Now()
					res, err := p.SendSync(ctx, primitive.NewMessage(topic, []byte(id)))
					if err == nil && res.Status == primitive.SendOK {
						mu.Lock()
						acked[id] = sent
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
	waitFor("an acknowledgement of a send begun after the kill", 60*time.Second, func() bool {
		mu.Lock()
		defer mu.Unlock()
		for _, at := range acked {
			if at.After(killed) {
				return true
			}
		}
		return false
	})
	t.Logf("official producer recovered: first SEND_OK of a send begun after the kill, %v after it", time.Since(killed))
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

// fastFailover shortens every controller-mode period so a failover test
// takes seconds.
func fastFailover(dir string, controllers, replicas int) embedded.ClusterConfig {
	bc := embedded.SmallConfig(dir)
	bc.AllAckInSyncStateSet = true
	bc.BrokerHeartbeatInterval = 200 * time.Millisecond
	bc.ControllerHeartBeatTimeout = 2 * time.Second
	bc.SyncBrokerMetadataPeriod = time.Second
	bc.CheckSyncStateSetPeriod = 500 * time.Millisecond
	bc.HASendHeartbeatInterval = 500 * time.Millisecond
	bc.HAHousekeepingInterval = 3 * time.Second
	bc.HAMaxTimeSlaveNotCatchup = 3 * time.Second
	bc.SyncFlushTimeout = 3 * time.Second
	bc.RegisterNameServerPeriod = 2 * time.Second
	cc := controller.DefaultConfig()
	cc.ScanNotActiveBrokerInterval = 200 * time.Millisecond
	cc.ScanInactiveMasterInterval = 500 * time.Millisecond
	cc.BrokerHeartbeatTimeout = 2 * time.Second
	cc.RaftHeartbeatTimeout = 500 * time.Millisecond
	cc.RaftElectionTimeout = 500 * time.Millisecond
	cc.RaftLeaderLeaseTimeout = 250 * time.Millisecond
	cfg := embedded.ClusterConfig{Dir: dir, Replicas: replicas, Controllers: controllers, Broker: bc, Controller: cc}
	if os.Getenv("ROCKETGO_FAILOVER_LOG") != "" {
		cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
	return cfg
}

func startCluster(t *testing.T, cfg embedded.ClusterConfig) *embedded.Cluster {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := embedded.StartCluster(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if err := c.Shutdown(ctx); err != nil {
			t.Errorf("cluster shutdown: %v", err)
		}
	})
	return c
}

// waitInSync waits until the master's SyncStateSet holds n replicas.
func waitInSync(t *testing.T, c *embedded.Cluster, n int, d time.Duration) (int, *broker.Broker) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		if i, m := c.Master(); m != nil {
			if st := m.ReplicaStatus(); len(st.SyncStateSet.Members) == n {
				return i, m
			}
		}
		if time.Now().After(deadline) {
			i, m := c.Master()
			var st any
			if m != nil {
				st = m.ReplicaStatus()
			}
			t.Fatalf("no master with %d in-sync replicas after %v (master %d: %+v)", n, d, i, st)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
