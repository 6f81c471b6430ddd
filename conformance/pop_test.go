package conformance_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/rocketgo/rocketgo/conformance/harness"
	"github.com/rocketgo/rocketgo/consumer"
	"github.com/rocketgo/rocketgo/message"
	"github.com/rocketgo/rocketgo/remoting"
)

// describePop checks 5.x POP consumption over remoting: SimpleConsumer and
// the push consumer's POP mode. A broker without POP (4.x) answers
// POP_MESSAGE with REQUEST_CODE_NOT_SUPPORTED and the specs skip.
func describePop(env *harness.Env) {
	Describe("POP consumption", Label("pop"), func() {
		newSimple := func(ctx context.Context, group, topic string, opts ...consumer.Option) *consumer.SimpleConsumer {
			c, err := consumer.NewSimple(topic, "*", append(fastConsumer(env, group, consumer.WithAwaitDuration(time.Second)), opts...)...)
			Expect(err).NotTo(HaveOccurred())
			DeferCleanup(func() { c.Close() })
			return c
		}
		// popOrSkip receives once, skipping the spec on a broker without POP.
		popOrSkip := func(ctx context.Context, c *consumer.SimpleConsumer, invisible time.Duration) []*message.MessageExt {
			msgs, err := c.Receive(ctx, 32, invisible)
			var re *remoting.ResponseError
			if errors.As(err, &re) && re.Code == remoting.RequestCodeNotSupported {
				Skip("pop: the broker does not serve POP_MESSAGE (" + re.Remark + ")")
			}
			return msgs
		}

		It("hands a group's messages to more SimpleConsumers than queues, each once when acknowledged", func(ctx SpecContext) {
			topic := newTopic(ctx, env, "pop", 2)
			group := env.Name("cf_pop_g")
			cs := []*consumer.SimpleConsumer{newSimple(ctx, group, topic), newSimple(ctx, group, topic), newSimple(ctx, group, topic)}
			popOrSkip(ctx, cs[0], time.Second)
			p := newProducer(env)
			want := bodies("pop", 60)
			sendAll(ctx, p, topic, want, nil)
			var mu sync.Mutex
			seen := map[string]int{}
			per := make([]int, len(cs))
			var wg sync.WaitGroup
			done := make(chan struct{})
			for i, c := range cs {
				wg.Add(1)
				go func() {
					defer GinkgoRecover()
					defer wg.Done()
					for {
						select {
						case <-done:
							return
						default:
						}
						msgs, err := c.Receive(ctx, 4, 30*time.Second)
						if err != nil || len(msgs) == 0 {
							continue
						}
						Expect(c.AckBatch(ctx, msgs)).To(Succeed())
						mu.Lock()
						for _, m := range msgs {
							seen[string(m.Body)]++
							per[i]++
						}
						mu.Unlock()
						time.Sleep(5 * time.Millisecond) // leave some for the others
					}
				}()
			}
			eventually(ctx, func() int { mu.Lock(); defer mu.Unlock(); return len(seen) }).
				WithTimeout(env.Timeout(30 * time.Second)).Should(Equal(len(want)))
			close(done)
			wg.Wait()
			for _, b := range want {
				Expect(seen[b]).To(Equal(1), "deliveries of "+b)
			}
			Expect(per).NotTo(ContainElement(0), fmt.Sprint("messages per consumer: ", per))
		})

		It("hands an unacknowledged message out again after its invisible time, reconsume count raised", func(ctx SpecContext) {
			topic := newTopic(ctx, env, "pop", 1)
			group := env.Name("cf_pop_re")
			c1, c2 := newSimple(ctx, group, topic), newSimple(ctx, group, topic)
			popOrSkip(ctx, c1, time.Second)
			p := newProducer(env)
			sendAll(ctx, p, topic, []string{"again"}, nil)
			var first []*message.MessageExt
			eventually(ctx, func() int { first = append(first, popOrSkip(ctx, c1, 2*time.Second)...); return len(first) }).
				WithTimeout(env.Timeout(15 * time.Second)).Should(Equal(1))
			var again []*message.MessageExt
			eventually(ctx, func() int {
				msgs, _ := c2.Receive(ctx, 32, 30*time.Second)
				again = append(again, msgs...)
				return len(again)
			}).WithTimeout(env.Timeout(30 * time.Second)).Should(Equal(1))
			Expect(string(again[0].Body)).To(Equal("again"))
			Expect(again[0].ReconsumeTimes).To(BeEquivalentTo(1))
			Expect(c2.Ack(ctx, again[0])).To(Succeed())
			Expect(errors.Is(c1.Ack(ctx, first[0]), consumer.ErrReceiptHandle)).To(BeTrue(), "ack with the expired handle")
		})

		It("consumes with a push consumer in POP mode, more members than queues", func(ctx SpecContext) {
			topic := newTopic(ctx, env, "pop", 1)
			group := env.Name("cf_pop_push")
			popOrSkip(ctx, newSimple(ctx, group, topic), time.Second)
			p := newProducer(env)
			col := newCollector()
			var members []*consumer.PushConsumer
			for range 2 {
				c, err := consumer.NewPush(fastConsumer(env, group, consumer.WithClientRebalance(false),
					consumer.WithPopInvisibleTime(30*time.Second))...)
				Expect(err).NotTo(HaveOccurred())
				Expect(c.Subscribe(topic, "*", col.concurrent())).To(Succeed())
				Expect(c.Start(ctx)).To(Succeed())
				DeferCleanup(func(ctx SpecContext) { c.Shutdown(ctx) }, NodeTimeout(env.Timeout(15*time.Second)))
				members = append(members, c)
			}
			want := bodies("pp", 30)
			sendAll(ctx, p, topic, want, nil)
			eventually(ctx, col.distinct).WithTimeout(env.Timeout(30 * time.Second)).Should(Equal(len(want)))
			Expect(col.total()).To(Equal(len(want)), "each message consumed once")
			Expect(members).To(HaveLen(2))
		})
	})
}
