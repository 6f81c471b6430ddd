package broker

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rocketgo/rocketgo/internal/properties"
	"github.com/rocketgo/rocketgo/message"
	"github.com/rocketgo/rocketgo/remoting"
	"github.com/rocketgo/rocketgo/remoting/netclient"
	"github.com/rocketgo/rocketgo/remoting/wire"
)

// queueValues decodes a fastjson Map<MessageQueue,V> member into per-queue
// values of type V.
func queueValues[V any](t *testing.T, body []byte, name string) map[int32]V {
	t.Helper()
	raw, err := wire.DecodeQueueTable(body, name)
	if err != nil {
		t.Fatalf("decode %s of %s: %v", name, body, err)
	}
	out := map[int32]V{}
	for mq, r := range raw {
		var v V
		if err := json.Unmarshal(r, &v); err != nil {
			t.Fatalf("value %s: %v", r, err)
		}
		out[mq.QueueID] = v
	}
	return out
}

func registerProducer(t *testing.T, rc *netclient.Client, addr, group string) {
	t.Helper()
	body, _ := json.Marshal(wire.HeartbeatData{ClientID: "127.0.0.1@producer", ProducerDataSet: []wire.ProducerData{{GroupName: group}}})
	if resp := invoke(t, rc, addr, remoting.NewRequest(remoting.HeartBeat, nil, body)); resp.Code != remoting.Success {
		t.Fatalf("heartbeat: %d %s", resp.Code, resp.Remark)
	}
}

func commit(t *testing.T, rc *netclient.Client, addr, group, topic string, qid int32, offset int64) {
	t.Helper()
	h := &remoting.UpdateConsumerOffsetRequestHeader{ConsumerGroup: group, Topic: topic, QueueID: qid, CommitOffset: offset}
	if resp := invoke(t, rc, addr, remoting.NewRequest(remoting.UpdateConsumerOffset, h, nil)); resp.Code != remoting.Success {
		t.Fatalf("commit: %d %s", resp.Code, resp.Remark)
	}
}

func TestTopicStatsAndConnections(t *testing.T) {
	b, rc := testBroker(t, nil)
	for i := range 3 {
		send(t, rc, b.Addr(), "TS", 0, "", []byte("m"+strconv.Itoa(i)))
	}
	send(t, rc, b.Addr(), "TS", 2, "", []byte("other"))

	resp := invoke(t, rc, b.Addr(), remoting.NewRequest(remoting.GetTopicStatsInfo, &remoting.TopicHeader{Topic: "TS"}, nil))
	if resp.Code != remoting.Success {
		t.Fatalf("topic stats: %d %s", resp.Code, resp.Remark)
	}
	type topicOffset struct{ MinOffset, MaxOffset, LastUpdateTimestamp int64 }
	offs := queueValues[topicOffset](t, resp.Body, "offsetTable")
	if len(offs) != 4 || offs[0].MaxOffset != 3 || offs[2].MaxOffset != 1 || offs[1].MaxOffset != 0 || offs[0].LastUpdateTimestamp == 0 || offs[1].LastUpdateTimestamp != 0 {
		t.Fatalf("offsets %+v", offs)
	}
	if !strings.Contains(string(resp.Body), `"topicPutTps":`) {
		t.Fatalf("no topicPutTps in %s", resp.Body)
	}
	resp = invoke(t, rc, b.Addr(), remoting.NewRequest(remoting.GetTopicStatsInfo, &remoting.TopicHeader{Topic: "NoSuchTopic"}, nil))
	if resp.Code != remoting.TopicNotExist || !strings.Contains(resp.Remark, "NoSuchTopic") {
		t.Fatalf("unknown topic: %d %s", resp.Code, resp.Remark)
	}

	registerProducer(t, rc, b.Addr(), "PG1")
	resp = invoke(t, rc, b.Addr(), remoting.NewRequest(remoting.GetProducerConnectionList, &remoting.ProducerGroupHeader{ProducerGroup: "PG1"}, nil))
	var pc struct{ ConnectionSet []Connection }
	if err := json.Unmarshal(resp.Body, &pc); err != nil || resp.Code != remoting.Success || len(pc.ConnectionSet) != 1 ||
		pc.ConnectionSet[0].ClientID != "127.0.0.1@producer" || pc.ConnectionSet[0].Language != "GO" || pc.ConnectionSet[0].ClientAddr == "" {
		t.Fatalf("producer connections %d %s: %+v %v", resp.Code, resp.Body, pc, err)
	}
	resp = invoke(t, rc, b.Addr(), remoting.NewRequest(remoting.GetProducerConnectionList, &remoting.ProducerGroupHeader{ProducerGroup: "nobody"}, nil))
	if resp.Code != remoting.SystemError || !strings.Contains(resp.Remark, "nobody") {
		t.Fatalf("unknown producer group: %d %s", resp.Code, resp.Remark)
	}
}

