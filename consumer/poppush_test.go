package consumer

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/rocketgo/rocketgo/message"
	"github.com/rocketgo/rocketgo/remoting/netclient"
)

func popOpts(extra ...Option) []Option {
	return append([]Option{WithClientRebalance(false), WithPopInvisibleTime(10 * time.Second)}, extra...)
}

// More POP-mode push consumers than queues: every one gets work and every
// message is consumed once (all are acknowledged within their invisible
// time).
func TestPopPushMoreConsumersThanQueues(t *testing.T) {
	base := countGoroutines()
	ts := startServer(t)
	s := newSender(t, ts)
	topic := "PopPushMany"
	createTopic(t, ts, s, topic) // 4 queues
	const consumers, total = 6, 300
	var mu sync.Mutex
	per := make([]int, consumers)
	seen := map[string]int{}
	var cs []*PushConsumer
	for i := range consumers {
		c := startPush(t, ts, "cg-pop-many", topic, "*", ConcurrentListener(func(_ context.Context, _ *ConcurrentContext, msgs []*message.MessageExt) ConsumeResult {
			// Slow enough that one consumer cannot take everything.
			time.Sleep(2 * time.Millisecond)
			mu.Lock()
			defer mu.Unlock()
			for _, m := range msgs {
				per[i]++
				seen[string(m.Body)]++
			}
			return ConsumeSuccess
		}), popOpts(WithPopBatchSize(4), WithPopThreshold(8))...)
		cs = append(cs, c)
	}
	s.sendN(t, topic, "m", total, 4)
	waitFor(t, 30*time.Second, "all messages consumed", func() bool {
		mu.Lock()
		defer mu.Unlock()
		for i := range total {
			if seen[fmt.Sprintf("m-%d", i)] == 0 {
				return false
			}
		}
		return true
	})
	mu.Lock()
	for i, n := range per {
		if n == 0 {
			t.Errorf("consumer %d of %d got no message (per consumer: %v)", i, consumers, per)
		}
	}
	for body, n := range seen {
		if n != 1 && body != "init" {
			t.Errorf("%s consumed %d times though acknowledged within its invisible time", body, n)
		}
	}
	t.Logf("per consumer: %v", per)
	mu.Unlock()
	for _, c := range cs {
		shutdown(t, c)
	}
	checkGoroutinesAfter(t, ts, base)
}

// checkGoroutinesAfter stops the server and checks that nothing the test
// started is left running.
func checkGoroutinesAfter(t *testing.T, ts *testServer, base int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	time.Sleep(testSuspend + 100*time.Millisecond) // parked pops expire
	ts.Server.Shutdown(ctx)
	checkGoroutines(t, base+2) // the test's own timers and the race detector may hold a couple
}

// A member that stops mid-batch (its listener hangs and never settles)
// loses nothing: after the invisible time the broker hands the messages
// to another member, with the reconsume count raised.
func TestPopPushHungConsumerMessagesGoToAnother(t *testing.T) {
	ts := startServer(t)
	s := newSender(t, ts)
	topic := "PopPushHung"
	createTopic(t, ts, s, topic)
	release := make(chan struct{})
	defer close(release)
	var mu sync.Mutex
	held := map[string]bool{}
	startPush(t, ts, "cg-pop-hung", topic, "*", ConcurrentListener(func(_ context.Context, _ *ConcurrentContext, msgs []*message.MessageExt) ConsumeResult {
		mu.Lock()
		for _, m := range msgs {
			held[string(m.Body)] = true
		}
		mu.Unlock()
		<-release
		return ConsumeSuccess
	}), popOpts(WithPopInvisibleTime(time.Second), WithConsumeBatchSize(32))...)
	s.sendN(t, topic, "h", 8, 4)
	waitFor(t, 10*time.Second, "the first member holds messages", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(held) > 0
	})
	rec := newRecorder()
	rec.keep = true
	startPush(t, ts, "cg-pop-hung", topic, "*", rec.listener(), popOpts(WithPopInvisibleTime(10*time.Second))...)
	mu.Lock()
	want := len(held)
	mu.Unlock()
	waitFor(t, 20*time.Second, "held messages redelivered to the second member", func() bool {
		mu.Lock()
		defer mu.Unlock()
		rec.mu.Lock()
		defer rec.mu.Unlock()
		for body := range held {
			if rec.seen[body] == 0 {
				return false
			}
		}
		return true
	})
	rec.mu.Lock()
	defer rec.mu.Unlock()
	for _, m := range rec.msgs {
		mu.Lock()
		h := held[string(m.Body)]
		mu.Unlock()
		if h && m.ReconsumeTimes < 1 {
			t.Errorf("%s redelivered with reconsume count %d", m.Body, m.ReconsumeTimes)
		}
	}
	t.Logf("%d messages held by the hung member came back to the other", want)
}

