package controller

import (
	"context"
	"errors"
	"fmt"
	"net"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rocketgo/rocketgo/remoting"
	"github.com/rocketgo/rocketgo/remoting/netclient"
	"github.com/rocketgo/rocketgo/remoting/wire"
	"github.com/rocketgo/rocketgo/server/transport"
)

// freeAddrs reserves n loopback ports. The listeners are closed before the
// ports are used, which leaves a small window another process could take
// one in; raft needs its peers' addresses before anything binds.
func freeAddrs(t *testing.T, n int) []string {
	t.Helper()
	var lns []net.Listener
	var out []string
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		lns = append(lns, ln)
		out = append(out, ln.Addr().String())
	}
	for _, ln := range lns {
		ln.Close()
	}
	return out
}

// testConfigs builds the configurations of an n-node cluster with fast
// raft timing and a short broker heartbeat timeout.
func testConfigs(t *testing.T, n int) []Config {
	t.Helper()
	addrs := freeAddrs(t, 2*n)
	var peers, raftPeers []string
	for i := range n {
		peers = append(peers, fmt.Sprintf("n%d-%s", i, addrs[2*i]))
		raftPeers = append(raftPeers, fmt.Sprintf("n%d-%s", i, addrs[2*i+1]))
	}
	dir := t.TempDir()
	var cfgs []Config
	for i := range n {
		c := DefaultConfig()
		c.Peers = strings.Join(peers, ";")
		c.RaftPeers = strings.Join(raftPeers, ";")
		c.SelfID = fmt.Sprintf("n%d", i)
		c.StorePath = dir
		c.ScanNotActiveBrokerInterval = 100 * time.Millisecond
		c.ScanInactiveMasterInterval = 200 * time.Millisecond
		c.BrokerHeartbeatTimeout = 1500 * time.Millisecond
		c.RaftHeartbeatTimeout = 500 * time.Millisecond
		c.RaftElectionTimeout = 500 * time.Millisecond
		c.RaftLeaderLeaseTimeout = 250 * time.Millisecond
		cfgs = append(cfgs, c)
	}
	return cfgs
}

func startNode(t *testing.T, cfg Config) *Controller {
	t.Helper()
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	return c
}

func stopNode(t *testing.T, c *Controller) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.Shutdown(ctx); err != nil {
		t.Errorf("shutdown %s: %v", c.self.id, err)
	}
}

func waitFor(t *testing.T, what string, d time.Duration, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func leaderOf(nodes []*Controller) *Controller {
	for _, n := range nodes {
		if n != nil && n.IsLeader() {
			return n
		}
	}
	return nil
}

func waitGoroutines(t *testing.T, before int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for runtime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<16)
			t.Fatalf("goroutines: %d before, %d after\n%s", before, runtime.NumGoroutine(), buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// fakeBroker is a broker as the controller sees one: a remoting server
// (its address, where notifications arrive) and a client connection that
// heartbeats.
type fakeBroker struct {
	t       *testing.T
	name    string
	id      int64
	rpc     *netclient.Client
	cl      *Client
	srv     *transport.Server
	addr    string
	ctrls   []string
	mu      sync.Mutex
	notices []MasterHeader
	offset  int64
	epoch   int32
}

func newFakeBroker(t *testing.T, name string, ctrls []string) *fakeBroker {
	t.Helper()
	fb := &fakeBroker{t: t, name: name, ctrls: ctrls, rpc: netclient.New()}
	fb.srv = transport.NewServer("127.0.0.1:0")
	fb.srv.Handle(remoting.NotifyBrokerRoleChanged, func(rc *transport.RequestContext, req *remoting.Command) {
		var h MasterHeader
		if err := req.DecodeHeader(&h); err == nil {
			fb.mu.Lock()
			fb.notices = append(fb.notices, h)
			fb.mu.Unlock()
		}
	})
	if err := fb.srv.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	fb.addr = fb.srv.Addr().String()
	var err error
	if fb.cl, err = NewClient(fb.rpc, strings.Join(ctrls, ";")); err != nil {
		t.Fatal(err)
	}
	return fb
}

func (fb *fakeBroker) close() {
	fb.rpc.Close()
	fb.srv.Shutdown(context.Background())
}

// register takes the next id and registers, as a broker does at start.
func (fb *fakeBroker) register(ctx context.Context) Replicas {
	fb.t.Helper()
	id, err := fb.cl.NextBrokerID(ctx, "c", fb.name)
	if err != nil {
		fb.t.Fatal(err)
	}
	if err := fb.cl.ApplyBrokerID(ctx, "c", fb.name, id, fb.addr+";1"); err != nil {
		fb.t.Fatal(err)
	}
	fb.id = id
	r, err := fb.cl.RegisterBroker(ctx, "c", fb.name, id, fb.addr)
	if err != nil {
		fb.t.Fatal(err)
	}
	return r
}

func (fb *fakeBroker) beat(ctx context.Context) {
	for _, a := range fb.ctrls {
		fb.cl.Heartbeat(ctx, a, &BrokerHeartbeatHeader{ClusterName: "c", BrokerName: fb.name, BrokerAddr: fb.addr,
			BrokerID: fb.id, Epoch: fb.epoch, MaxOffset: fb.offset, HeartbeatTimeout: 1500})
	}
}

func (fb *fakeBroker) lastNotice() (MasterHeader, bool) {
	fb.mu.Lock()
	defer fb.mu.Unlock()
	if len(fb.notices) == 0 {
		return MasterHeader{}, false
	}
	return fb.notices[len(fb.notices)-1], true
}

// beatAll keeps brokers heartbeating every 100 ms until stop is called.
// Every broker has beaten once when it returns, so the controller counts
// them alive from the first request that follows (not only once the
// goroutines get scheduled, which a loaded machine delays).
func beatAll(brokers ...*fakeBroker) (stop func()) {
	for _, fb := range brokers {
		hctx, hcancel := context.WithTimeout(context.Background(), 5*time.Second)
		fb.beat(hctx)
		hcancel()
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for _, fb := range brokers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				hctx, hcancel := context.WithTimeout(ctx, time.Second)
				fb.beat(hctx)
				hcancel()
				select {
				case <-ctx.Done():
				case <-time.After(100 * time.Millisecond):
				}
			}
		}()
	}
	return func() { cancel(); wg.Wait() }
}