type offsetWrapper struct {
	BrokerOffset, ConsumerOffset, PullOffset, LastTimestamp int64
}

// TestConsumeStatsShowLag sends N, pulls some and commits M, then checks
// what consumerProgress and brokerConsumeStats read.
func TestConsumeStatsShowLag(t *testing.T) {
	b, rc := testBroker(t, nil)
	const sent, committed = 10, 4
	for i := range sent {
		send(t, rc, b.Addr(), "Lag", 0, "", []byte("m"+strconv.Itoa(i)))
	}
	heartbeat(t, rc, b.Addr(), "LG", "Lag", "*")
	if resp := invoke(t, rc, b.Addr(), pullRequest("LG", "Lag", 0, 0, 0)); resp.Code != remoting.Success {
		t.Fatalf("pull: %d %s", resp.Code, resp.Remark)
	}
	commit(t, rc, b.Addr(), "LG", "Lag", 0, committed)

	h := &remoting.GetConsumeStatsRequestHeader{ConsumerGroup: "LG"}
	resp := invoke(t, rc, b.Addr(), remoting.NewRequest(remoting.GetConsumeStats, h, nil))
	if resp.Code != remoting.Success {
		t.Fatalf("consume stats: %d %s", resp.Code, resp.Remark)
	}
	stats := queueValues[offsetWrapper](t, resp.Body, "offsetTable")
	q0 := stats[0]
	if q0.BrokerOffset != sent || q0.ConsumerOffset != committed || q0.PullOffset != sent || q0.LastTimestamp == 0 {
		t.Fatalf("queue 0 progress %+v", q0)
	}
	if len(stats) != 4 || stats[1].BrokerOffset != 0 {
		t.Fatalf("stats %+v", stats)
	}

	lags := b.ConsumerLags()
	if len(lags) != 1 || lags[0].Lag != sent-committed || lags[0].Inflight != sent-committed || lags[0].Ready != 0 || lags[0].EarliestUnconsumed == 0 {
		t.Fatalf("lags %+v", lags)
	}

	resp = invoke(t, rc, b.Addr(), remoting.NewRequest(remoting.GetBrokerConsumeStats, &remoting.GetConsumeStatsInBrokerHeader{}, nil))
	if resp.Code != remoting.Success || !strings.Contains(string(resp.Body), `"totalDiff":6`) || !strings.Contains(string(resp.Body), `"LG":[{"offsetTable"`) ||
		!strings.Contains(string(resp.Body), `"brokerAddr":"`+b.Addr()+`"`) {
		t.Fatalf("broker consume stats: %d %s", resp.Code, resp.Body)
	}
	ordered := invoke(t, rc, b.Addr(), remoting.NewRequest(remoting.GetBrokerConsumeStats, &remoting.GetConsumeStatsInBrokerHeader{IsOrder: true}, nil))
	if !strings.Contains(string(ordered.Body), `"LG":[]`) || !strings.Contains(string(ordered.Body), `"totalDiff":0`) {
		t.Fatalf("ordered-only stats include an unordered topic: %s", ordered.Body)
	}

	// Unknown topics and groups answer errors, not empty tables.
	for _, c := range []struct {
		h    remoting.GetConsumeStatsRequestHeader
		code int16
	}{
		{remoting.GetConsumeStatsRequestHeader{ConsumerGroup: "LG", Topic: "Nope"}, remoting.TopicNotExist},
		{remoting.GetConsumeStatsRequestHeader{ConsumerGroup: "NoGroup"}, remoting.SubscriptionGroupNotExist},
	} {
		if resp := invoke(t, rc, b.Addr(), remoting.NewRequest(remoting.GetConsumeStats, &c.h, nil)); resp.Code != c.code || resp.Remark == "" {
			t.Errorf("%+v: %d %q, want %d", c.h, resp.Code, resp.Remark, c.code)
		}
	}
	// The topic list form reports the listed topics only.
	listed := invoke(t, rc, b.Addr(), remoting.NewRequest(remoting.GetConsumeStats, &remoting.GetConsumeStatsRequestHeader{ConsumerGroup: "LG", TopicList: "Lag;Lag"}, nil))
	if got := queueValues[offsetWrapper](t, listed.Body, "offsetTable"); len(got) != 4 {
		t.Fatalf("topic list stats %s", listed.Body)
	}

	resp = invoke(t, rc, b.Addr(), remoting.NewRequest(remoting.QueryTopicConsumeByWho, &remoting.TopicHeader{Topic: "Lag"}, nil))
	var groups struct{ GroupList []string }
	if err := json.Unmarshal(resp.Body, &groups); err != nil || len(groups.GroupList) != 1 || groups.GroupList[0] != "LG" {
		t.Fatalf("consumed by %s: %v", resp.Body, err)
	}
}

