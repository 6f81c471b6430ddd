package conformance_test

import (
	"errors"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/rocketgo/rocketgo/conformance/harness"
	"github.com/rocketgo/rocketgo/message"
	"github.com/rocketgo/rocketgo/remoting"
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

	Describe("Recall of timer messages", Label("timer", "recall"), func() {
		BeforeEach(func() {
			require(env, harness.FeatureTimer)
			require(env, harness.FeatureRecall)
		})

		It("never delivers a recalled message, delivers the others, and refuses a recall once delivered", func(ctx SpecContext) {
			topic := newTopic(ctx, env, "recall", 1)
			col := newCollector()
			startPush(ctx, env, env.Name("cf_g"), topic, "*", col.concurrent())
			p := newProducer(env)
			// Upstream's timer wheel ticks once a second: the two are due
			// in different ticks, the recalled one first.
			gone := sendAll(ctx, p, topic, []string{"recalled"}, func(m *message.Message) { m.WithDelay(1500 * time.Millisecond) })[0]
			kept := sendAll(ctx, p, topic, []string{"kept"}, func(m *message.Message) { m.WithDelay(3 * time.Second) })[0]
			plain := sendAll(ctx, p, topic, []string{"plain"}, nil)[0]
			Expect(gone.RecallHandle).NotTo(BeEmpty(), "a timer message's send result carries a recall handle")
			Expect(kept.RecallHandle).NotTo(BeEmpty())
			Expect(plain.RecallHandle).To(BeEmpty(), "only timer messages can be recalled")
			h, err := message.ParseRecallHandle(gone.RecallHandle)
			Expect(err).NotTo(HaveOccurred())
			Expect(h.Topic).To(Equal(topic))
			Expect(h.MsgID).To(Equal(gone.MsgID))

			id, err := p.RecallMessage(ctx, topic, gone.RecallHandle)
			Expect(err).NotTo(HaveOccurred())
			Expect(id).To(Equal(gone.MsgID))

			// The kept message is due after the recalled one, from the same
			// queue: once it is here, the recalled one would have come first.
			eventually(ctx, func() bool { return col.has("kept") }).Should(BeTrue())
			Expect(col.has("recalled")).To(BeFalse(), "the recalled message was delivered")
			Expect(col.has("plain")).To(BeTrue())

			_, err = p.RecallMessage(ctx, topic, kept.RecallHandle)
			Expect(err).To(MatchError(remoting.ErrIllegalOperation), "recall after delivery")
			var re *remoting.ResponseError
			Expect(errors.As(err, &re)).To(BeTrue())
			Expect(re.Remark).To(ContainSubstring("timestamp invalid"))
		}, SpecTimeout(env.Timeout(short)))

		It("refuses a handle of another topic and one that does not parse", func(ctx SpecContext) {
			topic := newTopic(ctx, env, "recall", 1)
			other := newTopic(ctx, env, "recall", 1)
			p := newProducer(env)
			res := sendAll(ctx, p, topic, []string{"x"}, func(m *message.Message) { m.WithDelay(time.Minute) })[0]
			_, err := p.RecallMessage(ctx, other, res.RecallHandle)
			Expect(err).To(MatchError(remoting.ErrIllegalOperation), "a handle recalls only under its own topic")
			_, err = p.RecallMessage(ctx, topic, "bm90IGEgaGFuZGxl")
			Expect(err).To(MatchError(message.ErrInvalidRecallHandle))
			// Clean up: the message is recalled, not left for a minute.
			_, err = p.RecallMessage(ctx, topic, res.RecallHandle)
			Expect(err).NotTo(HaveOccurred())
		}, SpecTimeout(env.Timeout(short)))
	})
}
