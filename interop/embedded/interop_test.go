//go:build !race

// The official Go client has data races of its own (rocketmq-client-go
// #568, #790), so these interop tests run without -race: .ci/run runs them
// in a second, race-free pass (go test -run Official ./...).

package embedded_test

// Interop: the official Go client (rocketmq-client-go v2.1.2), unmodified,
// against an embedded rocketgo name server and broker.

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rocketgo/rocketgo/remoting/netclient"

	rocketmq "github.com/apache/rocketmq-client-go/v2"
	"github.com/apache/rocketmq-client-go/v2/consumer"
	"github.com/apache/rocketmq-client-go/v2/primitive"
	"github.com/apache/rocketmq-client-go/v2/producer"

	"github.com/rocketgo/rocketgo/internal/nsclient"
	"github.com/rocketgo/rocketgo/server/broker"
	"github.com/rocketgo/rocketgo/server/embedded"
)

func startServer(t *testing.T) *embedded.Server {
	t.Helper()
	return startServerWith(t, func(*broker.Config) {})
}

func officialProducer(t *testing.T, srv *embedded.Server, group string) rocketmq.Producer {
	t.Helper()
	p, err := rocketmq.NewProducer(
		producer.WithNsResolver(primitive.NewPassthroughResolver([]string{srv.NamesrvAddr()})),
		producer.WithGroupName(group),
		producer.WithInstanceName(group),
		producer.WithRetry(2),
	)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Shutdown() })
	return p
}

// waitRoute waits until the name server serves a route for topic, which the
// official consumer needs before Start succeeds.
func waitRoute(t *testing.T, srv *embedded.Server, topic string) {
	t.Helper()
	rc := netclient.New()
	defer rc.Close()
	ns, err := nsclient.New(rc, srv.NamesrvAddr())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := ns.WaitRoute(ctx, topic); err != nil {
		t.Fatal(err)
	}
}

// collector records what a push consumer received, keyed by body.
type collector struct {
	mu   sync.Mutex
	seen map[string]int
	msgs []*primitive.MessageExt
	n    atomic.Int64
}

func newCollector() *collector { return &collector{seen: map[string]int{}} }

func (c *collector) listener(ctx context.Context, msgs ...*primitive.MessageExt) (consumer.ConsumeResult, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, m := range msgs {
		c.seen[string(m.Body)]++
		c.msgs = append(c.msgs, m)
		c.n.Add(1)
	}
	return consumer.ConsumeSuccess, nil
}

