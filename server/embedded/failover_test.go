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

// TestFailoverUnderLoad kills the master of a 3-replica set
// (allAckInSyncStateSet) in-process while 32 senders send synchronously:
// a new master must serve within 10 s and every acknowledged message must
// be stored and delivered to the consumer group. The long variant (build
// tag failover) kills child processes with SIGKILL, ten times.
func TestFailoverUnderLoad(t *testing.T) {
	c := startCluster(t, fastFailover(t.TempDir(), 1, 3))
	waitInSync(t, c, 3, 30*time.Second)
	const topic = "FailoverLoad"
	l := startLoad(t, c.NamesrvAddr(), topic, 32)
	waitAcked(t, l, 300, 30*time.Second)

	old, m := c.Master()
	oldAddr := m.Addr()
	killed := time.Now()
	c.KillBroker(old)
	took, ok := l.waitAckFrom(killed, oldAddr, 10*time.Second)
	if !ok {
		t.Fatalf("no acknowledgement from a new master within 10 s of the kill")
	}
	t.Logf("failover: first SEND_OK from the new master %v after the kill", took)
	base := l.ackedCount()
	waitAcked(t, l, base+300, 30*time.Second)

	missing, dups, acked := l.finish(30 * time.Second)
	if len(missing) > 0 {
		t.Fatalf("%d of %d acknowledged messages were never delivered, e.g. %v", len(missing), acked, missing[:min(5, len(missing))])
	}
	_, nm := c.Master()
	stored := storedIDs(t, nm.Addr(), topic, 4)
	storedDups := 0
	for id, n := range stored {
		storedDups += n - 1
		_ = id
	}
	l.mu.Lock()
	for id := range l.acked {
		if stored[id] == 0 {
			t.Errorf("acknowledged %s is not in the new master's log", id)
		}
	}
	l.mu.Unlock()
	t.Logf("acknowledged %d, attempts %d (%d not SEND_OK), stored duplicates %d, duplicate deliveries %d",
		acked, l.attempts.Load(), l.notOK.Load(), storedDups, dups)
}

// waitAcked waits until n ids are acknowledged.
func waitAcked(t *testing.T, l *loadRun, n int, d time.Duration) {
	t.Helper()
	deadline := time.Now().Add(d)
	for l.ackedCount() < n {
		if time.Now().After(deadline) {
			t.Fatalf("only %d of %d messages acknowledged after %v", l.ackedCount(), n, d)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
