package nsclient

import (
	"context"
	"encoding/json"
	"errors"
	"hash/crc32"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rocketgo/rocketgo/remoting/wire"

	"github.com/rocketgo/rocketgo/remoting/netclient"
	"github.com/rocketgo/rocketgo/server/transport"

	"github.com/rocketgo/rocketgo/remoting"
)

// Route bodies as name servers send them (the same samples as
// remoting/wire's route tests).
const standardRoute = `{"brokerDatas":[{"brokerAddrs":{"0":"127.0.0.1:10911","1":"127.0.0.1:10921"},"brokerName":"broker-a","cluster":"DefaultCluster","enableActingMaster":false}],"filterServerTable":{},"queueDatas":[{"brokerName":"broker-a","perm":6,"readQueueNums":4,"topicSysFlag":0,"writeQueueNums":4}]}`

// bareRoute is what an Apache name server sends a requester older than
// 4.9.4: fastjson's bare integer keys, the 4.x topicSynFlag spelling.
const bareRoute = `{"brokerDatas":[{"brokerAddrs":{0:"127.0.0.1:10911",1:"127.0.0.1:10921"},"brokerName":"broker-a","cluster":"DefaultCluster"}],"filterServerTable":{},"queueDatas":[{"brokerName":"broker-a","perm":6,"readQueueNums":4,"topicSynFlag":0,"writeQueueNums":4}]}`

// fakeNameServer answers GET_ROUTEINFO_BY_TOPIC with a fixed code and body
// and REGISTER_BROKER with a fixed answer, recording what it received.
type fakeNameServer struct {
	rs       *transport.Server
	addr     string
	code     int16
	body     []byte
	routes   atomic.Int32
	mu       sync.Mutex
	lastReq  *remoting.Command
	register []*remoting.Command
}

func startFake(t *testing.T, code int16, body string) *fakeNameServer {
	t.Helper()
	f := &fakeNameServer{rs: transport.NewServer("127.0.0.1:0"), code: code, body: []byte(body)}
	f.rs.Handle(remoting.GetRouteInfoByTopic, func(rc *transport.RequestContext, req *remoting.Command) {
		f.routes.Add(1)
		f.mu.Lock()
		f.lastReq = req
		f.mu.Unlock()
		resp := remoting.NewResponse(req, f.code, "fake remark")
		if f.code == remoting.Success {
			resp.Body = f.body
		}
		_ = rc.Reply(resp)
	})
	f.rs.Handle(remoting.RegisterBroker, func(rc *transport.RequestContext, req *remoting.Command) {
		f.mu.Lock()
		f.register = append(f.register, req)
		f.mu.Unlock()
		resp := remoting.NewResponse(req, remoting.Success, "")
		resp.Ext.Set("masterAddr", "10.0.0.1:10911")
		resp.Ext.Set("haServerAddr", "10.0.0.1:10912")
		resp.Body = []byte(`{"table":{"T":"broker-a:8"}}`)
		_ = rc.Reply(resp)
	})
	f.rs.Handle(remoting.UnregisterBroker, func(rc *transport.RequestContext, req *remoting.Command) {
		_ = rc.Reply(remoting.NewResponse(req, remoting.SystemError, "nope"))
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := f.rs.Start(ctx); err != nil {
		t.Fatal(err)
	}
	f.addr = f.rs.Addr().String()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = f.rs.Shutdown(ctx)
	})
	return f
}

// deadAddr returns a loopback address nothing listens on.
func deadAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

