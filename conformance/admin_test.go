package conformance_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"time"

	iclient "github.com/rocketgo/rocketgo/internal/client"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/rocketgo/rocketgo/conformance/harness"
	"github.com/rocketgo/rocketgo/internal/nsclient"
	"github.com/rocketgo/rocketgo/loadtest"
	"github.com/rocketgo/rocketgo/message"
	"github.com/rocketgo/rocketgo/producer"
	"github.com/rocketgo/rocketgo/remoting"
)

func describeAdmin(env *harness.Env) {
	Describe("Admin and bad input", Label("admin"), func() {
		It("creates and deletes topics", func(ctx SpecContext) {
			topic := env.Name("cf_admin")
			Expect(env.CreateTopic(ctx, topic, 3)).To(Succeed())
			p := newProducer(env)
			queues, err := iclient.Of(p.Client()).PublishQueues(ctx, topic)
			Expect(err).NotTo(HaveOccurred())
			Expect(queues).To(HaveLen(3))
			Expect(env.DeleteTopic(ctx, topic)).To(Succeed())
			eventually(ctx, func() error {
				wctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
				defer cancel()
				return loadtest.WaitRoute(wctx, env.Namesrv, topic, env.TransportOptions()...)
			}).Should(MatchError(ContainSubstring("no route")))
		}, SpecTimeout(env.Timeout(short)))

		It("rejects a body over the broker's maximum with MESSAGE_ILLEGAL", func(ctx SpecContext) {
			topic := newTopic(ctx, env, "big", 1)
			// Lift the client-side limit so the broker is the one to judge.
			p := newProducer(env, producer.WithMaxMessageSize(8<<20), producer.WithCompression(0, 0))
			body := make([]byte, message.DefaultMaxMessageSize+1)
			rand.Read(body)
			_, err := p.SendSync(ctx, message.New(topic, body))
			Expect(err).To(MatchError(producer.ErrMessageIllegal))
			var be *remoting.ResponseError
			Expect(errors.As(err, &be)).To(BeTrue())
			Expect(be.Code).To(Equal(remoting.MessageIllegal))

			ok := newProducer(env)
			_, err = ok.SendSync(ctx, message.New(topic, bytes.Repeat([]byte{'x'}, message.DefaultMaxMessageSize)))
			Expect(err).NotTo(HaveOccurred(), "exactly the maximum is allowed")
			_, err = ok.SendSync(ctx, message.New(topic, body))
			Expect(err).To(MatchError(producer.ErrMessageTooLarge), "the client checks the default limit itself")
		}, SpecTimeout(env.Timeout(short)))

		It("rejects illegal topic names before sending", func(ctx SpecContext) {
			p := newProducer(env)
			for _, topic := range []string{"bad topic", "bad/topic", string(bytes.Repeat([]byte("t"), 200)), ""} {
				_, err := p.SendSync(ctx, message.New(topic, []byte("x")))
				Expect(err).To(HaveOccurred(), "topic %q", topic)
			}
		}, SpecTimeout(env.Timeout(short)))

		It("answers a missing topic with TOPIC_NOT_EXIST when auto-create is off", Label("autocreate-off"), func(ctx SpecContext) {
			if !env.AutoCreateOff {
				Skip("the broker under test may auto-create topics; pass -autocreate-off if it does not")
			}
			p := newProducer(env)
			_, err := p.SendSync(ctx, message.New(env.Name("cf_missing"), []byte("x")))
			Expect(err).To(MatchError(producer.ErrTopicNotExist))
			Expect(errors.Is(err, nsclient.ErrTopicNotExist)).To(BeTrue())
		}, SpecTimeout(env.Timeout(short)))
	})
}
