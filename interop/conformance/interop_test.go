//go:build !race

package interop_test

import (
	"context"
	"flag"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	rocketmq "github.com/apache/rocketmq-client-go/v2"
	ocons "github.com/apache/rocketmq-client-go/v2/consumer"
	"github.com/apache/rocketmq-client-go/v2/primitive"
	oprod "github.com/apache/rocketmq-client-go/v2/producer"
	"github.com/apache/rocketmq-client-go/v2/rlog"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/rocketgo/rocketgo/conformance/harness"
	"github.com/rocketgo/rocketgo/consumer"
	"github.com/rocketgo/rocketgo/message"
	"github.com/rocketgo/rocketgo/producer"
)

func TestMain(m *testing.M) {
	harness.RegisterFlags(flag.CommandLine)
	os.Exit(m.Run())
}

// TestOfficialInterop is the interop suite's entry point; its name
// contains "Official" so CI's race-free pass (-run Official) picks it up.
func TestOfficialInterop(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	env, err := harness.Setup(ctx, harness.Target(flag.CommandLine))
	cancel()
	if err != nil {
		t.Fatal(err)
	}
	env.AutoCreateOff = env.AutoCreateOff || harness.AutoCreateOff(flag.CommandLine)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		env.Close(ctx)
	})
	rlog.SetLogLevel("fatal")
	RegisterFailHandler(Fail)
	describeInterop(env)
	suite, reporter := GinkgoConfiguration()
	RunSpecs(t, "rocketgo conformance: interop with rocketmq-client-go v2.1.2", suite, reporter)
}

const specTimeout = 45 * time.Second

func newTopic(ctx context.Context, env *harness.Env) string {
	topic := env.Name("cf_interop")
	Expect(env.CreateTopic(ctx, topic, 4)).To(Succeed())
	DeferCleanup(func(ctx SpecContext) { env.DeleteTopic(ctx, topic) }, NodeTimeout(10*time.Second))
	return topic
}

// received collects bodies and properties seen by either side's consumer.
type received struct {
	mu    sync.Mutex
	props map[string]map[string]string // body -> properties
	tags  map[string]string
}

func newReceived() *received {
	return &received{props: map[string]map[string]string{}, tags: map[string]string{}}
}

func (r *received) add(body string, props map[string]string, tags string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.props[body] = props
	r.tags[body] = tags
}

func (r *received) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.props)
}

func (r *received) get(body string) (map[string]string, string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.props[body], r.tags[body]
}

