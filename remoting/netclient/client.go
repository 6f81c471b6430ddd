package netclient

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rocketgo/rocketgo/internal/inflight"
	"github.com/rocketgo/rocketgo/remoting"
)

// RequestHandler answers a request the server sent to this client (broker →
// client codes such as GET_CONSUMER_RUNNING_INFO 307 or
// NOTIFY_CONSUMER_IDS_CHANGED 40). addr is the server's address as dialled.
// A non-nil result is sent back as the response unless the request was
// oneway; the transport fills in opaque, response flag and serialisation.
// ctx is cancelled when the Client closes.
type RequestHandler func(ctx context.Context, addr string, req *remoting.Command) *remoting.Command

// Client is the request/response side of the remoting protocol. It keeps one
// long-lived TCP connection per address, shared by all callers, and
// multiplexes requests over it by opaque. A Client is safe for concurrent use;
// share one per process rather than one per goroutine.
//
// Each connection owns exactly two goroutines: a reader that splits and
// dispatches frames, and a writer that coalesces queued frames into as few
// syscalls as possible. A sync caller alone on a connection bypasses both:
// it writes its request and reads its response itself (see lead.go). Async
// callbacks run on the Client's callback workers (async.go) and
// server-initiated request handlers on goroutines of their own, so a slow
// one never stalls the reader.
type Client struct {
	cfg    config
	opaque atomic.Int32
	pools  inflight.Pools
	asyncs sync.Pool // *asyncCall
	cbs    callbacks // runs async calls' callbacks

	mu     sync.Mutex
	conns  map[string]*clientConn // includes connections still dialling
	closed bool

	hmu      sync.Mutex // serialises RegisterHandler's copy-on-write
	handlers atomic.Pointer[map[int16]RequestHandler]

	ctx    context.Context // parent of handler contexts, cancelled by Close
	cancel context.CancelFunc

	// Goroutine accounting: every goroutine the Client starts is in wg, and
	// wg.Add only happens under gmu while !stopping, so Close's Wait never
	// races an Add.
	gmu      sync.Mutex
	stopping bool
	wg       sync.WaitGroup
}

