package broker

import (
	"context"
	"encoding/json"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rocketgo/rocketgo/remoting/netclient"

	"github.com/rocketgo/rocketgo/message"
	"github.com/rocketgo/rocketgo/remoting"
	"github.com/rocketgo/rocketgo/remoting/wire"
)

// testBroker starts a broker on a free loopback port in a temporary
// directory and stops it when the test ends.
func testBroker(t testing.TB, mutate func(*Config)) (*Broker, *netclient.Client) {
	t.Helper()
	return testBrokerWith(t, mutate)
}

// testBrokerWith is testBroker with broker options.
func testBrokerWith(t testing.TB, mutate func(*Config), opts ...Option) (*Broker, *netclient.Client) {
	t.Helper()
	cfg := DefaultConfig()
	cfg.ListenHost = "127.0.0.1"
	cfg.ListenPort = 0
	cfg.StorePathRootDir = t.TempDir()
	cfg.MappedFileSizeCommitLog = 8 << 20
	cfg.MaxMessageSize = 1 << 20
	cfg.MappedFileSizeConsumeQueue = 20 * 1000
	cfg.MaxHashSlotNum, cfg.MaxIndexNum = 1000, 4000
	if mutate != nil {
		mutate(&cfg)
	}
	b, err := New(cfg, opts...)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := b.Start(ctx); err != nil {
		t.Fatal(err)
	}
	rc := netclient.New()
	t.Cleanup(func() {
		rc.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := b.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})
	return b, rc
}

func invoke(t testing.TB, rc *netclient.Client, addr string, cmd *remoting.Command) *remoting.Command {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := rc.InvokeSync(ctx, addr, cmd)
	if err != nil {
		t.Fatalf("invoke code %d: %v", cmd.Code, err)
	}
	return resp
}

func sendHeader(topic string, queueID int32, props string) *remoting.SendMessageRequestHeader {
	return &remoting.SendMessageRequestHeader{
		ProducerGroup: "PG", Topic: topic, DefaultTopic: TopicAutoCreate, DefaultTopicQueueNums: 4,
		QueueID: queueID, BornTimestamp: time.Now().UnixMilli(), Properties: props,
	}
}

func send(t testing.TB, rc *netclient.Client, addr, topic string, queueID int32, props string, body []byte) *remoting.Command {
	t.Helper()
	return invoke(t, rc, addr, remoting.NewRequest(remoting.SendMessage, sendHeader(topic, queueID, props), body))
}

func heartbeat(t *testing.T, rc *netclient.Client, addr, group, topic, expr string) {
	t.Helper()
	hb := wire.HeartbeatData{ClientID: "127.0.0.1@test", ConsumerDataSet: []wire.ConsumerData{{
		GroupName: group, ConsumeType: wire.ConsumePassively, MessageModel: wire.Clustering,
		ConsumeFromWhere:    wire.ConsumeFromFirstOffset,
		SubscriptionDataSet: []wire.SubscriptionData{wire.ParseSubscription(topic, expr, 1)},
	}}}
	body, _ := json.Marshal(hb)
	if resp := invoke(t, rc, addr, remoting.NewRequest(remoting.HeartBeat, nil, body)); resp.Code != remoting.Success {
		t.Fatalf("heartbeat: %d %s", resp.Code, resp.Remark)
	}
}

func pullRequest(group, topic string, queueID int32, offset int64, suspend time.Duration) *remoting.Command {
	sys := int32(0)
	if suspend > 0 {
		sys |= remoting.PullFlagSuspend
	}
	return remoting.NewRequest(remoting.PullMessage, &remoting.PullMessageRequestHeader{
		ConsumerGroup: group, Topic: topic, QueueID: queueID, QueueOffset: offset, MaxMsgNums: 32,
		SysFlag: sys, SuspendTimeoutMillis: suspend.Milliseconds(), ExpressionType: "TAG",
	}, nil)
}

