package proxy_test

import (
	"context"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/rocketgo/rocketgo/admin"
	"github.com/rocketgo/rocketgo/server/embedded/embeddedtest"
	"github.com/rocketgo/rocketgo/server/proxy"
	pb "github.com/rocketgo/rocketgo/server/proxy/v2pb"
)

// TestFifoGroup: a consumeMessageOrderly group is reported fifo=true in
// the settings, gets one message group's messages in send order, sees a
// queue's next message only after acking the previous one, and gets an
// unacked message back first, with its attempt raised, once its (changed)
// invisible time ran out.
func TestFifoGroup(t *testing.T) {
	srv := embeddedtest.Start(t)
	p, err := proxy.Start("127.0.0.1:0", proxy.Config{NameServers: srv.NamesrvAddr()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	const topic, group, plainGroup = "FifoTopic", "FifoGroup", "PlainGroup"
	ctx := callCtx(t)
	adm, err := admin.Dial(srv.NamesrvAddr())
	if err != nil {
		t.Fatal(err)
	}
	defer adm.Close()
	if err := adm.CreateTopic(ctx, admin.TopicSpec{Topic: topic, ReadQueues: 2, WriteQueues: 2}, "", ""); err != nil {
		t.Fatal(err)
	}
	g := admin.NewGroupConfig(group)
	g.ConsumeMessageOrderly = true
	if err := adm.CreateGroup(ctx, g, "", ""); err != nil {
		t.Fatal(err)
	}
	c := dial(t, p.Addr(), false)

	// Settings: fifo for the orderly group only.
	fifoOf := func(group string) bool {
		t.Helper()
		tctx, cancel := context.WithCancel(ctx)
		defer cancel()
		tel, err := c.Telemetry(tctx)
		if err != nil {
			t.Fatal(err)
		}
		err = tel.Send(&pb.TelemetryCommand{Command: &pb.TelemetryCommand_Settings{Settings: &pb.Settings{
			ClientType: pb.ClientType_SIMPLE_CONSUMER.Enum(),
			PubSub: &pb.Settings_Subscription{Subscription: &pb.Subscription{
				Group:         &pb.Resource{Name: group},
				Subscriptions: []*pb.SubscriptionEntry{{Topic: &pb.Resource{Name: topic}, Expression: &pb.FilterExpression{Type: pb.FilterType_TAG, Expression: "*"}}},
			}},
		}}})
		if err != nil {
			t.Fatal(err)
		}
		r, err := tel.Recv()
		if err != nil || r.GetStatus().GetCode() != pb.Code_OK || r.GetSettings().GetSubscription() == nil {
			t.Fatalf("settings of %s: %v %v", group, r, err)
		}
		return r.GetSettings().GetSubscription().GetFifo()
	}
	if !fifoOf(group) {
		t.Fatal("orderly group not reported fifo")
	}
	if fifoOf(plainGroup) {
		t.Fatal("plain group reported fifo")
	}

	route, err := c.QueryRoute(ctx, &pb.QueryRouteRequest{Topic: &pb.Resource{Name: topic}})
	if err != nil || route.Status.Code != pb.Code_OK || len(route.MessageQueues) == 0 {
		t.Fatalf("route: %v %v", route, err)
	}
	// poll receives one batch (waiting up to max for one to come).
	poll := func(max, invisible time.Duration, batch int32) []*pb.Message {
		t.Helper()
		return receiveWithin(t, ctx, c, &pb.ReceiveMessageRequest{
			Group: &pb.Resource{Name: group}, MessageQueue: route.MessageQueues[0], BatchSize: batch,
			InvisibleDuration: durationpb.New(invisible), LongPollingTimeout: durationpb.New(500 * time.Millisecond),
		}, max)
	}
	ack := func(m *pb.Message, handle string) {
		t.Helper()
		r, err := c.AckMessage(ctx, &pb.AckMessageRequest{Group: &pb.Resource{Name: group}, Topic: &pb.Resource{Name: topic},
			Entries: []*pb.AckMessageEntry{{MessageId: m.SystemProperties.MessageId, ReceiptHandle: handle}}})
		if err != nil || r.Status.Code != pb.Code_OK || r.Entries[0].Status.Code != pb.Code_OK {
			t.Fatalf("ack %s: %v %v", m.SystemProperties.MessageId, r, err)
		}
	}
	one := func(msgs []*pb.Message, id string, attempt int32) *pb.Message {
		t.Helper()
		if len(msgs) != 1 || msgs[0].SystemProperties.MessageId != id || msgs[0].SystemProperties.GetDeliveryAttempt() != attempt {
			t.Fatalf("want %s attempt %d, got %v", id, attempt, msgs)
		}
		return msgs[0]
	}

	poll(0, time.Second, 1) // fixes the group's start (POP init mode MAX)
	ids := []string{"F0", "F1", "F2", "F3"}
	for _, id := range ids {
		m := newMessage(topic, id, "body-"+id)
		mg := "orders-1"
		m.SystemProperties.MessageGroup = &mg
		m.SystemProperties.MessageType = pb.MessageType_FIFO
		m.SystemProperties.BornTimestamp = timestamppb.Now()
		resp, err := c.SendMessage(ctx, &pb.SendMessageRequest{Messages: []*pb.Message{m}})
		if err != nil || resp.Status.Code != pb.Code_OK {
			t.Fatalf("send %s: %v %v", id, resp, err)
		}
	}
	// One message group, one queue: a batch holds them in send order.
	first := poll(10*time.Second, 30*time.Second, 2)
	if len(first) != 2 {
		t.Fatalf("first batch has %d messages, want 2", len(first))
	}
	for i, m := range first {
		if m.SystemProperties.MessageId != ids[i] || m.SystemProperties.GetMessageGroup() != "orders-1" {
			t.Fatalf("message %d of the batch is %s (group %q), want %s", i, m.SystemProperties.MessageId, m.SystemProperties.GetMessageGroup(), ids[i])
		}
	}
	// The queue is held while the batch is open, even by one acked message.
	ack(first[0], first[0].SystemProperties.GetReceiptHandle())
	if got := poll(0, time.Second, 8); len(got) != 0 {
		t.Fatalf("received %s while the previous batch is unacked", got[0].SystemProperties.MessageId)
	}
	ack(first[1], first[1].SystemProperties.GetReceiptHandle())
	// The next one comes only after the acks; left unacked (its invisible
	// time shortened through ChangeInvisibleDuration), it comes back
	// first, with its attempt raised, and nothing after it meanwhile.
	m := one(poll(10*time.Second, 30*time.Second, 1), "F2", 1)
	ch, err := c.ChangeInvisibleDuration(ctx, &pb.ChangeInvisibleDurationRequest{Group: &pb.Resource{Name: group}, Topic: &pb.Resource{Name: topic},
		ReceiptHandle: m.SystemProperties.GetReceiptHandle(), InvisibleDuration: durationpb.New(2 * time.Second), MessageId: m.SystemProperties.MessageId})
	if err != nil || ch.Status.Code != pb.Code_OK || ch.ReceiptHandle == "" || ch.ReceiptHandle == m.SystemProperties.GetReceiptHandle() {
		t.Fatalf("change invisible duration: %v %v", ch, err)
	}
	again := poll(15*time.Second, 30*time.Second, 1)
	m = one(again, "F2", 2)
	ack(m, m.SystemProperties.GetReceiptHandle())
	m = one(poll(10*time.Second, 30*time.Second, 1), "F3", 1)
	// The handle ChangeInvisibleDuration returned acks an order message too.
	ch, err = c.ChangeInvisibleDuration(ctx, &pb.ChangeInvisibleDurationRequest{Group: &pb.Resource{Name: group}, Topic: &pb.Resource{Name: topic},
		ReceiptHandle: m.SystemProperties.GetReceiptHandle(), InvisibleDuration: durationpb.New(30 * time.Second), MessageId: m.SystemProperties.MessageId})
	if err != nil || ch.Status.Code != pb.Code_OK {
		t.Fatalf("change invisible duration: %v %v", ch, err)
	}
	ack(m, ch.ReceiptHandle)
	if got := poll(0, time.Second, 8); len(got) != 0 {
		t.Fatalf("received %s after all were acked", got[0].SystemProperties.MessageId)
	}
}
