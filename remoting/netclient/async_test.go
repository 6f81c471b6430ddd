package netclient

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rocketgo/rocketgo/remoting"
)

// Tests of async requests (async.go): callbacks on the Client's callback
// workers, the per-connection timeout list, and Close.

// testTimeout bounds a test's waits for something that must happen; it is
// no speed target, only the difference between "hangs" and "fails".
const testTimeout = 20 * time.Second

// waitFor waits for ch or fails t with what.
func waitFor[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(testTimeout):
		t.Fatalf("%s never happened", what)
	}
	var zero T
	return zero
}

// TestAsyncBlockedCallbacksDoNotHoldOthers: callbacks that block until all
// of them have started can only finish if each gets a goroutine of its
// own: the workers must notice that callbacks stopped making progress and
// start more. Meanwhile sync calls on the same connection complete (the
// reader runs no callback).
func TestAsyncBlockedCallbacksDoNotHoldOthers(t *testing.T) {
	srv := startFake(t, nil)
	base := runtime.NumGoroutine()
	c := New()
	const n = 40
	var started sync.WaitGroup
	started.Add(n)
	all := make(chan struct{})
	go func() {
		started.Wait()
		close(all)
	}()
	errs := make(chan error, n)
	for i := range n {
		body := fmt.Sprintf("blocked-%d", i)
		c.InvokeAsync(context.Background(), srv.addr(), echoRequest(body), func(resp *remoting.Command, err error) {
			started.Done()
			select {
			case <-all:
			case <-time.After(testTimeout):
				errs <- errors.New("callbacks never all ran at once")
				return
			}
			errs <- checkEcho(resp, err, body)
		})
	}
	// While they block, the connection serves other calls.
	for i := range 20 {
		body := fmt.Sprintf("sync-%d", i)
		resp, err := c.InvokeSync(context.Background(), srv.addr(), echoRequest(body))
		if err := checkEcho(resp, err, body); err != nil {
			t.Fatal(err)
		}
	}
	for range n {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	c.Close()
	waitGoroutines(t, base)
}

// TestAsyncTimeoutList: a peer that answers every other request. The
// answered calls succeed, the others time out (the timeout list's timer,
// from the middle of the list as well as its head), each callback runs
// once, and the list and the pending table are empty afterwards.
func TestAsyncTimeoutList(t *testing.T) {
	srv := startFake(t, func(fc *fakeConn, req *remoting.Command) {
		if req.Body[len(req.Body)-1]%2 == 0 {
			_ = fc.answer(req)
		}
	})
	c := New(WithRequestTimeout(100 * time.Millisecond))
	defer c.Close()
	const n = 200
	type result struct {
		i   int
		err error
	}
	results := make(chan result, 2*n)
	for i := range n {
		body := fmt.Sprintf("t%03d%c", i, '0'+byte(i%2))
		c.InvokeAsync(context.Background(), srv.addr(), echoRequest(body), func(resp *remoting.Command, err error) {
			if i%2 == 0 {
				err = checkEcho(resp, err, body)
			} else if !errors.Is(err, remoting.ErrTimeout) {
				err = fmt.Errorf("unanswered call: %v, want a timeout", err)
			} else {
				err = nil
			}
			results <- result{i, err}
		})
	}
	seen := make(map[int]bool)
	for range n {
		r := waitFor(t, results, "a callback")
		if r.err != nil {
			t.Error(r.err)
		}
		if seen[r.i] {
			t.Fatalf("callback of call %d ran twice", r.i)
		}
		seen[r.i] = true
	}
	c.mu.Lock()
	cc := c.conns[srv.addr()]
	c.mu.Unlock()
	if cc == nil {
		return // closed: everything on it was failed
	}
	cc.amu.Lock()
	head, tail := cc.ahead, cc.atail
	cc.amu.Unlock()
	if head != nil || tail != nil || cc.pending.Len() != 0 {
		t.Fatalf("after every call completed: list %p..%p, %d pending", head, tail, cc.pending.Len())
	}
}

// TestAsyncTimeoutClosesSilentConn: calls that time out on a connection
// that heard nothing since they were sent close it (the peer is gone), and
// the next call dials afresh and succeeds.
func TestAsyncTimeoutClosesSilentConn(t *testing.T) {
	var answer atomic.Bool
	srv := startFake(t, func(fc *fakeConn, req *remoting.Command) {
		if answer.Load() {
			_ = fc.answer(req)
		}
	})
	c := New(WithRequestTimeout(50 * time.Millisecond))
	defer c.Close()
	errs := make(chan error, 1)
	c.InvokeAsync(context.Background(), srv.addr(), echoRequest("lost"), func(_ *remoting.Command, err error) { errs <- err })
	if err := waitFor(t, errs, "the timeout"); !errors.Is(err, remoting.ErrTimeout) {
		t.Fatalf("unanswered call: %v, want a timeout", err)
	}
	answer.Store(true)
	c.InvokeAsync(context.Background(), srv.addr(), echoRequest("after"), func(resp *remoting.Command, err error) { errs <- checkEcho(resp, err, "after") })
	if err := waitFor(t, errs, "the second call"); err != nil {
		t.Fatal(err)
	}
}

// pingPeer answers only requests whose body is "ping" and counts the
// others.
func pingPeer(t *testing.T, others *atomic.Int64) *fakeServer {
	return startFake(t, func(fc *fakeConn, req *remoting.Command) {
		if string(req.Body) == "ping" {
			_ = fc.answer(req)
			return
		}
		others.Add(1)
	})
}

// ping makes a sync round trip: afterwards the peer has read every request
// sent on the connection before it.
func ping(t *testing.T, c *Client, addr string) {
	t.Helper()
	resp, err := c.InvokeSync(context.Background(), addr, echoRequest("ping"))
	if err := checkEcho(resp, err, "ping"); err != nil {
		t.Fatal(err)
	}
}

// TestAsyncContextEnds: a call whose context is cancelled, or has a
// deadline, completes with the context's error (a deadline as a timeout)
// though the peer never answers; one whose context ended before the call
// never reaches the peer.
func TestAsyncContextEnds(t *testing.T) {
	var others atomic.Int64
	srv := pingPeer(t, &others)
	c := New()
	defer c.Close()
	errs := make(chan error, 1)
	cb := func(_ *remoting.Command, err error) { errs <- err }

	ctx, cancel := context.WithCancel(context.Background())
	c.InvokeAsync(ctx, srv.addr(), echoRequest("cancel"), cb)
	cancel()
	if err := waitFor(t, errs, "the cancellation"); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled call: %v", err)
	}
	ping(t, c, srv.addr())
	before := others.Load()
	c.InvokeHandler(ctx, srv.addr(), echoRequest("already"), HandlerFunc(cb))
	if err := waitFor(t, errs, "the refusal"); !errors.Is(err, context.Canceled) {
		t.Fatalf("call with a cancelled context: %v", err)
	}
	ping(t, c, srv.addr())
	if n := others.Load() - before; n != 0 {
		t.Fatalf("the peer saw %d requests made with an ended context", n)
	}
	// Last: a timeout on a connection that heard nothing since closes it.
	dctx, dcancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer dcancel()
	c.InvokeAsync(dctx, srv.addr(), echoRequest("deadline"), cb)
	if err := waitFor(t, errs, "the deadline"); !errors.Is(err, remoting.ErrTimeout) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("call past its deadline: %v", err)
	}
}

