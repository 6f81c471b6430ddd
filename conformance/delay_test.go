package conformance_test

import (
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/rocketgo/rocketgo/conformance/harness"
	"github.com/rocketgo/rocketgo/message"
)

// timerSlack allows for the broker's delay timer granularity and clock
// rounding (store timestamps are milliseconds).
const timerSlack = 150 * time.Millisecond

func describeDelay(env *harness.Env) {
	Describe("Delay levels", slowOn(env, "delay"), func() {
		It("holds messages back for their level's delay", func(ctx SpecContext) {
			topic := newTopic(ctx, env, "delay", 2)
			col := newCollector()
			startPush(ctx, env, env.Name("cf_g"), topic, "*", col.concurrent())
			p := newProducer(env)
			sent := time.Now()
			sendAll(ctx, p, topic, []string{"now"}, nil)
			sendAll(ctx, p, topic, []string{"level1"}, func(m *message.Message) { m.WithDelayLevel(1) })
			sendAll(ctx, p, topic, []string{"level2"}, func(m *message.Message) { m.WithDelayLevel(2) })
			eventually(ctx, col.distinct).Should(Equal(3))
			Expect(col.firstSeen("level1").Sub(sent)).To(BeNumerically(">=", env.Level1-timerSlack))
			Expect(col.firstSeen("level2").Sub(sent)).To(BeNumerically(">=", env.Level2-timerSlack))
			Expect(col.firstSeen("now").Before(col.firstSeen("level1"))).To(BeTrue())
			for _, m := range col.messages() {
				Expect(m.Topic).To(Equal(topic), "delayed messages come back under their own topic")
			}
		}, SpecTimeout(env.Timeout(long)))

		It("rejects levels outside 1..18 before sending", func(ctx SpecContext) {
			topic := newTopic(ctx, env, "baddelay", 1)
			p := newProducer(env)
			for _, level := range []int32{-1, message.MaxDelayLevel + 1} {
				_, err := p.SendSync(ctx, message.New(topic, []byte("x")).WithDelayLevel(level))
				Expect(err).To(MatchError(message.ErrInvalidDelayLevel), "level %d", level)
			}
		}, SpecTimeout(env.Timeout(short)))
	})
}
