//go:build !race

// The official Go client has data races of its own, so this runs in the
// race-free pass of .ci/run (go test -run Official ./...).

package namesrv_test

import (
	"sync"
	"testing"

	"github.com/rocketgo/rocketgo/server/transport"

	"github.com/apache/rocketmq-client-go/v2/admin"
	"github.com/apache/rocketmq-client-go/v2/primitive"
	"github.com/apache/rocketmq-client-go/v2/producer"
	"github.com/apache/rocketmq-client-go/v2/rlog"

	"github.com/rocketgo/rocketgo/remoting"
)

// fakeBroker answers SEND_MESSAGE and HEART_BEAT like a broker would and
// records the topics it was sent, so a test can prove that the official
// client found the broker through our name server.
type fakeBroker struct {
	rs     *transport.Server
	mu     sync.Mutex
	topics []string
}

func startFakeBroker(t *testing.T) *fakeBroker {
	t.Helper()
	fb := &fakeBroker{rs: transport.NewServer("127.0.0.1:0")}
	fb.rs.Handle(remoting.SendMessage, func(rc *transport.RequestContext, req *remoting.Command) {
		topic, _ := req.Ext.Get("topic")
		queueID, _ := req.Ext.Get("queueId")
		fb.mu.Lock()
		fb.topics = append(fb.topics, topic)
		fb.mu.Unlock()
		resp := remoting.NewResponse(req, remoting.Success, "")
		resp.Ext.Set("msgId", "7F00000100002A9F0000000000000000")
		resp.Ext.Set("queueId", queueID)
		resp.Ext.Set("queueOffset", "0")
		_ = rc.Reply(resp)
	})
	fb.rs.Handle(remoting.HeartBeat, func(rc *transport.RequestContext, req *remoting.Command) {
		_ = rc.Reply(remoting.NewResponse(req, remoting.Success, ""))
	})
	if err := fb.rs.Start(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = fb.rs.Shutdown(ctxT(t)) })
	return fb
}

func (fb *fakeBroker) received() []string {
	fb.mu.Lock()
	defer fb.mu.Unlock()
	return append([]string(nil), fb.topics...)
}

// TestOfficialGoClient proves interop with the unmodified official Go client
// v2.1.2: its admin API lists the publish queues of a topic a (simulated)
// broker registered with us, and its producer resolves the route and sends
// to the broker the route names.
func TestOfficialGoClient(t *testing.T) {
	rlog.SetLogLevel("warn") // the official client logs to stderr by default
	s := startServer(t)
	fb := startFakeBroker(t)
	brokerAddr := fb.rs.Addr().String()

	rc := newRemotingClient(t)
	c := newNSClient(t, rc, s.Addr())
	mustRegister(t, c, brokerReq("DefaultCluster", "broker-a", brokerAddr, 0, 1, "InteropTopic"))

	adm, err := admin.NewAdmin(admin.WithResolver(primitive.NewPassthroughResolver([]string{s.Addr()})))
	if err != nil {
		t.Fatal(err)
	}
	defer adm.Close()
	mqs, err := adm.FetchPublishMessageQueues(ctxT(t), "InteropTopic")
	if err != nil {
		t.Fatalf("official admin FetchPublishMessageQueues: %v", err)
	}
	if len(mqs) != 4 {
		t.Fatalf("official admin saw %d queues, want 4: %v", len(mqs), mqs)
	}
	for i, mq := range mqs {
		if mq.Topic != "InteropTopic" || mq.BrokerName != "broker-a" || mq.QueueId < 0 || mq.QueueId > 3 {
			t.Fatalf("queue %d: %+v", i, mq)
		}
	}
	list, err := adm.FetchAllTopicList(ctxT(t))
	if err != nil || len(list.TopicList) != 1 || list.TopicList[0] != "InteropTopic" {
		t.Fatalf("official admin topic list %+v %v", list, err)
	}

	p, err := producer.NewDefaultProducer(
		producer.WithNameServer(primitive.NamesrvAddr{s.Addr()}),
		producer.WithGroupName("namesrv-interop"),
		producer.WithInstanceName("namesrv-interop"),
		producer.WithRetry(1),
	)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	defer p.Shutdown()
	res, err := p.SendSync(ctxT(t), primitive.NewMessage("InteropTopic", []byte("hello")))
	if err != nil {
		t.Fatalf("official producer SendSync: %v", err)
	}
	if res.Status != primitive.SendOK || res.MessageQueue.BrokerName != "broker-a" {
		t.Fatalf("send result %v", res)
	}
	if got := fb.received(); len(got) != 1 || got[0] != "InteropTopic" {
		t.Fatalf("fake broker received %v", got)
	}
}
