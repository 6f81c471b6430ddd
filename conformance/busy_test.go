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

func describeBusy(env *harness.Env) {
	Describe("Overload (SYSTEM_BUSY)", Label("busy"), func() {
		It("sheds sends of a stalled broker with SYSTEM_BUSY; producers go elsewhere; nothing acknowledged is lost; the broker recovers", func(ctx SpecContext) {
			require(env, harness.FeatureOverload)
			// Two masters; busy's store can be held. One send worker and a
			// 100 ms page-cache budget make it shed at once.
			c, err := env.StartCluster(ctx,
				harness.BrokerSpec{Name: "cf_calm", ID: 0},
				harness.BrokerSpec{Name: "cf_busy", ID: 0, Stallable: true, Configure: func(c *broker.Config) {
					c.SendMessageThreadPoolNums = 1
					c.OsPageCacheBusyTimeOutMills = 100 * time.Millisecond
				}},
			)
			Expect(err).NotTo(HaveOccurred())
			DeferCleanup(func(ctx SpecContext) { c.Shutdown(ctx) }, NodeTimeout(env.Timeout(15*time.Second)))
			stall := c.Stall("cf_busy", 0)
			DeferCleanup(stall.Release) // runs before the shutdown, which waits for the held worker
			addr := map[string]string{"cf_calm": c.Broker("cf_calm", 0).Addr(), "cf_busy": c.Broker("cf_busy", 0).Addr()}
			topic := env.Name("cf_busy")
			Expect(loadtest.CreateTopic(ctx, c.Namesrv, topic, 4)).To(Succeed())
			rc := netclient.New()
			DeferCleanup(rc.Close)
			raw := func(body string) (*remoting.Command, error) {
				return rc.InvokeSync(ctx, addr["cf_busy"], remoting.NewRequest(remoting.SendMessage, &remoting.SendMessageRequestHeader{
					ProducerGroup: "cf_busy_raw", Topic: topic, QueueID: 0, BornTimestamp: time.Now().UnixMilli(),
				}, []byte(body)))
			}
			acked := map[string]*producer.SendResult{}
			p, err := producer.New(producer.WithNameServers(c.Namesrv), producer.WithGroup(env.Name("cf_pg")))
			Expect(err).NotTo(HaveOccurred())
			DeferCleanup(func(ctx SpecContext) { p.Shutdown(ctx) }, NodeTimeout(env.Timeout(10*time.Second)))
			send := func(p *producer.Producer, body string) *producer.SendResult {
				res, err := p.SendSync(ctx, message.New(topic, []byte(body)))
				Expect(err).NotTo(HaveOccurred(), "send %s", body)
				Expect(res.Status).To(Equal(producer.SendOK))
				acked[body] = res
				return res
			}
			// The route lists both masters.
			eventually(ctx, func() string { return send(p, fmt.Sprintf("warm-%d", len(acked))).Queue.BrokerName }).Should(Equal("cf_busy"))

			// A slow append makes the broker keep sends off its event loops
			// (it serves them inline only while appends are fast), so the
			// held append below occupies its one send worker.
			stall.Slow(300 * time.Millisecond)
			resp, err := raw("slow")
			Expect(err).NotTo(HaveOccurred())
			Expect(resp.Code).To(Equal(remoting.Success))
			stall.Slow(0)
			var offsets []string
			offsets = append(offsets, offsetIDOf(resp))

			held := stall.Hold()
			stalled := make(chan *remoting.Command, 1)
			go func() {
				defer GinkgoRecover()
				resp, err := raw("stalled")
				Expect(err).NotTo(HaveOccurred())
				stalled <- resp
			}()
			Eventually(ctx, held).Should(Receive())
			// Past osPageCacheBusyTimeOutMills (or waitTimeMillsInSendQueue)
			// every send is answered at once, SYSTEM_BUSY with upstream's
			// remark, and not stored.
			eventually(ctx, func() (int16, error) {
				resp, err := raw("shed")
				if err != nil {
					return 0, err
				}
				if resp.Code == remoting.SystemBusy {
					Expect(resp.Remark).To(MatchRegexp(`^\[(PCBUSY|TIMEOUT)_CLEAN_QUEUE\]broker busy`))
				}
				return resp.Code, nil
			}).Should(Equal(remoting.SystemBusy))

			// The producer retries SYSTEM_BUSY on the other master: every
			// send succeeds there.
			for i := range 8 {
				Expect(send(p, fmt.Sprintf("busy-%d", i)).Queue.BrokerName).To(Equal("cf_calm"))
			}
			Expect(p.FaultTable().Available("cf_busy")).To(BeFalse(), "a broker answering SYSTEM_BUSY is avoided for a while")

			// Recovery: the held send completes, and a producer without the
			// first one's backoff memory is served by the broker again.
			stall.Release()
			var res *remoting.Command
			Eventually(ctx, stalled).Should(Receive(&res))
			Expect(res.Code).To(Equal(remoting.Success))
			offsets = append(offsets, offsetIDOf(res))
			fresh, err := producer.New(producer.WithNameServers(c.Namesrv), producer.WithGroup(env.Name("cf_pg")))
			Expect(err).NotTo(HaveOccurred())
			DeferCleanup(func(ctx SpecContext) { fresh.Shutdown(ctx) }, NodeTimeout(env.Timeout(10*time.Second)))
			eventually(ctx, func() string { return send(fresh, fmt.Sprintf("after-%d", len(acked))).Queue.BrokerName }).Should(Equal("cf_busy"))

			// Every acknowledged message is where its result says; nothing
			// shed was stored (busy holds exactly what it acknowledged).
			for body, r := range acked {
				Expect(viewAt(ctx, rc, addr[r.Queue.BrokerName], topic, r.OffsetMsgID)).To(Equal(body), "acknowledged %s lost", body)
			}
			for _, id := range offsets {
				Expect(id).NotTo(BeEmpty())
			}
			onBusy := len(offsets)
			for _, r := range acked {
				if r.Queue.BrokerName == "cf_busy" {
					onBusy++
				}
			}
			Expect(storedCount(ctx, rc, addr["cf_busy"], topic, 4)).To(Equal(int64(onBusy)), "a send answered SYSTEM_BUSY was stored")
		}, SpecTimeout(env.Timeout(short)))
	})
}

// offsetIDOf is the offset message id of a raw send's answer.
func offsetIDOf(resp *remoting.Command) string {
	var h remoting.SendMessageResponseHeader
	Expect(resp.DecodeHeader(&h)).To(Succeed())
	return h.MsgID
}

// storedCount sums the queue lengths of topic on the broker at addr.
func storedCount(ctx context.Context, rc *netclient.Client, addr, topic string, queues int) int64 {
	var n int64
	for q := range queues {
		resp, err := rc.InvokeSync(ctx, addr, remoting.NewRequest(remoting.GetMaxOffset, &remoting.GetMaxOffsetRequestHeader{Topic: topic, QueueID: int32(q), Committed: true}, nil))
		Expect(err).NotTo(HaveOccurred())
		Expect(resp.Code).To(Equal(remoting.Success))
		var h remoting.OffsetResponseHeader
		Expect(resp.DecodeHeader(&h)).To(Succeed())
		n += h.Offset
	}
	return n
}
