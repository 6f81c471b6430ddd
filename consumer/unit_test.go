package consumer

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/rocketgo/rocketgo/message"
	"github.com/rocketgo/rocketgo/remoting"
	"github.com/rocketgo/rocketgo/remoting/wire"
)

func msgsAt(offsets ...int64) []*message.MessageExt {
	out := make([]*message.MessageExt, len(offsets))
	for i, o := range offsets {
		out[i] = &message.MessageExt{QueueOffset: o, Body: make([]byte, 10)}
	}
	return out
}

func TestProcessQueueCommitsLowestInFlight(t *testing.T) {
	pq := newProcessQueue(Queue{Topic: "T"})
	ms := msgsAt(5, 6, 8, 9) // 7 was filtered out by the broker
	pq.put(ms)
	if n, b, span := pq.stats(); n != 4 || b != 40 || span != 4 {
		t.Fatalf("stats %d %d %d", n, b, span)
	}
	// Out-of-order completion: 6 and 9 finish, 5 and 8 are still running.
	if off, ok := pq.remove([]*message.MessageExt{ms[1], ms[3]}); !ok || off != 5 {
		t.Fatalf("commit %d %v, want 5", off, ok)
	}
	if off, _ := pq.remove(ms[:1]); off != 8 {
		t.Fatalf("commit %d, want 8 (skipping the filtered 7)", off)
	}
	if off, _ := pq.remove(ms[2:3]); off != 10 {
		t.Fatalf("commit %d, want 10 once nothing is in flight", off)
	}
	if n, b, _ := pq.stats(); n != 0 || b != 0 {
		t.Fatalf("left %d msgs %d bytes", n, b)
	}
	// Removing twice changes nothing; duplicates from a re-pull are ignored.
	if off, _ := pq.remove(ms); off != 10 {
		t.Fatalf("double remove moved commit to %d", off)
	}
	pq.put(msgsAt(9, 10))
	if n, _, _ := pq.stats(); n != 1 {
		t.Fatalf("re-put of 9 was cached: %d", n)
	}
}

func TestProcessQueueOrderlyTakeCommitRollback(t *testing.T) {
	pq := newProcessQueue(Queue{Topic: "T"})
	pq.put(msgsAt(0, 1, 2, 3))
	a, _ := pq.take(2)
	if len(a) != 2 || a[0].QueueOffset != 0 {
		t.Fatalf("take %v", a)
	}
	pq.rollback()
	b, _ := pq.take(3)
	if len(b) != 3 || b[0].QueueOffset != 0 || b[2].QueueOffset != 2 {
		t.Fatalf("after rollback take %d from %d", len(b), b[0].QueueOffset)
	}
	if off := pq.commit(); off != 3 {
		t.Fatalf("commit %d, want 3", off)
	}
	if !pq.pending() {
		t.Fatal("offset 3 should be pending")
	}
	if c, _ := pq.take(5); len(c) != 1 || c[0].QueueOffset != 3 {
		t.Fatalf("take %v", c)
	}
	if off := pq.commit(); off != 4 || pq.pending() {
		t.Fatalf("commit %d pending %v", off, pq.pending())
	}
}

func TestProcessQueueCompacts(t *testing.T) {
	pq := newProcessQueue(Queue{Topic: "T"})
	for base := int64(0); base < 10000; base += 100 {
		ms := make([]int64, 100)
		for i := range ms {
			ms[i] = base + int64(i)
		}
		batch := msgsAt(ms...)
		pq.put(batch)
		pq.remove(batch[:99]) // keep one straggler per batch... then finish it
		pq.remove(batch[99:])
	}
	if len(pq.entries) != 0 || cap(pq.entries) > 4096 {
		t.Fatalf("entries len %d cap %d", len(pq.entries), cap(pq.entries))
	}
}