func TestCloneGroupOffset(t *testing.T) {
	b, rc := testBroker(t, nil)
	send(t, rc, b.Addr(), "Cl", 1, "", []byte("x"))
	commit(t, rc, b.Addr(), "Src", "Cl", 1, 1)
	clone := func(h remoting.CloneGroupOffsetRequestHeader) *remoting.Command {
		return invoke(t, rc, b.Addr(), remoting.NewRequest(remoting.CloneGroupOffset, &h, nil))
	}
	if resp := clone(remoting.CloneGroupOffsetRequestHeader{SrcGroup: "Src", DestGroup: "Dst", Offline: true}); resp.Code != remoting.Success {
		t.Fatalf("clone: %d %s", resp.Code, resp.Remark)
	}
	if off, ok := b.offsets.Query("Dst", "Cl", 1); !ok || off != 1 {
		t.Fatalf("cloned offset %d %v", off, ok)
	}
	for _, c := range []struct {
		h    remoting.CloneGroupOffsetRequestHeader
		code int16
	}{
		{remoting.CloneGroupOffsetRequestHeader{SrcGroup: "Src", DestGroup: "Dst", Topic: "Nope"}, remoting.TopicNotExist},
		{remoting.CloneGroupOffsetRequestHeader{SrcGroup: "Src", DestGroup: "Src"}, remoting.InvalidParameter},
		{remoting.CloneGroupOffsetRequestHeader{SrcGroup: "Empty", DestGroup: "Dst"}, remoting.QueryNotFound},
	} {
		if resp := clone(c.h); resp.Code != c.code || resp.Remark == "" {
			t.Errorf("%+v: %d %q, want %d", c.h, resp.Code, resp.Remark, c.code)
		}
	}
}

func TestQueryConsumeQueueEvaluatesSubscription(t *testing.T) {
	b, rc := testBroker(t, nil)
	for _, tag := range []string{"A", "B", "A"} {
		send(t, rc, b.Addr(), "CQ", 0, string(message.AppendProperty(nil, "TAGS", tag)), []byte(tag))
	}
	heartbeat(t, rc, b.Addr(), "CQG", "CQ", "A")
	h := &remoting.QueryConsumeQueueRequestHeader{Topic: "CQ", QueueID: 0, Index: 0, Count: 10, ConsumerGroup: "CQG"}
	resp := invoke(t, rc, b.Addr(), remoting.NewRequest(remoting.QueryConsumeQueue, h, nil))
	var body struct {
		SubscriptionData *wire.SubscriptionData
		QueueData        []consumeQueueData
		MaxQueueIndex    int64
		MinQueueIndex    int64
	}
	if err := json.Unmarshal(resp.Body, &body); err != nil || resp.Code != remoting.Success {
		t.Fatalf("query cq %d %s: %v", resp.Code, resp.Body, err)
	}
	if body.MaxQueueIndex != 3 || len(body.QueueData) != 3 || body.SubscriptionData == nil {
		t.Fatalf("body %+v", body)
	}
	for i, want := range []bool{true, false, true} {
		if d := body.QueueData[i]; d.Eval != want || d.PhysicSize <= 0 {
			t.Errorf("entry %d: %+v, want eval %v", i, d, want)
		}
	}
	bad := &remoting.QueryConsumeQueueRequestHeader{Topic: "CQ", QueueID: 99, Count: 1}
	if resp := invoke(t, rc, b.Addr(), remoting.NewRequest(remoting.QueryConsumeQueue, bad, nil)); resp.Code != remoting.SystemError || !strings.Contains(resp.Remark, "99@CQ") {
		t.Fatalf("bad queue: %d %s", resp.Code, resp.Remark)
	}
	offline := &remoting.QueryConsumeQueueRequestHeader{Topic: "CQ", QueueID: 0, Count: 1, ConsumerGroup: "Gone"}
	if resp := invoke(t, rc, b.Addr(), remoting.NewRequest(remoting.QueryConsumeQueue, offline, nil)); !strings.Contains(string(resp.Body), "is not online") {
		t.Fatalf("offline group: %s", resp.Body)
	}
}

