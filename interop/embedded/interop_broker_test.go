//go:build !race

// Interop for delay levels, retry/DLQ, transactions and orderly locks: the
// official Go client v2.1.2 against an embedded server. Race-free pass only
// (the official client races internally).

package embedded_test

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rocketgo/rocketgo/remoting"
	"github.com/rocketgo/rocketgo/remoting/netclient"

	rocketmq "github.com/apache/rocketmq-client-go/v2"
	"github.com/apache/rocketmq-client-go/v2/consumer"
	"github.com/apache/rocketmq-client-go/v2/primitive"
	"github.com/apache/rocketmq-client-go/v2/producer"
	"github.com/apache/rocketmq-client-go/v2/rlog"

	"github.com/rocketgo/rocketgo/server/broker"
	"github.com/rocketgo/rocketgo/server/embedded"
	"github.com/rocketgo/rocketgo/server/embedded/embeddedtest"
)

// startServerWith starts an embedded server with a tweaked broker config.
func startServerWith(t *testing.T, mutate func(*broker.Config)) *embedded.Server {
	t.Helper()
	rlog.SetLogLevel("fatal")
	return embeddedtest.Start(t, mutate)
}

// fastDelays keeps level 2 at its real 5 s (the test checks it) and makes
// every retry level (3 and up) 1 s so retry tests finish quickly.
const fastDelays = "1s 5s 1s 1s 1s"

