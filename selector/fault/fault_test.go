package fault

import (
	"bytes"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rocketgo/rocketgo/selector"
)

// fakeClock is a hand-driven clock.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{now: time.Unix(1_700_000_000, 0)} }

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

const ms = time.Millisecond

func TestNotAvailableDurationBoundaries(t *testing.T) {
	// For each threshold: just below it the previous ban applies, at it
	// the threshold's own ban applies.
	cases := []struct {
		version   Version
		latency   []time.Duration
		ban       []time.Duration
		isolation time.Duration
	}{
		{V5,
			[]time.Duration{50 * ms, 100 * ms, 550 * ms, 1800 * ms, 3000 * ms, 5000 * ms, 15000 * ms},
			[]time.Duration{0, 0, 2 * time.Second, 5 * time.Second, 6 * time.Second, 10 * time.Second, 30 * time.Second},
			10 * time.Second},
		{V4,
			[]time.Duration{50 * ms, 100 * ms, 550 * ms, 1000 * ms, 2000 * ms, 3000 * ms, 15000 * ms},
			[]time.Duration{0, 0, 30 * time.Second, 60 * time.Second, 120 * time.Second, 180 * time.Second, 600 * time.Second},
			30 * time.Second},
	}
	for _, tc := range cases {
		tab := New(WithVersion(tc.version))
		if got := tab.IsolationLatency(); got != tc.isolation {
			t.Errorf("v%d isolation latency %v, want %v", tc.version, got, tc.isolation)
		}
		for _, l := range []time.Duration{0, 1 * ms, 49 * ms} {
			if got := tab.NotAvailableDuration(l); got != 0 {
				t.Errorf("v%d %v: ban %v, want 0", tc.version, l, got)
			}
		}
		for i, th := range tc.latency {
			below := time.Duration(0)
			if i > 0 {
				below = tc.ban[i-1]
			}
			if got := tab.NotAvailableDuration(th - ms); got != below {
				t.Errorf("v%d %v: ban %v, want %v", tc.version, th-ms, got, below)
			}
			if got := tab.NotAvailableDuration(th); got != tc.ban[i] {
				t.Errorf("v%d %v: ban %v, want %v", tc.version, th, got, tc.ban[i])
			}
		}
		if got := tab.NotAvailableDuration(time.Hour); got != tc.ban[len(tc.ban)-1] {
			t.Errorf("v%d 1h: ban %v", tc.version, got)
		}
	}
}

func TestBanAndExpiry(t *testing.T) {
	clk := newFakeClock()
	tab := New(WithClock(clk.Now))
	if !tab.Available("b") || !tab.Reachable("b") {
		t.Fatal("unknown broker must be available and reachable")
	}
	tab.Update("b", 600*ms, false) // 550 ≤ 600 < 1800 ⇒ 2 s
	if tab.Available("b") {
		t.Fatal("banned broker available")
	}
	clk.Advance(2*time.Second - time.Nanosecond)
	if tab.Available("b") {
		t.Fatal("ban ended early")
	}
	clk.Advance(time.Nanosecond)
	if !tab.Available("b") {
		t.Fatal("ban not over at its end (Java: now >= start)")
	}

	// Fast sends never ban.
	tab.Update("fast", 99*ms, false)
	if !tab.Available("fast") {
		t.Error("99 ms send banned the broker")
	}
}

func TestIsolation(t *testing.T) {
	for _, tc := range []struct {
		v   Version
		ban time.Duration
	}{{V5, 10 * time.Second}, {V4, 600 * time.Second}} {
		clk := newFakeClock()
		tab := New(WithVersion(tc.v), WithClock(clk.Now))
		tab.Update("b", 3*ms, true) // fast failure still isolates
		clk.Advance(tc.ban - ms)
		if tab.Available("b") {
			t.Errorf("v%d: available before %v", tc.v, tc.ban)
		}
		clk.Advance(ms)
		if !tab.Available("b") {
			t.Errorf("v%d: still banned after %v", tc.v, tc.ban)
		}
	}
}

func TestBanOnlyExtends(t *testing.T) {
	clk := newFakeClock()
	tab := New(WithClock(clk.Now))
	tab.Update("b", 0, true)       // 10 s
	tab.Update("b", 10*ms, false)  // a fast success does not lift it
	tab.Update("b", 600*ms, false) // nor does a shorter ban shorten it
	clk.Advance(9 * time.Second)
	if tab.Available("b") {
		t.Fatal("ban shortened")
	}
	tab.Update("b", 15*time.Second, false) // 30 s from now extends it
	clk.Advance(29 * time.Second)
	if tab.Available("b") {
		t.Fatal("ban not extended")
	}
	clk.Advance(time.Second)
	if !tab.Available("b") {
		t.Fatal("extended ban did not end")
	}
}

func TestReachableAndRemove(t *testing.T) {
	clk := newFakeClock()
	tab := New(WithClock(clk.Now))
	tab.SetReachable("b", false)
	if tab.Reachable("b") || !tab.Available("b") {
		t.Fatal("SetReachable(false)")
	}
	tab.Update("b", 0, false) // every update carries reachable=true, as in Java
	if !tab.Reachable("b") {
		t.Fatal("Update did not mark reachable")
	}
	tab.Update("b", 0, true)
	tab.SetReachable("b", false)
	snap := tab.Snapshot()
	if len(snap) != 1 || snap[0].Broker != "b" || snap[0].Available || snap[0].Reachable ||
		!snap[0].BannedUntil.Equal(clk.Now().Add(10*time.Second)) {
		t.Fatalf("snapshot %+v", snap)
	}
	tab.Remove("b")
	if !tab.Available("b") || !tab.Reachable("b") || len(tab.Snapshot()) != 0 {
		t.Fatal("Remove did not forget the broker")
	}
}

