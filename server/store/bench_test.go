package store

import (
	"context"
	"github.com/rocketgo/rocketgo/internal/cputime"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rocketgo/rocketgo/message"
)

// Benchmarks use 128-byte bodies and a TAGS property, like a typical
// producer message; the UNIQ_KEY is left out so the index is not involved
// (BenchmarkAppendAsyncIndexed measures it).

func benchConfig(b *testing.B, flush FlushDiskType) Config {
	return Config{
		Dir:                  b.TempDir(),
		FlushDiskType:        flush,
		CommitLogSegmentSize: 256 << 20,
		CleanInterval:        time.Hour,
	}
}

func benchMsg(qid int32) *message.StoredMessage {
	return newMsg("BenchmarkTest", qid, make([]byte, 128), "TagA", "")
}

func BenchmarkAppendAsync(b *testing.B) {
	s := mustOpen(b, benchConfig(b, AsyncFlush))
	defer mustClose(b, s)
	m := benchMsg(0)
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	start, cpu := time.Now(), cputime.Process().Seconds()
	for i := 0; i < b.N; i++ {
		if _, err := s.Append(ctx, m); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "msgs/s")
	b.ReportMetric(float64(b.N)/(cputime.Process().Seconds()-cpu), "msgs/cpu-s")
}

func BenchmarkAppendAsyncIndexed(b *testing.B) {
	cfg := benchConfig(b, AsyncFlush)
	cfg.IndexSlots, cfg.IndexEntries = 500_000, 2_000_000
	s := mustOpen(b, cfg)
	defer mustClose(b, s)
	m := benchMsg(0)
	m.Properties += string(message.AppendProperty(nil, propUniqKey, "0A0000010000000000000000000000"))
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	start, cpu := time.Now(), cputime.Process().Seconds()
	for i := 0; i < b.N; i++ {
		if _, err := s.Append(ctx, m); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "msgs/s")
	b.ReportMetric(float64(b.N)/(cputime.Process().Seconds()-cpu), "msgs/cpu-s")
}

// BenchmarkAppendSync measures SYNC_FLUSH with 1 and 64 concurrent
// appenders; msgs/s of the second over the first is the group-commit gain.
func BenchmarkAppendSync(b *testing.B) {
	for _, n := range []int{1, 64} {
		b.Run(map[int]string{1: "appenders=1", 64: "appenders=64"}[n], func(b *testing.B) {
			s := mustOpen(b, benchConfig(b, SyncFlush))
			defer mustClose(b, s)
			ctx := context.Background()
			b.ReportAllocs()
			b.SetParallelism((n + runtime.GOMAXPROCS(0) - 1) / runtime.GOMAXPROCS(0))
			var q atomic.Int32
			b.ResetTimer()
			start := time.Now()
			if n == 1 {
				m := benchMsg(0)
				for i := 0; i < b.N; i++ {
					if _, err := s.Append(ctx, m); err != nil {
						b.Fatal(err)
					}
				}
			} else {
				b.RunParallel(func(pb *testing.PB) {
					m := benchMsg(q.Add(1) % 8)
					for pb.Next() {
						if _, err := s.Append(ctx, m); err != nil {
							b.Error(err)
							return
						}
					}
				})
			}
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "msgs/s")
		})
	}
}

// BenchmarkGetMessages reads 32-message batches (consume-queue entries, then
// zero-copy commit-log slices) from a 1,000,000-message queue written by
// the same process: consumers keeping up with producers.
// The "copy" variants also copy the records into a response body, as the
// broker's pull handler does, so that they count the memory traffic a real
// pull pays whether or not the store looks at the records first.
func BenchmarkGetMessages(b *testing.B) {
	b.Run("slices", func(b *testing.B) { benchGetMessages(b, false, false) })
	b.Run("copy", func(b *testing.B) { benchGetMessages(b, false, true) })
}

