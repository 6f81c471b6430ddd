package netclient

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/rocketgo/rocketgo/internal/inflight"
	"github.com/rocketgo/rocketgo/remoting"
)

// Asynchronous requests.
//
// An async request costs no goroutine while it is in flight: it is an entry
// in the connection's pending table and, when it runs on the Client's
// default timeout, a node in the connection's timeout list. Whoever takes
// it out of the table (the reader with its response, the timeout list's
// timer, a context's AfterFunc, the connection's close) queues its handler
// on the Client's callback workers (callbacks, below). The request object
// is pooled and carries its handler, so a request sent with a Handler that
// is a pointer allocates nothing in this package.

// Handler receives the outcome of a request sent with InvokeHandler.
type Handler interface {
	// HandleResponse is called exactly once, with the response or with an
	// error (the same errors as InvokeSync's). It runs on one of the
	// Client's callback workers (or, for an error found before the request
	// was sent, on a goroutine of its own), never on the goroutine that
	// sent the request and never on a connection's reader.
	HandleResponse(resp *remoting.Command, err error)
}

// HandlerFunc adapts a function to Handler.
type HandlerFunc func(resp *remoting.Command, err error)

// HandleResponse calls f.
func (f HandlerFunc) HandleResponse(resp *remoting.Command, err error) { f(resp, err) }

// asyncCall is one async request in flight. call is what the pending
// table holds; its Callback and Stop are bound to this asyncCall once, when
// it is first made, so reusing it costs no closure.
type asyncCall struct {
	call inflight.Call
	c    *Client
	cc   *clientConn
	h    Handler
	addr string
	code int16

	opaque int32
	sentAt int64 // unix ns
	// On the connection's timeout list (cc.amu): deadline, links.
	deadline   int64
	prev, next *asyncCall
	linked     bool
	ctxStop    func() bool // context.AfterFunc's stop, when ctx can end
}

// getAsync returns a pooled async call bound to c.
func (c *Client) getAsync() *asyncCall {
	if ac, ok := c.asyncs.Get().(*asyncCall); ok {
		return ac
	}
	ac := &asyncCall{c: c}
	ac.call.Callback = ac.finish
	ac.call.Stop = ac.detach
	return ac
}

// detach is the call's Stop: its completer, which owns it, withdraws it
// from the timeout list and from its context.
func (ac *asyncCall) detach() {
	if ac.deadline != 0 {
		// Under amu: the timer may be unlinking it (and then finds it gone
		// from the table).
		cc := ac.cc
		cc.amu.Lock()
		cc.unlinkAsync(ac)
		cc.amu.Unlock()
	}
	if ac.ctxStop != nil {
		ac.ctxStop()
	}
}

// finish is the call's Callback, run by a callback worker: it recycles the
// call, then reports the outcome.
func (ac *asyncCall) finish(resp *remoting.Command, err error) {
	c, h, addr, code, sentAt := ac.c, ac.h, ac.addr, ac.code, ac.sentAt
	ac.recycle()
	if onRead := c.cfg.hooks.OnResponseRead; onRead != nil {
		onRead(addr, code, resp, time.Duration(time.Now().UnixNano()-sentAt), err)
	}
	if err != nil {
		err = &remoting.OpError{Op: "invokeAsync", Addr: addr, Code: code, Err: err}
	}
	h.HandleResponse(resp, err)
}

// recycle clears ac (keeping its bound functions) and pools it.
func (ac *asyncCall) recycle() {
	c := ac.c
	*ac = asyncCall{call: inflight.Call{Callback: ac.call.Callback, Stop: ac.call.Stop}, c: c}
	c.asyncs.Put(ac)
}

// InvokeHandler sends cmd to addr and calls h.HandleResponse exactly once
// with the response or an error, as InvokeAsync calls its callback, and
// costs less: with a pointer for h, no allocation of its own. Unlike
// InvokeAsync it never waits for a dial: while the connection to addr is
// being dialled the request is sent from a goroutine of its own once the
// dial is done, so requests made then may reach the wire in any order.
// InvokeHandler keeps no reference to cmd (only to cmd.Body, when it has
// to wait for a dial): once it returns, the caller may reuse the Command.
func (c *Client) InvokeHandler(ctx context.Context, addr string, cmd *remoting.Command, h Handler) {
	if h == nil {
		h = HandlerFunc(func(*remoting.Command, error) {})
	}
	c.invokeAsync(ctx, addr, cmd, h, false)
}

