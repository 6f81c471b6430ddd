package namesrv

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/rocketgo/rocketgo/remoting/wire"
)

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

const testTimeout = 120 * time.Second

func topicsBody(version int64, topics ...wire.TopicConfig) *wire.RegisterBody {
	return &wire.RegisterBody{DataVersion: wire.DataVersion{Counter: version, Timestamp: 1}, Topics: topics}
}

func tc(name string, r, w, perm int32) wire.TopicConfig {
	return wire.TopicConfig{TopicName: name, ReadQueueNums: r, WriteQueueNums: w, Perm: perm, TopicFilterType: "SINGLE_TAG"}
}

func reg(cluster, name, addr string, id int64) registerRequest {
	return registerRequest{ClusterName: cluster, BrokerName: name, BrokerAddr: addr, BrokerID: id, HAServerAddr: addr + "-ha"}
}

// wireRoute is the route body decoded with encoding/json, which only
// accepts standard JSON — the form our server promises.
type wireRoute struct {
	OrderTopicConf string `json:"orderTopicConf"`
	QueueDatas     []struct {
		BrokerName     string `json:"brokerName"`
		ReadQueueNums  int    `json:"readQueueNums"`
		WriteQueueNums int    `json:"writeQueueNums"`
		Perm           int    `json:"perm"`
		TopicSysFlag   int    `json:"topicSysFlag"`
	} `json:"queueDatas"`
	BrokerDatas []struct {
		Cluster     string            `json:"cluster"`
		BrokerName  string            `json:"brokerName"`
		BrokerAddrs map[string]string `json:"brokerAddrs"`
	} `json:"brokerDatas"`
}

func mustRoute(t *testing.T, rt *routeTable, topic string) wireRoute {
	t.Helper()
	body, ok := rt.route(topic, nil)
	if !ok {
		t.Fatalf("no route for %q", topic)
	}
	var r wireRoute
	if err := json.Unmarshal(body, &r); err != nil {
		t.Fatalf("route %s is not standard JSON: %v", body, err)
	}
	return r
}

func TestRouteExactBytes(t *testing.T) {
	rt := newRouteTable()
	rt.register(reg("DefaultCluster", "broker-a", "127.0.0.1:10911", 0), topicsBody(1, tc("T", 4, 4, 6)), nil, t0, testTimeout)
	body, ok := rt.route("T", nil)
	if !ok {
		t.Fatal("no route")
	}
	// The exact bytes an Apache name server writes for this route.
	want := `{"brokerDatas":[{"brokerAddrs":{"0":"127.0.0.1:10911"},"brokerName":"broker-a","cluster":"DefaultCluster","enableActingMaster":false}],"filterServerTable":{},"queueDatas":[{"brokerName":"broker-a","perm":6,"readQueueNums":4,"topicSysFlag":0,"writeQueueNums":4}]}`
	if string(body) != want {
		t.Fatalf("route\n got %s\nwant %s", body, want)
	}
	if _, ok := rt.route("nope", nil); ok {
		t.Fatal("unknown topic must have no route")
	}
}

