package conformance_test

import (
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/rocketgo/rocketgo/conformance/harness"
	"github.com/rocketgo/rocketgo/message"
)

func describeQuery(env *harness.Env) {
	Describe("Message lookup", Label("query"), func() {
		BeforeEach(func() { require(env, harness.FeatureQuery) })
		It("finds messages by key and by offset message id", func(ctx SpecContext) {
			topic := newTopic(ctx, env, "query", 2)
			p := newProducer(env)
			key := env.Name("key")
			begin := time.Now().Add(-time.Minute)
			res := sendAll(ctx, p, topic, []string{"findme"}, func(m *message.Message) { m.WithKeys(key) })
			sendAll(ctx, p, topic, []string{"other"}, func(m *message.Message) { m.WithKeys(key + "-not") })

			// The index is built asynchronously after the append.
			var found []*message.MessageExt
			eventually(ctx, func() int {
				found, _ = env.QueryByKey(ctx, topic, key, begin, time.Now().Add(time.Minute))
				return len(found)
			}).Should(Equal(1))
			Expect(string(found[0].Body)).To(Equal("findme"))
			Expect(found[0].Keys()).To(ContainElement(key))

			m, err := env.ViewByID(ctx, topic, res[0].OffsetMsgID)
			Expect(err).NotTo(HaveOccurred())
			Expect(string(m.Body)).To(Equal("findme"))
			Expect(m.UniqKey()).To(Equal(res[0].MsgID))
		}, SpecTimeout(env.Timeout(short)))
	})
}
