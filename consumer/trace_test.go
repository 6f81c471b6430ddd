package consumer

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rocketgo/rocketgo/message"
	"github.com/rocketgo/rocketgo/trace"
)

// TestTracerRecords: the consumer's trace interceptor writes a SubBefore
// and a SubAfter per traced message, paired by request id, with the
// context code upstream uses for each way a listener can end; trace-topic
// messages and TRACE_ON=false messages are left out.
func TestTracerRecords(t *testing.T) {
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
	tr := &tracer{d: d, host: "10.0.0.1", group: "cg", topic: trace.DefaultTopic}
	tr.reqs.prefix = "0A0000010001ABCDEF01"

	msg := func(id string) *message.MessageExt {
		m := &message.MessageExt{Topic: "T", MsgID: id, ReconsumeTimes: 2}
		m.SetProperty(message.PropertyKeys, "k1 k2")
		m.SetProperty(message.PropertyMsgRegion, "R1")
		return m
	}
	off := msg("OFF")
	off.SetProperty(message.PropertyTraceSwitch, "false")
	traceMsg := &message.MessageExt{Topic: trace.DefaultTopic, MsgID: "TRACE"}
	cases := []struct {
		out  ConsumeOutcome
		code int
		ok   []bool // per traced message
	}{
		{ConsumeOutcome{Success: true, Acked: 2, Elapsed: 3 * time.Millisecond}, trace.ConsumeSuccess, []bool{true, true}},
		{ConsumeOutcome{Success: true, Acked: 1}, trace.ConsumeSuccess, []bool{true, false}},
		{ConsumeOutcome{}, trace.ConsumeFailed, []bool{false, false}},
		{ConsumeOutcome{Panicked: true}, trace.ConsumeException, []bool{false, false}},
		{ConsumeOutcome{TimedOut: true}, trace.ConsumeTimeout, []bool{false, false}},
	}
	for _, c := range cases {
		info := &ConsumeInfo{Group: "cg", Messages: []*message.MessageExt{msg("A"), msg("B"), off, traceMsg}, at: time.Now()}
		ctx := tr.BeforeConsume(context.Background(), info)
		tr.AfterConsume(ctx, info, c.out)
	}
	if err := d.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(recs) != 4*len(cases) {
		t.Fatalf("%d records, want %d", len(recs), 4*len(cases))
	}
	for i, c := range cases {
		group := recs[4*i : 4*i+4]
		before, after := group[:2], group[2:]
		for j := range 2 {
			b, a := before[j], after[j]
			if b.Type != trace.SubBefore || b.RegionID != "R1" || b.RetryTimes != 2 || b.Keys != "k1 k2" || b.Group != "cg" || b.ClientHost != "10.0.0.1" {
				t.Errorf("case %d: SubBefore %+v", i, b)
			}
			if a.Type != trace.SubAfter || a.RequestID != b.RequestID || a.MsgID != b.MsgID || a.ContextCode != c.code || a.Success != c.ok[j] {
				t.Errorf("case %d: SubAfter %+v (SubBefore request %s)", i, a, b.RequestID)
			}
		}
		if i > 0 && before[0].RequestID == recs[4*(i-1)].RequestID {
			t.Errorf("case %d reuses the request id", i)
		}
		// Shaped as a unique message id (32 hex digits), as upstream's.
		if id := before[0].RequestID; len(id) != 32 || id[:20] != tr.reqs.prefix || strings.Trim(id, "0123456789ABCDEF") != "" {
			t.Errorf("case %d: request id %q", i, id)
		}
		// SubAfter's time is SubBefore's plus the listener's time.
		if want := before[0].Timestamp + c.out.Elapsed.Milliseconds(); after[0].Timestamp != want {
			t.Errorf("case %d: SubAfter at %d, want %d", i, after[0].Timestamp, want)
		}
	}
	if recs[2].CostTime != 3 {
		t.Errorf("cost %d ms, want 3", recs[2].CostTime)
	}
}

