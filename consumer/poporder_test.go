package consumer

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/rocketgo/rocketgo/message"
	"github.com/rocketgo/rocketgo/remoting"
	"github.com/rocketgo/rocketgo/remoting/netclient"
)

// createGroup creates a subscription group with the given JSON fields.
func createGroup(t testing.TB, s *sender, group, fields string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	resp, err := s.rc.InvokeSync(ctx, s.addr, remoting.NewRequest(remoting.UpdateAndCreateSubscriptionGroup, nil,
		[]byte(`{"groupName":"`+group+`","consumeEnable":true,"retryQueueNums":1,`+fields+`}`)))
	if err != nil || resp.Code != remoting.Success {
		t.Fatalf("create group: %v %v", resp, err)
	}
}

func bodies(msgs []*message.MessageExt) []string {
	out := make([]string, len(msgs))
	for i, m := range msgs {
		out[i] = fmt.Sprintf("%s/%d", m.Body, m.ReconsumeTimes)
	}
	return out
}

// An orderly group (consumeMessageOrderly): a queue hands out nothing
// more while a message it handed out is unacknowledged; once that one's
// invisible time passes it comes again first, reconsume count 1, followed
// by the rest — never the ones acknowledged meanwhile.
func TestSimpleOrderGroupBlocksQueueUntilSettled(t *testing.T) {
	b := startBrokerOnly(t)
	s := &sender{rc: netclient.New(), addr: b.br.Addr()}
	defer s.rc.Close()
	group, topic := "cg-simple-fifo", "SimpleFifo"
	createGroup(t, s, group, `"retryMaxTimes":16,"consumeMessageOrderly":true`)
	for i := range 6 {
		s.send(t, topic, 0, "", []byte(fmt.Sprintf("o-%d", i)))
	}
	c1 := newSimpleT(t, b.ns.Addr(), group, topic)
	c2 := newSimpleT(t, b.ns.Addr(), group, topic)
	popped := time.Now() // no later than the broker's pop time
	first := receiveUntil(t, c1, 10*time.Second, 2*time.Second, "first batch", func(m []*message.MessageExt) bool { return len(m) > 0 })
	if len(first) < 3 {
		t.Fatalf("first batch: %v", bodies(first))
	}
	for i, m := range first {
		if string(m.Body) != fmt.Sprintf("o-%d", i) {
			t.Fatalf("first batch out of order: %v", bodies(first))
		}
	}
	// Ack all but the second: the queue stays blocked.
	for i, m := range first {
		if i != 1 {
			if err := c1.Ack(context.Background(), m); err != nil {
				t.Fatal(err)
			}
		}
	}
	if msgs, err := c2.Receive(context.Background(), 32, time.Minute); err != nil || len(msgs) != 0 {
		t.Fatalf("blocked queue handed out %v (%v)", bodies(msgs), err)
	}
	again := receiveUntil(t, c2, 10*time.Second, time.Minute, "redelivery", func(m []*message.MessageExt) bool { return len(m) > 0 })
	if time.Since(popped) < 2*time.Second {
		t.Errorf("redelivered after %v, before the invisible time", time.Since(popped))
	}
	want := []string{"o-1/1"}
	for i := len(first); i < 6; i++ {
		want = append(want, fmt.Sprintf("o-%d/0", i))
	}
	if fmt.Sprint(bodies(again)) != fmt.Sprint(want) {
		t.Fatalf("after expiry got %v, want %v", bodies(again), want)
	}
	if err := c2.AckBatch(context.Background(), again); err != nil {
		t.Fatal(err)
	}
	s.send(t, topic, 0, "", []byte("o-6"))
	next := receiveUntil(t, c1, 10*time.Second, time.Minute, "after the acks", func(m []*message.MessageExt) bool { return len(m) > 0 })
	if fmt.Sprint(bodies(next)) != "[o-6/0]" {
		t.Fatalf("after all acked got %v, want [o-6/0]", bodies(next))
	}
}

