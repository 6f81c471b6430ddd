package client

import (
	"context"
	"errors"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rocketgo/rocketgo/remoting"
	"github.com/rocketgo/rocketgo/remoting/wire"
	"github.com/rocketgo/rocketgo/server/embedded"
	"github.com/rocketgo/rocketgo/server/embedded/embeddedtest"
)

func startServer(t *testing.T) *embedded.Server {
	t.Helper()
	return embeddedtest.Start(t)
}

func newClient(t *testing.T, srv *embedded.Server, opts ...Option) *Client {
	t.Helper()
	c, err := New(append([]Option{WithNameServers(srv.NamesrvAddr())}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestNewRequiresNameServer(t *testing.T) {
	if _, err := New(); !errors.Is(err, ErrNoNameServer) {
		t.Fatalf("New() err = %v, want ErrNoNameServer", err)
	}
	if _, err := New(WithNameServers(" ; ")); !errors.Is(err, ErrNoNameServer) {
		t.Fatalf("New(blank) err = %v, want ErrNoNameServer", err)
	}
}

func TestClientID(t *testing.T) {
	a, err := New(WithNameServers("127.0.0.1:1"), WithClientIP("10.1.2.3"))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := New(WithNameServers("127.0.0.1:1"), WithClientIP("10.1.2.3"))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if !strings.HasPrefix(a.ClientID(), "10.1.2.3@") || a.ClientID() == b.ClientID() {
		t.Fatalf("default ids %q and %q: want distinct ip@pid#n ids", a.ClientID(), b.ClientID())
	}
	c, err := New(WithNameServers("127.0.0.1:1"), WithClientIP("10.1.2.3"), WithInstanceName("inst"), WithUnitName("u1"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if got := c.ClientID(); got != "10.1.2.3@inst@u1" {
		t.Fatalf("ClientID = %q", got)
	}
}

func TestNamespace(t *testing.T) {
	cases := []struct{ ns, in, want string }{
		{"", "T", "T"},
		{"ns", "T", "ns%T"},
		{"ns", "ns%T", "ns%T"},
		{"ns", "%RETRY%G", "%RETRY%ns%G"},
		{"ns", "%DLQ%ns%G", "%DLQ%ns%G"},
		{"ns", "TBW102", "TBW102"},
	}
	for _, tc := range cases {
		if got := WrapNamespace(tc.ns, tc.in); got != tc.want {
			t.Errorf("Wrap(%q,%q) = %q, want %q", tc.ns, tc.in, got, tc.want)
		}
	}
	if got := UnwrapNamespace("ns", "%RETRY%ns%G"); got != "%RETRY%G" {
		t.Errorf("Unwrap retry = %q", got)
	}
	if got := UnwrapNamespace("ns", "ns%T"); got != "T" {
		t.Errorf("Unwrap = %q", got)
	}
}

func TestRefCount(t *testing.T) {
	c, err := New(WithNameServers("127.0.0.1:1"))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Acquire(); err != nil {
		t.Fatal(err)
	}
	c.Release()
	if c.Closed() {
		t.Fatal("closed while a reference is held")
	}
	c.Release()
	if !c.Closed() {
		t.Fatal("last Release did not close")
	}
	if err := c.Acquire(); !errors.Is(err, ErrClosed) {
		t.Fatalf("Acquire after close = %v", err)
	}
	if _, err := c.Route(context.Background(), "T"); !errors.Is(err, ErrClosed) {
		t.Fatalf("Route after close = %v", err)
	}
}

func TestRoutesAndFallback(t *testing.T) {
	srv := startServer(t)
	c := newClient(t, srv)
	ctx := ctxT(t)

	// An unknown topic has no route of its own...
	if _, err := c.Route(ctx, "NoSuchTopic"); !errors.Is(err, ErrTopicNotExist) {
		t.Fatalf("Route(unknown) = %v, want ErrTopicNotExist", err)
	}
	// ...but producers publish through the TBW102 template, min(4, n) queues.
	ti, err := c.PublishInfo(ctx, "NoSuchTopic")
	if err != nil {
		t.Fatal(err)
	}
	if !ti.FromDefault || len(ti.Publish) != 4 || ti.Publish[0].Topic != "NoSuchTopic" {
		t.Fatalf("fallback info = %+v", ti)
	}
	if ti.Publish[0].BrokerName != "broker-a" {
		t.Fatalf("broker = %q", ti.Publish[0].BrokerName)
	}
	if got := c.MasterAddr("broker-a"); got != srv.BrokerAddr() {
		t.Fatalf("MasterAddr = %q, want %q", got, srv.BrokerAddr())
	}
	if got := c.BrokerNameOf(srv.BrokerAddr()); got != "broker-a" {
		t.Fatalf("BrokerNameOf = %q", got)
	}
	// TBW102 itself is readable and writable.
	sub, err := c.SubscribeQueues(ctx, "TBW102")
	if err != nil || len(sub) == 0 {
		t.Fatalf("SubscribeQueues(TBW102) = %v, %v", sub, err)
	}
	if !slices.Contains(c.Topics(), "TBW102") {
		t.Fatalf("Topics = %v", c.Topics())
	}
}

func TestConcurrentFirstLookup(t *testing.T) {
	srv := startServer(t)
	c := newClient(t, srv)
	ctx := ctxT(t)
	var wg sync.WaitGroup
	infos := make([]*TopicInfo, 16)
	for i := range infos {
		wg.Add(1)
		go func() {
			defer wg.Done()
			infos[i], _ = c.Route(ctx, "TBW102")
		}()
	}
	wg.Wait()
	for _, ti := range infos {
		if ti == nil || len(ti.Publish) == 0 {
			t.Fatalf("lookup failed: %+v", ti)
		}
	}
}

func TestResolver(t *testing.T) {
	srv := startServer(t)
	var calls atomic.Int32
	c, err := New(WithResolver(func(context.Context) ([]string, error) {
		calls.Add(1)
		return []string{srv.NamesrvAddr()}, nil
	}))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Route(ctxT(t), "TBW102"); err != nil {
		t.Fatal(err)
	}
	if calls.Load() == 0 {
		t.Fatal("resolver never called")
	}
	bad, err := New(WithResolver(func(context.Context) ([]string, error) { return nil, errors.New("boom") }))
	if err != nil {
		t.Fatal(err)
	}
	defer bad.Close()
	if _, err := bad.Route(ctxT(t), "TBW102"); err == nil {
		t.Fatal("Route with failing resolver succeeded")
	}
}

// fakeConsumer records the broker requests it receives.
type fakeConsumer struct {
	group string
	mu    sync.Mutex
	codes []int16
	got   chan int16
}

func (f *fakeConsumer) ConsumerData() wire.ConsumerData {
	return wire.ConsumerData{
		GroupName: f.group, ConsumeType: wire.ConsumePassively, MessageModel: wire.Clustering,
		ConsumeFromWhere:    wire.ConsumeFromLastOffset,
		SubscriptionDataSet: []wire.SubscriptionData{{Topic: "TBW102", SubString: "*", ExpressionType: "TAG"}},
	}
}

func (f *fakeConsumer) HandleRequest(ctx context.Context, addr string, req *remoting.Command) *remoting.Command {
	f.mu.Lock()
	f.codes = append(f.codes, req.Code)
	f.mu.Unlock()
	select {
	case f.got <- req.Code:
	default:
	}
	return nil
}

func TestHeartbeatConsumerListAndNotify(t *testing.T) {
	srv := startServer(t)
	ctx := ctxT(t)
	a := newClient(t, srv, WithInstanceName("a"))
	b := newClient(t, srv, WithInstanceName("b"))
	fa := &fakeConsumer{group: "CG", got: make(chan int16, 16)}
	if err := a.RegisterConsumer("CG", fa); err != nil {
		t.Fatal(err)
	}
	if err := a.RegisterConsumer("CG", fa); !errors.Is(err, ErrGroupRegistered) {
		t.Fatalf("second register = %v", err)
	}
	if _, err := a.Route(ctx, "TBW102"); err != nil {
		t.Fatal(err)
	}
	if err := a.SendHeartbeat(ctx); err != nil {
		t.Fatal(err)
	}
	ids, err := a.ConsumerIDs(ctx, "TBW102", "CG")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(ids, []string{a.ClientID()}) {
		t.Fatalf("ids = %v, want [%s]", ids, a.ClientID())
	}

	// A second member joins: the broker notifies a, dispatched by group.
	fb := &fakeConsumer{group: "CG", got: make(chan int16, 16)}
	if err := b.RegisterConsumer("CG", fb); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Route(ctx, "TBW102"); err != nil {
		t.Fatal(err)
	}
	if err := b.SendHeartbeat(ctx); err != nil {
		t.Fatal(err)
	}
	select {
	case code := <-fa.got:
		if code != remoting.NotifyConsumerIDsChanged {
			t.Fatalf("code %d, want 40", code)
		}
	case <-ctx.Done():
		t.Fatal("no NOTIFY_CONSUMER_IDS_CHANGED dispatched to group CG")
	}
	ids, err = a.ConsumerIDs(ctx, "TBW102", "CG")
	if err != nil || len(ids) != 2 {
		t.Fatalf("ids = %v, %v", ids, err)
	}

	// b leaves: UNREGISTER_CLIENT shrinks the group at once.
	b.UnregisterConsumer(ctx, "CG")
	ids, err = a.ConsumerIDs(ctx, "TBW102", "CG")
	if err != nil || !slices.Equal(ids, []string{a.ClientID()}) {
		t.Fatalf("after unregister ids = %v, %v", ids, err)
	}
}

func TestCredentialsHook(t *testing.T) {
	srv := startServer(t)
	var n atomic.Int32
	c := newClient(t, srv, WithCredentials(func(cmd *remoting.Command) {
		n.Add(1)
		cmd.Ext.Set("AccessKey", "ak")
	}))
	if err := c.RegisterProducer("PG", nil); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Route(ctxT(t), "TBW102"); err != nil {
		t.Fatal(err)
	}
	if err := c.SendHeartbeat(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	if n.Load() == 0 {
		t.Fatal("credentials hook not called for the heartbeat")
	}
}

// clientGoroutines counts goroutines running client-side code: this
// package or the remoting client's connections. Server goroutines (the
// embedded broker's worker pools come and go on their own) are ignored.
func clientGoroutines() (int, string) {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	n := 0
	var leaked []string
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(g, "rocketgo/internal/client.") || strings.Contains(g, "remoting.(*clientConn)") ||
			strings.Contains(g, "remoting.(*Client)") {
			if strings.Contains(g, "TestCloseStopsGoroutines") {
				continue // the test itself
			}
			n++
			leaked = append(leaked, g)
		}
	}
	return n, strings.Join(leaked, "\n\n")
}

func TestCloseStopsGoroutines(t *testing.T) {
	srv := startServer(t)
	// The broker's own remoting client (to the name server) counts too:
	// take it as the baseline.
	base, _ := clientGoroutines()
	for i := 0; i < 3; i++ {
		c, err := New(WithNameServers(srv.NamesrvAddr()), WithHeartbeatInterval(10*time.Millisecond), WithRouteRefreshInterval(10*time.Millisecond))
		if err != nil {
			t.Fatal(err)
		}
		c.RegisterProducer("PG", nil)
		if _, err := c.Route(ctxT(t), "TBW102"); err != nil {
			t.Fatal(err)
		}
		time.Sleep(30 * time.Millisecond)
		if n, _ := clientGoroutines(); n <= base {
			t.Fatal("no client goroutines while running: the check would miss a leak")
		}
		c.Close()
		c.Close()
		// A goroutine that has run its deferred wg.Done may need a moment
		// to disappear from the dump.
		for deadline := time.Now().Add(2 * time.Second); ; time.Sleep(5 * time.Millisecond) {
			n, stacks := clientGoroutines()
			if n <= base {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%d client goroutines (baseline %d) after Close:\n%s", n, base, stacks)
			}
		}
	}
}

func TestRefreshLoopAndWatch(t *testing.T) {
	srv := startServer(t)
	c := newClient(t, srv, WithRouteRefreshInterval(20*time.Millisecond))
	seen := make(chan *TopicInfo, 64)
	stop := c.WatchRoutes(func(ti *TopicInfo) {
		select {
		case seen <- ti:
		default:
		}
	})
	defer stop()
	first, err := c.Route(ctxT(t), "TBW102")
	if err != nil {
		t.Fatal(err)
	}
	// The first store, then at least one refresh by the loop.
	for n := 0; n < 2; n++ {
		select {
		case ti := <-seen:
			if ti.Topic != "TBW102" {
				t.Fatalf("watched topic %q", ti.Topic)
			}
		case <-ctxT(t).Done():
			t.Fatalf("only %d route stores observed", n)
		}
	}
	if again, _ := c.Route(ctxT(t), "TBW102"); again == first {
		t.Fatal("cached route never replaced by a refresh")
	}
	c.ForgetTopic("TBW102")
	if slices.Contains(c.Topics(), "TBW102") {
		t.Fatal("ForgetTopic kept the topic")
	}
}

// TestOrderTopicConfBounds: an orderTopicConf entry claiming more queues
// than a route may carry is skipped, like an unreadable one, instead of
// building a publish list of that length.
func TestOrderTopicConfBounds(t *testing.T) {
	route := &wire.TopicRoute{
		OrderTopicConf: "broker-a:4;broker-b:2147483647;broker-c:-3;broker-d:x;broker-e:2",
		BrokerDatas: []wire.BrokerData{
			{BrokerName: "broker-a", BrokerAddrs: map[int64]string{0: "10.0.0.1:10911"}},
			{BrokerName: "broker-e", BrokerAddrs: map[int64]string{0: "10.0.0.5:10911"}},
		},
	}
	ti := buildTopicInfo("T", route, false)
	var got []string
	for _, q := range ti.Publish {
		got = append(got, q.BrokerName)
	}
	want := []string{"broker-a", "broker-a", "broker-a", "broker-a", "broker-e", "broker-e"}
	if !slices.Equal(got, want) {
		t.Fatalf("publish queues of %v", got)
	}
}
