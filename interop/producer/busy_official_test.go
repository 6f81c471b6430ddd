//go:build !race

package producer_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	rocketmq "github.com/apache/rocketmq-client-go/v2"
	"github.com/apache/rocketmq-client-go/v2/primitive"
	officialproducer "github.com/apache/rocketmq-client-go/v2/producer"
	"github.com/apache/rocketmq-client-go/v2/rlog"

	"github.com/rocketgo/rocketgo/internal/nsclient"
	"github.com/rocketgo/rocketgo/remoting"
	"github.com/rocketgo/rocketgo/server/broker"
	"github.com/rocketgo/rocketgo/server/embedded"
	"github.com/rocketgo/rocketgo/server/store"
)

// officialStall blocks broker-b's next append inside the commit-log lock
// once armed (a page cache that stopped taking writes); slow makes the next
// append hold the lock that long instead.
type officialStall struct {
	mu      sync.Mutex
	slow    time.Duration
	armed   bool
	entered chan struct{}
	release chan struct{}
	once    sync.Once
}

func (s *officialStall) hook() {
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

func (s *officialStall) set(slow time.Duration, armed bool) {
	s.mu.Lock()
	s.slow, s.armed = slow, armed
	s.mu.Unlock()
}

func (s *officialStall) open() { s.once.Do(func() { close(s.release) }) }

// TestOfficialProducerAgainstBusyBroker: the official v2.1.2 producer sends
// to two brokers while broker-b's store is stalled. broker-b answers
// SYSTEM_BUSY and stores nothing. The official client does not retry that
// code itself (its needRetryCode covers TOPIC_NOT_EXIST,
// SERVICE_NOT_AVAILABLE, SYSTEM_ERROR and NO_PERMISSION only, on v2.1.2 as
// on master), so SendSync returns "CODE: 2" to the application, and the
// application's next SendSync goes to the next queue in the official
// client's round robin and succeeds on broker-a. Once the store recovers,
// broker-b takes sends again. Every acknowledged message is stored exactly
// once, on the broker its result names.
func TestOfficialProducerAgainstBusyBroker(t *testing.T) {
	rlog.SetLogLevel("fatal")
	const topic = "OfficialBusy"
	srv := startServer(t)
	rc := newRC(t)
	ctx := testCtx(t)

	st := &officialStall{entered: make(chan struct{}, 1), release: make(chan struct{})}
	bc := embedded.SmallConfig(t.TempDir())
	bc.BrokerName = "broker-b"
	bc.ListenHost, bc.ListenPort, bc.NamesrvAddr = "127.0.0.1", 0, srv.NamesrvAddr()
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
	for deadline := time.Now().Add(15 * time.Second); ; {
		if r, err := ns.Route(ctx, topic); err == nil && len(r.QueueDatas) == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the name server never routed the topic to both brokers")
		}
		time.Sleep(20 * time.Millisecond)
	}

	p, err := rocketmq.NewProducer(
		officialproducer.WithNsResolver(primitive.NewPassthroughResolver([]string{srv.NamesrvAddr()})),
		officialproducer.WithGroupName("official-busy-pg"),
		officialproducer.WithRetry(2),
	)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Shutdown() })

	acked := map[string]string{} // body → broker
	busyErrors := 0
	// sendUntilStored sends body until a SendSync succeeds (an application
	// retry: the official client does not retry SYSTEM_BUSY), and returns
	// the broker that stored it.
	sendUntilStored := func(body string) string {
		t.Helper()
		for range 12 {
			r, err := p.SendSync(ctx, primitive.NewMessage(topic, []byte(body)))
			if err == nil && r.Status == primitive.SendOK {
				acked[body] = r.MessageQueue.BrokerName
				return r.MessageQueue.BrokerName
			}
			if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("CODE: %d", remoting.SystemBusy)) {
				t.Fatalf("send %s: %v %v, want success or SYSTEM_BUSY", body, r, err)
			}
			busyErrors++
		}
		t.Fatalf("send %s: SYSTEM_BUSY 12 times in a row", body)
		return ""
	}
	for i := 0; sendUntilStored(fmt.Sprintf("warm-%d", i)) != "broker-b"; i++ {
		if i == 20 {
			t.Fatal("the official producer never chose broker-b")
		}
	}
	if busyErrors != 0 {
		t.Fatalf("%d SYSTEM_BUSY answers from healthy brokers", busyErrors)
	}

	// A slow append (300 ms) keeps broker-b's sends off its event loops, so
	// that the stall below holds a send worker; then one append stalls and,
	// past osPageCacheBusyTimeOutMills, broker-b sheds every send.
	direct := func(body string) (*remoting.Command, error) {
		return rc.InvokeSync(ctx, bb.Addr(), remoting.NewRequest(remoting.SendMessage, &remoting.SendMessageRequestHeader{
			ProducerGroup: "official-busy-pg", Topic: topic, QueueID: 0, BornTimestamp: time.Now().UnixMilli(),
		}, []byte(body)))
	}
	st.set(300*time.Millisecond, false)
	if resp, err := direct("slow"); err != nil || resp.Code != remoting.Success {
		t.Fatalf("slow send: %+v %v", resp, err)
	}
	acked["slow"] = "broker-b"
	st.set(0, true)
	stalled := make(chan *remoting.Command, 1)
	go func() {
		resp, err := direct("stalled")
		if err != nil {
			t.Errorf("stalled send: %v", err)
		}
		stalled <- resp
	}()
	<-st.entered
	for began := time.Now(); time.Since(began) <= bc.OsPageCacheBusyTimeOutMills; {
		time.Sleep(10 * time.Millisecond)
	}
	shed := map[string]bool{}
	for i := range 12 {
		body := fmt.Sprintf("busy-%d", i)
		before := busyErrors
		if b := sendUntilStored(body); b != "broker-a" {
			t.Fatalf("%s stored on %s during the stall", body, b)
		}
		if busyErrors > before {
			shed[body] = true
		}
	}
	if len(shed) == 0 {
		t.Fatal("no send met broker-b's SYSTEM_BUSY during the stall: the round robin never chose it")
	}

	// Recovery: broker-b stores again.
	st.open()
	if resp := <-stalled; resp == nil || resp.Code != remoting.Success {
		t.Fatalf("the stalled send: %+v", resp)
	}
	acked["stalled"] = "broker-b"
	recovered := false
	for i := range 16 {
		if sendUntilStored(fmt.Sprintf("after-%d", i)) == "broker-b" {
			recovered = true
			break
		}
	}
	if !recovered {
		t.Fatal("broker-b took no send after its store recovered")
	}

	// Every acknowledged message stored exactly once, where the result said.
	count := map[string]int{}
	where := map[string]string{}
	for name, addr := range map[string]string{"broker-a": srv.BrokerAddr(), "broker-b": bb.Addr()} {
		for _, m := range pullAll(t, rc, addr, topic, 4) {
			count[string(m.Body)]++
			where[string(m.Body)] = name
		}
	}
	for body, b := range acked {
		if count[body] != 1 || where[body] != b {
			t.Fatalf("acknowledged %q by %s: stored %d times, on %q", body, b, count[body], where[body])
		}
	}
	if len(count) != len(acked) {
		t.Fatalf("%d bodies stored, %d acknowledged: a shed send was stored", len(count), len(acked))
	}
	t.Logf("%d SYSTEM_BUSY answers to the official producer; %d of 12 messages met one before landing on broker-a", busyErrors, len(shed))
}