func pullHeader(t *testing.T, resp *remoting.Command) remoting.PullMessageResponseHeader {
	t.Helper()
	var h remoting.PullMessageResponseHeader
	if err := resp.DecodeHeader(&h); err != nil {
		t.Fatalf("pull response header: %v (code %d %s)", err, resp.Code, resp.Remark)
	}
	return h
}

func TestSendPullRoundTrip(t *testing.T) {
	b, rc := testBroker(t, nil)
	props := string(message.AppendProperty(message.AppendProperty(nil, "TAGS", "TagA"), "KEYS", "order-1"))
	resp := send(t, rc, b.Addr(), "RoundTrip", 1, props, []byte("hello"))
	if resp.Code != remoting.Success {
		t.Fatalf("send: %d %s", resp.Code, resp.Remark)
	}
	var sh remoting.SendMessageResponseHeader
	if err := resp.DecodeHeader(&sh); err != nil {
		t.Fatal(err)
	}
	if len(sh.MsgID) != 32 || sh.QueueID != 1 || sh.QueueOffset != 0 {
		t.Fatalf("send response %+v", sh)
	}
	host, phy, err := message.ParseOffsetMsgID(sh.MsgID)
	if err != nil || host.String() != b.Addr() || phy != 0 {
		t.Fatalf("offset msg id %s decodes to %v %d %v", sh.MsgID, host, phy, err)
	}

	heartbeat(t, rc, b.Addr(), "CG", "RoundTrip", "TagA || TagB")
	pr := invoke(t, rc, b.Addr(), pullRequest("CG", "RoundTrip", 1, 0, 0))
	if pr.Code != remoting.Success {
		t.Fatalf("pull: %d %s", pr.Code, pr.Remark)
	}
	if h := pullHeader(t, pr); h.NextBeginOffset != 1 || h.MinOffset != 0 || h.MaxOffset != 1 {
		t.Fatalf("pull header %+v", h)
	}
	msgs, err := message.DecodeMessages(pr.Body)
	if err != nil || len(msgs) != 1 {
		t.Fatalf("decode: %d msgs, %v", len(msgs), err)
	}
	m := msgs[0]
	if string(m.Body) != "hello" || m.Topic != "RoundTrip" || m.Tags() != "TagA" || m.QueueOffset != 0 || m.QueueID != 1 {
		t.Fatalf("message %+v", m)
	}
	if c, _ := m.Property("CLUSTER"); c != "DefaultCluster" {
		t.Fatalf("CLUSTER property %q", c)
	}
	if len(m.UniqKey()) != 32 {
		t.Fatalf("broker did not add a UNIQ_KEY: %q", m.UniqKey())
	}

	// A tag the subscription does not name is filtered by the broker.
	send(t, rc, b.Addr(), "RoundTrip", 1, string(message.AppendProperty(nil, "TAGS", "TagC")), []byte("skip"))
	pr = invoke(t, rc, b.Addr(), pullRequest("CG", "RoundTrip", 1, 1, 0))
	if pr.Code != remoting.PullRetryImmediately || pullHeader(t, pr).NextBeginOffset != 2 {
		t.Fatalf("filtered pull: code %d next %d", pr.Code, pullHeader(t, pr).NextBeginOffset)
	}
	// Past the end: not found, with the offsets a client needs.
	pr = invoke(t, rc, b.Addr(), pullRequest("CG", "RoundTrip", 1, 2, 0))
	if h := pullHeader(t, pr); pr.Code != remoting.PullNotFound || h.MaxOffset != 2 || h.NextBeginOffset != 2 {
		t.Fatalf("pull at end: %d %+v", pr.Code, h)
	}
	pr = invoke(t, rc, b.Addr(), pullRequest("CG", "RoundTrip", 1, 99, 0))
	if pr.Code != remoting.PullOffsetMoved || pullHeader(t, pr).NextBeginOffset != 2 {
		t.Fatalf("pull far past end: %d %+v", pr.Code, pullHeader(t, pr))
	}
}

