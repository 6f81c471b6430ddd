package consumer

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rocketgo/rocketgo/message"
	"github.com/rocketgo/rocketgo/remoting"
	"github.com/rocketgo/rocketgo/remoting/wire"
)

func TestPushConsumeTimeoutSendsBack(t *testing.T) {
	ts := startServer(t)
	s := newSender(t, ts)
	topic := "PushTimeout"
	createTopic(t, ts, s, topic)
	release := make(chan struct{})
	var mu sync.Mutex
	var deliveries []int32
	l := ConcurrentListener(func(ctx context.Context, _ *ConcurrentContext, msgs []*message.MessageExt) ConsumeResult {
		if string(msgs[0].Body) != "stuck" {
			return ConsumeSuccess
		}
		mu.Lock()
		deliveries = append(deliveries, msgs[0].ReconsumeTimes)
		first := len(deliveries) == 1
		mu.Unlock()
		if first {
			select { // hang past the consume timeout
			case <-release:
			case <-ctx.Done():
			}
		}
		return ConsumeSuccess
	})
	startPush(t, ts, "cg-timeout", topic, "*", l, WithConsumeTimeout(300*time.Millisecond))
	s.send(t, topic, 0, "", []byte("stuck"))
	// The scan sends it back; the broker redelivers it after level 3 (10 s).
	waitFor(t, 30*time.Second, "redelivery after timeout", func() bool { mu.Lock(); defer mu.Unlock(); return len(deliveries) >= 2 })
	close(release)
	time.Sleep(300 * time.Millisecond)
	mu.Lock()
	defer mu.Unlock()
	if len(deliveries) != 2 || deliveries[1] != 1 {
		t.Fatalf("deliveries (reconsume times) %v, want [0 1]", deliveries)
	}
}

func TestPushOrderlyGoesToDLQAfterMax(t *testing.T) {
	ts := startServer(t)
	s := newSender(t, ts)
	topic := "OrderlyDLQ"
	createTopic(t, ts, s, topic)
	var mu sync.Mutex
	var poison []int32
	var after atomic.Int32
	l := OrderlyListener(func(_ context.Context, oc *OrderlyContext, msgs []*message.MessageExt) OrderlyResult {
		mu.Lock()
		defer mu.Unlock()
		switch string(msgs[0].Body) {
		case "poison":
			poison = append(poison, msgs[0].ReconsumeTimes)
			oc.Suspend = 20 * time.Millisecond
			return OrderlySuspend
		case "next":
			after.Add(1)
		}
		return OrderlySuccess
	})
	startPush(t, ts, "cg-odlq", topic, "*", l, WithMaxReconsumeTimes(3))
	s.send(t, topic, 2, "", []byte("poison"))
	s.send(t, topic, 2, "", []byte("next"))
	waitFor(t, 20*time.Second, "message behind the poison one", func() bool { return after.Load() == 1 })
	mu.Lock()
	if len(poison) != 4 || poison[0] != 0 || poison[3] != 3 {
		t.Fatalf("poison deliveries %v, want reconsume 0..3", poison)
	}
	mu.Unlock()
	dlq := newRecorder()
	waitRoute(t, ts.NamesrvAddr(), DLQPrefix+"cg-odlq")
	startPush(t, ts, "cg-odlq-reader", DLQPrefix+"cg-odlq", "*", dlq.listener())
	waitFor(t, 20*time.Second, "poison in DLQ", func() bool { return dlq.distinct() == 1 })
}

