package conformance_test

import (
	"context"
	"fmt"
	"time"

	iclient "github.com/rocketgo/rocketgo/internal/client"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/rocketgo/rocketgo/conformance/harness"
	"github.com/rocketgo/rocketgo/consumer"
	"github.com/rocketgo/rocketgo/message"
)

// newLitePull starts a lite-pull consumer, shut down when the spec ends;
// setup subscribes or assigns before Start.
func newLitePull(ctx context.Context, env *harness.Env, group string, setup func(*consumer.LitePullConsumer), opts ...consumer.Option) *consumer.LitePullConsumer {
	c, err := consumer.NewLitePull(fastConsumer(env, group, opts...)...)
	Expect(err).NotTo(HaveOccurred())
	setup(c)
	Expect(c.Start(ctx)).To(Succeed())
	DeferCleanup(func(ctx SpecContext) { env.DeleteGroup(ctx, group) }, NodeTimeout(env.Timeout(10*time.Second)))
	DeferCleanup(func(ctx SpecContext) { c.Shutdown(ctx) }, NodeTimeout(env.Timeout(15*time.Second)))
	return c
}

// pollN polls until n messages arrived (or the spec times out).
func pollN(ctx context.Context, c *consumer.LitePullConsumer, n int) []*message.MessageExt {
	var out []*message.MessageExt
	for len(out) < n {
		pctx, cancel := context.WithTimeout(ctx, time.Second)
		msgs, err := c.Poll(pctx)
		cancel()
		if ctx.Err() != nil {
			Fail(fmt.Sprintf("poll: spec deadline reached after %d of %d messages", len(out), n))
		}
		if err == nil {
			out = append(out, msgs...)
		}
	}
	return out
}

func describePull(env *harness.Env) {
	Describe("Pull consumers", Label("pull"), func() {
		It("lite-pull subscribes, polls everything and seeks back", func(ctx SpecContext) {
			topic := newTopic(ctx, env, "lite", 2)
			p := newProducer(env)
			sendAll(ctx, p, topic, bodies("lite", 10), nil)
			queues, err := iclient.Of(p.Client()).SubscribeQueues(ctx, topic)
			Expect(err).NotTo(HaveOccurred())
			c := newLitePull(ctx, env, env.Name("cf_g"), func(c *consumer.LitePullConsumer) { Expect(c.Assign(queues)).To(Succeed()) })
			first := pollN(ctx, c, 10)
			Expect(distinctBodies(first)).To(HaveLen(10))
			for _, q := range queues {
				Expect(c.Seek(q, 0)).To(Succeed())
			}
			again := pollN(ctx, c, 10)
			Expect(distinctBodies(again)).To(Equal(distinctBodies(first)))
		}, SpecTimeout(env.Timeout(short)))

		It("lite-pull Subscribe shares a group's queues and commits offsets", Label("offset"), func(ctx SpecContext) {
			topic := newTopic(ctx, env, "litesub", 2)
			group := env.Name("cf_g")
			p := newProducer(env)
			sendAll(ctx, p, topic, bodies("sub", 8), nil)
			c := newLitePull(ctx, env, group, func(c *consumer.LitePullConsumer) { Expect(c.Subscribe(topic, "*")).To(Succeed()) },
				consumer.WithAutoCommit(false))
			got := pollN(ctx, c, 8)
			Expect(distinctBodies(got)).To(HaveLen(8))
			Expect(c.CommitSync(ctx)).To(Succeed())
			var committed int64
			for _, q := range c.Assignment() {
				off, err := c.Committed(ctx, q)
				if err == nil {
					committed += off
				}
			}
			Expect(committed).To(Equal(int64(8)))
		}, SpecTimeout(env.Timeout(short)))

		It("pulls a queue from an explicit offset without moving the group's offsets", func(ctx SpecContext) {
			topic := newTopic(ctx, env, "pullfrom", 1)
			p := newProducer(env)
			sendAll(ctx, p, topic, bodies("pf", 5), nil)
			queues, err := iclient.Of(p.Client()).SubscribeQueues(ctx, topic)
			Expect(err).NotTo(HaveOccurred())
			Expect(queues).To(HaveLen(1))
			c := newLitePull(ctx, env, env.Name("cf_g"), func(c *consumer.LitePullConsumer) { Expect(c.Assign(queues)).To(Succeed()) })
			res, err := c.PullFrom(ctx, queues[0], 2, 32)
			Expect(err).NotTo(HaveOccurred())
			Expect(res.Messages).To(HaveLen(3))
			Expect(string(res.Messages[0].Body)).To(Equal("pf-2"))
			Expect(res.Messages[0].QueueOffset).To(Equal(int64(2)))
			Expect(res.NextOffset).To(Equal(int64(5)))
			Expect(res.MaxOffset).To(Equal(int64(5)))
		}, SpecTimeout(env.Timeout(short)))
	})
}

func distinctBodies(msgs []*message.MessageExt) map[string]bool {
	out := map[string]bool{}
	for _, m := range msgs {
		out[string(m.Body)] = true
	}
	return out
}