func TestOfficialDelayLevel(t *testing.T) {
	srv := startServerWith(t, func(c *broker.Config) { c.MessageDelayLevel = fastDelays })
	p := officialProducer(t, srv, "delay-pg")
	topic := "InteropDelay"
	sendN(t, p, topic, "warm", 1, "")
	waitRoute(t, srv, topic)
	_, col := officialConsumer(t, srv, "delay-cg", "d1", topic, "*")
	col.waitFor(t, 1, 30*time.Second)

	m := primitive.NewMessage(topic, []byte("delayed"))
	m.WithDelayTimeLevel(2)
	sentAt := time.Now()
	if _, err := p.SendSync(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	col.waitFor(t, 2, 30*time.Second)
	lateness := time.Since(sentAt)
	if lateness < 5*time.Second {
		t.Fatalf("level-2 message arrived after %v, before its 5 s delay", lateness)
	}
	t.Logf("level-2 message arrived after %v", lateness)
}

func TestOfficialRetryThenDLQ(t *testing.T) {
	srv := startServerWith(t, func(c *broker.Config) { c.MessageDelayLevel = fastDelays })
	p := officialProducer(t, srv, "retry-pg")
	topic := "InteropRetry"
	sendN(t, p, topic, "warm", 1, "")
	waitRoute(t, srv, topic)

	// The broker creates the group's retry topic on the consumer's first
	// heartbeat, which the official client sends after its first route
	// lookup; a retry topic not yet routed then waits for the client's next
	// route poll (30 s) and rebalance (20 s), so the first retry could take
	// 40 s or more depending on which came first. Creating the retry topic
	// up front makes the start deterministic; what is tested (retries, then
	// the DLQ) is unchanged.
	createTopic(t, srv, "%RETRY%retry-cg", 1)
	waitRoute(t, srv, "%RETRY%retry-cg")

	var mu sync.Mutex
	var attempts []*primitive.MessageExt
	c, err := rocketmq.NewPushConsumer(
		consumer.WithNsResolver(primitive.NewPassthroughResolver([]string{srv.NamesrvAddr()})),
		consumer.WithGroupName("retry-cg"), consumer.WithInstance("r1"),
		consumer.WithConsumeFromWhere(consumer.ConsumeFromFirstOffset),
		consumer.WithMaxReconsumeTimes(2),
	)
	if err != nil {
		t.Fatal(err)
	}
	err = c.Subscribe(topic, consumer.MessageSelector{}, func(_ context.Context, msgs ...*primitive.MessageExt) (consumer.ConsumeResult, error) {
		mu.Lock()
		defer mu.Unlock()
		for _, m := range msgs {
			if string(m.Body) == "fail-me-0" {
				attempts = append(attempts, m)
				return consumer.ConsumeRetryLater, nil
			}
		}
		return consumer.ConsumeSuccess, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	defer c.Shutdown()
	sendN(t, p, topic, "fail-me", 1, "")
	// Original delivery plus two retries, then the DLQ.
	deadline := time.Now().Add(40 * time.Second)
	for {
		mu.Lock()
		n := len(attempts)
		mu.Unlock()
		if n >= 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("only %d deliveries of the failing message", n)
		}
		time.Sleep(50 * time.Millisecond)
	}
	mu.Lock()
	for i, m := range attempts[:3] {
		if m.ReconsumeTimes != int32(i) {
			t.Errorf("delivery %d has reconsume count %d", i, m.ReconsumeTimes)
		}
		if m.Topic != topic {
			t.Errorf("delivery %d shows topic %q, want the original %q", i, m.Topic, topic)
		}
	}
	mu.Unlock()

	// The message lands in %DLQ%retry-cg.
	waitRoute(t, srv, "%DLQ%retry-cg")
	_, dlq := officialConsumer(t, srv, "dlq-reader", "dl1", "%DLQ%retry-cg", "*")
	dlq.waitFor(t, 1, 30*time.Second)
	if got := dlq.bodies(); got["fail-me-0"] != 1 {
		t.Fatalf("DLQ holds %v", got)
	}
}

// txListener commits, rolls back or leaves unknown by body, and answers
// check-backs with commit.
type txListener struct {
	checks atomic.Int32
}

func (l *txListener) ExecuteLocalTransaction(m *primitive.Message) primitive.LocalTransactionState {
	switch string(m.Body) {
	case "commit":
		return primitive.CommitMessageState
	case "rollback":
		return primitive.RollbackMessageState
	}
	return primitive.UnknowState
}

func (l *txListener) CheckLocalTransaction(m *primitive.MessageExt) primitive.LocalTransactionState {
	l.checks.Add(1)
	return primitive.CommitMessageState
}

func TestOfficialTransactions(t *testing.T) {
	srv := startServerWith(t, func(c *broker.Config) {
		c.TransactionTimeOut = time.Second
		c.TransactionCheckInterval = 300 * time.Millisecond
	})
	topic := "InteropTx"
	plain := officialProducer(t, srv, "tx-warm-pg")
	sendN(t, plain, topic, "warm", 1, "")
	waitRoute(t, srv, topic)

	l := &txListener{}
	tp, err := rocketmq.NewTransactionProducer(l,
		producer.WithNsResolver(primitive.NewPassthroughResolver([]string{srv.NamesrvAddr()})),
		producer.WithGroupName("tx-pg"), producer.WithInstanceName("tx-pg"))
	if err != nil {
		t.Fatal(err)
	}
	if err := tp.Start(); err != nil {
		t.Fatal(err)
	}
	defer tp.Shutdown()
	for _, body := range []string{"commit", "rollback", "unknown"} {
		if _, err := tp.SendMessageInTransaction(context.Background(), primitive.NewMessage(topic, []byte(body))); err != nil {
			t.Fatalf("%s: %v", body, err)
		}
	}
	_, col := officialConsumer(t, srv, "tx-cg", "tx1", topic, "*")
	col.waitFor(t, 3, 30*time.Second) // warm, commit, and unknown once the check-back commits it
	time.Sleep(1500 * time.Millisecond)
	got := col.bodies()
	if got["commit"] != 1 || got["unknown"] != 1 {
		t.Fatalf("delivered %v; want commit and unknown once each", got)
	}
	if got["rollback"] != 0 {
		t.Fatal("rolled-back message was delivered")
	}
	if l.checks.Load() == 0 {
		t.Fatal("the unknown transaction was never checked back")
	}
}

func TestOfficialOrderlyKeepsQueueOrderAcrossRebalance(t *testing.T) {
	srv := startServerWith(t, func(*broker.Config) {})
	p, err := rocketmq.NewProducer(
		producer.WithNsResolver(primitive.NewPassthroughResolver([]string{srv.NamesrvAddr()})),
		producer.WithGroupName("order-pg"), producer.WithInstanceName("order-pg"),
		producer.WithQueueSelector(producer.NewHashQueueSelector()),
	)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	defer p.Shutdown()
	topic := "InteropOrder"
	sendOrdered := func(from, to int) {
		for i := from; i < to; i++ {
			for _, key := range []string{"a", "b", "c", "d"} {
				m := primitive.NewMessage(topic, []byte(fmt.Sprintf("%s-%d", key, i)))
				m.WithShardingKey(key)
				if _, err := p.SendSync(context.Background(), m); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	sendOrdered(0, 1)
	waitRoute(t, srv, topic)

	var mu sync.Mutex
	seen := map[string][]int{} // sharding key → sequence numbers in consumption order
	listener := func(_ context.Context, msgs ...*primitive.MessageExt) (consumer.ConsumeResult, error) {
		mu.Lock()
		defer mu.Unlock()
		for _, m := range msgs {
			var key string
			var n int
			fmt.Sscanf(string(m.Body), "%1s-%d", &key, &n)
			seen[key] = append(seen[key], n)
		}
		return consumer.ConsumeSuccess, nil
	}
	start := func(instance string) rocketmq.PushConsumer {
		c, err := rocketmq.NewPushConsumer(
			consumer.WithNsResolver(primitive.NewPassthroughResolver([]string{srv.NamesrvAddr()})),
			consumer.WithGroupName("order-cg"), consumer.WithInstance(instance),
			consumer.WithConsumeFromWhere(consumer.ConsumeFromFirstOffset),
			consumer.WithConsumerOrder(true),
		)
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Subscribe(topic, consumer.MessageSelector{}, listener); err != nil {
			t.Fatal(err)
		}
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		return c
	}
	c1 := start("o1")
	defer c1.Shutdown()
	sendOrdered(1, 20)
	c2 := start("o2") // joins: queues move
	sendOrdered(20, 40)
	c2.Shutdown() // leaves: queues move back
	sendOrdered(40, 60)

	deadline := time.Now().Add(40 * time.Second)
	for {
		mu.Lock()
		total := 0
		for _, s := range seen {
			total += len(s)
		}
		mu.Unlock()
		if total >= 4*60 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("consumed %d of %d ordered messages", total, 4*60)
		}
		time.Sleep(50 * time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	for key, seq := range seen {
		// Redelivery after a rebalance may repeat a suffix, but never goes
		// backwards past what was consumed in order.
		if !sort.IntsAreSorted(dedupeConsecutiveRuns(seq)) {
			t.Errorf("key %s consumed out of order: %v", key, seq)
		}
	}
}

// dedupeConsecutiveRuns drops a value that repeats an earlier one (the
// at-least-once redelivery of an orderly queue after it moved), keeping
// first occurrences in order.
func dedupeConsecutiveRuns(seq []int) []int {
	seen := map[int]bool{}
	var out []int
	for _, n := range seq {
		if !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	return out
}

// createTopic creates topic with n queues on srv's broker (UPDATE_AND_CREATE_TOPIC).
func createTopic(t *testing.T, srv *embedded.Server, topic string, n int32) {
	t.Helper()
	rc := netclient.New()
	defer rc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := rc.InvokeSync(ctx, srv.BrokerAddr(), remoting.NewRequest(remoting.UpdateAndCreateTopic, &remoting.CreateTopicRequestHeader{
		Topic: topic, DefaultTopic: "TBW102", ReadQueueNums: n, WriteQueueNums: n, Perm: 6, TopicFilterType: "SINGLE_TAG",
	}, nil))
	if err != nil || resp.Code != remoting.Success {
		t.Fatalf("create topic %s: %v %v", topic, err, resp)
	}
}
