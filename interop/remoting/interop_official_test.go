//go:build !race

// The official Go client has data races of its own (rocketmq-client-go
// #568, #790), so this runs in the race-free pass of .ci/run
// (go test -run Official ./...).

package remoting_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/rocketgo/rocketgo/remoting"

	rocketmq "github.com/apache/rocketmq-client-go/v2"
	"github.com/apache/rocketmq-client-go/v2/primitive"
	"github.com/apache/rocketmq-client-go/v2/producer"
	"github.com/apache/rocketmq-client-go/v2/rlog"
)

// TestInteropOfficialGoProducer drives the unmodified rocketmq-client-go
// v2.1.2 producer against our Server: route lookup (105), send (10) and the
// reply's msgId/queueId/queueOffset must all be understood by it.
func TestInteropOfficialGoProducer(t *testing.T) {
	rlog.SetLogLevel("fatal") // the official client logs through a global logrus; its shutdown is noisy
	is := startInteropServer(t)
	addr := *is.addr.Load()

	p, err := rocketmq.NewProducer(
		producer.WithNameServer([]string{addr}),
		producer.WithGroupName("interop_pg"),
		producer.WithRetry(1),
	)
	if err != nil {
		t.Fatalf("NewProducer: %v", err)
	}
	if err := p.Start(); err != nil {
		t.Fatalf("producer Start: %v", err)
	}
	defer func() {
		if err := p.Shutdown(); err != nil {
			t.Errorf("producer Shutdown: %v", err)
		}
	}()

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	msg := primitive.NewMessage("InteropTopic", []byte("hello from the official client"))
	res, err := p.SendSync(ctx, msg)
	if err != nil {
		t.Fatalf("SendSync: %v", err)
	}
	if res.Status != primitive.SendOK {
		t.Errorf("status %v, want SendOK", res.Status)
	}
	if len(res.OffsetMsgID) != 32 {
		t.Errorf("offset msg id %q, want 32 hex digits", res.OffsetMsgID)
	}
	if res.MessageQueue == nil || res.MessageQueue.BrokerName != "b" || res.MessageQueue.Topic != "InteropTopic" {
		t.Errorf("message queue %v", res.MessageQueue)
	}
	bodies, topics := is.snapshot()
	if len(bodies) != 1 || string(bodies[0]) != "hello from the official client" || topics[0] != "InteropTopic" {
		t.Errorf("server saw bodies %q topics %q", bodies, topics)
	}

	// Broker → client on the producer's own connection: the official client
	// answers GET_CONSUMER_RUNNING_INFO for an unknown client id with
	// SYSTEM_ERROR and a remark naming it, matched back to us by opaque.
	conn := is.senderConn.Load()
	if conn == nil {
		t.Fatal("no connection recorded for the send")
	}
	q := remoting.NewRequest(remoting.GetConsumerRunningInfo, nil, nil)
	q.Ext.Set("consumerGroup", "CG")
	q.Ext.Set("clientId", "no-such-client")
	resp, err := conn.Invoke(ctx, q)
	if err != nil {
		t.Fatalf("server → official client invoke: %v", err)
	}
	if resp.Code != remoting.SystemError || !strings.Contains(resp.Remark, "no-such-client") {
		t.Errorf("official client answered %v", resp)
	}
}

// TestInteropOurClientBothSerializations runs the same route/send/heartbeat
// exchange with our Client in JSON and ROCKETMQ encodings, and shows a
// broker → client GET_CONSUMER_RUNNING_INFO answered by our registered
// handler on the same connection.
