package transport

import (
	"context"
	"encoding/binary"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rocketgo/rocketgo/internal/inflight"
	"github.com/rocketgo/rocketgo/remoting"

	"github.com/panjf2000/gnet/v2"
)

// maxSpareOut: a coalescing buffer that grew past this (large pull replies)
// is not kept for reuse.
const maxSpareOut = 4 << 20

// Conn is one accepted client connection. Its methods are safe for
// concurrent use from any goroutine.
type Conn struct {
	srv          *Server
	gc           gnet.Conn
	loop         gnet.EventLoop
	peer         atomic.Pointer[peerAddr] // the client; replaced once for a TLS-fronted connection
	local        net.Addr
	awaitingPeer bool // event loop only: the TLS front has not named the client yet

	ctx    context.Context // cancelled when the connection closes
	cancel context.CancelFunc

	lastSerialize atomic.Uint32  // SerializeType of the last request received
	lastRead      atomic.Int64   // unix nanos of the last inbound traffic
	pending       inflight.Table // server-to-client calls

	vmu   sync.Mutex
	value any

	// Outbound coalescing. Replies are encoded into out under mu; the event
	// loop swaps out for spare and writes it. While the loop is inside
	// OnTraffic (inLoop) it flushes on the way out, otherwise the first
	// writer schedules one flush task on the loop.
	mu        sync.Mutex
	out       []byte
	inLoop    bool
	scheduled bool
	closed    bool
	spare     []byte // event-loop only
	flushTask gnet.Runnable
}

func newConn(s *Server, gc gnet.Conn) *Conn {
	ctx, cancel := context.WithCancel(context.Background())
	c := &Conn{
		srv:    s,
		gc:     gc,
		loop:   gc.EventLoop(),
		local:  gc.LocalAddr(),
		ctx:    ctx,
		cancel: cancel,
	}
	// gnet reports the listener's configured address as the local one; with
	// port 0 that is useless, so substitute the bound address.
	if ta, ok := c.local.(*net.TCPAddr); ok && ta.Port == 0 {
		if b := s.Addr(); b != nil {
			c.local = b
		}
	}
	c.setPeer(gc.RemoteAddr())
	c.awaitingPeer = s.front != nil
	c.lastRead.Store(time.Now().UnixNano())
	c.flushTask = gnet.RunnableFunc(func(context.Context) error {
		c.flush(false)
		return nil
	})
	return c
}

// peerAddr is a remote address with its string form computed once.
type peerAddr struct {
	addr net.Addr
	s    string
}

func (c *Conn) setPeer(a net.Addr) {
	p := &peerAddr{addr: a}
	if a != nil {
		p.s = a.String()
	}
	c.peer.Store(p)
}

// RemoteAddr is the client's address (for a TLS connection, the client's,
// not the TLS front's).
func (c *Conn) RemoteAddr() net.Addr { return c.peer.Load().addr }

// LocalAddr is the server-side address of the connection.
func (c *Conn) LocalAddr() net.Addr { return c.local }

// String returns the remote address, for logs.
func (c *Conn) String() string { return c.peer.Load().s }

// Context is cancelled when the connection closes; parked requests can watch
// it to stop waiting for a reply that could not be delivered anyway.
func (c *Conn) Context() context.Context { return c.ctx }

// SetValue stores an application value on the connection (a broker keeps the
// client id and groups here).
func (c *Conn) SetValue(v any) {
	c.vmu.Lock()
	c.value = v
	c.vmu.Unlock()
}

// Value returns what SetValue stored, or nil.
func (c *Conn) Value() any {
	c.vmu.Lock()
	defer c.vmu.Unlock()
	return c.value
}

// Close closes the connection; the OnClose hook runs on the event loop.
func (c *Conn) Close() error { return c.gc.Close() }

// Invoke sends a request to the client on this connection and waits for the
// response (e.g. GET_CONSUMER_RUNNING_INFO 307). The header encoding is the
// one the client last used (JSON before any request). The deadline is ctx's,
// or the server's request timeout (default 3 s) when ctx has none.
func (c *Conn) Invoke(ctx context.Context, cmd *remoting.Command) (*remoting.Command, error) {
	if cmd == nil {
		return nil, &remoting.OpError{Op: "invoke", Addr: c.String(), Err: remoting.ErrNilCommand}
	}
	fail := func(err error) (*remoting.Command, error) {
		return nil, &remoting.OpError{Op: "invoke", Addr: c.String(), Code: cmd.Code, Err: err}
	}
	if err := ctx.Err(); err != nil {
		return fail(err)
	}
	opaque := c.prepare(cmd, 0)
	cl := c.srv.pools.GetCall()
	if err := c.pending.Add(opaque, cl); err != nil {
		c.srv.pools.PutCall(cl)
		return fail(err)
	}
	if err := c.write(cmd); err != nil {
		if c.pending.Remove(opaque) == nil {
			<-cl.Done
		}
		c.srv.pools.PutCall(cl)
		return fail(err)
	}
	resp, err := inflight.Await(ctx, &c.pending, opaque, cl, c.srv.cfg.requestTimeout)
	c.srv.pools.PutCall(cl)
	if err != nil {
		return fail(err)
	}
	return resp, nil
}