// invokeAsync is InvokeAsync (waitDial) and InvokeHandler.
func (c *Client) invokeAsync(ctx context.Context, addr string, cmd *remoting.Command, h Handler, waitDial bool) {
	if cmd == nil {
		c.failAsync(h, addr, 0, remoting.ErrNilCommand)
		return
	}
	if err := ctx.Err(); err != nil {
		c.failAsync(h, addr, cmd.Code, err)
		return
	}
	var (
		cc  *clientConn
		err error
	)
	if waitDial {
		cc, err = c.conn(ctx, addr)
	} else {
		cc, err = c.connNow(addr)
	}
	if err != nil {
		c.failAsync(h, addr, cmd.Code, err)
		return
	}
	if cc == nil {
		// Dialling: wait for it elsewhere, with a copy of cmd (the caller
		// may reuse it once this returns). Rare (a connection's first
		// requests), so the goroutine, closure and copy are affordable.
		cp := *cmd
		cp.Ext = cmd.Ext.Clone()
		cmd = &cp
		c.spawn(true, func() {
			cc, err := c.conn(ctx, addr)
			if err != nil {
				c.failAsync(h, addr, cmd.Code, err)
				return
			}
			c.sendAsync(ctx, cc, addr, cmd, h)
		})
		return
	}
	c.sendAsync(ctx, cc, addr, cmd, h)
}

// failAsync reports an error that came before the request was published.
func (c *Client) failAsync(h Handler, addr string, code int16, err error) {
	err = &remoting.OpError{Op: "invokeAsync", Addr: addr, Code: code, Err: err}
	c.spawn(true, func() { h.HandleResponse(nil, err) })
}

// sendAsync publishes and writes an async request on cc.
func (c *Client) sendAsync(ctx context.Context, cc *clientConn, addr string, cmd *remoting.Command, h Handler) {
	opaque := c.prepare(cmd, 0)
	ac := c.getAsync()
	ac.cc, ac.h, ac.addr, ac.code = cc, h, addr, cmd.Code
	sentAt := time.Now().UnixNano()
	ac.opaque, ac.sentAt = opaque, sentAt
	cl := &ac.call

	done := ctx.Done()
	_, hasDeadline := ctx.Deadline()
	if done != nil {
		// Armed before the call is published, so that its completer (which
		// calls Stop) never races the assignment. If ctx ends before the
		// call is in the table, the check after publication catches it.
		ac.ctxStop = context.AfterFunc(ctx, func() { cc.expire(opaque, sentAt, inflight.CtxError(ctx)) })
	}
	// Alone on the connection, a small request is written on this
	// goroutine (as a leading sync caller's is): waking the writer for one
	// frame costs more than the write. With company it goes to the writer,
	// which batches.
	alone := cc.pending.Len() == 0
	var err error
	if hasDeadline {
		err = cc.pending.Add(opaque, cl)
	} else {
		err = cc.addTimed(ac, c.cfg.requestTimeout)
	}
	if err != nil {
		if ac.ctxStop != nil {
			ac.ctxStop()
		}
		c.failAsync(h, addr, cmd.Code, err)
		ac.recycle()
		return
	}
	// Published: from here on ac may be completed (the connection
	// closing) and reused at any moment; only locals are safe.
	if done != nil && ctx.Err() != nil {
		cc.expire(opaque, sentAt, inflight.CtxError(ctx))
		return
	}
	if alone {
		err = cc.write(cmd, maxAsyncDirect)
	} else {
		err = cc.send(cmd)
	}
	if err != nil {
		if cc.pending.Remove(opaque) != nil {
			c.complete(cl, nil, err)
		}
		return
	}
	cc.wakeReader()
}

// expire fails the call published under opaque with err, if nobody else
// completed it first.
func (cc *clientConn) expire(opaque int32, sentAt int64, err error) {
	if cl := cc.pending.Remove(opaque); cl != nil {
		// A silent connection is closed before the callback hears of the
		// timeout, so that a call the callback makes dials afresh rather
		// than landing on the connection about to close.
		if errors.Is(err, remoting.ErrTimeout) {
			cc.timedOut(sentAt)
		}
		cc.client.complete(cl, nil, err)
	}
}

// The timeout list. Async calls on the Client's request timeout all wait
// equally long, so in the order they were sent they are also in the order
// of their deadlines: a list with the oldest at the head, and one timer per
// connection set for the head's deadline, time every one of them out. The
// timer fires about once per request timeout under steady traffic (when it
// fires, the head is a recent call and the timer is set again for it); a
// call that completes only leaves the list.
//
// The list is guarded by amu. A call is linked and published in the table
// under amu, and the timer takes expired calls out of the table under amu,
// so the timer never meets a call that is linked but not yet published.