func TestRouteMatchesEncodingJSON(t *testing.T) {
	rt := newRouteTable()
	rt.register(reg("c1", "b\"x", "10.0.0.1:1", 0), topicsBody(1, tc("T", 2, 3, 6)), nil, t0, testTimeout)
	rt.register(reg("c1", "b\"x", "10.0.0.2:1", 1), topicsBody(1), nil, t0, testTimeout)
	rt.register(reg("c2", "a<b>", "10.0.0.3:1", 0), topicsBody(1, tc("T", 8, 8, 4)), nil, t0, testTimeout)
	body, _ := rt.route("T", func(string) string { return "a<b>:8;b\"x:3" })
	type bd struct {
		BrokerAddrs        map[string]string `json:"brokerAddrs"`
		BrokerName         string            `json:"brokerName"`
		Cluster            string            `json:"cluster"`
		EnableActingMaster bool              `json:"enableActingMaster"`
	}
	type qd struct {
		BrokerName     string `json:"brokerName"`
		Perm           int    `json:"perm"`
		ReadQueueNums  int    `json:"readQueueNums"`
		TopicSysFlag   int    `json:"topicSysFlag"`
		WriteQueueNums int    `json:"writeQueueNums"`
	}
	want := struct {
		BrokerDatas       []bd           `json:"brokerDatas"`
		FilterServerTable map[string]int `json:"filterServerTable"`
		OrderTopicConf    string         `json:"orderTopicConf"`
		QueueDatas        []qd           `json:"queueDatas"`
	}{
		BrokerDatas: []bd{
			{map[string]string{"0": "10.0.0.3:1"}, "a<b>", "c2", false},
			{map[string]string{"0": "10.0.0.1:1", "1": "10.0.0.2:1"}, "b\"x", "c1", false},
		},
		FilterServerTable: map[string]int{},
		OrderTopicConf:    "a<b>:8;b\"x:3",
		QueueDatas:        []qd{{"a<b>", 4, 8, 0, 8}, {"b\"x", 6, 2, 0, 3}},
	}
	var buf strings.Builder
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(want); err != nil {
		t.Fatal(err)
	}
	if got := string(body); got != strings.TrimSpace(buf.String()) {
		t.Fatalf("route\n got %s\nwant %s", got, buf.String())
	}
}

func TestAppendJSONString(t *testing.T) {
	for _, s := range []string{"", "plain", "quote\"back\\slash", "ctl\x00\x01\x1f\n\r\t", "üñí©ødé", "bad\xffutf8", "\u2028"} {
		got := appendJSONString(nil, s)
		var back string
		if err := json.Unmarshal(got, &back); err != nil {
			t.Fatalf("%q encoded as invalid JSON %s: %v", s, got, err)
		}
		want := strings.ToValidUTF8(s, "\uFFFD")
		if back != want {
			t.Fatalf("%q round-tripped to %q", s, back)
		}
	}
}

func TestRegisterDataVersionGatesQueueData(t *testing.T) {
	rt := newRouteTable()
	r := reg("c", "b", "10.0.0.1:1", 0)
	rt.register(r, topicsBody(1, tc("T", 4, 4, 6)), nil, t0, testTimeout)
	// Same version, different content: only liveness is refreshed.
	rt.register(r, topicsBody(1, tc("T", 16, 16, 6), tc("U", 1, 1, 6)), nil, t0.Add(time.Second), testTimeout)
	if got := mustRoute(t, rt, "T").QueueDatas[0].ReadQueueNums; got != 4 {
		t.Fatalf("unchanged data version updated queues to %d", got)
	}
	if _, ok := rt.route("U", nil); ok {
		t.Fatal("unchanged data version added a topic")
	}
	if li := rt.live[liveKey{"c", "10.0.0.1:1"}]; !li.lastUpdate.Equal(t0.Add(time.Second)) {
		t.Fatalf("liveness not refreshed: %v", li.lastUpdate)
	}
	// A new version applies (and the cached body is replaced).
	rt.register(r, topicsBody(2, tc("T", 16, 16, 6), tc("U", 1, 1, 6)), nil, t0, testTimeout)
	if got := mustRoute(t, rt, "T").QueueDatas[0].ReadQueueNums; got != 16 {
		t.Fatalf("new data version not applied: %d", got)
	}
	mustRoute(t, rt, "U")
}

