//go:build !race

// The official Go client has data races of its own (rocketmq-client-go
// #568, #790), so tests that run it are built without -race.

package consumer_test

import (
	"context"
	"fmt"
	. "github.com/rocketgo/rocketgo/consumer"
	"os"
	"os/exec"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rocketgo/rocketgo/remoting/netclient"

	rocketmq "github.com/apache/rocketmq-client-go/v2"
	oconsumer "github.com/apache/rocketmq-client-go/v2/consumer"
	"github.com/apache/rocketmq-client-go/v2/primitive"
	"github.com/apache/rocketmq-client-go/v2/rlog"

	"github.com/rocketgo/rocketgo/message"
	"github.com/rocketgo/rocketgo/remoting"
)

func officialPush(t testing.TB, ts *testServer, group, instance, topic string, l func(context.Context, ...*primitive.MessageExt) (oconsumer.ConsumeResult, error), opts ...oconsumer.Option) rocketmq.PushConsumer {
	t.Helper()
	rlog.SetLogLevel("fatal")
	base := []oconsumer.Option{
		oconsumer.WithNsResolver(primitive.NewPassthroughResolver([]string{ts.NamesrvAddr()})),
		oconsumer.WithGroupName(group),
		oconsumer.WithInstance(instance),
		oconsumer.WithConsumeFromWhere(oconsumer.ConsumeFromFirstOffset),
	}
	c, err := rocketmq.NewPushConsumer(append(base, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Subscribe(topic, oconsumer.MessageSelector{Type: oconsumer.TAG, Expression: "*"}, l); err != nil {
		t.Fatal(err)
	}
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Shutdown() })
	return c
}

func TestOfficialMixedGroupSplitsQueues(t *testing.T) {
	ts := startServer(t)
	s := newSender(t, ts)
	topic := "MixedGroup"
	createTopic(t, ts, s, topic)
	var mu sync.Mutex
	ours, theirs := map[int]int{}, map[int]int{}
	bodies := map[string]int{}
	startPush(t, ts, "cg-mixed", topic, "*", ConcurrentListener(func(_ context.Context, _ *ConcurrentContext, msgs []*message.MessageExt) ConsumeResult {
		mu.Lock()
		defer mu.Unlock()
		for _, m := range msgs {
			ours[int(m.QueueID)]++
			bodies[string(m.Body)]++
		}
		return ConsumeSuccess
	}))
	officialPush(t, ts, "cg-mixed", "official-1", topic, func(_ context.Context, msgs ...*primitive.MessageExt) (oconsumer.ConsumeResult, error) {
		mu.Lock()
		defer mu.Unlock()
		for _, m := range msgs {
			theirs[int(m.Queue.QueueId)]++
			bodies[string(m.Body)]++
		}
		return oconsumer.ConsumeSuccess, nil
	})
	// Let both settle on the split (the official client rebalances on the
	// broker's notification), then forget the warm-up.
	waitFor(t, 20*time.Second, "init consumed", func() bool { mu.Lock(); defer mu.Unlock(); return bodies["init"] > 0 })
	time.Sleep(3 * time.Second)
	mu.Lock()
	clear(ours)
	clear(theirs)
	mu.Unlock()
	s.sendN(t, topic, "mx", 200, 4)
	waitFor(t, 30*time.Second, "all messages", func() bool {
		mu.Lock()
		defer mu.Unlock()
		n := 0
		for k := range bodies {
			if k != "init" {
				n++
			}
		}
		return n >= 200
	})
	mu.Lock()
	defer mu.Unlock()
	t.Logf("rocketgo queues %v, official queues %v", ours, theirs)
	for q := range ours {
		if _, both := theirs[q]; both {
			t.Fatalf("queue %d consumed by both: ours %v theirs %v", q, ours, theirs)
		}
	}
	if len(ours) == 0 || len(theirs) == 0 || len(ours)+len(theirs) != 4 {
		t.Fatalf("bad split: ours %v theirs %v", ours, theirs)
	}
}

