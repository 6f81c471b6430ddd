package consumer

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rocketgo/rocketgo/client"
	iclient "github.com/rocketgo/rocketgo/internal/client"

	"github.com/rocketgo/rocketgo/message"
	"github.com/rocketgo/rocketgo/remoting"
)

func TestPushConcurrentConsumesEverythingWithTagFilter(t *testing.T) {
	ts := startServer(t)
	s := newSender(t, ts)
	topic := "PushTags"
	createTopic(t, ts, s, topic)
	for i := range 40 {
		tag := "TagA"
		if i%2 == 1 {
			tag = "TagB"
		}
		s.send(t, topic, i%4, tag, []byte(fmt.Sprintf("%s-%d", tag, i)))
	}
	rec := newRecorder()
	rec.keep = true
	c := startPush(t, ts, "cg-tags", topic, "TagA", rec.listener())
	waitFor(t, 20*time.Second, "20 TagA messages", func() bool { return rec.distinct() >= 20 })
	time.Sleep(300 * time.Millisecond)
	rec.mu.Lock()
	for _, m := range rec.msgs {
		if m.Tags() != "TagA" || m.Topic != topic {
			t.Errorf("unexpected message %s tag %q topic %q", m.Body, m.Tags(), m.Topic)
		}
	}
	rec.mu.Unlock()
	if rec.distinct() != 20 || rec.dups() != 0 {
		t.Fatalf("distinct %d dups %d", rec.distinct(), rec.dups())
	}
	// Offsets: after shutdown the broker has the committed offsets at the
	// queue ends, so a new member of the group gets nothing again.
	shutdown(t, c)
	rec2 := newRecorder()
	startPush(t, ts, "cg-tags", topic, "*", rec2.listener())
	s.send(t, topic, 0, "TagA", []byte("after"))
	waitFor(t, 20*time.Second, "the new message", func() bool { return rec2.distinct() >= 1 })
	time.Sleep(500 * time.Millisecond)
	if total, seen := rec2.snapshot(); total != 1 || seen["after"] != 1 {
		t.Fatalf("restarted group re-consumed: %v", seen)
	}
}

func TestPushRetryLaterThenDLQ(t *testing.T) {
	ts := startServer(t)
	s := newSender(t, ts)
	topic := "PushRetry"
	createTopic(t, ts, s, topic)
	var mu sync.Mutex
	var times []int32
	var topics []string
	l := ConcurrentListener(func(_ context.Context, cc *ConcurrentContext, msgs []*message.MessageExt) ConsumeResult {
		mu.Lock()
		defer mu.Unlock()
		for _, m := range msgs {
			if string(m.Body) == "retry-me" {
				times = append(times, m.ReconsumeTimes)
				topics = append(topics, m.Topic)
				cc.DelayLevel = 1 // 1 s, to keep the test short
				return ConsumeRetryLater
			}
		}
		return ConsumeSuccess
	})
	startPush(t, ts, "cg-retry", topic, "*", l, WithMaxReconsumeTimes(2))
	s.send(t, topic, 1, "", []byte("retry-me"))
	waitFor(t, 30*time.Second, "3 deliveries", func() bool { mu.Lock(); defer mu.Unlock(); return len(times) >= 3 })
	time.Sleep(2500 * time.Millisecond)
	mu.Lock()
	defer mu.Unlock()
	if len(times) != 3 {
		t.Fatalf("deliveries %v, want 3 (1 + 2 retries)", times)
	}
	for i, n := range times {
		if n != int32(i) || topics[i] != topic {
			t.Fatalf("delivery %d: reconsume %d topic %s (all %v %v)", i, n, topics[i], times, topics)
		}
	}
	// The message is now in the DLQ.
	dlq := newRecorder()
	waitRoute(t, ts.NamesrvAddr(), DLQPrefix+"cg-retry")
	startPush(t, ts, "cg-dlq-reader", DLQPrefix+"cg-retry", "*", dlq.listener())
	waitFor(t, 20*time.Second, "DLQ message", func() bool { return dlq.distinct() == 1 })
	if _, seen := dlq.snapshot(); seen["retry-me"] != 1 {
		t.Fatalf("DLQ holds %v", seen)
	}
}

