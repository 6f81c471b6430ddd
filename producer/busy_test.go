package producer

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/rocketgo/rocketgo/internal/nsclient"
	"github.com/rocketgo/rocketgo/message"
	"github.com/rocketgo/rocketgo/remoting"
	"github.com/rocketgo/rocketgo/remoting/wire"
	"github.com/rocketgo/rocketgo/server/broker"
	"github.com/rocketgo/rocketgo/server/embedded"
	"github.com/rocketgo/rocketgo/server/store"
)

// appendStall blocks the next append of a store inside its commit-log lock
// once armed, until released: a page cache that cannot keep up.
type appendStall struct {
	mu      sync.Mutex
	slow    time.Duration // the next append holds the lock this long
	armed   bool
	entered chan struct{}
	release chan struct{}
	once    sync.Once
}

func (s *appendStall) hook() {
	s.mu.Lock()
	armed, slow := s.armed, s.slow
	s.armed, s.slow = false, 0
	s.mu.Unlock()
	time.Sleep(slow) // the fault itself, not a wait
	if armed {
		s.entered <- struct{}{}
		<-s.release
	}
}

func (s *appendStall) arm() {
	s.mu.Lock()
	s.armed = true
	s.mu.Unlock()
}

func (s *appendStall) slowOnce(d time.Duration) {
	s.mu.Lock()
	s.slow = d
	s.mu.Unlock()
}

func (s *appendStall) open() { s.once.Do(func() { close(s.release) }) }