// batchSender fills backlogs quickly with SEND_BATCH_MESSAGE.
func fillBacklog(t testing.TB, ts *testServer, topic string, n, size int) {
	t.Helper()
	rc := netclient.New()
	defer rc.Close()
	body := make([]byte, size)
	var wg sync.WaitGroup
	per := (n + 3) / 4
	for q := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sent := 0
			for sent < per && q*per+sent < n {
				k := min(64, per-sent, n-q*per-sent)
				msgs := make([]*message.Message, k)
				for i := range msgs {
					msgs[i] = message.New(topic, body)
				}
				b, err := message.AppendBatch(nil, msgs)
				if err != nil {
					t.Error(err)
					return
				}
				h := remoting.SendMessageRequestHeader{ProducerGroup: "bench-pg", Topic: topic, DefaultTopic: "TBW102",
					DefaultTopicQueueNums: 4, QueueID: int32(q), BornTimestamp: time.Now().UnixMilli(), Batch: true}
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				resp, err := rc.InvokeSync(ctx, ts.BrokerAddr(), remoting.NewRequest(remoting.SendBatchMessage, h.V2(), b))
				cancel()
				if err == nil && resp.Code == remoting.SystemBusy {
					// Overload protection on a busy machine: not stored,
					// send the batch again.
					time.Sleep(50 * time.Millisecond)
					continue
				}
				if err != nil || resp.Code != remoting.Success {
					t.Errorf("batch send: %v %v", resp, err)
					return
				}
				sent += k
			}
		}()
	}
	wg.Wait()
}

// drainOurs measures how long our push consumer takes to consume n
// backlogged messages with a no-op listener.
func drainOurs(t testing.TB, ts *testServer, topic, group string, n int) time.Duration {
	var got atomic.Int64
	done := make(chan struct{})
	start := time.Now()
	c := startPush(t, ts, group, topic, "*", ConcurrentListener(func(_ context.Context, _ *ConcurrentContext, msgs []*message.MessageExt) ConsumeResult {
		if got.Add(int64(len(msgs))) == int64(n) {
			close(done)
		}
		return ConsumeSuccess
	}))
	select {
	case <-done:
	case <-time.After(120 * time.Second):
		t.Fatalf("rocketgo drained %d of %d", got.Load(), n)
	}
	el := time.Since(start)
	shutdown(t, c)
	return el
}

func drainOfficial(t testing.TB, ts *testServer, topic, group string, n int) time.Duration {
	var got atomic.Int64
	done := make(chan struct{})
	var once sync.Once
	start := time.Now()
	c := officialPush(t, ts, group, group, topic, func(_ context.Context, msgs ...*primitive.MessageExt) (oconsumer.ConsumeResult, error) {
		if got.Add(int64(len(msgs))) >= int64(n) {
			once.Do(func() { close(done) })
		}
		return oconsumer.ConsumeSuccess, nil
	})
	select {
	case <-done:
	case <-time.After(120 * time.Second):
		t.Fatalf("official drained %d of %d", got.Load(), n)
	}
	el := time.Since(start)
	c.Shutdown()
	return el
}

// latencyRun produces at a fixed rate for d and returns end-to-end
// latencies (born timestamp → listener) in milliseconds.
func latencyRun(t testing.TB, ts *testServer, topic string, rate int, d time.Duration, record func() []float64) {
	s := newSender(t, ts)
	tick := time.NewTicker(time.Second / time.Duration(rate))
	defer tick.Stop()
	end := time.After(d)
	for i := 0; ; i++ {
		select {
		case <-end:
			return
		case <-tick.C:
			go s.sendStamped(t, topic, i%4)
		}
	}
}

func percentile(xs []float64, p float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	sort.Float64s(s)
	return s[min(len(s)-1, int(p*float64(len(s))))]
}

