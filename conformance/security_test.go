package conformance_test

import (
	"errors"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/rocketgo/rocketgo/conformance/harness"
	"github.com/rocketgo/rocketgo/message"
	"github.com/rocketgo/rocketgo/producer"
	"github.com/rocketgo/rocketgo/remoting"
)

// describeSecurity checks ACL and TLS. The acl specs run when the suite has
// credentials (-access-key/-secret-key; against the embedded server they
// also switch its ACL on), the tls specs when it has TLS (-tls, -tls-ca);
// otherwise they are skipped. Every other spec uses the same credentials
// and TLS, so the whole suite exercises a secured cluster.
func describeSecurity(env *harness.Env) {
	Describe("Security", func() {
		It("sends and consumes with valid credentials", Label("acl"), func(ctx SpecContext) {
			if !env.Credentials.Valid() {
				Skip("no credentials given (-access-key, -secret-key)")
			}
			topic := newTopic(ctx, env, "acl", 1)
			p := newProducer(env)
			_, err := p.SendSync(ctx, message.New(topic, []byte("signed")))
			Expect(err).NotTo(HaveOccurred())
			got := newCollector()
			startPush(ctx, env, env.Name("cf_aclg"), topic, "*", got.concurrent())
			eventually(ctx, got.distinct).Should(Equal(1))
		}, SpecTimeout(short))

		It("refuses a wrong secret and unsigned requests with NO_PERMISSION, storing nothing", Label("acl"), func(ctx SpecContext) {
			if !env.Credentials.Valid() {
				Skip("no credentials given (-access-key, -secret-key)")
			}
			topic := newTopic(ctx, env, "aclbad", 1)
			wrong := env.Credentials
			wrong.SecretKey += "-wrong"
			for _, opt := range []producer.Option{producer.WithCredentials(wrong), producer.WithRequestSigner(nil)} {
				p := newProducer(env, opt, producer.WithRetries(0))
				_, err := p.SendSync(ctx, message.New(topic, []byte("must not arrive")))
				var re *remoting.ResponseError
				Expect(errors.Is(err, remoting.ErrNoPermission)).To(BeTrue(), "got %v", err)
				Expect(errors.As(err, &re)).To(BeTrue())
			}
			got := newCollector()
			startPush(ctx, env, env.Name("cf_aclbadg"), topic, "*", got.concurrent())
			Consistently(ctx, got.distinct, shortQuiet).Should(Equal(0))
		}, SpecTimeout(short))

		It("sends and consumes over TLS", Label("tls"), func(ctx SpecContext) {
			if env.TLS == nil {
				Skip("no TLS given (-tls, -tls-ca)")
			}
			topic := newTopic(ctx, env, "tls", 1)
			p := newProducer(env)
			_, err := p.SendSync(ctx, message.New(topic, []byte("encrypted")))
			Expect(err).NotTo(HaveOccurred())
			got := newCollector()
			startPush(ctx, env, env.Name("cf_tlsg"), topic, "*", got.concurrent())
			eventually(ctx, got.distinct).Should(Equal(1))
		}, SpecTimeout(short))
	})
}