// A failed message is handed out again after its delay level's delay
// (DelayLevel 1: 1 s) with its reconsume count raised, then acknowledged.
func TestPopPushRetryLater(t *testing.T) {
	ts := startServer(t)
	s := newSender(t, ts)
	topic := "PopPushRetry"
	createTopic(t, ts, s, topic)
	var mu sync.Mutex
	var got []*message.MessageExt
	var times []time.Time
	startPush(t, ts, "cg-pop-retry", topic, "*", ConcurrentListener(func(_ context.Context, cc *ConcurrentContext, msgs []*message.MessageExt) ConsumeResult {
		mu.Lock()
		defer mu.Unlock()
		for _, m := range msgs {
			if string(m.Body) != "retry-me" {
				return ConsumeSuccess
			}
			got = append(got, m)
			times = append(times, time.Now())
			if m.ReconsumeTimes == 0 {
				cc.DelayLevel = 1
				return ConsumeRetryLater
			}
		}
		return ConsumeSuccess
	}), popOpts()...)
	s.send(t, topic, 2, "", []byte("retry-me"))
	waitFor(t, 20*time.Second, "second delivery", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(got) >= 2
	})
	mu.Lock()
	if got[1].ReconsumeTimes != 1 || got[1].Topic != topic {
		t.Errorf("second delivery: reconsume %d topic %s", got[1].ReconsumeTimes, got[1].Topic)
	}
	if d := times[1].Sub(times[0]); d < 900*time.Millisecond {
		t.Errorf("redelivered after %v, before the 1 s delay", d)
	}
	mu.Unlock()
	time.Sleep(2 * time.Second) // acknowledged: nothing more may come
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 2 {
		t.Errorf("%d deliveries, want 2", len(got))
	}
}

func TestPopPushOptions(t *testing.T) {
	for _, o := range []Option{WithPopBatchSize(0), WithPopBatchSize(33), WithPopInvisibleTime(0), WithPopThreshold(0)} {
		if _, err := NewPush(WithGroup("g"), WithClientRebalance(false), o); err == nil {
			t.Errorf("bad POP option accepted")
		}
	}
	if _, err := NewPush(WithGroup("g"), WithClientRebalance(false), WithMessageModel(Broadcasting)); err == nil {
		t.Error("POP mode with broadcasting accepted")
	}
}

// A POP-mode push consumer loses nothing when its broker is killed
// (in-process crash: no final sync, store abandoned) and restarted: every
// message sent before and after is consumed; what was in flight at the
// crash comes back after its invisible time.
func TestPopPushSurvivesBrokerKill(t *testing.T) {
	b := startBrokerOnly(t)
	s := &sender{rc: netclient.New(), addr: b.br.Addr()}
	defer s.rc.Close()
	topic := "PopPushKill"
	s.send(t, topic, 0, "", []byte("init"))
	waitRoute(t, b.ns.Addr(), topic)
	rec := newRecorder()
	c, err := NewPush(WithNameServers(b.ns.Addr()), WithGroup("cg-pop-kill"), WithConsumeFrom(ConsumeFromFirstOffset),
		WithRebalanceInterval(500*time.Millisecond), WithHeartbeatInterval(time.Second), WithRouteRefreshInterval(time.Second),
		WithPullBackoff(100*time.Millisecond), WithBrokerSuspend(testSuspend),
		WithClientRebalance(false), WithPopInvisibleTime(2*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	// Slow enough that messages are in flight when the broker dies.
	slow := ConcurrentListener(func(ctx context.Context, cc *ConcurrentContext, msgs []*message.MessageExt) ConsumeResult {
		time.Sleep(5 * time.Millisecond)
		return rec.listener()(ctx, cc, msgs)
	})
	if err := c.Subscribe(topic, "*", slow); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer shutdown(t, c)
	s.sendN(t, topic, "a", 100, 4)
	waitFor(t, 20*time.Second, "some consumed before the kill", func() bool { return rec.distinct() >= 30 })
	b.br.Kill()
	b.start(t, b.port)
	s.addr = b.br.Addr()
	s.sendN(t, topic, "b", 100, 4)
	waitFor(t, 30*time.Second, "everything consumed after the restart", func() bool {
		_, seen := rec.snapshot()
		for i := range 100 {
			if seen[fmt.Sprintf("a-%d", i)] == 0 || seen[fmt.Sprintf("b-%d", i)] == 0 {
				return false
			}
		}
		return true
	})
	t.Logf("%d distinct, %d redelivered (in flight at the kill)", rec.distinct(), rec.dups())
}