// TestOfficialBenchmarkTable drains the same backlog with our push
// consumer and the official one, then measures end-to-end latency at a
// fixed produce rate. It prints a table; set CONSUMER_BENCH=1 to run it.
func TestOfficialBenchmarkTable(t *testing.T) {
	if os.Getenv("CONSUMER_BENCH") == "" {
		t.Skip("set CONSUMER_BENCH=1 to run the comparison against the official client")
	}
	n := 200000
	if v, err := strconv.Atoi(os.Getenv("CONSUMER_BENCH_N")); err == nil && v > 0 {
		n = v
	}
	ts := startServer(t)
	s := newSender(t, ts)
	createTopic(t, ts, s, "BenchDrain")
	fillBacklog(t, ts, "BenchDrain", n, 128)
	total := n + 1
	// Warm the page cache and both code paths equally, then alternate.
	oursD := drainOurs(t, ts, "BenchDrain", "bench-ours-1", total)
	offD := drainOfficial(t, ts, "BenchDrain", "bench-off-1", total)
	oursD2 := drainOurs(t, ts, "BenchDrain", "bench-ours-2", total)
	offD2 := drainOfficial(t, ts, "BenchDrain", "bench-off-2", total)
	oursBest, offBest := min(oursD, oursD2), min(offD, offD2)

	// Latency at a fixed rate: both consumers run at once on two topics;
	// each message carries its send time in nanoseconds.
	rate := 4000
	if v, err := strconv.Atoi(os.Getenv("CONSUMER_BENCH_RATE")); err == nil && v > 0 {
		rate = v
	}
	var mu sync.Mutex
	var oursLat, offLat []float64
	createTopic(t, ts, s, "BenchLatOurs")
	createTopic(t, ts, s, "BenchLatOff")
	startPush(t, ts, "bench-lat-ours", "BenchLatOurs", "*", ConcurrentListener(func(_ context.Context, _ *ConcurrentContext, msgs []*message.MessageExt) ConsumeResult {
		now := time.Now().UnixNano()
		mu.Lock()
		for _, m := range msgs {
			if v, ok := m.Property("sentNanos"); ok {
				ns, _ := strconv.ParseInt(v, 10, 64)
				oursLat = append(oursLat, float64(now-ns)/1e6)
			}
		}
		mu.Unlock()
		return ConsumeSuccess
	}))
	officialPush(t, ts, "bench-lat-off", "bench-lat-off", "BenchLatOff", func(_ context.Context, msgs ...*primitive.MessageExt) (oconsumer.ConsumeResult, error) {
		now := time.Now().UnixNano()
		mu.Lock()
		for _, m := range msgs {
			if v := m.GetProperty("sentNanos"); v != "" {
				ns, _ := strconv.ParseInt(v, 10, 64)
				offLat = append(offLat, float64(now-ns)/1e6)
			}
		}
		mu.Unlock()
		return oconsumer.ConsumeSuccess, nil
	})
	time.Sleep(3 * time.Second) // both settled on their queues
	var wg sync.WaitGroup
	for _, topic := range []string{"BenchLatOurs", "BenchLatOff"} {
		wg.Add(1)
		go func() { defer wg.Done(); latencyRun(t, ts, topic, rate/2, 10*time.Second, nil) }()
	}
	wg.Wait()
	time.Sleep(2 * time.Second)
	mu.Lock()
	defer mu.Unlock()
	tps := func(d time.Duration) float64 { return float64(total) / d.Seconds() }
	t.Logf("\n| consumer | drain %d msgs (best of 2) | msgs/s | e2e p50 ms @%d msg/s | e2e p99 ms | e2e max ms | samples |\n"+
		"|---|---|---|---|---|---|---|\n"+
		"| rocketgo | %v | %.0f | %.2f | %.2f | %.2f | %d |\n"+
		"| official v2.1.2 | %v | %.0f | %.2f | %.2f | %.2f | %d |\n"+
		"ratio msgs/s: %.2fx (runs: ours %v %v, official %v %v)",
		total, rate, oursBest.Round(time.Millisecond), tps(oursBest), percentile(oursLat, .5), percentile(oursLat, .99), percentile(oursLat, 1), len(oursLat),
		offBest.Round(time.Millisecond), tps(offBest), percentile(offLat, .5), percentile(offLat, .99), percentile(offLat, 1), len(offLat),
		tps(oursBest)/tps(offBest), oursD, oursD2, offD, offD2)
	_ = fmt.Sprint
}

