//go:build !race

package grpc_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	rmq "github.com/apache/rocketmq-clients/golang/v5"
	v2 "github.com/apache/rocketmq-clients/golang/v5/protocol/v2"

	rgadmin "github.com/rocketgo/rocketgo/admin"
)

// TestOfficialGRPCFifoOrderlyGroup: the official 5.x FIFO producer sends
// one message group; a SimpleConsumer of a consumeMessageOrderly group
// receives it in send order, one at a time: the next message is withheld
// until the previous one is acked, and an unacked one comes back first.
func TestOfficialGRPCFifoOrderlyGroup(t *testing.T) {
	srv := startServer(t)
	const topic, group = "GrpcFifoOrderly", "GrpcFifoOrderlyGroup"
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	adm, err := rgadmin.Dial(srv.NamesrvAddr())
	if err != nil {
		t.Fatal(err)
	}
	defer adm.Close()
	g := rgadmin.NewGroupConfig(group)
	g.ConsumeMessageOrderly = true
	if err := adm.CreateGroup(ctx, g, "DefaultCluster", ""); err != nil {
		t.Fatal(err)
	}
	p := newProducer5(t, srv, rmq.WithTopics(topic))
	sendN(t, p, topic, 1, "T") // creates the topic
	sc := newSimpleConsumer5(t, srv, group, topic, "*")
	const n = 5
	for i := 0; i < n; i++ {
		m := &rmq.Message{Topic: topic, Body: []byte(fmt.Sprint(i))}
		m.SetMessageGroup("order-7")
		if _, err := p.Send(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	// receiveOne asks for one message at a time, as long as within.
	receiveOne := func(invisible, within time.Duration) *rmq.MessageView {
		t.Helper()
		deadline := time.Now().Add(within)
		for time.Now().Before(deadline) {
			mvs, err := sc.Receive(ctx, 1, invisible)
			if err != nil {
				var st *rmq.ErrRpcStatus
				if errors.As(err, &st) && st.GetCode() == int32(v2.Code_MESSAGE_NOT_FOUND) {
					continue
				}
				t.Fatalf("receive: %v", err)
			}
			if len(mvs) != 1 {
				t.Fatalf("asked for one message, got %d", len(mvs))
			}
			return mvs[0]
		}
		return nil
	}
	want := func(mv *rmq.MessageView, body string, attempt int32) {
		t.Helper()
		if mv == nil {
			t.Fatalf("message %s not received", body)
		}
		if string(mv.GetBody()) != body || mv.GetDeliveryAttempt() != attempt {
			t.Fatalf("got %q attempt %d, want %q attempt %d", mv.GetBody(), mv.GetDeliveryAttempt(), body, attempt)
		}
		if g := mv.GetMessageGroup(); g == nil || *g != "order-7" {
			t.Fatalf("message group %v", g)
		}
	}
	for i := 0; i < n; i++ {
		mv := receiveOne(30*time.Second, 20*time.Second)
		want(mv, fmt.Sprint(i), 1)
		if i == 2 {
			// Not acked: nothing after it comes meanwhile; once its
			// invisible time ran out it comes back first.
			if err := sc.ChangeInvisibleDuration(mv, 2*time.Second); err != nil {
				t.Fatalf("change invisible duration: %v", err)
			}
			mv = receiveOne(30*time.Second, 20*time.Second)
			want(mv, "2", 2)
		}
		// The next one is withheld until this one is acked (one receive
		// long-polls the await duration, 2s).
		if i < n-1 {
			mvs, err := sc.Receive(ctx, 1, 30*time.Second)
			if err == nil && len(mvs) > 0 {
				t.Fatalf("received %q before %q was acked", mvs[0].GetBody(), mv.GetBody())
			}
		}
		if err := sc.Ack(ctx, mv); err != nil {
			t.Fatalf("ack %q: %v", mv.GetBody(), err)
		}
	}
}
