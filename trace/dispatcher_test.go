package trace

import (
	"context"
	"errors"
	"fmt"
	"github.com/rocketgo/rocketgo/internal/cputime"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rocketgo/rocketgo/message"
)

// memSender records trace messages; with hold set it keeps their done
// callbacks until release, so sends stay in flight.
type memSender struct {
	mu    sync.Mutex
	msgs  []*message.Message
	hold  bool
	held  []func(error)
	fail  error
	calls int
}

func (s *memSender) SendTrace(_ context.Context, m *message.Message, done func(error)) {
	s.mu.Lock()
	s.calls++
	if s.hold {
		s.held = append(s.held, done)
		s.mu.Unlock()
		return
	}
	if s.fail == nil {
		s.msgs = append(s.msgs, m)
	}
	err := s.fail
	s.mu.Unlock()
	done(err)
}

func (s *memSender) release() {
	s.mu.Lock()
	held := s.held
	s.held, s.hold = nil, false
	s.mu.Unlock()
	for _, d := range held {
		d(nil)
	}
}

func (s *memSender) decoded(t *testing.T) (recs []Record, keys []string) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, m := range s.msgs {
		r, err := Decode(m.Body)
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, r...)
		keys = append(keys, m.Keys...)
	}
	return recs, keys
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestDispatcherBatchesAndKeys(t *testing.T) {
	s := &memSender{}
	d := NewDispatcher(Config{BatchSize: 10, FlushInterval: time.Hour}, s)
	for i := range 25 {
		r := Record{Type: SubBefore, Group: "g", MsgID: "ID" + string(rune('A'+i)), Keys: "k"}
		if !d.Append(r) {
			t.Fatal("append refused")
		}
	}
	// Two full batches go at once; the partial one only on Close (the
	// flush interval is an hour).
	waitFor(t, "two trace messages", func() bool { return d.Stats().Messages == 2 })
	if err := d.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	st := d.Stats()
	if st.Messages != 3 || st.Sent != 25 || st.Appended != 25 || st.Dropped != 0 || st.Failed != 0 {
		t.Fatalf("stats %+v", st)
	}
	recs, _ := s.decoded(t)
	if len(recs) != 25 {
		t.Fatalf("%d records decoded", len(recs))
	}
	s.mu.Lock()
	first := s.msgs[0]
	s.mu.Unlock()
	if first.Topic != DefaultTopic {
		t.Fatalf("topic %q", first.Topic)
	}
	// Ten distinct ids and the shared key once.
	if len(first.Keys) != 11 || first.Keys[0] != "IDA" || first.Keys[1] != "k" {
		t.Fatalf("keys %q", first.Keys)
	}
	if d.Append(Record{Type: Pub}) {
		t.Fatal("append after Close accepted")
	}
	if err := d.Close(context.Background()); !errors.Is(err, ErrClosed) {
		t.Fatalf("second Close: %v", err)
	}
}

// TestDispatcherFillsMessagesAcrossChunks: the loop takes records a
// chunk at a time but fills one message until BatchSize, so while records
// keep coming every message goes out with exactly BatchSize of them, not
// as a take plus a remainder; what is left goes on Close.
func TestDispatcherFillsMessagesAcrossChunks(t *testing.T) {
	s := &memSender{}
	const batch = 1000 // more than a chunk, not a multiple of one
	d := NewDispatcher(Config{BatchSize: batch, FlushInterval: time.Hour}, s)
	n := 0
	for ; n < 20*batch && d.Stats().Messages < 2; n++ {
		if !d.Append(Record{Type: Pub, MsgID: fmt.Sprintf("ID%06d", n)}) {
			t.Fatalf("record %d dropped", n)
		}
	}
	if err := d.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.msgs) < 2 {
		t.Fatalf("%d trace messages for %d records", len(s.msgs), n)
	}
	total := 0
	for i, m := range s.msgs {
		recs, err := Decode(m.Body)
		if err != nil || len(recs) != len(m.Keys) {
			t.Fatalf("message %d: %d records, %d keys (%v)", i, len(recs), len(m.Keys), err)
		}
		if i < len(s.msgs)-1 && len(recs) != batch {
			t.Fatalf("message %d of %d: %d records, want %d", i, len(s.msgs), len(recs), batch)
		}
		total += len(recs)
	}
	if total != n {
		t.Fatalf("%d records sent, %d appended", total, n)
	}
}

func TestDispatcherFlushInterval(t *testing.T) {
	s := &memSender{}
	d := NewDispatcher(Config{FlushInterval: time.Millisecond}, s)
	defer d.Close(context.Background())
	d.Append(Record{Type: Pub, MsgID: "X"})
	waitFor(t, "the partial batch", func() bool { return d.Stats().Sent == 1 })
}

