package conformance_test

import (
	"context"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/rocketgo/rocketgo/conformance/harness"
	"github.com/rocketgo/rocketgo/consumer"
	"github.com/rocketgo/rocketgo/message"
)

func describeRequest(env *harness.Env) {
	Describe("Request/reply", Label("request-reply"), func() {
		It("answers a request with the replier's message, matched by correlation id", func(ctx SpecContext) {
			topic := newTopic(ctx, env, "rr", 2)
			replier := newProducer(env)
			startPush(ctx, env, env.Name("cf_rr"), topic, "*",
				consumer.ConcurrentListener(func(ctx context.Context, _ *consumer.ConcurrentContext, msgs []*message.MessageExt) consumer.ConsumeResult {
					for _, m := range msgs {
						r, err := message.NewReply(m, append([]byte("re:"), m.Body...))
						if err != nil {
							continue // not a request: nothing to answer
						}
						if _, err := replier.SendSync(ctx, r); err != nil {
							return consumer.ConsumeRetryLater
						}
					}
					return consumer.ConsumeSuccess
				}))
			p := newProducer(env)
			for _, body := range []string{"ping", "pong"} {
				rctx, cancel := context.WithTimeout(ctx, env.Timeout(10*time.Second))
				reply, err := p.Request(rctx, message.New(topic, []byte(body)))
				cancel()
				Expect(err).NotTo(HaveOccurred())
				Expect(string(reply.Body)).To(Equal("re:" + body))
				typ, _ := reply.Property(message.PropertyMsgType)
				Expect(typ).To(Equal(message.MsgTypeReply))
			}
		}, SpecTimeout(env.Timeout(short)))
	})
}