func describeInterop(env *harness.Env) {
	Describe("Interop with the official Go client", Label("interop", "send"), func() {
		It("official producer -> rocketgo push consumer (sync, batch, keys, tags, properties)", func(ctx SpecContext) {
			topic := newTopic(ctx, env)
			got := newReceived()
			c, err := consumer.NewPush(
				consumer.WithNameServers(env.Namesrv), consumer.WithGroup(env.Name("cf_g")),
				consumer.WithConsumeFrom(consumer.ConsumeFromFirstOffset), consumer.WithInstanceName(env.Name("cf_i")),
			)
			Expect(err).NotTo(HaveOccurred())
			Expect(c.Subscribe(topic, "TagA", consumer.ConcurrentListener(func(_ context.Context, _ *consumer.ConcurrentContext, msgs []*message.MessageExt) consumer.ConsumeResult {
				for _, m := range msgs {
					got.add(string(m.Body), m.Properties(), m.Tags())
				}
				return consumer.ConsumeSuccess
			}))).To(Succeed())
			Expect(c.Start(ctx)).To(Succeed())
			DeferCleanup(func(ctx SpecContext) { c.Shutdown(ctx) }, NodeTimeout(15*time.Second))

			p, err := rocketmq.NewProducer(
				oprod.WithNsResolver(primitive.NewPassthroughResolver([]string{env.Namesrv})),
				oprod.WithGroupName(env.Name("cf_opg")), oprod.WithInstanceName(env.Name("cf_opi")), oprod.WithRetry(2),
			)
			Expect(err).NotTo(HaveOccurred())
			Expect(p.Start()).To(Succeed())
			DeferCleanup(func() { p.Shutdown() })
			for i := range 5 {
				m := primitive.NewMessage(topic, []byte("official-"+strconv.Itoa(i)))
				m.WithTag("TagA")
				m.WithKeys([]string{"key-" + strconv.Itoa(i)})
				m.WithProperty("origin", "official")
				res, err := p.SendSync(ctx, m)
				Expect(err).NotTo(HaveOccurred())
				Expect(res.Status).To(Equal(primitive.SendOK))
			}
			skipped := primitive.NewMessage(topic, []byte("tag-b"))
			skipped.WithTag("TagB")
			_, err = p.SendSync(ctx, skipped)
			Expect(err).NotTo(HaveOccurred())
			batch := []*primitive.Message{}
			for i := range 3 {
				m := primitive.NewMessage(topic, []byte("official-batch-"+strconv.Itoa(i)))
				m.WithTag("TagA")
				batch = append(batch, m)
			}
			_, err = p.SendSync(ctx, batch...)
			Expect(err).NotTo(HaveOccurred())

			Eventually(ctx, got.count).Should(Equal(8))
			Consistently(ctx, got.count).WithTimeout(time.Second).Should(Equal(8))
			props, tags := got.get("official-3")
			Expect(tags).To(Equal("TagA"))
			Expect(props).To(HaveKeyWithValue("origin", "official"))
			Expect(props).To(HaveKeyWithValue(message.PropertyKeys, "key-3"))
		}, SpecTimeout(specTimeout))

		It("rocketgo producer -> official push consumer (sync, async, batch, keys, properties)", func(ctx SpecContext) {
			topic := newTopic(ctx, env)
			got := newReceived()
			oc, err := rocketmq.NewPushConsumer(
				ocons.WithNsResolver(primitive.NewPassthroughResolver([]string{env.Namesrv})),
				ocons.WithGroupName(env.Name("cf_og")), ocons.WithInstance(env.Name("cf_oi")),
				ocons.WithConsumeFromWhere(ocons.ConsumeFromFirstOffset),
			)
			Expect(err).NotTo(HaveOccurred())
			Expect(oc.Subscribe(topic, ocons.MessageSelector{Type: ocons.TAG, Expression: "*"}, func(_ context.Context, msgs ...*primitive.MessageExt) (ocons.ConsumeResult, error) {
				for _, m := range msgs {
					got.add(string(m.Body), m.GetProperties(), m.GetTags())
				}
				return ocons.ConsumeSuccess, nil
			})).To(Succeed())
			Expect(oc.Start()).To(Succeed())
			DeferCleanup(func() { oc.Shutdown() })

			p, err := producer.New(producer.WithNameServers(env.Namesrv), producer.WithGroup(env.Name("cf_pg")))
			Expect(err).NotTo(HaveOccurred())
			DeferCleanup(func(ctx SpecContext) { p.Shutdown(ctx) }, NodeTimeout(10*time.Second))
			for i := range 4 {
				m := message.New(topic, []byte("rocketgo-"+strconv.Itoa(i))).WithTags("TagR").WithKeys("rk-"+strconv.Itoa(i)).WithProperty("origin", "rocketgo")
				_, err := p.SendSync(ctx, m)
				Expect(err).NotTo(HaveOccurred())
			}
			var wg sync.WaitGroup
			for i := range 3 {
				wg.Add(1)
				Expect(p.SendAsync(ctx, func(_ *producer.SendResult, err error) {
					defer GinkgoRecover()
					defer wg.Done()
					Expect(err).NotTo(HaveOccurred())
				}, message.New(topic, []byte("rocketgo-async-"+strconv.Itoa(i))))).To(Succeed())
			}
			wg.Wait()
			_, err = p.SendSync(ctx, message.New(topic, []byte("rocketgo-batch-0")), message.New(topic, []byte("rocketgo-batch-1")))
			Expect(err).NotTo(HaveOccurred())

			Eventually(ctx, got.count).Should(Equal(9))
			props, tags := got.get("rocketgo-2")
			Expect(tags).To(Equal("TagR"))
			Expect(props).To(HaveKeyWithValue("origin", "rocketgo"))
			Expect(props).To(HaveKeyWithValue(message.PropertyKeys, "rk-2"))
		}, SpecTimeout(specTimeout))

		It("official async and oneway sends -> rocketgo lite-pull consumer", Label("pull"), func(ctx SpecContext) {
			topic := newTopic(ctx, env)
			p, err := rocketmq.NewProducer(
				oprod.WithNsResolver(primitive.NewPassthroughResolver([]string{env.Namesrv})),
				oprod.WithGroupName(env.Name("cf_opg")), oprod.WithInstanceName(env.Name("cf_opi")),
			)
			Expect(err).NotTo(HaveOccurred())
			Expect(p.Start()).To(Succeed())
			DeferCleanup(func() { p.Shutdown() })
			var wg sync.WaitGroup
			for i := range 4 {
				wg.Add(1)
				Expect(p.SendAsync(ctx, func(_ context.Context, _ *primitive.SendResult, err error) {
					defer GinkgoRecover()
					defer wg.Done()
					Expect(err).NotTo(HaveOccurred())
				}, primitive.NewMessage(topic, []byte("async-"+strconv.Itoa(i))))).To(Succeed())
			}
			wg.Wait()
			for i := range 4 {
				Expect(p.SendOneWay(ctx, primitive.NewMessage(topic, []byte("oneway-"+strconv.Itoa(i))))).To(Succeed())
			}

			c, err := consumer.NewLitePull(
				consumer.WithNameServers(env.Namesrv), consumer.WithGroup(env.Name("cf_g")),
				consumer.WithConsumeFrom(consumer.ConsumeFromFirstOffset), consumer.WithInstanceName(env.Name("cf_i")),
			)
			Expect(err).NotTo(HaveOccurred())
			Expect(c.Subscribe(topic, "*")).To(Succeed())
			Expect(c.Start(ctx)).To(Succeed())
			DeferCleanup(func(ctx SpecContext) { c.Shutdown(ctx) }, NodeTimeout(15*time.Second))
			seen := map[string]bool{}
			for len(seen) < 8 {
				pctx, cancel := context.WithTimeout(ctx, time.Second)
				msgs, _ := c.Poll(pctx)
				cancel()
				Expect(ctx.Err()).NotTo(HaveOccurred(), "got only %v", seen)
				for _, m := range msgs {
					seen[string(m.Body)] = true
				}
			}
			Expect(seen).To(HaveKey("async-3"))
			Expect(seen).To(HaveKey("oneway-3"))
		}, SpecTimeout(specTimeout))
	})
}
