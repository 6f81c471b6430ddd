package conformance_test

import (
	"context"
	"fmt"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/rocketgo/rocketgo/conformance/harness"
	"github.com/rocketgo/rocketgo/loadtest"
	"github.com/rocketgo/rocketgo/message"
	"github.com/rocketgo/rocketgo/producer"
	"github.com/rocketgo/rocketgo/remoting"
	"github.com/rocketgo/rocketgo/remoting/netclient"
	"github.com/rocketgo/rocketgo/server/broker"
)

func describeSyncMaster(env *harness.Env) {
	Describe("SYNC_MASTER acknowledgements", Label("sync-master"), func() {
		It("answers SEND_OK only once the slave holds the message", func(ctx SpecContext) {
			require(env, harness.FeatureSyncMaster)
			var (
				group = env.ProbedGroup()
				topic string
				p     *producer.Producer
			)
			if env.Embedded {
				var c *harness.Cluster
				c, topic, p = startSyncPair(ctx, env)
				group = harness.BrokerGroup{Name: "cf_sync", Master: c.Broker("cf_sync", 0).Addr(), Slave: c.Broker("cf_sync", 1).Addr()}
			} else {
				topic = newTopic(ctx, env, "sync", 2)
				p = newProducer(env)
			}
			rc := netclient.New(env.TransportOptions()...)
			DeferCleanup(rc.Close)

			checked := 0
			for i := 0; checked < 5; i++ {
				Expect(i).To(BeNumerically("<", 50), "no send went to broker group %s", group.Name)
				body := fmt.Sprintf("sync-%d", i)
				res, err := p.SendSync(ctx, message.New(topic, []byte(body)))
				Expect(err).NotTo(HaveOccurred())
				if res.Queue.BrokerName != group.Name {
					continue // another group's master: its role is not known
				}
				Expect(res.Status).To(Equal(producer.SendOK), "a SYNC_MASTER with its slave attached")
				// Asked at once, with no polling: SEND_OK promised the
				// slave already holds the record.
				Expect(viewAt(ctx, rc, group.Slave, topic, res.OffsetMsgID)).To(Equal(body), "the slave lacks a message its master acknowledged")
				checked++
			}
		}, SpecTimeout(env.Timeout(short)))

		It("answers SLAVE_NOT_AVAILABLE or FLUSH_SLAVE_TIMEOUT, storing the message, when the slave is gone", func(ctx SpecContext) {
			if !env.Embedded {
				Skip("stopping a slave needs the embedded server (run without -namesrv)")
			}
			c, topic, p := startSyncPair(ctx, env)
			master, slave := c.Broker("cf_sync", 0), c.Broker("cf_sync", 1)
			Expect(slave.Shutdown(ctx)).To(Succeed())
			res, err := p.SendSync(ctx, message.New(topic, []byte("without-slave")))
			Expect(err).NotTo(HaveOccurred(), "stored on the master: a result, not an error (retryAnotherBrokerWhenNotStoreOK is off)")
			Expect(res.Status).To(BeElementOf(producer.SendSlaveNotAvailable, producer.SendFlushSlaveTimeout))
			rc := netclient.New()
			DeferCleanup(rc.Close)
			Expect(viewAt(ctx, rc, master.Addr(), topic, res.OffsetMsgID)).To(Equal("without-slave"), "the master keeps what it answered")
		}, SpecTimeout(env.Timeout(short)))
	})
}

// startSyncPair starts a SYNC_MASTER and its slave under a name server of
// their own (the master gives up on its slave after one second, not five),
// a topic and a producer, and waits until a send is acknowledged SEND_OK:
// until its slave has connected the master answers SLAVE_NOT_AVAILABLE.
func startSyncPair(ctx context.Context, env *harness.Env) (*harness.Cluster, string, *producer.Producer) {
	c, err := env.StartCluster(ctx,
		harness.BrokerSpec{Name: "cf_sync", Role: broker.RoleSyncMaster, ID: 0,
			Configure: func(c *broker.Config) { c.SyncFlushTimeout = time.Second }},
		harness.BrokerSpec{Name: "cf_sync", Role: broker.RoleSlave, ID: 1,
			Options: []broker.Option{broker.WithSlaveSyncInterval(50 * time.Millisecond)}},
	)
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(func(ctx SpecContext) { c.Shutdown(ctx) }, NodeTimeout(env.Timeout(15*time.Second)))
	topic := env.Name("cf_sync")
	Expect(loadtest.CreateTopic(ctx, c.Namesrv, topic, 2)).To(Succeed())
	p, err := producer.New(producer.WithNameServers(c.Namesrv), producer.WithGroup(env.Name("cf_pg")))
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(func(ctx SpecContext) { p.Shutdown(ctx) }, NodeTimeout(env.Timeout(10*time.Second)))
	eventually(ctx, func() (producer.SendStatus, error) {
		res, err := p.SendSync(ctx, message.New(topic, []byte("warm-up")))
		if err != nil {
			return 0, err
		}
		return res.Status, nil
	}).Should(Equal(producer.SendOK))
	return c, topic, p
}

// viewAt reads the body of the record offsetMsgID names from the broker at
// addr (VIEW_MESSAGE_BY_ID), "" when it has none.
func viewAt(ctx context.Context, rc *netclient.Client, addr, topic, offsetMsgID string) string {
	_, off, err := message.ParseOffsetMsgID(offsetMsgID)
	Expect(err).NotTo(HaveOccurred())
	resp, err := rc.InvokeSync(ctx, addr, remoting.NewRequest(remoting.ViewMessageByID, &remoting.ViewMessageByIDRequestHeader{Offset: off, Topic: topic}, nil))
	Expect(err).NotTo(HaveOccurred())
	if resp.Code != remoting.Success {
		return ""
	}
	msgs, err := message.DecodeMessages(resp.Body)
	Expect(err).NotTo(HaveOccurred())
	if len(msgs) != 1 {
		return ""
	}
	return string(msgs[0].Body)
}