func newTestClient(t *testing.T, addrs string, opts ...Option) *Client {
	t.Helper()
	rc := netclient.New()
	t.Cleanup(func() { rc.Close() })
	c, err := New(rc, addrs, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestNew(t *testing.T) {
	rc := netclient.New()
	defer rc.Close()
	if _, err := New(rc, " ; "); !errors.Is(err, ErrNoNameServer) {
		t.Fatalf("empty list: %v", err)
	}
	if _, err := New(nil, "a:1"); err == nil {
		t.Fatal("nil remoting client accepted")
	}
	c, err := New(rc, " a:1 ;b:2;")
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Addrs(); len(got) != 2 || got[0] != "a:1" || got[1] != "b:2" {
		t.Fatalf("addrs %v", got)
	}
}

// TestRouteBareKeysAndStandardFlag: an Apache-style name server answering in
// the bare-key form is understood, and the request asks for standard JSON.
func TestRouteBareKeysAndStandardFlag(t *testing.T) {
	f := startFake(t, remoting.Success, bareRoute)
	c := newTestClient(t, f.addr)
	r, err := c.Route(testCtx(t), "T")
	if err != nil {
		t.Fatal(err)
	}
	if r.BrokerDatas[0].BrokerAddrs[1] != "127.0.0.1:10921" || r.BrokerDatas[0].MasterAddr() != "127.0.0.1:10911" {
		t.Fatalf("route %+v", r)
	}
	f.mu.Lock()
	req := f.lastReq
	f.mu.Unlock()
	topic, _ := req.Ext.Get("topic")
	std, _ := req.Ext.Get("acceptStandardJsonOnly")
	if topic != "T" || std != "true" {
		t.Fatalf("request ext topic=%q acceptStandardJsonOnly=%q", topic, std)
	}
}

// TestRouteFailover: the first name server is down; the call succeeds on
// the second, and later calls go straight to the second.
func TestRouteFailover(t *testing.T) {
	f := startFake(t, remoting.Success, standardRoute)
	c := newTestClient(t, deadAddr(t)+";"+f.addr, withStart(0))
	for i := 0; i < 3; i++ {
		r, err := c.Route(testCtx(t), "T")
		if err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
		if r.BrokerDatas[0].MasterAddr() != "127.0.0.1:10911" {
			t.Fatalf("route %+v", r)
		}
	}
	if got := f.routes.Load(); got != 3 {
		t.Fatalf("second name server answered %d calls, want 3", got)
	}
	if got := c.current.Load(); got != 1 {
		t.Fatalf("client did not stick to the live name server: current=%d", got)
	}
}

func TestRouteAllDown(t *testing.T) {
	c := newTestClient(t, deadAddr(t)+";"+deadAddr(t), withStart(1))
	_, err := c.Route(testCtx(t), "T")
	var all *AllFailedError
	if !errors.As(err, &all) || len(all.Errs) != 2 {
		t.Fatalf("got %v, want AllFailedError with 2 attempts", err)
	}
	var op *remoting.OpError
	if !errors.As(err, &op) {
		t.Fatalf("transport error not reachable with errors.As: %v", err)
	}
}

// TestRouteErrorsAreAnswers: a response code is authoritative, so the
// client does not try the next name server.
func TestRouteErrorsAreAnswers(t *testing.T) {
	for _, tc := range []struct {
		code     int16
		sentinel error
	}{{remoting.TopicNotExist, ErrTopicNotExist}, {remoting.SystemError, nil}} {
		first := startFake(t, tc.code, "")
		second := startFake(t, remoting.Success, standardRoute)
		c := newTestClient(t, first.addr+";"+second.addr, withStart(0))
		_, err := c.Route(testCtx(t), "T")
		var re *remoting.ResponseError
		if !errors.As(err, &re) || re.Code != tc.code || re.Remark != "fake remark" || re.Addr != first.addr {
			t.Fatalf("code %d: got %v", tc.code, err)
		}
		if tc.sentinel != nil && !errors.Is(err, tc.sentinel) {
			t.Fatalf("code %d: %v does not match %v", tc.code, err, tc.sentinel)
		}
		if tc.sentinel == nil && errors.Is(err, ErrTopicNotExist) {
			t.Fatalf("code %d matched ErrTopicNotExist", tc.code)
		}
		if n := second.routes.Load(); n != 0 {
			t.Fatalf("code %d: second name server asked %d times", tc.code, n)
		}
	}
	// Success with a body that does not parse.
	bad := startFake(t, remoting.Success, "{")
	if _, err := newTestClient(t, bad.addr).Route(testCtx(t), "T"); !errors.Is(err, ErrMalformedResponse) {
		t.Fatalf("bad body: %v", err)
	}
}

func TestRegisterBrokerAllNameServers(t *testing.T) {
	a, b := startFake(t, remoting.Success, ""), startFake(t, remoting.Success, "")
	dead := deadAddr(t)
	c := newTestClient(t, a.addr+";"+dead+";"+b.addr)
	req := RegisterBrokerRequest{
		ClusterName: "c", BrokerName: "broker-a", BrokerAddr: "10.0.0.2:10911", HAServerAddr: "10.0.0.2:10912",
		BrokerID: 1, HeartbeatTimeout: 5 * time.Second, DataVersion: wire.DataVersion{Counter: 7, Timestamp: 9},
		Topics: []wire.TopicConfig{{TopicName: "T", ReadQueueNums: 4, WriteQueueNums: 4, Perm: 6}},
	}
	res, err := c.RegisterBroker(testCtx(t), req)
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 3 || res[1].Err == nil || res[1].NameServer != dead {
		t.Fatalf("results %+v", res)
	}
	for _, i := range []int{0, 2} {
		r := res[i]
		if r.Err != nil || r.MasterAddr != "10.0.0.1:10911" || r.HAServerAddr != "10.0.0.1:10912" || r.OrderTopics["T"] != "broker-a:8" {
			t.Fatalf("result %d: %+v", i, r)
		}
	}
	for _, f := range []*fakeNameServer{a, b} {
		f.mu.Lock()
		got := f.register
		f.mu.Unlock()
		if len(got) != 1 {
			t.Fatalf("%s got %d registrations", f.addr, len(got))
		}
		cmd := got[0]
		ext := func(k string) string { v, _ := cmd.Ext.Get(k); return v }
		if ext("brokerName") != "broker-a" || ext("brokerId") != "1" || ext("clusterName") != "c" ||
			ext("heartbeatTimeoutMillis") != "5000" || ext("compressed") != "false" {
			t.Fatalf("register ext %s", cmd.Ext.String())
		}
		crc := int32(crc32.ChecksumIEEE(cmd.Body) & 0x7FFFFFFF)
		if ext("bodyCrc32") != strconv.Itoa(int(crc)) {
			t.Fatalf("bodyCrc32 %s, body crc %d", ext("bodyCrc32"), crc)
		}
		var body struct {
			Wrapper struct {
				DataVersion wire.DataVersion            `json:"dataVersion"`
				Topics      map[string]wire.TopicConfig `json:"topicConfigTable"`
			} `json:"topicConfigSerializeWrapper"`
		}
		if err := json.Unmarshal(cmd.Body, &body); err != nil {
			t.Fatal(err)
		}
		if body.Wrapper.DataVersion.Counter != 7 || body.Wrapper.Topics["T"].TopicFilterType != "SINGLE_TAG" {
			t.Fatalf("register body %s", cmd.Body)
		}
	}

	if err := c.UnregisterBroker(testCtx(t), "c", "broker-a", "10.0.0.2:10911", 1); err == nil {
		t.Fatal("unregister reported success although name servers failed")
	}
}

// TestWaitRoute: a routed topic returns at once; an unknown one is polled
// until ctx ends, and the error names both the deadline and the last answer.
func TestWaitRoute(t *testing.T) {
	ok := startFake(t, remoting.Success, bareRoute)
	if r, err := newTestClient(t, ok.addr).WaitRoute(testCtx(t), "T"); err != nil || r.BrokerDatas[0].MasterAddr() != "127.0.0.1:10911" {
		t.Fatalf("routed topic: %+v, %v", r, err)
	}
	missing := startFake(t, remoting.TopicNotExist, "")
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	_, err := newTestClient(t, missing.addr).WaitRoute(ctx, "T")
	if !errors.Is(err, context.DeadlineExceeded) || !errors.Is(err, ErrTopicNotExist) {
		t.Fatalf("unknown topic: want the deadline and ErrTopicNotExist, got %v", err)
	}
	if n := missing.routes.Load(); n < 2 {
		t.Fatalf("WaitRoute asked %d time(s); it should poll", n)
	}
}