func TestSlaveRegistration(t *testing.T) {
	rt := newRouteTable()
	res := rt.register(reg("c", "b", "10.0.0.2:1", 1), topicsBody(1, tc("T", 4, 4, 6)), nil, t0, testTimeout)
	if res != (registerResult{first: true}) {
		t.Fatalf("slave without master got %+v", res)
	}
	if _, ok := rt.route("T", nil); ok {
		t.Fatal("slave registration created queue data")
	}
	rt.register(reg("c", "b", "10.0.0.1:1", 0), topicsBody(1, tc("T", 4, 4, 6)), nil, t0, testTimeout)
	res = rt.register(reg("c", "b", "10.0.0.2:1", 1), topicsBody(2, tc("T", 8, 8, 6)), nil, t0, testTimeout)
	if want := (registerResult{MasterAddr: "10.0.0.1:1", HAServerAddr: "10.0.0.1:1-ha"}); res != want {
		t.Fatalf("slave result %+v, want %+v", res, want)
	}
	r := mustRoute(t, rt, "T")
	if r.QueueDatas[0].ReadQueueNums != 4 {
		t.Fatal("slave registration changed queue data")
	}
	if want := map[string]string{"0": "10.0.0.1:1", "1": "10.0.0.2:1"}; !reflect.DeepEqual(r.BrokerDatas[0].BrokerAddrs, want) {
		t.Fatalf("addrs %v", r.BrokerDatas[0].BrokerAddrs)
	}
	// The master leaves: the slave keeps the group routable for reads.
	if !rt.unregister("c", "b", "10.0.0.1:1", 0) {
		t.Fatal("unregister of a known master reported unknown")
	}
	r = mustRoute(t, rt, "T")
	if want := map[string]string{"1": "10.0.0.2:1"}; !reflect.DeepEqual(r.BrokerDatas[0].BrokerAddrs, want) {
		t.Fatalf("after master left: addrs %v", r.BrokerDatas[0].BrokerAddrs)
	}
	rt.unregister("c", "b", "10.0.0.2:1", 1)
	if _, ok := rt.route("T", nil); ok {
		t.Fatal("topic survived its last broker")
	}
	if len(rt.clusters) != 0 || len(rt.brokers) != 0 || len(rt.live) != 0 {
		t.Fatalf("tables not empty: %v %v %v", rt.clusters, rt.brokers, rt.live)
	}
}

func TestActingMasterServesReadOnly(t *testing.T) {
	rt := newRouteTable()
	r := reg("c", "b", "10.0.0.2:1", 1)
	r.EnableActingMaster = true
	rt.register(r, topicsBody(1, tc("T", 4, 4, 6)), nil, t0, testTimeout)
	if got := mustRoute(t, rt, "T").QueueDatas[0].Perm; got != int(wire.PermRead) {
		t.Fatalf("acting master perm %d, want read only", got)
	}
}

func TestRemovalKeepsOtherBrokersTopics(t *testing.T) {
	rt := newRouteTable()
	rt.register(reg("c", "a", "10.0.0.1:1", 0), topicsBody(1, tc("Shared", 4, 4, 6), tc("OnlyA", 1, 1, 6)), nil, t0, testTimeout)
	rt.register(reg("c", "b", "10.0.0.2:1", 0), topicsBody(1, tc("Shared", 2, 2, 6)), nil, t0, testTimeout)
	rt.unregister("c", "a", "10.0.0.1:1", 0)
	if _, ok := rt.route("OnlyA", nil); ok {
		t.Fatal("topic served only by the removed broker survived")
	}
	r := mustRoute(t, rt, "Shared")
	if len(r.QueueDatas) != 1 || r.QueueDatas[0].BrokerName != "b" || len(r.BrokerDatas) != 1 {
		t.Fatalf("shared route %+v", r)
	}
	if rt.unregister("c", "a", "10.0.0.1:1", 0) {
		t.Fatal("second unregister reported a known broker")
	}
}

