package consumer

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/rocketgo/rocketgo/message"
	"github.com/rocketgo/rocketgo/remoting"
	"github.com/rocketgo/rocketgo/remoting/netclient"
)

func newSimpleT(t testing.TB, ns, group, topic string, opts ...Option) *SimpleConsumer {
	t.Helper()
	base := []Option{WithNameServers(ns), WithGroup(group), WithConsumeFrom(ConsumeFromFirstOffset),
		WithAwaitDuration(300 * time.Millisecond), WithRouteRefreshInterval(time.Second)}
	c, err := NewSimple(topic, "*", append(base, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// receiveUntil receives (acking nothing) until cond holds for what came.
func receiveUntil(t testing.TB, c *SimpleConsumer, within time.Duration, invisible time.Duration, what string, cond func([]*message.MessageExt) bool) []*message.MessageExt {
	t.Helper()
	var got []*message.MessageExt
	deadline := time.Now().Add(within)
	for !cond(got) {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v (have %d messages)", what, within, len(got))
		}
		msgs, err := c.Receive(context.Background(), 32, invisible)
		if err != nil {
			t.Logf("receive: %v", err)
			time.Sleep(50 * time.Millisecond)
			continue
		}
		got = append(got, msgs...)
	}
	return got
}

func TestSimpleMoreConsumersThanQueues(t *testing.T) {
	b := startBrokerOnly(t)
	s := &sender{rc: netclient.New(), addr: b.br.Addr()}
	defer s.rc.Close()
	topic := "SimpleMany"
	s.send(t, topic, 0, "", []byte("init")) // 4 queues
	const consumers, total = 8, 200
	var mu sync.Mutex
	perConsumer := make([]int, consumers)
	seen := map[string]int{}
	var wg sync.WaitGroup
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	for i := range consumers {
		c := newSimpleT(t, b.ns.Addr(), "cg-simple-many", topic)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				msgs, err := c.Receive(ctx, 1, 10*time.Second)
				if err != nil {
					continue
				}
				for _, m := range msgs {
					if err := c.Ack(ctx, m); err != nil && ctx.Err() == nil {
						t.Errorf("ack: %v", err)
					}
					mu.Lock()
					perConsumer[i]++
					seen[string(m.Body)]++
					mu.Unlock()
				}
			}
		}()
	}
	for i := range total {
		s.send(t, topic, i%4, "", []byte(fmt.Sprintf("m-%d", i)))
	}
	waitFor(t, 30*time.Second, "all messages received", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(seen) >= total+1
	})
	cancel()
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	for i, n := range perConsumer {
		if n == 0 {
			t.Errorf("consumer %d of %d (4 queues) received nothing: %v", i, consumers, perConsumer)
		}
	}
	for body, n := range seen {
		if n != 1 {
			t.Errorf("%s delivered %d times though acked within its invisible time", body, n)
		}
	}
	t.Logf("per consumer: %v", perConsumer)
}

