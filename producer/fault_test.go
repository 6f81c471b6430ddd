package producer

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rocketgo/rocketgo/remoting/wire"

	iclient "github.com/rocketgo/rocketgo/internal/client"
	"github.com/rocketgo/rocketgo/internal/nsclient"
	"github.com/rocketgo/rocketgo/message"
	"github.com/rocketgo/rocketgo/selector"
	"github.com/rocketgo/rocketgo/server/broker"
	"github.com/rocketgo/rocketgo/server/embedded"
)

// proxy forwards TCP connections to target and can be switched to refuse
// them (accept and close at once, and drop live ones) or to delay every
// chunk sent towards the target.
type proxy struct {
	ln     net.Listener
	target string
	mode   atomic.Int32 // proxyUp, proxyDown, proxySlow
	delay  time.Duration

	mu    sync.Mutex
	conns map[net.Conn]bool
	wg    sync.WaitGroup
}

const (
	proxyUp int32 = iota
	proxyDown
	proxySlow
	proxyBlackhole // swallow everything sent to the target
)

func startProxy(t *testing.T, target string, delay time.Duration) *proxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{ln: ln, target: target, delay: delay, conns: map[net.Conn]bool{}}
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(func() {
		ln.Close()
		p.dropAll()
		p.wg.Wait()
	})
	return p
}

func (p *proxy) addr() string { return p.ln.Addr().String() }

func (p *proxy) track(c net.Conn, add bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if add {
		p.conns[c] = true
	} else {
		delete(p.conns, c)
	}
}

func (p *proxy) dropAll() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for c := range p.conns {
		c.Close()
	}
}

func (p *proxy) set(mode int32) {
	p.mode.Store(mode)
	if mode == proxyDown {
		p.dropAll()
	}
}

func (p *proxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		if p.mode.Load() == proxyDown {
			c.Close()
			continue
		}
		up, err := net.Dial("tcp", p.target)
		if err != nil {
			c.Close()
			continue
		}
		p.track(c, true)
		p.track(up, true)
		p.wg.Add(2)
		go p.pipe(up, c, true)
		go p.pipe(c, up, false)
	}
}

func (p *proxy) pipe(dst, src net.Conn, toTarget bool) {
	defer p.wg.Done()
	defer func() {
		dst.Close()
		src.Close()
		p.track(dst, false)
		p.track(src, false)
	}()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			if toTarget && p.mode.Load() == proxySlow {
				time.Sleep(p.delay)
			}
			if toTarget && p.mode.Load() == proxyBlackhole {
				continue
			}
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			if err != io.EOF {
				return
			}
			return
		}
	}
}

