//go:build !race

package consumer_test

import (
	"context"
	"flag"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	rocketmq "github.com/apache/rocketmq-client-go/v2"
	oconsumer "github.com/apache/rocketmq-client-go/v2/consumer"
	"github.com/apache/rocketmq-client-go/v2/primitive"
	"github.com/apache/rocketmq-client-go/v2/rlog"

	. "github.com/rocketgo/rocketgo/consumer"
	"github.com/rocketgo/rocketgo/message"
)

// The drain comparison's size. The default suite drains a tiny backlog once
// (it checks both consumers take everything); the benchmark figure in
// BENCHMARKS.md is
//
//	go test -run OfficialDrain -v ./consumer/ -drain.messages 200000 -drain.rounds 3
var (
	drainMessages = flag.Int("drain.messages", 2000, "TestOfficialDrain: messages pre-loaded into the topic")
	drainRounds   = flag.Int("drain.rounds", 1, "TestOfficialDrain: alternations of our consumer and the official one")
	drainSize     = flag.Int("drain.size", 128, "TestOfficialDrain: body size in bytes")
)

// drainRun is one consumer draining the topic in a fresh group.
type drainRun struct {
	total time.Duration // Start called → the last message in the listener
	flow  time.Duration // first message → last message
}

func (d drainRun) rate(n int) float64     { return float64(n) / d.total.Seconds() }
func (d drainRun) flowRate(n int) float64 { return float64(n) / d.flow.Seconds() }

// drainCounter counts deliveries and notes when the first arrived and when
// the n-th did.
type drainCounter struct {
	n     int64
	got   atomic.Int64
	first atomic.Int64 // unix nanos of the first delivery
	done  chan struct{}
	once  sync.Once
	last  time.Time
}

func newDrainCounter(n int) *drainCounter {
	return &drainCounter{n: int64(n), done: make(chan struct{})}
}

func (c *drainCounter) add(k int) {
	now := time.Now()
	c.first.CompareAndSwap(0, now.UnixNano())
	if c.got.Add(int64(k)) >= c.n {
		c.once.Do(func() { c.last = now; close(c.done) })
	}
}

func (c *drainCounter) wait(t testing.TB, who string, start time.Time) drainRun {
	t.Helper()
	select {
	case <-c.done:
	case <-time.After(5 * time.Minute):
		t.Fatalf("%s drained %d of %d", who, c.got.Load(), c.n)
	}
	return drainRun{total: c.last.Sub(start), flow: c.last.Sub(time.Unix(0, c.first.Load()))}
}

// drainWithOurs drains the topic with our push consumer at its defaults
// (only consume-from-first set, as for the official one).
func drainWithOurs(t testing.TB, ts *testServer, topic, group string, n int) drainRun {
	t.Helper()
	cnt := newDrainCounter(n)
	start := time.Now()
	c, err := NewPush(WithNameServers(ts.NamesrvAddr()), WithGroup(group), WithConsumeFrom(ConsumeFromFirstOffset))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Subscribe(topic, "*", func(_ context.Context, _ *ConcurrentContext, msgs []*message.MessageExt) ConsumeResult {
		cnt.add(len(msgs))
		return ConsumeSuccess
	}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	r := cnt.wait(t, "rocketgo", start)
	shutdown(t, c)
	return r
}

// drainWithOfficial drains the topic with rocketmq-client-go v2.1.2's push
// consumer at its defaults.
func drainWithOfficial(t testing.TB, ts *testServer, topic, group string, n int) drainRun {
	t.Helper()
	rlog.SetLogLevel("fatal")
	cnt := newDrainCounter(n)
	start := time.Now()
	c, err := rocketmq.NewPushConsumer(
		oconsumer.WithNsResolver(primitive.NewPassthroughResolver([]string{ts.NamesrvAddr()})),
		oconsumer.WithGroupName(group), oconsumer.WithInstance(group),
		oconsumer.WithConsumeFromWhere(oconsumer.ConsumeFromFirstOffset))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Subscribe(topic, oconsumer.MessageSelector{Type: oconsumer.TAG, Expression: "*"},
		func(_ context.Context, msgs ...*primitive.MessageExt) (oconsumer.ConsumeResult, error) {
			cnt.add(len(msgs))
			return oconsumer.ConsumeSuccess, nil
		}); err != nil {
		t.Fatal(err)
	}
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	r := cnt.wait(t, "official", start)
	c.Shutdown()
	return r
}

// TestOfficialDrain: our push consumer and the official one drain the same
// pre-loaded topic, each in a fresh group consuming from the first offset,
// alternately (the order flips every round so neither always runs on a
// warmer process). Both must take every message; the figures (ratio of the
// medians, whole drain from Start, and the flow from first to last message)
// are logged. The default size is tiny so the default suite only checks
// behaviour; the 200k-message figure is behind -drain.messages.
func TestOfficialDrain(t *testing.T) {
	n, rounds := *drainMessages, max(*drainRounds, 1)
	ts := startServer(t)
	s := newSender(t, ts)
	const topic = "DrainOfficial"
	createTopic(t, ts, s, topic)
	fillBacklog(t, ts, topic, n, *drainSize)
	total := n + 1 // createTopic's first message

	var ours, theirs []drainRun
	for r := range rounds {
		runOurs := func() { ours = append(ours, drainWithOurs(t, ts, topic, groupName("drain-ours", r), total)) }
		runTheirs := func() {
			theirs = append(theirs, drainWithOfficial(t, ts, topic, groupName("drain-official", r), total))
		}
		if r%2 == 0 {
			runOurs()
			runTheirs()
		} else {
			runTheirs()
			runOurs()
		}
		t.Logf("round %d: rocketgo %v (%.0f msg/s, flow %.0f msg/s) | official %v (%.0f msg/s, flow %.0f msg/s) | ratio %.2fx",
			r+1, ours[r].total.Round(time.Millisecond), ours[r].rate(total), ours[r].flowRate(total),
			theirs[r].total.Round(time.Millisecond), theirs[r].rate(total), theirs[r].flowRate(total),
			ours[r].rate(total)/theirs[r].rate(total))
	}
	med := func(rs []drainRun, f func(drainRun) float64) float64 {
		v := make([]float64, len(rs))
		for i, r := range rs {
			v[i] = f(r)
		}
		slices.Sort(v)
		return v[len(v)/2]
	}
	rate := func(r drainRun) float64 { return r.rate(total) }
	flow := func(r drainRun) float64 { return r.flowRate(total) }
	ratios := make([]float64, rounds)
	for i := range ratios {
		ratios[i] = ours[i].rate(total) / theirs[i].rate(total)
	}
	slices.Sort(ratios)
	t.Logf("median of %d rounds, %d messages of %d B: rocketgo %.0f msg/s (flow %.0f), official %.0f msg/s (flow %.0f): %.2fx (flow %.2fx); median of the rounds' ratios %.2fx (lowest %.2fx)",
		rounds, total, *drainSize, med(ours, rate), med(ours, flow), med(theirs, rate), med(theirs, flow),
		med(ours, rate)/med(theirs, rate), med(ours, flow)/med(theirs, flow), ratios[rounds/2], ratios[0])
}

func groupName(prefix string, round int) string {
	return fmt.Sprintf("%s-%d-%d", prefix, round, time.Now().UnixNano()%1e9)
}
