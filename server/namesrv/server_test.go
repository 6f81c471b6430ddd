package namesrv

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/rocketgo/rocketgo/remoting/wire"

	"github.com/rocketgo/rocketgo/remoting/netclient"

	"github.com/rocketgo/rocketgo/internal/nsclient"
	"github.com/rocketgo/rocketgo/remoting"
)

// startServer runs a name server on a free loopback port until the test ends.
func startServer(t testing.TB, opts ...Option) *Server {
	t.Helper()
	s := New(append([]Option{WithListenAddr("127.0.0.1:0")}, opts...)...)
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})
	return s
}

func newRemotingClient(t testing.TB) *netclient.Client {
	t.Helper()
	rc := netclient.New()
	t.Cleanup(func() { rc.Close() })
	return rc
}

func newNSClient(t testing.TB, rc *netclient.Client, addr string) *nsclient.Client {
	t.Helper()
	c, err := nsclient.New(rc, addr)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func brokerReq(cluster, name, addr string, id int64, version int64, topics ...string) nsclient.RegisterBrokerRequest {
	r := nsclient.RegisterBrokerRequest{
		ClusterName: cluster, BrokerName: name, BrokerAddr: addr, BrokerID: id,
		HAServerAddr: addr + "-ha", DataVersion: wire.DataVersion{Counter: version, Timestamp: 1},
	}
	for _, topic := range topics {
		r.Topics = append(r.Topics, wire.TopicConfig{TopicName: topic, ReadQueueNums: 4, WriteQueueNums: 4, Perm: 6})
	}
	return r
}

func mustRegister(t testing.TB, c *nsclient.Client, req nsclient.RegisterBrokerRequest) nsclient.RegisterResult {
	t.Helper()
	res, err := c.RegisterBroker(ctxT(t), req)
	if err != nil {
		t.Fatal(err)
	}
	if res[0].Err != nil {
		t.Fatalf("register %s: %v", req.BrokerAddr, res[0].Err)
	}
	return res[0]
}

// eventually polls cond until it holds; liveness tests wait on real timers
// but assert no timing, only the eventual state.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func invoke(t testing.TB, rc *netclient.Client, addr string, cmd *remoting.Command) *remoting.Command {
	t.Helper()
	resp, err := rc.InvokeSync(ctxT(t), addr, cmd)
	if err != nil {
		t.Fatalf("invoke code %d: %v", cmd.Code, err)
	}
	return resp
}

