package consumer

import (
	"context"
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rocketgo/rocketgo/remoting/netclient"

	"github.com/rocketgo/rocketgo/internal/nsclient"
	"github.com/rocketgo/rocketgo/message"
	"github.com/rocketgo/rocketgo/remoting"
	"github.com/rocketgo/rocketgo/server/broker"
	"github.com/rocketgo/rocketgo/server/embedded"
	"github.com/rocketgo/rocketgo/server/namesrv"
)

type testServer struct {
	*embedded.Server
	dir    string
	nsPort int
	brPort int
}

func serverConfig(dir string) broker.Config {
	bc := broker.DefaultConfig()
	bc.StorePathRootDir = dir
	bc.MappedFileSizeCommitLog = 16 << 20
	bc.MappedFileSizeConsumeQueue = 20 * 10000
	bc.MaxHashSlotNum, bc.MaxIndexNum = 1000, 4000
	bc.DefaultTopicQueueNums = 4
	bc.FlushConsumerOffsetInterval = 200 * time.Millisecond
	return bc
}

func startServerAt(t testing.TB, dir string, nsPort, brPort int, mutate ...func(*broker.Config)) *embedded.Server {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	bc := serverConfig(dir)
	for _, m := range mutate {
		m(&bc)
	}
	srv, err := embedded.Start(ctx, embedded.Config{Host: "127.0.0.1", NamesrvPort: nsPort, BrokerPort: brPort, Broker: bc})
	if err != nil {
		t.Fatal(err)
	}
	return srv
}

func startServer(t testing.TB, mutate ...func(*broker.Config)) *testServer {
	t.Helper()
	dir := t.TempDir()
	srv := startServerAt(t, dir, -1, -1, mutate...)
	ts := &testServer{Server: srv, dir: dir}
	_, p, _ := strings.Cut(srv.NamesrvAddr(), ":")
	fmt.Sscan(p, &ts.nsPort)
	_, p, _ = strings.Cut(srv.BrokerAddr(), ":")
	fmt.Sscan(p, &ts.brPort)
	t.Cleanup(func() {
		// Consumers are gone by now (their cleanups ran first), but the
		// broker may still hold their last long polls; let those expire
		// before stopping it (server/broker races on parked pulls at
		// Shutdown).
		time.Sleep(testSuspend + 100*time.Millisecond)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		ts.Server.Shutdown(ctx)
	})
	return ts
}

// brokerOnly is a name server plus a broker that can be restarted on its
// own directory and port.
type brokerOnly struct {
	ns   *namesrv.Server
	br   *broker.Broker
	dir  string
	port int
}

func startBrokerOnly(t testing.TB) *brokerOnly {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ns := namesrv.New(namesrv.WithListenAddr("127.0.0.1:0"))
	if err := ns.Start(ctx); err != nil {
		t.Fatal(err)
	}
	b := &brokerOnly{ns: ns, dir: t.TempDir()}
	b.start(t, 0)
	_, p, _ := strings.Cut(b.br.Addr(), ":")
	fmt.Sscan(p, &b.port)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		b.br.Shutdown(ctx)
		ns.Shutdown(ctx)
	})
	return b
}

