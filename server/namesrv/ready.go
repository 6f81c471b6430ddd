package namesrv

import (
	"sync"
	"sync/atomic"

	"github.com/rocketgo/rocketgo/remoting"
	"github.com/rocketgo/rocketgo/server/transport"
)

// defaultMaxHeld bounds the client requests a gated name server parks while
// it waits for its first broker: enough for every client of a development
// machine starting at once, small enough that a client flooding a
// not-yet-ready server costs a few MB at most.
const defaultMaxHeld = 4096

// readyGate holds client requests until the first broker registers. A name
// server that answered them earlier would tell a client started together
// with its broker that TBW102 or the client's topic does not exist; held,
// the request is answered from the registered routes a moment later,
// within the client's own timeout.
type readyGate struct {
	open atomic.Bool // read on every request once open, so no lock then
	max  int

	mu   sync.Mutex
	held []heldRequest // guarded by mu; nil once open
}

type heldRequest struct {
	rc *transport.RequestContext
	h  handler
}

// brokerFacing lists the codes brokers send. They are never held: the
// registration they carry is what opens the gate.
func brokerFacing(code int16) bool {
	switch code {
	case remoting.RegisterBroker, remoting.UnregisterBroker, remoting.BrokerHeartbeat, remoting.QueryDataVersion:
		return true
	}
	return false
}

// admit reports whether the request may be answered now. Otherwise the
// request is parked until openNow, or, when too many wait already,
// answered SYSTEM_BUSY so the client retries.
func (g *readyGate) admit(rc *transport.RequestContext, h handler) bool {
	if g.open.Load() {
		return true
	}
	g.mu.Lock()
	if g.open.Load() {
		g.mu.Unlock()
		return true
	}
	if len(g.held) >= g.max {
		g.mu.Unlock()
		_ = rc.Reply(remoting.NewResponse(rc.Request(), remoting.SystemBusy,
			"name server not ready: waiting for its broker to register"))
		return false
	}
	rc.MarkParked()
	g.held = append(g.held, heldRequest{rc: rc, h: h})
	g.mu.Unlock()
	return false
}

// openNow lets every later request through and answers the held ones, in
// arrival order. It returns how many were held; calls after the first
// return 0.
func (g *readyGate) openNow() int {
	if g.open.Load() {
		return 0
	}
	g.mu.Lock()
	if g.open.Load() {
		g.mu.Unlock()
		return 0
	}
	held := g.held
	g.held = nil
	g.open.Store(true)
	g.mu.Unlock()
	for _, r := range held {
		// A reply fails only when the client has gone; nothing to tell.
		_ = r.rc.Reply(r.h(r.rc.Conn(), r.rc.Request()))
	}
	return len(held)
}

// pending is the number of held requests (tests).
func (g *readyGate) pending() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.held)
}
