package consumer

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/rocketgo/rocketgo/message"
)

func startLite(t *testing.T, ts *testServer, group string, extra ...Option) *LitePullConsumer {
	t.Helper()
	c, err := NewLitePull(append(fastOpts(ts, group), extra...)...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func pollUntil(t *testing.T, c *LitePullConsumer, n int) []*message.MessageExt {
	t.Helper()
	var out []*message.MessageExt
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for len(out) < n {
		msgs, err := c.Poll(ctx)
		if err != nil {
			t.Fatalf("poll after %d of %d: %v", len(out), n, err)
		}
		out = append(out, msgs...)
	}
	return out
}

func TestLitePullAssignSeekAndCommit(t *testing.T) {
	ts := startServer(t)
	s := newSender(t, ts)
	topic := "LiteAssign"
	createTopic(t, ts, s, topic)
	for i := range 20 {
		s.send(t, topic, 1, "", []byte(fmt.Sprintf("m-%d", i)))
	}
	q := Queue{Topic: topic, BrokerName: "broker-a", QueueID: 1}
	base := countGoroutines()
	c := startLite(t, ts, "lite-assign", WithAutoCommit(false))
	if _, err := c.Poll(context.Background()); !errors.Is(err, ErrNotStarted) {
		t.Fatalf("Poll before Start: %v", err)
	}
	if err := c.Assign([]Queue{q}); err != nil {
		t.Fatal(err)
	}
	if err := c.Subscribe(topic, "*"); !errors.Is(err, ErrInvalidOption) {
		t.Fatalf("Subscribe after Assign: %v", err)
	}
	if err := c.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := c.Shutdown(context.Background()); err != nil {
			t.Error(err)
		}
		checkGoroutines(t, base)
	}()
	got := pollUntil(t, c, 20)
	for i, m := range got[:20] {
		if string(m.Body) != fmt.Sprintf("m-%d", i) || m.QueueOffset != int64(i) {
			t.Fatalf("message %d: %s at %d", i, m.Body, m.QueueOffset)
		}
	}
	// Seek back: the same messages come again from offset 5.
	waitFor(t, 5*time.Second, "queue assigned", func() bool { return len(c.Assignment()) == 1 })
	if err := c.Seek(q, 5); err != nil {
		t.Fatal(err)
	}
	again := pollUntil(t, c, 15)
	if string(again[0].Body) != "m-5" {
		t.Fatalf("after seek first is %s", again[0].Body)
	}
	if err := c.Seek(Queue{Topic: topic, BrokerName: "broker-a", QueueID: 3}, 0); !errors.Is(err, ErrNotAssigned) {
		t.Fatalf("seek on unassigned queue: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.CommitSync(ctx); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "committed offset", func() bool {
		off, err := c.Committed(ctx, q)
		return err == nil && off == 20
	})
	// Low-level pull ignores the consumer's position.
	res, err := c.PullFrom(ctx, q, 18, 32)
	if err != nil || res.Status != PullFound || len(res.Messages) != 2 || res.NextOffset != 20 || res.MaxOffset != 20 {
		t.Fatalf("PullFrom: %+v %v", res, err)
	}
	res, err = c.PullFrom(ctx, q, 20, 32)
	if err != nil || res.Status != PullNoNewMessage {
		t.Fatalf("PullFrom at end: %+v %v", res, err)
	}
}

func TestLitePullSubscribeSharesQueues(t *testing.T) {
	ts := startServer(t)
	s := newSender(t, ts)
	topic := "LiteSub"
	createTopic(t, ts, s, topic)
	s.sendN(t, topic, "ls", 100, 4)
	c1 := startLite(t, ts, "lite-sub", WithInstanceName("l1"), WithAutoCommitInterval(100*time.Millisecond))
	c2 := startLite(t, ts, "lite-sub", WithInstanceName("l2"), WithAutoCommitInterval(100*time.Millisecond))
	for _, c := range []*LitePullConsumer{c1, c2} {
		if err := c.Subscribe(topic, "*"); err != nil {
			t.Fatal(err)
		}
		if err := c.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		defer c.Shutdown(context.Background())
	}
	waitFor(t, 10*time.Second, "queues split", func() bool {
		a, b := c1.Assignment(), c2.Assignment()
		return len(a) == 2 && len(b) == 2
	})
	seen := map[string]int{}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for len(seen) < 101 {
		for _, c := range []*LitePullConsumer{c1, c2} {
			pctx, pcancel := context.WithTimeout(ctx, 50*time.Millisecond)
			msgs, _ := c.Poll(pctx)
			pcancel()
			for _, m := range msgs {
				seen[string(m.Body)]++
			}
		}
		if ctx.Err() != nil {
			t.Fatalf("got %d of 101", len(seen))
		}
	}
	// Auto-commit stores what was polled: the committed offsets add up to
	// every message of the topic.
	waitFor(t, 10*time.Second, "auto-committed offsets", func() bool {
		sum := int64(0)
		for q := range 4 {
			off, err := c1.Committed(ctx, Queue{Topic: topic, BrokerName: "broker-a", QueueID: q})
			if err != nil {
				return false
			}
			sum += off
		}
		return sum == 101
	})
}
