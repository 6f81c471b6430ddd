package producer_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rocketgo/rocketgo/remoting/netclient"

	"github.com/rocketgo/rocketgo/consumer"
	"github.com/rocketgo/rocketgo/internal/nsclient"
	"github.com/rocketgo/rocketgo/message"
	"github.com/rocketgo/rocketgo/producer"
	"github.com/rocketgo/rocketgo/remoting"
	"github.com/rocketgo/rocketgo/server/embedded"
	"github.com/rocketgo/rocketgo/server/embedded/embeddedtest"
)

func rrCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// rrTopic creates topic on srv and waits until the name server routes it.
func rrTopic(t *testing.T, srv *embedded.Server, topic string) {
	t.Helper()
	rc := netclient.New()
	defer rc.Close()
	ctx := rrCtx(t)
	resp, err := rc.InvokeSync(ctx, srv.BrokerAddr(), remoting.NewRequest(remoting.UpdateAndCreateTopic, &remoting.CreateTopicRequestHeader{
		Topic: topic, DefaultTopic: "TBW102", ReadQueueNums: 2, WriteQueueNums: 2, Perm: 6, TopicFilterType: "SINGLE_TAG",
	}, nil))
	if err != nil || resp.Code != remoting.Success {
		t.Fatalf("create topic: %v %v", err, resp)
	}
	ns, err := nsclient.New(rc, srv.NamesrvAddr())
	if err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if r, err := ns.Route(ctx, topic); err == nil && len(r.QueueDatas) > 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no route for %s", topic)
		}
	}
}