func TestSingleNodeElectionAndFailover(t *testing.T) {
	before := runtime.NumGoroutine()
	cfg := testConfigs(t, 1)[0]
	c := startNode(t, cfg)
	waitFor(t, "leadership", 10*time.Second, c.IsLeader)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	b1, b2, b3 := newFakeBroker(t, "bs", []string{c.Addr()}), newFakeBroker(t, "bs", []string{c.Addr()}), newFakeBroker(t, "bs", []string{c.Addr()})
	for _, fb := range []*fakeBroker{b1, b2, b3} {
		if r := fb.register(ctx); r.MasterBrokerID != NoMaster {
			t.Fatalf("a fresh set reports master %d", r.MasterBrokerID)
		}
	}
	if b1.id != 1 || b2.id != 2 || b3.id != 3 {
		t.Fatalf("ids %d %d %d, want 1 2 3", b1.id, b2.id, b3.id)
	}
	stopBeats := beatAll(b1, b2, b3)

	// The first broker to ask becomes the first master.
	r, err := b1.cl.ElectMaster(ctx, ElectMasterHeader{ClusterName: "c", BrokerName: "bs", BrokerID: b1.id})
	if err != nil || r.MasterBrokerID != b1.id || r.MasterEpoch != 1 || r.MasterAddress != b1.addr {
		t.Fatalf("first election: %+v, %v", r, err)
	}
	// Asking again while it lives changes nothing.
	if r, err := b2.cl.ElectMaster(ctx, ElectMasterHeader{ClusterName: "c", BrokerName: "bs", BrokerID: b2.id}); err != nil || r.MasterBrokerID != b1.id {
		t.Fatalf("second election: %+v, %v", r, err)
	}

	// Expansion: the master admits 2 and 3; a stale epoch is fenced.
	sss, err := b1.cl.AlterSyncStateSet(ctx, "bs", b1.id, 1, wire.SyncStateSet{Members: []int64{1, 2, 3}, Epoch: 1})
	if err != nil || !slices.Equal(sss.Members, []int64{1, 2, 3}) || sss.Epoch != 2 {
		t.Fatalf("expand: %+v, %v", sss, err)
	}
	if _, err := b1.cl.AlterSyncStateSet(ctx, "bs", b1.id, 1, wire.SyncStateSet{Members: []int64{1}, Epoch: 1}); !IsCode(err, remoting.ControllerFencedSyncStateSetEpoch) {
		t.Fatalf("stale SyncStateSet epoch: %v", err)
	}
	if _, err := b2.cl.AlterSyncStateSet(ctx, "bs", b2.id, 1, wire.SyncStateSet{Members: []int64{2}, Epoch: 2}); !IsCode(err, remoting.ControllerInvalidMaster) {
		t.Fatalf("a slave altering the set: %v", err)
	}

	// The master dies (its connections close): a member of the
	// SyncStateSet with the longest log takes over within a moment, and
	// the survivors are told.
	stopBeats()
	b2.offset, b3.offset = 100, 200
	b2.epoch, b3.epoch = 1, 1
	stopBeats = beatAll(b2, b3)
	defer stopBeats()
	waitFor(t, "the slaves' offsets to reach the controller", 5*time.Second, func() bool {
		lb, ok := c.beats.alive("c", "bs", b3.id)
		return ok && lb.MaxOffset == 200
	})
	killed := time.Now()
	b1.close()
	waitFor(t, "a new master", 10*time.Second, func() bool {
		r, err := b2.cl.ReplicaInfo(ctx, "bs")
		return err == nil && r.MasterBrokerID == b3.id && r.MasterEpoch == 2
	})
	t.Logf("re-elected %v after the master's connection closed", time.Since(killed))
	waitFor(t, "the role-change notice", 5*time.Second, func() bool {
		n, ok := b2.lastNotice()
		return ok && n.MasterBrokerID == b3.id && n.MasterAddress == b3.addr && n.MasterEpoch == 2
	})
	info, err := b2.cl.SyncStateData(ctx, "bs")
	if err != nil {
		t.Fatal(err)
	}
	if ri := info.ReplicasInfoTable["bs"]; ri.MasterBrokerID != b3.id || len(ri.InSyncReplicas) != 1 || len(ri.NotInSyncReplicas) != 2 {
		t.Fatalf("sync state data: %+v", ri)
	}
	stopBeats()
	b2.close()
	b3.close()
	stopNode(t, c)
	waitGoroutines(t, before)
}

