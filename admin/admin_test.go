package admin_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rocketgo/rocketgo/admin"
	"github.com/rocketgo/rocketgo/consumer"
	"github.com/rocketgo/rocketgo/message"
	"github.com/rocketgo/rocketgo/producer"
	"github.com/rocketgo/rocketgo/remoting"
	"github.com/rocketgo/rocketgo/server/broker"
	"github.com/rocketgo/rocketgo/server/embedded"
	"github.com/rocketgo/rocketgo/server/embedded/embeddedtest"
)

// fixture is an embedded server with auto-creation off, an admin client
// and a created topic holding sent messages.
type fixture struct {
	srv   *embedded.Server
	adm   *admin.Client
	topic string
	sent  []*producer.SendResult
}

func start(t *testing.T, sends int) *fixture {
	t.Helper()
	srv := embeddedtest.Start(t, func(c *broker.Config) { c.AutoCreateTopicEnable = false; c.AutoCreateSubscriptionGroup = true })
	adm, err := admin.Dial(srv.NamesrvAddr())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { adm.Close() })
	f := &fixture{srv: srv, adm: adm, topic: "AdminT"}
	ctx := testCtx(t)
	if err := adm.CreateTopic(ctx, admin.TopicSpec{Topic: f.topic, ReadQueues: 2, WriteQueues: 2}, "", ""); err != nil {
		t.Fatal(err)
	}
	mustRoute(t, adm, f.topic)
	if sends > 0 {
		p, err := producer.New(producer.WithNameServers(srv.NamesrvAddr()), producer.WithGroup("AdminPG"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { p.Shutdown(context.Background()) })
		for i := range sends {
			r, err := p.SendSync(ctx, message.New(f.topic, []byte(fmt.Sprint("m", i))).WithKeys(fmt.Sprint("k", i%3)))
			if err != nil {
				t.Fatal(err)
			}
			f.sent = append(f.sent, r)
		}
	}
	return f
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// mustRoute fails unless the name server already has topic's route: brokers
// answer a topic creation only once they have registered it, so a route
// lookup right after CreateTopic must find it without polling.
func mustRoute(t *testing.T, adm *admin.Client, topic string) {
	t.Helper()
	if _, err := adm.Route(testCtx(t), topic); err != nil {
		t.Fatalf("no route for %s right after creating it: %v", topic, err)
	}
}

func TestClusterTopicsAndConfig(t *testing.T) {
	f := start(t, 0)
	ctx := testCtx(t)
	ci, err := f.adm.Cluster(ctx)
	if err != nil || len(ci.Brokers) != 1 || ci.Brokers[0].Addr != f.srv.BrokerAddr() || ci.Brokers[0].ID != 0 {
		t.Fatalf("cluster %+v, %v", ci, err)
	}
	topics, err := f.adm.Topics(ctx)
	if err != nil || !contains(topics, f.topic) {
		t.Fatalf("topics %v, %v", topics, err)
	}
	rt, err := f.adm.BrokerRuntime(ctx, f.srv.BrokerAddr())
	if err != nil || rt["brokerVersionDesc"] == "" {
		t.Fatalf("runtime %v, %v", rt, err)
	}
	if err := f.adm.UpdateBrokerConfig(ctx, "", f.srv.BrokerAddr(), map[string]string{"autoCreateTopicEnable": "true"}); err != nil {
		t.Fatal(err)
	}
	cfg, err := f.adm.BrokerConfig(ctx, f.srv.BrokerAddr())
	if err != nil || cfg["autoCreateTopicEnable"] != "true" {
		t.Fatalf("config after update: %q, %v", cfg["autoCreateTopicEnable"], err)
	}
	if err := f.adm.UpdateBrokerConfig(ctx, "", f.srv.BrokerAddr(), map[string]string{"listenPort": "1"}); err == nil {
		t.Fatal("a key that cannot change live was accepted")
	}
	nsCfg, err := f.adm.NameServerConfig(ctx)
	if err != nil || len(nsCfg) != 1 {
		t.Fatalf("name server config %v, %v", nsCfg, err)
	}
	if err := f.adm.PutKV(ctx, "ORDER_TOPIC_CONFIG", "x", "broker-a:1"); err != nil {
		t.Fatal(err)
	}
	if err := f.adm.DeleteKV(ctx, "ORDER_TOPIC_CONFIG", "x"); err != nil {
		t.Fatal(err)
	}
	name := ci.Brokers[0].Name
	if n, err := f.adm.WipeWritePerm(ctx, name); err != nil || len(n) != 1 {
		t.Fatalf("wipe: %v, %v", n, err)
	}
	if _, err := f.adm.AddWritePerm(ctx, name); err != nil {
		t.Fatal(err)
	}
	if err := f.adm.DeleteTopic(ctx, f.topic, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := f.adm.Route(ctx, f.topic); !errors.Is(err, remoting.ErrTopicNotExist) {
		t.Fatalf("route after delete: %v", err)
	}
	if _, err := f.adm.TopicStatus(ctx, "NoSuchTopic"); !errors.Is(err, remoting.ErrTopicNotExist) {
		t.Fatalf("status of an unknown topic: %v", err)
	}
}

// TestProgressAfterNSentMConsumed: the lag is what was sent minus what the
// group committed, per queue and in total.
func TestProgressAfterNSentMConsumed(t *testing.T) {
	const n = 10
	f := start(t, n)
	ctx := testCtx(t)
	group := "AdminCG"
	if err := f.adm.CreateGroup(ctx, admin.NewGroupConfig(group), "", ""); err != nil {
		t.Fatal(err)
	}
	status, err := f.adm.TopicStatus(ctx, f.topic)
	if err != nil || len(status) != 2 || status[0].MaxOffset+status[1].MaxOffset != n {
		t.Fatalf("status %+v, %v", status, err)
	}
	// The group consumed one message of queue 0 and all of queue 1.
	consumed := map[int32]int64{0: 1, 1: status[1].MaxOffset}
	for qid, off := range consumed {
		h := &remoting.UpdateConsumerOffsetRequestHeader{ConsumerGroup: group, Topic: f.topic, QueueID: qid, CommitOffset: off}
		resp, err := f.adm.Client().Request(ctx, f.srv.BrokerAddr(), remoting.NewRequest(remoting.UpdateConsumerOffset, h, nil))
		if err != nil || resp.Code != remoting.Success {
			t.Fatalf("commit: %v %v", resp, err)
		}
	}
	p, err := f.adm.ConsumerProgress(ctx, group, f.topic)
	if err != nil {
		t.Fatal(err)
	}
	wantLag := n - 1 - status[1].MaxOffset
	if p.TotalLag != wantLag || len(p.Queues) != 2 || p.Queues[0].ConsumerOffset != 1 || p.Queues[0].Lag != wantLag {
		t.Fatalf("progress %+v, want total lag %d", p, wantLag)
	}
	if _, err := f.adm.ConsumerProgress(ctx, "NoSuchGroup", ""); !errors.Is(err, admin.ErrGroupNotFound) {
		t.Fatalf("unknown group: %v", err)
	}
	if _, err := f.adm.ConsumerConnections(ctx, group); !errors.Is(err, remoting.CodeError(remoting.ConsumerNotOnline)) {
		t.Fatalf("connections of a group without members: %v", err)
	}
	reset, err := f.adm.ResetOffsetByTime(ctx, group, f.topic, time.UnixMilli(0), true)
	if err != nil || len(reset) != 2 || reset[0].Offset != 0 || reset[1].Offset != 0 {
		t.Fatalf("reset %+v, %v", reset, err)
	}
	if p, _ = f.adm.ConsumerProgress(ctx, group, f.topic); p.TotalLag != n {
		t.Fatalf("lag after reset to the beginning: %d", p.TotalLag)
	}
	conns, err := f.adm.ProducerConnections(ctx, "AdminPG", f.topic)
	if err != nil || len(conns) != 1 || conns[0].Language == "" {
		t.Fatalf("producer connections %+v, %v", conns, err)
	}
	if err := f.adm.DeleteGroup(ctx, group, "", ""); err != nil {
		t.Fatal(err)
	}
}

func TestMessageQueries(t *testing.T) {
	f := start(t, 6)
	ctx := testCtx(t)
	m, err := f.adm.MessageByID(ctx, f.sent[2].OffsetMsgID)
	if err != nil || string(m.Body) != "m2" {
		t.Fatalf("by id: %v, %v", m, err)
	}
	var byKey []*message.MessageExt
	deadline := time.Now().Add(10 * time.Second) // the index is written behind the log
	for len(byKey) < 2 && time.Now().Before(deadline) {
		byKey, err = f.adm.MessagesByKey(ctx, f.topic, "k1", admin.KeyQuery{})
		time.Sleep(20 * time.Millisecond)
	}
	if len(byKey) != 2 || string(byKey[0].Body) != "m1" || string(byKey[1].Body) != "m4" {
		t.Fatalf("by key: %d messages, %v", len(byKey), err)
	}
	u, err := f.adm.MessagesByUniqueKey(ctx, f.topic, f.sent[3].MsgID)
	if err != nil || len(u) != 1 || string(u[0].Body) != "m3" {
		t.Fatalf("by unique key: %v, %v", u, err)
	}
	q := f.sent[5].Queue
	at, err := f.adm.MessageAtOffset(ctx, f.topic, q.BrokerName, int32(q.QueueID), f.sent[5].QueueOffset)
	if err != nil || string(at.Body) != "m5" {
		t.Fatalf("at offset: %v, %v", at, err)
	}
	if _, err := f.adm.MessagesByKey(ctx, f.topic, "nothing", admin.KeyQuery{}); !errors.Is(err, admin.ErrMessageNotFound) {
		t.Fatalf("unknown key: %v", err)
	}
	if _, err := f.adm.MessageByID(ctx, "not-an-id"); err == nil {
		t.Fatal("a malformed id was accepted")
	}
}

// TestUnreachableNameServerFailsFast: the error names the address and
// arrives well within the context's deadline.
func TestUnreachableNameServerFailsFast(t *testing.T) {
	adm, err := admin.Dial("127.0.0.1:1")
	if err != nil {
		t.Fatal(err)
	}
	defer adm.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err = adm.Topics(ctx)
	if err == nil || ctx.Err() != nil || !containsStr(err.Error(), "127.0.0.1:1") {
		t.Fatalf("err %v (ctx %v)", err, ctx.Err())
	}
}

func contains(list []string, s string) bool { return slices.Contains(list, s) }

func containsStr(s, sub string) bool { return strings.Contains(s, sub) }

// TestResetOffsetRedeliversToRunningPushConsumer: after the group consumed
// everything, a reset to a time between two batches makes the running
// push consumer receive the second batch again, and only it.
func TestResetOffsetRedeliversToRunningPushConsumer(t *testing.T) {
	f := start(t, 4) // first batch: m0..m3
	ctx := testCtx(t)
	const group = "AdminResetCG"
	var mu sync.Mutex
	seen := map[string]int{}
	c, err := consumer.NewPush(consumer.WithNameServers(f.srv.NamesrvAddr()), consumer.WithGroup(group),
		consumer.WithConsumeFrom(consumer.ConsumeFromFirstOffset))
	if err != nil {
		t.Fatal(err)
	}
	err = c.Subscribe(f.topic, "*", consumer.ConcurrentListener(func(_ context.Context, _ *consumer.ConcurrentContext, msgs []*message.MessageExt) consumer.ConsumeResult {
		mu.Lock()
		defer mu.Unlock()
		for _, m := range msgs {
			seen[string(m.Body)]++
		}
		return consumer.ConsumeSuccess
	}))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer c.Shutdown(context.Background())
	count := func(body string) int {
		mu.Lock()
		defer mu.Unlock()
		return seen[body]
	}
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(15 * time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				mu.Lock()
				defer mu.Unlock()
				t.Fatalf("%s; seen %v", what, seen)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	waitFor("first batch consumed", func() bool { return count("m3") == 1 })
	// The second batch is stored strictly after the cut.
	time.Sleep(5 * time.Millisecond)
	cut := time.Now()
	time.Sleep(5 * time.Millisecond)
	p, err := producer.New(producer.WithNameServers(f.srv.NamesrvAddr()), producer.WithGroup("AdminResetPG"))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Shutdown(context.Background())
	for i := range 4 {
		if _, err := p.SendSync(ctx, message.New(f.topic, []byte(fmt.Sprint("n", i)))); err != nil {
			t.Fatal(err)
		}
	}
	waitFor("second batch consumed", func() bool {
		return count("n0") == 1 && count("n1") == 1 && count("n2") == 1 && count("n3") == 1
	})
	if _, err := f.adm.ResetOffsetByTime(ctx, group, f.topic, cut, true); err != nil {
		t.Fatal(err)
	}
	waitFor("second batch re-delivered", func() bool {
		return count("n0") == 2 && count("n1") == 2 && count("n2") == 2 && count("n3") == 2
	})
	for i := range 4 {
		if n := count(fmt.Sprint("m", i)); n != 1 {
			t.Fatalf("m%d delivered %d times; a message stored before the reset time came back", i, n)
		}
	}
}

// TestConsumeMessageDirectly: a message is relayed through its broker to
// the chosen online client, whose listener gets it (with the broker's
// name) and whose verdict comes back; an offline client or a malformed id
// is a clear error.
func TestConsumeMessageDirectly(t *testing.T) {
	f := start(t, 2)
	ctx := testCtx(t)
	const group = "AdminDirectCG"
	type got struct {
		body, broker string
		reconsume    int32
	}
	seen := make(chan got, 16)
	var refuse sync.Map
	c, err := consumer.NewPush(consumer.WithNameServers(f.srv.NamesrvAddr()), consumer.WithGroup(group),
		consumer.WithConsumeFrom(consumer.ConsumeFromFirstOffset))
	if err != nil {
		t.Fatal(err)
	}
	err = c.Subscribe(f.topic, "*", func(_ context.Context, cc *consumer.ConcurrentContext, msgs []*message.MessageExt) consumer.ConsumeResult {
		for _, m := range msgs {
			seen <- got{string(m.Body), cc.Queue.BrokerName, m.ReconsumeTimes}
			if _, no := refuse.Load(string(m.Body)); no {
				return consumer.ConsumeRetryLater
			}
		}
		return consumer.ConsumeSuccess
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer c.Shutdown(context.Background())
	for range 2 { // the normal deliveries
		<-seen
	}
	conns, err := f.adm.ConsumerConnections(ctx, group)
	if err != nil || len(conns.Connections) != 1 {
		t.Fatalf("connections: %+v, %v", conns, err)
	}
	client := conns.Connections[0].ClientID
	id := f.sent[1].OffsetMsgID
	res, err := f.adm.ConsumeMessageDirectly(ctx, group, client, f.topic, id)
	if err != nil {
		t.Fatal(err)
	}
	if res.Result != "CR_SUCCESS" || res.Order {
		t.Errorf("result %+v", res)
	}
	select {
	case g := <-seen:
		if g.body != "m1" || g.broker != f.srv.Broker().Config().BrokerName {
			t.Errorf("listener got %+v", g)
		}
	case <-ctx.Done():
		t.Fatal("the listener never got the message")
	}
	// The listener's refusal comes back as CR_LATER.
	refuse.Store("m0", true)
	if res, err := f.adm.ConsumeMessageDirectly(ctx, group, client, "", f.sent[0].OffsetMsgID); err != nil || res.Result != "CR_LATER" {
		t.Errorf("refused: %+v, %v", res, err)
	}
	<-seen
	if _, err := f.adm.ConsumeMessageDirectly(ctx, group, "10.0.0.9@nobody", f.topic, id); err == nil || !strings.Contains(err.Error(), "not online") {
		t.Errorf("offline client: %v", err)
	}
	if _, err := f.adm.ConsumeMessageDirectly(ctx, group, client, f.topic, "not-an-id"); err == nil {
		t.Error("malformed id accepted")
	}
}