// addTimed publishes ac in the pending table and links it on the timeout
// list with a deadline timeout after it was sent.
func (cc *clientConn) addTimed(ac *asyncCall, timeout time.Duration) error {
	ac.deadline = ac.sentAt + int64(timeout)
	cc.amu.Lock()
	defer cc.amu.Unlock()
	if err := cc.pending.Add(ac.opaque, &ac.call); err != nil {
		return err
	}
	ac.linked = true
	ac.prev = cc.atail
	if cc.atail == nil {
		cc.ahead = ac
	} else {
		cc.atail.next = ac
	}
	cc.atail = ac
	if cc.adue == 0 {
		cc.armAsync(ac.deadline)
	}
	return nil
}

// unlinkAsync takes ac off the timeout list. amu held.
func (cc *clientConn) unlinkAsync(ac *asyncCall) {
	if !ac.linked {
		return
	}
	if ac.prev == nil {
		cc.ahead = ac.next
	} else {
		ac.prev.next = ac.next
	}
	if ac.next == nil {
		cc.atail = ac.prev
	} else {
		ac.next.prev = ac.prev
	}
	ac.prev, ac.next, ac.linked = nil, nil, false
}

// armAsync sets the timer for deadline (unix ns). amu held.
func (cc *clientConn) armAsync(deadline int64) {
	cc.adue = deadline
	d := time.Duration(deadline - time.Now().UnixNano())
	if cc.atimer == nil {
		cc.atimer = time.AfterFunc(d, cc.expireDue)
		return
	}
	cc.atimer.Reset(d)
}

// expireDue is the timeout list's timer: it times out every call whose
// deadline passed and sets the timer for the next.
func (cc *clientConn) expireDue() {
	type due struct {
		cl     *inflight.Call
		sentAt int64
	}
	var expired []due
	cc.amu.Lock()
	cc.adue = 0
	now := time.Now().UnixNano()
	for ac := cc.ahead; ac != nil && ac.deadline <= now; ac = cc.ahead {
		cc.unlinkAsync(ac)
		if cl := cc.pending.Remove(ac.opaque); cl != nil {
			expired = append(expired, due{cl, ac.sentAt})
		}
	}
	if cc.ahead != nil && !cc.aclosed {
		cc.armAsync(cc.ahead.deadline)
	}
	cc.amu.Unlock()
	timeout := cc.client.cfg.requestTimeout
	for _, e := range expired {
		cc.timedOut(e.sentAt) // before the callback: see expire
		cc.client.complete(e.cl, nil, inflight.TimeoutError(timeout))
	}
}

// stopAsyncTimer stops the timeout list's timer for good (the connection
// closed; every call on the list has been failed).
func (cc *clientConn) stopAsyncTimer() {
	cc.amu.Lock()
	cc.aclosed = true
	if cc.atimer != nil {
		cc.atimer.Stop()
	}
	cc.adue = 0
	cc.amu.Unlock()
}

// Callback workers.
//
// Completed async calls queue on the Client's callbacks and a few workers
// run their callbacks one after another. The reader that completed a run
// of responses (all those of one read) wakes a worker once, just before it
// blocks on the socket again, rather than once per response: a goroutine
// wake-up per response cost as much as the rest of the client's work for
// it. A worker that runs out of callbacks parks; a few parked workers are
// kept for the next run.
//
// A callback may block (or be slow). The queue is shared, so callbacks
// queued behind a blocked one are not stuck with it: a watchdog, running
// while callbacks are queued, checks every stallCheck that the workers
// started some callback since its last look, and if they did not, wakes
// as many more workers as are running (at least one), so that k callbacks
// blocked at once get k workers in about log2(k) looks. A blocked callback
// thus delays the others by a few stallChecks at most, and never delays
// the connection's reader, which runs no callback.
type callbacks struct {
	c *Client

	mu       sync.Mutex
	q        []*inflight.Call // queue: q[head:]
	head     int
	idle     []*cbWorker // parked, most recently parked last
	running  int         // workers not parked
	started  uint64      // callbacks started, ever
	seen     uint64      // started at the watchdog's last look
	watching bool        // the watchdog runs
	closed   bool
}

// cbWorker is a parked worker's mailbox: true to run, false to exit.
type cbWorker struct {
	wake chan bool
}

// stallCheck is how often the watchdog looks for callbacks that made no
// progress (see callbacks).
const stallCheck = 2 * time.Millisecond

// maxIdleWorkers is how many parked callback workers are kept; more exit
// when they run out of work.
const maxIdleWorkers = 4