// BenchmarkDrainBacklog: each sub-benchmark drains b.N backlogged 128-byte
// messages with a no-op listener, ours and the official client's, in the
// same run against the same embedded server.
func BenchmarkDrainBacklog(b *testing.B) {
	ts := startServer(b)
	s := newSender(b, ts)
	for _, who := range []string{"rocketgo", "official"} {
		b.Run(who, func(b *testing.B) {
			b.ReportAllocs()
			topic := fmt.Sprintf("BenchB%s%d", who, b.N)
			createTopic(b, ts, s, topic)
			b.StopTimer()
			fillBacklog(b, ts, topic, b.N, 128)
			b.StartTimer()
			var d time.Duration
			if who == "rocketgo" {
				d = drainOurs(b, ts, topic, "bb-"+topic, b.N+1)
			} else {
				d = drainOfficial(b, ts, topic, "bb-"+topic, b.N+1)
			}
			b.ReportMetric(float64(b.N+1)/d.Seconds(), "msgs/s")
		})
	}
}

// TestOfficialLatencyHelper is not a test: TestOfficialLatencySeparateProcesses
// runs the test binary again with CONSUMER_LATENCY_HELPER set, so each
// consumer measures end-to-end latency in a process of its own (no shared
// GC with the broker or the other client). It prints "LAT p50 p99 max n".
func TestOfficialLatencyHelper(t *testing.T) {
	who := os.Getenv("CONSUMER_LATENCY_HELPER")
	if who == "" {
		t.Skip("helper process only")
	}
	ns, topic := os.Getenv("CONSUMER_LATENCY_NS"), os.Getenv("CONSUMER_LATENCY_TOPIC")
	dur, _ := time.ParseDuration(os.Getenv("CONSUMER_LATENCY_FOR"))
	var mu sync.Mutex
	var lat []float64
	rec := func(v string) {
		ns, err := strconv.ParseInt(v, 10, 64)
		if err == nil {
			lat = append(lat, float64(time.Now().UnixNano()-ns)/1e6)
		}
	}
	if who == "rocketgo" {
		c, err := NewPush(WithNameServers(ns), WithGroup("lat-"+topic), WithConsumeFrom(ConsumeFromLastOffset))
		if err != nil {
			t.Fatal(err)
		}
		c.Subscribe(topic, "*", ConcurrentListener(func(_ context.Context, _ *ConcurrentContext, msgs []*message.MessageExt) ConsumeResult {
			mu.Lock()
			for _, m := range msgs {
				if v, ok := m.Property("sentNanos"); ok {
					rec(v)
				}
			}
			mu.Unlock()
			return ConsumeSuccess
		}))
		if err := c.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		defer c.Shutdown(context.Background())
	} else {
		rlog.SetLogLevel("fatal")
		c, err := rocketmq.NewPushConsumer(oconsumer.WithNsResolver(primitive.NewPassthroughResolver([]string{ns})),
			oconsumer.WithGroupName("lat-"+topic), oconsumer.WithInstance("lat-"+topic))
		if err != nil {
			t.Fatal(err)
		}
		c.Subscribe(topic, oconsumer.MessageSelector{Type: oconsumer.TAG, Expression: "*"}, func(_ context.Context, msgs ...*primitive.MessageExt) (oconsumer.ConsumeResult, error) {
			mu.Lock()
			for _, m := range msgs {
				if v := m.GetProperty("sentNanos"); v != "" {
					rec(v)
				}
			}
			mu.Unlock()
			return oconsumer.ConsumeSuccess, nil
		})
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		defer c.Shutdown()
	}
	fmt.Println("READY")
	time.Sleep(dur)
	mu.Lock()
	defer mu.Unlock()
	fmt.Printf("LAT %.3f %.3f %.3f %d\n", percentile(lat, .5), percentile(lat, .99), percentile(lat, 1), len(lat))
}