func TestSimpleRedeliveryAfterInvisibleTime(t *testing.T) {
	b := startBrokerOnly(t)
	s := &sender{rc: netclient.New(), addr: b.br.Addr()}
	defer s.rc.Close()
	topic := "SimpleRedeliver"
	s.send(t, topic, 1, "TagA", []byte("payload"), "k1", "v1")
	c1 := newSimpleT(t, b.ns.Addr(), "cg-simple-re", topic)
	c2 := newSimpleT(t, b.ns.Addr(), "cg-simple-re", topic)

	popped := time.Now() // no later than the broker's pop time
	first := receiveUntil(t, c1, 10*time.Second, time.Second, "first delivery", func(m []*message.MessageExt) bool { return len(m) > 0 })
	if len(first) != 1 || string(first[0].Body) != "payload" || first[0].ReconsumeTimes != 0 {
		t.Fatalf("first delivery: %+v", first)
	}
	// c1 "dies" without acking; c2 gets it once the invisible time ran out.
	if msgs, err := c2.Receive(context.Background(), 32, time.Second); err != nil || len(msgs) != 0 {
		t.Fatalf("invisible message handed out again at once: %v %v", msgs, err)
	}
	again := receiveUntil(t, c2, 10*time.Second, 5*time.Second, "redelivery", func(m []*message.MessageExt) bool { return len(m) > 0 })
	if time.Since(popped) < time.Second {
		t.Errorf("redelivered after %v, before the invisible time", time.Since(popped))
	}
	m := again[0]
	if len(again) != 1 || string(m.Body) != "payload" || m.ReconsumeTimes != 1 || m.Topic != topic || m.Tags() != "TagA" {
		t.Fatalf("redelivery: n=%d topic=%s reconsume=%d tags=%q body=%q", len(again), m.Topic, m.ReconsumeTimes, m.Tags(), m.Body)
	}
	if v, _ := m.Property("k1"); v != "v1" {
		t.Errorf("property k1 = %q after redelivery", v)
	}
	// The stale handle of the first delivery no longer acknowledges.
	if err := c1.Ack(context.Background(), first[0]); !errors.Is(err, ErrReceiptHandle) {
		t.Errorf("ack with the expired handle: %v, want ErrReceiptHandle", err)
	}
	// Changing the invisible time keeps it away longer, then ack ends it.
	if err := c2.ChangeInvisibleDuration(context.Background(), m, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	if err := c2.Ack(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	if err := c2.Ack(context.Background(), m); err != nil {
		t.Errorf("second ack: %v", err)
	}
	time.Sleep(1500 * time.Millisecond) // past the first invisible time: nothing may come back
	if msgs, err := c1.Receive(context.Background(), 32, time.Second); err != nil || len(msgs) != 0 {
		t.Fatalf("acked message came back: %v %v", msgs, err)
	}
}

func TestSimpleAckDurableAcrossRestart(t *testing.T) {
	t.Run("shutdown", func(t *testing.T) { testSimpleAckDurable(t, false) })
	// Kill: no final sync of the journal, store abandoned (crash recovery).
	t.Run("kill", func(t *testing.T) { testSimpleAckDurable(t, true) })
}

func testSimpleAckDurable(t *testing.T, kill bool) {
	b := startBrokerOnly(t)
	s := &sender{rc: netclient.New(), addr: b.br.Addr()}
	defer s.rc.Close()
	topic := "SimpleRestart"
	for i := range 10 {
		s.send(t, topic, i%4, "", []byte(fmt.Sprintf("r-%d", i)))
	}
	c := newSimpleT(t, b.ns.Addr(), "cg-simple-restart", topic)
	got := receiveUntil(t, c, 10*time.Second, 3*time.Second, "all ten", func(m []*message.MessageExt) bool { return len(m) >= 10 })
	acked := map[string]bool{}
	for i, m := range got {
		if i%2 == 0 {
			if err := c.Ack(context.Background(), m); err != nil {
				t.Fatal(err)
			}
			acked[string(m.Body)] = true
		}
	}
	if kill {
		b.br.Kill()
		b.start(t, b.port)
	} else {
		b.restart(t, 100*time.Millisecond)
	}
	back := map[string]int{}
	deadline := time.Now().Add(15 * time.Second)
	for len(back) < 5 && time.Now().Before(deadline) {
		msgs, err := c.Receive(context.Background(), 32, 30*time.Second)
		if err != nil {
			time.Sleep(100 * time.Millisecond)
			continue
		}
		for _, m := range msgs {
			back[string(m.Body)]++
			if m.ReconsumeTimes != 1 {
				t.Errorf("%s came back with reconsume count %d, want 1", m.Body, m.ReconsumeTimes)
			}
		}
	}
	for body := range back {
		if acked[body] {
			t.Errorf("acked %s came back after the restart", body)
		}
	}
	if len(back) != 5 {
		t.Fatalf("unacked came back: %v, want the 5 not acked", back)
	}
}

func TestSimpleDLQAfterMaxReconsumeTimes(t *testing.T) {
	b := startBrokerOnly(t)
	s := &sender{rc: netclient.New(), addr: b.br.Addr()}
	defer s.rc.Close()
	group, topic := "cg-simple-dlq", "SimpleDLQ"
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	resp, err := s.rc.InvokeSync(ctx, s.addr, remoting.NewRequest(remoting.UpdateAndCreateSubscriptionGroup, nil,
		[]byte(`{"groupName":"`+group+`","consumeEnable":true,"retryQueueNums":1,"retryMaxTimes":1}`)))
	if err != nil || resp.Code != remoting.Success {
		t.Fatalf("create group: %v %v", resp, err)
	}
	s.send(t, topic, 0, "", []byte("poison"))
	c := newSimpleT(t, b.ns.Addr(), group, topic)
	// Deliveries with reconsume count 0 and 1, never acked; then the DLQ.
	for want := int32(0); want <= 1; want++ {
		got := receiveUntil(t, c, 15*time.Second, 500*time.Millisecond, fmt.Sprintf("delivery %d", want), func(m []*message.MessageExt) bool { return len(m) > 0 })
		if got[0].ReconsumeTimes != want || string(got[0].Body) != "poison" {
			t.Fatalf("delivery %d: reconsume %d body %q", want, got[0].ReconsumeTimes, got[0].Body)
		}
	}
	dlq := newSimpleT(t, b.ns.Addr(), "cg-dlq-reader", "%DLQ%"+group)
	waitFor(t, 15*time.Second, "message in the DLQ", func() bool {
		msgs, err := dlq.Receive(context.Background(), 32, time.Minute)
		if err != nil || len(msgs) == 0 {
			return false
		}
		m := msgs[0]
		if string(m.Body) != "poison" || m.ReconsumeTimes != 2 {
			t.Errorf("DLQ message: body %q reconsume %d", m.Body, m.ReconsumeTimes)
		}
		if v, _ := m.Property(message.PropertyDLQOriginTopic); v != topic {
			t.Errorf("DLQ_ORIGIN_TOPIC = %q", v)
		}
		return true
	})
	if msgs, err := c.Receive(context.Background(), 32, time.Second); err != nil || len(msgs) != 0 {
		t.Errorf("message handed out again after it went to the DLQ: %d %v", len(msgs), err)
	}
}

// ConsumeFromLastOffset (the default, POP init mode MAX): what was stored
// before the group's first Receive is skipped, what arrives after it —
// even between two Receives — is not.
func TestSimpleStartsAtQueueEndByDefault(t *testing.T) {
	b := startBrokerOnly(t)
	s := &sender{rc: netclient.New(), addr: b.br.Addr()}
	defer s.rc.Close()
	topic := "SimpleFromLast"
	for q := range 4 {
		s.send(t, topic, q, "", []byte("old"))
	}
	c, err := NewSimple(topic, "*", WithNameServers(b.ns.Addr()), WithGroup("cg-simple-last"), WithAwaitDuration(0))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	waitFor(t, 10*time.Second, "first receive", func() bool {
		msgs, err := c.Receive(context.Background(), 32, time.Minute)
		if len(msgs) > 0 {
			t.Fatalf("received %q stored before the group started", msgs[0].Body)
		}
		return err == nil
	})
	for q := range 4 {
		s.send(t, topic, q, "", []byte(fmt.Sprintf("new-%d", q)))
	}
	got := receiveUntil(t, c, 10*time.Second, time.Minute, "new messages", func(m []*message.MessageExt) bool { return len(m) >= 4 })
	for _, m := range got {
		if string(m.Body) == "old" {
			t.Errorf("old message delivered")
		}
	}
}

// TestSimpleRefusesTrace: WithTrace on a simple consumer is an error, not
// a silently untraced consumer.
func TestSimpleRefusesTrace(t *testing.T) {
	c, err := NewSimple("T", "*", WithGroup("g"), WithNameServers("127.0.0.1:1"), WithTrace(TraceConfig{}))
	if !errors.Is(err, ErrInvalidOption) {
		if c != nil {
			c.Close()
		}
		t.Fatalf("NewSimple with WithTrace: %v, want ErrInvalidOption", err)
	}
}
