package loadtest

import (
	"math/rand/v2"
	"sort"
	"testing"
	"time"
)

func TestBucketBoundsContainValue(t *testing.T) {
	// Every value must land in a bucket whose upper edge is at or above it
	// and within 1/64 of it: that is the precision the report promises.
	for _, v := range []uint64{0, 1, 127, 128, 129, 255, 256, 1000, 12345, 1 << 20, 1<<32 + 7} {
		i := bucketOf(v)
		hi := bucketValue(i)
		if hi < v {
			t.Fatalf("value %d: bucket %d upper edge %d below it", v, i, hi)
		}
		if float64(hi-v) > float64(v)/64+1 {
			t.Fatalf("value %d: bucket %d upper edge %d too far", v, i, hi)
		}
		if i > 0 && bucketValue(i-1) >= v {
			t.Fatalf("value %d: previous bucket edge %d already covers it", v, bucketValue(i-1))
		}
	}
}

func TestHistogramPercentilesMatchExact(t *testing.T) {
	var h histogram
	r := rand.New(rand.NewPCG(1, 2))
	vals := make([]uint64, 100_000)
	for i := range vals {
		vals[i] = uint64(r.ExpFloat64() * 2000) // µs, long tail
		h.recordMicros(vals[i])
	}
	sort.Slice(vals, func(a, b int) bool { return vals[a] < vals[b] })
	s := h.snapshot(false)
	if s.count != uint64(len(vals)) {
		t.Fatalf("count %d, want %d", s.count, len(vals))
	}
	for _, q := range []float64{50, 75, 95, 99, 99.9, 99.99} {
		exact := vals[int(q/100*float64(len(vals)))-1]
		got := s.percentile(q)
		if got < exact || float64(got-exact) > float64(exact)/64+1 {
			t.Errorf("p%v = %d, exact %d", q, got, exact)
		}
	}
	if s.percentile(100) != vals[len(vals)-1] || s.max != vals[len(vals)-1] {
		t.Errorf("max %d / p100 %d, want %d", s.max, s.percentile(100), vals[len(vals)-1])
	}
}

func TestHistogramResetSnapshot(t *testing.T) {
	var h histogram
	h.record(3 * time.Millisecond)
	h.record(-time.Second) // a clock step must not wrap around
	first := h.snapshot(true)
	if first.count != 2 || first.max != 3000 || first.percentile(50) != 0 {
		t.Fatalf("first snapshot count %d max %d p50 %d", first.count, first.max, first.percentile(50))
	}
	if again := h.snapshot(true); again.count != 0 || again.max != 0 || again.sum != 0 {
		t.Fatalf("reset left count %d max %d sum %d", again.count, again.max, again.sum)
	}
	var empty histSnapshot
	if empty.percentile(99) != 0 || empty.mean() != 0 {
		t.Fatal("empty snapshot must report zeros")
	}
}

func BenchmarkHistogramRecord(b *testing.B) {
	var h histogram
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		d := 1500 * time.Microsecond
		for pb.Next() {
			h.record(d)
		}
	})
}
