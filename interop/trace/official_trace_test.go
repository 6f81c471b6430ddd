//go:build !race

// Message-trace interop with the official Go client v2.1.2 (built without
// -race: the official client has data races of its own). Run with
//
//	cd interop && go test -count=1 -run Official ./trace/

package trace_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	rocketmq "github.com/apache/rocketmq-client-go/v2"
	oconsumer "github.com/apache/rocketmq-client-go/v2/consumer"
	"github.com/apache/rocketmq-client-go/v2/primitive"
	oproducer "github.com/apache/rocketmq-client-go/v2/producer"
	"github.com/apache/rocketmq-client-go/v2/rlog"

	"github.com/rocketgo/rocketgo/client"
	"github.com/rocketgo/rocketgo/consumer"
	"github.com/rocketgo/rocketgo/message"
	"github.com/rocketgo/rocketgo/producer"
	"github.com/rocketgo/rocketgo/remoting"
	"github.com/rocketgo/rocketgo/server/broker"
	"github.com/rocketgo/rocketgo/server/embedded"
	"github.com/rocketgo/rocketgo/server/embedded/embeddedtest"
	"github.com/rocketgo/rocketgo/trace"
)

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(40 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func createTopic(t *testing.T, ctx context.Context, cl *client.Client, srv *embedded.Server, topic string) {
	t.Helper()
	resp, err := cl.Request(ctx, srv.BrokerAddr(), remoting.NewRequest(remoting.UpdateAndCreateTopic, &remoting.CreateTopicRequestHeader{
		Topic: topic, DefaultTopic: "TBW102", ReadQueueNums: 2, WriteQueueNums: 2, Perm: 6, TopicFilterType: "SINGLE_TAG",
	}, nil))
	if err != nil || resp.Code != remoting.Success {
		t.Fatalf("create %s: %v %v", topic, err, resp)
	}
	waitFor(t, "route of "+topic, func() bool {
		resp, _, err := cl.NameServerRequest(ctx, remoting.NewRequest(remoting.GetRouteInfoByTopic, &remoting.GetRouteInfoRequestHeader{Topic: topic}, nil))
		return err == nil && resp.Code == remoting.Success
	})
}

// rawTraceRecords returns every record, as the bytes its writer produced,
// of the trace messages the broker's index holds under key.
func rawTraceRecords(t *testing.T, ctx context.Context, cl *client.Client, addr, key string) []string {
	t.Helper()
	resp, err := cl.Request(ctx, addr, remoting.NewRequest(remoting.QueryMessage, &remoting.QueryMessageRequestHeader{
		Topic: trace.DefaultTopic, Key: key, MaxNum: 32, EndTimestamp: time.Now().Add(time.Minute).UnixMilli(),
	}, nil))
	if err != nil || resp.Code != remoting.Success {
		t.Fatalf("query %s: %v %v", key, err, resp)
	}
	msgs, err := message.DecodeMessages(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, m := range msgs {
		for _, rec := range strings.SplitAfter(string(m.Body), "\x02") {
			if rec != "" {
				out = append(out, rec)
			}
		}
	}
	return out
}

func has(recs []trace.Record, ty trace.Type) *trace.Record {
	for i := range recs {
		if recs[i].Type == ty {
			return &recs[i]
		}
	}
	return nil
}

// TestOfficialTraceInterop: the official client's producer and consumer
// trace to our broker next to ours, crosswise (official producer → our
// consumer, our producer → official consumer). Every message then has a
// Pub, a SubBefore and a SubAfter record, found by trace.Query whoever
// wrote them; and every record in the trace topic — official or ours —
// re-encodes with our encoder to exactly the bytes its writer stored, so
// our records have the official layout byte for byte.
func TestOfficialTraceInterop(t *testing.T) {
	rlog.SetLogLevel("fatal")
	srv := embeddedtest.Start(t, func(c *broker.Config) { c.TraceTopicEnable = true })
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cl, err := client.New(client.WithNameServers(srv.NamesrvAddr()), client.WithInstanceName("trace-interop"))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	createTopic(t, ctx, cl, srv, "TraceFromOfficial")
	createTopic(t, ctx, cl, srv, "TraceFromOurs")
	traceCfg := &primitive.TraceConfig{Access: primitive.Local, NamesrvAddrs: []string{srv.NamesrvAddr()}}

	// Official producer → our consumer.
	op, err := rocketmq.NewProducer(
		oproducer.WithNsResolver(primitive.NewPassthroughResolver([]string{srv.NamesrvAddr()})),
		oproducer.WithGroupName("official-trace-pg"), oproducer.WithRetry(1),
		oproducer.WithTrace(traceCfg))
	if err != nil {
		t.Fatal(err)
	}
	if err := op.Start(); err != nil {
		t.Fatal(err)
	}
	defer op.Shutdown()
	const n = 5
	var officialIDs, ourIDs []string
	for i := range n {
		m := primitive.NewMessage("TraceFromOfficial", []byte(fmt.Sprint("official-", i)))
		m.WithTag("ot")
		m.WithKeys([]string{fmt.Sprint("okey", i)})
		res, err := op.SendSync(ctx, m)
		if err != nil {
			t.Fatal(err)
		}
		officialIDs = append(officialIDs, res.MsgID)
	}
	var mu sync.Mutex
	got := map[string]bool{}
	ours, err := consumer.NewPush(consumer.WithClient(cl), consumer.WithGroup("our-trace-cg"),
		consumer.WithConsumeFrom(consumer.ConsumeFromFirstOffset), consumer.WithTrace(consumer.TraceConfig{}))
	if err != nil {
		t.Fatal(err)
	}
	if err := ours.Subscribe("TraceFromOfficial", "*", consumer.ConcurrentListener(func(_ context.Context, _ *consumer.ConcurrentContext, msgs []*message.MessageExt) consumer.ConsumeResult {
		mu.Lock()
		defer mu.Unlock()
		for _, m := range msgs {
			got[m.MsgID] = true
		}
		return consumer.ConsumeSuccess
	})); err != nil {
		t.Fatal(err)
	}
	if err := ours.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer ours.Shutdown(ctx)

	// Our producer → official consumer.
	p, err := producer.New(producer.WithClient(cl), producer.WithGroup("our-trace-pg"), producer.WithTrace(producer.TraceConfig{}))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Shutdown(ctx)
	for i := range n {
		res, err := p.SendSync(ctx, message.New("TraceFromOurs", []byte(fmt.Sprint("ours-", i))).WithTags("ut").WithKeys(fmt.Sprint("ukey", i)))
		if err != nil {
			t.Fatal(err)
		}
		ourIDs = append(ourIDs, res.MsgID)
	}
	oc, err := rocketmq.NewPushConsumer(
		oconsumer.WithNsResolver(primitive.NewPassthroughResolver([]string{srv.NamesrvAddr()})),
		oconsumer.WithGroupName("official-trace-cg"), oconsumer.WithConsumeFromWhere(oconsumer.ConsumeFromFirstOffset),
		oconsumer.WithTrace(traceCfg))
	if err != nil {
		t.Fatal(err)
	}
	if err := oc.Subscribe("TraceFromOurs", oconsumer.MessageSelector{Type: oconsumer.TAG, Expression: "*"},
		func(_ context.Context, msgs ...*primitive.MessageExt) (oconsumer.ConsumeResult, error) {
			mu.Lock()
			defer mu.Unlock()
			for _, m := range msgs {
				got[m.MsgId] = true
			}
			return oconsumer.ConsumeSuccess, nil
		}); err != nil {
		t.Fatal(err)
	}
	if err := oc.Start(); err != nil {
		t.Fatal(err)
	}
	defer oc.Shutdown()

	check := func(id, topic, pg, cg, tags, keys string) {
		t.Helper()
		var recs []trace.Record
		waitFor(t, "Pub, SubBefore and SubAfter of "+id, func() bool {
			recs, _ = trace.Query(ctx, cl, "", id)
			return has(recs, trace.Pub) != nil && has(recs, trace.SubBefore) != nil && has(recs, trace.SubAfter) != nil
		})
		pub, before, after := has(recs, trace.Pub), has(recs, trace.SubBefore), has(recs, trace.SubAfter)
		if pub.Topic != topic || pub.Group != pg || pub.Tags != tags || pub.Keys != keys || !pub.Success ||
			pub.OffsetMsgID == "" || pub.StoreHost == "" || pub.RegionID != "DefaultRegion" || pub.BodyLength == 0 {
			t.Errorf("Pub of %s: %+v", id, *pub)
		}
		if before.Group != cg || before.RequestID == "" || before.Keys != keys || before.RequestID != after.RequestID {
			t.Errorf("SubBefore of %s: %+v (SubAfter request %s)", id, *before, after.RequestID)
		}
		if !after.Success || after.ContextCode != trace.ConsumeSuccess {
			t.Errorf("SubAfter of %s: %+v", id, *after)
		}
	}
	for i, id := range officialIDs {
		check(id, "TraceFromOfficial", "official-trace-pg", "our-trace-cg", "ot", fmt.Sprint("okey", i))
	}
	for i, id := range ourIDs {
		check(id, "TraceFromOurs", "our-trace-pg", "official-trace-cg", "ut", fmt.Sprint("ukey", i))
	}

	// Byte for byte: decode each stored record with ours, encode it again
	// with ours, compare with what its writer stored.
	checked := map[string]bool{}
	for _, id := range append(officialIDs, ourIDs...) {
		for _, raw := range rawTraceRecords(t, ctx, cl, srv.BrokerAddr(), id) {
			if checked[raw] {
				continue
			}
			checked[raw] = true
			recs, err := trace.Decode([]byte(raw))
			if err != nil || len(recs) != 1 {
				t.Fatalf("decode %q: %v %v", raw, recs, err)
			}
			if again := string(trace.AppendRecord(nil, &recs[0])); again != raw {
				t.Errorf("re-encoded record differs\nstored %q\n  ours %q", raw, again)
			}
		}
	}
	if os.Getenv("ROCKETGO_CAPTURE") == "1" {
		writeCapture(t, checked)
	}
	if len(checked) < 6*n {
		t.Fatalf("only %d distinct records compared, want at least %d", len(checked), 6*n)
	}
	t.Logf("%d stored trace records (official and ours) re-encode byte for byte", len(checked))
}

// writeCapture stores the official client's records (one Go-quoted record
// per line) as the root module's trace/testdata/official_v2.1.2.txt, which
// the decoder's unit tests and fuzz seeds read. Only with
// ROCKETGO_CAPTURE=1, because it writes files.
func writeCapture(t *testing.T, records map[string]bool) {
	var lines []string
	for raw := range records {
		if strings.Contains(raw, "official-trace-") {
			lines = append(lines, fmt.Sprintf("%q", raw))
		}
	}
	slices.Sort(lines)
	path := filepath.Join("..", "..", "trace", "testdata", "official_v2.1.2.txt")
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	head := "# Trace records written by rocketmq-client-go v2.1.2 (WithTrace), captured by\n" +
		"# interop/trace TestOfficialTraceInterop with ROCKETGO_CAPTURE=1. One Go-quoted record a line.\n"
	if err := os.WriteFile(path, []byte(head+strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("wrote %d official records to %s", len(lines), path)
}

// TestOfficialReadsCompressedTraceBatch: our trace batches over
// trace.CompressThreshold are stored zlib-compressed, as the Java client
// stores its own; an official consumer of the trace topic receives such a
// batch inflated, every record intact.
func TestOfficialReadsCompressedTraceBatch(t *testing.T) {
	rlog.SetLogLevel("fatal")
	srv := embeddedtest.Start(t, func(c *broker.Config) { c.TraceTopicEnable = true })
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cl, err := client.New(client.WithNameServers(srv.NamesrvAddr()), client.WithInstanceName("trace-zlib"))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	createTopic(t, ctx, cl, srv, "TraceZlib")
	// One batch: the dispatcher waits an hour, so Shutdown flushes all.
	p, err := producer.New(producer.WithClient(cl), producer.WithGroup("zlib-pg"),
		producer.WithTrace(producer.TraceConfig{FlushInterval: time.Hour}))
	if err != nil {
		t.Fatal(err)
	}
	const n = 60
	ids := map[string]bool{}
	for i := range n {
		res, err := p.SendSync(ctx, message.New("TraceZlib", []byte(fmt.Sprint(i))).WithKeys(fmt.Sprint("zkey", i)))
		if err != nil {
			t.Fatal(err)
		}
		ids[res.MsgID] = true
	}
	if err := p.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if st := p.TraceStats(); st.Messages != 1 || st.Sent != n {
		t.Fatalf("trace stats %+v, want one message of %d records", st, n)
	}

	type batch struct {
		sysFlag int32
		body    []byte
	}
	got := make(chan batch, 4)
	oc, err := rocketmq.NewPushConsumer(
		oconsumer.WithNsResolver(primitive.NewPassthroughResolver([]string{srv.NamesrvAddr()})),
		oconsumer.WithGroupName("official-zlib-cg"), oconsumer.WithConsumeFromWhere(oconsumer.ConsumeFromFirstOffset))
	if err != nil {
		t.Fatal(err)
	}
	if err := oc.Subscribe(trace.DefaultTopic, oconsumer.MessageSelector{Type: oconsumer.TAG, Expression: "*"},
		func(_ context.Context, msgs ...*primitive.MessageExt) (oconsumer.ConsumeResult, error) {
			for _, m := range msgs {
				got <- batch{m.SysFlag, m.Body}
			}
			return oconsumer.ConsumeSuccess, nil
		}); err != nil {
		t.Fatal(err)
	}
	if err := oc.Start(); err != nil {
		t.Fatal(err)
	}
	defer oc.Shutdown()
	var b batch
	select {
	case b = <-got:
	case <-ctx.Done():
		t.Fatal("the official consumer received no trace message")
	}
	if b.sysFlag&message.SysFlagCompressed == 0 {
		t.Errorf("trace batch stored uncompressed (SysFlag %#x)", b.sysFlag)
	}
	recs, err := trace.Decode(b.body)
	if err != nil || len(recs) != n {
		t.Fatalf("official consumer's body: %d records, %v", len(recs), err)
	}
	for _, r := range recs {
		if r.Type != trace.Pub || !ids[r.MsgID] || r.Topic != "TraceZlib" {
			t.Fatalf("record %+v", r)
		}
	}
}
