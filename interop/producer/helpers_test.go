package producer_test

import (
	"context"
	"errors"
	. "github.com/rocketgo/rocketgo/producer"
	"testing"
	"time"

	"github.com/rocketgo/rocketgo/remoting/netclient"

	"github.com/rocketgo/rocketgo/internal/nsclient"
	"github.com/rocketgo/rocketgo/message"
	"github.com/rocketgo/rocketgo/remoting"
	"github.com/rocketgo/rocketgo/server/broker"
	"github.com/rocketgo/rocketgo/server/embedded"
	"github.com/rocketgo/rocketgo/server/embedded/embeddedtest"
)

// startServer starts an embedded server whose transaction check runs
// quickly enough for tests.
func startServer(t testing.TB, mod ...func(*broker.Config)) *embedded.Server {
	t.Helper()
	fast := func(bc *broker.Config) {
		bc.TransactionTimeOut = 300 * time.Millisecond
		bc.TransactionCheckInterval = 200 * time.Millisecond
	}
	return embeddedtest.Start(t, append([]func(*broker.Config){fast}, mod...)...)
}

func testCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func newProducer(t testing.TB, srv *embedded.Server, opts ...Option) *Producer {
	t.Helper()
	p, err := New(append([]Option{WithNameServers(srv.NamesrvAddr())}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Shutdown(context.Background()) })
	return p
}

// createTopic creates topic with n queues on the broker at addr.
func createTopic(t testing.TB, rc *netclient.Client, addr, topic string, n int32) {
	t.Helper()
	resp, err := rc.InvokeSync(testCtx(t), addr, remoting.NewRequest(remoting.UpdateAndCreateTopic, &remoting.CreateTopicRequestHeader{
		Topic: topic, DefaultTopic: "TBW102", ReadQueueNums: n, WriteQueueNums: n, Perm: 6, TopicFilterType: "SINGLE_TAG",
	}, nil))
	if err != nil || resp.Code != remoting.Success {
		t.Fatalf("create topic %s on %s: %v %v", topic, addr, err, resp)
	}
}

// createTopicWait creates topic on srv's broker and waits until the name
// server serves its own route (not the TBW102 fallback), so that producers
// see the real queue count.
func createTopicWait(t testing.TB, rc *netclient.Client, srv *embedded.Server, topic string, n int32) {
	t.Helper()
	createTopic(t, rc, srv.BrokerAddr(), topic, n)
	ns, err := nsclient.New(rc, srv.NamesrvAddr())
	if err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); ; {
		if r, err := ns.Route(testCtx(t), topic); err == nil && len(r.QueueDatas) > 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no route for %s", topic)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// pull reads one queue from offset with a throwaway group.
func pull(t testing.TB, rc *netclient.Client, addr, topic string, queueID int, offset int64) ([]*message.MessageExt, int64) {
	t.Helper()
	resp, err := rc.InvokeSync(testCtx(t), addr, remoting.NewRequest(remoting.PullMessage, &remoting.PullMessageRequestHeader{
		ConsumerGroup: "producer_test_reader", Topic: topic, QueueID: int32(queueID), QueueOffset: offset,
		MaxMsgNums: 32, SysFlag: remoting.PullFlagSubscription, Subscription: "*", ExpressionType: "TAG",
	}, nil))
	if err != nil {
		t.Fatal(err)
	}
	next := offset
	if v, ok := resp.Ext.Get("nextBeginOffset"); ok {
		var n int64
		for _, c := range v {
			n = n*10 + int64(c-'0')
		}
		next = n
	}
	if resp.Code != remoting.Success {
		return nil, next
	}
	msgs, err := message.DecodeMessages(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return msgs, next
}

// pullAll reads every message currently in topic's queues 0..n-1.
func pullAll(t testing.TB, rc *netclient.Client, addr, topic string, n int) []*message.MessageExt {
	t.Helper()
	var out []*message.MessageExt
	for q := 0; q < n; q++ {
		off := int64(0)
		for {
			msgs, next := pull(t, rc, addr, topic, q, off)
			out = append(out, msgs...)
			if len(msgs) == 0 || next == off {
				break
			}
			off = next
		}
	}
	return out
}

// waitMessages polls until want messages are in topic, or fails.
func waitMessages(t testing.TB, rc *netclient.Client, addr, topic string, queues, want int, within time.Duration) []*message.MessageExt {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		msgs := pullAll(t, rc, addr, topic, queues)
		if len(msgs) >= want {
			return msgs
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %d of %d messages after %s", topic, len(msgs), want, within)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func newRC(t testing.TB) *netclient.Client {
	rc := netclient.New()
	t.Cleanup(func() { rc.Close() })
	return rc
}

func isErr(err, target error) bool { return errors.Is(err, target) }