func TestRegisterAndRoute(t *testing.T) {
	s := startServer(t)
	rc := newRemotingClient(t)
	c := newNSClient(t, rc, s.Addr())
	ctx := ctxT(t)

	for _, compressed := range []bool{false, true} {
		req := brokerReq("DefaultCluster", "broker-a", "127.0.0.1:10911", 0, 1, "TopicA", "TBW102")
		req.Compressed = compressed
		req.DataVersion.Counter = int64(len(req.Topics)) + map[bool]int64{false: 0, true: 1}[compressed]
		if compressed {
			req.Topics[0].ReadQueueNums = 8
		}
		res := mustRegister(t, c, req)
		if res.MasterAddr != "" || res.OrderTopics != nil {
			t.Fatalf("master register answered %+v", res)
		}
		r, err := c.Route(ctx, "TopicA")
		if err != nil {
			t.Fatal(err)
		}
		want := int32(4)
		if compressed {
			want = 8
		}
		if len(r.QueueDatas) != 1 || r.QueueDatas[0].ReadQueueNums != want || r.BrokerDatas[0].MasterAddr() != "127.0.0.1:10911" {
			t.Fatalf("compressed=%v route %+v", compressed, r)
		}
	}
	_, err := c.Route(ctx, "Nope")
	var re *remoting.ResponseError
	if !errors.Is(err, nsclient.ErrTopicNotExist) || !errors.As(err, &re) || re.Code != remoting.TopicNotExist {
		t.Fatalf("unknown topic: %v", err)
	}

	// A slave learns where its master and the master's HA port are.
	res := mustRegister(t, c, brokerReq("DefaultCluster", "broker-a", "127.0.0.1:10921", 1, 1, "TopicA"))
	if res.MasterAddr != "127.0.0.1:10911" || res.HAServerAddr != "127.0.0.1:10911-ha" {
		t.Fatalf("slave register answered %+v", res)
	}

	ci, err := c.ClusterInfo(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got := ci.BrokerAddrTable["broker-a"].BrokerAddrs; len(got) != 2 || got[1] != "127.0.0.1:10921" {
		t.Fatalf("cluster info %+v", ci)
	}
	topics, err := c.TopicList(ctx)
	if err != nil || len(topics) != 2 || topics[0] != "TBW102" || topics[1] != "TopicA" {
		t.Fatalf("topic list %v %v", topics, err)
	}

	if err := c.UnregisterBroker(ctx, "DefaultCluster", "broker-a", "127.0.0.1:10911", 0); err != nil {
		t.Fatal(err)
	}
	r, err := c.Route(ctx, "TopicA")
	if err != nil {
		t.Fatal(err)
	}
	if addrs := r.BrokerDatas[0].BrokerAddrs; len(addrs) != 1 || addrs[1] != "127.0.0.1:10921" || r.BrokerDatas[0].MasterAddr() != "" {
		t.Fatalf("after master unregistered: %+v", r.BrokerDatas)
	}
	if err := c.UnregisterBroker(ctx, "DefaultCluster", "broker-a", "127.0.0.1:10921", 1); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Route(ctx, "TopicA"); !errors.Is(err, nsclient.ErrTopicNotExist) {
		t.Fatalf("after last broker left: %v", err)
	}
}

func TestOrderTopicConfigKV(t *testing.T) {
	s := startServer(t)
	rc := newRemotingClient(t)
	c := newNSClient(t, rc, s.Addr())
	ctx := ctxT(t)
	mustRegister(t, c, brokerReq("c", "broker-a", "127.0.0.1:1", 0, 1, "Ordered", "Plain"))
	if r, _ := c.Route(ctx, "Ordered"); r.OrderTopicConf != "" {
		t.Fatalf("unconfigured topic has orderTopicConf %q", r.OrderTopicConf)
	}
	if _, err := c.GetKVConfig(ctx, NamespaceOrderTopicConfig, "Ordered"); !errors.Is(err, nsclient.ErrNotFound) {
		t.Fatalf("missing kv: %v", err)
	}
	if err := c.PutKVConfig(ctx, NamespaceOrderTopicConfig, "Ordered", "broker-a:8"); err != nil {
		t.Fatal(err)
	}
	if v, err := c.GetKVConfig(ctx, NamespaceOrderTopicConfig, "Ordered"); err != nil || v != "broker-a:8" {
		t.Fatalf("kv get %q %v", v, err)
	}
	// The cached route must pick up the new KV entry.
	if r, _ := c.Route(ctx, "Ordered"); r.OrderTopicConf != "broker-a:8" {
		t.Fatalf("orderTopicConf %q", r.OrderTopicConf)
	}
	if r, _ := c.Route(ctx, "Plain"); r.OrderTopicConf != "" {
		t.Fatalf("plain topic got orderTopicConf %q", r.OrderTopicConf)
	}
	res := mustRegister(t, c, brokerReq("c", "broker-a", "127.0.0.1:1", 0, 2, "Ordered", "Plain"))
	if res.OrderTopics["Ordered"] != "broker-a:8" {
		t.Fatalf("register answer KV table %v", res.OrderTopics)
	}
	resp := invoke(t, rc, s.Addr(), remoting.NewRequest(remoting.GetKVListByNamespace, nil, nil))
	if resp.Code != remoting.SystemError {
		t.Fatalf("kv list without namespace: code %d", resp.Code)
	}
	req := remoting.NewRequest(remoting.GetKVListByNamespace, nil, nil)
	req.Ext.Set("namespace", NamespaceOrderTopicConfig)
	if resp := invoke(t, rc, s.Addr(), req); resp.Code != remoting.Success || string(resp.Body) != `{"table":{"Ordered":"broker-a:8"}}` {
		t.Fatalf("kv list: %d %s", resp.Code, resp.Body)
	}
	if err := c.DeleteKVConfig(ctx, NamespaceOrderTopicConfig, "Ordered"); err != nil {
		t.Fatal(err)
	}
	if r, _ := c.Route(ctx, "Ordered"); r.OrderTopicConf != "" {
		t.Fatalf("deleted orderTopicConf still served: %q", r.OrderTopicConf)
	}
}

func TestAdminCodes(t *testing.T) {
	s := startServer(t)
	rc := newRemotingClient(t)
	c := newNSClient(t, rc, s.Addr())
	ctx := ctxT(t)
	mustRegister(t, c, brokerReq("c1", "a", "127.0.0.1:1", 0, 1, "T", "U"))
	unit := brokerReq("c2", "b", "127.0.0.1:2", 0, 1, "T", "Unit")
	unit.Topics[1].TopicSysFlag = 1
	mustRegister(t, c, unit)

	body := func(code int16, kv ...string) string {
		req := remoting.NewRequest(code, nil, nil)
		for i := 0; i+1 < len(kv); i += 2 {
			req.Ext.Set(kv[i], kv[i+1])
		}
		resp := invoke(t, rc, s.Addr(), req)
		if resp.Code != remoting.Success {
			t.Fatalf("code %d answered %d %q", code, resp.Code, resp.Remark)
		}
		return string(resp.Body)
	}
	if got := body(remoting.GetTopicsByCluster, "cluster", "c1"); got != `{"topicList":["T","U"]}` {
		t.Fatalf("topics by cluster %s", got)
	}
	if got := body(remoting.GetSystemTopicListFromNS); got != `{"brokerAddr":"127.0.0.1:1","topicList":["a","b","c1","c2"]}` {
		t.Fatalf("system topics %s", got)
	}
	if got := body(remoting.GetUnitTopicList); got != `{"topicList":["Unit"]}` {
		t.Fatalf("unit topics %s", got)
	}
	if got := body(remoting.GetHasUnitSubTopicList); got != `{"topicList":[]}` {
		t.Fatalf("unit sub topics %s", got)
	}

	wipe := remoting.NewRequest(remoting.WipeWritePermOfBroker, nil, nil)
	wipe.Ext.Set("brokerName", "a")
	if resp := invoke(t, rc, s.Addr(), wipe); resp.Code != 0 {
		t.Fatalf("wipe: %d", resp.Code)
	} else if n, _ := resp.Ext.Get("wipeTopicCount"); n != "2" {
		t.Fatalf("wipeTopicCount %q", n)
	}
	r, _ := c.Route(ctx, "U")
	if r.QueueDatas[0].Writable() {
		t.Fatal("wiped broker still writable")
	}

	del := remoting.NewRequest(remoting.DeleteTopicInNamesrv, &remoting.DeleteTopicInNamesrvRequestHeader{Topic: "T", ClusterName: "c2"}, nil)
	invoke(t, rc, s.Addr(), del)
	if r, _ := c.Route(ctx, "T"); len(r.QueueDatas) != 1 || r.QueueDatas[0].BrokerName != "a" {
		t.Fatalf("after cluster delete %+v", r)
	}
	invoke(t, rc, s.Addr(), remoting.NewRequest(remoting.DeleteTopicInNamesrv, &remoting.DeleteTopicInNamesrvRequestHeader{Topic: "T"}, nil))
	if _, err := c.Route(ctx, "T"); !errors.Is(err, nsclient.ErrTopicNotExist) {
		t.Fatalf("deleted topic: %v", err)
	}

	// QUERY_DATA_VERSION: unchanged for the registered version, changed otherwise.
	for v, want := range map[int64]string{1: "false", 2: "true"} {
		q := remoting.NewRequest(remoting.QueryDataVersion, &remoting.QueryDataVersionRequestHeader{
			BrokerName: "a", BrokerAddr: "127.0.0.1:1", ClusterName: "c1"}, []byte(`{"counter":`+strconv.FormatInt(v, 10)+`,"timestamp":1,"stateVersion":0}`))
		resp := invoke(t, rc, s.Addr(), q)
		if got, _ := resp.Ext.Get("changed"); resp.Code != 0 || got != want {
			t.Fatalf("version %d: code %d changed=%q", v, resp.Code, got)
		}
	}
	hb := remoting.NewRequest(remoting.BrokerHeartbeat, &remoting.BrokerHeartbeatRequestHeader{ClusterName: "c1", BrokerAddr: "127.0.0.1:1", BrokerName: "a"}, nil)
	if resp := invoke(t, rc, s.Addr(), hb); resp.Code != 0 {
		t.Fatalf("heartbeat: %d", resp.Code)
	}
}

// TestMalformedRequestsLeaveStateUnchanged sends broken registrations and an
// unknown code; each gets an error answer and the tables stay as they were.
func TestMalformedRequestsLeaveStateUnchanged(t *testing.T) {
	s := startServer(t)
	rc := newRemotingClient(t)
	c := newNSClient(t, rc, s.Addr())
	mustRegister(t, c, brokerReq("c", "a", "127.0.0.1:1", 0, 1, "T"))
	before := string(s.routes.clusterInfo())
	beforeRoute, _ := s.routes.route("T", nil)

	good, crc, err := wire.EncodeRegisterBody(wire.DataVersion{Counter: 9}, []wire.TopicConfig{{TopicName: "Evil", ReadQueueNums: 1, WriteQueueNums: 1, Perm: 6}}, false)
	if err != nil {
		t.Fatal(err)
	}
	header := func(mut func(*remoting.RegisterBrokerRequestHeader)) *remoting.RegisterBrokerRequestHeader {
		h := &remoting.RegisterBrokerRequestHeader{BrokerName: "evil", BrokerAddr: "127.0.0.1:9", ClusterName: "c", HaServerAddr: "x", BodyCrc32: crc}
		mut(h)
		return h
	}
	cases := []struct {
		name string
		cmd  *remoting.Command
		code int16
	}{
		{"bad json", remoting.NewRequest(remoting.RegisterBroker, header(func(h *remoting.RegisterBrokerRequestHeader) { h.BodyCrc32 = 0 }), []byte(`{"topicConfigSerializeWrapper":`)), remoting.SystemError},
		{"crc mismatch", remoting.NewRequest(remoting.RegisterBroker, header(func(h *remoting.RegisterBrokerRequestHeader) { h.BodyCrc32 = crc ^ 1 }), good), remoting.SystemError},
		{"not zlib", remoting.NewRequest(remoting.RegisterBroker, header(func(h *remoting.RegisterBrokerRequestHeader) { h.Compressed = true; h.BodyCrc32 = 0 }), good), remoting.SystemError},
		{"empty broker name", remoting.NewRequest(remoting.RegisterBroker, header(func(h *remoting.RegisterBrokerRequestHeader) { h.BrokerName = "" }), good), remoting.InvalidParameter},
		{"missing headers", remoting.NewRequest(remoting.RegisterBroker, nil, good), remoting.SystemError},
		{"bad broker id", func() *remoting.Command {
			cmd := remoting.NewRequest(remoting.RegisterBroker, header(func(*remoting.RegisterBrokerRequestHeader) {}), good)
			cmd.Ext.Set("brokerId", "zero")
			return cmd
		}(), remoting.SystemError},
		{"route without topic", remoting.NewRequest(remoting.GetRouteInfoByTopic, nil, nil), remoting.SystemError},
		{"unregister without headers", remoting.NewRequest(remoting.UnregisterBroker, nil, nil), remoting.SystemError},
		{"bad data version", remoting.NewRequest(remoting.QueryDataVersion, &remoting.QueryDataVersionRequestHeader{BrokerName: "a", BrokerAddr: "127.0.0.1:1", ClusterName: "c"}, []byte("{")), remoting.SystemError},
		{"put kv without key", remoting.NewRequest(remoting.PutKVConfig, &remoting.PutKVConfigRequestHeader{Namespace: "n", Value: "v"}, nil), remoting.InvalidParameter},
		{"unknown code", remoting.NewRequest(9999, nil, []byte("junk")), remoting.RequestCodeNotSupported},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp := invoke(t, rc, s.Addr(), tc.cmd)
			if resp.Code != tc.code {
				t.Fatalf("code %d (%q), want %d", resp.Code, resp.Remark, tc.code)
			}
			if resp.Remark == "" {
				t.Fatal("error answer without a remark")
			}
		})
	}
	if after := string(s.routes.clusterInfo()); after != before {
		t.Fatalf("cluster info changed:\n%s\n%s", before, after)
	}
	if afterRoute, _ := s.routes.route("T", nil); string(afterRoute) != string(beforeRoute) {
		t.Fatalf("route changed:\n%s\n%s", beforeRoute, afterRoute)
	}
	if topics := s.routes.topicList(); len(topics) != 1 || topics[0] != "T" {
		t.Fatalf("topics %v", topics)
	}
}