// InvokeOneway sends a request the client must not answer (e.g.
// NOTIFY_CONSUMER_IDS_CHANGED 40, CHECK_TRANSACTION_STATE 39).
func (c *Conn) InvokeOneway(ctx context.Context, cmd *remoting.Command) error {
	if cmd == nil {
		return &remoting.OpError{Op: "invokeOneway", Addr: c.String(), Err: remoting.ErrNilCommand}
	}
	if err := ctx.Err(); err != nil {
		return &remoting.OpError{Op: "invokeOneway", Addr: c.String(), Code: cmd.Code, Err: err}
	}
	c.prepare(cmd, remoting.FlagOneway)
	if err := c.write(cmd); err != nil {
		return &remoting.OpError{Op: "invokeOneway", Addr: c.String(), Code: cmd.Code, Err: err}
	}
	return nil
}

func (c *Conn) prepare(cmd *remoting.Command, flags int32) int32 {
	opaque := c.srv.opaque.Add(1)
	cmd.Opaque = opaque
	cmd.Flag = cmd.Flag&^(remoting.FlagResponse|remoting.FlagOneway) | flags
	cmd.SerializeType = remoting.SerializeType(c.lastSerialize.Load())
	return opaque
}

// write encodes cmd into the coalescing buffer and makes sure a flush will
// follow. It never blocks on the network and may be called from any
// goroutine, including the event loop.
//
// This is gnet's asynchronous write path (the same loop task queue that
// AsyncWrite uses) with one difference: AsyncWrite fixes its bytes when the
// task is queued, one task per reply, whereas the single flush task queued
// here takes whatever has accumulated by the time the loop runs it, so a
// burst of replies from many workers leaves in one write syscall.
func (c *Conn) write(cmd *remoting.Command) error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return fmt.Errorf("%w: %s", remoting.ErrConnClosed, c.String())
	}
	out, err := remoting.AppendFrame(c.out, cmd)
	if err != nil {
		c.mu.Unlock()
		return err
	}
	c.out = out
	schedule := !c.inLoop && !c.scheduled
	if schedule {
		c.scheduled = true
	}
	c.mu.Unlock()
	if !schedule {
		return nil
	}
	if err := c.loop.Execute(context.Background(), c.flushTask); err != nil {
		c.mu.Lock()
		c.scheduled = false
		c.mu.Unlock()
		return fmt.Errorf("%w: %s: %w", remoting.ErrConnClosed, c.String(), err)
	}
	return nil
}

// flush writes whatever replies have accumulated. Event loop only.
// fromTraffic marks the end of an OnTraffic pass (clears inLoop); otherwise
// it is the scheduled flush task (clears scheduled).
func (c *Conn) flush(fromTraffic bool) {
	c.mu.Lock()
	if fromTraffic {
		c.inLoop = false
	} else {
		c.scheduled = false
	}
	if c.closed || len(c.out) == 0 {
		c.mu.Unlock()
		return
	}
	data := c.out
	c.out = c.spare[:0]
	c.mu.Unlock()

	// gnet writes what the socket takes and copies the rest into its own
	// outbound buffer, so data can be reused as soon as Write returns.
	if _, err := c.gc.Write(data); err != nil {
		c.srv.cfg.logger.Debug("remoting: write failed", "remote", c.String(), "err", err)
	}
	if cap(data) <= maxSpareOut {
		c.spare = data[:0]
	} else {
		c.spare = nil
	}
}

// onTraffic decodes every complete frame gnet has buffered. Event loop only.
func (c *Conn) onTraffic() gnet.Action {
	c.lastRead.Store(time.Now().UnixNano())
	if c.awaitingPeer {
		// Only the TLS front dials the event loops' loopback listener, and
		// it records who it dialled for before forwarding a byte; anything
		// else connecting there is refused.
		real, ok := c.srv.front.claim(c.String())
		if !ok {
			c.srv.cfg.logger.Warn("remoting: closing a loopback connection the TLS front did not open", "remote", c.String())
			return gnet.Close
		}
		c.setPeer(real)
		c.awaitingPeer = false
	}
	// A big frame arrives over many reads. Until all of it is buffered, look
	// only at its length prefix: peeking everything each time would copy the
	// partial frame out of gnet's ring buffer again and again.
	total := c.gc.InboundBuffered()
	if total < remoting.LengthPrefix {
		return gnet.None
	}
	prefix, _ := c.gc.Peek(remoting.LengthPrefix)
	if _, _, err := remoting.SplitFrame(prefix, c.srv.cfg.maxFrameSize); err != nil {
		c.srv.cfg.logger.Debug("remoting: closing connection on bad frame", "remote", c.String(), "err", err)
		return gnet.Close
	}
	if need := remoting.LengthPrefix + int(binary.BigEndian.Uint32(prefix)); total < need {
		return gnet.None
	}
	buf, _ := c.gc.Peek(-1)

	c.mu.Lock()
	c.inLoop = true
	c.mu.Unlock()

	action := gnet.None
	off := 0
	for {
		frame, n, err := remoting.SplitFrame(buf[off:], c.srv.cfg.maxFrameSize)
		if err != nil {
			c.srv.cfg.logger.Debug("remoting: closing connection on bad frame", "remote", c.String(), "err", err)
			action = gnet.Close
			break
		}
		if n == 0 {
			break
		}
		off += n
		cmd, err := remoting.DecodeFrame(frame)
		if err != nil {
			c.srv.cfg.logger.Debug("remoting: closing connection on bad frame", "remote", c.String(), "err", err)
			action = gnet.Close
			break
		}
		// cmd.Body still aliases buf, which gnet reuses once we Discard:
		// handle copies it out unless an inline processor runs on it now
		// (an inline 16 KiB send would copy it twice, once here and once
		// into the commit log).
		c.handle(cmd)
	}
	if off > 0 { // Discard(0) would drop everything buffered
		_, _ = c.gc.Discard(off)
	}
	c.flush(true)
	return action
}