func TestDispatcherSplitsAtMaxBatchBytes(t *testing.T) {
	s := &memSender{}
	d := NewDispatcher(Config{MaxBatchBytes: 200, FlushInterval: time.Hour}, s)
	for range 20 {
		d.Append(Record{Type: Pub, MsgID: strings.Repeat("M", 40)})
	}
	if err := d.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.msgs) < 5 {
		t.Fatalf("%d messages for 20 records of ~80 bytes at 200 bytes each", len(s.msgs))
	}
	for _, m := range s.msgs {
		if len(m.Body) > 200+100 {
			t.Fatalf("body of %d bytes", len(m.Body))
		}
	}
}

// TestDispatcherSplitsAtMaxKeyBytes: records with long distinct keys close
// a trace message before its keys pass MaxKeyBytes (the KEYS property must
// fit the 16-bit properties length), and every key still lands in the
// message carrying its record.
func TestDispatcherSplitsAtMaxKeyBytes(t *testing.T) {
	s := &memSender{}
	d := NewDispatcher(Config{FlushInterval: time.Hour}, s)
	const n = 200
	for i := range n {
		key := fmt.Sprintf("%04d-%s", i, strings.Repeat("k", 250))
		d.Append(Record{Type: Pub, MsgID: fmt.Sprintf("ID%04d", i), Keys: key})
	}
	if err := d.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.msgs) < 3 { // ~51 KB of keys
		t.Fatalf("%d trace messages for %d records with 255-byte keys", len(s.msgs), n)
	}
	total := 0
	for _, m := range s.msgs {
		if kb := len(strings.Join(m.Keys, " ")); kb > MaxKeyBytes {
			t.Fatalf("keys of %d bytes, more than %d", kb, MaxKeyBytes)
		}
		recs, err := Decode(m.Body)
		if err != nil {
			t.Fatal(err)
		}
		have := map[string]bool{}
		for _, k := range m.Keys {
			have[k] = true
		}
		for _, r := range recs {
			if !have[r.MsgID] || !have[r.Keys] {
				t.Fatalf("record %s travels without its keys", r.MsgID)
			}
		}
		total += len(recs)
	}
	if total != n {
		t.Fatalf("%d records sent, want %d", total, n)
	}
}

// TestDispatcherDropsWhenFull: a sender that never finishes fills the
// in-flight slots, then the queue; further appends return at once, counted
// as drops.
func TestDispatcherDropsWhenFull(t *testing.T) {
	s := &memSender{hold: true}
	d := NewDispatcher(Config{QueueSize: 4, BatchSize: 1, MaxInflight: 1, FlushInterval: time.Hour}, s)
	start := time.Now()
	accepted := 0
	for range 1000 {
		if d.Append(Record{Type: Pub, MsgID: "X"}) {
			accepted++
		}
	}
	if el := time.Since(start); el > time.Second {
		t.Fatalf("1000 appends took %v", el)
	}
	st := d.Stats()
	if st.Dropped == 0 || st.Dropped+st.Appended != 1000 || int64(accepted) != st.Appended {
		t.Fatalf("stats %+v, accepted %d", st, accepted)
	}
	// At most queue + one in flight + one held by the loop were accepted.
	if accepted > 4+2 {
		t.Fatalf("accepted %d with a queue of 4", accepted)
	}
	s.release()
	// The loop sends what is queued; new holds are released as they come.
	go func() {
		for d.Stats().Sent < st.Appended {
			s.release()
			time.Sleep(time.Millisecond)
		}
	}()
	if err := d.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := d.Stats(); got.Sent != st.Appended {
		t.Fatalf("after Close %+v", got)
	}
}

func TestDispatcherCountsFailedSends(t *testing.T) {
	s := &memSender{fail: errors.New("topic not exist")}
	d := NewDispatcher(Config{}, s)
	for range 7 {
		d.Append(Record{Type: SubAfter, MsgID: "X"})
	}
	if err := d.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if st := d.Stats(); st.Failed != 7 || st.Sent != 0 {
		t.Fatalf("stats %+v", st)
	}
}

