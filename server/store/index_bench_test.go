package store

import (
	"context"
	"github.com/rocketgo/rocketgo/internal/cputime"
	"os"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/rocketgo/rocketgo/message"
)

// traceKeyCount is the number of keys of a full trace message: the message
// ids of its records (trace.DefaultBatchSize).
const traceKeyCount = 512

// traceKeyMsg is a trace-like message whose KEYS are n message-id-like keys
// (32 hex digits) that next() renumbers in place, so every append indexes
// keys never seen before without building a message per append. The store
// copies properties into the log and keeps no reference, so rewriting the
// bytes behind the Properties string between appends is safe here.
type traceKeyMsg struct {
	m     *message.StoredMessage
	props []byte
	keys  []int // offset of each key's round digits in props
	round uint64
}

func newTraceKeyMsg(topic string, n int) *traceKeyMsg {
	var sb strings.Builder
	for k := 0; k < n; k++ {
		if k > 0 {
			sb.WriteByte(' ')
		}
		// 12 digits of address, 3 of key number, 17 of round
		sb.WriteString("7F0000010001")
		sb.WriteString(hex3(k))
		sb.WriteString(strings.Repeat("0", 17))
	}
	t := &traceKeyMsg{m: newMsg(topic, 0, make([]byte, 2048), "", sb.String())}
	t.props = []byte(t.m.Properties)
	t.m.Properties = unsafe.String(&t.props[0], len(t.props))
	at := strings.Index(t.m.Properties, "7F0000010001")
	for k := 0; k < n; k++ {
		t.keys = append(t.keys, at+k*33+15)
	}
	return t
}

func hex3(k int) string {
	const digits = "0123456789ABCDEF"
	return string([]byte{digits[k>>8&15], digits[k>>4&15], digits[k&15]})
}

// next renumbers every key with the next round.
func (t *traceKeyMsg) next() *message.StoredMessage {
	const digits = "0123456789ABCDEF"
	t.round++
	for _, at := range t.keys {
		r := t.round
		for i := at + 16; r != 0; i-- {
			t.props[i] = digits[r&15]
			r >>= 4
		}
	}
	return t.m
}

// BenchmarkAppendTraceKeys appends trace-like messages (a 2 KiB body and
// 512 distinct message ids as KEYS, all new each append) to a wide-index
// topic with the default index geometry (5 M slots, 20 M entries) and the
// default checkpoint interval, as a broker with tracing stores them.
// ns/key is per index entry; cpu-ns/key counts the process's CPU, the
// checkpointer and pre-faulter included, which on a shared machine is the
// steadier figure. TI_NOCP=1 leaves checkpoints out (an hour apart).
func BenchmarkAppendTraceKeys(b *testing.B) {
	cfg := benchConfig(b, AsyncFlush)
	cfg.WideIndexTopics = []string{"RMQ_SYS_TRACE_TOPIC"}
	if os.Getenv("TI_NOCP") != "" {
		cfg.CheckpointInterval = time.Hour
	}
	s := mustOpen(b, cfg)
	defer mustClose(b, s)
	ctx := context.Background()
	t := newTraceKeyMsg("RMQ_SYS_TRACE_TOPIC", traceKeyCount)
	// One append first so that the index file exists and its slot table
	// has been pre-faulted before timing starts.
	if _, err := s.Append(ctx, t.next()); err != nil {
		b.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	b.ReportAllocs()
	b.ResetTimer()
	cpu := cputime.Process().Seconds()
	for i := 0; i < b.N; i++ {
		if _, err := s.Append(ctx, t.next()); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	cpu = cputime.Process().Seconds() - cpu
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*traceKeyCount), "ns/key")
	b.ReportMetric(cpu*1e9/float64(b.N*traceKeyCount), "cpu-ns/key")
}

// BenchmarkIndexPutAll isolates the index writes of a 512-key record in a
// file of the default geometry whose pages are all resident and writable
// (no faults, no I/O): one put per key, each waiting for its slot's cache
// miss, against putAll, which reads the slots first so the misses overlap.
func BenchmarkIndexPutAll(b *testing.B) {
	for _, mode := range []string{"put", "putAll"} {
		b.Run(mode, func(b *testing.B) {
			ix := &indexService{dir: b.TempDir(), slots: DefaultIndexSlots, entries: DefaultIndexEntries, alloc: fallocate}
			if err := ix.ensure(1, time.Now()); err != nil {
				b.Fatal(err)
			}
			defer ix.close()
			f := ix.files[0]
			if err := f.mf.populate(0, f.mf.size); err != nil {
				b.Skipf("populate: %v", err)
			}
			hs := make([]uint32, traceKeyCount)
			seed := topicSeed("RMQ_SYS_TRACE_TOPIC")
			key := []byte("7F00000100010000000000000000000000")
			var phy int64
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if f.full(len(hs)) {
					b.StopTimer()
					clear(f.mf.data[:idxHeaderLen])
					b.StartTimer()
				}
				for k := range hs {
					put64(key[16:], int64(i)<<10|int64(k))
					hs[k] = keyHashFrom(seed, key)
				}
				phy += 1000
				if mode == "put" {
					for _, h := range hs {
						f.put(h, phy, 1)
					}
				} else {
					f.putAll(hs, phy, 1)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*traceKeyCount), "ns/key")
		})
	}
}

// BenchmarkTraceKeysBesideSends appends trace-like messages (as
// BenchmarkAppendTraceKeys) while another goroutine makes small no-wait
// appends (TryAppendAsync, as the broker's event loops do, each with a
// UNIQ_KEY) back to back. A no-wait append that finds the append lock held
// would go to the broker's send workers; here it retries until it gets
// through, and blocked-µs/op is the time it spent so, per trace append: how
// long the trace appends kept it out, nearly their whole hold of the lock.
func BenchmarkTraceKeysBesideSends(b *testing.B) {
	cfg := benchConfig(b, AsyncFlush)
	cfg.WideIndexTopics = []string{"RMQ_SYS_TRACE_TOPIC"}
	s := mustOpen(b, cfg)
	defer mustClose(b, s)
	ctx := context.Background()
	t := newTraceKeyMsg("RMQ_SYS_TRACE_TOPIC", traceKeyCount)
	small := benchMsg(0)
	small.Properties += string(message.AppendProperty(nil, propUniqKey, "7F0000010001000000000000000000000000"))
	// Blocking appends first create the files both kinds need: a no-wait
	// append never creates one.
	for _, m := range []*message.StoredMessage{t.next(), small} {
		if _, err := s.Append(ctx, m); err != nil {
			b.Fatal(err)
		}
	}
	time.Sleep(100 * time.Millisecond)
	stop := make(chan struct{})
	done := make(chan struct{})
	var ok int64
	var blockedFor time.Duration
	go func() {
		defer close(done)
		nop := func(AppendResult, error) {}
		var since time.Time // first refusal of the current run, zero if none
		for {
			select {
			case <-stop:
				return
			default:
			}
			switch err := s.TryAppendAsync(small, nop); err {
			case nil:
				ok++
				if !since.IsZero() {
					blockedFor += time.Since(since)
					since = time.Time{}
				}
			case ErrWouldBlock:
				if since.IsZero() {
					since = time.Now()
				}
			default:
				b.Error(err)
				return
			}
		}
	}()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := s.Append(ctx, t.next()); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	close(stop)
	<-done
	b.ReportMetric(float64(blockedFor.Microseconds())/float64(b.N), "blocked-µs/op")
	b.ReportMetric(float64(ok)/b.Elapsed().Seconds(), "small-appends/s")
}