// New returns a Client; connections are dialled lazily on first use.
func New(opts ...Option) *Client {
	cfg := defaultConfig()
	for _, o := range opts {
		if o != nil {
			o(&cfg)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	c := &Client{cfg: cfg, conns: make(map[string]*clientConn), ctx: ctx, cancel: cancel}
	c.cbs.c = c
	empty := map[int16]RequestHandler{}
	c.handlers.Store(&empty)
	return c
}

// RegisterHandler installs h for server-initiated requests with the given
// code, replacing any previous handler. A nil h removes it. Unregistered codes
// are answered with REQUEST_CODE_NOT_SUPPORTED (unless oneway).
func (c *Client) RegisterHandler(code int16, h RequestHandler) {
	c.hmu.Lock()
	defer c.hmu.Unlock()
	old := *c.handlers.Load()
	next := make(map[int16]RequestHandler, len(old)+1)
	for k, v := range old {
		next[k] = v
	}
	if h == nil {
		delete(next, code)
	} else {
		next[code] = h
	}
	c.handlers.Store(&next)
}

// InvokeSync sends cmd to addr and waits for its response. The deadline is
// ctx's, or the request timeout option (default 3 s) when ctx has none. It
// sets cmd.Opaque, clears the oneway bit and applies the client's
// serialisation, so a Command must not be sent twice concurrently. It
// keeps no reference to cmd once it returns: the caller may reuse it.
//
// Errors are *OpError wrapping ErrTimeout (plus context.DeadlineExceeded),
// ErrConnClosed, ErrClientClosed, a context error, a dial error or a codec
// error. A non-success response code is not an error here: it is in the
// returned Command for the caller to interpret.
func (c *Client) InvokeSync(ctx context.Context, addr string, cmd *remoting.Command) (*remoting.Command, error) {
	if cmd == nil {
		return nil, &remoting.OpError{Op: "invoke", Addr: addr, Err: remoting.ErrNilCommand}
	}
	fail := func(err error) (*remoting.Command, error) {
		return nil, &remoting.OpError{Op: "invoke", Addr: addr, Code: cmd.Code, Err: err}
	}
	if err := ctx.Err(); err != nil {
		return fail(err)
	}
	cl := c.pools.GetCall()
	var (
		cc     *clientConn
		opaque int32
	)
	// A connection can close (idle timeout, peer hang-up) between being
	// handed out and taking the request. Nothing reached the wire then, so
	// one retry on a fresh connection cannot duplicate the request.
	var sentAt int64
	// A caller alone on the connection reads its own response (lead.go)
	// when it has no context to watch: a blocking read can honour a
	// deadline but not a cancellation.
	canLead := ctx.Done() == nil
	lead := false
	var queued *[]byte      // a frame queued with the caller's body: see sendRef
	var counted *clientConn // whose syncs counts this call
	defer func() {
		if counted != nil {
			counted.syncs.Add(-1)
		}
	}()
	for attempt := 0; ; attempt++ {
		var err error
		if cc, err = c.conn(ctx, addr); err != nil {
			c.pools.PutCall(cl)
			return fail(err)
		}
		opaque = c.prepare(cmd, 0)
		sentAt = time.Now().UnixNano()
		if counted != cc {
			if counted != nil {
				counted.syncs.Add(-1)
			}
			counted = cc
			cc.syncs.Add(1)
		}
		lead = canLead && cc.lead()
		if err = cc.pending.Add(opaque, cl); err == nil {
			if lead {
				err = cc.write(cmd, 0)
			} else {
				queued, err = cc.sendRef(cmd)
			}
			if err == nil {
				break
			}
			if cc.pending.Remove(opaque) == nil {
				<-cl.Done // the connection's close path owns it and is completing it
				cl.Resp, cl.Err = nil, nil
			}
		}
		if lead {
			cc.unlead()
		}
		if attempt > 0 || !errors.Is(err, remoting.ErrConnClosed) {
			c.pools.PutCall(cl)
			return fail(err)
		}
	}

	var (
		resp *remoting.Command
		err  error
	)
	if lead {
		resp, err = cc.readOwn(opaque, cl, sentAt+int64(c.cfg.requestTimeout))
	} else {
		cc.wakeReader()
		resp, err = inflight.Await(ctx, &cc.pending, opaque, cl, c.cfg.requestTimeout)
	}
	c.pools.PutCall(cl)
	if h := c.cfg.hooks.OnResponseRead; h != nil {
		h(addr, cmd.Code, resp, time.Duration(time.Now().UnixNano()-sentAt), err)
	}
	if err != nil {
		if errors.Is(err, remoting.ErrTimeout) {
			cc.timedOut(sentAt)
		}
		// The caller owns cmd.Body again once this returns. Without a
		// response, nothing says the writer is done with it. (With one, the
		// peer has read the whole frame.)
		cc.release(queued)
		return fail(err)
	}
	return resp, nil
}

// InvokeAsync sends cmd to addr and calls cb exactly once with the response
// or an error (same errors as InvokeSync). cb never runs on the calling
// goroutine and never on the connection's reader: it runs on one of the
// Client's callback workers, which run completed calls' callbacks one
// after another. cb may block or call back into the Client; while it
// blocks, the callbacks queued behind it move to another worker within a
// few milliseconds (see callbacks in async.go), so a slow callback delays
// the others briefly, and never the reading of responses. InvokeAsync
// itself may block while a new connection is dialled.
func (c *Client) InvokeAsync(ctx context.Context, addr string, cmd *remoting.Command, cb func(*remoting.Command, error)) {
	if cb == nil {
		cb = func(*remoting.Command, error) {}
	}
	c.invokeAsync(ctx, addr, cmd, HandlerFunc(cb), true)
}

// InvokeOneway sends cmd with the oneway flag set and returns once it is
// queued for writing (encoded: the caller may reuse cmd). Java servers do
// not answer such requests; a stray answer from another implementation is
// dropped as an unknown opaque.
func (c *Client) InvokeOneway(ctx context.Context, addr string, cmd *remoting.Command) error {
	if cmd == nil {
		return &remoting.OpError{Op: "invokeOneway", Addr: addr, Err: remoting.ErrNilCommand}
	}
	fail := func(err error) error {
		return &remoting.OpError{Op: "invokeOneway", Addr: addr, Code: cmd.Code, Err: err}
	}
	if err := ctx.Err(); err != nil {
		return fail(err)
	}
	cc, err := c.conn(ctx, addr)
	if err != nil {
		return fail(err)
	}
	c.prepare(cmd, remoting.FlagOneway)
	if err := cc.send(cmd); err != nil {
		return fail(err)
	}
	return nil
}

// Close closes every connection, fails outstanding calls with an error
// wrapping ErrConnClosed and ErrClientClosed, cancels handler contexts and
// waits for every goroutine the Client started (including running callbacks
// and handlers) to return. Later calls fail with ErrClientClosed. Close is
// idempotent. Because it waits for callbacks and handlers, the first Close
// must not be called from inside one of them.
func (c *Client) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	live := make([]*clientConn, 0, len(c.conns))
	for _, cc := range c.conns {
		if cc.nc != nil { // still-dialling entries see c.closed and give up
			live = append(live, cc)
		}
	}
	clear(c.conns)
	c.mu.Unlock()

	c.cancel()
	reason := fmt.Errorf("%w: %w", remoting.ErrConnClosed, ErrClientClosed)
	for _, cc := range live {
		cc.close(reason)
	}
	c.cbs.close()
	c.gmu.Lock()
	c.stopping = true
	c.gmu.Unlock()
	c.wg.Wait()
	return nil
}

// prepare stamps a fresh opaque, the flags and the serialisation on cmd.
func (c *Client) prepare(cmd *remoting.Command, flags int32) int32 {
	opaque := c.opaque.Add(1)
	cmd.Opaque = opaque
	cmd.Flag = cmd.Flag&^(remoting.FlagResponse|remoting.FlagOneway) | flags
	cmd.SerializeType = c.cfg.serializeType
	if cmd.Code == remoting.CodeOutOfRange && cmd.WideCode != 0 {
		// Only the JSON header carries codes beyond int16 (5.x POP).
		cmd.SerializeType = remoting.SerializeJSON
	}
	if c.cfg.signer != nil {
		c.cfg.signer(cmd)
	}
	return opaque
}

// conn returns the live connection to addr, dialling it if needed. The dial
// runs on its own goroutine, bounded by the dial timeout and cancelled by
// Close but not by any one caller's ctx: callers that share the connection
// each wait for it only as long as their own ctx allows, and a caller with a
// short deadline cannot fail the dial for the others.
func (c *Client) conn(ctx context.Context, addr string) (*clientConn, error) {
	cc, err := c.connTo(addr)
	if err != nil {
		return nil, err
	}
	select {
	case <-cc.ready:
	case <-ctx.Done():
		return nil, inflight.CtxError(ctx)
	}
	if cc.dialErr != nil {
		return nil, cc.dialErr
	}
	return cc, nil
}

// connTo returns the connection to addr, live or being dialled, starting
// the dial if there is none.
func (c *Client) connTo(addr string) (*clientConn, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, ErrClientClosed
	}
	cc := c.conns[addr]
	if cc == nil {
		cc = newClientConn(c, addr)
		c.conns[addr] = cc
		c.wg.Add(1) // under c.mu with c.closed false: Close has not reached Wait
		go c.dial(cc)
	}
	return cc, nil
}

