package store

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"
)

// BenchmarkSyncAfterBurst is issue 18's stateful slowdown: one SYNC_FLUSH
// appender's median latency on a fresh segment, then again right after 64
// concurrent appenders have filled three quarters of it. readahead=on is the
// store before the fix (read-ahead on the segment being appended to: syncs
// then write back 2 MiB folios); the sub-benchmarks alternate per iteration
// so both see the same disk. after/fresh should stay near 1.
func BenchmarkSyncAfterBurst(b *testing.B) {
	type figures struct{ fresh, after []time.Duration }
	var off, on figures
	cycle := func(f *figures, opts ...Option) {
		cfg := benchConfig(b, SyncFlush)
		cfg.CommitLogSegmentSize = 64 << 20
		s := mustOpen(b, cfg, opts...)
		defer mustClose(b, s)
		f.fresh = append(f.fresh, singleAppenderP50(b, s, 2000))
		burstAppend(b, s, 64, 48<<20)
		f.after = append(f.after, singleAppenderP50(b, s, 2000))
	}
	for i := 0; i < b.N; i++ {
		cycle(&off)
		cycle(&on, func(o *options) { o.readAheadOnAppend = true })
	}
	report := func(name string, f figures) {
		fr, af := median(f.fresh), median(f.after)
		b.ReportMetric(float64(fr.Microseconds()), name+"-fresh-p50-µs")
		b.ReportMetric(float64(af.Microseconds()), name+"-after-p50-µs")
		b.ReportMetric(float64(af)/float64(fr), name+"-after/fresh")
	}
	report("fixed", off)
	report("readahead", on)
}

func median(d []time.Duration) time.Duration {
	d = slices.Clone(d)
	slices.Sort(d)
	return d[len(d)/2]
}

// singleAppenderP50 appends n messages one at a time and returns the
// median latency.
func singleAppenderP50(b *testing.B, s *Store, n int) time.Duration {
	ctx := context.Background()
	m := benchMsg(0)
	lat := make([]time.Duration, n)
	for i := range lat {
		t0 := time.Now()
		if _, err := s.Append(ctx, m); err != nil {
			b.Fatal(err)
		}
		lat[i] = time.Since(t0)
	}
	return median(lat)
}

// burstAppend runs n concurrent appenders until the log has grown by bytes.
func burstAppend(b *testing.B, s *Store, n int, bytes int64) {
	ctx := context.Background()
	end := s.wrote.Load() + bytes
	var wg sync.WaitGroup
	for g := 0; g < n; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			m := benchMsg(int32(g % 8))
			for s.wrote.Load() < end {
				if _, err := s.Append(ctx, m); err != nil {
					b.Error(err)
					return
				}
			}
		}(g)
	}
	wg.Wait()
}