func TestPushResetOffsetAndConsumeDirectly(t *testing.T) {
	ts := startServer(t)
	s := newSender(t, ts)
	topic := "PushReset"
	createTopic(t, ts, s, topic)
	for range 5 {
		s.send(t, topic, 0, "", []byte("r"))
	}
	var n atomic.Int32
	c := startPush(t, ts, "cg-reset", topic, "*", ConcurrentListener(func(_ context.Context, _ *ConcurrentContext, msgs []*message.MessageExt) ConsumeResult {
		for _, m := range msgs {
			if m.QueueID == 0 {
				n.Add(1)
			}
		}
		return ConsumeSuccess
	}))
	waitFor(t, 10*time.Second, "6 messages of queue 0", func() bool { return n.Load() == 6 })
	// The broker asks us to rewind queue 0 to offset 2.
	req := remoting.NewRequest(remoting.ResetConsumerClientOffset, &remoting.ResetOffsetRequestHeader{Topic: topic, Group: "cg-reset", QueueID: -1, Offset: -1}, nil)
	req.Body = wire.EncodeOffsetTable(map[wire.MessageQueue]int64{{Topic: topic, BrokerName: "broker-a", QueueID: 0}: 2})
	h := (*pushHandler)(c)
	if resp := h.HandleRequest(context.Background(), "", req); resp != nil {
		t.Fatalf("reset is oneway, got %v", resp)
	}
	waitFor(t, 10*time.Second, "4 redelivered", func() bool { return n.Load() == 10 })

	// CONSUME_MESSAGE_DIRECTLY runs the listener and answers CR_SUCCESS.
	rec, err := message.AppendStored(nil, &message.StoredMessage{Topic: topic, Body: []byte("direct"), QueueID: 0,
		BornHost: netip.MustParseAddrPort("127.0.0.1:1"), StoreHost: netip.MustParseAddrPort("127.0.0.1:2")})
	if err != nil {
		t.Fatal(err)
	}
	dreq := remoting.NewRequest(remoting.ConsumeMessageDirectly, &remoting.ConsumeMessageDirectlyRequestHeader{ConsumerGroup: "cg-reset", BrokerName: "broker-a"}, rec)
	resp := h.HandleRequest(context.Background(), "", dreq)
	var out consumeDirectResult
	if resp == nil || resp.Code != remoting.Success || json.Unmarshal(resp.Body, &out) != nil || out.ConsumeResult != "CR_SUCCESS" {
		t.Fatalf("consume directly: %v %s", resp, resp.Body)
	}
	if n.Load() != 11 {
		t.Fatalf("listener calls %d, want 11", n.Load())
	}
	// A message of the group's DLQ goes to the listener of its original
	// topic (RETRY_TOPIC).
	dead := &message.StoredMessage{Topic: DLQPrefix + "cg-reset", Body: []byte("dead"), QueueID: 0,
		BornHost: netip.MustParseAddrPort("127.0.0.1:1"), StoreHost: netip.MustParseAddrPort("127.0.0.1:2")}
	dead.Properties = message.EncodeProperties(map[string]string{message.PropertyRetryTopic: topic})
	if rec, err = message.AppendStored(nil, dead); err != nil {
		t.Fatal(err)
	}
	resp = h.HandleRequest(context.Background(), "", remoting.NewRequest(remoting.ConsumeMessageDirectly,
		&remoting.ConsumeMessageDirectlyRequestHeader{ConsumerGroup: "cg-reset", BrokerName: "broker-a"}, rec))
	if resp == nil || resp.Code != remoting.Success || json.Unmarshal(resp.Body, &out) != nil || out.ConsumeResult != "CR_SUCCESS" || n.Load() != 12 {
		t.Fatalf("consume a DLQ message directly: %v %s, listener calls %d", resp, resp.Body, n.Load())
	}
	st := h.HandleRequest(context.Background(), "", remoting.NewRequest(remoting.GetConsumerStatusFromClient,
		&remoting.GetConsumerStatusRequestHeader{Topic: topic, Group: "cg-reset"}, nil))
	if st == nil || st.Code != remoting.Success || !strings.Contains(string(st.Body), `{"brokerName":"broker-a","queueId":0,"topic":"PushReset"}:6`) {
		t.Fatalf("consumer status: %v %s", st, st.Body)
	}
	info := (*pushHandler)(c).HandleRequest(context.Background(), "", remoting.NewRequest(remoting.GetConsumerRunningInfo,
		&remoting.GetConsumerRunningInfoRequestHeader{ConsumerGroup: "cg-reset"}, nil))
	if info == nil || info.Code != remoting.Success || !strings.Contains(string(info.Body), `"subscriptionSet":[`) {
		t.Fatalf("running info: %v", info)
	}
}

