package conformance_test

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/rocketgo/rocketgo/conformance/harness"
	"github.com/rocketgo/rocketgo/consumer"
	"github.com/rocketgo/rocketgo/message"
)

func describeOrder(env *harness.Env) {
	Describe("Orderly consumption", Label("order"), func() {
		It("consumes each sharding key's messages in send order", func(ctx SpecContext) {
			topic := newTopic(ctx, env, "order", 4)
			var (
				mu      sync.Mutex
				seqs    = map[string][]int{}
				queueOf = map[string]map[int32]bool{}
				total   int
			)
			listener := consumer.OrderlyListener(func(_ context.Context, _ *consumer.OrderlyContext, msgs []*message.MessageExt) consumer.OrderlyResult {
				mu.Lock()
				defer mu.Unlock()
				for _, m := range msgs {
					key, seq, _ := strings.Cut(string(m.Body), ":")
					n, _ := strconv.Atoi(seq)
					seqs[key] = append(seqs[key], n)
					if queueOf[key] == nil {
						queueOf[key] = map[int32]bool{}
					}
					queueOf[key][m.QueueID] = true
					total++
				}
				return consumer.OrderlySuccess
			})
			startPush(ctx, env, env.Name("cf_g"), topic, "*", listener)
			p := newProducer(env)
			keys := []string{"k0", "k1", "k2", "k3", "k4", "k5"}
			const perKey = 15
			for i := range perKey {
				for _, k := range keys {
					_, err := p.SendOrderly(ctx, k, message.New(topic, []byte(k+":"+strconv.Itoa(i))))
					Expect(err).NotTo(HaveOccurred())
				}
			}
			eventually(ctx, func() int { mu.Lock(); defer mu.Unlock(); return total }).Should(BeNumerically(">=", perKey*len(keys)))
			mu.Lock()
			defer mu.Unlock()
			for _, k := range keys {
				Expect(queueOf[k]).To(HaveLen(1), "key %s used several queues", k)
				got := seqs[k]
				// Redelivery after a rebalance may repeat a tail, never reorder.
				for i := 1; i < len(got); i++ {
					if got[i] != got[i-1]+1 {
						Expect(got[i]).To(BeNumerically("<=", got[i-1]), "key %s out of order: %v", k, got)
					}
				}
				Expect(got[0]).To(Equal(0))
				Expect(got).To(ContainElement(perKey - 1))
			}
		}, SpecTimeout(env.Timeout(short)))

		It("redelivers a suspended batch before anything after it", Label("retry"), func(ctx SpecContext) {
			topic := newTopic(ctx, env, "suspend", 1)
			var (
				mu       sync.Mutex
				seen     []string
				failedAt = map[string]bool{}
			)
			listener := consumer.OrderlyListener(func(_ context.Context, oc *consumer.OrderlyContext, msgs []*message.MessageExt) consumer.OrderlyResult {
				mu.Lock()
				defer mu.Unlock()
				for _, m := range msgs {
					body := string(m.Body)
					// Every third message fails once.
					if n, _ := strconv.Atoi(strings.TrimPrefix(body, "s-")); n%3 == 0 && !failedAt[body] {
						failedAt[body] = true
						oc.Suspend = 100 * time.Millisecond
						return consumer.OrderlySuspend
					}
				}
				for _, m := range msgs {
					seen = append(seen, string(m.Body))
				}
				return consumer.OrderlySuccess
			})
			startPush(ctx, env, env.Name("cf_g"), topic, "*", listener)
			p := newProducer(env)
			bs := bodies("s", 9)
			for _, b := range bs {
				_, err := p.SendOrderly(ctx, "one-key", message.New(topic, []byte(b)))
				Expect(err).NotTo(HaveOccurred())
			}
			eventually(ctx, func() []string { mu.Lock(); defer mu.Unlock(); return append([]string(nil), seen...) }).Should(Equal(bs))
			mu.Lock()
			defer mu.Unlock()
			Expect(failedAt).To(HaveLen(3))
		}, SpecTimeout(env.Timeout(short)))
	})
}