func TestLogger(t *testing.T) {
	var buf bytes.Buffer
	tab := New(WithLogger(slog.New(slog.NewTextHandler(&buf, nil))))
	tab.Update("broker-x", 0, false)
	if buf.Len() != 0 {
		t.Fatalf("logged without a ban: %s", buf.String())
	}
	tab.Update("broker-x", 0, true)
	if !strings.Contains(buf.String(), "broker-x") {
		t.Fatalf("ban not logged: %q", buf.String())
	}
}

func queues(brokers ...string) []selector.Queue {
	var out []selector.Queue
	for _, b := range brokers {
		for i := 0; i < 2; i++ {
			out = append(out, selector.Queue{Topic: "T", BrokerName: b, QueueID: i})
		}
	}
	return out
}

func pickBrokers(s *Selector, qs []selector.Queue, last string, n int) map[string]int {
	got := map[string]int{}
	for i := 0; i < n; i++ {
		got[s.Select(selector.SelectInput{Topic: "T"}, qs, last).BrokerName]++
	}
	return got
}

func TestSelectorOrder(t *testing.T) {
	clk := newFakeClock()
	tab := New(WithClock(clk.Now))
	s := NewSelector(tab, nil)
	qs := queues("a", "b", "c")

	// 1. Available and not the last broker.
	tab.Update("a", 0, true)
	if got := pickBrokers(s, qs, "b", 60); got["c"] != 60 {
		t.Errorf("available ∧ ¬last: %v, want only c", got)
	}
	// Without a last broker every available broker is used, fairly.
	if got := pickBrokers(s, qs, "", 60); got["b"] != 30 || got["c"] != 30 {
		t.Errorf("first attempt: %v, want b and c 30 each", got)
	}

	// 2. Nothing available except the last broker: fall to reachable ∧
	// not last. a is banned but reachable, c banned and unreachable.
	tab.Update("c", 0, true)
	tab.SetReachable("c", false)
	if got := pickBrokers(s, qs, "b", 60); got["a"] != 60 {
		t.Errorf("reachable ∧ ¬last: %v, want only a", got)
	}

	// 3. Everything banned and unreachable: any queue, including the last
	// broker's, so the send is still attempted.
	for _, b := range []string{"a", "b", "c"} {
		tab.Update(b, 0, true)
		tab.SetReachable(b, false)
	}
	got := pickBrokers(s, qs, "b", 300)
	if got["a"]+got["b"]+got["c"] != 300 || got["a"] == 0 || got["b"] == 0 || got["c"] == 0 {
		t.Errorf("all banned: %v, want every broker used", got)
	}

	// Bans expire: after 10 s everything is back.
	clk.Advance(10 * time.Second)
	if got := pickBrokers(s, qs, "", 60); got["a"] != 20 || got["b"] != 20 || got["c"] != 20 {
		t.Errorf("after expiry: %v", got)
	}
}

func TestSelectorSingleBroker(t *testing.T) {
	tab := New()
	s := NewSelector(tab, selector.NewRoundRobin())
	qs := queues("only")
	tab.Update("only", 0, true)
	for i := 0; i < 10; i++ {
		if q := s.Select(selector.SelectInput{Topic: "T"}, qs, "only"); q.BrokerName != "only" {
			t.Fatalf("got %v", q)
		}
	}
	if q := s.Select(selector.SelectInput{Topic: "T"}, nil, ""); q != (selector.Queue{}) {
		t.Errorf("empty route: %v", q)
	}
	if s.Table() != tab {
		t.Error("Table()")
	}
}

func TestConcurrentUpdates(t *testing.T) {
	tab := New()
	s := NewSelector(tab, nil)
	qs := queues("a", "b", "c", "d")
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 500; i++ {
				q := s.Select(selector.SelectInput{Topic: "T"}, qs, "")
				tab.Update(q.BrokerName, time.Duration(i)*ms, i%50 == 0)
				tab.Available(q.BrokerName)
			}
		}()
	}
	wg.Wait()
	if n := len(tab.Snapshot()); n != 4 {
		t.Errorf("%d brokers tracked, want 4", n)
	}
}

func TestSelectAllocationFree(t *testing.T) {
	tab := New()
	s := NewSelector(tab, nil)
	qs := queues("a", "b")
	in := selector.SelectInput{Topic: "T"}
	tab.Update("a", 0, true)
	s.Select(in, qs, "")
	if n := testing.AllocsPerRun(100, func() { s.Select(in, qs, "b") }); n != 0 {
		t.Errorf("Select: %v allocs", n)
	}
	if n := testing.AllocsPerRun(100, func() { tab.Update("a", 5*ms, false) }); n != 0 {
		t.Errorf("Update: %v allocs", n)
	}
}

func BenchmarkSelector(b *testing.B) {
	tab := New()
	s := NewSelector(tab, nil)
	qs := queues("a", "b", "c", "d")
	in := selector.SelectInput{Topic: "T"}
	tab.Update("a", 0, true)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			s.Select(in, qs, "")
		}
	})
}

func BenchmarkUpdate(b *testing.B) {
	tab := New()
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		tab.Update("broker-a", 20*ms, false)
	}
}
