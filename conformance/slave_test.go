package conformance_test

import (
	"fmt"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/rocketgo/rocketgo/conformance/harness"
	"github.com/rocketgo/rocketgo/consumer"
	"github.com/rocketgo/rocketgo/message"
	"github.com/rocketgo/rocketgo/producer"
	"github.com/rocketgo/rocketgo/server/broker"
	"github.com/rocketgo/rocketgo/server/embedded"
	"github.com/rocketgo/rocketgo/server/namesrv"
)

func describeSlave(env *harness.Env) {
	Describe("Master/slave", Label("slave"), func() {
		It("consumes from the slave when the master is down", func(ctx SpecContext) {
			if !env.Embedded {
				// The spec stops a master; on someone else's cluster that is
				// not the suite's call.
				Skip("stopping a master needs the embedded server (run without -namesrv)")
			}
			// A name server and a master/slave pair of its own: the shared
			// embedded broker stays up for every other spec.
			ns := namesrv.New(namesrv.WithListenAddr("127.0.0.1:0"))
			Expect(ns.Start(ctx)).To(Succeed())
			DeferCleanup(func(ctx SpecContext) { ns.Shutdown(ctx) }, NodeTimeout(env.Timeout(15*time.Second)))
			start := func(role string, id int64, opts ...broker.Option) *broker.Broker {
				c := embedded.SmallConfig(GinkgoT().TempDir())
				c.BrokerRole, c.BrokerID = role, id
				c.NamesrvAddr, c.ListenHost, c.ListenPort = ns.Addr(), "127.0.0.1", 0
				c.RegisterNameServerPeriod, c.HASendHeartbeatInterval = 200*time.Millisecond, 100*time.Millisecond
				b, err := broker.New(c, opts...)
				Expect(err).NotTo(HaveOccurred())
				Expect(b.Start(ctx)).To(Succeed())
				DeferCleanup(func(ctx SpecContext) { b.Shutdown(ctx) }, NodeTimeout(env.Timeout(15*time.Second)))
				return b
			}
			master := start(broker.RoleAsyncMaster, 0)
			slave := start(broker.RoleSlave, 1, broker.WithSlaveSyncInterval(50*time.Millisecond))

			topic := env.Name("cf_slave")
			p, err := producer.New(producer.WithNameServers(ns.Addr()), producer.WithGroup(env.Name("cf_pg")))
			Expect(err).NotTo(HaveOccurred())
			for i := range 10 {
				_, err := p.SendSync(ctx, message.New(topic, []byte(fmt.Sprintf("s%d", i))))
				Expect(err).NotTo(HaveOccurred())
			}
			Expect(p.Shutdown(ctx)).To(Succeed())
			eventually(ctx, func() bool {
				return slave.LogEnd() == master.LogEnd() && slave.TopicCount() >= master.TopicCount()
			}).Should(BeTrue())
			Expect(master.Shutdown(ctx)).To(Succeed()) // unregisters: routes list only the slave

			col := newCollector()
			c, err := consumer.NewPush(consumer.WithNameServers(ns.Addr()), consumer.WithGroup(env.Name("cf_slave_g")),
				consumer.WithConsumeFrom(consumer.ConsumeFromFirstOffset), consumer.WithBrokerSuspend(time.Second),
				consumer.WithRebalanceInterval(500*time.Millisecond))
			Expect(err).NotTo(HaveOccurred())
			Expect(c.Subscribe(topic, "*", col.concurrent())).To(Succeed())
			Expect(c.Start(ctx)).To(Succeed())
			DeferCleanup(func(ctx SpecContext) { c.Shutdown(ctx) }, NodeTimeout(env.Timeout(15*time.Second)))
			eventually(ctx, col.distinct).Should(Equal(10))
			for _, m := range col.messages() {
				Expect(m.StoreHost.String()).To(Equal(master.Addr()), "the slave serves the master's records byte for byte")
			}
		}, SpecTimeout(env.Timeout(short)))
	})
}
