//go:build !race

// BenchmarkProducer runs our producer and the official Go client v2.1.2
// side by side against one embedded broker over loopback. The official
// client has data races of its own, hence the build tag.
//
//	go test -run '^$' -bench BenchmarkProducer -benchtime 20000x ./producer/
//
// Each op is one 128-byte send. A third entry, floor/sync/1, is a bare
// blocking-socket sender: the lower bound for any client on this machine.
// Extra metrics: msgs/s (throughput),
// p99-ms (send latency, issue to result) and cpu-us/msg (this process's
// user+system CPU per send: the client's, the server being a child
// process; steadier than msgs/s on a shared machine). The name server and broker run
// in a child process (this test binary re-executed), so allocs/op counts
// the client's allocations only.

package producer_test

import (
	"bufio"
	"context"
	"fmt"
	"github.com/rocketgo/rocketgo/internal/cputime"
	. "github.com/rocketgo/rocketgo/producer"
	"net"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	rocketmq "github.com/apache/rocketmq-client-go/v2"
	"github.com/apache/rocketmq-client-go/v2/primitive"
	officialproducer "github.com/apache/rocketmq-client-go/v2/producer"
	"github.com/apache/rocketmq-client-go/v2/rlog"

	"github.com/rocketgo/rocketgo/message"
	"github.com/rocketgo/rocketgo/remoting"
	"github.com/rocketgo/rocketgo/server/embedded"
)

// benchServerEnv makes the test binary act as the benchmark's server.
const benchServerEnv = "ROCKETGO_PRODUCER_BENCH_SERVER"

func TestMain(m *testing.M) {
	if dir := os.Getenv(benchServerEnv); dir != "" {
		os.Exit(runBenchServer(dir))
	}
	os.Exit(m.Run())
}

// runBenchServer starts an embedded server, prints its addresses and runs
// until stdin closes (the parent exited or is done).
func runBenchServer(dir string) int {
	bc := embedded.SmallConfig(dir)
	bc.MappedFileSizeCommitLog = 256 << 20
	bc.MappedFileSizeConsumeQueue = 20 * 1_000_000
	srv, err := embedded.Start(context.Background(), embedded.Config{Host: "127.0.0.1", NamesrvPort: -1, BrokerPort: -1, Broker: bc})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Printf("%s %s\n", srv.NamesrvAddr(), srv.BrokerAddr())
	bufio.NewReader(os.Stdin).ReadString('\n')
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	srv.Shutdown(ctx)
	return 0
}

// startBenchServer runs the server process and returns its name-server and
// broker addresses.
func startBenchServer(b *testing.B) (string, string) {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), benchServerEnv+"="+b.TempDir())
	stdin, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		stdin.Close()
		cmd.Wait()
	})
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		b.Fatalf("bench server: %v", err)
	}
	ns, br, _ := strings.Cut(strings.TrimSpace(line), " ")
	return ns, br
}

const benchTopic = "BenchTopic"

// benchSender abstracts the two clients: sync returns when stored; async
// calls done once stored (or failed).
type benchSender struct {
	sync  func(ctx context.Context, body []byte) error
	async func(ctx context.Context, body []byte, done func(error)) error
}

func BenchmarkProducer(b *testing.B) {
	rlog.SetLogLevel("fatal")
	nsAddr, brokerAddr := startBenchServer(b)
	rc := newRC(b)
	createTopic(b, rc, brokerAddr, benchTopic, 8)
	body := make([]byte, 128)
	for i := range body {
		body[i] = 'a' + byte(i%26)
	}

	ours, err := New(WithNameServers(nsAddr), WithGroup("bench-rocketgo"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { ours.Shutdown(context.Background()) })
	official, err := rocketmq.NewProducer(
		officialproducer.WithNsResolver(primitive.NewPassthroughResolver([]string{nsAddr})),
		officialproducer.WithGroupName("bench-official"),
		officialproducer.WithInstanceName("bench-official"),
		officialproducer.WithRetry(2),
	)
	if err != nil {
		b.Fatal(err)
	}
	if err := official.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { official.Shutdown() })

	senders := []struct {
		name string
		s    benchSender
	}{
		{"rocketgo", benchSender{
			sync: func(ctx context.Context, body []byte) error {
				_, err := ours.SendSync(ctx, message.New(benchTopic, body))
				return err
			},
			async: func(ctx context.Context, body []byte, done func(error)) error {
				return ours.SendAsync(ctx, func(_ *SendResult, err error) { done(err) }, message.New(benchTopic, body))
			},
		}},
		{"official", benchSender{
			sync: func(ctx context.Context, body []byte) error {
				_, err := official.SendSync(ctx, primitive.NewMessage(benchTopic, body))
				return err
			},
			async: func(ctx context.Context, body []byte, done func(error)) error {
				return official.SendAsync(ctx, func(_ context.Context, _ *primitive.SendResult, err error) { done(err) },
					primitive.NewMessage(benchTopic, body))
			},
		}},
	}
	// Warm both up: routes, connections.
	ctx := context.Background()
	for _, s := range senders {
		for i := 0; i < 100; i++ {
			if err := s.s.sync(ctx, body); err != nil {
				b.Fatal(err)
			}
		}
	}
	// The floor: the same SEND_MESSAGE_V2 frames from the bare minimum of
	// a client (write, then read the answer on the calling goroutine; no
	// routes, no pooling, no goroutine hand-offs). No client can beat it
	// against this broker, so it bounds what the single-sender ratios
	// against the official client can be on the machine at hand.
	b.Run("floor/sync/1", func(b *testing.B) {
		benchSync(b, floorSender(b, brokerAddr), body, 1)
	})
	// The two clients alternate per configuration so that both see the
	// same background load on a shared machine.
	for _, mode := range []string{"sync", "async"} {
		for _, conc := range []int{1, 64} {
			for _, s := range senders {
				b.Run(s.name+"/"+mode+"/"+itoa(conc), func(b *testing.B) {
					if mode == "sync" {
						benchSync(b, s.s, body, conc)
					} else {
						benchAsync(b, s.s, body, conc)
					}
				})
			}
		}
	}
}