func TestPushPanicIsRetried(t *testing.T) {
	ts := startServer(t)
	s := newSender(t, ts)
	topic := "PushPanic"
	createTopic(t, ts, s, topic)
	var calls atomic.Int32
	l := ConcurrentListener(func(_ context.Context, cc *ConcurrentContext, msgs []*message.MessageExt) ConsumeResult {
		if string(msgs[0].Body) != "boom" {
			return ConsumeSuccess
		}
		cc.DelayLevel = 1
		if calls.Add(1) == 1 {
			panic("listener bug")
		}
		return ConsumeSuccess
	})
	startPush(t, ts, "cg-panic", topic, "*", l)
	s.send(t, topic, 0, "", []byte("boom"))
	waitFor(t, 20*time.Second, "redelivery after panic", func() bool { return calls.Load() >= 2 })
}

func TestPushOrderlyKeepsQueueOrder(t *testing.T) {
	ts := startServer(t)
	s := newSender(t, ts)
	topic := "PushOrderly"
	createTopic(t, ts, s, topic)
	const perQueue = 30
	for i := range perQueue {
		for q := range 4 {
			s.send(t, topic, q, "", []byte(fmt.Sprintf("%d-%03d", q, i)))
		}
	}
	var mu sync.Mutex
	last := map[int]int{0: -1, 1: -1, 2: -1, 3: -1}
	var bad []string
	got := 0
	failedOnce := false
	var inQueue [4]atomic.Int32
	l := OrderlyListener(func(_ context.Context, oc *OrderlyContext, msgs []*message.MessageExt) OrderlyResult {
		if inQueue[oc.Queue.QueueID].Add(1) != 1 {
			bad = append(bad, "two callbacks at once on one queue")
		}
		defer inQueue[oc.Queue.QueueID].Add(-1)
		mu.Lock()
		defer mu.Unlock()
		for _, m := range msgs {
			if string(m.Body) == "init" {
				continue
			}
			var q, i int
			fmt.Sscanf(string(m.Body), "%d-%d", &q, &i)
			if q == 2 && i == 10 && !failedOnce {
				failedOnce = true
				oc.Suspend = 50 * time.Millisecond
				return OrderlySuspend
			}
			if i != last[q]+1 {
				bad = append(bad, fmt.Sprintf("queue %d: %d after %d", q, i, last[q]))
			}
			last[q] = i
			got++
		}
		return OrderlySuccess
	})
	startPush(t, ts, "cg-orderly", topic, "*", l)
	waitFor(t, 30*time.Second, "all orderly messages", func() bool { mu.Lock(); defer mu.Unlock(); return got >= 4*perQueue })
	mu.Lock()
	defer mu.Unlock()
	if len(bad) > 0 {
		t.Fatalf("order violations: %v", bad)
	}
	if !failedOnce {
		t.Fatal("suspend path not exercised")
	}
}

func TestPushBroadcasting(t *testing.T) {
	ts := startServer(t)
	s := newSender(t, ts)
	topic := "PushBroadcast"
	createTopic(t, ts, s, topic)
	dir := t.TempDir()
	r1, r2 := newRecorder(), newRecorder()
	c1 := startPush(t, ts, "cg-bc", topic, "*", r1.listener(), WithMessageModel(Broadcasting), WithOffsetDir(dir), WithInstanceName("m1"))
	startPush(t, ts, "cg-bc", topic, "*", r2.listener(), WithMessageModel(Broadcasting), WithOffsetDir(dir), WithInstanceName("m2"))
	s.sendN(t, topic, "bc", 40, 4)
	waitFor(t, 20*time.Second, "both members get everything", func() bool {
		return r1.distinct() >= 41 && r2.distinct() >= 41
	})
	// Member m1's offsets live in its local file: back with the same
	// instance name, it continues where it stopped.
	shutdown(t, c1)
	r3 := newRecorder()
	startPush(t, ts, "cg-bc", topic, "*", r3.listener(), WithMessageModel(Broadcasting), WithOffsetDir(dir), WithInstanceName("m1"))
	s.send(t, topic, 1, "", []byte("later"))
	waitFor(t, 20*time.Second, "the later message", func() bool { return r3.distinct() >= 1 && r2.distinct() >= 42 })
	time.Sleep(300 * time.Millisecond)
	if total, seen := r3.snapshot(); total != 1 || seen["later"] != 1 {
		t.Fatalf("m1 re-consumed after restart: %v", seen)
	}
	if r1.dups() != 0 || r2.dups() != 0 {
		t.Fatalf("duplicates: %d %d", r1.dups(), r2.dups())
	}
}