func rrProducer(t *testing.T, srv *embedded.Server, group string, opts ...producer.Option) *producer.Producer {
	t.Helper()
	p, err := producer.New(append([]producer.Option{producer.WithNameServers(srv.NamesrvAddr()), producer.WithGroup(group)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Shutdown(context.Background()) })
	return p
}

// startReplier consumes topic and answers every request with "re:"+body
// through its own producer; requests also go to seen when it is non-nil
// (then they are not answered).
func startReplier(t *testing.T, srv *embedded.Server, topic string, seen chan<- *message.MessageExt) {
	t.Helper()
	rp := rrProducer(t, srv, "rr-replier-pg")
	c, err := consumer.NewPush(consumer.WithNameServers(srv.NamesrvAddr()), consumer.WithGroup("rr-replier-cg"),
		consumer.WithConsumeFrom(consumer.ConsumeFromFirstOffset), consumer.WithRebalanceInterval(500*time.Millisecond),
		consumer.WithHeartbeatInterval(time.Second), consumer.WithRouteRefreshInterval(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	err = c.Subscribe(topic, "*", consumer.ConcurrentListener(func(ctx context.Context, _ *consumer.ConcurrentContext, msgs []*message.MessageExt) consumer.ConsumeResult {
		for _, m := range msgs {
			if seen != nil {
				seen <- m
				continue
			}
			r, err := message.NewReply(m, append([]byte("re:"), m.Body...))
			if err != nil {
				t.Errorf("NewReply: %v", err)
				continue
			}
			if _, err := rp.SendSync(ctx, r); err != nil {
				t.Errorf("sending reply: %v", err)
			}
		}
		return consumer.ConsumeSuccess
	}))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Start(rrCtx(t)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Shutdown(context.Background()) })
}

// TestRequestReplyRoundTrip: our producer's Request is answered by our
// consumer through our broker; concurrent requests each get their own
// reply (matched by correlation id), and RequestAsync delivers too.
func TestRequestReplyRoundTrip(t *testing.T) {
	srv := embeddedtest.Start(t)
	const topic = "RRTopic"
	rrTopic(t, srv, topic)
	// The requester is made first so that cleanup (last in, first out)
	// stops the replier before it: a redelivered request answered after
	// the requester had shut down would fail the reply ("channel not
	// found") and with it the test.
	p := rrProducer(t, srv, "rr-requester-pg")
	startReplier(t, srv, topic, nil)

	ctx, cancel := context.WithTimeout(rrCtx(t), 15*time.Second)
	defer cancel()
	reply, err := p.Request(ctx, message.New(topic, []byte("ping")))
	if err != nil {
		t.Fatal(err)
	}
	if string(reply.Body) != "re:ping" || reply.Topic != message.ReplyTopic("DefaultCluster") {
		t.Fatalf("reply %q on %q", reply.Body, reply.Topic)
	}
	if v, _ := reply.Property(message.PropertyMsgType); v != message.MsgTypeReply {
		t.Fatalf("MSG_TYPE %q", v)
	}
	for _, k := range []string{message.PropertyCorrelationID, message.PropertyReplyArriveTime, message.PropertyPushReplyTime} {
		if v, _ := reply.Property(k); v == "" {
			t.Fatalf("reply lacks %s", k)
		}
	}
	if to, _ := reply.Property(message.PropertyReplyToClient); to != p.Client().ID() {
		t.Fatalf("REPLY_TO_CLIENT %q, want %q", to, p.Client().ID())
	}

	const n = 20
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			body := fmt.Sprintf("req-%d", i)
			r, err := p.Request(ctx, message.New(topic, []byte(body)))
			switch {
			case err != nil:
				errs <- err
			case string(r.Body) != "re:"+body:
				errs <- fmt.Errorf("request %q got reply %q", body, r.Body)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}

	got := make(chan string, 1)
	if err := p.RequestAsync(ctx, message.New(topic, []byte("async")), func(m *message.MessageExt, err error) {
		if err != nil {
			got <- err.Error()
			return
		}
		got <- string(m.Body)
	}); err != nil {
		t.Fatal(err)
	}
	if s := <-got; s != "re:async" {
		t.Fatalf("async reply %q", s)
	}
}

// TestRequestTimeoutAndGoneRequester: with nobody replying, Request fails
// at its deadline with ErrRequestTimeout wrapping context.DeadlineExceeded;
// a reply sent after the requester shut down gets upstream's SYSTEM_ERROR
// ("channel ... not found"); Shutdown ends pending requests at once.
func TestRequestTimeoutAndGoneRequester(t *testing.T) {
	srv := embeddedtest.Start(t)
	const topic = "RRSilent"
	rrTopic(t, srv, topic)
	seen := make(chan *message.MessageExt, 16)
	startReplier(t, srv, topic, seen)
	p, err := producer.New(producer.WithNameServers(srv.NamesrvAddr()), producer.WithGroup("rr-gone-pg"))
	if err != nil {
		t.Fatal(err)
	}

	start := time.Now()
	ctx, cancel := context.WithTimeout(rrCtx(t), 800*time.Millisecond)
	_, err = p.Request(ctx, message.New(topic, []byte("anyone?")))
	cancel()
	if !errors.Is(err, producer.ErrRequestTimeout) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Request = %v, want ErrRequestTimeout and DeadlineExceeded", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("timeout took %v", d)
	}
	var req *message.MessageExt
	select {
	case req = <-seen:
	case <-time.After(15 * time.Second):
		t.Fatal("the request never reached the consumer")
	}
	if ttl, _ := req.Property(message.PropertyMessageTTL); ttl == "" {
		t.Fatal("request lacks TTL")
	}

	// Shutdown fails a pending request promptly rather than at its timeout.
	errc := make(chan error, 1)
	go func() {
		_, err := p.Request(context.Background(), message.New(topic, []byte("pending"))) // send timeout: 3 s
		errc <- err
	}()
	time.Sleep(300 * time.Millisecond)
	sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer scancel()
	if err := p.Shutdown(sctx); err != nil {
		t.Fatal(err)
	}
	if err := <-errc; !errors.Is(err, producer.ErrProducerClosed) {
		t.Fatalf("pending Request after Shutdown = %v", err)
	}

	reply, err := message.NewReply(req, []byte("too late"))
	if err != nil {
		t.Fatal(err)
	}
	rp := rrProducer(t, srv, "rr-late-pg", producer.WithRetries(0))
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		_, err = rp.SendSync(rrCtx(t), reply)
		var be *remoting.ResponseError
		if errors.As(err, &be) && errors.Is(err, producer.ErrSystemError) && strings.Contains(be.Remark, "not found") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("reply to a gone requester = %v, want SYSTEM_ERROR channel not found", err)
		}
	}
}

// TestNewReplyNeedsRequest: NewReply refuses what is not a request.
func TestNewReplyNeedsRequest(t *testing.T) {
	if _, err := message.NewReply(nil, nil); !errors.Is(err, message.ErrNilMessage) {
		t.Fatal(err)
	}
	if _, err := message.NewReply(message.NewMessageExt("T", nil, ""), nil); !errors.Is(err, message.ErrNotRequest) {
		t.Fatal(err)
	}
}
