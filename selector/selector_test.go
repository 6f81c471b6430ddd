package selector

import (
	"sync"
	"testing"
)

func queues(brokers []string, perBroker int) []Queue {
	var out []Queue
	for _, b := range brokers {
		for i := 0; i < perBroker; i++ {
			out = append(out, Queue{Topic: "T", BrokerName: b, QueueID: i})
		}
	}
	return out
}

func index(qs []Queue, q Queue) int {
	for i := range qs {
		if qs[i] == q {
			return i
		}
	}
	return -1
}

func TestHashJavaIndex(t *testing.T) {
	for _, n := range []int{4, 7, 8} {
		qs := queues([]string{"b"}, n)
		for _, tc := range javaHashes {
			if tc.key == "" {
				continue // no key ⇒ random, tested below
			}
			want := map[int]int{4: tc.n4, 7: tc.n7, 8: tc.n8}[n]
			// Via the sharding key and via a string argument.
			for _, in := range []SelectInput{{Topic: "T", ShardingKey: tc.key}, {Topic: "T", Arg: tc.key}} {
				if got := index(qs, Hash{}.Select(in, qs, "")); got != want {
					t.Errorf("n=%d %+v: queue %d, want %d", n, in, got, want)
				}
			}
		}
	}
}

func TestHashStableAndIgnoresLastBroker(t *testing.T) {
	qs := queues([]string{"broker-a", "broker-b"}, 4)
	// Arg wins over the sharding key.
	in := SelectInput{Topic: "T", ShardingKey: "ignored", Arg: "order-1"}
	first := Hash{}.Select(in, qs, "")
	for i := 0; i < 100; i++ {
		last := ""
		if i%2 == 1 {
			last = first.BrokerName // a retry must not move the key
		}
		if got := (Hash{}).Select(in, qs, last); got != first {
			t.Fatalf("attempt %d: %v, want %v", i, got, first)
		}
	}
	// abs(-1207111310 % 8) = 6 ⇒ broker-b queue 2.
	if want := (Queue{"T", "broker-b", 2}); first != want {
		t.Errorf("order-1 on %v, want %v", first, want)
	}
	if got := (Hash{}).Select(SelectInput{Arg: int64(-1)}, qs, ""); got != qs[0] {
		t.Errorf("Long(-1) hashes to 0: got %v", got)
	}
}

func TestHashWithoutKey(t *testing.T) {
	qs := queues([]string{"b"}, 3)
	seen := map[Queue]bool{}
	for i := 0; i < 300; i++ {
		q := Hash{}.Select(SelectInput{Topic: "T"}, qs, "")
		if index(qs, q) < 0 {
			t.Fatalf("not a route queue: %v", q)
		}
		seen[q] = true
	}
	if len(seen) != 3 {
		t.Errorf("keyless sends used %d of 3 queues", len(seen))
	}
}

func TestEmptyQueues(t *testing.T) {
	in := SelectInput{Topic: "T", ShardingKey: "k"}
	for name, s := range map[string]Selector{"rr": NewRoundRobin(), "hash": Hash{}, "random": Random{}} {
		if got := s.Select(in, nil, "b"); got != (Queue{}) {
			t.Errorf("%s: %v", name, got)
		}
	}
}

func TestRoundRobinFair(t *testing.T) {
	qs := queues([]string{"broker-a", "broker-b"}, 3)
	rr := NewRoundRobin()
	counts := map[Queue]int{}
	var prev int = -1
	for i := 0; i < 6*50; i++ {
		q := rr.Select(SelectInput{Topic: "T"}, qs, "")
		counts[q]++
		// Consecutive picks walk the list.
		cur := index(qs, q)
		if prev >= 0 && cur != (prev+1)%len(qs) {
			t.Fatalf("pick %d: index %d after %d", i, cur, prev)
		}
		prev = cur
	}
	for _, q := range qs {
		if counts[q] != 50 {
			t.Errorf("%v picked %d times, want 50", q, counts[q])
		}
	}
}