func TestGetConsumerStatusAsksTheMembers(t *testing.T) {
	b, rc := testBroker(t, nil)
	rc.RegisterHandler(remoting.GetConsumerStatusFromClient, func(_ context.Context, _ string, req *remoting.Command) *remoting.Command {
		var h remoting.GetConsumerStatusRequestHeader
		if err := req.DecodeHeader(&h); err != nil || h.Topic != "St" {
			return remoting.NewResponse(req, remoting.SystemError, "bad request")
		}
		resp := remoting.NewResponse(req, remoting.Success, "")
		resp.Body = wire.EncodeQueueTable("messageQueueTable", []wire.MessageQueue{{Topic: "St", BrokerName: "broker-a", QueueID: 2}}, []string{"17"}, "")
		return resp
	})
	heartbeat(t, rc, b.Addr(), "SG", "St", "*")
	resp := invoke(t, rc, b.Addr(), remoting.NewRequest(remoting.InvokeBrokerToGetConsumerStatus, &remoting.GetConsumerStatusRequestHeader{Topic: "St", Group: "SG"}, nil))
	if resp.Code != remoting.Success || !strings.Contains(string(resp.Body), `"consumerTable":{"127.0.0.1@test":{{"brokerName":"broker-a","queueId":2,"topic":"St"}:17}}`) {
		t.Fatalf("consumer status: %d %s", resp.Code, resp.Body)
	}
	resp = invoke(t, rc, b.Addr(), remoting.NewRequest(remoting.InvokeBrokerToGetConsumerStatus, &remoting.GetConsumerStatusRequestHeader{Topic: "St", Group: "Nobody"}, nil))
	if resp.Code != remoting.SystemError || !strings.Contains(resp.Remark, "Nobody") {
		t.Fatalf("no consumers: %d %s", resp.Code, resp.Remark)
	}
}

