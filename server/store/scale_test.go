//go:build storescale

package store

// Run with: go test -tags storescale -run TestScale -v -timeout 30m ./server/store
// STORE_SCALE_N overrides the message count (default 20,000,000).

import (
	"context"
	"github.com/rocketgo/rocketgo/internal/cputime"
	"math/rand"
	"os"
	"runtime"
	"sort"
	"strconv"
	"testing"
	"time"
)

func TestScaleBacklog(t *testing.T) {
	n := 20_000_000
	if v, err := strconv.Atoi(os.Getenv("STORE_SCALE_N")); err == nil && v > 0 {
		n = v
	}
	cfg := Config{Dir: t.TempDir(), CommitLogSegmentSize: 1 << 30, CleanInterval: time.Hour, IndexEntries: -1}
	s := mustOpen(t, cfg)
	defer mustClose(t, s)
	ctx := context.Background()
	queues := int32(8)
	start, cpu := time.Now(), cputime.Process().Seconds()
	for i := 0; i < n; i++ {
		m := newMsg("Scale", int32(i)%queues, make([]byte, 32), "TagA", "")
		if _, err := s.Append(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	el := time.Since(start)
	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	t.Logf("appended %d messages (%d bytes of log) in %v: %.0f msgs/s, %.0f msgs/cpu-s; Go heap in use %d KiB",
		n, s.MaxPhysicalOffset(), el.Round(time.Millisecond), float64(n)/el.Seconds(), float64(n)/(cputime.Process().Seconds()-cpu), ms.HeapInuse>>10)

	per := int64(n) / int64(queues)
	measure := func(name string, lo, hi int64) time.Duration {
		rng := rand.New(rand.NewSource(1))
		const reads = 20000
		lat := make([]time.Duration, 0, reads)
		for i := 0; i < reads; i++ {
			off := lo + rng.Int63n(hi-lo)
			q := int32(rng.Intn(int(queues)))
			t0 := time.Now()
			r, err := s.GetMessages("Scale", q, off, 32, 256<<10, nil)
			d := time.Since(t0)
			if err != nil || r.Status != Found {
				t.Fatalf("%s read at %d: %v %v", name, off, err, r.Status)
			}
			r.Release()
			lat = append(lat, d)
		}
		sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
		t.Logf("%s of backlog: 32-message reads p50 %v p99 %v max %v", name, lat[len(lat)/2], lat[len(lat)*99/100], lat[len(lat)-1])
		return lat[len(lat)/2]
	}
	w := min(100_000, per/4)
	head := measure("head", 0, w)
	tail := measure("tail", per-w, per-32)
	if head > 10*tail || tail > 10*head {
		t.Fatalf("head p50 %v and tail p50 %v are not the same order", head, tail)
	}
	t0 := time.Now()
	got := s.OffsetByTime("Scale", 0, time.Now().UnixMilli()-1000)
	t.Logf("OffsetByTime over %d entries: %v (offset %d)", per, time.Since(t0), got)
}
