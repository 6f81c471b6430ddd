package conformance_test

import (
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/rocketgo/rocketgo/conformance/harness"
	"github.com/rocketgo/rocketgo/message"
)

func describeTimer(env *harness.Env) {
	Describe("Timer messages", Label("timer"), func() {
		BeforeEach(func() { require(env, harness.FeatureTimer) })

		It("delivers at the requested delay and delivery time, under the message's own topic", func(ctx SpecContext) {
			topic := newTopic(ctx, env, "timer", 2)
			col := newCollector()
			startPush(ctx, env, env.Name("cf_g"), topic, "*", col.concurrent())
			p := newProducer(env)
			sent := time.Now()
			sendAll(ctx, p, topic, []string{"now"}, nil)
			sendAll(ctx, p, topic, []string{"delay"}, func(m *message.Message) { m.WithDelay(2 * time.Second) })
			sendAll(ctx, p, topic, []string{"at"}, func(m *message.Message) { m.WithDeliverTime(sent.Add(1500 * time.Millisecond)) })
			eventually(ctx, col.distinct).Should(Equal(3))
			Expect(col.firstSeen("delay").Sub(sent)).To(BeNumerically(">=", 2*time.Second-timerSlack))
			Expect(col.firstSeen("at").Sub(sent)).To(BeNumerically(">=", 1500*time.Millisecond-timerSlack))
			for _, m := range col.messages() {
				Expect(m.Topic).To(Equal(topic))
			}
		}, SpecTimeout(env.Timeout(short)))

		It("refuses a delivery time beyond timerMaxDelaySec before sending", func(ctx SpecContext) {
			topic := newTopic(ctx, env, "timermax", 1)
			p := newProducer(env)
			_, err := p.SendSync(ctx, message.New(topic, []byte("x")).WithDelay(message.MaxTimerDelay+time.Hour))
			Expect(err).To(MatchError(message.ErrInvalidDeliverTime))
		}, SpecTimeout(env.Timeout(short)))
	})
}