// TestSystemBusyMovesToAnotherBroker: broker-b's store stalls, so broker-b
// sheds sends with SYSTEM_BUSY; the producer retries every one on broker-a,
// keeps broker-b in backoff, and uses it again once its store recovered
// and the backoff is over. Every acknowledged message is stored exactly
// where the result says.
func TestSystemBusyMovesToAnotherBroker(t *testing.T) {
	const topic = "BUSY"
	srv := startServer(t)
	rc := newRC(t)
	ctx := testCtx(t)

	st := &appendStall{entered: make(chan struct{}, 1), release: make(chan struct{})}
	bc := embedded.SmallConfig(t.TempDir())
	bc.BrokerName = "broker-b"
	bc.ListenHost, bc.ListenPort, bc.NamesrvAddr = "127.0.0.1", 0, ""
	bc.SendMessageThreadPoolNums = 1
	bc.OsPageCacheBusyTimeOutMills = 100 * time.Millisecond
	bb, err := broker.New(bc, broker.WithStoreOptions(store.WithAppendStall(st.hook)))
	if err != nil {
		t.Fatal(err)
	}
	if err := bb.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { bb.Shutdown(context.Background()) })
	t.Cleanup(st.open) // runs first: the shutdown waits for the stalled worker
	createTopic(t, rc, srv.BrokerAddr(), topic, 4)
	createTopic(t, rc, bb.Addr(), topic, 4)
	ns, err := nsclient.New(rc, srv.NamesrvAddr())
	if err != nil {
		t.Fatal(err)
	}
	results, err := ns.RegisterBroker(ctx, nsclient.RegisterBrokerRequest{
		ClusterName: "DefaultCluster", BrokerName: "broker-b", BrokerAddr: bb.Addr(), BrokerID: 0,
		DataVersion: wire.DataVersion{Timestamp: time.Now().UnixMilli(), Counter: 1},
		Topics:      []wire.TopicConfig{{TopicName: topic, ReadQueueNums: 4, WriteQueueNums: 4, Perm: 6}},
	})
	if err != nil || results[0].Err != nil {
		t.Fatalf("register broker-b: %v %v", err, results)
	}

	clk := &fakeClock{now: time.Now()}
	p := newProducer(t, srv, WithGroup("PG_BUSY"), withFaultClock(clk.Now), WithSelector(preferB))
	acked := map[string]string{} // body → broker
	send := func(body string) string {
		t.Helper()
		r, err := p.SendSync(ctx, message.New(topic, []byte(body)))
		if err != nil {
			t.Fatalf("send %s: %v", body, err)
		}
		acked[body] = r.Queue.BrokerName
		return r.Queue.BrokerName
	}
	for deadline := time.Now().Add(10 * time.Second); send("warm") != "broker-b"; {
		if time.Now().After(deadline) {
			t.Fatal("the route never offered broker-b")
		}
		time.Sleep(50 * time.Millisecond)
	}

	// A slow append (300 ms) makes broker-b keep sends off its event loops
	// (it serves them inline only while appends are fast), so that the
	// stall below holds a send worker, as upstream's would.
	st.slowOnce(300 * time.Millisecond)
	if resp, err := rc.InvokeSync(ctx, bb.Addr(), remoting.NewRequest(remoting.SendMessage, &remoting.SendMessageRequestHeader{
		ProducerGroup: "PG_BUSY", Topic: topic, QueueID: 0, BornTimestamp: time.Now().UnixMilli(),
	}, []byte("slow"))); err != nil || resp.Code != remoting.Success {
		t.Fatalf("slow send: %+v %v", resp, err)
	}
	acked["slow"] = "broker-b"

	// One append stalls broker-b's store; past osPageCacheBusyTimeOutMills
	// broker-b answers every send SYSTEM_BUSY.
	st.arm()
	stalled := make(chan *remoting.Command, 1)
	go func() {
		resp, err := rc.InvokeSync(ctx, bb.Addr(), remoting.NewRequest(remoting.SendMessage, &remoting.SendMessageRequestHeader{
			ProducerGroup: "PG_BUSY", Topic: topic, QueueID: 0, BornTimestamp: time.Now().UnixMilli(),
		}, []byte("stalled")))
		if err != nil {
			t.Errorf("stalled send: %v", err)
		}
		stalled <- resp
	}()
	<-st.entered
	stallBegan := time.Now()
	for time.Since(stallBegan) <= bc.OsPageCacheBusyTimeOutMills {
		time.Sleep(10 * time.Millisecond)
	}
	direct, err := rc.InvokeSync(ctx, bb.Addr(), remoting.NewRequest(remoting.SendMessage, &remoting.SendMessageRequestHeader{
		ProducerGroup: "PG_BUSY", Topic: topic, QueueID: 1, BornTimestamp: time.Now().UnixMilli(),
	}, []byte("shed")))
	if err != nil || direct.Code != remoting.SystemBusy {
		t.Fatalf("broker-b during the stall: %+v %v", direct, err)
	}
	for i := range 10 {
		if b := send(fmt.Sprintf("busy-%d", i)); b != "broker-a" {
			t.Fatalf("send %d during the stall went to %s", i, b)
		}
	}
	if p.FaultTable().Available("broker-b") {
		t.Fatal("broker-b not in backoff after answering SYSTEM_BUSY")
	}

	// The store recovers; once the backoff is over broker-b takes sends again.
	st.open()
	if resp := <-stalled; resp == nil || resp.Code != remoting.Success {
		t.Fatalf("the stalled send: %+v", resp)
	}
	acked["stalled"] = "broker-b"
	clk.Advance(time.Hour)
	if b := send("recovered"); b != "broker-b" {
		t.Fatalf("after recovery the send went to %s", b)
	}

	// No acknowledged message lost, none shed stored.
	stored := map[string]string{}
	for name, addr := range map[string]string{"broker-a": srv.BrokerAddr(), "broker-b": bb.Addr()} {
		for q := range 4 {
			for off := int64(0); ; {
				msgs, next := pull(t, rc, addr, topic, q, off)
				if len(msgs) == 0 {
					break
				}
				for _, m := range msgs {
					stored[string(m.Body)] = name
				}
				off = next
			}
		}
	}
	if _, ok := stored["shed"]; ok {
		t.Fatal("a send answered SYSTEM_BUSY was stored")
	}
	for body, b := range acked {
		if stored[body] != b {
			t.Fatalf("acknowledged %q by %s, stored on %q", body, b, stored[body])
		}
	}
}