// dial connects cc and starts its goroutines, or records why it could not.
func (c *Client) dial(cc *clientConn) {
	defer c.wg.Done()
	defer close(cc.ready)
	start := time.Now()
	nc, err := cc.dialNet(c.ctx, c.cfg.dialTimeout)
	if h := c.cfg.hooks.OnConnect; h != nil {
		defer func() { h(cc.addr, time.Since(start), cc.dialErr) }()
	}

	c.mu.Lock()
	if c.closed {
		if nc != nil {
			_ = nc.Close()
		}
		err = ErrClientClosed
	}
	if err != nil {
		if c.conns[cc.addr] == cc {
			delete(c.conns, cc.addr)
		}
		c.mu.Unlock()
		cc.dialErr = err
		c.cfg.logger.Debug("remoting: dial failed", "addr", cc.addr, "err", err)
		return
	}
	cc.nc = nc
	cc.rbuf = make([]byte, 0, readBufSize)
	cc.lastRead.Store(time.Now().UnixNano()) // the idle clock starts now
	// Added under c.mu with c.closed false: Close has not reached Wait yet.
	c.wg.Add(2)
	c.mu.Unlock()
	go cc.readLoop()
	go cc.writeLoop()
	c.cfg.logger.Debug("remoting: connected", "addr", cc.addr, "local", nc.LocalAddr().String())
}

