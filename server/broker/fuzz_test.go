package broker

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/rocketgo/rocketgo/remoting/netclient"

	"github.com/rocketgo/rocketgo/internal/panicwatch"
	"github.com/rocketgo/rocketgo/internal/rawframe"
	"github.com/rocketgo/rocketgo/message"
	"github.com/rocketgo/rocketgo/remoting"
	"github.com/rocketgo/rocketgo/remoting/wire"
)

// fuzzSeeds are well-formed requests for every code the broker serves, and
// the frames the official client sent in the capture under
// remoting/testdata/official; the fuzzer mutates them.
func fuzzSeeds(t testing.TB) [][]byte {
	frame := func(cmd *remoting.Command) []byte {
		b, err := remoting.AppendFrame(nil, cmd)
		if err != nil {
			t.Fatal(err)
		}
		return b[4:] // the fuzz input is the frame without its length prefix
	}
	hb, _ := json.Marshal(wire.HeartbeatData{ClientID: "c", ConsumerDataSet: []wire.ConsumerData{{GroupName: "G", SubscriptionDataSet: []wire.SubscriptionData{wire.ParseSubscription("T", "a||b", 1)}}}})
	lock, _ := json.Marshal(wire.LockBatchRequest{ConsumerGroup: "G", ClientID: "c", MQSet: []wire.MessageQueue{{Topic: "T", BrokerName: "broker-a"}}})
	batch, _ := message.AppendBatch(nil, []*message.Message{message.New("T", []byte("x")), message.New("T", []byte("y"))})
	sqlSub := wire.ParseSQL92Subscription("T", "a > 1 AND (b = 'x' OR c IN ('p', 'q')) AND NOT (d IS NULL)", 1)
	hbSQL, _ := json.Marshal(wire.HeartbeatData{ClientID: "c", ConsumerDataSet: []wire.ConsumerData{{GroupName: "G", SubscriptionDataSet: []wire.SubscriptionData{sqlSub}}}})
	check, _ := json.Marshal(map[string]any{"clientId": "c", "group": "G", "subscriptionData": sqlSub})
	sqlPull := pullRequest("G", "T", 0, 0, 0)
	sqlPull.Ext.Set("subscription", sqlSub.SubString)
	sqlPull.Ext.Set("expressionType", "SQL92")
	sqlPull.Ext.Set("sysFlag", "2")
	bh := sendHeader("T", 0, "")
	bh.Batch = true
	seeds := [][]byte{
		frame(remoting.NewRequest(remoting.SendMessage, sendHeader("T", 0, "TAGS\x01a\x02"), []byte("body"))),
		frame(remoting.NewRequest(remoting.SendMessageV2, sendHeader("T", -1, "DELAY\x011\x02").V2(), []byte("body"))),
		frame(remoting.NewRequest(remoting.SendBatchMessage, bh.V2(), batch)),
		frame(pullRequest("G", "T", 0, 0, 100*time.Millisecond)),
		frame(remoting.NewRequest(remoting.HeartBeat, nil, hb)),
		frame(remoting.NewRequest(remoting.HeartBeat, nil, hbSQL)),
		frame(remoting.NewRequest(remoting.CheckClientConfig, nil, check)),
		frame(sqlPull),
		frame(remoting.NewRequest(remoting.LockBatchMQ, nil, lock)),
		frame(remoting.NewRequest(remoting.QueryConsumerOffset, &remoting.QueryConsumerOffsetRequestHeader{ConsumerGroup: "G", Topic: "T"}, nil)),
		frame(remoting.NewRequest(remoting.UpdateConsumerOffset, &remoting.UpdateConsumerOffsetRequestHeader{ConsumerGroup: "G", Topic: "T", CommitOffset: 3}, nil)),
		frame(remoting.NewRequest(remoting.ConsumerSendMsgBack, &remoting.ConsumerSendMsgBackRequestHeader{Offset: 0, Group: "G", DelayLevel: 1}, nil)),
		frame(remoting.NewRequest(remoting.EndTransaction, &remoting.EndTransactionRequestHeader{ProducerGroup: "P", CommitOrRollback: 8}, nil)),
		frame(remoting.NewRequest(remoting.QueryMessage, &remoting.QueryMessageRequestHeader{Topic: "T", Key: "k", MaxNum: 5, EndTimestamp: 1 << 50}, nil)),
		frame(remoting.NewRequest(remoting.ViewMessageByID, &remoting.ViewMessageByIDRequestHeader{Offset: 0}, nil)),
		frame(remoting.NewRequest(remoting.UpdateAndCreateTopic, &remoting.CreateTopicRequestHeader{Topic: "N", ReadQueueNums: 2, WriteQueueNums: 2, Perm: 6}, nil)),
		frame(remoting.NewRequest(remoting.InvokeBrokerToResetOffset, &remoting.ResetOffsetRequestHeader{Topic: "T", Group: "G", Timestamp: 0}, nil)),
		frame(remoting.NewRequest(remoting.GetTopicStatsInfo, &remoting.TopicHeader{Topic: "T"}, nil)),
		frame(remoting.NewRequest(remoting.GetProducerConnectionList, &remoting.ProducerGroupHeader{ProducerGroup: "P"}, nil)),
		frame(remoting.NewRequest(remoting.GetConsumeStats, &remoting.GetConsumeStatsRequestHeader{ConsumerGroup: "G", TopicList: "T;U"}, nil)),
		frame(remoting.NewRequest(remoting.GetBrokerConsumeStats, &remoting.GetConsumeStatsInBrokerHeader{IsOrder: true}, nil)),
		frame(remoting.NewRequest(remoting.QueryTopicConsumeByWho, &remoting.TopicHeader{Topic: "T"}, nil)),
		frame(remoting.NewRequest(remoting.QueryConsumeQueue, &remoting.QueryConsumeQueueRequestHeader{Topic: "T", Count: 5, ConsumerGroup: "G"}, nil)),
		frame(remoting.NewRequest(remoting.CloneGroupOffset, &remoting.CloneGroupOffsetRequestHeader{SrcGroup: "G", DestGroup: "H", Offline: true}, nil)),
		frame(remoting.NewRequest(remoting.InvokeBrokerToGetConsumerStatus, &remoting.GetConsumerStatusRequestHeader{Topic: "T", Group: "G"}, nil)),
		frame(remoting.NewRequest(remoting.GetBrokerConfig, nil, nil)),
		frame(remoting.NewRequest(remoting.UpdateBrokerConfig, nil, []byte("autoCreateTopicEnable=true\nshortPollingTimeMills=1000"))),
		frame(remoting.NewRequest(remoting.GetBrokerRuntimeInfo, nil, nil)),
	}
	files, _ := filepath.Glob(filepath.Join("..", "..", "remoting", "testdata", "official", "*.bin"))
	for _, f := range files {
		if b, err := os.ReadFile(f); err == nil && len(b) > 4 {
			seeds = append(seeds, b[4:])
		}
	}
	return seeds
}

