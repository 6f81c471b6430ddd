package conformance_test

import (
	"context"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/rocketgo/rocketgo/conformance/harness"
	"github.com/rocketgo/rocketgo/consumer"
	"github.com/rocketgo/rocketgo/loadtest"
	"github.com/rocketgo/rocketgo/message"
)

func describeRetry(env *harness.Env) {
	Describe("Retry", slowOn(env, "retry"), func() {
		It("redelivers failed messages with growing reconsume times, then moves them to the DLQ", func(ctx SpecContext) {
			topic := newTopic(ctx, env, "retry", 2)
			group := env.Name("cf_g")
			var (
				mu       sync.Mutex
				attempts []int32
				topics   []string // as the listener saw them: never assert off the spec goroutine
			)
			failing := consumer.ConcurrentListener(func(_ context.Context, _ *consumer.ConcurrentContext, msgs []*message.MessageExt) consumer.ConsumeResult {
				mu.Lock()
				defer mu.Unlock()
				for _, m := range msgs {
					attempts = append(attempts, m.ReconsumeTimes)
					topics = append(topics, m.Topic)
				}
				return consumer.ConsumeRetryLater
			})
			startPush(ctx, env, group, topic, "*", failing, consumer.WithMaxReconsumeTimes(2))
			p := newProducer(env)
			sendAll(ctx, p, topic, []string{"poison"}, nil)
			eventually(ctx, func() []int32 { mu.Lock(); defer mu.Unlock(); return append([]int32(nil), attempts...) }).
				Should(Equal([]int32{0, 1, 2}))
			mu.Lock()
			Expect(topics).To(HaveEach(topic), "retried messages come back under their own topic")
			mu.Unlock()

			dlq := consumer.DLQPrefix + group
			Eventually(ctx, func() error {
				wctx, cancel := context.WithTimeout(ctx, time.Second)
				defer cancel()
				return loadtest.WaitRoute(wctx, env.Namesrv, dlq, env.TransportOptions()...)
			}).Should(Succeed())
			dead := newCollector()
			startPush(ctx, env, env.Name("cf_dlqreader"), dlq, "*", dead.concurrent())
			eventually(ctx, dead.distinct).Should(Equal(1))
			m := dead.messages()[0]
			Expect(string(m.Body)).To(Equal("poison"))
			Expect(prop(m, "RETRY_TOPIC")).To(Equal(topic))
			consistently(ctx, func() int { mu.Lock(); defer mu.Unlock(); return len(attempts) }, shortQuiet).Should(Equal(3))
		}, SpecTimeout(env.Timeout(long)))
	})
}