// forget drops cc from the connection map so the next call redials.
func (c *Client) forget(cc *clientConn) {
	c.mu.Lock()
	if c.conns[cc.addr] == cc {
		delete(c.conns, cc.addr)
	}
	c.mu.Unlock()
}

// complete finishes a call whose ownership the caller obtained by removing it
// from a inflight.Table.
func (c *Client) complete(cl *inflight.Call, resp *remoting.Command, err error) {
	cl.Resp, cl.Err = resp, err
	if cl.Callback == nil {
		cl.Done <- struct{}{}
		return
	}
	if cl.Stop != nil {
		cl.Stop()
	}
	c.cbs.push(cl)
}

// spawn runs f on a tracked goroutine. Once Close is waiting, must-run work
// (callbacks, which must fire exactly once) gets an untracked goroutine
// instead (it can only be a failure callback for a call made after Close);
// optional work (serving a new server request) is dropped.
func (c *Client) spawn(mustRun bool, f func()) {
	c.gmu.Lock()
	if c.stopping {
		c.gmu.Unlock()
		if mustRun {
			go f()
		}
		return
	}
	c.wg.Add(1)
	c.gmu.Unlock()
	go func() {
		defer c.wg.Done()
		f()
	}()
}

// serve answers a request the server sent on cc.
func (c *Client) serve(cc *clientConn, req *remoting.Command) {
	h := (*c.handlers.Load())[req.Code]
	if h == nil {
		if !req.IsOneway() {
			resp := remoting.NewResponse(req, remoting.RequestCodeNotSupported, fmt.Sprintf(" request type %d not supported", req.ReceivedCode()))
			c.reply(cc, req, resp)
		}
		return
	}
	c.spawn(false, func() {
		resp := c.runHandler(h, cc.addr, req)
		if resp != nil && !req.IsOneway() {
			c.reply(cc, req, resp)
		}
	})
}

// runHandler calls h, turning a panic into a SYSTEM_ERROR response.
func (c *Client) runHandler(h RequestHandler, addr string, req *remoting.Command) (resp *remoting.Command) {
	defer func() {
		if r := recover(); r != nil {
			c.cfg.logger.Error("remoting: request handler panicked", "code", req.Code, "addr", addr, "panic", r)
			resp = remoting.NewResponse(req, remoting.SystemError, fmt.Sprintf("handler panic: %v", r))
		}
	}()
	return h(c.ctx, addr, req)
}

func (c *Client) reply(cc *clientConn, req, resp *remoting.Command) {
	resp.Opaque = req.Opaque
	resp.Flag |= remoting.FlagResponse
	resp.SerializeType = req.SerializeType
	if _, _, err := cc.put(resp, false, false, 0); err != nil {
		c.cfg.logger.Debug("remoting: dropping response to server request", "code", req.Code, "addr", cc.addr, "err", err)
	}
}