// add queues a completed call without waking a worker: the caller calls
// wake once it has queued all it is about to. (Should it not, the watchdog
// does after a stallCheck.)
func (d *callbacks) add(cl *inflight.Call) {
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		// Must run exactly once; the Client is closing (see spawn).
		d.c.spawn(true, func() { cl.Callback(cl.Resp, cl.Err) })
		return
	}
	if d.head > 0 && d.head >= len(d.q)/2 {
		n := copy(d.q, d.q[d.head:])
		clear(d.q[n:])
		d.q = d.q[:n]
		d.head = 0
	}
	d.q = append(d.q, cl)
	if !d.watching {
		d.watching = d.c.track(d.watch)
	}
	d.mu.Unlock()
}

// push queues a completed call and makes sure a worker will run it.
func (d *callbacks) push(cl *inflight.Call) {
	d.add(cl)
	d.wake()
}

// wake starts a worker if callbacks are queued and none is running.
func (d *callbacks) wake() {
	d.mu.Lock()
	if d.running > 0 || d.head == len(d.q) || d.closed {
		d.mu.Unlock()
		return
	}
	w := d.startLocked()
	d.mu.Unlock()
	if w != nil {
		w.wake <- true
	}
}

// startLocked readies one more worker: a parked one, returned for the
// caller to wake after unlocking, or a new one. d.mu held.
func (d *callbacks) startLocked() *cbWorker {
	if n := len(d.idle); n > 0 {
		w := d.idle[n-1]
		d.idle[n-1] = nil
		d.idle = d.idle[:n-1]
		d.running++
		return w
	}
	w := &cbWorker{wake: make(chan bool, 1)}
	d.running++
	d.c.spawn(true, func() { d.work(w) })
	return nil
}

// work runs queued callbacks until there are none, parks, and repeats
// until told to exit.
func (d *callbacks) work(w *cbWorker) {
	d.mu.Lock()
	for {
		if d.head < len(d.q) {
			cl := d.q[d.head]
			d.q[d.head] = nil
			d.head++
			if d.head == len(d.q) {
				d.q = d.q[:0]
				d.head = 0
			}
			d.started++
			d.mu.Unlock()
			cl.Callback(cl.Resp, cl.Err)
			d.mu.Lock()
			continue
		}
		d.running--
		if d.closed || len(d.idle) >= maxIdleWorkers {
			d.mu.Unlock()
			return
		}
		d.idle = append(d.idle, w)
		d.mu.Unlock()
		if !<-w.wake {
			return
		}
		d.mu.Lock()
	}
}

// watch is the watchdog: while callbacks are queued it checks every
// stallCheck that workers make progress, and starts more when they do not
// (a callback blocks, or a wake-up went missing).
func (d *callbacks) watch() {
	t := time.NewTimer(stallCheck)
	defer t.Stop()
	for {
		<-t.C
		var wake []*cbWorker
		d.mu.Lock()
		queued := len(d.q) - d.head
		if queued == 0 {
			d.watching = false
			d.mu.Unlock()
			return
		}
		if d.started == d.seen {
			n := min(max(d.running, 1), queued)
			for range n {
				if w := d.startLocked(); w != nil {
					wake = append(wake, w)
				}
			}
		}
		d.seen = d.started
		d.mu.Unlock()
		for _, w := range wake {
			w.wake <- true
		}
		t.Reset(stallCheck)
	}
}

// close ends parked workers; running workers finish the queue and exit,
// and the watchdog ends once the queue is empty. Later completions run on
// goroutines of their own.
func (d *callbacks) close() {
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return
	}
	d.closed = true
	idle := d.idle
	d.idle = nil
	if d.head < len(d.q) && d.running == 0 {
		// Nobody would run what is queued: start one worker for it.
		d.startLocked()
	}
	d.mu.Unlock()
	for _, w := range idle {
		w.wake <- false
	}
}

// track runs f on a goroutine the Client's Close waits for, unless Close
// is already waiting (then it reports false and does nothing).
func (c *Client) track(f func()) bool {
	c.gmu.Lock()
	if c.stopping {
		c.gmu.Unlock()
		return false
	}
	c.wg.Add(1)
	c.gmu.Unlock()
	go func() {
		defer c.wg.Done()
		f()
	}()
	return true
}

// connNow returns the live connection to addr, starting a dial if there is
// none; (nil, nil) while the dial is in progress.
func (c *Client) connNow(addr string) (*clientConn, error) {
	cc, err := c.connTo(addr)
	if err != nil {
		return nil, err
	}
	select {
	case <-cc.ready:
	default:
		return nil, nil
	}
	if cc.dialErr != nil {
		return nil, cc.dialErr
	}
	return cc, nil
}