func TestSendBatch(t *testing.T) {
	b, rc := testBroker(t, nil)
	var msgs []*message.Message
	for i := range 3 {
		msgs = append(msgs, message.New("Batch", []byte(fmt.Sprintf("m%d", i))).WithTags("T"))
	}
	body, err := message.AppendBatch(nil, msgs)
	if err != nil {
		t.Fatal(err)
	}
	h := sendHeader("Batch", 0, "")
	h.Batch = true
	resp := invoke(t, rc, b.Addr(), remoting.NewRequest(remoting.SendBatchMessage, h.V2(), body))
	if resp.Code != remoting.Success {
		t.Fatalf("batch send: %d %s", resp.Code, resp.Remark)
	}
	var sh remoting.SendMessageResponseHeader
	resp.DecodeHeader(&sh)
	ids := strings.Split(sh.MsgID, ",")
	if len(ids) != 3 || sh.QueueOffset != 0 {
		t.Fatalf("batch response %+v", sh)
	}
	heartbeat(t, rc, b.Addr(), "CG", "Batch", "*")
	pr := invoke(t, rc, b.Addr(), pullRequest("CG", "Batch", 0, 0, 0))
	got, err := message.DecodeMessages(pr.Body)
	if err != nil || len(got) != 3 {
		t.Fatalf("pulled %d, %v", len(got), err)
	}
	for i, m := range got {
		if string(m.Body) != fmt.Sprintf("m%d", i) || m.QueueOffset != int64(i) || m.OffsetMsgID() != ids[i] {
			t.Fatalf("message %d: body %q offset %d id %s want %s", i, m.Body, m.QueueOffset, m.OffsetMsgID(), ids[i])
		}
	}
}

func TestSendValidation(t *testing.T) {
	b, rc := testBroker(t, func(c *Config) { c.MaxMessageSize = 1024 })
	cases := []struct {
		name  string
		topic string
		body  []byte
		code  int16
	}{
		{"illegal topic", "bad topic!", []byte("x"), remoting.InvalidParameter},
		{"oversized body", "Big", make([]byte, 1025), remoting.MessageIllegal},
		{"empty body", "Empty", nil, remoting.MessageIllegal},
		{"system topic", TopicSchedule, []byte("x"), remoting.NoPermission},
	}
	for _, c := range cases {
		if resp := send(t, rc, b.Addr(), c.topic, 0, "", c.body); resp.Code != c.code {
			t.Errorf("%s: code %d (%s), want %d", c.name, resp.Code, resp.Remark, c.code)
		}
	}
	if resp := send(t, rc, b.Addr(), "Small", 9, "", []byte("x")); resp.Code != remoting.InvalidParameter {
		t.Errorf("queue out of range: code %d %s", resp.Code, resp.Remark)
	}
}

func TestAutoCreateOffRejectsUnknownTopic(t *testing.T) {
	b, rc := testBroker(t, func(c *Config) { c.AutoCreateTopicEnable = false })
	if resp := send(t, rc, b.Addr(), "Nope", 0, "", []byte("x")); resp.Code != remoting.TopicNotExist {
		t.Fatalf("code %d %s, want TOPIC_NOT_EXIST", resp.Code, resp.Remark)
	}
}

