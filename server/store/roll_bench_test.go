package store

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"
)

// BenchmarkAppendAcrossRoll is one appender's latency over many commit-log
// rolls (64 MiB segments, serve's size; ASYNC_FLUSH, so no fsync is
// waited for): "spare" is the store as it is, the next segment made ahead
// by the allocator goroutine; "sync" creates each segment in the append
// that needs it (open, fallocate, mmap), as before spares. roll-µs is the
// median latency of the appends that moved to a new segment, roll-max-µs
// their worst; p50/p99/max cover every append.
func BenchmarkAppendAcrossRoll(b *testing.B) {
	for _, size := range []int{1 << 10, 16 << 10} {
		for _, mode := range []string{"spare", "sync"} {
			b.Run(fmt.Sprintf("%dKiB/%s", size>>10, mode), func(b *testing.B) {
				cfg := benchConfig(b, AsyncFlush)
				cfg.CommitLogSegmentSize = 64 << 20
				s := mustOpen(b, cfg, func(o *options) { o.noSpare = mode == "sync" })
				defer mustClose(b, s)
				m := newMsg("BenchmarkTest", 0, make([]byte, size), "TagA", "")
				ctx := context.Background()
				all := make([]time.Duration, 0, b.N)
				var rolls []time.Duration
				b.SetBytes(int64(size))
				b.ReportAllocs()
				b.ResetTimer()
				for range b.N {
					before := s.cl.load().last()
					t0 := time.Now()
					if _, err := s.Append(ctx, m); err != nil {
						b.Fatal(err)
					}
					d := time.Since(t0)
					all = append(all, d)
					if before != nil && s.cl.load().last() != before {
						rolls = append(rolls, d)
					}
				}
				b.StopTimer()
				slices.Sort(all)
				us := func(d time.Duration) float64 { return float64(d) / 1e3 }
				b.ReportMetric(us(all[len(all)/2]), "p50-µs")
				b.ReportMetric(us(all[len(all)*99/100]), "p99-µs")
				b.ReportMetric(us(all[len(all)-1]), "max-µs")
				b.ReportMetric(float64(len(rolls)), "rolls")
				if len(rolls) > 0 {
					b.ReportMetric(us(median(rolls)), "roll-µs")
					b.ReportMetric(us(slices.Max(rolls)), "roll-max-µs")
				}
			})
		}
	}
}