func TestDispatcherCloseGivesUpAtDeadline(t *testing.T) {
	before := runtime.NumGoroutine()
	s := &memSender{hold: true}
	d := NewDispatcher(Config{MaxInflight: 1, BatchSize: 1, FlushInterval: time.Hour}, s)
	d.Append(Record{Type: Pub, MsgID: "A"})
	d.Append(Record{Type: Pub, MsgID: "B"})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	go func() { // the stuck send finishes once Close has given up
		<-ctx.Done()
		s.release()
	}()
	if err := d.Close(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Close = %v", err)
	}
	st := d.Stats()
	if st.Sent+st.Failed != 2 {
		t.Fatalf("stats %+v", st)
	}
	waitFor(t, "goroutines to stop", func() bool { return runtime.NumGoroutine() <= before+1 })
}

func TestCloudTopicPerRegion(t *testing.T) {
	s := &memSender{}
	d := NewDispatcher(Config{AccessChannel: Cloud, Topic: "ignored"}, s)
	d.Append(Record{Type: Pub, RegionID: "r1", MsgID: "A"})
	d.Append(Record{Type: Pub, RegionID: "r2", MsgID: "B"})
	d.Close(context.Background())
	s.mu.Lock()
	defer s.mu.Unlock()
	topics := map[string]bool{}
	for _, m := range s.msgs {
		topics[m.Topic] = true
	}
	if !topics["rmq_sys_TRACE_DATA_r1"] || !topics["rmq_sys_TRACE_DATA_r2"] {
		t.Fatalf("topics %v", topics)
	}
}

// BenchmarkDispatcherAppend: the cost a traced send or listener call pays
// per record, from parallel goroutines, with batching and encoding running
// behind it.
func BenchmarkDispatcherAppend(b *testing.B) {
	d := NewDispatcher(Config{QueueSize: 1 << 16}, SenderFunc(func(_ context.Context, _ *message.Message, done func(error)) { done(nil) }))
	r := sampleRecords()[0]
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			d.Append(r)
		}
	})
	b.StopTimer()
	d.Close(context.Background())
	st := d.Stats()
	b.ReportMetric(float64(st.Dropped)/float64(st.Appended+st.Dropped), "dropped/op")
}

// BenchmarkDispatcher64Senders: the whole per-record cost of tracing
// with the default queue: Append from 64 goroutines (as loadtest's
// senders) plus the loop's batching and encoding, timed until Close has
// sent everything. A refused record is retried after a yield, so every
// record is encoded and ns/op is the pipeline's cost per record, not the
// cost of dropping.
func BenchmarkDispatcher64Senders(b *testing.B) {
	d := NewDispatcher(Config{}, SenderFunc(func(_ context.Context, _ *message.Message, done func(error)) { done(nil) }))
	r := sampleRecords()[0]
	b.ReportAllocs()
	b.SetParallelism(64 / max(1, runtime.GOMAXPROCS(0)))
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			for !d.Append(r) {
				runtime.Gosched()
			}
		}
	})
	d.Close(context.Background())
	b.StopTimer()
	st := d.Stats()
	b.ReportMetric(float64(st.Appended)/float64(max(1, st.Messages)), "records/msg")
}

// releasingSender decodes each body while SendTrace runs, as a
// BodyReleaser may, and remembers where each body lived.
type releasingSender struct {
	mu       sync.Mutex
	recs     []Record
	keys     []string // each message's keys, joined as KEYS carries them
	arrays   map[*byte]int
	keyLists map[*string]int
}

func (s *releasingSender) SendTrace(_ context.Context, msg *message.Message, done func(error)) {
	recs, err := Decode(msg.Body)
	s.mu.Lock()
	s.recs = append(s.recs, recs...)
	s.keys = append(s.keys, strings.Join(msg.Keys, " "))
	s.arrays[&msg.Body[:1][0]]++
	s.keyLists[&msg.Keys[:1][0]]++
	s.mu.Unlock()
	done(err)
}

func (s *releasingSender) ReleasesBody() {}

// TestDispatcherReusesReleasedBodies: with a BodyReleaser the dispatcher
// writes later trace messages into a released body, and every record
// arrives intact.
func TestDispatcherReusesReleasedBodies(t *testing.T) {
	s := &releasingSender{arrays: map[*byte]int{}, keyLists: map[*string]int{}}
	d := NewDispatcher(Config{BatchSize: 10, FlushInterval: time.Hour}, s)
	const n = 100
	for i := range n {
		if !d.Append(Record{Type: Pub, Topic: "T", MsgID: fmt.Sprintf("ID%03d", i), Timestamp: int64(i)}) {
			t.Fatalf("record %d dropped", i)
		}
	}
	if err := d.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.recs) != n {
		t.Fatalf("%d records arrived, want %d", len(s.recs), n)
	}
	for i, r := range s.recs {
		if r.MsgID != fmt.Sprintf("ID%03d", i) || r.Timestamp != int64(i) {
			t.Fatalf("record %d: %+v", i, r)
		}
	}
	if len(s.arrays) >= n/10 {
		t.Fatalf("%d trace messages in %d bodies: none reused", n/10, len(s.arrays))
	}
	if len(s.keyLists) >= n/10 {
		t.Fatalf("%d trace messages in %d key slices: none reused", n/10, len(s.keyLists))
	}
	for m, got := range s.keys {
		var want []string
		for i := m * 10; i < m*10+10; i++ {
			want = append(want, fmt.Sprintf("ID%03d", i))
		}
		if got != strings.Join(want, " ") {
			t.Fatalf("trace message %d carried keys %q, want %q", m, got, strings.Join(want, " "))
		}
	}
}