// FuzzBrokerFrames sends arbitrary frames through the broker's whole request
// path (codec, dispatch, processors, store). After every input the broker
// must still answer, no processor may have panicked, and the canary message
// written at start must read back intact.
func FuzzBrokerFrames(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		f.Add(s)
	}
	var watch panicwatch.Watch
	cfg := DefaultConfig()
	cfg.ListenHost, cfg.ListenPort = "127.0.0.1", 0
	cfg.StorePathRootDir = f.TempDir()
	cfg.MappedFileSizeCommitLog = 8 << 20
	cfg.MaxMessageSize = 1 << 20
	cfg.MappedFileSizeConsumeQueue = 20 * 1000
	cfg.MaxHashSlotNum, cfg.MaxIndexNum = 1000, 4000
	cfg.MessageDelayLevel = "1s"
	cfg.EnablePropertyFilter = true // SQL92 seeds reach the filter compiler
	b, err := New(cfg, WithLogger(watch.Logger()))
	if err != nil {
		f.Fatal(err)
	}
	if err := b.Start(context.Background()); err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { b.Shutdown(context.Background()) })
	rc := netclient.New()
	f.Cleanup(func() { rc.Close() })
	if resp := send(f, rc, b.Addr(), "FuzzCanary", 0, "", []byte("canary")); resp.Code != remoting.Success {
		f.Fatalf("canary send: %d %s", resp.Code, resp.Remark)
	}

	f.Fuzz(func(t *testing.T, frame []byte) {
		if err := rawframe.Exchange(b.Addr(), frame, 200*time.Millisecond); err != nil {
			t.Fatalf("broker stopped accepting: %v", err)
		}

		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		resp, err := rc.InvokeSync(ctx, b.Addr(), remoting.NewRequest(remoting.ViewMessageByID, &remoting.ViewMessageByIDRequestHeader{Offset: 0}, nil))
		if err != nil {
			t.Fatalf("broker unresponsive after input: %v", err)
		}
		msgs, err := message.DecodeMessages(resp.Body, message.WithVerifyCRC(true))
		if resp.Code != remoting.Success || err != nil || len(msgs) != 1 || string(msgs[0].Body) != "canary" {
			t.Fatalf("canary unreadable after input: code %d, %v, %v", resp.Code, err, msgs)
		}
		if n := watch.Panics(); n > 0 {
			t.Fatalf("%d processor panics", n)
		}
	})
}