// TestAsyncCloseFailsPendingAndStops: Close fails every call still
// pending with ErrClientClosed, runs each callback once and waits for the
// callback workers, the watchdog and the connection's goroutines.
func TestAsyncCloseFailsPendingAndStops(t *testing.T) {
	var others atomic.Int64
	srv := pingPeer(t, &others)
	base := runtime.NumGoroutine()
	c := New()
	ping(t, c, srv.addr()) // connected: the calls below go out in order
	const n = 100
	var calls atomic.Int64
	errs := make(chan error, n)
	for i := range n {
		c.InvokeHandler(context.Background(), srv.addr(), echoRequest(fmt.Sprint(i)), HandlerFunc(func(_ *remoting.Command, err error) {
			calls.Add(1)
			errs <- err
		}))
	}
	ping(t, c, srv.addr())
	if got := others.Load(); got != n {
		t.Fatalf("the peer saw %d of %d requests", got, n)
	}
	c.Close()
	if got := calls.Load(); got != n {
		t.Fatalf("Close returned with %d of %d callbacks run", got, n)
	}
	for range n {
		if err := <-errs; !errors.Is(err, ErrClientClosed) {
			t.Fatalf("call pending at Close: %v", err)
		}
	}
	waitGoroutines(t, base)
}

// TestAsyncCallbackWorkersBounded: many async calls complete on a few
// callback workers, not a goroutine each, and all of them report.
func TestAsyncCallbackWorkersBounded(t *testing.T) {
	srv := startFake(t, nil)
	c := New()
	defer c.Close()
	const n = 2000
	var wg sync.WaitGroup
	wg.Add(n)
	var bad atomic.Int64
	for i := range n {
		body := fmt.Sprint(i)
		c.InvokeAsync(context.Background(), srv.addr(), echoRequest(body), func(resp *remoting.Command, err error) {
			if checkEcho(resp, err, body) != nil {
				bad.Add(1)
			}
			wg.Done()
		})
	}
	wg.Wait()
	if bad.Load() != 0 {
		t.Fatalf("%d calls got a wrong answer", bad.Load())
	}
	// A nil handler is allowed (the outcome is dropped).
	c.InvokeHandler(context.Background(), srv.addr(), echoRequest("nil handler"), nil)
	resp, err := c.InvokeSync(context.Background(), srv.addr(), echoRequest("after"))
	if err := checkEcho(resp, err, "after"); err != nil {
		t.Fatal(err)
	}
	c.cbs.mu.Lock()
	idle := len(c.cbs.idle)
	c.cbs.mu.Unlock()
	if idle > maxIdleWorkers {
		t.Fatalf("%d parked callback workers, want at most %d", idle, maxIdleWorkers)
	}
}
