package embedded_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rocketgo/rocketgo/internal/netfault"
	"github.com/rocketgo/rocketgo/message"
	"github.com/rocketgo/rocketgo/producer"
	"github.com/rocketgo/rocketgo/remoting"
	"github.com/rocketgo/rocketgo/remoting/netclient"
	"github.com/rocketgo/rocketgo/remoting/wire"
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
	// The controller may name the new master a moment before its
	// registration reaches the name server, when the route has no master
	// at all: the first send may fail fast (as Java's does) and is retried
	// until it is acknowledged; every later one must succeed at once.
	for {
		res, err := p.SendSync(ctx, message.New("Smoke", []byte("first-after")))
		if err == nil && res.Status == producer.SendOK {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("no send acknowledged after the failover: %v %v", res, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("first SEND_OK %v after the kill", time.Since(killed))
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

// directSend sends one message to the broker at addr, bypassing routes.
func directSend(ctx context.Context, rpc *netclient.Client, addr, topic, body string) (int16, error) {
	h := &remoting.SendMessageRequestHeader{ProducerGroup: "direct", Topic: topic, DefaultTopic: "TBW102", DefaultTopicQueueNums: 4,
		QueueID: 0, BornTimestamp: time.Now().UnixMilli()}
	resp, err := rpc.InvokeSync(ctx, addr, remoting.NewRequest(remoting.SendMessageV2, h.V2(), []byte(body)))
	if err != nil {
		return 0, err
	}
	return resp.Code, nil
}

// TestFailoverPartitionedMasterTruncates cuts the master off from the
// controller and its slaves while clients still reach it: it must stop
// acknowledging sends (its SyncStateSet cannot shrink without the
// controller), a slave takes over, and the old master — holding a tail of
// messages nobody acknowledged — truncates that tail when it comes back
// and catches up as a slave.
func TestFailoverPartitionedMasterTruncates(t *testing.T) {
	cfg := fastFailover(t.TempDir(), 1, 3)
	cfg.Network = netfault.New()
	c := startCluster(t, cfg)
	waitInSync(t, c, 3, 30*time.Second)
	const topic = "Partition"
	l := startLoad(t, c.NamesrvAddr(), topic, 8)
	waitAcked(t, l, 100, 30*time.Second)

	old, om := c.Master()
	oldAddr := om.Addr()
	rpc := netclient.New()
	defer rpc.Close()
	partitioned := time.Now()
	c.Partition(old)

	// Keep writing straight to the old master: none of it may be
	// acknowledged, yet it is stored there — the tail to truncate.
	var tailOK, tailSent, tailStored int
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for i := 0; time.Since(partitioned) < 4*time.Second; i++ {
		sctx, scancel := context.WithTimeout(ctx, 5*time.Second)
		code, err := directSend(sctx, rpc, oldAddr, topic, fmt.Sprintf("tail-%d", i))
		scancel()
		tailSent++
		if err == nil && code == remoting.Success {
			tailOK++
		}
		if err == nil && code == remoting.FlushSlaveTimeout {
			tailStored++
		}
	}
	if tailStored == 0 {
		t.Fatal("no direct send was stored on the partitioned master; the test made no tail")
	}
	if tailOK > 0 {
		t.Fatalf("the partitioned master acknowledged %d of %d sends", tailOK, tailSent)
	}
	took, ok := l.waitAckFrom(partitioned, oldAddr, 10*time.Second)
	if !ok {
		t.Fatal("no new master acknowledged sends within 10 s of the partition")
	}
	t.Logf("partition: new master serving %v after the partition (heartbeat timeout 2 s); %d direct sends to the old master, none acknowledged", took, tailSent)
	tailEnd := om.LogEnd()

	// The old master crashes and restarts on the healed network.
	c.KillBroker(old)
	c.Heal()
	if err := c.StartBroker(ctx, old); err != nil {
		t.Fatal(err)
	}
	waitInSync(t, c, 3, 30*time.Second)
	missing, dups, acked := l.finish(30 * time.Second)
	if len(missing) > 0 {
		t.Fatalf("%d of %d acknowledged messages never delivered: %v", len(missing), acked, missing[:min(5, len(missing))])
	}
	_, nm := c.Master()
	rejoined := c.Broker(old)
	deadline := time.Now().Add(30 * time.Second)
	for rejoined.LogEnd() != nm.LogEnd() {
		if time.Now().After(deadline) {
			t.Fatalf("the rejoined broker's log ends at %d, the master's at %d", rejoined.LogEnd(), nm.LogEnd())
		}
		time.Sleep(20 * time.Millisecond)
	}
	// The new master's epoch began where its log ended at promotion: the
	// old master's log went past it, so it held a tail to truncate.
	start := epochStart(t, rpc, nm.Addr())
	if tailEnd <= start {
		t.Fatalf("the old master's log (%d) did not pass the new master's epoch start (%d)", tailEnd, start)
	}
	// A slave shows what the master confirmed as of its last frame: poll
	// until the idle master's confirm offset has reached it.
	var onMaster, onRejoined map[string]int
	for {
		onMaster, onRejoined = storedIDs(t, nm.Addr(), topic, 4), storedIDs(t, rejoined.Addr(), topic, 4)
		if len(onMaster) > 0 && len(onMaster) == len(onRejoined) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the master holds %d ids, the rejoined broker %d", len(onMaster), len(onRejoined))
		}
		time.Sleep(100 * time.Millisecond)
	}
	for id := range onRejoined {
		if strings.HasPrefix(id, "tail-") || onMaster[id] == 0 {
			t.Fatalf("the rejoined broker holds %s, which the master does not", id)
		}
	}
	t.Logf("old master's log reached %d, %d bytes past the new master's epoch start %d (%d direct sends stored, none acknowledged); it truncated and caught up to %d; %d acknowledged, %d duplicate deliveries",
		tailEnd, tailEnd-start, start, tailStored, nm.LogEnd(), acked, dups)
}

// TestFailoverControllerQuorum runs three controllers: with one stopped a
// master failure still elects a new master; with two stopped nothing can
// be elected, and the current master keeps serving.
func TestFailoverControllerQuorum(t *testing.T) {
	c := startCluster(t, fastFailover(t.TempDir(), 3, 3))
	waitInSync(t, c, 3, 30*time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	const topic = "Quorum"
	l := startLoad(t, c.NamesrvAddr(), topic, 8)
	waitAcked(t, l, 100, 30*time.Second)

	leader := func() int {
		for i := range 3 {
			if n := c.Controller(i); n != nil && n.IsLeader() {
				return i
			}
		}
		return -1
	}
	first := leader()
	if err := c.StopController(ctx, first); err != nil {
		t.Fatal(err)
	}
	old, om := c.Master()
	killed := time.Now()
	c.KillBroker(old)
	took, ok := l.waitAckFrom(killed, om.Addr(), 10*time.Second)
	if !ok {
		t.Fatal("no new master within 10 s with one controller of three down")
	}
	t.Logf("one controller down: new master serving %v after the kill", took)
	if err := c.StartBroker(ctx, old); err != nil {
		t.Fatal(err)
	}
	waitInSync(t, c, 3, 30*time.Second)

	// Two controllers down: no quorum. The master keeps serving.
	for i := range 3 {
		if c.Controller(i) != nil {
			if err := c.StopController(ctx, i); err != nil {
				t.Fatal(err)
			}
			break
		}
	}
	base := l.ackedCount()
	waitAcked(t, l, base+100, 20*time.Second)
	master, mm := c.Master()
	c.KillBroker(master)
	time.Sleep(5 * time.Second) // well past the heartbeat timeout
	if i, b := c.Master(); b != nil {
		t.Fatalf("replica %d became master without a controller quorum", i)
	}
	t.Logf("two controllers down: the master kept serving (%d more acknowledged); after it died nobody was elected", l.ackedCount()-base)
	_ = mm
	l.stop()
	l.wg.Wait()
	l.c.Shutdown(ctx)
	l.p.Shutdown(ctx)
}

// epochStart reads where the broker's newest epoch begins
// (GET_BROKER_EPOCH_CACHE).
func epochStart(t *testing.T, rpc *netclient.Client, addr string) int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	resp, err := rpc.InvokeSync(ctx, addr, remoting.NewRequest(remoting.GetBrokerEpochCache, nil, nil))
	if err != nil || resp.Code != remoting.Success {
		t.Fatalf("epoch cache of %s: %v %v", addr, resp, err)
	}
	var body wire.EpochEntryCache
	if err := json.Unmarshal(resp.Body, &body); err != nil || len(body.EpochList) == 0 {
		t.Fatalf("epoch cache of %s: %s (%v)", addr, resp.Body, err)
	}
	return body.EpochList[len(body.EpochList)-1].StartOffset
}

// TestClusterShutdownLeaksNothing runs every controller-mode component —
// three controllers, three replicas, a role change, a partition — and
// checks that shutting it all down leaves no goroutine behind.
func TestClusterShutdownLeaksNothing(t *testing.T) {
	before := runtime.NumGoroutine()
	cfg := fastFailover(t.TempDir(), 3, 3)
	cfg.Network = netfault.New()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c, err := embedded.StartCluster(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	old, _ := waitInSync(t, c, 3, 30*time.Second)
	c.Partition(old)
	if _, _, err := c.WaitMaster(ctx, old); err != nil {
		t.Fatal(err)
	}
	c.Heal()
	c.KillBroker(old)
	if err := c.StartBroker(ctx, old); err != nil {
		t.Fatal(err)
	}
	waitInSync(t, c, 3, 30*time.Second)
	if err := c.StopController(ctx, 1); err != nil {
		t.Fatal(err)
	}
	if err := c.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for runtime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("goroutines: %d before, %d after shutdown\n%s", before, runtime.NumGoroutine(), buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(20 * time.Millisecond)
	}
}
