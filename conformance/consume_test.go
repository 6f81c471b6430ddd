package conformance_test

import (
	"strconv"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/rocketgo/rocketgo/conformance/harness"
	"github.com/rocketgo/rocketgo/consumer"
)

func describeConsume(env *harness.Env) {
	Describe("Push consumer", Label("consume"), func() {
		It("shares a clustering group's messages between its members, each message once", Label("rebalance"), func(ctx SpecContext) {
			topic := newTopic(ctx, env, "cluster", 4)
			group := env.Name("cf_g")
			a, b := newCollector(), newCollector()
			startPush(ctx, env, group, topic, "*", a.concurrent())
			startPush(ctx, env, group, topic, "*", b.concurrent())
			p := newProducer(env)
			// Keep sending until both members have received something: that
			// is the rebalance having split the queues.
			n := 0
			for a.distinct() == 0 || b.distinct() == 0 {
				Expect(ctx.Err()).NotTo(HaveOccurred(), "the group never split the queues")
				sendAll(ctx, p, topic, bodies("cluster-"+strconv.Itoa(n), 8), nil)
				n++
				time.Sleep(100 * time.Millisecond)
			}
			union := func() int {
				seen := a.bodySet()
				for k := range b.bodySet() {
					seen[k]++
				}
				return len(seen)
			}
			eventually(ctx, union).Should(Equal(8 * n))
		}, SpecTimeout(env.Timeout(short)))

		It("gives every broadcasting member every message", Label("broadcast"), func(ctx SpecContext) {
			topic := newTopic(ctx, env, "bcast", 4)
			group := env.Name("cf_g")
			a, b := newCollector(), newCollector()
			dir := GinkgoT().TempDir()
			startPush(ctx, env, group, topic, "*", a.concurrent(), consumer.WithMessageModel(consumer.Broadcasting), consumer.WithOffsetDir(dir))
			startPush(ctx, env, group, topic, "*", b.concurrent(), consumer.WithMessageModel(consumer.Broadcasting), consumer.WithOffsetDir(dir))
			p := newProducer(env)
			sendAll(ctx, p, topic, bodies("bcast", 12), nil)
			eventually(ctx, a.distinct).Should(Equal(12))
			eventually(ctx, b.distinct).Should(Equal(12))
		}, SpecTimeout(env.Timeout(short)))

		It("rebalances queues when a member joins and when it leaves", Label("rebalance"), func(ctx SpecContext) {
			topic := newTopic(ctx, env, "rebal", 4)
			group := env.Name("cf_g")
			a, b := newCollector(), newCollector()
			startPush(ctx, env, group, topic, "*", a.concurrent())
			p := newProducer(env)
			sendAll(ctx, p, topic, bodies("alone", 8), nil)
			eventually(ctx, a.distinct).Should(Equal(8))

			cb := startPush(ctx, env, group, topic, "*", b.concurrent())
			round := 0
			for b.distinct() == 0 {
				Expect(ctx.Err()).NotTo(HaveOccurred(), "the joining member never got a queue")
				sendAll(ctx, p, topic, bodies("joined-"+strconv.Itoa(round), 8), nil)
				round++
				time.Sleep(100 * time.Millisecond)
			}

			Expect(cb.Shutdown(ctx)).To(Succeed())
			before := a.distinct()
			sendAll(ctx, p, topic, bodies("left", 16), nil)
			// Once b has left, a owns every queue again and gets all of them.
			eventually(ctx, func() bool {
				for _, body := range bodies("left", 16) {
					if !a.has(body) {
						return false
					}
				}
				return true
			}).Should(BeTrue())
			Expect(a.distinct()).To(BeNumerically(">=", before+16))
		}, SpecTimeout(env.Timeout(short)))

		It("resumes from committed offsets after the consumer restarts", Label("offset"), func(ctx SpecContext) {
			topic := newTopic(ctx, env, "offset", 2)
			group := env.Name("cf_g")
			first := newCollector()
			c1 := startPush(ctx, env, group, topic, "*", first.concurrent())
			p := newProducer(env)
			sendAll(ctx, p, topic, bodies("before", 10), nil)
			eventually(ctx, first.distinct).Should(Equal(10))
			Expect(c1.Shutdown(ctx)).To(Succeed()) // persists the offsets

			sendAll(ctx, p, topic, bodies("after", 10), nil)
			second := newCollector()
			startPush(ctx, env, group, topic, "*", second.concurrent())
			eventually(ctx, second.distinct).Should(Equal(10))
			consistently(ctx, second.distinct, shortQuiet).Should(Equal(10))
			for body := range second.bodySet() {
				Expect(body).To(HavePrefix("after-"), "a message consumed before the restart came again")
			}
		}, SpecTimeout(env.Timeout(short)))

		It("starts a new group at a timestamp", Label("offset"), func(ctx SpecContext) {
			topic := newTopic(ctx, env, "tstamp", 2)
			p := newProducer(env)
			sendAll(ctx, p, topic, bodies("old", 6), nil)
			// Store timestamps have millisecond resolution; leave a clear gap.
			time.Sleep(1100 * time.Millisecond)
			from := time.Now()
			time.Sleep(100 * time.Millisecond)
			sendAll(ctx, p, topic, bodies("new", 6), nil)

			col := newCollector()
			startPush(ctx, env, env.Name("cf_g"), topic, "*", col.concurrent(),
				consumer.WithConsumeFrom(consumer.ConsumeFromTimestamp), consumer.WithConsumeTimestamp(from))
			eventually(ctx, col.distinct).Should(Equal(6))
			consistently(ctx, col.distinct, shortQuiet).Should(Equal(6))
			for body := range col.bodySet() {
				Expect(body).To(HavePrefix("new-"))
			}
		}, SpecTimeout(env.Timeout(short)))
	})
}