func TestScanExpiresSilentBrokers(t *testing.T) {
	rt := newRouteTable()
	rt.register(reg("c", "a", "10.0.0.1:1", 0), topicsBody(1, tc("A", 1, 1, 6)), nil, t0, testTimeout)
	short := reg("c", "b", "10.0.0.2:1", 0)
	short.HeartbeatTimeout = 10 * time.Second
	rt.register(short, topicsBody(1, tc("B", 1, 1, 6)), nil, t0, testTimeout)

	if got := rt.scan(t0.Add(10 * time.Second)); len(got) != 0 {
		t.Fatalf("expired at the boundary: %v", got)
	}
	if got := rt.scan(t0.Add(11 * time.Second)); !reflect.DeepEqual(got, []string{"10.0.0.2:1"}) {
		t.Fatalf("scan removed %v, want the broker with the 10 s timeout", got)
	}
	if _, ok := rt.route("B", nil); ok {
		t.Fatal("expired broker's topic still routed")
	}
	// A heartbeat keeps the other broker alive past the default timeout.
	if !rt.touch("c", "10.0.0.1:1", t0.Add(100*time.Second)) {
		t.Fatal("touch of a live broker failed")
	}
	if got := rt.scan(t0.Add(121 * time.Second)); len(got) != 0 {
		t.Fatalf("heartbeating broker expired: %v", got)
	}
	if got := rt.scan(t0.Add(221 * time.Second)); !reflect.DeepEqual(got, []string{"10.0.0.1:1"}) {
		t.Fatalf("scan removed %v", got)
	}
	if rt.touch("c", "10.0.0.1:1", t0) {
		t.Fatal("touch of a removed broker succeeded")
	}
}

func TestConnClosed(t *testing.T) {
	rt := newRouteTable()
	connA, connB := new(int), new(int)
	rt.register(reg("c", "a", "10.0.0.1:1", 0), topicsBody(1, tc("A", 1, 1, 6)), connA, t0, testTimeout)
	rt.register(reg("c", "b", "10.0.0.2:1", 0), topicsBody(1, tc("B", 1, 1, 6)), connB, t0, testTimeout)
	if got := rt.connClosed(connA); !reflect.DeepEqual(got, []string{"10.0.0.1:1"}) {
		t.Fatalf("removed %v", got)
	}
	if _, ok := rt.route("A", nil); ok {
		t.Fatal("disconnected broker still routed")
	}
	mustRoute(t, rt, "B")
	if got := rt.connClosed(nil); got != nil {
		t.Fatalf("nil conn removed %v", got)
	}
}

func TestQueryDataVersion(t *testing.T) {
	rt := newRouteTable()
	if changed, _ := rt.queryDataVersion("c", "10.0.0.1:1", wire.DataVersion{Counter: 1}, t0); !changed {
		t.Fatal("unknown broker must be told to register")
	}
	rt.register(reg("c", "a", "10.0.0.1:1", 0), topicsBody(1), nil, t0, testTimeout)
	changed, stored := rt.queryDataVersion("c", "10.0.0.1:1", wire.DataVersion{Counter: 1, Timestamp: 1}, t0.Add(time.Minute))
	if changed || stored == nil || stored.Counter != 1 {
		t.Fatalf("changed=%v stored=%v", changed, stored)
	}
	if li := rt.live[liveKey{"c", "10.0.0.1:1"}]; !li.lastUpdate.Equal(t0.Add(time.Minute)) {
		t.Fatal("query did not refresh liveness")
	}
	if changed, _ := rt.queryDataVersion("c", "10.0.0.1:1", wire.DataVersion{Counter: 2, Timestamp: 1}, t0); !changed {
		t.Fatal("new version not reported as changed")
	}
}