// An order message never acknowledged is handed out with counts 0..max,
// then goes to the DLQ and the queue moves on.
func TestSimpleOrderDLQAfterMaxAttempts(t *testing.T) {
	b := startBrokerOnly(t)
	s := &sender{rc: netclient.New(), addr: b.br.Addr()}
	defer s.rc.Close()
	group, topic := "cg-simple-fifo-dlq", "SimpleFifoDLQ"
	createGroup(t, s, group, `"retryMaxTimes":1,"consumeMessageOrderly":true`)
	s.send(t, topic, 0, "", []byte("poison"))
	s.send(t, topic, 0, "", []byte("next"))
	c := newSimpleT(t, b.ns.Addr(), group, topic)
	for want := int32(0); want <= 1; want++ {
		got := receiveUntil(t, c, 10*time.Second, 300*time.Millisecond, fmt.Sprint("delivery ", want), func(m []*message.MessageExt) bool { return len(m) > 0 })
		if string(got[0].Body) != "poison" || got[0].ReconsumeTimes != want {
			t.Fatalf("delivery %d: %v", want, bodies(got))
		}
		for _, m := range got[1:] {
			if string(m.Body) == "next" {
				// Acked: only the poison message stays open.
				if err := c.Ack(context.Background(), m); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	dlq := newSimpleT(t, b.ns.Addr(), "cg-fifo-dlq-reader", "%DLQ%"+group)
	got := receiveUntil(t, dlq, 10*time.Second, time.Minute, "DLQ", func(m []*message.MessageExt) bool { return len(m) > 0 })
	if string(got[0].Body) != "poison" || got[0].ReconsumeTimes != 2 {
		t.Errorf("DLQ: %v", bodies(got))
	}
	if msgs, err := c.Receive(context.Background(), 32, time.Minute); err != nil || len(msgs) != 0 {
		t.Errorf("after the DLQ the queue handed out %v (%v)", bodies(msgs), err)
	}
}

// The order state survives a crash: the restarted broker keeps the queue
// blocked until the unacknowledged message's invisible time passes, then
// hands it out again with count 1, never the acknowledged ones.
func TestSimpleOrderStateSurvivesKill(t *testing.T) {
	b := startBrokerOnly(t)
	s := &sender{rc: netclient.New(), addr: b.br.Addr()}
	defer s.rc.Close()
	group, topic := "cg-simple-fifo-kill", "SimpleFifoKill"
	createGroup(t, s, group, `"retryMaxTimes":16,"consumeMessageOrderly":true`)
	for i := range 4 {
		s.send(t, topic, 0, "", []byte(fmt.Sprintf("k-%d", i)))
	}
	c := newSimpleT(t, b.ns.Addr(), group, topic)
	popped := time.Now()
	got := receiveUntil(t, c, 10*time.Second, 3*time.Second, "batch", func(m []*message.MessageExt) bool { return len(m) >= 4 })
	if err := c.AckBatch(context.Background(), []*message.MessageExt{got[0], got[2], got[3]}); err != nil {
		t.Fatal(err)
	}
	b.br.Kill()
	b.start(t, b.port)
	var back []*message.MessageExt
	waitFor(t, 20*time.Second, "redelivery after restart", func() bool {
		msgs, err := c.Receive(context.Background(), 32, time.Minute)
		if err == nil && len(msgs) > 0 && time.Since(popped) < 3*time.Second {
			t.Fatalf("blocked queue handed out %v %v after the restart", bodies(msgs), time.Since(popped))
		}
		back = append(back, msgs...)
		return len(back) > 0
	})
	if fmt.Sprint(bodies(back)) != "[k-1/1]" {
		t.Fatalf("after restart got %v, want [k-1/1]", bodies(back))
	}
}

// Orderly listeners in POP mode: several members, each queue's messages
// consumed successfully exactly in queue order, across suspensions.
func TestPopPushOrderly(t *testing.T) {
	ts := startServer(t)
	s := newSender(t, ts)
	topic := "PopPushOrderly"
	createTopic(t, ts, s, topic)
	const perQueue = 30
	var mu sync.Mutex
	done := map[int][]int{}
	suspended := map[string]bool{}
	l := OrderlyListener(func(_ context.Context, oc *OrderlyContext, msgs []*message.MessageExt) OrderlyResult {
		mu.Lock()
		defer mu.Unlock()
		for _, m := range msgs {
			var q, i int
			if _, err := fmt.Sscanf(string(m.Body), "q%d-%d", &q, &i); err != nil {
				continue // the "init" message
			}
			if i%7 == 3 && !suspended[string(m.Body)] {
				suspended[string(m.Body)] = true
				oc.Suspend = 200 * time.Millisecond
				return OrderlySuspend
			}
		}
		for _, m := range msgs {
			var q, i int
			if _, err := fmt.Sscanf(string(m.Body), "q%d-%d", &q, &i); err == nil {
				done[q] = append(done[q], i)
			}
		}
		return OrderlySuccess
	})
	for range 3 {
		startPush(t, ts, "cg-pop-orderly", topic, "*", l, popOpts(WithPopInvisibleTime(5*time.Second), WithPopBatchSize(8))...)
	}
	for i := range perQueue {
		for q := range 4 {
			s.send(t, topic, q, "", []byte(fmt.Sprintf("q%d-%d", q, i)))
		}
	}
	waitFor(t, 30*time.Second, "every queue consumed", func() bool {
		mu.Lock()
		defer mu.Unlock()
		for q := range 4 {
			if len(done[q]) < perQueue {
				return false
			}
		}
		return true
	})
	mu.Lock()
	defer mu.Unlock()
	for q := range 4 {
		for i, v := range done[q] {
			if v != i {
				t.Fatalf("queue %d consumed out of order: %v", q, done[q])
			}
		}
	}
}