func TestThreeNodesSurviveOneLossNotTwo(t *testing.T) {
	before := runtime.NumGoroutine()
	cfgs := testConfigs(t, 3)
	nodes := make([]*Controller, 3)
	var addrs []string
	for i, cfg := range cfgs {
		nodes[i] = startNode(t, cfg)
		addrs = append(addrs, nodes[i].Addr())
	}
	waitFor(t, "a leader", 15*time.Second, func() bool { return leaderOf(nodes) != nil })
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	brokers := []*fakeBroker{newFakeBroker(t, "bs", addrs), newFakeBroker(t, "bs", addrs), newFakeBroker(t, "bs", addrs)}
	for _, fb := range brokers {
		fb.register(ctx)
	}
	stop := beatAll(brokers...)
	if _, err := brokers[0].cl.ElectMaster(ctx, ElectMasterHeader{ClusterName: "c", BrokerName: "bs", BrokerID: brokers[0].id}); err != nil {
		t.Fatal(err)
	}
	if _, err := brokers[0].cl.AlterSyncStateSet(ctx, "bs", 1, 1, wire.SyncStateSet{Members: []int64{1, 2, 3}, Epoch: 1}); err != nil {
		t.Fatal(err)
	}

	// Kill the leader: the two others elect a leader among themselves and
	// still elect masters.
	old := leaderOf(nodes)
	for i := range nodes {
		if nodes[i] == old {
			stopNode(t, old)
			nodes[i] = nil
		}
	}
	waitFor(t, "a new controller leader", 15*time.Second, func() bool { return leaderOf(nodes) != nil })
	// The state survived the leader.
	if r, err := brokers[1].cl.ReplicaInfo(ctx, "bs"); err != nil || r.MasterBrokerID != 1 || !slices.Equal(r.SyncStateSet.Members, []int64{1, 2, 3}) {
		t.Fatalf("replica info after leader loss: %+v, %v", r, err)
	}
	stop()
	brokers[0].close()
	stop = beatAll(brokers[1], brokers[2])
	waitFor(t, "a new master with one controller down", 15*time.Second, func() bool {
		r, err := brokers[1].cl.ReplicaInfo(ctx, "bs")
		return err == nil && r.MasterBrokerID != 1 && r.MasterBrokerID != NoMaster
	})
	r, _ := brokers[1].cl.ReplicaInfo(ctx, "bs")
	master := r.MasterBrokerID

	// Kill a second node: no quorum, no leader, no election — the master
	// stays what it was however long its heartbeats are missing.
	for i := range nodes {
		if nodes[i] != nil {
			stopNode(t, nodes[i])
			nodes[i] = nil
			break
		}
	}
	var survivor *Controller
	for _, n := range nodes {
		if n != nil {
			survivor = n
		}
	}
	waitFor(t, "the survivor to step down", 10*time.Second, func() bool { return !survivor.IsLeader() })
	// The survivor may lag what the majority committed; what matters is
	// that nothing changes on it from here on.
	var snap brokerSet
	survivor.fsm.read(func(s *state) { snap = *s.Sets["bs"].clone() })
	stop()
	for _, fb := range brokers[1:] {
		fb.close()
	}
	time.Sleep(2 * time.Second) // longer than the heartbeat timeout: an election would be due now
	survivor.fsm.read(func(s *state) {
		if got := s.Sets["bs"]; got.Master != snap.Master || got.MasterEpoch != snap.MasterEpoch {
			t.Errorf("a one-node minority changed the master from %d (epoch %d) to %d (epoch %d)", snap.Master, snap.MasterEpoch, got.Master, got.MasterEpoch)
		}
	})
	_ = master
	cl, _ := NewClient(netclient.New(), survivor.Addr())
	defer cl.rpc.Close()
	sctx, scancel := context.WithTimeout(ctx, 2*time.Second)
	defer scancel()
	if _, err := cl.ElectMaster(sctx, ElectMasterHeader{BrokerName: "bs", BrokerID: -1}); err == nil || !(errors.Is(err, ErrNoLeader) || IsCode(err, remoting.ControllerNotLeader)) {
		t.Fatalf("an election without quorum: %v", err)
	}
	stopNode(t, survivor)
	cl.rpc.Close()
	waitGoroutines(t, before)
}