func TestPushSharedClient(t *testing.T) {
	ts := startServer(t)
	s := newSender(t, ts)
	topic := "PushShared"
	createTopic(t, ts, s, topic)
	cl, err := client.New(client.WithNameServers(ts.NamesrvAddr()), client.WithInstanceName("shared"))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	a, b := newRecorder(), newRecorder()
	ca := startPush(t, ts, "cg-shared-a", topic, "*", a.listener(), WithClient(cl))
	cb := startPush(t, ts, "cg-shared-b", topic, "*", b.listener(), WithClient(cl))
	s.sendN(t, topic, "sh", 20, 4)
	waitFor(t, 20*time.Second, "both groups", func() bool { return a.distinct() >= 21 && b.distinct() >= 21 })
	shutdown(t, ca)
	if iclient.Of(cl).Closed() {
		t.Fatal("shared client closed by one of its consumers")
	}
	shutdown(t, cb)
	if iclient.Of(cl).Closed() {
		t.Fatal("shared client closed by its consumers: only its owner closes it")
	}
}

func TestPushShutdownGivesUpOnStuckListener(t *testing.T) {
	ts := startServer(t)
	s := newSender(t, ts)
	topic := "PushStuck"
	createTopic(t, ts, s, topic)
	entered := make(chan struct{}, 1)
	unblock := make(chan struct{})
	var sawCancel atomic.Bool
	l := ConcurrentListener(func(ctx context.Context, _ *ConcurrentContext, msgs []*message.MessageExt) ConsumeResult {
		if string(msgs[0].Body) == "stuck" {
			entered <- struct{}{}
			<-ctx.Done()
			sawCancel.Store(true)
			<-unblock // and then ignores it for a while
		}
		return ConsumeSuccess
	})
	c, err := NewPush(fastOpts(ts, "cg-stuck")...)
	if err != nil {
		t.Fatal(err)
	}
	c.Subscribe(topic, "*", l)
	if err := c.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	s.send(t, topic, 0, "", []byte("stuck"))
	<-entered
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	err = c.Shutdown(ctx)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Shutdown with a stuck listener: %v", err)
	}
	if !sawCancel.Load() {
		t.Fatal("listener context not cancelled at the deadline")
	}
	close(unblock)
}

func TestPushConsumeFromTimestamp(t *testing.T) {
	ts := startServer(t)
	s := newSender(t, ts)
	topic := "PushTimestamp"
	createTopic(t, ts, s, topic)
	s.sendN(t, topic, "old", 20, 4)
	time.Sleep(1100 * time.Millisecond)
	cut := time.Now()
	time.Sleep(50 * time.Millisecond)
	s.sendN(t, topic, "new", 20, 4)
	rec := newRecorder()
	startPush(t, ts, "cg-ts", topic, "*", rec.listener(), WithConsumeFrom(ConsumeFromTimestamp), WithConsumeTimestamp(cut))
	waitFor(t, 20*time.Second, "new messages", func() bool { return rec.distinct() >= 20 })
	time.Sleep(300 * time.Millisecond)
	rec.mu.Lock()
	defer rec.mu.Unlock()
	for b := range rec.seen {
		if b[:3] != "new" {
			t.Fatalf("got %q from before the timestamp", b)
		}
	}
}

func TestPushRebalanceJoinLeaveNoLoss(t *testing.T) {
	t.Run("default", func(t *testing.T) { testJoinLeave(t, 0) })
	t.Run("handover", func(t *testing.T) { testJoinLeave(t, 300*time.Millisecond) })
}