func TestLongPollingWakesOnSend(t *testing.T) {
	b, rc := testBroker(t, nil)
	send(t, rc, b.Addr(), "LP", 0, "", []byte("first"))
	heartbeat(t, rc, b.Addr(), "CG", "LP", "*")

	type result struct {
		resp *remoting.Command
		at   time.Time
		err  error
	}
	done := make(chan result, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		resp, err := rc.InvokeSync(ctx, b.Addr(), pullRequest("CG", "LP", 0, 1, 20*time.Second))
		done <- result{resp, time.Now(), err}
	}()
	// Wait until the pull is parked, then send.
	deadline := time.Now().Add(5 * time.Second)
	for b.pulls.parked.Load() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("pull never parked")
		}
		time.Sleep(time.Millisecond)
	}
	sentAt := time.Now()
	send(t, rc, b.Addr(), "LP", 0, "", []byte("second"))
	r := <-done
	if r.err != nil || r.resp.Code != remoting.Success {
		t.Fatalf("woken pull: %v %+v", r.err, r.resp)
	}
	msgs, _ := message.DecodeMessages(r.resp.Body)
	if len(msgs) != 1 || string(msgs[0].Body) != "second" {
		t.Fatalf("woken pull returned %v", msgs)
	}
	// Far below the 20 s suspend time: the arrival woke it.
	if lag := r.at.Sub(sentAt); lag > 10*time.Second {
		t.Fatalf("parked pull answered %v after the send", lag)
	}
	t.Logf("parked pull answered %v after the send", r.at.Sub(sentAt))
}

func TestParkedPullReturnsAtSuspendTimeout(t *testing.T) {
	b, rc := testBroker(t, nil)
	send(t, rc, b.Addr(), "Quiet", 0, "", []byte("x"))
	heartbeat(t, rc, b.Addr(), "CG", "Quiet", "*")
	start := time.Now()
	resp := invoke(t, rc, b.Addr(), pullRequest("CG", "Quiet", 0, 1, 300*time.Millisecond))
	if resp.Code != remoting.PullNotFound {
		t.Fatalf("code %d %s", resp.Code, resp.Remark)
	}
	if waited := time.Since(start); waited < 300*time.Millisecond {
		t.Fatalf("answered after %v, before the suspend timeout", waited)
	}
	if h := pullHeader(t, resp); h.NextBeginOffset != 1 || h.MaxOffset != 1 {
		t.Fatalf("header %+v", h)
	}
}

