package conformance_test

import (
	"bytes"
	"crypto/rand"
	"errors"
	"strconv"
	"strings"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/rocketgo/rocketgo/conformance/harness"
	"github.com/rocketgo/rocketgo/consumer"
	"github.com/rocketgo/rocketgo/message"
	"github.com/rocketgo/rocketgo/producer"
	"github.com/rocketgo/rocketgo/remoting"
)

func describeSend(env *harness.Env) {
	Describe("Producer", Label("send"), func() {
		It("delivers sync sends with tags, keys and properties intact", func(ctx SpecContext) {
			topic := newTopic(ctx, env, "sync", 4)
			col := newCollector()
			startPush(ctx, env, env.Name("cf_g"), topic, "*", col.concurrent())
			p := newProducer(env)
			bs := bodies("sync", 10)
			sendAll(ctx, p, topic, bs, func(m *message.Message) {
				m.WithTags("TagA").WithKeys("k-"+string(m.Body), "shared").WithProperty("color", "blue").WithProperty("ünïcode", "välue")
			})
			eventually(ctx, col.distinct).Should(Equal(len(bs)))
			for _, m := range col.messages() {
				Expect(m.Topic).To(Equal(topic))
				Expect(m.Tags()).To(Equal("TagA"))
				Expect(m.Keys()).To(ConsistOf("k-"+string(m.Body), "shared"))
				Expect(prop(m, "color")).To(Equal("blue"))
				Expect(prop(m, "ünïcode")).To(Equal("välue"))
				Expect(m.MsgID).NotTo(BeEmpty())
				Expect(m.ReconsumeTimes).To(BeZero())
			}
		}, SpecTimeout(env.Timeout(short)))

		It("delivers async sends and calls every callback once", func(ctx SpecContext) {
			topic := newTopic(ctx, env, "async", 4)
			col := newCollector()
			startPush(ctx, env, env.Name("cf_g"), topic, "*", col.concurrent())
			p := newProducer(env)
			var (
				mu      sync.Mutex
				results = map[string]int{}
				wg      sync.WaitGroup
			)
			bs := bodies("async", 10)
			for _, b := range bs {
				wg.Add(1)
				err := p.SendAsync(ctx, func(res *producer.SendResult, err error) {
					defer GinkgoRecover()
					defer wg.Done()
					Expect(err).NotTo(HaveOccurred())
					mu.Lock()
					results[res.MsgID]++
					mu.Unlock()
				}, message.New(topic, []byte(b)))
				Expect(err).NotTo(HaveOccurred())
			}
			wg.Wait()
			Expect(results).To(HaveLen(len(bs)))
			eventually(ctx, col.distinct).Should(Equal(len(bs)))
		}, SpecTimeout(env.Timeout(short)))

		It("delivers oneway sends", func(ctx SpecContext) {
			topic := newTopic(ctx, env, "oneway", 4)
			col := newCollector()
			startPush(ctx, env, env.Name("cf_g"), topic, "*", col.concurrent())
			p := newProducer(env)
			bs := bodies("oneway", 10)
			for _, b := range bs {
				Expect(p.SendOneway(ctx, message.New(topic, []byte(b)))).To(Succeed())
			}
			eventually(ctx, col.distinct).Should(Equal(len(bs)))
		}, SpecTimeout(env.Timeout(short)))

		It("stores a batch as separate messages with one id each", func(ctx SpecContext) {
			topic := newTopic(ctx, env, "batch", 4)
			col := newCollector()
			startPush(ctx, env, env.Name("cf_g"), topic, "*", col.concurrent())
			p := newProducer(env)
			bs := bodies("batch", 10)
			msgs := make([]*message.Message, len(bs))
			for i, b := range bs {
				msgs[i] = message.New(topic, []byte(b)).WithKeys(b)
			}
			res, err := p.SendSync(ctx, msgs...)
			Expect(err).NotTo(HaveOccurred())
			Expect(strings.Split(res.MsgID, ",")).To(HaveLen(len(bs)))
			eventually(ctx, col.distinct).Should(Equal(len(bs)))
			for _, m := range col.messages() {
				Expect(m.Keys()).To(ConsistOf(string(m.Body)))
				Expect(int(m.QueueID)).To(Equal(res.Queue.QueueID), "a batch goes to one queue")
			}
		}, SpecTimeout(env.Timeout(short)))

		It("round-trips large bodies, compressed and incompressible", func(ctx SpecContext) {
			topic := newTopic(ctx, env, "large", 2)
			col := newCollector()
			startPush(ctx, env, env.Name("cf_g"), topic, "*", col.concurrent())
			p := newProducer(env)
			compressible := bytes.Repeat([]byte("rocketgo "), 200_000) // 1.8 MB, zlib-compressed on the wire
			random := make([]byte, 3<<20)
			rand.Read(random)
			for _, body := range [][]byte{compressible, random} {
				_, err := p.SendSync(ctx, message.New(topic, body))
				Expect(err).NotTo(HaveOccurred())
			}
			eventually(ctx, col.distinct).Should(Equal(2))
			got := col.bodySet()
			Expect(got).To(HaveKey(string(compressible)))
			Expect(got).To(HaveKey(string(random)))
			for _, m := range col.messages() {
				if len(m.Body) == len(compressible) {
					Expect(m.SysFlag&message.SysFlagCompressed).NotTo(BeZero(), "bodies over 4 KiB are stored compressed")
				}
			}
		}, SpecTimeout(env.Timeout(short)))

		It("filters by tag and by a || expression", Label("filter"), func(ctx SpecContext) {
			topic := newTopic(ctx, env, "tags", 4)
			either, onlyC := newCollector(), newCollector()
			startPush(ctx, env, env.Name("cf_g"), topic, "TagA || TagB", either.concurrent())
			startPush(ctx, env, env.Name("cf_g"), topic, "TagC", onlyC.concurrent())
			p := newProducer(env)
			for _, tag := range []string{"TagA", "TagB", "TagC", "TagD"} {
				sendAll(ctx, p, topic, bodies(tag, 3), func(m *message.Message) { m.WithTags(tag) })
			}
			eventually(ctx, either.distinct).Should(Equal(6))
			eventually(ctx, onlyC.distinct).Should(Equal(3))
			consistently(ctx, either.distinct, shortQuiet).Should(Equal(6))
			for _, m := range either.messages() {
				Expect(m.Tags()).To(BeElementOf("TagA", "TagB"))
			}
			for _, m := range onlyC.messages() {
				Expect(m.Tags()).To(Equal("TagC"))
			}
		}, SpecTimeout(env.Timeout(short)))

		It("filters by a SQL92 property expression when the broker enables property filters", Label("filter", "sql92"), func(ctx SpecContext) {
			require(env, harness.FeatureSQL92)
			topic := newTopic(ctx, env, "sql", 4)
			group := env.Name("cf_g")
			col := newCollector()
			c, err := consumer.NewPush(fastConsumer(env, group)...)
			Expect(err).NotTo(HaveOccurred())
			Expect(c.SubscribeSQL92(topic, "n >= 3 AND color IN ('red', 'green')", col.concurrent())).To(Succeed())
			if err := c.Start(ctx); err != nil {
				var be *remoting.ResponseError
				if errors.As(err, &be) && strings.Contains(be.Remark, "does not support") {
					Skip("the broker runs without enablePropertyFilter=true")
				}
				Expect(err).NotTo(HaveOccurred())
			}
			DeferCleanup(func(ctx SpecContext) { env.DeleteGroup(ctx, group) }, NodeTimeout(env.Timeout(10*time.Second)))
			DeferCleanup(func(ctx SpecContext) { c.Shutdown(ctx) }, NodeTimeout(env.Timeout(15*time.Second)))
			p := newProducer(env)
			want := map[string]int{}
			for i := range 12 {
				color := []string{"red", "blue", "green"}[i%3]
				body := "sql-" + strconv.Itoa(i)
				sendAll(ctx, p, topic, []string{body}, func(m *message.Message) {
					m.SetProperty("n", strconv.Itoa(i))
					m.SetProperty("color", color)
				})
				if i >= 3 && color != "blue" {
					want[body] = 1
				}
			}
			eventually(ctx, col.distinct).Should(Equal(len(want)))
			consistently(ctx, col.distinct, shortQuiet).Should(Equal(len(want)))
			Expect(col.bodySet()).To(Equal(want))
		}, SpecTimeout(env.Timeout(short)))

		It("keeps every message of a sharding key on one queue (hash selector)", Label("order"), func(ctx SpecContext) {
			topic := newTopic(ctx, env, "hash", 4)
			p := newProducer(env)
			queues := map[string]map[int]bool{}
			for i := range 40 {
				key := []string{"alpha", "beta", "gamma", "delta"}[i%4]
				res, err := p.SendOrderly(ctx, key, message.New(topic, []byte(key)))
				Expect(err).NotTo(HaveOccurred())
				if queues[key] == nil {
					queues[key] = map[int]bool{}
				}
				queues[key][res.Queue.QueueID] = true
			}
			for key, qs := range queues {
				Expect(qs).To(HaveLen(1), "key %s spread over queues %v", key, qs)
			}
		}, SpecTimeout(env.Timeout(short)))
	})
}
