package conformance_test

import (
	"context"
	"sync/atomic"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/rocketgo/rocketgo/conformance/harness"
	"github.com/rocketgo/rocketgo/message"
	"github.com/rocketgo/rocketgo/producer"
)

// txListener decides by body: "commit", "rollback", or "unknown" (left to
// the broker's check-back, which commits).
type txListener struct{ checks atomic.Int32 }

func (l *txListener) ExecuteLocalTransaction(_ context.Context, m *message.Message, _ any) producer.LocalTransactionState {
	switch string(m.Body) {
	case "commit":
		return producer.CommitMessage
	case "rollback":
		return producer.RollbackMessage
	}
	return producer.Unknown
}

func (l *txListener) CheckLocalTransaction(_ context.Context, m *message.MessageExt) producer.LocalTransactionState {
	if string(m.Body) == "unknown" {
		l.checks.Add(1)
		return producer.CommitMessage
	}
	return producer.RollbackMessage
}

func describeTransaction(env *harness.Env) {
	Describe("Transactions", slowOn(env, "transaction"), func() {
		BeforeEach(func() { require(env, harness.FeatureTransaction) })
		It("publishes committed messages, drops rolled-back ones and resolves unknown ones by check-back", func(ctx SpecContext) {
			topic := newTopic(ctx, env, "tx", 2)
			col := newCollector()
			startPush(ctx, env, env.Name("cf_g"), topic, "*", col.concurrent())
			l := &txListener{}
			p := newProducer(env, producer.WithTransactionListener(l))
			for _, body := range []string{"commit", "rollback", "unknown"} {
				res, err := p.SendMessageInTransaction(ctx, message.New(topic, []byte(body)), nil)
				Expect(err).NotTo(HaveOccurred())
				Expect(res.Status).To(Equal(producer.SendOK))
			}
			eventually(ctx, func() bool { return col.has("commit") }).Should(BeTrue())
			eventually(ctx, func() bool { return col.has("unknown") }).Should(BeTrue())
			Expect(l.checks.Load()).To(BeNumerically(">=", 1), "the unknown message was published without a check-back")
			consistently(ctx, func() bool { return col.has("rollback") }, shortQuiet).Should(BeFalse())
			for _, m := range col.messages() {
				Expect(m.Topic).To(Equal(topic))
			}
		}, txTimeout(env))
	})
}

// txTimeout covers one check-back interval: 1 s embedded, 60 s upstream.
func txTimeout(env *harness.Env) SpecTimeout {
	if env.Embedded {
		return SpecTimeout(env.Timeout(short))
	}
	return SpecTimeout(env.Timeout(2 * long))
}