func TestPushOrderlyMemberLeavesKeepsOrder(t *testing.T) {
	ts := startServer(t)
	s := newSender(t, ts)
	topic := "OrderlyLeave"
	createTopic(t, ts, s, topic)
	var mu sync.Mutex
	seq := map[int][]int{} // queue → indexes in delivery order
	var bad []string
	var inQueue [4]atomic.Int32
	l := OrderlyListener(func(_ context.Context, oc *OrderlyContext, msgs []*message.MessageExt) OrderlyResult {
		if inQueue[oc.Queue.QueueID].Add(1) != 1 {
			mu.Lock()
			bad = append(bad, "two members consume one queue at once")
			mu.Unlock()
		}
		defer inQueue[oc.Queue.QueueID].Add(-1)
		time.Sleep(2 * time.Millisecond)
		mu.Lock()
		defer mu.Unlock()
		for _, m := range msgs {
			var q, i int
			if _, err := fmt.Sscanf(string(m.Body), "%d-%d", &q, &i); err == nil {
				seq[q] = append(seq[q], i)
			}
		}
		return OrderlySuccess
	})
	o1 := startPush(t, ts, "cg-oleave", topic, "*", l, WithInstanceName("o1"))
	startPush(t, ts, "cg-oleave", topic, "*", l, WithInstanceName("o2"))
	const per = 60
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range per {
			for q := range 4 {
				s.send(t, topic, q, "", []byte(fmt.Sprintf("%d-%d", q, i)))
			}
		}
	}()
	time.Sleep(300 * time.Millisecond)
	shutdown(t, o1)
	<-done
	waitFor(t, 30*time.Second, "all messages", func() bool {
		mu.Lock()
		defer mu.Unlock()
		for q := range 4 {
			if len(seq[q]) < per || seq[q][len(seq[q])-1] != per-1 {
				return false
			}
		}
		return true
	})
	mu.Lock()
	defer mu.Unlock()
	if len(bad) > 0 {
		t.Fatal(bad[0])
	}
	for q := range 4 {
		for k := 1; k < len(seq[q]); k++ {
			if seq[q][k] != seq[q][k-1]+1 {
				t.Fatalf("queue %d out of order or duplicated: %v", q, seq[q])
			}
		}
	}
}

// When CONSUMER_SEND_MSG_BACK fails, the consumer re-sends the stored body
// itself; an LZ4 or ZSTD body must keep its compression type bits, or it
// would be stored as zlib and become unreadable.
func TestSendBackFallbackKeepsCompressionType(t *testing.T) {
	ts := startServer(t)
	s := newSender(t, ts)
	topic := "FallbackCompress"
	createTopic(t, ts, s, topic)
	c := startPush(t, ts, "cg-fallback", topic, "NoSuchTag", newRecorder().listener())
	brokerName := c.cl.BrokerNameOf(ts.BrokerAddr())
	body := bytes.Repeat([]byte("compressible body "), 1000)
	types := []message.CompressionType{message.CompressLZ4, message.CompressZstd}
	for _, ct := range types {
		z, err := message.CompressWith(ct, body, 0)
		if err != nil {
			t.Fatal(err)
		}
		h := remoting.SendMessageRequestHeader{ProducerGroup: "test-pg", Topic: topic, DefaultTopic: "TBW102",
			DefaultTopicQueueNums: 4, QueueID: 1, SysFlag: ct.SysFlag(), BornTimestamp: time.Now().UnixMilli()}
		resp, err := s.rc.InvokeSync(context.Background(), s.addr, remoting.NewRequest(remoting.SendMessage, &h, z))
		if err != nil || resp.Code != remoting.Success {
			t.Fatalf("send %v: %v %v", ct, resp, err)
		}
	}
	pull := func(q Queue) []*message.MessageExt {
		res, err := pullOnce(context.Background(), c.cl, &pullRequest{group: "cg-fallback", q: q, max: 32, commit: -1, expression: "*"})
		if err != nil {
			t.Fatal(err)
		}
		return res.msgs
	}
	stored := pull(Queue{Topic: topic, BrokerName: brokerName, QueueID: 1})
	if len(stored) != 2 {
		t.Fatalf("want the 2 compressed messages, got %d", len(stored))
	}
	for _, m := range stored {
		// A commit-log offset that points nowhere makes the broker refuse
		// the send-back; delay level -1 sends the copy straight to the DLQ.
		m.CommitLogOffset = 1 << 40
		m.BrokerName = brokerName
		if err := c.sendBack(context.Background(), m, -1); err != nil {
			t.Fatalf("fallback resend: %v", err)
		}
	}
	dlq := Queue{Topic: DLQPrefix + "cg-fallback", BrokerName: brokerName}
	var got []*message.MessageExt
	waitFor(t, 10*time.Second, "both copies in the DLQ", func() bool {
		got = pull(dlq)
		return len(got) == 2
	})
	for i, ct := range types {
		gt, err := message.CompressionTypeOf(got[i].SysFlag)
		if err != nil || gt != ct || got[i].Err != nil || !bytes.Equal(got[i].Body, body) {
			t.Errorf("DLQ copy %d: type %v (want %v, %v), err %v, body intact %v", i, gt, ct, err, got[i].Err, bytes.Equal(got[i].Body, body))
		}
	}
}