// BenchmarkGetMessagesFromDisk is BenchmarkGetMessages after a restart: the
// records were on disk when the store opened, so each is verified in full
// (layout and body CRC) as it is read, as a backlog after a restart is.
func BenchmarkGetMessagesFromDisk(b *testing.B) {
	b.Run("slices", func(b *testing.B) { benchGetMessages(b, true, false) })
	b.Run("copy", func(b *testing.B) { benchGetMessages(b, true, true) })
}

func benchGetMessages(b *testing.B, reopen, copyBody bool) {
	cfg := benchConfig(b, AsyncFlush)
	s := mustOpen(b, cfg)
	const total = 1_000_000
	m := benchMsg(0)
	ctx := context.Background()
	for i := 0; i < total; i++ {
		if _, err := s.Append(ctx, m); err != nil {
			b.Fatal(err)
		}
	}
	if reopen {
		mustClose(b, s)
		s = mustOpen(b, cfg)
	}
	defer mustClose(b, s)
	b.ReportAllocs()
	b.ResetTimer()
	start, cpu := time.Now(), cputime.Process().Seconds()
	off, msgs := int64(0), 0
	body := make([]byte, 0, 256<<10)
	for i := 0; i < b.N; i++ {
		r, err := s.GetMessages("BenchmarkTest", 0, off, 32, 256<<10, nil)
		if err != nil || r.Status != Found {
			b.Fatalf("%v %v", err, r.Status)
		}
		msgs += r.MsgCount
		if copyBody {
			body = body[:0]
			for _, buf := range r.Buffers {
				body = append(body, buf...)
			}
		}
		off = r.NextBeginOffset
		if off >= total {
			off = 0
		}
		r.Release()
	}
	b.ReportMetric(float64(msgs)/time.Since(start).Seconds(), "msgs/s")
	b.ReportMetric(float64(msgs)/(cputime.Process().Seconds()-cpu), "msgs/cpu-s")
}

// BenchmarkSyncGroupCommitRatio alternates 100 ms phases of one SYNC_FLUSH
// appender and of 64 concurrent ones on the same store, so both see the same
// disk conditions, and reports their throughput ratio.
func BenchmarkSyncGroupCommitRatio(b *testing.B) { benchRatioWith(b) }

func benchRatioWith(b *testing.B, opts ...Option) {
	cfg := benchConfig(b, SyncFlush)
	cfg.CommitLogSegmentSize = 64 << 20
	s := mustOpen(b, cfg, opts...)
	defer mustClose(b, s)
	ctx := context.Background()
	phase := func(n int) int64 {
		var count atomic.Int64
		// A flag flipped by a timer ends the phase: reading the clock on every
		// append would add harness work to the 64-appender phase only.
		var stopped atomic.Bool
		t := time.AfterFunc(100*time.Millisecond, func() { stopped.Store(true) })
		defer t.Stop()
		var wg sync.WaitGroup
		for g := 0; g < n; g++ {
			wg.Add(1)
			go func(g int) {
				defer wg.Done()
				m := benchMsg(int32(g % 8))
				for !stopped.Load() {
					if _, err := s.Append(ctx, m); err != nil {
						b.Error(err)
						return
					}
					count.Add(1)
				}
			}(g)
		}
		wg.Wait()
		return count.Load()
	}
	var one, many, commits, waiters int64
	for i := 0; i < b.N; i++ {
		one += phase(1)
		st0 := s.Stats()
		many += phase(64)
		st := s.Stats()
		commits += st.GroupCommits - st0.GroupCommits
		waiters += st.GroupWaiters - st0.GroupWaiters
	}
	secs := 0.1 * float64(b.N)
	b.ReportMetric(float64(one)/secs, "single-msgs/s")
	b.ReportMetric(float64(many)/secs, "x64-msgs/s")
	b.ReportMetric(float64(many)/float64(max(one, 1)), "ratio")
	b.ReportMetric(float64(waiters)/float64(max(commits, 1)), "x64-waiters/fsync")
}