// BenchmarkTracerConsume: what the trace interceptor adds to a listener
// call of one message — a SubBefore and a SubAfter queued — with the
// dispatcher batching and encoding behind it (ns/op includes their share). One allocation:
// the request id.
func BenchmarkTracerConsume(b *testing.B) {
	d := trace.NewDispatcher(trace.Config{}, trace.SenderFunc(func(_ context.Context, _ *message.Message, done func(error)) { done(nil) }))
	tr := &tracer{d: d, host: "10.0.0.1", group: "cg", topic: trace.DefaultTopic}
	tr.reqs.prefix = "0A0000010001ABCDEF01"
	m := &message.MessageExt{Topic: "T", MsgID: "0A0000010001ABCDEF0100000000002A", ReconsumeTimes: 0}
	m.SetProperty(message.PropertyKeys, "order-1")
	m.SetProperty(message.PropertyMsgRegion, "DefaultRegion")
	msgs := []*message.MessageExt{m}
	out := ConsumeOutcome{Success: true, Acked: 1, Elapsed: time.Millisecond}
	var info ConsumeInfo
	b.ReportAllocs()
	for b.Loop() {
		info = ConsumeInfo{Group: "cg", Messages: msgs, at: time.Now()}
		ctx := tr.BeforeConsume(context.Background(), &info)
		tr.AfterConsume(ctx, &info, out)

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

// TestRequestIDsUnique: ids handed out from blocks, by goroutines racing
// across block boundaries, are distinct and keep the unique-id layout.
func TestRequestIDsUnique(t *testing.T) {
	var r requestIDs
	r.prefix = "0A0000010001ABCDEF01"
	const workers, each = 8, 300 // several blocks of idsPerBlock
	out := make(chan string, workers*each)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range each {
				out <- r.next()
			}
		}()
	}
	wg.Wait()
	close(out)
	seen := map[string]bool{}
	for id := range out {
		if len(id) != 32 || id[:20] != r.prefix || strings.Trim(id[20:], "0123456789ABCDEF") != "" {
			t.Fatalf("id %q", id)
		}
		if seen[id] {
			t.Fatalf("id %q handed out twice", id)
		}
		seen[id] = true
	}
	if len(seen) != workers*each || !seen[r.prefix+"000000000001"] || !seen[r.prefix+fmt.Sprintf("%012X", workers*each)] {
		t.Fatalf("%d ids, want 1..%d", len(seen), workers*each)
	}
}

// ConsumeInfos are recycled only when the tracer is the sole interceptor:
// a traced listener call then allocates none, while a user's interceptor,
// which may keep the info it was given, always gets a fresh one.
func TestConsumeInfoReuse(t *testing.T) {
	d := trace.NewDispatcher(trace.Config{}, trace.SenderFunc(func(_ context.Context, _ *message.Message, done func(error)) { done(nil) }))
	defer d.Close(context.Background())
	tr := &tracer{d: d, host: "10.0.0.1", group: "cg", topic: trace.DefaultTopic}
	tr.reqs.prefix = "0A0000010001ABCDEF01"
	m := &message.MessageExt{Topic: "T", MsgID: "0A0000010001ABCDEF0100000000002A"}
	msgs := []*message.MessageExt{m}
	call := func(c *PushConsumer) *ConsumeInfo {
		ctx, info, _ := c.beforeConsume(Queue{Topic: "T"}, msgs)
		c.afterConsume(ctx, info, ConsumeOutcome{Success: true, Acked: 1})
		return info
	}

	c := &PushConsumer{}
	c.cfg.group = "cg"
	c.cfg.interceptors = []Interceptor{tr}
	c.reuseInfo = true // as startTrace sets it for the tracer alone
	call(c)
	if n := testing.AllocsPerRun(100, func() { call(c) }); n != 0 {
		t.Errorf("traced listener call with the tracer alone: %v allocations, want 0", n)
	}

	var kept []*ConsumeInfo
	user := InterceptorFuncs{After: func(_ context.Context, info *ConsumeInfo, _ ConsumeOutcome) { kept = append(kept, info) }}
	c2 := &PushConsumer{}
	c2.cfg.group = "cg"
	c2.cfg.interceptors = []Interceptor{tr, user}
	c2.reuseInfo = len(c2.cfg.interceptors) == 1
	for range 3 {
		call(c2)
	}
	if len(kept) != 3 || kept[0] == kept[1] || kept[1] == kept[2] || kept[0] == kept[2] {
		t.Fatalf("a user interceptor was handed recycled ConsumeInfos: %p", kept)
	}
	for _, info := range kept {
		if info.Group != "cg" || len(info.Messages) != 1 {
			t.Fatalf("an info a user interceptor kept was cleared: %+v", info)
		}
	}
}