// handle routes one decoded frame. Event loop only.
func (c *Conn) handle(cmd *remoting.Command) {
	if cmd.IsResponse() {
		if cl := c.pending.Remove(cmd.Opaque); cl != nil {
			inflight.DetachBody(cmd) // the caller reads it on its own goroutine
			cl.Resp = cmd
			cl.Done <- struct{}{}
		} else {
			c.srv.cfg.logger.Debug("remoting: dropping response with unknown opaque", "remote", c.String(), "opaque", cmd.Opaque)
		}
		return
	}
	c.lastSerialize.Store(uint32(cmd.SerializeType))
	c.srv.dispatch(c, cmd)
}

// markClosed runs on the event loop from OnClose: later writes are refused,
// parked requests see Context() done and server-to-client calls fail.
func (c *Conn) markClosed(reason error) {
	c.mu.Lock()
	c.closed = true
	c.out = nil
	c.mu.Unlock()
	c.spare = nil
	c.cancel()
	err := fmt.Errorf("%w: %s", remoting.ErrConnClosed, c.String())
	if reason != nil {
		err = fmt.Errorf("%w: %s: %w", remoting.ErrConnClosed, c.String(), reason)
	}
	for _, cl := range c.pending.CloseAll(err) {
		cl.Err = err
		cl.Done <- struct{}{}
	}
}

// RequestContext carries one inbound request to its Processor and lets the
// processor answer it, now or later, from any goroutine.
type RequestContext struct {
	conn    *Conn
	req     *remoting.Command
	proc    Processor
	replied atomic.Bool
	parked  atomic.Bool
	hook    ReplyHook     // nil unless the server has one
	arrived time.Time     // set only with a hook
	queued  time.Time     // when it entered the worker queue; zero for inline processors
	inline  bool          // req.Body aliases the read buffer (KeepBody not yet called)
	waited  time.Duration // time in the worker queue, set when a worker took it
}

// QueueWait is how long the request waited in the worker queue before a
// worker took it (0 for processors registered with HandleInline). A broker
// sheds requests that waited too long, as upstream's fast failure does with
// its pull and heartbeat queues: the client has likely given up already.
func (rc *RequestContext) QueueWait() time.Duration { return rc.waited }

// MarkParked records that the request waits to be answered later (a
// long-polling pull), for the server's ReplyHook.
func (rc *RequestContext) MarkParked() { rc.parked.Store(true) }

// KeepBody copies the request's body out of the connection's read buffer.
// A processor registered with HandleInline gets a body that aliases that
// buffer and is valid only until the processor returns; before it hands the
// request or its body to another goroutine, or keeps it, it calls KeepBody
// (on the event loop, before returning). Processors run by workers get a
// body of their own already; KeepBody is harmless there.
func (rc *RequestContext) KeepBody() {
	if rc.inline {
		inflight.DetachBody(rc.req)
		rc.inline = false
	}
}

// Conn returns the connection the request arrived on.
func (rc *RequestContext) Conn() *Conn { return rc.conn }

// Request returns the request being processed.
func (rc *RequestContext) Request() *remoting.Command { return rc.req }

// Context is cancelled when the request's connection closes.
func (rc *RequestContext) Context() context.Context { return rc.conn.ctx }

// Reply sends resp as the answer to the request: it stamps the request's
// opaque, the response flag and the request's serialisation on resp. Only the
// first Reply counts; Reply on a oneway request is a no-op, and a reply after
// the connection closed is dropped (the error wraps ErrConnClosed).
func (rc *RequestContext) Reply(resp *remoting.Command) error {
	if rc.req.IsOneway() || resp == nil {
		return nil
	}
	if !rc.replied.CompareAndSwap(false, true) {
		return nil
	}
	resp.Opaque = rc.req.Opaque
	resp.Flag |= remoting.FlagResponse
	resp.SerializeType = rc.req.SerializeType
	if rc.hook != nil {
		rc.hook(rc.req.Code, resp.Code, time.Since(rc.arrived), rc.parked.Load())
	}
	return rc.conn.write(resp)
}