func TestConsumerOffsetsSurviveRestart(t *testing.T) {
	dir := t.TempDir()
	mutate := func(c *Config) { c.StorePathRootDir = dir }
	b, rc := testBroker(t, mutate)
	send(t, rc, b.Addr(), "Off", 0, "", []byte("x"))
	heartbeat(t, rc, b.Addr(), "CG", "Off", "*") // creates the subscription group
	upd := remoting.NewRequest(remoting.UpdateConsumerOffset, &remoting.UpdateConsumerOffsetRequestHeader{ConsumerGroup: "CG", Topic: "Off", QueueID: 0, CommitOffset: 1}, nil)
	if resp := invoke(t, rc, b.Addr(), upd); resp.Code != remoting.Success {
		t.Fatalf("update offset: %d %s", resp.Code, resp.Remark)
	}
	query := func(b *Broker, rc *netclient.Client, topic string) (int16, int64) {
		resp := invoke(t, rc, b.Addr(), remoting.NewRequest(remoting.QueryConsumerOffset, &remoting.QueryConsumerOffsetRequestHeader{ConsumerGroup: "CG", Topic: topic, QueueID: 0, SetZeroIfNotFound: true}, nil))
		var h remoting.OffsetResponseHeader
		resp.DecodeHeader(&h)
		return resp.Code, h.Offset
	}
	if code, off := query(b, rc, "Off"); code != remoting.Success || off != 1 {
		t.Fatalf("query: %d %d", code, off)
	}
	// A group that never committed on a young queue starts at 0.
	if code, off := query(b, rc, "Fresh"); code != remoting.Success || off != 0 {
		t.Fatalf("fresh query: %d %d", code, off)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := b.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	b2, rc2 := testBroker(t, mutate)
	if code, off := query(b2, rc2, "Off"); code != remoting.Success || off != 1 {
		t.Fatalf("after restart: %d %d", code, off)
	}
	if _, ok := b2.topics.Get("Off"); !ok {
		t.Fatal("auto-created topic lost on restart")
	}
	if _, err := b2.groups.Find("CG"); err != nil {
		t.Fatalf("subscription group lost on restart: %v", err)
	}
	resp := invoke(t, rc2, b2.Addr(), remoting.NewRequest(remoting.GetMaxOffset, &remoting.GetMaxOffsetRequestHeader{Topic: "Off", QueueID: 0}, nil))
	var mh remoting.OffsetResponseHeader
	if resp.DecodeHeader(&mh); mh.Offset != 1 {
		t.Fatalf("max offset after restart %d", mh.Offset)
	}
}

func TestDelayedMessageArrivesWhenDue(t *testing.T) {
	b, rc := testBroker(t, func(c *Config) { c.MessageDelayLevel = "1s 2s" })
	props := string(message.AppendProperty(nil, "DELAY", "1"))
	sentAt := time.Now()
	if resp := send(t, rc, b.Addr(), "Later", 0, props, []byte("due")); resp.Code != remoting.Success {
		t.Fatalf("send: %d %s", resp.Code, resp.Remark)
	}
	heartbeat(t, rc, b.Addr(), "CG", "Later", "*")
	if resp := invoke(t, rc, b.Addr(), pullRequest("CG", "Later", 0, 0, 0)); resp.Code == remoting.Success {
		t.Fatal("delayed message visible at once")
	}
	resp := invoke(t, rc, b.Addr(), pullRequest("CG", "Later", 0, 0, 5*time.Second))
	if resp.Code != remoting.Success {
		t.Fatalf("pull: %d %s", resp.Code, resp.Remark)
	}
	if since := time.Since(sentAt); since < time.Second {
		t.Fatalf("delivered after %v, before its 1 s delay", since)
	}
	msgs, _ := message.DecodeMessages(resp.Body)
	if len(msgs) != 1 || string(msgs[0].Body) != "due" {
		t.Fatalf("got %v", msgs)
	}
	if _, ok := msgs[0].Property("DELAY"); ok {
		t.Fatal("delivered message still carries DELAY")
	}
	if rt, _ := msgs[0].Property("REAL_TOPIC"); rt != "Later" {
		t.Fatalf("REAL_TOPIC %q", rt)
	}
}

func TestShutdownLeavesNoGoroutines(t *testing.T) {
	before := runtime.NumGoroutine()
	func() {
		b, rc := testBroker(t, nil)
		send(t, rc, b.Addr(), "G", 0, "", []byte("x"))
		rc.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := b.Shutdown(ctx); err != nil {
			t.Fatal(err)
		}
	}()
	waitGoroutines(t, before)
}

// TestDelaySchedulerPrecision sends 1,000 level-1 (1 s) messages and
// reports how late they arrive: consumption time minus (born time + 1 s).
// None may arrive early; the lateness distribution is logged for the
// release notes (target p99 < 200 ms on an idle machine).
func TestDelaySchedulerPrecision(t *testing.T) {
	if testing.Short() {
		t.Skip("timing report")
	}
	b, rc := testBroker(t, func(c *Config) { c.MessageDelayLevel = "1s" })
	heartbeat(t, rc, b.Addr(), "CG", "Precise", "*")
	props := string(message.AppendProperty(nil, "DELAY", "1"))
	const n = 1000
	// Sequential sends keep each born time within a round trip of its store
	// time, so born + 1 s is the due time to within a millisecond.
	for i := range n {
		if resp := send(t, rc, b.Addr(), "Precise", 0, props, []byte(fmt.Sprint(i))); resp.Code != remoting.Success {
			t.Fatalf("send: %d %s", resp.Code, resp.Remark)
		}
	}
	var lateness []time.Duration
	offset := int64(0)
	deadline := time.Now().Add(20 * time.Second)
	for len(lateness) < n && time.Now().Before(deadline) {
		resp := invoke(t, rc, b.Addr(), pullRequest("CG", "Precise", 0, offset, 5*time.Second))
		now := time.Now()
		if resp.Code != remoting.Success {
			offset = pullHeader(t, resp).NextBeginOffset
			continue
		}
		msgs, err := message.DecodeMessages(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range msgs {
			lateness = append(lateness, now.Sub(time.UnixMilli(m.BornTimestamp).Add(time.Second)))
		}
		offset = pullHeader(t, resp).NextBeginOffset
	}
	if len(lateness) != n {
		t.Fatalf("delivered %d of %d", len(lateness), n)
	}
	slices.Sort(lateness)
	if lateness[0] < -5*time.Millisecond {
		t.Fatalf("a message arrived %v early", -lateness[0])
	}
	t.Logf("delay level 1 lateness over %d messages: p50 %v, p99 %v, max %v", n, lateness[n/2], lateness[n*99/100], lateness[n-1])
}

func TestQueryByKeyUniqueKeyAndViewByID(t *testing.T) {
	b, rc := testBroker(t, nil)
	props := message.AppendProperty(nil, message.PropertyKeys, "order-7 customer-3")
	props = message.AppendProperty(props, message.PropertyUniqKey, "AC110001000000000000000000000042")
	resp := send(t, rc, b.Addr(), "Q", 0, string(props), []byte("findme"))
	var sh remoting.SendMessageResponseHeader
	resp.DecodeHeader(&sh)
	send(t, rc, b.Addr(), "Q", 0, string(message.AppendProperty(nil, message.PropertyKeys, "other")), []byte("noise"))

	query := func(key string, unique bool) *remoting.Command {
		return invoke(t, rc, b.Addr(), remoting.NewRequest(remoting.QueryMessage, &remoting.QueryMessageRequestHeader{
			Topic: "Q", Key: key, MaxNum: 32, BeginTimestamp: 0, EndTimestamp: time.Now().Add(time.Minute).UnixMilli(), UniqueKeyQuery: unique,
		}, nil))
	}
	for _, key := range []string{"customer-3", "order-7"} {
		r := query(key, false)
		msgs, err := message.DecodeMessages(r.Body)
		if r.Code != remoting.Success || err != nil || len(msgs) != 1 || string(msgs[0].Body) != "findme" {
			t.Fatalf("query %s: code %d, %v, %v", key, r.Code, err, msgs)
		}
	}
	if r := query("AC110001000000000000000000000042", true); r.Code != remoting.Success {
		t.Fatalf("unique key query: %d %s", r.Code, r.Remark)
	}
	if r := query("absent", false); r.Code != remoting.QueryNotFound {
		t.Fatalf("missing key: code %d", r.Code)
	}
	_, phy, err := message.ParseOffsetMsgID(sh.MsgID)
	if err != nil {
		t.Fatal(err)
	}
	v := invoke(t, rc, b.Addr(), remoting.NewRequest(remoting.ViewMessageByID, &remoting.ViewMessageByIDRequestHeader{Offset: phy}, nil))
	msgs, err := message.DecodeMessages(v.Body)
	if v.Code != remoting.Success || err != nil || len(msgs) != 1 || msgs[0].OffsetMsgID() != sh.MsgID {
		t.Fatalf("view by id: code %d, %v, %v", v.Code, err, msgs)
	}
	if v := invoke(t, rc, b.Addr(), remoting.NewRequest(remoting.ViewMessageByID, &remoting.ViewMessageByIDRequestHeader{Offset: 1 << 40}, nil)); v.Code != remoting.SystemError {
		t.Fatalf("view past the log: code %d", v.Code)
	}
}

// waitGoroutines fails the test unless the goroutine count returns to
// before within 5 s, printing every stack when it does not.
func waitGoroutines(t *testing.T, before int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<16)
			t.Fatalf("goroutines: %d before, %d after\n%s", before, runtime.NumGoroutine(), buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(20 * time.Millisecond)
	}
}