func TestControllerRestartKeepsState(t *testing.T) {
	cfg := testConfigs(t, 1)[0]
	c := startNode(t, cfg)
	waitFor(t, "leadership", 10*time.Second, c.IsLeader)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	fb := newFakeBroker(t, "bs", []string{c.Addr()})
	defer fb.close()
	fb.register(ctx)
	stopNode(t, c)

	c = startNode(t, cfg)
	defer stopNode(t, c)
	waitFor(t, "leadership after restart", 10*time.Second, c.IsLeader)
	// The same check code re-applies its id; another code cannot take it.
	if err := fb.cl.ApplyBrokerID(ctx, "c", "bs", 1, fb.addr+";1"); err != nil {
		t.Fatalf("re-apply after restart: %v", err)
	}
	if err := fb.cl.ApplyBrokerID(ctx, "c", "bs", 1, "other;2"); !IsCode(err, remoting.ControllerBrokerIDInvalid) {
		t.Fatalf("stealing an id: %v", err)
	}
	if id, err := fb.cl.NextBrokerID(ctx, "c", "bs"); err != nil || id != 2 {
		t.Fatalf("next id after restart: %d, %v", id, err)
	}
}

func TestBadRequestsGetClearAnswers(t *testing.T) {
	cfg := testConfigs(t, 1)[0]
	c := startNode(t, cfg)
	defer stopNode(t, c)
	waitFor(t, "leadership", 10*time.Second, c.IsLeader)
	rpc := netclient.New()
	defer rpc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, tc := range []struct {
		code int16
		ext  map[string]string
		body []byte
		want int16
	}{
		{remoting.BrokerHeartbeat, map[string]string{"clusterName": "c"}, nil, remoting.ControllerInvalidRequest},
		{remoting.BrokerHeartbeat, map[string]string{"clusterName": "c", "brokerAddr": "a", "brokerName": "b", "brokerId": "x"}, nil, remoting.ControllerInvalidRequest},
		{remoting.ControllerAlterSyncStateSet, map[string]string{"brokerName": "b", "masterBrokerId": "1", "masterEpoch": "1"}, []byte("{"), remoting.ControllerInvalidRequest},
		{remoting.ControllerAlterSyncStateSet, map[string]string{"brokerName": "b", "masterBrokerId": "1", "masterEpoch": "1"}, []byte(`{"syncStateSet":[1],"syncStateSetEpoch":0}`), remoting.ControllerAlterSyncStateSetFailed},
		{remoting.ControllerGetReplicaInfo, map[string]string{"brokerName": "nope"}, nil, remoting.ControllerBrokerMetadataNotExist},
		{remoting.ControllerElectMaster, map[string]string{"brokerName": "nope"}, nil, remoting.ControllerBrokerNeedToBeRegistered},
		{remoting.ControllerApplyBrokerID, map[string]string{"brokerName": "b", "appliedBrokerId": "7", "registerCheckCode": "a;1"}, nil, remoting.ControllerBrokerIDInvalid},
		{remoting.ControllerGetSyncStateData, nil, []byte("[1,"), remoting.ControllerInvalidRequest},
		{remoting.ControllerRegisterBroker, map[string]string{"brokerName": "b", "brokerId": "1", "brokerAddress": "a"}, nil, remoting.ControllerBrokerNeedToBeRegistered},
	} {
		req := remoting.NewRequest(tc.code, nil, tc.body)
		for k, v := range tc.ext {
			req.Ext.Set(k, v)
		}
		resp, err := rpc.InvokeSync(ctx, c.Addr(), req)
		if err != nil {
			t.Fatalf("code %d: %v", tc.code, err)
		}
		if resp.Code != tc.want {
			t.Errorf("code %d ext %v: answered %d (%s), want %d", tc.code, tc.ext, resp.Code, resp.Remark, tc.want)
		}
	}
}

