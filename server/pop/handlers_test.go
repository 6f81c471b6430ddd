package pop_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/rocketgo/rocketgo/remoting"
	"github.com/rocketgo/rocketgo/remoting/netclient"
	"github.com/rocketgo/rocketgo/server/broker"
)

func startBroker(t testing.TB) *broker.Broker {
	t.Helper()
	cfg := broker.DefaultConfig()
	cfg.StorePathRootDir = t.TempDir()
	cfg.ListenHost, cfg.BrokerIP1, cfg.ListenPort = "127.0.0.1", "127.0.0.1", 0
	cfg.MappedFileSizeCommitLog = 16 << 20
	cfg.MappedFileSizeConsumeQueue = 20 * 1000
	cfg.MaxHashSlotNum, cfg.MaxIndexNum = 1000, 4000
	b, err := broker.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := b.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := b.Shutdown(ctx); err != nil {
			t.Error(err)
		}
	})
	return b
}

// Malformed, hostile or out-of-range POP requests get an error response;
// the broker neither panics (a panic would answer SYSTEM_ERROR) nor drops
// the connection.
func TestMalformedPopRequestsGetErrorResponses(t *testing.T) {
	b := startBroker(t)
	rc := netclient.New()
	defer rc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	send := remoting.SendMessageRequestHeader{ProducerGroup: "pg", Topic: "PopBad", DefaultTopic: "TBW102",
		DefaultTopicQueueNums: 2, QueueID: 0, BornTimestamp: time.Now().UnixMilli()}
	if resp, err := rc.InvokeSync(ctx, b.Addr(), remoting.NewRequest(remoting.SendMessage, &send, []byte("x"))); err != nil || resp.Code != remoting.Success {
		t.Fatalf("send: %v %v", resp, err)
	}
	pop := func(mut func(h *remoting.PopMessageRequestHeader)) *remoting.Command {
		h := remoting.PopMessageRequestHeader{ConsumerGroup: "g", Topic: "PopBad", QueueID: -1, MaxMsgNums: 1,
			InvisibleTime: 60000, PollTime: 0, BornTime: time.Now().UnixMilli(), InitMode: remoting.PopInitModeMin}
		mut(&h)
		return remoting.NewWideRequest(remoting.PopMessage, &h, nil)
	}
	raw := func(code int32, body []byte, kv ...string) *remoting.Command {
		c := remoting.NewWideRequest(code, nil, body)
		for i := 0; i+1 < len(kv); i += 2 {
			c.Ext.Set(kv[i], kv[i+1])
		}
		return c
	}
	expired := "0 1000 1000 0 0 broker 0 0"
	cases := []struct {
		name string
		req  *remoting.Command
		want int16
	}{
		{"pop without header", raw(remoting.PopMessage, nil), remoting.InvalidParameter},
		{"pop queueId not a number", raw(remoting.PopMessage, nil, "consumerGroup", "g", "topic", "PopBad", "queueId", "abc",
			"maxMsgNums", "1", "invisibleTime", "1000", "pollTime", "0", "bornTime", "0", "initMode", "0"), remoting.InvalidParameter},
		{"pop 1000 messages", pop(func(h *remoting.PopMessageRequestHeader) { h.MaxMsgNums = 1000 }), remoting.InvalidParameter},
		{"pop 0 messages", pop(func(h *remoting.PopMessageRequestHeader) { h.MaxMsgNums = 0 }), remoting.InvalidParameter},
		{"pop negative invisible time", pop(func(h *remoting.PopMessageRequestHeader) { h.InvisibleTime = -5 }), remoting.InvalidParameter},
		{"pop invisible time of years", pop(func(h *remoting.PopMessageRequestHeader) { h.InvisibleTime = 1 << 50 }), remoting.InvalidParameter},
		{"pop poll time of hours", pop(func(h *remoting.PopMessageRequestHeader) { h.PollTime = 3600_000 }), remoting.InvalidParameter},
		{"pop queue out of range", pop(func(h *remoting.PopMessageRequestHeader) { h.QueueID = 99 }), remoting.InvalidParameter},
		{"pop SQL92", pop(func(h *remoting.PopMessageRequestHeader) { h.ExpType, h.Exp = "SQL92", "a > 1" }), remoting.InvalidParameter},
		{"pop unknown topic", pop(func(h *remoting.PopMessageRequestHeader) { h.Topic = "NoSuchTopic" }), remoting.TopicNotExist},
		{"pop timed out in transit", pop(func(h *remoting.PopMessageRequestHeader) { h.PollTime, h.BornTime = 1000, 1 }), remoting.PollingTimeout},
		{"ack without header", raw(remoting.AckMessage, nil), remoting.InvalidParameter},
		{"ack garbage handle", raw(remoting.AckMessage, nil, "consumerGroup", "g", "topic", "PopBad", "queueId", "0",
			"extraInfo", "garbage", "offset", "0"), remoting.InvalidParameter},
		{"ack oversized handle", raw(remoting.AckMessage, nil, "consumerGroup", "g", "topic", "PopBad", "queueId", "0",
			"extraInfo", strings.Repeat("1 ", 100000), "offset", "0"), remoting.InvalidParameter},
		{"ack bad retry mark", raw(remoting.AckMessage, nil, "consumerGroup", "g", "topic", "PopBad", "queueId", "0",
			"extraInfo", "0 1 1 0 9 broker 0 0", "offset", "0"), remoting.InvalidParameter},
		{"ack expired handle", raw(remoting.AckMessage, nil, "consumerGroup", "g", "topic", "PopBad", "queueId", "0",
			"extraInfo", expired, "offset", "0"), remoting.NoMessage},
		{"change negative time", raw(remoting.ChangeMessageInvisibleTime, nil, "consumerGroup", "g", "topic", "PopBad", "queueId", "0",
			"extraInfo", expired, "offset", "0", "invisibleTime", "-1"), remoting.InvalidParameter},
		{"change expired handle", raw(remoting.ChangeMessageInvisibleTime, nil, "consumerGroup", "g", "topic", "PopBad", "queueId", "0",
			"extraInfo", expired, "offset", "0", "invisibleTime", "1000"), remoting.NoMessage},
		{"batch ack without body", raw(remoting.BatchAckMessage, nil), remoting.InvalidParameter},
		{"batch ack garbage body", raw(remoting.BatchAckMessage, []byte("{not json")), remoting.InvalidParameter},
		{"batch ack oversized body", raw(remoting.BatchAckMessage, make([]byte, 2<<20)), remoting.InvalidParameter},
		{"batch ack bad retry mark", raw(remoting.BatchAckMessage, []byte(`{"acks":[{"c":"g","t":"PopBad","r":"x","b":"AQ=="}]}`)), remoting.InvalidParameter},
	}
	for _, tc := range cases {
		resp, err := rc.InvokeSync(ctx, b.Addr(), tc.req)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if resp.Code != tc.want {
			t.Errorf("%s: code %d (%s), want %d", tc.name, resp.Code, resp.Remark, tc.want)
		}
	}
	// Still serving: a well-formed pop finds the message.
	resp, err := rc.InvokeSync(ctx, b.Addr(), pop(func(*remoting.PopMessageRequestHeader) {}))
	if err != nil || resp.Code != remoting.Success || len(resp.Body) == 0 {
		t.Fatalf("pop after the bad requests: %v %v", resp, err)
	}
	var h remoting.PopMessageResponseHeader
	if err := resp.DecodeHeader(&h); err != nil || h.StartOffsetInfo == "" || h.MsgOffsetInfo == "" || h.InvisibleTime != 60000 {
		t.Fatalf("pop response header %+v: %v", h, err)
	}
}