func TestRoundRobinConcurrentFair(t *testing.T) {
	qs := queues([]string{"a", "b"}, 4)
	rr := NewRoundRobin()
	const workers, per = 8, 800 // 6400 picks = 800 per queue
	var mu sync.Mutex
	counts := map[Queue]int{}
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			local := map[Queue]int{}
			for i := 0; i < per; i++ {
				local[rr.Select(SelectInput{Topic: "T"}, qs, "")]++
			}
			mu.Lock()
			for q, n := range local {
				counts[q] += n
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	for _, q := range qs {
		if counts[q] != workers*per/len(qs) {
			t.Errorf("%v picked %d times, want %d", q, counts[q], workers*per/len(qs))
		}
	}
}

func TestRoundRobinTopicsIndependent(t *testing.T) {
	qs := queues([]string{"b"}, 5)
	rr := NewRoundRobin()
	a0 := index(qs, rr.Select(SelectInput{Topic: "A"}, qs, ""))
	for i := 0; i < 3; i++ {
		rr.Select(SelectInput{Topic: "B"}, qs, "")
	}
	if a1 := index(qs, rr.Select(SelectInput{Topic: "A"}, qs, "")); a1 != (a0+1)%5 {
		t.Errorf("topic A moved by B: %d then %d", a0, a1)
	}
	rr.Forget("A")
	if idx := index(qs, rr.Select(SelectInput{Topic: "A"}, qs, "")); idx < 0 {
		t.Error("forgotten topic broken")
	}
}

func TestRoundRobinAvoidsLastBroker(t *testing.T) {
	qs := queues([]string{"broker-a", "broker-b", "broker-c"}, 2)
	rr := NewRoundRobin()
	for i := 0; i < 200; i++ {
		if q := rr.Select(SelectInput{Topic: "T"}, qs, "broker-b"); q.BrokerName == "broker-b" {
			t.Fatalf("pick %d went back to the failed broker: %v", i, q)
		}
	}
	// A single broker cannot be avoided: the send still gets a queue.
	one := queues([]string{"only"}, 2)
	for i := 0; i < 10; i++ {
		if q := rr.Select(SelectInput{Topic: "T"}, one, "only"); index(one, q) < 0 {
			t.Fatalf("single broker: %v", q)
		}
	}
}

func TestRoundRobinNextMasked(t *testing.T) {
	rr := NewRoundRobin()
	c := rr.counter("T")
	c.Store(0x7FFFFFFF) // next Add wraps into the sign bit
	if got := rr.Next("T"); got != 0 {
		t.Errorf("after 2^31-1: %d, want 0 (masked)", got)
	}
	c.Store(0xFFFFFFFF)
	if got := rr.Next("T"); got != 0 {
		t.Errorf("after 2^32-1: %d, want 0", got)
	}
	rr.Reset("T")
	if got := rr.Next("T"); got < 0 {
		t.Errorf("after Reset: %d", got)
	}
}

func TestRandom(t *testing.T) {
	qs := queues([]string{"a", "b"}, 2)
	seen := map[Queue]int{}
	for i := 0; i < 2000; i++ {
		q := Random{}.Select(SelectInput{}, qs, "a")
		if index(qs, q) < 0 {
			t.Fatalf("not a route queue: %v", q)
		}
		seen[q]++
	}
	if len(seen) != len(qs) {
		t.Errorf("random used %d of %d queues", len(seen), len(qs))
	}
}

func TestFunc(t *testing.T) {
	qs := queues([]string{"a", "b"}, 2)
	var s Selector = Func(func(in SelectInput, qs []Queue, last string) Queue {
		return qs[len(in.ShardingKey)%len(qs)]
	})
	if got := s.Select(SelectInput{ShardingKey: "abc"}, qs, "a"); got != qs[3] {
		t.Errorf("got %v", got)
	}
}

func TestSelectAllocationFree(t *testing.T) {
	qs := queues([]string{"broker-a", "broker-b"}, 4)
	rr := NewRoundRobin()
	in := SelectInput{Topic: "T", ShardingKey: "order-12345"}
	argIn := SelectInput{Topic: "T", Arg: "order-12345"}
	rr.Select(in, qs, "") // create the topic counter
	for name, f := range map[string]func(){
		"roundrobin":       func() { rr.Select(in, qs, "") },
		"roundrobin-retry": func() { rr.Select(in, qs, "broker-a") },
		"hash-key":         func() { Hash{}.Select(in, qs, "") },
		"hash-arg":         func() { Hash{}.Select(argIn, qs, "") },
		"random":           func() { Random{}.Select(in, qs, "") },
	} {
		if n := testing.AllocsPerRun(100, f); n != 0 {
			t.Errorf("%s: %v allocs per Select", name, n)
		}
	}
}

func BenchmarkRoundRobin(b *testing.B) {
	qs := queues([]string{"broker-a", "broker-b"}, 4)
	rr := NewRoundRobin()
	in := SelectInput{Topic: "T"}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			rr.Select(in, qs, "")
		}
	})
}

func BenchmarkRoundRobinRetry(b *testing.B) {
	qs := queues([]string{"broker-a", "broker-b"}, 4)
	rr := NewRoundRobin()
	in := SelectInput{Topic: "T"}
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		rr.Select(in, qs, "broker-a")
	}
}

func BenchmarkHashShardingKey(b *testing.B) {
	qs := queues([]string{"broker-a", "broker-b"}, 4)
	in := SelectInput{Topic: "T", ShardingKey: "ORDER_20240101_0001"}
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		Hash{}.Select(in, qs, "")
	}
}

func BenchmarkRandom(b *testing.B) {
	qs := queues([]string{"broker-a", "broker-b"}, 4)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		Random{}.Select(SelectInput{}, qs, "")
	}
}