// TestUpdateControllerConfig: enableElectUncleanMaster switched on at run
// time lets a replica outside the SyncStateSet take over; keys fixed at
// start, unknown keys and bad values are refused and change nothing.
func TestUpdateControllerConfig(t *testing.T) {
	cfg := testConfigs(t, 1)[0]
	c := startNode(t, cfg)
	defer stopNode(t, c)
	waitFor(t, "leadership", 10*time.Second, c.IsLeader)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	b1, b2 := newFakeBroker(t, "bs", []string{c.Addr()}), newFakeBroker(t, "bs", []string{c.Addr()})
	defer b2.close()
	b1.register(ctx)
	b2.register(ctx)
	stopBeats := beatAll(b1, b2)
	if r, err := b1.cl.ElectMaster(ctx, ElectMasterHeader{ClusterName: "c", BrokerName: "bs", BrokerID: b1.id}); err != nil || r.MasterBrokerID != b1.id {
		t.Fatalf("first election: %+v, %v", r, err)
	}
	// b2 never joins the SyncStateSet; the master dies.
	stopBeats()
	stopBeats = beatAll(b2)
	defer stopBeats()
	b1.close()
	waitFor(t, "the dead master to leave the heartbeat table", 10*time.Second, func() bool { return !c.beats.isAlive("c", "bs", b1.id) })
	elect := func() (Replicas, error) {
		return b2.cl.ElectMaster(ctx, ElectMasterHeader{ClusterName: "c", BrokerName: "bs", BrokerID: b2.id})
	}
	if r, err := elect(); !IsCode(err, remoting.ControllerElectMasterFailed) {
		t.Fatalf("clean election without an in-sync replica: %+v, %v", r, err)
	}

	for _, tc := range []struct {
		props string
		want  int16
	}{
		{"controllerStorePath=/elsewhere", remoting.NoPermission},
		{"enableElectUncleanMaster=true\nscanNotActiveBrokerInterval=5", remoting.NoPermission},
		{"noSuchKey=1", remoting.InvalidParameter},
		{"enableElectUncleanMaster=maybe", remoting.InvalidParameter},
		{"electMasterMaxRetryCount=0", remoting.InvalidParameter},
	} {
		if err := b2.cl.UpdateConfig(ctx, c.Addr(), tc.props); !IsCode(err, tc.want) {
			t.Errorf("update %q: %v, want code %d", tc.props, err, tc.want)
		}
	}
	if props, err := b2.cl.Config(ctx, c.Addr()); err != nil || !strings.Contains(props, "enableElectUncleanMaster=false\n") || !strings.Contains(props, "electMasterMaxRetryCount=3\n") {
		t.Fatalf("refused updates changed the configuration: %q, %v", props, err)
	}
	if err := b2.cl.UpdateConfig(ctx, c.Addr(), "# operator\nenableElectUncleanMaster = true\n"); err != nil {
		t.Fatal(err)
	}
	if props, err := b2.cl.Config(ctx, c.Addr()); err != nil || !strings.Contains(props, "enableElectUncleanMaster=true\n") {
		t.Fatalf("config after update: %q, %v", props, err)
	}
	if r, err := elect(); err != nil || r.MasterBrokerID != b2.id || r.MasterEpoch < 2 {
		t.Fatalf("unclean election after the update: %+v, %v", r, err)
	}
}
