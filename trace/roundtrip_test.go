package trace_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/rocketgo/rocketgo/admin"
	"github.com/rocketgo/rocketgo/auth"
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

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func newClient(t *testing.T, srv *embedded.Server) *client.Client {
	t.Helper()
	cl, err := client.New(client.WithNameServers(srv.NamesrvAddr()), client.WithInstanceName(t.Name()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cl.Close() })
	return cl
}

// createTopic creates topic on the broker and waits for its own route.
func createTopic(t *testing.T, cl *client.Client, srv *embedded.Server, topic string) {
	t.Helper()
	ctx := testCtx(t)
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

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func types(recs []trace.Record) map[trace.Type]int {
	out := map[trace.Type]int{}
	for _, r := range recs {
		out[r.Type]++
	}
	return out
}

// TestRoundTrip: a traced producer and a traced consumer leave Pub,
// SubBefore and SubAfter records for every message, which Query finds by
// message id through the broker's index, including records deep inside a
// trace message batching more than 32 of them.
func TestRoundTrip(t *testing.T) {
	began := time.Now().UnixMilli()
	srv := embeddedtest.Start(t, func(c *broker.Config) { c.TraceTopicEnable = true })
	cl := newClient(t, srv)
	createTopic(t, cl, srv, "TraceRT")
	ctx := testCtx(t)

	p, err := producer.New(producer.WithClient(cl), producer.WithGroup("rt-pg"),
		producer.WithTrace(producer.TraceConfig{FlushInterval: 50 * time.Millisecond}))
	if err != nil {
		t.Fatal(err)
	}
	const n = 60
	ids := make([]string, n)
	for i := range n {
		res, err := p.SendSync(ctx, message.New("TraceRT", []byte(fmt.Sprint("body", i))).WithTags("tagA").WithKeys(fmt.Sprint("key", i)))
		if err != nil {
			t.Fatal(err)
		}
		ids[i] = res.MsgID
	}

	c := consumeAll(t, cl, "TraceRT", n, consumer.WithGroup("rt-cg"), consumer.WithTrace(consumer.TraceConfig{}))
	// Shutting down flushes both dispatchers.
	if err := c.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if err := p.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if st := p.TraceStats(); st.Appended != n || st.Sent != n || st.Dropped != 0 {
		t.Fatalf("producer trace stats %+v", st)
	}
	if st := c.TraceStats(); st.Sent != 2*n || st.Dropped != 0 || st.Failed != 0 {
		t.Fatalf("consumer trace stats %+v", st)
	}

	for _, i := range []int{0, n / 2, n - 1} {
		var recs []trace.Record
		waitFor(t, "trace of "+ids[i], func() bool {
			recs, err = trace.Query(ctx, cl, "", ids[i])
			ty := types(recs)
			return ty[trace.Pub] == 1 && ty[trace.SubBefore] == 1 && ty[trace.SubAfter] == 1
		})
		if err != nil {
			t.Fatalf("query %s: %v", ids[i], err)
		}
		for _, r := range recs {
			if r.MsgID != ids[i] {
				t.Fatalf("record of another message: %+v", r)
			}
			switch r.Type {
			case trace.Pub:
				if r.Topic != "TraceRT" || r.Group != "rt-pg" || r.Tags != "tagA" || r.Keys != fmt.Sprint("key", i) ||
					!r.Success || r.OffsetMsgID == "" || r.StoreHost == "" || r.RegionID != "DefaultRegion" || r.BodyLength == 0 {
					t.Errorf("Pub %+v", r)
				}
			case trace.SubBefore:
				if r.Group != "rt-cg" || r.RequestID == "" || r.Keys != fmt.Sprint("key", i) {
					t.Errorf("SubBefore %+v", r)
				}
				// Stamped with the consume loop's clock read.
				if r.Timestamp < began || r.Timestamp > time.Now().UnixMilli() {
					t.Errorf("SubBefore at %d, outside the test's run from %d", r.Timestamp, began)
				}
			case trace.SubAfter:
				if r.Group != "rt-cg" || !r.Success || r.ContextCode != trace.ConsumeSuccess {
					t.Errorf("SubAfter %+v", r)
				}
			}
		}
		if recs[0].Type != trace.Pub {
			t.Errorf("first record %s, want Pub", recs[0].Type)
		}
	}
	// The records are also found by the message's key.
	if recs, _ := trace.Query(ctx, cl, "", "no-such-id"); len(recs) != 0 {
		t.Fatalf("records for an unknown id: %+v", recs)
	}
	if _, err := trace.Query(ctx, cl, "", "no-such-id"); !errors.Is(err, trace.ErrNoTrace) {
		t.Fatalf("unknown id: %v", err)
	}
}

type txListener struct{}

func (txListener) ExecuteLocalTransaction(context.Context, *message.Message, any) producer.LocalTransactionState {
	return producer.CommitMessage
}

func (txListener) CheckLocalTransaction(context.Context, *message.MessageExt) producer.LocalTransactionState {
	return producer.CommitMessage
}

// TestTransactionTrace: a transactional send leaves a Pub (half message)
// and an EndTransaction record.
func TestTransactionTrace(t *testing.T) {
	srv := embeddedtest.Start(t, func(c *broker.Config) { c.TraceTopicEnable = true })
	cl := newClient(t, srv)
	createTopic(t, cl, srv, "TraceTX")
	ctx := testCtx(t)
	p, err := producer.New(producer.WithClient(cl), producer.WithGroup("tx-pg"),
		producer.WithTransactionListener(txListener{}), producer.WithTrace(producer.TraceConfig{}))
	if err != nil {
		t.Fatal(err)
	}
	res, err := p.SendMessageInTransaction(ctx, message.New("TraceTX", []byte("tx")).WithKeys("order-1"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	var recs []trace.Record
	waitFor(t, "transaction trace", func() bool {
		recs, _ = trace.Query(ctx, cl, trace.DefaultTopic, res.MsgID)
		ty := types(recs)
		return ty[trace.Pub] == 1 && ty[trace.EndTransaction] == 1
	})
	for _, r := range recs {
		switch r.Type {
		case trace.Pub:
			if r.MsgType != trace.TransMsgHalf {
				t.Errorf("Pub %+v", r)
			}
		case trace.EndTransaction:
			if r.TransactionState != trace.TxCommit || r.FromTransactionCheck || r.Topic != "TraceTX" ||
				r.Group != "tx-pg" || r.Keys != "order-1" || r.TransactionID == "" {
				t.Errorf("EndTransaction %+v", r)
			}
		}
	} // The same round trip through the public admin API (what `rocketgo
	// admin queryMsgTraceById` prints): Pub and EndTransaction, the latter
	// naming the transaction the send returned.
	adm, err := admin.Dial(srv.NamesrvAddr())
	if err != nil {
		t.Fatal(err)
	}
	defer adm.Close()
	viaAdmin, err := adm.MessageTrace(ctx, res.MsgID, "")
	if err != nil {
		t.Fatal(err)
	}
	if ty := types(viaAdmin); ty[trace.Pub] != 1 || ty[trace.EndTransaction] != 1 || len(viaAdmin) != 2 {
		t.Fatalf("admin.MessageTrace(%s): %+v", res.MsgID, viaAdmin)
	}
	txID := res.TransactionID
	if txID == "" { // the broker sent none: the message id stands in, as upstream
		txID = res.MsgID
	}
	for _, r := range viaAdmin {
		if r.Type == trace.EndTransaction && (r.TransactionID != txID || r.MsgID != res.MsgID || r.TransactionState != trace.TxCommit) {
			t.Errorf("admin EndTransaction %+v, send %+v", r, res)
		}
	}
}

// TestUnwritableTraceTopic: with no trace topic and auto-creation off,
// every traced send still succeeds; the trace records fail or drop, and
// are counted.
func TestUnwritableTraceTopic(t *testing.T) {
	srv := embeddedtest.Start(t, func(c *broker.Config) { c.AutoCreateTopicEnable = false })
	cl := newClient(t, srv)
	createTopic(t, cl, srv, "TraceNo")
	ctx := testCtx(t)
	p, err := producer.New(producer.WithClient(cl), producer.WithGroup("no-pg"),
		producer.WithTrace(producer.TraceConfig{QueueSize: 8, MaxInflight: 1, BatchSize: 1}))
	if err != nil {
		t.Fatal(err)
	}
	const n = 200
	for i := range n {
		if _, err := p.SendSync(ctx, message.New("TraceNo", []byte(fmt.Sprint(i)))); err != nil {
			t.Fatalf("traced send %d failed: %v", i, err)
		}
	}
	if err := p.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	st := p.TraceStats()
	if st.Sent != 0 || st.Failed == 0 || st.Appended+st.Dropped != n || st.Failed != st.Appended {
		t.Fatalf("stats %+v", st)
	}
	t.Logf("trace stats with the trace topic missing: %+v", st)
}

// queryStored returns the messages of topic the broker's index finds
// under key, as stored.
func queryStored(t *testing.T, cl *client.Client, srv *embedded.Server, topic, key string) []*message.MessageExt {
	t.Helper()
	resp, err := cl.Request(testCtx(t), srv.BrokerAddr(), remoting.NewRequest(remoting.QueryMessage, &remoting.QueryMessageRequestHeader{
		Topic: topic, Key: key, MaxNum: 32, EndTimestamp: time.Now().Add(time.Minute).UnixMilli(),
	}, nil))
	if err != nil || resp.Code != remoting.Success {
		t.Fatalf("query %s %s: %v %v", topic, key, err, resp)
	}
	msgs, err := message.DecodeMessages(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return msgs
}

// TestDeletedTraceTopic: the trace topic is deleted while a traced
// producer runs (auto-creation off, so nothing recreates it); every traced
// send still succeeds, and the records written after the deletion are
// counted as failed or dropped, never as sent.
func TestDeletedTraceTopic(t *testing.T) {
	srv := embeddedtest.Start(t, func(c *broker.Config) { c.AutoCreateTopicEnable = false })
	cl := newClient(t, srv)
	createTopic(t, cl, srv, "TraceDel")
	createTopic(t, cl, srv, "TraceDelSink")
	ctx := testCtx(t)
	p, err := producer.New(producer.WithClient(cl), producer.WithGroup("del-pg"),
		producer.WithTrace(producer.TraceConfig{Topic: "TraceDelSink", FlushInterval: time.Millisecond}))
	if err != nil {
		t.Fatal(err)
	}
	const before, after = 20, 100
	for i := range before {
		if _, err := p.SendSync(ctx, message.New("TraceDel", []byte(fmt.Sprint(i)))); err != nil {
			t.Fatalf("traced send %d: %v", i, err)
		}
	}
	waitFor(t, "the first records stored", func() bool { return p.TraceStats().Sent == before })

	adm, err := admin.Dial(srv.NamesrvAddr())
	if err != nil {
		t.Fatal(err)
	}
	defer adm.Close()
	if err := adm.DeleteTopic(ctx, "TraceDelSink", ""); err != nil {
		t.Fatal(err)
	}
	for i := range after {
		if _, err := p.SendSync(ctx, message.New("TraceDel", []byte(fmt.Sprint(i)))); err != nil {
			t.Fatalf("traced send %d after the trace topic was deleted: %v", i, err)
		}
	}
	if err := p.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	st := p.TraceStats()
	if st.Sent != before || st.Failed+st.Dropped != after || st.Appended+st.Dropped != before+after {
		t.Fatalf("stats %+v", st)
	}
}

// TestCustomTraceTopic: a broker's msgTraceTopicName and a client's
// TraceConfig.Topic name another trace topic; more records than one
// message's ordinary index allowance are still found.
func TestCustomTraceTopic(t *testing.T) {
	srv := embeddedtest.Start(t, func(c *broker.Config) { c.TraceTopicEnable, c.MsgTraceTopicName = true, "MyTrace" })
	cl := newClient(t, srv)
	createTopic(t, cl, srv, "TraceCustom")
	ctx := testCtx(t)
	p, err := producer.New(producer.WithClient(cl), producer.WithGroup("custom-pg"),
		producer.WithTrace(producer.TraceConfig{Topic: "MyTrace", FlushInterval: time.Hour}))
	if err != nil {
		t.Fatal(err)
	}
	var last string
	for i := range 50 {
		res, err := p.SendSync(ctx, message.New("TraceCustom", []byte(fmt.Sprint(i))))
		if err != nil {
			t.Fatal(err)
		}
		last = res.MsgID
	}
	if err := p.Shutdown(ctx); err != nil { // one trace message of 50 records
		t.Fatal(err)
	}
	if st := p.TraceStats(); st.Messages != 1 || st.Sent != 50 {
		t.Fatalf("stats %+v", st)
	}
	recs, err := trace.Query(ctx, cl, "MyTrace", last)
	if err != nil || len(recs) != 1 || recs[0].Type != trace.Pub || recs[0].Topic != "TraceCustom" {
		t.Fatalf("query: %+v %v", recs, err)
	}
	// The batch (50 Pub records, ~10 KB) was stored zlib-compressed, as
	// the Java client stores its batches; the query above inflated it.
	stored := queryStored(t, cl, srv, "MyTrace", last)
	if len(stored) != 1 || stored[0].SysFlag&message.SysFlagCompressed == 0 ||
		len(stored[0].StoredBody()) >= trace.CompressThreshold || len(stored[0].Body) < 50*100 {
		t.Fatalf("stored trace message: %d messages, first %+v", len(stored), stored)
	}
	if _, err := trace.Query(ctx, cl, "", last); err == nil {
		t.Fatal("records found in the default trace topic")
	}
}

// TestACLRefusedTraceTopic: the account may publish to its topic but not
// to the trace topic; every traced send still succeeds and every trace
// record is counted as failed, none lost silently.
func TestACLRefusedTraceTopic(t *testing.T) {
	dir := t.TempDir()
	aclFile := filepath.Join(dir, "plain_acl.yml")
	acl := `
accounts:
  - accessKey: userKey001
    secretKey: userSecret1
    defaultTopicPerm: DENY
    defaultGroupPerm: SUB
    topicPerms: [TraceACL=PUB|SUB]
  - accessKey: adminKey01
    secretKey: adminSecret1
    admin: true
`
	if err := os.WriteFile(aclFile, []byte(acl), 0o600); err != nil {
		t.Fatal(err)
	}
	srv := embeddedtest.Start(t, func(c *broker.Config) {
		c.TraceTopicEnable = true
		for k, v := range map[string]string{"aclEnable": "true", "aclFile": aclFile} {
			if _, err := c.Set(k, v); err != nil {
				t.Fatal(err)
			}
		}
	})
	admin, err := client.New(client.WithNameServers(srv.NamesrvAddr()), client.WithInstanceName("admin"),
		client.WithCredentials(auth.Credentials{AccessKey: "adminKey01", SecretKey: "adminSecret1"}))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	createTopic(t, admin, srv, "TraceACL")
	cl, err := client.New(client.WithNameServers(srv.NamesrvAddr()), client.WithInstanceName("user"),
		client.WithCredentials(auth.Credentials{AccessKey: "userKey001", SecretKey: "userSecret1"}))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx := testCtx(t)
	p, err := producer.New(producer.WithClient(cl), producer.WithGroup("acl-pg"), producer.WithTrace(producer.TraceConfig{}))
	if err != nil {
		t.Fatal(err)
	}
	const n = 20
	for i := range n {
		if _, err := p.SendSync(ctx, message.New("TraceACL", []byte(fmt.Sprint(i)))); err != nil {
			t.Fatalf("traced send %d: %v", i, err)
		}
	}
	if err := p.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if st := p.TraceStats(); st.Appended != n || st.Failed != n || st.Sent != 0 {
		t.Fatalf("stats %+v", st)
	}
}

// TestLitePullTrace: a lite pull consumer with trace on leaves, for each
// message Poll returned, a SubBefore and a successful SubAfter sharing a
// request id (upstream's lite pull records both at poll time), next to
// the producer's Pub.
func TestLitePullTrace(t *testing.T) {
	srv := embeddedtest.Start(t, func(c *broker.Config) { c.TraceTopicEnable = true })
	cl := newClient(t, srv)
	createTopic(t, cl, srv, "TraceLite")
	ctx := testCtx(t)
	p, err := producer.New(producer.WithClient(cl), producer.WithGroup("lite-pg"),
		producer.WithTrace(producer.TraceConfig{FlushInterval: 20 * time.Millisecond}))
	if err != nil {
		t.Fatal(err)
	}
	const n = 5
	ids := map[string]bool{}
	for i := range n {
		res, err := p.SendSync(ctx, message.New("TraceLite", []byte(fmt.Sprint("lite", i))).WithKeys(fmt.Sprint("lk", i)))
		if err != nil {
			t.Fatal(err)
		}
		ids[res.MsgID] = true
	}
	if err := p.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	c, err := consumer.NewLitePull(consumer.WithClient(cl), consumer.WithGroup("lite-cg"),
		consumer.WithConsumeFrom(consumer.ConsumeFromFirstOffset),
		consumer.WithTrace(consumer.TraceConfig{FlushInterval: 20 * time.Millisecond}))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Subscribe("TraceLite", "*"); err != nil {
		t.Fatal(err)
	}
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	polled := map[string]bool{}
	for len(polled) < n {
		msgs, err := c.Poll(ctx)
		if err != nil {
			t.Fatalf("poll after %d messages: %v", len(polled), err)
		}
		for _, m := range msgs {
			polled[m.MsgID] = true
		}
	}
	if err := c.Shutdown(ctx); err != nil { // flushes the trace
		t.Fatal(err)
	}
	if st := c.TraceStats(); st.Sent != 2*n || st.Dropped != 0 || st.Failed != 0 {
		t.Fatalf("lite pull trace stats %+v", st)
	}
	for id := range ids {
		var recs []trace.Record
		waitFor(t, "trace of "+id, func() bool {
			recs, _ = trace.Query(ctx, cl, trace.DefaultTopic, id)
			ty := types(recs)
			return ty[trace.Pub] == 1 && ty[trace.SubBefore] == 1 && ty[trace.SubAfter] == 1
		})
		var before, after trace.Record
		for _, r := range recs {
			switch r.Type {
			case trace.SubBefore:
				before = r
			case trace.SubAfter:
				after = r
			}
		}
		if before.Group != "lite-cg" || before.RequestID == "" || before.Keys == "" {
			t.Errorf("SubBefore %+v", before)
		}
		if after.RequestID != before.RequestID || !after.Success || after.ContextCode != trace.ConsumeSuccess || after.Group != "lite-cg" {
			t.Errorf("SubAfter %+v for SubBefore %+v", after, before)
		}
	}
}

// TestPopPushTrace: a push consumer in POP mode (no client rebalance)
// traces each listener call once, a SubBefore and a SubAfter per message,
// as in the classic mode; POP's receive is not a consumption of its own.
func TestPopPushTrace(t *testing.T) {
	srv := embeddedtest.Start(t, func(c *broker.Config) { c.TraceTopicEnable = true })
	cl := newClient(t, srv)
	createTopic(t, cl, srv, "TracePop")
	ctx := testCtx(t)
	p, err := producer.New(producer.WithClient(cl), producer.WithGroup("pop-pg"))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Shutdown(ctx)
	const n = 10
	ids := map[string]bool{}
	for i := range n {
		res, err := p.SendSync(ctx, message.New("TracePop", []byte(fmt.Sprint("pop", i))))
		if err != nil {
			t.Fatal(err)
		}
		ids[res.MsgID] = true
	}
	c := consumeAll(t, cl, "TracePop", n, consumer.WithGroup("pop-cg"), consumer.WithClientRebalance(false),
		consumer.WithTrace(consumer.TraceConfig{FlushInterval: 20 * time.Millisecond}))
	if err := c.Shutdown(ctx); err != nil { // flushes the trace
		t.Fatal(err)
	}
	if st := c.TraceStats(); st.Sent != 2*n || st.Dropped != 0 || st.Failed != 0 {
		t.Fatalf("POP push consumer trace stats %+v, want %d records sent", st, 2*n)
	}
	for id := range ids {
		waitFor(t, "trace of "+id, func() bool {
			recs, _ := trace.Query(ctx, cl, trace.DefaultTopic, id)
			ty := types(recs)
			return ty[trace.SubBefore] == 1 && ty[trace.SubAfter] == 1
		})
	}
}

// consumeAll starts a push consumer of topic from its first offset and
// returns it once it has consumed n distinct messages.
func consumeAll(t *testing.T, cl *client.Client, topic string, n int, opts ...consumer.Option) *consumer.PushConsumer {
	t.Helper()
	var mu sync.Mutex
	seen := map[string]bool{}
	c, err := consumer.NewPush(append([]consumer.Option{consumer.WithClient(cl),
		consumer.WithConsumeFrom(consumer.ConsumeFromFirstOffset)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Subscribe(topic, "*", consumer.ConcurrentListener(func(_ context.Context, _ *consumer.ConcurrentContext, msgs []*message.MessageExt) consumer.ConsumeResult {
		mu.Lock()
		for _, m := range msgs {
			seen[m.MsgID] = true
		}
		mu.Unlock()
		return consumer.ConsumeSuccess
	})); err != nil {
		t.Fatal(err)
	}
	if err := c.Start(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "every message consumed", func() bool { mu.Lock(); defer mu.Unlock(); return len(seen) == n })
	return c
}