func testJoinLeave(t *testing.T, handover time.Duration) {
	ts := startServer(t)
	s := newSender(t, ts)
	topic := "PushRebalance"
	createTopic(t, ts, s, topic)
	rec := newRecorder()
	slow := ConcurrentListener(func(_ context.Context, _ *ConcurrentContext, msgs []*message.MessageExt) ConsumeResult {
		time.Sleep(time.Millisecond)
		rec.add(msgs)
		return ConsumeSuccess
	})
	c1 := startPush(t, ts, "cg-rb", topic, "*", slow, WithInstanceName("rb1"), WithHandoverDelay(handover))
	const n = 600
	// Phase 1: members join while messages flow.
	done := make(chan struct{})
	go func() { defer close(done); s.sendN(t, topic, "join", n, 4) }()
	time.Sleep(100 * time.Millisecond)
	c2 := startPush(t, ts, "cg-rb", topic, "*", slow, WithInstanceName("rb2"), WithHandoverDelay(handover))
	time.Sleep(200 * time.Millisecond)
	startPush(t, ts, "cg-rb", topic, "*", slow, WithInstanceName("rb3"), WithHandoverDelay(handover))
	<-done
	waitFor(t, 30*time.Second, "phase 1", func() bool { return rec.distinct() >= n+1 })
	time.Sleep(500 * time.Millisecond)
	joinDups := rec.dups()
	// Phase 2: members leave cleanly while messages flow.
	done = make(chan struct{})
	go func() { defer close(done); s.sendN(t, topic, "leave", n, 4) }()
	time.Sleep(100 * time.Millisecond)
	shutdown(t, c2)
	time.Sleep(200 * time.Millisecond)
	shutdown(t, c1)
	<-done
	waitFor(t, 30*time.Second, "phase 2", func() bool { return rec.distinct() >= 2*n+1 })
	time.Sleep(time.Second)
	leaveDups := rec.dups() - joinDups
	t.Logf("received %d distinct of %d; duplicates: %d while joining, %d while leaving", rec.distinct(), 2*n+1, joinDups, leaveDups)
	if leaveDups != 0 {
		t.Fatalf("%d duplicates after clean leaves", leaveDups)
	}
}

func TestPushFlowControlBoundsCache(t *testing.T) {
	ts := startServer(t)
	s := newSender(t, ts)
	topic := "PushFlow"
	createTopic(t, ts, s, topic)
	s.sendN(t, topic, "flow", 800, 4)
	const limit = 50
	release := make(chan struct{})
	var got atomic.Int32
	l := ConcurrentListener(func(ctx context.Context, _ *ConcurrentContext, msgs []*message.MessageExt) ConsumeResult {
		select {
		case <-release:
		case <-ctx.Done():
			return ConsumeRetryLater
		}
		got.Add(int32(len(msgs)))
		return ConsumeSuccess
	})
	const sizeLimit = 400 // bytes; bodies are ~8 bytes
	c := startPush(t, ts, "cg-flow", topic, "*", l, WithPullThresholdForQueue(limit), WithConsumeGoroutines(2, 2),
		WithPullThresholdSizeForQueue(sizeLimit), WithPullBatchSize(8))
	var maxCount int
	check := func() {
		c.tableMu.RLock()
		defer c.tableMu.RUnlock()
		for _, run := range c.table {
			n, b, _ := run.pq.stats()
			maxCount = max(maxCount, n)
			// A pull is sent only below the byte limit, so one pull (8
			// messages of at most 9 bytes) may overshoot it.
			if n > limit || b > sizeLimit+8*9 {
				t.Errorf("queue %v caches %d messages, %d bytes > limits %d / %d", run.pq.q, n, b, limit, sizeLimit)
			}
		}
	}
	for range 30 {
		check()
		time.Sleep(20 * time.Millisecond)
	}
	if maxCount < 30 {
		t.Fatalf("cache never filled (max %d): flow control not exercised", maxCount)
	}
	if c.stats.flowControlled.Load() == 0 {
		t.Fatal("no pull was delayed")
	}
	close(release)
	waitFor(t, 30*time.Second, "drain", func() bool { return got.Load() >= 801 })
}

