package netclient

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rocketgo/rocketgo/remoting"
)

// Tests of who reads the socket (lead.go): a lone sync caller reading its own
// response, the reader goroutine, and the hand-overs between them. Every
// request carries a unique body that the peer echoes, so a response that is
// lost shows as a timeout and one delivered to the wrong caller as a body
// mismatch.

// leadsOf reports how often callers took the read token on c's connection to
// addr, so a test can check that the leading path was exercised at all.
func leadsOf(c *Client, addr string) uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	if cc := c.conns[addr]; cc != nil {
		return cc.leads.Load()
	}
	return 0
}

// waitGoroutines fails t unless the goroutine count falls back to base:
// whatever the Client started must be gone after Close.
func waitGoroutines(t *testing.T, base int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for runtime.NumGoroutine() > base {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("%d goroutines, %d before:\n%s", runtime.NumGoroutine(), base, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// withLeadIdle keeps the reader goroutine from taking an unused token back
// for d, so that on a slow machine (-race, shared cores) a lone caller
// still finds it free.
func withLeadIdle(d time.Duration) Option {
	return func(c *config) { c.leadIdle = d }
}

// waitLead waits until a caller has taken the read token since leads was
// read.
func waitLead(t *testing.T, c *Client, addr string, leads uint64) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for leadsOf(c, addr) <= leads {
		if time.Now().After(deadline) {
			t.Fatal("the call did not lead")
		}
		runtime.Gosched()
	}
}

func echoRequest(body string) *remoting.Command {
	return remoting.NewRequest(remoting.SendMessageV2, nil, []byte(body))
}

func checkEcho(resp *remoting.Command, err error, body string) error {
	if err != nil {
		return fmt.Errorf("%s: %w", body, err)
	}
	if resp.Code != remoting.Success || string(resp.Body) != body {
		return fmt.Errorf("sent %q, got code %d body %q", body, resp.Code, resp.Body)
	}
	return nil
}

// TestLeadMixedCallers mixes lone sync callers (which lead), sync callers
// with a context (which never lead), async calls and pauses long enough for
// the reader goroutine to take the token back, against a peer that answers
// out of order and pushes oneway requests in between. Every call must get
// its own answer and every pushed request must reach its handler.
func TestLeadMixedCallers(t *testing.T) {
	var pushed atomic.Int64
	srv := startFake(t, func(fc *fakeConn, req *remoting.Command) {
		if req.IsResponse() {
			return
		}
		if rand.IntN(8) == 0 {
			push := remoting.NewRequest(remoting.NotifyConsumerIDsChanged, nil, nil)
			push.Flag = remoting.FlagOneway
			push.Opaque = -1
			if fc.write(push) == nil {
				pushed.Add(1)
			}
		}
		if rand.IntN(3) == 0 {
			_ = fc.answer(req)
			return
		}
		time.AfterFunc(time.Duration(rand.IntN(1500))*time.Microsecond, func() { _ = fc.answer(req) })
	})
	base := runtime.NumGoroutine()
	c := New()
	var handled atomic.Int64
	c.RegisterHandler(remoting.NotifyConsumerIDsChanged, func(context.Context, string, *remoting.Command) *remoting.Command {
		handled.Add(1)
		return nil
	})

	var (
		wg     sync.WaitGroup
		errMu  sync.Mutex
		errs   []error
		report = func(err error) {
			if err != nil {
				errMu.Lock()
				errs = append(errs, err)
				errMu.Unlock()
			}
		}
	)
	call := func(g, i int) {
		body := fmt.Sprintf("g%d-%d", g, i)
		switch r := rand.IntN(10); {
		case r < 6: // may lead
			resp, err := c.InvokeSync(context.Background(), srv.addr(), echoRequest(body))
			report(checkEcho(resp, err, body))
		case r < 8: // never leads
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			resp, err := c.InvokeSync(ctx, srv.addr(), echoRequest(body))
			cancel()
			report(checkEcho(resp, err, body))
		default:
			wg.Add(1)
			c.InvokeAsync(context.Background(), srv.addr(), echoRequest(body), func(resp *remoting.Command, err error) {
				report(checkEcho(resp, err, body))
				wg.Done()
			})
		}
		if rand.IntN(50) == 0 {
			time.Sleep(3 * leadIdle) // the reader goroutine takes the token back
		}
	}
	// One lone sender first (leading nearly every time), then a crowd, then
	// the lone sender again: both hand-over directions.
	for round, senders := range []int{1, 6, 1, 3} {
		for g := range senders {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range 300 {
					call(round*100+g, i)
				}
			}()
		}
		wg.Wait()
	}
	for _, err := range errs {
		t.Error(err)
	}
	if leadsOf(c, srv.addr()) == 0 {
		t.Error("no call read its own response")
	}
	deadline := time.Now().Add(10 * time.Second)
	for handled.Load() != pushed.Load() && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if h, p := handled.Load(), pushed.Load(); h != p || p == 0 {
		t.Errorf("%d of %d pushed requests handled", h, p)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	waitGoroutines(t, base)
}

// TestLeadServerRequests: requests the server sends while a lone caller
// leads are read by that caller and dispatched as the reader goroutine
// would: a registered handler's answer goes back, an unregistered code is
// answered REQUEST_CODE_NOT_SUPPORTED. One sent while nobody calls reaches
// its handler through the reader goroutine.
func TestLeadServerRequests(t *testing.T) {
	replies := make(chan *remoting.Command, 64)
	var conn atomic.Pointer[fakeConn]
	srv := startFake(t, func(fc *fakeConn, req *remoting.Command) {
		conn.Store(fc)
		if req.IsResponse() {
			replies <- req
			return
		}
		// Both pushes go ahead of the response in one write, so the
		// leading caller is the one that reads them.
		check := remoting.NewRequest(remoting.CheckTransactionState, nil, nil)
		check.Opaque = 1001
		odd := remoting.NewRequest(9999, nil, nil)
		odd.Opaque = 1002
		resp := remoting.NewResponse(req, remoting.Success, "")
		resp.Body = req.Body
		var frames []byte
		for _, cmd := range []*remoting.Command{check, odd, resp} {
			var err error
			if frames, err = remoting.AppendFrame(frames, cmd); err != nil {
				panic(err)
			}
		}
		fc.wmu.Lock()
		_, _ = fc.nc.Write(frames)
		fc.wmu.Unlock()
	})
	check := func(_ context.Context, _ string, req *remoting.Command) *remoting.Command {
		return remoting.NewResponse(req, remoting.Success, "checked")
	}
	c := New(withLeadIdle(time.Hour))
	defer c.Close()
	c.RegisterHandler(remoting.CheckTransactionState, check)
	for i := range 20 {
		body := fmt.Sprint("lone-", i)
		resp, err := c.InvokeSync(context.Background(), srv.addr(), echoRequest(body))
		if err := checkEcho(resp, err, body); err != nil {
			t.Fatal(err)
		}
	}
	if leadsOf(c, srv.addr()) == 0 {
		t.Fatal("no call read its own response")
	}
	got := map[int32]map[string]int{1001: {}, 1002: {}}
	for range 40 {
		select {
		case r := <-replies:
			got[r.Opaque][fmt.Sprint(r.Code, " ", r.Remark != "")]++
		case <-time.After(10 * time.Second):
			t.Fatalf("replies so far: %v", got)
		}
	}
	if got[1001]["0 true"] != 20 || got[1002][fmt.Sprint(remoting.RequestCodeNotSupported, " true")] != 20 {
		t.Fatalf("replies: %v", got)
	}

	// Nobody calls now: the reader goroutine must pick this one up, after
	// the token lay unused for a while (the default this time).
	c2 := New()
	defer c2.Close()
	c2.RegisterHandler(remoting.CheckTransactionState, check)
	for range 3 {
		if _, err := c2.InvokeSync(context.Background(), srv.addr(), echoRequest("warm")); err != nil {
			t.Fatal(err)
		}
	}
	for range 6 {
		<-replies // the warm calls' pushes, answered
	}
	idle := remoting.NewRequest(remoting.CheckTransactionState, nil, nil)
	idle.Opaque = 1003
	if err := conn.Load().write(idle); err != nil {
		t.Fatal(err)
	}
	select {
	case r := <-replies:
		if r.Opaque != 1003 || r.Remark != "checked" {
			t.Fatalf("reply %d %q", r.Opaque, r.Remark)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("request sent to an idle client was not served")
	}
}

// TestLeadTimeoutHandsOver: a leading caller whose response never comes
// times out, while calls that became pending behind it get their answers,
// including one answered only after the leader gave up (read by the reader
// goroutine after the hand-over).
func TestLeadTimeoutHandsOver(t *testing.T) {
	srv := startFake(t, func(fc *fakeConn, req *remoting.Command) {
		switch b := string(req.Body); {
		case b == "never":
		case strings.HasPrefix(b, "late"):
			time.AfterFunc(600*time.Millisecond, func() { _ = fc.answer(req) })
		default:
			_ = fc.answer(req)
		}
	})
	c := New(WithRequestTimeout(300*time.Millisecond), withLeadIdle(time.Hour))
	defer c.Close()
	if _, err := c.InvokeSync(context.Background(), srv.addr(), echoRequest("warm")); err != nil {
		t.Fatal(err)
	}
	// Let the reader goroutine hand the token over (the warm-up call asked
	// for it) before the call that is to lead.
	for range 3 {
		if _, err := c.InvokeSync(context.Background(), srv.addr(), echoRequest("warm")); err != nil {
			t.Fatal(err)
		}
	}
	leads := leadsOf(c, srv.addr())
	done := make(chan error, 1)
	go func() {
		_, err := c.InvokeSync(context.Background(), srv.addr(), echoRequest("never"))
		done <- err
	}()
	// Wait until it leads before queueing the others behind it.
	waitLead(t, c, srv.addr(), leads)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for _, body := range []string{"now-1", "now-2", "late-1", "late-2"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			resp, err := c.InvokeSync(ctx, srv.addr(), echoRequest(body))
			errs <- checkEcho(resp, err, body)
		}()
	}
	err := <-done
	if !errors.Is(err, remoting.ErrTimeout) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("leading call: %v, want a timeout", err)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	// The connection heard answers after the timed-out request was sent,
	// so it stays; the next lone call works on it.
	if _, err := c.InvokeSync(context.Background(), srv.addr(), echoRequest("after")); err != nil {
		t.Fatal(err)
	}
}

// TestLeadDeadlineRearm: back-to-back lone calls for several request
// timeouts (the socket's read deadline is set once and re-armed when it
// fires under a call that still has time), then the idle check, which must
// still close a connection nobody uses.
func TestLeadDeadlineRearm(t *testing.T) {
	srv := startFake(t, nil)
	disconnected := make(chan error, 4)
	c := New(WithRequestTimeout(250*time.Millisecond), WithIdleTimeout(600*time.Millisecond),
		WithHooks(Hooks{OnDisconnect: func(_ string, err error) { disconnected <- err }}))
	defer c.Close()
	until := time.Now().Add(time.Second)
	for i := 0; time.Now().Before(until); i++ {
		body := fmt.Sprint("rearm-", i)
		resp, err := c.InvokeSync(context.Background(), srv.addr(), echoRequest(body))
		if err := checkEcho(resp, err, body); err != nil {
			t.Fatal(err)
		}
	}
	if leadsOf(c, srv.addr()) == 0 {
		t.Fatal("no call read its own response")
	}
	select {
	case err := <-disconnected:
		if !errors.Is(err, remoting.ErrConnClosed) || !strings.Contains(err.Error(), "idle") {
			t.Fatalf("closed for %v, want idle", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("idle connection not closed")
	}
}

// TestLeadCloseAndHangUp: a leading caller blocked on a silent peer is
// released by the peer hanging up and by Close, and Close leaves no
// goroutine behind.
func TestLeadCloseAndHangUp(t *testing.T) {
	srv := startFake(t, func(fc *fakeConn, req *remoting.Command) {
		if string(req.Body) != "never" {
			_ = fc.answer(req)
		}
	})
	base := runtime.NumGoroutine()
	c := New(withLeadIdle(time.Hour))
	lone := func(body string) error {
		resp, err := c.InvokeSync(context.Background(), srv.addr(), echoRequest(body))
		if body == "never" {
			return err
		}
		return checkEcho(resp, err, body)
	}
	blocked := func(release func()) error {
		for range 4 {
			if err := lone("warm"); err != nil {
				t.Fatal(err)
			}
		}
		leads := leadsOf(c, srv.addr())
		done := make(chan error, 1)
		go func() { done <- lone("never") }()
		waitLead(t, c, srv.addr(), leads)
		release()
		select {
		case err := <-done:
			return err
		case <-time.After(10 * time.Second):
			t.Fatal("leading caller not released")
			return nil
		}
	}
	if err := blocked(srv.dropConns); !errors.Is(err, remoting.ErrConnClosed) {
		t.Fatalf("peer hung up: %v", err)
	}
	// Close may come before the leading call published its request (then
	// it fails as any call made after Close) or after: ErrClientClosed
	// either way.
	if err := blocked(func() { _ = c.Close() }); !errors.Is(err, ErrClientClosed) {
		t.Fatalf("client closed: %v", err)
	}
	waitGoroutines(t, base)
}

// TestLeadKeepsOrder: a oneway request and then a sync one from the same
// goroutine reach the peer in that order, although the sync caller writes
// its own frame while the oneway one waits for the writer goroutine.
func TestLeadKeepsOrder(t *testing.T) {
	var (
		mu  sync.Mutex
		got []string
	)
	srv := startFake(t, func(fc *fakeConn, req *remoting.Command) {
		mu.Lock()
		got = append(got, string(req.Body))
		mu.Unlock()
		if !req.IsOneway() {
			_ = fc.answer(req)
		}
	})
	c := New(withLeadIdle(time.Hour))
	defer c.Close()
	const n = 300
	for i := range n {
		if err := c.InvokeOneway(context.Background(), srv.addr(), echoRequest(fmt.Sprint("o", i))); err != nil {
			t.Fatal(err)
		}
		body := fmt.Sprint("s", i)
		resp, err := c.InvokeSync(context.Background(), srv.addr(), echoRequest(body))
		if err := checkEcho(resp, err, body); err != nil {
			t.Fatal(err)
		}
	}
	if leadsOf(c, srv.addr()) == 0 {
		t.Fatal("no call read its own response")
	}
	mu.Lock()
	defer mu.Unlock()
	for i := range n {
		if got[2*i] != fmt.Sprint("o", i) || got[2*i+1] != fmt.Sprint("s", i) {
			t.Fatalf("arrival order around %d: %v", i, got[max(0, 2*i-2):min(len(got), 2*i+4)])
		}
	}
}
