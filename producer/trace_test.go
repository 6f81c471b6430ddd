package producer

import (
	"context"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rocketgo/rocketgo/message"
	"github.com/rocketgo/rocketgo/trace"
)

// TestTracerPubTimes: the Pub record's time and cost come from the send
// path's clock reads (SendInfo.start and end), and a record is written
// only for a send the broker answered.
func TestTracerPubTimes(t *testing.T) {
	var (
		mu   sync.Mutex
		recs []trace.Record
	)
	d := trace.NewDispatcher(trace.Config{FlushInterval: time.Hour}, trace.SenderFunc(func(_ context.Context, m *message.Message, done func(error)) {
		r, err := trace.Decode(m.Body)
		mu.Lock()
		recs = append(recs, r...)
		mu.Unlock()
		done(err)
	}))
	tr := &tracer{d: d, cfg: d.Config(), host: "10.0.0.1"}
	start := time.UnixMilli(1733400000000)
	msg := message.New("T", []byte("body"))
	msg.Tags = "TagA"
	info := &SendInfo{Mode: ModeSync, Group: "pg", Topic: "T", Messages: []*message.Message{msg},
		start: start, end: start.Add(7 * time.Millisecond)}
	res := &SendResult{Status: SendOK, MsgID: "0A0000010001ABCDEF0100000000002A",
		OffsetMsgID: "7F00000100002A9F0000000000000000", RegionID: "DefaultRegion", TraceOn: true}
	tr.afterSend(info, res, nil)
	tr.afterSend(info, nil, context.DeadlineExceeded) // no answer: no record
	if err := d.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(recs) != 1 {
		t.Fatalf("%d records, want 1: %+v", len(recs), recs)
	}
	r := recs[0]
	if r.Type != trace.Pub || r.Timestamp != start.UnixMilli()+7 || r.CostTime != 7 || r.MsgID != res.MsgID ||
		r.StoreHost != "127.0.0.1:10911" || r.Tags != "TagA" || !r.Success || r.BodyLength != 4 {
		t.Fatalf("Pub %+v", r)
	}
}

// BenchmarkTracerAfterSend: what the tracer adds to a sync
// send of one message — a Pub record queued — with the dispatcher
// batching and encoding behind it (ns/op includes their share). No allocation.
func BenchmarkTracerAfterSend(b *testing.B) {
	d := trace.NewDispatcher(trace.Config{}, trace.SenderFunc(func(_ context.Context, _ *message.Message, done func(error)) { done(nil) }))
	tr := &tracer{d: d, cfg: d.Config(), host: "10.0.0.1"}
	now := time.Now()
	info := &SendInfo{Mode: ModeSync, Group: "pg", Topic: "T", Messages: []*message.Message{message.New("T", make([]byte, 128))},
		start: now, end: now.Add(time.Millisecond)}
	res := &SendResult{Status: SendOK, MsgID: "0A0000010001ABCDEF0100000000002A",
		OffsetMsgID: "7F00000100002A9F0000000000000000", RegionID: "DefaultRegion", TraceOn: true}
	b.ReportAllocs()
	for b.Loop() {
		tr.afterSend(info, res, nil)

		// Keep the queue from filling, so every record is encoded and
		// ns/op is the whole pipeline's cost, not the cost of dropping.
		for st := d.Stats(); st.Appended-st.Sent-st.Failed > 4096; st = d.Stats() {
			runtime.Gosched()
		}
	}
	b.StopTimer()
	d.Close(context.Background())
	st := d.Stats()
	b.ReportMetric(float64(st.Dropped)/float64(max(1, st.Appended+st.Dropped)), "dropped/record")
}

// TestSenderOfReleasesBody: SenderOf's Sender is a trace.BodyReleaser, so
// the dispatcher overwrites a body once SendTrace returned; what the broker
// stores must be the body as it was, compressed or (under the threshold)
// copied.
func TestSenderOfReleasesBody(t *testing.T) {
	srv := startServer(t)
	rc := newRC(t)
	createTopicWait(t, rc, srv, "TraceRel", 1)
	p := newProducer(t, srv, WithGroup("PG_TraceRel"), WithCompression(trace.CompressThreshold, 0),
		WithCompressor(trace.AppendZlib))
	s := SenderOf(p)
	if _, ok := s.(trace.BodyReleaser); !ok {
		t.Fatal("SenderOf's Sender is no BodyReleaser")
	}
	var want []string
	for _, n := range []int{100, 3 * trace.CompressThreshold} { // copied, compressed
		body := []byte(strings.Repeat("record\x01", n/7))
		want = append(want, string(body))
		done := make(chan error, 1)
		s.SendTrace(testCtx(t), message.New("TraceRel", body), func(err error) { done <- err })
		for i := range body {
			body[i] = 'X' // the dispatcher's next message
		}
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	got := waitMessages(t, rc, srv.BrokerAddr(), "TraceRel", 1, 2, 10*time.Second)
	for i, m := range got {
		if m.Err != nil || string(m.Body) != want[i] {
			t.Fatalf("message %d: stored %d bytes starting %.20q (%v), want %d", i, len(m.Body), m.Body, m.Err, len(want[i]))
		}
	}
}