func TestPushShutdownWaitsPersistsAndLeaksNothing(t *testing.T) {
	ts := startServer(t)
	s := newSender(t, ts)
	topic := "PushShutdown"
	createTopic(t, ts, s, topic)
	base := countGoroutines()
	entered := make(chan struct{}, 1)
	var finished, initDone atomic.Bool
	l := ConcurrentListener(func(_ context.Context, _ *ConcurrentContext, msgs []*message.MessageExt) ConsumeResult {
		if string(msgs[0].Body) == "init" {
			initDone.Store(true)
		}
		if string(msgs[0].Body) == "slow" {
			entered <- struct{}{}
			time.Sleep(500 * time.Millisecond)
			finished.Store(true)
		}
		return ConsumeSuccess
	})
	c, err := NewPush(append(fastOpts(ts, "cg-shutdown"), WithPersistInterval(time.Hour))...)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Subscribe(topic, "*", l); err != nil {
		t.Fatal(err)
	}
	if err := c.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	// "init" must be consumed first: the pool runs callbacks concurrently,
	// and an "init" still waiting when Shutdown drops the queue is rightly
	// left uncommitted (offset 0), which would make the checks below moot.
	waitFor(t, 20*time.Second, "init consumed", initDone.Load)
	s.send(t, topic, 0, "", []byte("slow"))
	<-entered
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if !finished.Load() {
		t.Fatal("Shutdown returned before the in-flight callback finished")
	}
	if err := c.Subscribe(topic, "*", l); !errors.Is(err, ErrClosed) {
		t.Fatalf("Subscribe after Shutdown: %v", err)
	}
	checkGoroutines(t, base)
	// The offset was persisted by Shutdown (the periodic persist is off):
	// the broker holds 2 for queue 0 ("init" and "slow" consumed)...
	qctx, qcancel := context.WithTimeout(context.Background(), 5*time.Second)
	resp, err := s.rc.InvokeSync(qctx, s.addr, remoting.NewRequest(remoting.QueryConsumerOffset,
		&remoting.QueryConsumerOffsetRequestHeader{ConsumerGroup: "cg-shutdown", Topic: topic, QueueID: 0}, nil))
	qcancel()
	var oh remoting.OffsetResponseHeader
	if err != nil || resp.Code != remoting.Success || resp.DecodeHeader(&oh) != nil || oh.Offset != 2 {
		t.Fatalf("committed offset after Shutdown: %v, %+v, offset %d; want 2", err, resp, oh.Offset)
	}
	// ...and a new member of the group sees nothing old.
	rec := newRecorder()
	startPush(t, ts, "cg-shutdown", topic, "*", rec.listener())
	s.send(t, topic, 0, "", []byte("new"))
	waitFor(t, 20*time.Second, "new message", func() bool { return rec.distinct() >= 1 })
	time.Sleep(300 * time.Millisecond)
	if total, seen := rec.snapshot(); total != 1 {
		t.Fatalf("re-consumed after shutdown: %v", seen)
	}
}

func TestRunningInfoAndConsumeDirectly(t *testing.T) {
	ts := startServer(t)
	s := newSender(t, ts)
	topic := "PushInfo"
	createTopic(t, ts, s, topic)
	rec := newRecorder()
	c := startPush(t, ts, "cg-info", topic, "*", rec.listener())
	waitFor(t, 10*time.Second, "init", func() bool { return rec.distinct() >= 1 })
	info := string(c.runningInfo())
	for _, want := range []string{`"subscriptionSet"`, `"mqTable"`, `"statusTable"`, `"topic":"PushInfo"`, `"consumeOKTPS"`} {
		if !containsStr(info, want) {
			t.Fatalf("running info lacks %s: %s", want, info)
		}
	}
}

func containsStr(s, sub string) bool {
	return len(sub) == 0 || (len(s) >= len(sub) && indexOf(s, sub) >= 0)
}

func indexOf(s, sub string) int {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return i
		}
	}
	return -1
}