func TestLocalStoreRoundTrip(t *testing.T) {
	dir := t.TempDir()
	s, err := newLocalStore(dir, "127.0.0.1@x/y", "g")
	if err != nil {
		t.Fatal(err)
	}
	q := Queue{Topic: "T", BrokerName: "b", QueueID: 3}
	if _, err := s.read(context.Background(), q, false); !errors.Is(err, ErrNoOffset) {
		t.Fatalf("empty read: %v", err)
	}
	s.update(q, 42, false)
	s.update(q, 40, true) // lower: ignored
	if err := s.persist(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	s2, err := newLocalStore(dir, "127.0.0.1@x/y", "g")
	if err != nil {
		t.Fatal(err)
	}
	if off, err := s2.read(context.Background(), q, true); err != nil || off != 42 {
		t.Fatalf("reloaded %d %v", off, err)
	}
}

func TestOptionsValidate(t *testing.T) {
	if _, err := NewPush(); !errors.Is(err, ErrInvalidOption) {
		t.Fatalf("no group: %v", err)
	}
	bad := []Option{WithPullBatchSize(2000), WithConsumeGoroutines(5, 2), WithConsumeBatchSize(0),
		WithConsumeMaxSpan(0), WithRebalanceInterval(-1), WithStrategy(nil)}
	for i, o := range bad {
		if _, err := NewPush(WithGroup("g"), o); !errors.Is(err, ErrInvalidOption) {
			t.Errorf("option %d accepted: %v", i, err)
		}
	}
	c, err := NewPush(WithGroup("g"))
	if err != nil {
		t.Fatal(err)
	}
	if c.cfg.pullBatchSize != 32 || c.cfg.thresholdQueue != 1000 || c.cfg.maxSpan != 2000 ||
		c.cfg.goroutinesMin != 10 || c.cfg.goroutinesMax != 20 || c.cfg.maxReconsumeFor(false) != 16 {
		t.Fatalf("defaults: %+v", c.cfg)
	}
	l, err := NewLitePull(WithGroup("g"))
	if err != nil || l.cfg.pullBatchSize != 10 {
		t.Fatalf("lite defaults: %v %d", err, l.cfg.pullBatchSize)
	}
	if err := c.Subscribe("T", "*", ConcurrentListener(nil)); !errors.Is(err, ErrInvalidOption) {
		t.Fatalf("nil listener: %v", err)
	}
	if err := c.Subscribe("T", "*", func(context.Context, *ConcurrentContext, []*message.MessageExt) ConsumeResult { return ConsumeSuccess }); err != nil {
		t.Fatal(err)
	}
	if err := c.SubscribeOrderly("U", "*", func(context.Context, *OrderlyContext, []*message.MessageExt) OrderlyResult { return OrderlySuccess }); !errors.Is(err, ErrMixedListeners) {
		t.Fatalf("mixed listeners: %v", err)
	}
	if err := c.Shutdown(context.Background()); err != nil {
		t.Fatalf("shutdown before start: %v", err)
	}
	if err := c.Start(context.Background()); !errors.Is(err, ErrClosed) {
		t.Fatalf("start after shutdown: %v", err)
	}
}

func TestPrepareFiltersTagsAndRestoresRetryTopic(t *testing.T) {
	sub := &subscription{topic: "T", data: wire.ParseSubscription("T", "a || b", 0)}
	mk := func(topic, tag string, retry bool) *message.MessageExt {
		var props []byte
		if tag != "" {
			props = message.AppendProperty(props, message.PropertyTags, tag)
		}
		if retry {
			props = message.AppendProperty(props, message.PropertyRetryTopic, "T")
		}
		m := &message.MessageExt{Topic: topic}
		for k, v := range message.DecodeProperties(string(props)) {
			m.SetProperty(k, v)
		}
		return m
	}
	in := []*message.MessageExt{mk("T", "a", false), mk("T", "c", false), mk("T", "", false), mk("%RETRY%g", "b", true)}
	out := prepare(in, sub, "bk", "%RETRY%g")
	if len(out) != 2 || out[0].Tags() != "a" || out[1].Topic != "T" || out[1].BrokerName != "bk" {
		t.Fatalf("prepare: %d %+v", len(out), out)
	}
}

func BenchmarkProcessQueuePutRemove(b *testing.B) {
	b.ReportAllocs()
	pq := newProcessQueue(Queue{Topic: "T"})
	batch := make([]*message.MessageExt, 32)
	for i := range batch {
		batch[i] = &message.MessageExt{Body: make([]byte, 128)}
	}
	var off int64
	for i := 0; i < b.N; i += 32 {
		for _, m := range batch {
			m.QueueOffset = off
			off++
		}
		pq.put(batch)
		for j := range batch {
			pq.remove(batch[j : j+1])
		}
	}
}

func BenchmarkPrepare(b *testing.B) {
	b.ReportAllocs()
	sub := &subscription{topic: "T", data: wire.ParseSubscription("T", "*", 0)}
	msgs := make([]*message.MessageExt, 32)
	for i := range msgs {
		msgs[i] = &message.MessageExt{Topic: "T"}
	}
	buf := make([]*message.MessageExt, 32)
	for i := 0; i < b.N; i += 32 {
		copy(buf, msgs)
		prepare(buf, sub, "bk", "%RETRY%g")
	}
}

func BenchmarkPullRequestEncode(b *testing.B) {
	b.ReportAllocs()
	h := remoting.PullMessageRequestHeader{ConsumerGroup: "group", Topic: "topic", QueueID: 3, QueueOffset: 123456,
		MaxMsgNums: 32, SysFlag: remoting.PullFlagSuspend | remoting.PullFlagSubscription, SuspendTimeoutMillis: 20000,
		Subscription: "*", ExpressionType: "TAG"}
	var buf []byte
	for i := 0; i < b.N; i++ {
		h.QueueOffset++
		cmd := remoting.NewRequest(remoting.PullMessage, &h, nil)
		var err error
		buf, err = remoting.AppendFrame(buf[:0], cmd)
		if err != nil {
			b.Fatal(err)
		}
	}
}

func TestFlowDelayLimits(t *testing.T) {
	c, err := NewPush(WithGroup("g"), WithPullThresholdForQueue(100), WithConsumeMaxSpan(50),
		WithPullThresholdForTopic(60), WithPullThresholdSizeForTopic(1<<20))
	if err != nil {
		t.Fatal(err)
	}
	runs := map[Queue]*queueRun{}
	for i := range 3 {
		q := Queue{Topic: "T", BrokerName: "b", QueueID: i}
		runs[q] = &queueRun{pq: newProcessQueue(q)}
	}
	c.table = runs
	run := runs[Queue{Topic: "T", BrokerName: "b", QueueID: 0}]
	// The topic limit (60 over 3 queues = 20 each) overrides the queue's 100.
	if d, room := c.flowDelay(run); d != 0 || room != 20 {
		t.Fatalf("empty queue: delay %v room %d", d, room)
	}
	run.pq.put(msgsAt(0, 1, 2, 3, 4, 5, 6, 7, 8, 9))
	if d, room := c.flowDelay(run); d != 0 || room != 10 {
		t.Fatalf("10 cached: delay %v room %d", d, room)
	}
	run.pq.put(msgsAt(10, 11, 12, 13, 14, 15, 16, 17, 18, 19))
	if d, _ := c.flowDelay(run); d != DefaultFlowControlBackoff {
		t.Fatalf("at the topic share: delay %v", d)
	}
	// Span: one old message still in flight holds back a wide window.
	other := runs[Queue{Topic: "T", BrokerName: "b", QueueID: 1}]
	other.pq.put(msgsAt(0, 55))
	if d, _ := c.flowDelay(other); d != DefaultFlowControlBackoff {
		t.Fatalf("span 55 > 50: delay %v", d)
	}
	if c.stats.flowControlled.Load() != 2 {
		t.Fatalf("flow-controlled count %d", c.stats.flowControlled.Load())
	}
}

// TestProcessQueueArrival: cached messages carry their arrival time, which
// orderly take and concurrent beginBatch hand back for the await time.
func TestProcessQueueArrival(t *testing.T) {
	pq := newProcessQueue(Queue{Topic: "T"})
	before := time.Now().UnixNano()
	first := msgsAt(0, 1)
	pq.put(first)
	mid := time.Now().UnixNano()
	for time.Now().UnixNano() == mid { // the second put stamps a later time
	}
	second := msgsAt(2, 3)
	pq.put(second)
	msgs, arrived := pq.take(3)
	if len(msgs) != 3 || arrived < before || arrived > mid {
		t.Fatalf("take: %d msgs, arrived %d not in [%d, %d]", len(msgs), arrived, before, mid)
	}
	pq.rollback()
	// The batch's await runs from its earliest message.
	a2, ok := pq.beginBatch([]*message.MessageExt{second[0], first[1]})
	if !ok || a2 != arrived {
		t.Fatalf("beginBatch arrived %d %v, want %d", a2, ok, arrived)
	}
	pq.end()
	a3, _ := pq.beginBatch(second)
	if a3 <= mid {
		t.Fatalf("second put arrived %d, not after %d", a3, mid)
	}
	pq.end()
	if d := awaited(arrived, time.Unix(0, arrived).Add(5*time.Millisecond)); d != 5*time.Millisecond {
		t.Fatalf("awaited %v", d)
	}
	if d := awaited(arrived, time.Unix(0, arrived-1)); d != 0 {
		t.Fatalf("awaited before arrival %v, want 0", d)
	}
}