// TestOfficialLatencySeparateProcesses compares end-to-end latency at a
// fixed produce rate with each consumer in its own process. Set
// CONSUMER_BENCH=1 to run it (CONSUMER_BENCH_RATE, default 4000 msg/s).
func TestOfficialLatencySeparateProcesses(t *testing.T) {
	if os.Getenv("CONSUMER_BENCH") == "" {
		t.Skip("set CONSUMER_BENCH=1 to run the latency comparison")
	}
	rate := 4000
	if v, err := strconv.Atoi(os.Getenv("CONSUMER_BENCH_RATE")); err == nil && v > 0 {
		rate = v
	}
	const run = 15 * time.Second
	ts := startServer(t)
	s := newSender(t, ts)
	type proc struct {
		who, topic string
		out        *syncBuffer
		cmd        *exec.Cmd
	}
	var procs []*proc
	for _, who := range []string{"rocketgo", "official"} {
		topic := "Lat" + who
		createTopic(t, ts, s, topic)
		p := &proc{who: who, topic: topic, out: &syncBuffer{}}
		p.cmd = exec.Command(os.Args[0], "-test.run=^TestOfficialLatencyHelper$", "-test.v")
		p.cmd.Env = append(os.Environ(), "CONSUMER_LATENCY_HELPER="+who, "CONSUMER_LATENCY_NS="+ts.NamesrvAddr(),
			"CONSUMER_LATENCY_TOPIC="+topic, "CONSUMER_LATENCY_FOR="+(run+8*time.Second).String())
		p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
		if err := p.cmd.Start(); err != nil {
			t.Fatal(err)
		}
		procs = append(procs, p)
	}
	for _, p := range procs {
		waitFor(t, 20*time.Second, p.who+" ready", func() bool { return strings.Contains(p.out.String(), "READY") })
	}
	time.Sleep(4 * time.Second) // rebalanced and long-polling
	var wg sync.WaitGroup
	for _, p := range procs {
		wg.Add(1)
		go func() { defer wg.Done(); latencyRun(t, ts, p.topic, rate/2, run, nil) }()
	}
	wg.Wait()
	table := fmt.Sprintf("\n| consumer (own process) | rate msg/s | e2e p50 ms | e2e p99 ms | e2e max ms | samples |\n|---|---|---|---|---|---|\n")
	for _, p := range procs {
		if err := p.cmd.Wait(); err != nil {
			t.Fatalf("%s helper: %v\n%s", p.who, err, p.out.String())
		}
		var p50, p99, mx float64
		var n int
		i := strings.Index(p.out.String(), "LAT ")
		if i < 0 {
			t.Fatalf("%s helper output: %s", p.who, p.out.String())
		}
		fmt.Sscanf(p.out.String()[i:], "LAT %f %f %f %d", &p50, &p99, &mx, &n)
		table += fmt.Sprintf("| %s | %d | %.2f | %.2f | %.2f | %d |\n", p.who, rate/2, p50, p99, mx, n)
	}
	t.Log(table)
}

// syncBuffer is a bytes.Buffer safe for a writer and a reader goroutine.
type syncBuffer struct {
	mu sync.Mutex
	b  []byte
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.b = append(b.b, p...)
	return len(p), nil
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return string(b.b)
}
