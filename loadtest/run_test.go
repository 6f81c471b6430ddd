package loadtest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/rocketgo/rocketgo/internal/syncbuf"
)

// TestRunBothDrainsAndReports is the acceptance check of the tool: an
// end-to-end run against the embedded server prints the RocketMQ lines and
// the percentile table, and its JSON summary has the OpenMessaging fields
// with counts that add up.
func TestRunBothDrainsAndReports(t *testing.T) {
	before, _ := filepath.Glob(filepath.Join(os.TempDir(), "rocketgo-loadtest-*"))
	goroutines := runtime.NumGoroutine()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	var out bytes.Buffer
	res, err := Run(ctx, Config{
		Messages:       3000,
		Senders:        8,
		Producers:      2,
		Consumers:      2,
		BatchSize:      2,
		Tags:           "TagA",
		ReportInterval: 100 * time.Millisecond,
		Out:            &out,
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Failed || !res.Drained {
		t.Fatalf("failed=%v (%s) drained=%v\n%s", res.Failed, res.FailReason, res.Drained, out.String())
	}
	if res.Sent != 3000 || res.Received != res.Sent || res.SendFailed+res.ResponseFailed != 0 {
		t.Fatalf("sent %d received %d failed %d+%d", res.Sent, res.Received, res.SendFailed, res.ResponseFailed)
	}
	text := out.String()
	for _, want := range []string{"Send TPS: ", "Max RT(ms): ", "Average RT(ms): ", "Send Failed: 0", "Response Failed: 0",
		"Consume TPS: ", "AVG(B2C) RT(ms): ", "AVG(S2C) RT(ms): ", "p99.99: ",
		"[Complete] Send Total: 3000", "[Complete] Consume Total: 3000", "Latency (ms)", "end-to-end (B2C)"} {
		if !strings.Contains(text, want) {
			t.Errorf("output lacks %q:\n%s", want, text)
		}
	}

	raw, err := json.Marshal(res)
	if err != nil {
		t.Fatal(err)
	}
	var j map[string]any
	if err := json.Unmarshal(raw, &j); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"publishRate", "consumeRate", "backlog", "publishLatency99pct", "endToEndLatency9999pct",
		"publishDelayLatency50pct", "aggregatedPublishLatencyAvg", "aggregatedPublishLatency999pct",
		"aggregatedEndToEndLatencyMax", "aggregatedPublishDelayLatency99pct", "messageSize", "partitions"} {
		if _, ok := j[k]; !ok {
			t.Errorf("JSON lacks %q", k)
		}
	}
	if j["sent"].(float64) != 3000 || j["received"].(float64) != 3000 || j["backlogFinal"].(float64) != 0 {
		t.Errorf("JSON counts sent=%v received=%v backlog=%v", j["sent"], j["received"], j["backlogFinal"])
	}
	p50, p99, pmax := j["aggregatedPublishLatency50pct"].(float64), j["aggregatedPublishLatency99pct"].(float64), j["aggregatedPublishLatencyMax"].(float64)
	if !(p50 > 0 && p50 <= p99 && p99 <= pmax) {
		t.Errorf("publish percentiles out of order: p50 %v p99 %v max %v", p50, p99, pmax)
	}
	if e := j["aggregatedEndToEndLatencyMax"].(float64); e <= 0 {
		t.Errorf("end-to-end max %v", e)
	}

	after, _ := filepath.Glob(filepath.Join(os.TempDir(), "rocketgo-loadtest-*"))
	if len(after) > len(before) {
		t.Errorf("temporary directories left behind: %v", after)
	}
	// Every goroutine of the run (senders, reporter, clients, embedded
	// server) is gone once Run returns; allow a moment for exiting ones.
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > goroutines && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > goroutines {
		buf := make([]byte, 1<<20)
		t.Errorf("%d goroutines before the run, %d after:\n%s", goroutines, n, buf[:runtime.Stack(buf, true)])
	}
}

// TestRunRateLimitedProduce checks the coordinated-omission guard: a
// rate-limited run measures publish delay, and a produce-only run has no
// consumer figures.
func TestRunRateLimitedProduce(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var out bytes.Buffer
	res, err := Run(ctx, Config{Mode: ModeProduce, SendMode: SendAsync, Messages: 200, Rate: 1000, Senders: 4, Out: &out, ReportInterval: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if res.Failed || res.Sent != 200 || res.Received != 0 {
		t.Fatalf("failed=%v %s sent=%d received=%d", res.Failed, res.FailReason, res.Sent, res.Received)
	}
	if res.PublishDelay.Max <= 0 {
		t.Errorf("rate-limited run recorded no publish delay: %+v", res.PublishDelay)
	}
	// 200 messages at 1000/s cannot take much less than 0.2 s.
	if res.SendElapsed < 150*time.Millisecond {
		t.Errorf("rate limit not applied: 200 messages in %v", res.SendElapsed)
	}
	if strings.Contains(out.String(), "Consume TPS") || !strings.Contains(out.String(), "publish delay") {
		t.Errorf("unexpected produce-only output:\n%s", out.String())
	}
}

// A produce-only run with trace on reports its trace records as mode both
// does: one Pub record per message sent.
func TestRunProduceTracedReportsRecords(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var out bytes.Buffer
	res, err := Run(ctx, Config{Mode: ModeProduce, Messages: 300, Senders: 4, Trace: true, Out: &out, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	if res.Failed || res.Sent != 300 {
		t.Fatalf("failed=%v %s sent=%d", res.Failed, res.FailReason, res.Sent)
	}
	if res.Trace == nil || res.Trace.Appended != 300 || res.Trace.Sent != 300 {
		t.Fatalf("trace stats %+v, want 300 records appended and sent", res.Trace)
	}
	if !strings.Contains(out.String(), "Trace records: 300 queued | 300 sent") {
		t.Errorf("no trace line in the produce-only report:\n%s", out.String())
	}
}

func TestConfigValidation(t *testing.T) {
	for _, c := range []Config{
		{Mode: "sideways"},
		{SendMode: "carrier-pigeon"},
		{MessageSize: 8},
		{Rate: -1},
		{MaxErrorRate: 2},
		{Senders: 1, Producers: 2},
	} {
		if _, err := Run(context.Background(), c); !errors.Is(err, ErrConfig) {
			t.Errorf("%+v: err %v, want ErrConfig", c, err)
		}
	}
}

func TestRunUnreachableNameServer(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err := Run(ctx, Config{NameServer: "127.0.0.1:1", Mode: ModeProduce, Messages: 1, CreateTopic: true})
	if err == nil {
		t.Fatal("run against a dead name server succeeded")
	}
}

// TestRunProduceThenConsume runs the two halves as separate runs, as users
// do across machines: the consume run counts what the produce run sent.
func TestRunProduceThenConsume(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	srv, cleanup, err := startEmbedded(ctx, Config{Queues: 4, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer cleanup()
	ns := srv.NamesrvAddr()
	prod, err := Run(ctx, Config{NameServer: ns, CreateTopic: true, Mode: ModeProduce, Messages: 500, Senders: 4})
	if err != nil || prod.Failed || prod.Sent != 500 {
		t.Fatalf("produce: err %v result %+v", err, prod)
	}
	// A new group starting "from the last offset" on a young queue reads
	// it from 0 (RocketMQ's rule), so it gets everything produced above.
	cons, err := Run(ctx, Config{NameServer: ns, Mode: ModeConsume, Messages: 500, Duration: 20 * time.Second, Group: "consume_after"})
	if err != nil {
		t.Fatal(err)
	}
	if cons.Received != 500 || cons.Failed {
		t.Fatalf("consume run received %d (failed=%v %s)", cons.Received, cons.Failed, cons.FailReason)
	}
}

// TestRunFirstHourTraps: what a first run against a real cluster meets. A
// fresh topic in mode both is created (consumers need its route), consume
// mode on a missing topic says to add -create-topic, and a topic whose
// queue count is far from -queues (BenchmarkTest, a 1,024-queue system
// topic) is warned about.
func TestRunFirstHourTraps(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	srv, cleanup, err := startEmbedded(ctx, Config{Queues: 4, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer cleanup()
	ns := srv.NamesrvAddr()

	var out bytes.Buffer
	res, err := Run(ctx, Config{NameServer: ns, Topic: "FreshTopic", Queues: 4, Messages: 200, Senders: 4, Out: &out})
	if err != nil || res.Failed || res.Received != 200 {
		t.Fatalf("mode both on a fresh topic: err %v result %+v\n%s", err, res, out.String())
	}
	if !strings.Contains(out.String(), "topic FreshTopic does not exist: creating it with 4 queues") {
		t.Fatalf("no note on creating the topic:\n%s", out.String())
	}
	if strings.Contains(out.String(), "warning:") {
		t.Fatalf("unexpected warning:\n%s", out.String())
	}

	_, err = Run(ctx, Config{NameServer: ns, Topic: "NoSuchTopic", Mode: ModeConsume, Messages: 1})
	if err == nil || !strings.Contains(err.Error(), "-create-topic") {
		t.Fatalf("consume on a missing topic: %v", err)
	}

	out.Reset()
	res, err = Run(ctx, Config{NameServer: ns, Topic: "BenchmarkTest", Mode: ModeProduce, Messages: 1, Senders: 1, Out: &out})
	if err != nil || res.Sent != 1 {
		t.Fatalf("produce to BenchmarkTest: %v %+v", err, res)
	}
	if !strings.Contains(out.String(), "warning: topic BenchmarkTest has 1024 write queues, -queues is 8") {
		t.Fatalf("no queue-count warning:\n%s", out.String())
	}
}

// TestFirstSendErrorPrinted: a failing run shows its first error, once,
// not only failure counts.
func TestFirstSendErrorPrinted(t *testing.T) {
	var out bytes.Buffer
	r := &run{cfg: Config{Out: &out}, m: &meter{}}
	rep := newReporter(r)
	r.done(time.Now(), 1, errors.New("boom: no route"))
	r.done(time.Now(), 1, errors.New("second"))
	rep.showFirstError()
	rep.showFirstError()
	if got := out.String(); got != "first send error: boom: no route\n" {
		t.Fatalf("printed %q", got)
	}
	if r.m.sendFailed.Load() != 2 {
		t.Fatalf("send failures %d", r.m.sendFailed.Load())
	}
}

// TestRunInterruptedCountsNoFailures: a Ctrl-C (ctx cancelled) in the
// middle of a timed run stops sending, lets the sends in flight finish and
// reports none of them as failed.
func TestRunInterruptedCountsNoFailures(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out syncbuf.Buffer
	done := make(chan struct{})
	var res *Result
	var err error
	go func() {
		defer close(done)
		res, err = Run(ctx, Config{Duration: time.Minute, Senders: 16, Producers: 1, Consumers: 1, ReportInterval: 50 * time.Millisecond, Out: &out})
	}()
	deadline := time.Now().Add(60 * time.Second)
	for !strings.Contains(out.String(), "Send TPS: ") {
		if time.Now().After(deadline) {
			t.Fatalf("no progress line:\n%s", out.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel() // sends are in flight: 16 senders never pause
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		t.Fatal("an interrupted run did not end")
	}
	if err != nil {
		t.Fatal(err)
	}
	if res.Sent == 0 || res.SendFailed+res.ResponseFailed != 0 {
		t.Fatalf("interrupted run: sent %d, failed %d+%d\n%s", res.Sent, res.SendFailed, res.ResponseFailed, out.String())
	}
	if res.SendElapsed >= time.Minute {
		t.Fatalf("sending went on for %v after the interrupt", res.SendElapsed)
	}
}

// TestInflightShare: producers share the in-flight cap exactly, each with
// at least one slot.
func TestInflightShare(t *testing.T) {
	for _, c := range []struct{ total, producers int }{{1024, 1}, {1024, 3}, {10, 4}, {2, 5}} {
		sum, lo, hi := 0, c.total, 0
		for i := range c.producers {
			n := inflightShare(c.total, c.producers, i)
			sum += n
			lo, hi = min(lo, n), max(hi, n)
		}
		want := max(c.total, c.producers)
		if sum != want || lo < 1 || hi-lo > 1 {
			t.Errorf("%d over %d producers: sum %d (want %d), shares %d..%d", c.total, c.producers, sum, want, lo, hi)
		}
	}
}