func TestDeleteTopicAndWritePerm(t *testing.T) {
	rt := newRouteTable()
	rt.register(reg("c1", "a", "10.0.0.1:1", 0), topicsBody(1, tc("T", 1, 1, 6), tc("U", 1, 1, 6)), nil, t0, testTimeout)
	rt.register(reg("c2", "b", "10.0.0.2:1", 0), topicsBody(1, tc("T", 1, 1, 6)), nil, t0, testTimeout)
	if got := rt.topicsByCluster("c1"); !reflect.DeepEqual(got, []string{"T", "U"}) {
		t.Fatalf("topics of c1: %v", got)
	}
	if !rt.deleteTopic("T", "c1") {
		t.Fatal("cluster delete reported nothing removed")
	}
	if r := mustRoute(t, rt, "T"); len(r.QueueDatas) != 1 || r.QueueDatas[0].BrokerName != "b" {
		t.Fatalf("after cluster delete %+v", r)
	}
	if !rt.deleteTopic("T", "") || rt.deleteTopic("T", "") {
		t.Fatal("full delete")
	}
	if got := rt.topicList(); !reflect.DeepEqual(got, []string{"U"}) {
		t.Fatalf("topic list %v", got)
	}
	if n := rt.setWritePerm("a", false); n != 1 {
		t.Fatalf("wiped %d topics", n)
	}
	if p := mustRoute(t, rt, "U").QueueDatas[0].Perm; p != int(wire.PermRead) {
		t.Fatalf("perm after wipe %d", p)
	}
	rt.setWritePerm("a", true)
	if p := mustRoute(t, rt, "U").QueueDatas[0].Perm; p != int(wire.PermRead|wire.PermWrite) {
		t.Fatalf("perm after add %d", p)
	}
}

func TestClusterInfoAndSystemTopics(t *testing.T) {
	rt := newRouteTable()
	rt.register(reg("c1", "a", "10.0.0.1:1", 0), topicsBody(1), nil, t0, testTimeout)
	rt.register(reg("c1", "b", "10.0.0.2:1", 1), topicsBody(1), nil, t0, testTimeout)
	want := `{"brokerAddrTable":{"a":{"brokerAddrs":{"0":"10.0.0.1:1"},"brokerName":"a","cluster":"c1","enableActingMaster":false},"b":{"brokerAddrs":{"1":"10.0.0.2:1"},"brokerName":"b","cluster":"c1","enableActingMaster":false}},"clusterAddrTable":{"c1":["a","b"]}}`
	if got := string(rt.clusterInfo()); got != want {
		t.Fatalf("cluster info\n got %s\nwant %s", got, want)
	}
	topics, addr := rt.systemTopics()
	if !reflect.DeepEqual(topics, []string{"a", "b", "c1"}) || addr != "10.0.0.1:1" {
		t.Fatalf("system topics %v %q", topics, addr)
	}
}

// A controller-mode failover: the new master registers id 0 with a newer
// state version (its master epoch); the demoted one, still registering as
// id 0 with the old epoch, is ignored instead of flipping the route back.
func TestNewerStateVersionKeepsTheMasterID(t *testing.T) {
	rt := newRouteTable()
	epoch := func(e int64) *wire.RegisterBody {
		b := topicsBody(1, tc("T", 4, 4, 6))
		b.DataVersion.StateVersion = e
		return b
	}
	rt.register(reg("c", "b", "10.0.0.1:1", 0), epoch(1), nil, t0, testTimeout)
	rt.register(reg("c", "b", "10.0.0.2:1", 0), epoch(2), nil, t0, testTimeout)
	if res := rt.register(reg("c", "b", "10.0.0.1:1", 0), epoch(1), nil, t0, testTimeout); !res.rejected {
		t.Fatalf("the stale master's registration was taken: %+v", res)
	}
	r := mustRoute(t, rt, "T")
	if want := map[string]string{"0": "10.0.0.2:1"}; !reflect.DeepEqual(r.BrokerDatas[0].BrokerAddrs, want) {
		t.Fatalf("addrs %v", r.BrokerDatas[0].BrokerAddrs)
	}
	// Demoted properly, it registers as a slave and is listed again.
	rt.register(reg("c", "b", "10.0.0.1:1", 1), epoch(2), nil, t0, testTimeout)
	if res := rt.register(reg("c", "b", "10.0.0.1:1", 1), epoch(2), nil, t0, testTimeout); res.MasterAddr != "10.0.0.2:1" {
		t.Fatalf("slave result %+v", res)
	}
}