type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// twoBrokers starts the embedded server (broker-a) plus broker-b behind a
// proxy, both holding topic with 4 queues, and waits until the route lists
// both.
func twoBrokers(t *testing.T, topic string, modA ...func(*broker.Config)) (*embeddedServer, *proxy) {
	srv := startServer(t, modA...)
	rc := newRC(t)
	ctx := testCtx(t)
	// broker-b registers nowhere by itself; the test registers it with the
	// proxy's address so that every client connection goes through it.
	bc := embedded.SmallConfig(t.TempDir())
	bc.BrokerName = "broker-b"
	bc.ListenHost, bc.ListenPort, bc.NamesrvAddr = "127.0.0.1", 0, ""
	bb, err := broker.New(bc)
	if err != nil {
		t.Fatal(err)
	}
	if err := bb.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { bb.Shutdown(context.Background()) })
	px := startProxy(t, bb.Addr(), 700*time.Millisecond)
	createTopic(t, rc, srv.BrokerAddr(), topic, 4)
	createTopic(t, rc, bb.Addr(), topic, 4)
	ns, err := nsclient.New(rc, srv.NamesrvAddr())
	if err != nil {
		t.Fatal(err)
	}
	results, err := ns.RegisterBroker(ctx, nsclient.RegisterBrokerRequest{
		ClusterName: "DefaultCluster", BrokerName: "broker-b", BrokerAddr: px.addr(), BrokerID: 0,
		DataVersion: wire.DataVersion{Timestamp: time.Now().UnixMilli(), Counter: 1},
		Topics:      []wire.TopicConfig{{TopicName: topic, ReadQueueNums: 4, WriteQueueNums: 4, Perm: 6}},
	})
	if err != nil || results[0].Err != nil {
		t.Fatalf("register broker-b: %v %v", err, results)
	}
	for deadline := time.Now().Add(10 * time.Second); ; {
		r, err := ns.Route(ctx, topic)
		if err == nil && len(r.QueueDatas) == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("route of %s never listed both brokers: %v %v", topic, r, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return srv, px
}

type embeddedServer = embedded.Server

// TestFaultAvoidance runs two brokers, the second behind a proxy that the
// test kills and slows down. Sends must keep succeeding, move to the
// healthy broker, and come back to the other once its backoff is over.
func TestFaultAvoidance(t *testing.T) {
	const topic = "FT"
	srv, px := twoBrokers(t, topic)
	ctx := testCtx(t)

	clk := &fakeClock{now: time.Now()}
	p := newProducer(t, srv, WithGroup("PG_FAULT"), withFaultClock(clk.Now), WithSendTimeout(5*time.Second))
	send := func(n int) map[string]int {
		t.Helper()
		seen := map[string]int{}
		for i := 0; i < n; i++ {
			r, err := p.SendSync(ctx, message.New(topic, []byte("f")))
			if err != nil {
				t.Fatalf("send %d failed: %v", i, err)
			}
			seen[r.Queue.BrokerName]++
		}
		return seen
	}

	if seen := send(16); seen["broker-a"] == 0 || seen["broker-b"] == 0 {
		t.Fatalf("healthy cluster: sends went to %v, want both brokers", seen)
	}

	// broker-b dies: every send still succeeds, all stored on broker-a.
	px.set(proxyDown)
	if seen := send(20); seen["broker-b"] != 0 || seen["broker-a"] != 20 {
		t.Fatalf("broker-b down: sends went to %v", seen)
	}
	if p.FaultTable().Available("broker-b") {
		t.Fatal("broker-b not in backoff after failing")
	}

	// It comes back; once its 10 s isolation is over it is used again.
	px.set(proxyUp)
	if seen := send(8); seen["broker-b"] != 0 {
		t.Fatalf("broker-b used during its backoff: %v", seen)
	}
	clk.Advance(11 * time.Second)
	if seen := send(16); seen["broker-b"] == 0 {
		t.Fatalf("broker-b not retried after its backoff: %v", seen)
	}

	// broker-b turns slow (700 ms ≥ 550 ms ⇒ 2 s ban in the 5.x table):
	// at most one send pays the latency, the rest go to broker-a.
	px.set(proxySlow)
	if seen := send(16); seen["broker-b"] > 1 || seen["broker-a"] < 15 {
		t.Fatalf("broker-b slow: sends went to %v", seen)
	}
	if p.FaultTable().Available("broker-b") {
		t.Fatal("slow broker-b not in backoff")
	}
	px.set(proxyUp)
	clk.Advance(3 * time.Second)
	if seen := send(16); seen["broker-b"] == 0 {
		t.Fatalf("broker-b not retried after its latency backoff: %v", seen)
	}
}

// TestBreakerAndFallback checks the selection policy alone: an open
// breaker keeps a broker out, the broker that just failed is avoided, and
// when every broker is unhealthy a queue is still returned.
func TestBreakerAndFallback(t *testing.T) {
	p, err := New(WithNameServers("127.0.0.1:1"), WithCircuitBreaker(2, time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Shutdown(context.Background())
	qs := []selector.Queue{{Topic: "T", BrokerName: "a", QueueID: 0}, {Topic: "T", BrokerName: "b", QueueID: 0}}
	st := &sendState{topic: "T", info: &iclient.TopicInfo{Publish: qs}}
	pickN := func(n int) map[string]int {
		seen := map[string]int{}
		for i := 0; i < n; i++ {
			seen[p.pick(st).BrokerName]++
		}
		return seen
	}
	if seen := pickN(10); seen["a"] == 0 || seen["b"] == 0 {
		t.Fatalf("healthy picks %v", seen)
	}
	for i := 0; i < 2; i++ {
		if done := p.allow("b"); done != nil {
			done(false)
		} else {
			p.failed("b")
		}
	}
	if !p.breakerOpen("b") {
		t.Fatal("breaker for b not open after 2 failures")
	}
	if seen := pickN(10); seen["b"] != 0 {
		t.Fatalf("open breaker still picked: %v", seen)
	}
	st.lastBroker = "a"
	p.table.Update("a", 0, true) // a just failed too
	if q := p.pick(st); q.BrokerName == "" {
		t.Fatal("no queue when every broker is unhealthy")
	}
}

// TestBreakerRecovers: an open breaker lets one probe through after its
// open time, and a successful probe closes it and makes the broker a
// regular (unsuspected) one again.
func TestBreakerRecovers(t *testing.T) {
	p, err := New(WithNameServers("127.0.0.1:1"), WithCircuitBreaker(1, 20*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Shutdown(context.Background())
	if done := p.allow("b"); done != nil {
		t.Fatal("healthy broker went through the breaker")
	}
	p.failed("b")
	if !p.breakerOpen("b") {
		t.Fatal("breaker not open after one failure with threshold 1")
	}
	time.Sleep(30 * time.Millisecond)
	if p.breakerOpen("b") {
		t.Fatal("breaker still open after its open time")
	}
	done := p.allow("b")
	if done == nil {
		t.Fatal("half-open breaker gave no probe")
	}
	if again := p.allow("b"); again != nil {
		t.Fatal("half-open breaker let a second request through")
	}
	done(true)
	if p.health("b").suspect.Load() || p.allow("b") != nil {
		t.Fatal("broker still suspect after a successful probe")
	}
}

// preferB sends the first attempt to broker-b and retries elsewhere.
var preferB = selector.Func(func(_ selector.SelectInput, qs []selector.Queue, last string) selector.Queue {
	for _, q := range qs {
		if (last == "") == (q.BrokerName == "broker-b") {
			return q
		}
	}
	return qs[0]
})

// TestRetriesMoveToAnotherBroker: a failed first attempt on broker-b is
// retried on broker-a, for sync and async sends alike.
func TestRetriesMoveToAnotherBroker(t *testing.T) {
	const topic = "RTT"
	srv, px := twoBrokers(t, topic)
	ctx := testCtx(t)
	p := newProducer(t, srv, WithGroup("PG_RETRY"), WithSelector(preferB))
	if r, err := p.SendSync(ctx, message.New(topic, []byte("x"))); err != nil || r.Queue.BrokerName != "broker-b" {
		t.Fatalf("healthy: %v %v", r, err)
	}
	px.set(proxyDown)
	if r, err := p.SendSync(ctx, message.New(topic, []byte("sync"))); err != nil || r.Queue.BrokerName != "broker-a" {
		t.Fatalf("sync retry: %v %v", r, err)
	}
	type outcome struct {
		r   *SendResult
		err error
	}
	ch := make(chan outcome, 1)
	if err := p.SendAsync(ctx, func(r *SendResult, err error) { ch <- outcome{r, err} }, message.New(topic, []byte("async"))); err != nil {
		t.Fatal(err)
	}
	if o := <-ch; o.err != nil || o.r.Queue.BrokerName != "broker-a" {
		t.Fatalf("async retry: %+v", o)
	}
	// With retries off the failure is returned.
	p0 := newProducer(t, srv, WithGroup("PG_NORETRY"), WithSelector(preferB), WithRetries(0))
	if _, err := p0.SendSync(ctx, message.New(topic, []byte("x"))); err == nil || !strings.Contains(err.Error(), "after 1 attempt(s)") {
		t.Fatalf("no-retry producer: %v", err)
	}
}

// TestRetryAnotherBrokerWhenNotStoreOK: broker-a is a SYNC_MASTER without
// a slave, so it stores every message but answers SLAVE_NOT_AVAILABLE. By
// default that status is the result; with the option the send moves on to
// broker-b; and when no attempt does better, the stored result is returned.
func TestRetryAnotherBrokerWhenNotStoreOK(t *testing.T) {
	const topic = "NSO"
	srv, _ := twoBrokers(t, topic, func(c *broker.Config) { c.BrokerRole = broker.RoleSyncMaster })
	ctx := testCtx(t)
	preferA := selector.Func(func(_ selector.SelectInput, qs []selector.Queue, last string) selector.Queue {
		for _, q := range qs {
			if (last == "") == (q.BrokerName == "broker-a") {
				return q
			}
		}
		return qs[0]
	})
	p := newProducer(t, srv, WithGroup("PG_NSO_DEFAULT"), WithSelector(preferA))
	if r, err := p.SendSync(ctx, message.New(topic, []byte("x"))); err != nil || r.Status != SendSlaveNotAvailable || r.Queue.BrokerName != "broker-a" {
		t.Fatalf("default: want SLAVE_NOT_AVAILABLE from broker-a without error, got %+v, %v", r, err)
	}
	pr := newProducer(t, srv, WithGroup("PG_NSO_RETRY"), WithSelector(preferA), WithRetryAnotherBrokerWhenNotStoreOK(true))
	if r, err := pr.SendSync(ctx, message.New(topic, []byte("y"))); err != nil || r.Status != SendOK || r.Queue.BrokerName != "broker-b" {
		t.Fatalf("with the option: want SEND_OK from broker-b, got %+v, %v", r, err)
	}
	onlyA := selector.Func(func(_ selector.SelectInput, qs []selector.Queue, _ string) selector.Queue {
		for _, q := range qs {
			if q.BrokerName == "broker-a" {
				return q
			}
		}
		return qs[0]
	})
	pa := newProducer(t, srv, WithGroup("PG_NSO_ONLYA"), WithSelector(onlyA), WithRetryAnotherBrokerWhenNotStoreOK(true))
	r, err := pa.SendSync(ctx, message.New(topic, []byte("z")))
	if err != nil || r.Status != SendSlaveNotAvailable || r.OffsetMsgID == "" {
		t.Fatalf("every attempt stored but not OK: want the last result, got %+v, %v", r, err)
	}
}

// TestOneBudgetForAllAttempts: a broker that never answers costs one send
// timeout in total, not one per attempt.
func TestOneBudgetForAllAttempts(t *testing.T) {
	const topic = "BGT"
	srv, px := twoBrokers(t, topic)
	onlyB := selector.Func(func(_ selector.SelectInput, qs []selector.Queue, _ string) selector.Queue {
		for _, q := range qs {
			if q.BrokerName == "broker-b" {
				return q
			}
		}
		return qs[0]
	})
	p := newProducer(t, srv, WithGroup("PG_BUDGET"), WithSelector(onlyB), WithSendTimeout(500*time.Millisecond))
	if _, err := p.SendSync(testCtx(t), message.New(topic, []byte("warm"))); err != nil {
		t.Fatal(err)
	}
	px.set(proxyBlackhole)
	start := time.Now()
	_, err := p.SendSync(testCtx(t), message.New(topic, []byte("lost")))
	elapsed := time.Since(start)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want a deadline error", err)
	}
	// Per-attempt budgets would take 3 × 500 ms.
	if elapsed >= 1400*time.Millisecond {
		t.Fatalf("send took %s with a 500 ms budget", elapsed)
	}
}