func TestSilentBrokerExpires(t *testing.T) {
	s := startServer(t, WithScanInterval(20*time.Millisecond), WithBrokerTimeout(time.Hour))
	rc := newRemotingClient(t)
	c := newNSClient(t, rc, s.Addr())
	ctx := ctxT(t)
	// The broker asks for a short timeout; the server default is an hour,
	// so only the per-broker value can expire it.
	short := brokerReq("c", "short", "127.0.0.1:1", 0, 1, "Shared", "OnlyShort")
	short.HeartbeatTimeout = 200 * time.Millisecond
	mustRegister(t, c, short)
	mustRegister(t, c, brokerReq("c", "long", "127.0.0.1:2", 0, 1, "Shared"))

	eventually(t, "the silent broker to expire", func() bool {
		_, err := c.Route(ctx, "OnlyShort")
		return errors.Is(err, nsclient.ErrTopicNotExist)
	})
	r, err := c.Route(ctx, "Shared")
	if err != nil || len(r.BrokerDatas) != 1 || r.BrokerDatas[0].BrokerName != "long" {
		t.Fatalf("shared route %+v %v", r, err)
	}
}

func TestFakeClockExpiry(t *testing.T) {
	now := time.Now()
	var clock = func() time.Time { return now }
	s := New(WithClock(clock), WithBrokerTimeout(time.Minute))
	req := &remoting.Command{Code: remoting.RegisterBroker}
	req.SetHeader(&remoting.RegisterBrokerRequestHeader{BrokerName: "a", BrokerAddr: "127.0.0.1:1", ClusterName: "c", HaServerAddr: "h"})
	if resp := s.registerBroker(nil, req); resp.Code != 0 {
		t.Fatalf("register: %d %s", resp.Code, resp.Remark)
	}
	if got := s.routes.scan(now.Add(59 * time.Second)); len(got) != 0 {
		t.Fatalf("expired early: %v", got)
	}
	if got := s.routes.scan(now.Add(61 * time.Second)); len(got) != 1 {
		t.Fatalf("not expired: %v", got)
	}
}

