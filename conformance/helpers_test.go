package conformance_test

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/rocketgo/rocketgo/conformance/harness"
	"github.com/rocketgo/rocketgo/consumer"
	"github.com/rocketgo/rocketgo/message"
	"github.com/rocketgo/rocketgo/producer"
)

// Spec deadlines: every spec has one; the long ones are labelled slow
// against foreign brokers, whose delay levels are RocketMQ's real ones.
const (
	short = 30 * time.Second
	long  = 90 * time.Second
	// shortQuiet is how long a spec watches for messages that must not
	// arrive.
	shortQuiet = time.Second
)

// slowOn labels a spec slow unless the suite runs its own embedded server
// (whose delay levels and check intervals are shortened).
func slowOn(env *harness.Env, labels ...string) Labels {
	if !env.Embedded {
		labels = append(labels, "slow")
	}
	return Labels(labels)
}

// require skips the current spec, with the reason, when the broker under
// test lacks feature f. Call it first in a spec or in a BeforeEach.
func require(env *harness.Env, f harness.Feature) {
	if why := env.Missing(f); why != "" {
		Skip(string(f) + ": " + why)
	}
}

// newTopic creates a unique topic and deletes it when the spec ends.
func newTopic(ctx context.Context, env *harness.Env, feature string, queues int) string {
	topic := env.Name("cf_" + feature)
	Expect(env.CreateTopic(ctx, topic, queues)).To(Succeed())
	DeferCleanup(func(ctx SpecContext) { env.DeleteTopic(ctx, topic) }, NodeTimeout(env.Timeout(10*time.Second)))
	return topic
}

// newProducer starts a producer on the broker under test, shut down when
// the spec ends.
func newProducer(env *harness.Env, opts ...producer.Option) *producer.Producer {
	p, err := producer.New(append(append([]producer.Option{producer.WithNameServers(env.Namesrv), producer.WithGroup(env.Name("cf_pg"))}, securePO(env)...), opts...)...)
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(func(ctx SpecContext) { p.Shutdown(ctx) }, NodeTimeout(env.Timeout(10*time.Second)))
	return p
}

// fastConsumer is the option set every spec's consumer starts from:
// short rebalance, persist and heartbeat periods so group changes settle in
// about a second instead of 20.
func fastConsumer(env *harness.Env, group string, opts ...consumer.Option) []consumer.Option {
	return append([]consumer.Option{
		consumer.WithNameServers(env.Namesrv),
		consumer.WithGroup(group),
		consumer.WithRebalanceInterval(500 * time.Millisecond),
		consumer.WithPersistInterval(200 * time.Millisecond),
		consumer.WithHeartbeatInterval(time.Second),
		consumer.WithBrokerSuspend(2 * time.Second),
		consumer.WithConsumeFrom(consumer.ConsumeFromFirstOffset),
		consumer.WithInstanceName(env.Name("cf_inst")),
	}, append(secureCO(env), opts...)...)
}

// securePO and secureCO give clients the suite's credentials and TLS, so
// every spec also runs against a cluster with ACL or TLS on. Options given
// later by a spec win.
func securePO(env *harness.Env) []producer.Option {
	var o []producer.Option
	if env.Credentials.Valid() {
		o = append(o, producer.WithCredentials(env.Credentials))
	}
	if env.TLS != nil {
		o = append(o, producer.WithTLS(env.TLS))
	}
	return o
}

func secureCO(env *harness.Env) []consumer.Option {
	var o []consumer.Option
	if env.Credentials.Valid() {
		o = append(o, consumer.WithCredentials(env.Credentials))
	}
	if env.TLS != nil {
		o = append(o, consumer.WithTLS(env.TLS))
	}
	return o
}

// startPush starts a push consumer with one subscription; it is shut down
// when the spec ends (Shutdown is idempotent, so specs may stop it early).
func startPush(ctx context.Context, env *harness.Env, group, topic, expr string, l consumer.Listener, opts ...consumer.Option) *consumer.PushConsumer {
	c, err := consumer.NewPush(fastConsumer(env, group, opts...)...)
	Expect(err).NotTo(HaveOccurred())
	if o, ok := l.(consumer.OrderlyListener); ok {
		Expect(c.SubscribeOrderly(topic, expr, o)).To(Succeed())
	} else {
		Expect(c.Subscribe(topic, expr, l.(consumer.ConcurrentListener))).To(Succeed())
	}
	Expect(c.Start(ctx)).To(Succeed())
	// Cleanups run last-in first-out: the consumer stops, then its group goes.
	DeferCleanup(func(ctx SpecContext) { env.DeleteGroup(ctx, group) }, NodeTimeout(env.Timeout(10*time.Second)))
	DeferCleanup(func(ctx SpecContext) { c.Shutdown(ctx) }, NodeTimeout(env.Timeout(15*time.Second)))
	return c
}

// collector records deliveries, safe for concurrent listeners.
type collector struct {
	mu     sync.Mutex
	msgs   []*message.MessageExt
	bodies map[string]int
	times  map[string]time.Time // first delivery per body
}

func newCollector() *collector {
	return &collector{bodies: map[string]int{}, times: map[string]time.Time{}}
}

func (c *collector) add(msgs ...*message.MessageExt) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := time.Now()
	for _, m := range msgs {
		c.msgs = append(c.msgs, m)
		b := string(m.Body)
		if c.bodies[b] == 0 {
			c.times[b] = now
		}
		c.bodies[b]++
	}
}

// concurrent is a listener that records and acknowledges.
func (c *collector) concurrent() consumer.ConcurrentListener {
	return func(_ context.Context, _ *consumer.ConcurrentContext, msgs []*message.MessageExt) consumer.ConsumeResult {
		c.add(msgs...)
		return consumer.ConsumeSuccess
	}
}

func (c *collector) distinct() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.bodies)
}

func (c *collector) total() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.msgs)
}

func (c *collector) has(body string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.bodies[body] > 0
}

func (c *collector) firstSeen(body string) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.times[body]
}

func (c *collector) messages() []*message.MessageExt {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]*message.MessageExt(nil), c.msgs...)
}

func (c *collector) bodySet() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string]int, len(c.bodies))
	for k, v := range c.bodies {
		out[k] = v
	}
	return out
}

// bodies returns n distinct bodies "<prefix>-0" ... for a spec.
func bodies(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = prefix + "-" + strconv.Itoa(i)
	}
	return out
}

// sendAll sends each body synchronously and fails the spec on any error.
func sendAll(ctx context.Context, p *producer.Producer, topic string, bs []string, decorate func(*message.Message)) []*producer.SendResult {
	out := make([]*producer.SendResult, 0, len(bs))
	for _, b := range bs {
		m := message.New(topic, []byte(b))
		if decorate != nil {
			decorate(m)
		}
		res, err := p.SendSync(ctx, m)
		Expect(err).NotTo(HaveOccurred(), fmt.Sprintf("send %s", b))
		Expect(res.Status).To(Equal(producer.SendOK))
		out = append(out, res)
	}
	return out
}

// eventually polls f until it matches within the spec's context.
func eventually(ctx context.Context, f any) AsyncAssertion {
	return Eventually(ctx, f).WithPolling(20 * time.Millisecond)
}

// consistently checks that f keeps matching for d.
func consistently(ctx context.Context, f any, d time.Duration) AsyncAssertion {
	return Consistently(ctx, f).WithPolling(50 * time.Millisecond).WithTimeout(d)
}

// prop is a message property, "" when absent.
func prop(m *message.MessageExt, key string) string {
	v, _ := m.Property(key)
	return v
}
