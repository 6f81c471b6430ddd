// Package inflight tracks the requests a connection has sent and not yet
// seen answered: the table from opaque to waiting call, the rule that
// whoever withdraws a call completes it, and waiting with a deadline. Both
// the client transport (remoting/netclient) and the server transport
// (server/transport, for broker→client requests) use it, so the two share
// one implementation of the subtle part without either importing the other.
package inflight

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/rocketgo/rocketgo/remoting"
)

// Call is one outstanding request waiting for its response. Whoever removes
// it from its Table owns its completion; that single rule makes "the
// callback runs exactly once" hold across response, timeout and close.
type Call struct {
	Done  chan struct{} // sync calls: receives one value on completion
	Resp  *remoting.Command
	Err   error
	timer *time.Timer // sync calls: default-timeout timer, reused with the call

	// Async calls only.
	Callback func(*remoting.Command, error)
	Stop     func() // releases the timeout / cancellation hooks
}

// Pools recycles per-request objects. Each transport instance owns one
// (rather than a package-level pool) so instances share no mutable state.
type Pools struct {
	calls sync.Pool // *Call
	bufs  sync.Pool // *[]byte encode buffers
}

// GetCall returns a sync call with a one-slot Done channel.
func (p *Pools) GetCall() *Call {
	if c, ok := p.calls.Get().(*Call); ok {
		return c
	}
	return &Call{Done: make(chan struct{}, 1)}
}

// PutCall recycles a sync call; its Done channel must have been drained.
func (p *Pools) PutCall(c *Call) {
	c.Resp, c.Err, c.Callback, c.Stop = nil, nil, nil, nil
	p.calls.Put(c)
}

// maxPooledBuf: buffers that grew past it (big message bodies) are dropped so
// a burst of large frames does not pin memory.
const maxPooledBuf = 1 << 20

// GetBuf returns an empty encode buffer.
func (p *Pools) GetBuf() *[]byte {
	if b, ok := p.bufs.Get().(*[]byte); ok {
		return b
	}
	b := make([]byte, 0, 4096)
	return &b
}

// PutBuf recycles an encode buffer unless it grew too large.
func (p *Pools) PutBuf(b *[]byte) {
	if cap(*b) > maxPooledBuf {
		return
	}
	*b = (*b)[:0]
	p.bufs.Put(b)
}

// Table maps opaques to outstanding calls of one connection.
type Table struct {
	mu     sync.Mutex
	calls  map[int32]*Call
	closed error // set once the connection is gone; refuses new entries
}

// Add publishes c under opaque, or returns the close reason if the
// connection is gone.
func (t *Table) Add(opaque int32, c *Call) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed != nil {
		return t.closed
	}
	if t.calls == nil {
		t.calls = make(map[int32]*Call)
	}
	t.calls[opaque] = c
	return nil
}

// Remove withdraws the call under opaque; the caller owns a non-nil result.
func (t *Table) Remove(opaque int32) *Call {
	t.mu.Lock()
	c := t.calls[opaque]
	if c != nil {
		delete(t.calls, opaque)
	}
	t.mu.Unlock()
	return c
}

// Len reports how many calls are outstanding.
func (t *Table) Len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.calls)
}

// CloseAll refuses further entries and returns every outstanding call so the
// caller can fail them outside the lock.
func (t *Table) CloseAll(reason error) []*Call {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed == nil {
		t.closed = reason
	}
	out := make([]*Call, 0, len(t.calls))
	for op, c := range t.calls {
		out = append(out, c)
		delete(t.calls, op)
	}
	return out
}

// DetachBody copies a decoded body out of the read buffer it aliases so the
// buffer can be reused for the next read.
func DetachBody(cmd *remoting.Command) {
	if len(cmd.Body) > 0 {
		cmd.Body = append([]byte(nil), cmd.Body...)
	}
}

// Await waits for a sync call published under opaque in t. Without a ctx
// deadline it applies defaultTimeout with a plain timer, cheaper on the hot
// path than deriving a context per call. If the deadline and the response
// race, whichever withdrew the call from t wins; a response that won is
// returned even though the deadline passed, because it is already here.
func Await(ctx context.Context, t *Table, opaque int32, cl *Call, defaultTimeout time.Duration) (*remoting.Command, error) {
	var expired <-chan time.Time
	if _, ok := ctx.Deadline(); !ok {
		// The timer lives in the pooled call: with Go 1.23+ timer semantics
		// a stopped timer can be Reset without draining its channel.
		if cl.timer == nil {
			cl.timer = time.NewTimer(defaultTimeout)
		} else {
			cl.timer.Reset(defaultTimeout)
		}
		defer cl.timer.Stop()
		expired = cl.timer.C
	}
	var waitErr error
	select {
	case <-cl.Done:
		return cl.Resp, cl.Err
	case <-expired:
		waitErr = TimeoutError(defaultTimeout)
	case <-ctx.Done():
		waitErr = CtxError(ctx)
	}
	if t.Remove(opaque) != nil {
		return nil, waitErr
	}
	<-cl.Done // the completer owns the call and is signalling
	return cl.Resp, cl.Err
}

// TimeoutError is the error of a request that hit the transport's default
// timeout: it wraps both remoting.ErrTimeout and context.DeadlineExceeded.
func TimeoutError(after time.Duration) error {
	return fmt.Errorf("%w after %s: %w", remoting.ErrTimeout, after, context.DeadlineExceeded)
}

// CtxError maps a finished context to the transport's error vocabulary: a
// deadline is a timeout (wrapping both remoting.ErrTimeout and
// DeadlineExceeded), anything else is the context's own error.
func CtxError(ctx context.Context) error {
	err := ctx.Err()
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%w: %w", remoting.ErrTimeout, err)
	}
	if err == nil {
		err = context.Canceled
	}
	return err
}