func TestDisconnectedBrokerDisappears(t *testing.T) {
	s := startServer(t)
	queryRC := newRemotingClient(t)
	query := newNSClient(t, queryRC, s.Addr())
	ctx := ctxT(t)

	brokerRC := netclient.New()
	broker := newNSClient(t, brokerRC, s.Addr())
	mustRegister(t, broker, brokerReq("c", "gone", "127.0.0.1:1", 0, 1, "Shared", "OnlyGone"))
	mustRegister(t, query, brokerReq("c", "stays", "127.0.0.1:2", 0, 1, "Shared"))
	if _, err := query.Route(ctx, "OnlyGone"); err != nil {
		t.Fatal(err)
	}
	brokerRC.Close()
	eventually(t, "the disconnected broker to be dropped", func() bool {
		_, err := query.Route(ctx, "OnlyGone")
		return errors.Is(err, nsclient.ErrTopicNotExist)
	})
	r, err := query.Route(ctx, "Shared")
	if err != nil || len(r.BrokerDatas) != 1 || r.BrokerDatas[0].BrokerName != "stays" {
		t.Fatalf("shared route %+v %v", r, err)
	}
}

func TestStartShutdown(t *testing.T) {
	s := New(WithListenAddr("127.0.0.1:0"))
	if s.Addr() != "" {
		t.Fatal("address before start")
	}
	if err := s.Start(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	if err := s.Start(ctxT(t)); err == nil {
		t.Fatal("second start succeeded")
	}
	if err := s.Shutdown(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	if err := s.Shutdown(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	if err := s.Start(ctxT(t)); !errors.Is(err, ErrServerClosed) {
		t.Fatalf("start after shutdown: %v", err)
	}
	// Shutdown of a never-started server returns at once.
	if err := New().Shutdown(ctxT(t)); err != nil {
		t.Fatal(err)
	}
}

// TestShutdownStopsGoroutines: after Shutdown every goroutine the server
// started (scanner, transport loops, workers) is gone.
func TestShutdownStopsGoroutines(t *testing.T) {
	base := runtime.NumGoroutine()
	s := New(WithListenAddr("127.0.0.1:0"), WithScanInterval(time.Millisecond))
	if err := s.Start(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	rc := netclient.New()
	c := newNSClient(t, rc, s.Addr())
	mustRegister(t, c, brokerReq("c", "a", "127.0.0.1:1", 0, 1, "T"))
	rc.Close()
	if err := s.Shutdown(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	eventually(t, "goroutines to return to the baseline", func() bool { return runtime.NumGoroutine() <= base })
}

func TestKVConfigPersistsAcrossRestart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "kvConfig.json")
	s := New(WithListenAddr("127.0.0.1:0"), WithKVConfigPath(path))
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	rc := newRemotingClient(t)
	ctx := ctxT(t)
	c := newNSClient(t, rc, s.Addr())
	if err := c.PutKVConfig(ctx, NamespaceOrderTopicConfig, "Ordered", "broker-a:8"); err != nil {
		t.Fatal(err)
	}
	if err := c.PutKVConfig(ctx, "other", "k", "v"); err != nil {
		t.Fatal(err)
	}
	if err := c.DeleteKVConfig(ctx, "other", "k"); err != nil {
		t.Fatal(err)
	}
	if err := s.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	s2 := startServer(t, WithKVConfigPath(path))
	c2 := newNSClient(t, rc, s2.Addr())
	if v, err := c2.GetKVConfig(ctx, NamespaceOrderTopicConfig, "Ordered"); err != nil || v != "broker-a:8" {
		t.Fatalf("after restart: %q %v", v, err)
	}
	if _, err := c2.GetKVConfig(ctx, "other", "k"); !errors.Is(err, nsclient.ErrNotFound) {
		t.Fatalf("deleted key came back: %v", err)
	}
	mustRegister(t, c2, brokerReq("c", "broker-a", "127.0.0.1:1", 0, 1, "Ordered"))
	if r, _ := c2.Route(ctx, "Ordered"); r.OrderTopicConf != "broker-a:8" {
		t.Fatalf("orderTopicConf after restart %q", r.OrderTopicConf)
	}
	if err := os.WriteFile(path, []byte("{"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := New(WithListenAddr("127.0.0.1:0"), WithKVConfigPath(path)).Start(context.Background()); err == nil {
		t.Fatal("a corrupt KV file was accepted")
	}
}

// TestRegisterSkipsUnroutableTopics: a topic claiming more queues than a
// route may carry is left out of the routes (clients would build a queue
// entry per claimed queue); the broker's other topics register as usual.
func TestRegisterSkipsUnroutableTopics(t *testing.T) {
	s := startServer(t)
	c := newNSClient(t, newRemotingClient(t), s.Addr())
	ctx := ctxT(t)
	req := brokerReq("DefaultCluster", "broker-a", "127.0.0.1:10911", 0, 1, "Fine", "Huge")
	req.Topics[1].ReadQueueNums = wire.MaxQueueNums + 1
	mustRegister(t, c, req)
	if r, err := c.Route(ctx, "Fine"); err != nil || len(r.QueueDatas) != 1 {
		t.Fatalf("route of Fine: %+v, %v", r, err)
	}
	if r, err := c.Route(ctx, "Huge"); !errors.Is(err, nsclient.ErrTopicNotExist) {
		t.Fatalf("route of Huge: %+v, %v", r, err)
	}
}
