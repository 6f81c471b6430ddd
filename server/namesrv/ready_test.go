package namesrv

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/rocketgo/rocketgo/remoting"
)

// waitHeld polls until the gate holds n requests.
func waitHeld(t *testing.T, s *Server, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for s.gate.pending() != n {
		if time.Now().After(deadline) {
			t.Fatalf("held requests: %d, want %d", s.gate.pending(), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestHoldUntilBrokerRegisteredAnswersFromTheRoutes(t *testing.T) {
	s := startServer(t, WithHoldUntilBrokerRegistered())
	if s.Ready() {
		t.Fatal("ready before any broker registered")
	}
	client := newNSClient(t, newRemotingClient(t), s.Addr())
	type answer struct {
		brokers int
		err     error
	}
	got := make(chan answer, 1)
	go func() {
		r, err := client.Route(ctxT(t), "orders")
		a := answer{err: err}
		if r != nil {
			a.brokers = len(r.BrokerDatas)
		}
		got <- a
	}()
	waitHeld(t, s, 1)
	select {
	case a := <-got:
		t.Fatalf("route answered before the broker registered: %+v", a)
	default:
	}

	// The broker's own requests pass the gate: its registration opens it.
	broker := newNSClient(t, newRemotingClient(t), s.Addr())
	mustRegister(t, broker, brokerReq("c", "b", "127.0.0.1:10911", 0, 1, "orders"))
	a := <-got
	if a.err != nil || a.brokers != 1 {
		t.Fatalf("held route: %d brokers, err %v; want the registered broker", a.brokers, a.err)
	}
	if !s.Ready() || s.gate.pending() != 0 {
		t.Fatalf("after registration: ready %v, held %d", s.Ready(), s.gate.pending())
	}
	// Later requests are answered at once, including a missing topic.
	if _, err := client.Route(ctxT(t), "missing"); !errors.Is(err, remoting.ErrTopicNotExist) {
		t.Fatalf("route of a missing topic: %v, want TOPIC_NOT_EXIST", err)
	}
}

func TestHoldUntilBrokerRegisteredIsBounded(t *testing.T) {
	s := startServer(t, WithHoldUntilBrokerRegistered())
	s.gate.max = 1
	rc := newRemotingClient(t)
	first := make(chan error, 1)
	go func() {
		_, err := newNSClient(t, rc, s.Addr()).ClusterInfo(ctxT(t))
		first <- err
	}()
	waitHeld(t, s, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := newNSClient(t, rc, s.Addr()).ClusterInfo(ctx); !errors.Is(err, remoting.ErrSystemBusy) {
		t.Fatalf("request beyond the bound: %v, want SYSTEM_BUSY", err)
	}
	mustRegister(t, newNSClient(t, newRemotingClient(t), s.Addr()), brokerReq("c", "b", "127.0.0.1:10911", 0, 1, "orders"))
	if err := <-first; err != nil {
		t.Fatalf("held request: %v", err)
	}
}

func TestWithoutHoldClientsAreAnsweredAtOnce(t *testing.T) {
	s := startServer(t)
	if !s.Ready() {
		t.Fatal("an ungated name server must be ready")
	}
	if _, err := newNSClient(t, newRemotingClient(t), s.Addr()).Route(ctxT(t), "orders"); !errors.Is(err, remoting.ErrTopicNotExist) {
		t.Fatalf("route: %v, want TOPIC_NOT_EXIST", err)
	}
}