// zlibSender does with each trace message what the trace producers do
// (producer.SenderOf with AppendZlib): compresses the body and joins the
// keys into one KEYS value, then reports success.
type zlibSender struct {
	mu  sync.Mutex
	out []byte
}

func (s *zlibSender) SendTrace(_ context.Context, m *message.Message, done func(error)) {
	s.mu.Lock()
	s.out = AppendZlib(s.out[:0], m.Body)
	_ = strings.Join(m.Keys, " ")
	s.mu.Unlock()
	done(nil)
}

func (*zlibSender) ReleasesBody() {}

// loadRecords returns n traced messages' records shaped like a traced
// load test's: per message a Pub for the producer's dispatcher and a
// SubBefore/SubAfter pair for the consumer's, ids counting up.
func loadRecords(n int) (pub, sub []Record) {
	ts := int64(1796587639536)
	for i := range n {
		id := fmt.Sprintf("C0000202303F3025E2911E11%08X", 0x22E00000+i)
		req := fmt.Sprintf("C0000202303F6A294A8C%012X", i+1)
		pub = append(pub, Record{Type: Pub, Timestamp: ts + int64(i/64), RegionID: "DefaultRegion",
			Group: "benchmark_producer", Topic: "RocketgoLoadTest", MsgID: id,
			OffsetMsgID: fmt.Sprintf("7F00000100009B3F%016X", i*300), StoreHost: "127.0.0.1:39743",
			ClientHost: "192.0.2.2", BodyLength: 128, CostTime: int64(i % 7), Success: true})
		sub = append(sub,
			Record{Type: SubBefore, Timestamp: ts + int64(i/64), RegionID: "DefaultRegion", Group: "benchmark_consumer",
				RequestID: req, MsgID: id, ClientHost: "192.0.2.2"},
			Record{Type: SubAfter, Timestamp: ts + int64(i/64), Group: "benchmark_consumer",
				RequestID: req, MsgID: id, CostTime: int64(i % 2), Success: true})
	}
	return pub, sub
}

// BenchmarkDispatcherLoad: tracing's client-side cost per traced message
// of a load test (op): a Pub appended to a producer's dispatcher and a
// SubBefore and SubAfter to a consumer's, from 64 goroutines, with the
// batching, encoding, key de-duplication and the trace producer's
// compression (zlibSender) behind them, timed until both dispatchers have
// sent everything. Refused records are retried, so every one is sent.
// cpu-ns/op, the process's CPU per op, is the figure to compare: ns/op is
// wall time on however many cores the goroutines got.
func BenchmarkDispatcherLoad(b *testing.B) {
	pubs, subs := loadSet()
	dp := NewDispatcher(Config{}, &zlibSender{})
	dc := NewDispatcher(Config{}, &zlibSender{})
	var next atomic.Int64
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cputime.Process()
	b.SetParallelism(64 / max(1, runtime.GOMAXPROCS(0)))
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := int(next.Add(1)) & (len(pubs) - 1)
			for _, a := range [...]struct {
				d *Dispatcher
				r *Record
			}{{dp, &pubs[i]}, {dc, &subs[2*i]}, {dc, &subs[2*i+1]}} {
				for !a.d.Append(*a.r) {
					// Sleep, not spin: the loop is behind, and a spinning
					// appender's CPU would be counted as tracing's.
					time.Sleep(100 * time.Microsecond)
				}
			}
		}
	})
	dp.Close(context.Background())
	dc.Close(context.Background())
	b.StopTimer()
	b.ReportMetric(float64(cputime.Process()-cpu0)/float64(b.N), "cpu-ns/op")
	sp, sc := dp.Stats(), dc.Stats()
	b.ReportMetric(float64(sp.Appended+sc.Appended)/float64(max(1, sp.Messages+sc.Messages)), "records/msg")
}

var loadSet = sync.OnceValues(func() ([]Record, []Record) { return loadRecords(1 << 14) })
