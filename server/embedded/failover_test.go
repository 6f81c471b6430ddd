package embedded_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/rocketgo/rocketgo/message"
	"github.com/rocketgo/rocketgo/producer"
	"github.com/rocketgo/rocketgo/server/broker"
	"github.com/rocketgo/rocketgo/server/controller"
	"github.com/rocketgo/rocketgo/server/embedded"
)

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

func TestFailoverSmoke(t *testing.T) {
	c := startCluster(t, fastFailover(t.TempDir(), 1, 3))
	first, _ := waitInSync(t, c, 3, 30*time.Second)

	p, err := producer.New(producer.WithNameServers(c.NamesrvAddr()), producer.WithGroup("smoke"))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Shutdown(context.Background())
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for i := range 20 {
		res, err := p.SendSync(ctx, message.New("Smoke", []byte(fmt.Sprint(i))))
		if err != nil || res.Status != producer.SendOK {
			t.Fatalf("send %d: %v %v", i, res, err)
		}
	}
	killed := time.Now()
	c.KillBroker(first)
	second, _, err := c.WaitMaster(ctx, first)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("replica %d took over from %d in %v", second, first, time.Since(killed))
	for i := range 20 {
		sctx, scancel := context.WithTimeout(ctx, 10*time.Second)
		res, err := p.SendSync(sctx, message.New("Smoke", []byte(fmt.Sprint("after", i))))
		scancel()
		if err != nil || res.Status != producer.SendOK {
			t.Fatalf("send after failover %d: %v %v", i, res, err)
		}
	}
	if err := c.StartBroker(ctx, first); err != nil {
		t.Fatal(err)
	}
	waitInSync(t, c, 3, 30*time.Second)
	if i, _ := c.Master(); i != second {
		t.Fatalf("master moved to %d after the old one rejoined", i)
	}
	if st := c.Broker(first).ReplicaStatus(); st.Master || !slices.Contains([]int64{1, 2, 3}, st.BrokerID) {
		t.Fatalf("rejoined broker status %+v", st)
	}
}