func (c *collector) waitFor(t *testing.T, n int, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for c.n.Load() < int64(n) {
		if time.Now().After(deadline) {
			t.Fatalf("received %d of %d messages", c.n.Load(), n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (c *collector) bodies() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string]int, len(c.seen))
	for k, v := range c.seen {
		out[k] = v
	}
	return out
}

func officialConsumer(t *testing.T, srv *embedded.Server, group, instance, topic, expr string, opts ...consumer.Option) (rocketmq.PushConsumer, *collector) {
	t.Helper()
	base := []consumer.Option{
		consumer.WithNsResolver(primitive.NewPassthroughResolver([]string{srv.NamesrvAddr()})),
		consumer.WithGroupName(group),
		consumer.WithInstance(instance),
		consumer.WithConsumeFromWhere(consumer.ConsumeFromFirstOffset),
	}
	c, err := rocketmq.NewPushConsumer(append(base, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	col := newCollector()
	if err := c.Subscribe(topic, consumer.MessageSelector{Type: consumer.TAG, Expression: expr}, col.listener); err != nil {
		t.Fatal(err)
	}
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Shutdown() })
	return c, col
}

func TestOfficialClientSendModesAndConsume(t *testing.T) {
	srv := startServer(t)
	p := officialProducer(t, srv, "interop-pg")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	topic := "InteropSend"

	m := primitive.NewMessage(topic, []byte("sync"))
	m.WithTag("TagA")
	m.WithKeys([]string{"k1", "k2"})
	m.WithProperty("color", "blue")
	res, err := p.SendSync(ctx, m)
	if err != nil || res.Status != primitive.SendOK {
		t.Fatalf("SendSync: %v %v", res, err)
	}
	if len(res.OffsetMsgID) != 32 || res.MsgID == "" {
		t.Fatalf("send result ids: %+v", res)
	}
	asyncDone := make(chan error, 1)
	if err := p.SendAsync(ctx, func(_ context.Context, r *primitive.SendResult, err error) { asyncDone <- err }, primitive.NewMessage(topic, []byte("async"))); err != nil {
		t.Fatal(err)
	}
	if err := <-asyncDone; err != nil {
		t.Fatalf("SendAsync: %v", err)
	}
	if err := p.SendOneWay(ctx, primitive.NewMessage(topic, []byte("oneway"))); err != nil {
		t.Fatalf("SendOneWay: %v", err)
	}
	batch := []*primitive.Message{primitive.NewMessage(topic, []byte("b1")), primitive.NewMessage(topic, []byte("b2")), primitive.NewMessage(topic, []byte("b3"))}
	if res, err := p.SendSync(ctx, batch...); err != nil || res.Status != primitive.SendOK {
		t.Fatalf("batch SendSync: %v %v", res, err)
	}

	waitRoute(t, srv, topic)
	_, col := officialConsumer(t, srv, "interop-cg", "interop-c1", topic, "*")
	col.waitFor(t, 6, 30*time.Second)
	got := col.bodies()
	for _, b := range []string{"sync", "async", "oneway", "b1", "b2", "b3"} {
		if got[b] != 1 {
			t.Errorf("body %q received %d times", b, got[b])
		}
	}
	col.mu.Lock()
	defer col.mu.Unlock()
	for _, me := range col.msgs {
		if string(me.Body) != "sync" {
			continue
		}
		if me.GetTags() != "TagA" || me.GetKeys() != "k1 k2" || me.GetProperty("color") != "blue" || me.MsgId != res.MsgID && me.MsgId == "" {
			t.Errorf("sync message lost fields: tags %q keys %q color %q id %q", me.GetTags(), me.GetKeys(), me.GetProperty("color"), me.MsgId)
		}
	}
}

func sendN(t *testing.T, p rocketmq.Producer, topic, prefix string, n int, tag string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for i := range n {
		m := primitive.NewMessage(topic, []byte(fmt.Sprintf("%s-%d", prefix, i)))
		if tag != "" {
			m.WithTag(tag)
		}
		if _, err := p.SendSync(ctx, m); err != nil {
			t.Fatalf("send %d: %v", i, err)
		}
	}
}

func TestOfficialClusteringSharesQueues(t *testing.T) {
	srv := startServer(t)
	p := officialProducer(t, srv, "cluster-pg")
	topic := "InteropCluster"
	sendN(t, p, topic, "warm", 1, "")
	waitRoute(t, srv, topic)
	_, c1 := officialConsumer(t, srv, "cluster-cg", "c1", topic, "*")
	_, c2 := officialConsumer(t, srv, "cluster-cg", "c2", topic, "*")
	// Let both members see each other before the load.
	time.Sleep(2 * time.Second)
	sendN(t, p, topic, "m", 40, "")
	deadline := time.Now().Add(30 * time.Second)
	for c1.n.Load()+c2.n.Load() < 41 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	a, b := c1.bodies(), c2.bodies()
	for i := range 40 {
		k := fmt.Sprintf("m-%d", i)
		if a[k]+b[k] != 1 {
			t.Errorf("%s received %d+%d times", k, a[k], b[k])
		}
	}
	if len(a) == 0 || len(b) == 0 {
		t.Errorf("queues not shared: c1 got %d, c2 got %d", len(a), len(b))
	}
}

func TestOfficialBroadcastingAndTags(t *testing.T) {
	srv := startServer(t)
	p := officialProducer(t, srv, "bc-pg")
	topic := "InteropBroadcast"
	sendN(t, p, topic, "warm", 1, "Z")
	waitRoute(t, srv, topic)
	_, c1 := officialConsumer(t, srv, "bc-cg", "b1", topic, "A || B", consumer.WithConsumerModel(consumer.BroadCasting))
	_, c2 := officialConsumer(t, srv, "bc-cg", "b2", topic, "A || B", consumer.WithConsumerModel(consumer.BroadCasting))
	time.Sleep(time.Second)
	sendN(t, p, topic, "a", 5, "A")
	sendN(t, p, topic, "b", 5, "B")
	sendN(t, p, topic, "c", 5, "C")
	c1.waitFor(t, 10, 30*time.Second)
	c2.waitFor(t, 10, 30*time.Second)
	time.Sleep(300 * time.Millisecond)
	for name, c := range map[string]*collector{"c1": c1, "c2": c2} {
		got := c.bodies()
		for k := range got {
			if strings.HasPrefix(k, "c-") || strings.HasPrefix(k, "warm") {
				t.Errorf("%s received %s despite the A || B filter", name, k)
			}
		}
		if len(got) != 10 {
			t.Errorf("%s received %d distinct messages, want 10", name, len(got))
		}
	}
}

func TestOfficialConsumerOffsetsSurviveRestart(t *testing.T) {
	srv := startServer(t)
	p := officialProducer(t, srv, "off-pg")
	topic := "InteropOffsets"
	sendN(t, p, topic, "first", 10, "")
	waitRoute(t, srv, topic)
	c, col := officialConsumer(t, srv, "off-cg", "o1", topic, "*")
	col.waitFor(t, 10, 30*time.Second)
	// Shutdown persists the offsets (UPDATE_CONSUMER_OFFSET).
	if err := c.Shutdown(); err != nil {
		t.Fatal(err)
	}
	sendN(t, p, topic, "second", 10, "")
	_, col2 := officialConsumer(t, srv, "off-cg", "o2", topic, "*")
	col2.waitFor(t, 10, 30*time.Second)
	time.Sleep(500 * time.Millisecond)
	for k, n := range col2.bodies() {
		if strings.HasPrefix(k, "first") {
			t.Errorf("restarted consumer re-received %s (%d times)", k, n)
		}
	}
}

func TestOfficialConsumeFromTimestamp(t *testing.T) {
	srv := startServer(t)
	p := officialProducer(t, srv, "ts-pg")
	topic := "InteropTimestamp"
	sendN(t, p, topic, "old", 5, "")
	time.Sleep(1500 * time.Millisecond) // the timestamp format has second precision
	from := time.Now()
	time.Sleep(1100 * time.Millisecond)
	sendN(t, p, topic, "new", 5, "")
	waitRoute(t, srv, topic)
	_, col := officialConsumer(t, srv, "ts-cg", "t1", topic, "*",
		consumer.WithConsumeFromWhere(consumer.ConsumeFromTimestamp),
		consumer.WithConsumeTimestamp(from.Format("20060102150405")))
	col.waitFor(t, 5, 30*time.Second)
	time.Sleep(500 * time.Millisecond)
	for k := range col.bodies() {
		if strings.HasPrefix(k, "old") {
			t.Errorf("received %s, stored before the start timestamp", k)
		}
	}
}

// The official consumer's SQL92 subscription reaches the broker by
// heartbeat only (its pulls say "TAG" without a subscription), so this
// checks that the broker evaluates the registered expression.
func TestOfficialSQL92Subscription(t *testing.T) {
	srv := startServerWith(t, func(c *broker.Config) { c.EnablePropertyFilter = true })
	p := officialProducer(t, srv, "interop-sql-pg")
	topic := "InteropSQL"
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := p.SendSync(ctx, primitive.NewMessage(topic, []byte("init"))); err != nil {
		t.Fatal(err)
	}
	waitRoute(t, srv, topic)
	c, err := rocketmq.NewPushConsumer(
		consumer.WithNsResolver(primitive.NewPassthroughResolver([]string{srv.NamesrvAddr()})),
		consumer.WithGroupName("interop-sql-cg"),
		consumer.WithConsumeFromWhere(consumer.ConsumeFromFirstOffset),
	)
	if err != nil {
		t.Fatal(err)
	}
	col := newCollector()
	if err := c.Subscribe(topic, consumer.MessageSelector{Type: consumer.SQL92, Expression: "n >= 5 AND color IN ('red', 'green')"}, col.listener); err != nil {
		t.Fatal(err)
	}
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Shutdown() })
	want := map[string]bool{}
	for i := range 20 {
		color := []string{"red", "blue", "green", "black"}[i%4]
		m := primitive.NewMessage(topic, []byte(fmt.Sprintf("m-%d", i)))
		m.WithProperty("n", fmt.Sprint(i))
		m.WithProperty("color", color)
		if _, err := p.SendSync(ctx, m); err != nil {
			t.Fatal(err)
		}
		if i >= 5 && (color == "red" || color == "green") {
			want[fmt.Sprintf("m-%d", i)] = true
		}
	}
	col.waitFor(t, len(want), 20*time.Second)
	time.Sleep(500 * time.Millisecond)
	got := col.bodies()
	if len(got) != len(want) {
		t.Fatalf("want exactly %d selected messages, got %v", len(want), got)
	}
	for b := range got {
		if !want[b] {
			t.Errorf("delivered %q, which the expression rejects", b)
		}
	}
}