// floorSender sends over one plain TCP connection, one request at a time.
func floorSender(b *testing.B, brokerAddr string) benchSender {
	nc, err := net.Dial("tcp", brokerAddr)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { nc.Close() })
	var (
		opaque int32
		out    []byte
		in     = make([]byte, 64<<10)
	)
	send := func(_ context.Context, body []byte) error {
		opaque++
		h := remoting.SendMessageRequestHeader{
			ProducerGroup: "bench-floor", Topic: benchTopic, DefaultTopic: "TBW102", DefaultTopicQueueNums: 4,
			QueueID: opaque & 7, BornTimestamp: time.Now().UnixMilli(),
		}
		req := remoting.NewRequest(remoting.SendMessageV2, h.V2(), body)
		req.Opaque = opaque
		if out, err = remoting.AppendFrame(out[:0], req); err != nil {
			return err
		}
		if _, err := nc.Write(out); err != nil {
			return err
		}
		have := 0
		for {
			n, err := nc.Read(in[have:])
			if err != nil {
				return err
			}
			have += n
			frame, used, err := remoting.SplitFrame(in[:have], len(in))
			if err != nil {
				return err
			}
			if used == 0 {
				continue
			}
			resp, err := remoting.DecodeFrame(frame)
			if err != nil {
				return err
			}
			if resp.Opaque != opaque || resp.Code != remoting.Success {
				return fmt.Errorf("floor: answer %d to opaque %d (sent %d)", resp.Code, resp.Opaque, opaque)
			}
			return nil
		}
	}
	return benchSender{sync: send}
}

func itoa(n int) string {
	if n == 1 {
		return "1"
	}
	return "64"
}

// benchSync runs b.N sync sends from conc goroutines.
func benchSync(b *testing.B, s benchSender, body []byte, conc int) {
	lat := make([]time.Duration, b.N)
	var next atomic.Int64
	var failed atomic.Int64
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cputime.Process()
	start := time.Now()
	var wg sync.WaitGroup
	for g := 0; g < conc; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1) - 1
				if i >= int64(b.N) {
					return
				}
				t0 := time.Now()
				if err := s.sync(ctx, body); err != nil {
					failed.Add(1)
				}
				lat[i] = time.Since(t0)
			}
		}()
	}
	wg.Wait()
	report(b, start, cpu0, lat, failed.Load())
}

// benchAsync issues b.N async sends keeping at most conc in flight.
func benchAsync(b *testing.B, s benchSender, body []byte, conc int) {
	lat := make([]time.Duration, b.N)
	sem := make(chan struct{}, conc)
	var failed atomic.Int64
	var wg sync.WaitGroup
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cputime.Process()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		sem <- struct{}{}
		wg.Add(1)
		t0 := time.Now()
		err := s.async(ctx, body, func(err error) {
			if err != nil {
				failed.Add(1)
			}
			lat[i] = time.Since(t0)
			<-sem
			wg.Done()
		})
		if err != nil {
			failed.Add(1)
			<-sem
			wg.Done()
		}
	}
	wg.Wait()
	report(b, start, cpu0, lat, failed.Load())
}

func report(b *testing.B, start time.Time, cpu0 time.Duration, lat []time.Duration, failed int64) {
	elapsed := time.Since(start)
	cpu := cputime.Process() - cpu0
	b.StopTimer()
	if failed > 0 {
		b.Fatalf("%d of %d sends failed", failed, b.N)
	}
	slices.Sort(lat)
	p99 := lat[min(len(lat)-1, len(lat)*99/100)]
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "msgs/s")
	b.ReportMetric(float64(p99.Microseconds())/1000, "p99-ms")
	b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "cpu-us/msg")
}
