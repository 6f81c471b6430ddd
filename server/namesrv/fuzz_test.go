package namesrv

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/rocketgo/rocketgo/internal/panicwatch"
	"github.com/rocketgo/rocketgo/internal/rawframe"
	"github.com/rocketgo/rocketgo/remoting"
	"github.com/rocketgo/rocketgo/remoting/wire"
)

// nsFuzzSeeds are well-formed requests for every code the name server
// serves, frames without their length prefix; the fuzzer mutates them.
func nsFuzzSeeds(t testing.TB) [][]byte {
	t.Helper()
	frame := func(code int16, body []byte, kv ...string) []byte {
		cmd := remoting.NewRequest(code, nil, body)
		for i := 0; i+1 < len(kv); i += 2 {
			cmd.Ext.Set(kv[i], kv[i+1])
		}
		b, err := remoting.AppendFrame(nil, cmd)
		if err != nil {
			t.Fatal(err)
		}
		return b[4:]
	}
	topics := []wire.TopicConfig{{TopicName: "T", ReadQueueNums: 4, WriteQueueNums: 4, Perm: 6}, {TopicName: "TBW102", ReadQueueNums: 8, WriteQueueNums: 8, Perm: 7}}
	body, crc, err := wire.EncodeRegisterBody(wire.DataVersion{Counter: 2, Timestamp: 1}, topics, false)
	if err != nil {
		t.Fatal(err)
	}
	zbody, zcrc, err := wire.EncodeRegisterBody(wire.DataVersion{Counter: 3, Timestamp: 1}, topics, true)
	if err != nil {
		t.Fatal(err)
	}
	broker := []string{"brokerName", "broker-b", "brokerAddr", "127.0.0.1:20911", "clusterName", "C", "brokerId", "0"}
	with := func(kv ...string) []string { return append(append([]string(nil), broker...), kv...) }
	return [][]byte{
		frame(remoting.RegisterBroker, body, with("haServerAddr", "127.0.0.1:20912", "bodyCrc32", strconv.FormatInt(int64(crc), 10))...),
		frame(remoting.RegisterBroker, zbody, with("haServerAddr", "127.0.0.1:20912", "compressed", "true", "bodyCrc32", strconv.FormatInt(int64(zcrc), 10))...),
		frame(remoting.RegisterBroker, body, with("brokerId", "1", "enableActingMaster", "true", "heartbeatTimeoutMillis", "1000")...),
		frame(remoting.UnregisterBroker, nil, broker...),
		frame(remoting.BrokerHeartbeat, nil, with("epoch", "1", "maxOffset", "100", "confirmOffset", "90", "electionPriority", "1")...),
		frame(remoting.QueryDataVersion, body, broker...),
		frame(remoting.GetRouteInfoByTopic, nil, "topic", "T"),
		frame(remoting.GetRouteInfoByTopic, nil, "topic", "T", "acceptStandardJsonOnly", "true"),
		frame(remoting.GetBrokerClusterInfo, nil),
		frame(remoting.GetAllTopicListFromNameServer, nil),
		frame(remoting.GetTopicsByCluster, nil, "cluster", "C"),
		frame(remoting.DeleteTopicInNamesrv, nil, "topic", "T", "clusterName", "C"),
		frame(remoting.GetSystemTopicListFromNS, nil),
		frame(remoting.GetUnitTopicList, nil),
		frame(remoting.GetHasUnitSubTopicList, nil),
		frame(remoting.GetHasUnitSubUnunitTopicList, nil),
		frame(remoting.PutKVConfig, nil, "namespace", "ORDER_TOPIC_CONFIG", "key", "T", "value", "broker-b:4"),
		frame(remoting.GetKVConfig, nil, "namespace", "ORDER_TOPIC_CONFIG", "key", "T"),
		frame(remoting.DeleteKVConfig, nil, "namespace", "ORDER_TOPIC_CONFIG", "key", "T"),
		frame(remoting.GetKVListByNamespace, nil, "namespace", "ORDER_TOPIC_CONFIG"),
		frame(remoting.GetNamesrvConfig, nil),
		frame(remoting.WipeWritePermOfBroker, nil, "brokerName", "broker-b"),
		frame(remoting.AddWritePermOfBroker, nil, "brokerName", "broker-b"),
	}
}

// FuzzNameServerFrames sends arbitrary frames through the name server's
// whole request path (codec, dispatch, processors, route table). After
// every input the server must still answer, no processor may have
// panicked, and the canary broker must register again and route its topic
// — whatever the input registered, wiped or deleted. (Re-registering
// first lets an input unregister the canary legitimately; what it may not
// do is leave the table unable to take the canary back.)
func FuzzNameServerFrames(f *testing.F) {
	for _, s := range nsFuzzSeeds(f) {
		f.Add(s)
	}
	var watch panicwatch.Watch
	s := startServer(f, WithLogger(watch.Logger()))
	rc := newRemotingClient(f)
	c := newNSClient(f, rc, s.Addr())
	mustRegister(f, c, brokerReq("CanaryCluster", "canary", "127.0.0.1:30911", 0, 1, "FuzzCanary"))

	f.Fuzz(func(t *testing.T, frame []byte) {
		if err := rawframe.Exchange(s.Addr(), frame, 200*time.Millisecond); err != nil {
			t.Fatalf("name server stopped accepting: %v", err)
		}

		// Put the canary back (an input may have unregistered it or
		// deleted its topic) so every input starts alike.
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if _, err := c.RegisterBroker(ctx, brokerReq("CanaryCluster", "canary", "127.0.0.1:30911", 0, 1, "FuzzCanary")); err != nil {
			t.Fatalf("name server unresponsive after input: %v", err)
		}
		r, err := c.Route(ctx, "FuzzCanary")
		if err != nil || len(r.BrokerDatas) == 0 || r.BrokerDatas[0].MasterAddr() != "127.0.0.1:30911" {
			t.Fatalf("canary route after input: %+v, %v", r, err)
		}
		if n := watch.Panics(); n > 0 {
			t.Fatalf("%d processor panics", n)
		}
	})
}
