//go:build !race

// The official Go client has data races of its own, so tests that run it
// are excluded from -race builds (go test -run Official ./... runs them).

package producer_test

import (
	"context"
	. "github.com/rocketgo/rocketgo/producer"
	"testing"
	"time"

	rocketmq "github.com/apache/rocketmq-client-go/v2"
	"github.com/apache/rocketmq-client-go/v2/primitive"
	oproducer "github.com/apache/rocketmq-client-go/v2/producer"
	"github.com/apache/rocketmq-client-go/v2/rlog"

	"github.com/rocketgo/rocketgo/consumer"
	"github.com/rocketgo/rocketgo/internal/nsclient"
	"github.com/rocketgo/rocketgo/message"
)

// TestOfficialRequestAnsweredByOurReplier: the official v2.1.2 producer's
// Request (SEND_MESSAGE with CORRELATION_ID, REPLY_TO_CLIENT, TTL in
// seconds) is answered by our consumer with message.NewReply and our
// producer (SEND_REPLY_MESSAGE_V2), and our broker's
// PUSH_REPLY_MESSAGE_TO_CLIENT is decoded by the official client: body,
// properties and correlation all arrive.
func TestOfficialRequestAnsweredByOurReplier(t *testing.T) {
	rlog.SetLogLevel("fatal")
	srv := startServer(t)
	// The topic is left to auto-creation on purpose: v2.1.2 heartbeats
	// before a request only when the name server has no route for the
	// topic (prepareSendRequest); otherwise the broker learns the
	// requester's client id from the periodic heartbeat, up to 30 s later,
	// and a reply before that finds no channel (as with a Java broker).
	const topic = "InteropRequest"

	op, err := rocketmq.NewProducer(
		oproducer.WithNsResolver(primitive.NewPassthroughResolver([]string{srv.NamesrvAddr()})),
		oproducer.WithGroupName("interop-requester-pg"),
		oproducer.WithInstanceName("interop-requester"),
	)
	if err != nil {
		t.Fatal(err)
	}
	if err := op.Start(); err != nil {
		t.Fatal(err)
	}
	defer op.Shutdown()

	ctx := testCtx(t)
	type result struct {
		m   *primitive.Message
		err error
	}
	done := make(chan result, 1)
	go func() {
		m, err := op.Request(ctx, 15*time.Second, primitive.NewMessage(topic, []byte("hello")))
		done <- result{m, err}
	}()
	// The request's send created the topic; our consumer needs its route.
	ns, err := nsclient.New(newRC(t), srv.NamesrvAddr())
	if err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if r, err := ns.Route(ctx, topic); err == nil && len(r.QueueDatas) > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the official request did not create its topic")
		}
	}
	rp := newProducer(t, srv, WithGroup("interop-replier-pg"))
	c, err := consumer.NewPush(consumer.WithNameServers(srv.NamesrvAddr()), consumer.WithGroup("interop-replier-cg"),
		consumer.WithConsumeFrom(consumer.ConsumeFromFirstOffset), consumer.WithRebalanceInterval(500*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	err = c.Subscribe(topic, "*", consumer.ConcurrentListener(func(ctx context.Context, _ *consumer.ConcurrentContext, msgs []*message.MessageExt) consumer.ConsumeResult {
		for _, m := range msgs {
			r, err := message.NewReply(m, append([]byte("re:"), m.Body...))
			if err == nil {
				_, err = rp.SendSync(ctx, r)
			}
			if err != nil {
				t.Errorf("replying: %v", err)
			}
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

	res := <-done
	reply, err := res.m, res.err
	if err != nil {
		t.Fatal(err)
	}
	if string(reply.Body) != "re:hello" {
		t.Fatalf("reply body %q", reply.Body)
	}
	if v := reply.GetProperty(message.PropertyMsgType); v != message.MsgTypeReply {
		t.Fatalf("reply MSG_TYPE %q", v)
	}
	if v := reply.GetProperty(message.PropertyPushReplyTime); v == "" {
		t.Fatal("reply lacks PUSH_REPLY_TIME")
	}
}