func TestBrokerConfigGetAndUpdate(t *testing.T) {
	b, rc := testBroker(t, nil)
	get := func() map[string]string {
		resp := invoke(t, rc, b.Addr(), remoting.NewRequest(remoting.GetBrokerConfig, nil, nil))
		var h remoting.GetBrokerConfigResponseHeader
		if err := resp.DecodeHeader(&h); err != nil || !strings.Contains(h.Version, `"counter"`) {
			t.Fatalf("config version header: %v %+v", err, h)
		}
		m, err := properties.Map(strings.NewReader(string(resp.Body)))
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	update := func(body string) *remoting.Command {
		return invoke(t, rc, b.Addr(), remoting.NewRequest(remoting.UpdateBrokerConfig, nil, []byte(body)))
	}
	cfg := get()
	if cfg["brokerName"] != "broker-a" || cfg["brokerPermission"] != "6" || cfg["listenPort"] == "" {
		t.Fatalf("config %v", cfg)
	}

	if resp := update("brokerPermission=4\nautoCreateTopicEnable : false"); resp.Code != remoting.Success {
		t.Fatalf("update: %d %s", resp.Code, resp.Remark)
	}
	if cfg := get(); cfg["brokerPermission"] != "4" || cfg["autoCreateTopicEnable"] != "false" {
		t.Fatalf("after update %v", cfg)
	}
	if resp := send(t, rc, b.Addr(), "AfterWipe", 0, "", []byte("x")); resp.Code != remoting.NoPermission {
		t.Fatalf("send to a read-only broker: %d %s", resp.Code, resp.Remark)
	}
	for body, code := range map[string]int16{
		"listenPort=1234":          remoting.InvalidParameter, // fixed while running
		"noSuchKey=1":              remoting.InvalidParameter,
		"brokerPermission=99":      remoting.InvalidParameter,
		"maxMessageSize=999999999": remoting.InvalidParameter, // above what the store was opened for
		"brokerConfigPath=/tmp/x":  remoting.NoPermission,
		`brokerName=\uZZ`:          remoting.InvalidParameter,
		"":                         remoting.InvalidParameter,
	} {
		if resp := update(body); resp.Code != code || resp.Remark == "" {
			t.Errorf("update %q: %d %q, want %d", body, resp.Code, resp.Remark, code)
		}
	}
	if resp := update("brokerPermission=6\nbrokerName=broker-a"); resp.Code != remoting.Success {
		t.Fatalf("restore (with an unchanged fixed key): %d %s", resp.Code, resp.Remark)
	}
	if resp := send(t, rc, b.Addr(), "Existing", 0, "", []byte("x")); resp.Code != remoting.TopicNotExist {
		t.Fatalf("auto-create is off, yet send answered %d %s", resp.Code, resp.Remark)
	}
	if b.Config().BrokerPermission != 6 {
		t.Fatalf("Config() shows permission %d", b.Config().BrokerPermission)
	}
}

// TestRuntimeInfoFigures checks that GET_BROKER_RUNTIME_INFO reports what
// happened: totals, the daily split and the put-latency distribution.
func TestRuntimeInfoFigures(t *testing.T) {
	clk := &testClock{t: time.Date(2025, 3, 1, 23, 59, 0, 0, time.Local)}
	b, rc := testBrokerWith(t, nil, WithClock(clk.now))
	info := func() map[string]string {
		resp := invoke(t, rc, b.Addr(), remoting.NewRequest(remoting.GetBrokerRuntimeInfo, nil, nil))
		var kv struct{ Table map[string]string }
		if err := json.Unmarshal(resp.Body, &kv); err != nil {
			t.Fatal(err)
		}
		return kv.Table
	}
	for range 5 {
		send(t, rc, b.Addr(), "RT", 0, "", []byte("x"))
	}
	heartbeat(t, rc, b.Addr(), "RG", "RT", "*")
	invoke(t, rc, b.Addr(), pullRequest("RG", "RT", 0, 0, 0))
	kv := info()
	if kv["msgPutTotalTodayNow"] != "5" || kv["msgGetTotalTodayNow"] != "5" || kv["msgPutTotalTodayMorning"] != "0" || kv["putMessageTimesTotal"] != "5" {
		t.Fatalf("totals %v", kv)
	}
	if !strings.Contains(kv["putMessageDistributeTime"], "[<=0ms]:") || distributionSum(t, kv["putMessageDistributeTime"]) != 5 {
		t.Fatalf("distribution %q", kv["putMessageDistributeTime"])
	}
	for _, k := range []string{"commitLogDiskRatio", "earliestMessageTimeStamp", "putTps", "getTransferredTps", "runtime", "brokerActive", "remainHowManyDataToFlush"} {
		if kv[k] == "" {
			t.Errorf("runtime info lacks %s", k)
		}
	}

	// Past midnight the morning totals move; after a minute the
	// distribution shows the minute that ended.
	clk.add(2 * time.Minute)
	b.stats.sample(clk.now())
	send(t, rc, b.Addr(), "RT", 0, "", []byte("y"))
	kv = info()
	if kv["msgPutTotalTodayMorning"] != "5" || kv["msgPutTotalYesterdayMorning"] != "0" || kv["msgPutTotalTodayNow"] != "6" || kv["msgGetTotalTodayMorning"] != "5" {
		t.Fatalf("after midnight %v", kv)
	}
	if distributionSum(t, kv["putMessageDistributeTime"]) != 5 {
		t.Fatalf("last minute's distribution %q", kv["putMessageDistributeTime"])
	}
	if tps := strings.Fields(kv["putTps"]); len(tps) != 3 || tps[0] != "0.04" {
		// 5 messages over the 120 s between the two samples
		t.Fatalf("putTps %q", kv["putTps"])
	}
}

func distributionSum(t *testing.T, s string) int {
	t.Helper()
	sum := 0
	for _, f := range strings.Fields(s) {
		_, n, ok := strings.Cut(f, "]:")
		v, err := strconv.Atoi(n)
		if !ok || err != nil {
			t.Fatalf("distribution field %q", f)
		}
		sum += v
	}
	return sum
}

// TestAdminHeadersRejectMalformed sends every new admin request without its
// required fields: each gets a clear error, none a panic or silence.
func TestAdminHeadersRejectMalformed(t *testing.T) {
	b, rc := testBroker(t, nil)
	for _, code := range []int16{remoting.GetTopicStatsInfo, remoting.GetProducerConnectionList, remoting.GetConsumeStats,
		remoting.GetBrokerConsumeStats, remoting.QueryTopicConsumeByWho, remoting.CloneGroupOffset, remoting.QueryConsumeQueue,
		remoting.InvokeBrokerToGetConsumerStatus} {
		resp := invoke(t, rc, b.Addr(), remoting.NewRequest(code, nil, nil))
		if resp.Code != remoting.InvalidParameter || !strings.Contains(resp.Remark, "bad request header") {
			t.Errorf("code %d without header: %d %q", code, resp.Code, resp.Remark)
		}
	}
	bad := remoting.NewRequest(remoting.QueryConsumeQueue, nil, nil)
	bad.Ext.Set("topic", "T")
	bad.Ext.Set("queueId", "zero")
	if resp := invoke(t, rc, b.Addr(), bad); resp.Code != remoting.InvalidParameter {
		t.Errorf("non-numeric queueId: %d %q", resp.Code, resp.Remark)
	}
}

// testClock is a settable clock.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}