func (b *brokerOnly) start(t testing.TB, port int) {
	t.Helper()
	cfg := serverConfig(b.dir)
	cfg.NamesrvAddr = b.ns.Addr()
	cfg.ListenHost = "127.0.0.1"
	cfg.BrokerIP1 = "127.0.0.1"
	cfg.ListenPort = port
	deadline := time.Now().Add(10 * time.Second)
	for {
		br, err := broker.New(cfg)
		if err == nil {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			err = br.Start(ctx)
			cancel()
			if err == nil {
				b.br = br
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatal(err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// restart stops the broker with Shutdown and starts a new one on the same
// directory and port.
func (b *brokerOnly) restart(t testing.TB, down time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	b.br.Shutdown(ctx)
	cancel()
	time.Sleep(down)
	b.start(t, b.port)
}

// sender sends test messages with raw SEND_MESSAGE requests, so these tests
// do not depend on the producer package.
type sender struct {
	rc   *netclient.Client
	addr string
}

func newSender(t testing.TB, ts *testServer) *sender {
	rc := netclient.New()
	t.Cleanup(func() { rc.Close() })
	return &sender{rc: rc, addr: ts.BrokerAddr()}
}

func (s *sender) send(t testing.TB, topic string, queue int, tag string, body []byte, props ...string) {
	t.Helper()
	m := message.New(topic, body)
	m.Tags = tag
	for i := 0; i+1 < len(props); i += 2 {
		m.SetProperty(props[i], props[i+1])
	}
	h := remoting.SendMessageRequestHeader{ProducerGroup: "test-pg", Topic: topic, DefaultTopic: "TBW102",
		DefaultTopicQueueNums: 4, QueueID: int32(queue), BornTimestamp: time.Now().UnixMilli(),
		Properties: string(m.EncodeProperties(nil))}
	for attempt := 0; ; attempt++ {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		resp, err := s.rc.InvokeSync(ctx, s.addr, remoting.NewRequest(remoting.SendMessage, &h, body))
		cancel()
		if err == nil && resp.Code == remoting.Success {
			return
		}
		if attempt > 50 {
			t.Fatalf("send: %v %v", resp, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// sendStamped sends a 128-byte message carrying its send time (ns) in
// property sentNanos, for end-to-end latency.
func (s *sender) sendStamped(t testing.TB, topic string, queue int) {
	m := message.New(topic, make([]byte, 128))
	m.SetProperty("sentNanos", strconv.FormatInt(time.Now().UnixNano(), 10))
	h := remoting.SendMessageRequestHeader{ProducerGroup: "test-pg", Topic: topic, DefaultTopic: "TBW102",
		DefaultTopicQueueNums: 4, QueueID: int32(queue), BornTimestamp: time.Now().UnixMilli(),
		Properties: string(m.EncodeProperties(nil))}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if _, err := s.rc.InvokeSync(ctx, s.addr, remoting.NewRequest(remoting.SendMessage, &h, m.Body)); err != nil {
		t.Error(err)
	}
}

// sendN sends n messages with bodies prefix-0..prefix-(n-1), spread over
// queues round robin.
func (s *sender) sendN(t testing.TB, topic, prefix string, n, queues int) {
	t.Helper()
	var wg sync.WaitGroup
	const workers = 8
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += workers {
				s.send(t, topic, i%queues, "", []byte(fmt.Sprintf("%s-%d", prefix, i)))
			}
		}()
	}
	wg.Wait()
}

func waitRoute(t testing.TB, nsAddr, topic string) {
	t.Helper()
	rc := netclient.New()
	defer rc.Close()
	ns, err := nsclient.New(rc, nsAddr)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := ns.WaitRoute(ctx, topic); err != nil {
		t.Fatal(err)
	}
}

// createTopic sends one message to make the broker create topic, then waits
// for its route. The message body is "init".
func createTopic(t testing.TB, ts *testServer, s *sender, topic string) {
	s.send(t, topic, 0, "", []byte("init"))
	waitRoute(t, ts.NamesrvAddr(), topic)
}

// recorder counts deliveries per body.
type recorder struct {
	mu    sync.Mutex
	seen  map[string]int
	total int
	msgs  []*message.MessageExt
	keep  bool
}

func newRecorder() *recorder { return &recorder{seen: map[string]int{}} }

func (r *recorder) add(msgs []*message.MessageExt) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, m := range msgs {
		r.seen[string(m.Body)]++
		r.total++
		if r.keep {
			r.msgs = append(r.msgs, m)
		}
	}
}

func (r *recorder) listener() ConcurrentListener {
	return func(_ context.Context, _ *ConcurrentContext, msgs []*message.MessageExt) ConsumeResult {
		r.add(msgs)
		return ConsumeSuccess
	}
}

// snapshot returns the total count and a copy of the per-body counts,
// read under the lock (a late delivery may still be arriving).
func (r *recorder) snapshot() (int, map[string]int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	seen := make(map[string]int, len(r.seen))
	for k, v := range r.seen {
		seen[k] = v
	}
	return r.total, seen
}

func (r *recorder) distinct() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.seen)
}

func (r *recorder) dups() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	d := 0
	for _, n := range r.seen {
		d += n - 1
	}
	return d
}

func waitFor(t testing.TB, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// testSuspend is the long-poll hold used in tests.
const testSuspend = 500 * time.Millisecond

// fastOpts are short intervals for tests.
func fastOpts(ts *testServer, group string) []Option {
	return []Option{
		WithNameServers(ts.NamesrvAddr()), WithGroup(group),
		WithConsumeFrom(ConsumeFromFirstOffset),
		WithRebalanceInterval(500 * time.Millisecond), WithPersistInterval(200 * time.Millisecond),
		WithHeartbeatInterval(time.Second), WithRouteRefreshInterval(time.Second),
		WithPullBackoff(100 * time.Millisecond), WithBrokerSuspend(testSuspend),
		WithLockInterval(time.Second),
	}
}

func startPush(t testing.TB, ts *testServer, group, topic, expr string, l Listener, extra ...Option) *PushConsumer {
	t.Helper()
	c, err := NewPush(append(fastOpts(ts, group), extra...)...)
	if err != nil {
		t.Fatal(err)
	}
	if err := subscribeAny(c, topic, expr, l); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { shutdown(t, c) })
	return c
}

// subscribeAny subscribes l with the method of its kind.
func subscribeAny(c *PushConsumer, topic, expr string, l Listener) error {
	if o, ok := l.(OrderlyListener); ok {
		return c.SubscribeOrderly(topic, expr, o)
	}
	return c.Subscribe(topic, expr, l.(ConcurrentListener))
}

func shutdown(t testing.TB, c *PushConsumer) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.Shutdown(ctx); err != nil {
		t.Logf("shutdown: %v", err)
	}
}

// checkGoroutines fails if goroutines started after base are still alive.
func checkGoroutines(t testing.TB, base int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		n := runtime.NumGoroutine()
		if n <= base {
			return
		}
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			buf = buf[:runtime.Stack(buf, true)]
			t.Fatalf("goroutines: %d > baseline %d\n%s", n, base, buf)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func countGoroutines() int { return runtime.NumGoroutine() }
