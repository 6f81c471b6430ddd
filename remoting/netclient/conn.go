package netclient

import (
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rocketgo/rocketgo/internal/inflight"
	"github.com/rocketgo/rocketgo/remoting"
)

// Read buffer sizing: start at readBufSize, grow to fit a large frame, and
// shrink back once the large frame has been consumed so one big pull result
// does not pin megabytes per connection.
const readBufSize = 64 << 10

// clientConn is one multiplexed TCP connection of a Client.
type clientConn struct {
	client *Client
	addr   string

	ready   chan struct{} // closed once dialling finished
	dialErr error         // set before ready is closed
	nc      net.Conn      // set under client.mu before ready is closed

	pending inflight.Table

	// Write queue: senders append encoded frames, the writer goroutine
	// swaps the whole queue out and writes it with one writev.
	wmu     sync.Mutex
	queue   []qframe
	writing bool   // the writer goroutine has taken frames it has not written yet
	batches uint64 // batches the writer has taken: see release
	wclosed bool
	wake    chan struct{} // capacity 1: "the queue is non-empty"
	iovs    sync.Pool     // *splitIOV for put's direct header+body writev

	closing   chan struct{} // closed by close
	closeOnce sync.Once

	// lastRead is when bytes last arrived (unix ns). A request that times
	// out on a connection that has heard nothing since the request was sent
	// means the connection is dead, even if TCP has not noticed: a peer that
	// vanished or a socket nobody serves any more. Such a connection is
	// closed so the next call reconnects (Java closes on every timeout; this
	// spares a live but slow connection).
	lastRead atomic.Int64

	// Reading: see lead.go. tok says who reads the socket; rbuf, roff and
	// rdl belong to whoever holds it.
	tok   atomic.Int32
	syncs atomic.Int32  // sync calls in progress: a caller is alone only if it is the one
	want  atomic.Bool   // a lone sync caller asks the reader goroutine for the token
	leads atomic.Uint64 // how often callers took the token: the reader's idle check
	kick  chan struct{} // capacity 1: "calls are pending, take the token"
	rbuf  []byte        // read buffer; rbuf[roff:] is not yet decoded
	roff  int
	rdl   int64 // read deadline set on nc (unix ns); 0 none, rdlExpired fired
	// unwoken: the holder queued callbacks without waking a worker; it
	// does (wakeCallbacks) before it blocks or gives the token up.
	unwoken bool

	// Async calls on the request timeout, oldest first, and the timer for
	// the oldest one's deadline (async.go).
	amu          sync.Mutex
	ahead, atail *asyncCall
	atimer       *time.Timer
	adue         int64 // the deadline atimer is set for (unix ns); 0 not set
	aclosed      bool  // the connection closed: atimer is not set again
}

// timedOut is told that a request sent at sentAt (unix ns) timed out.
func (cc *clientConn) timedOut(sentAt int64) {
	if cc.lastRead.Load() < sentAt {
		cc.close(fmt.Errorf("%w: %s answered nothing before a request timed out", remoting.ErrConnClosed, cc.addr))
	}
}

func newClientConn(c *Client, addr string) *clientConn {
	return &clientConn{
		client:  c,
		addr:    addr,
		ready:   make(chan struct{}),
		wake:    make(chan struct{}, 1),
		kick:    make(chan struct{}, 1),
		closing: make(chan struct{}),
	}
}

func (cc *clientConn) dialNet(ctx context.Context, timeout time.Duration) (net.Conn, error) {
	dctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var nc net.Conn
	var err error
	if dial := cc.client.cfg.dialer; dial != nil {
		nc, err = dial(dctx, "tcp", cc.addr)
	} else {
		d := net.Dialer{}
		nc, err = d.DialContext(dctx, "tcp", cc.addr)
	}
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", cc.addr, err)
	}
	if tc, ok := nc.(*net.TCPConn); ok {
		// Requests are small and latency-bound; Nagle would only add delay
		// (Go's default already disables it, this documents the intent).
		_ = tc.SetNoDelay(true)
	}
	if cfg := cc.client.cfg.tls; cfg != nil {
		// Over whatever dialled the socket; the handshake shares the dial
		// timeout. ServerName defaults to the host dialled, as tls.Dial's.
		if cfg.ServerName == "" {
			cfg = cfg.Clone()
			cfg.ServerName, _, _ = net.SplitHostPort(cc.addr)
		}
		tc := tls.Client(nc, cfg)
		if err := tc.HandshakeContext(dctx); err != nil {
			_ = nc.Close()
			return nil, fmt.Errorf("dial %s: TLS handshake: %w", cc.addr, err)
		}
		nc = tc
	}
	return nc, nil
}

// send encodes cmd into a pooled buffer and queues it for the writer. It never
// blocks on the network. Encoding happens outside the queue lock so
// concurrent senders encode in parallel.
func (cc *clientConn) send(cmd *remoting.Command) error {
	n, _, err := cc.put(cmd, false, false, 0)
	cc.requestWritten(cmd, n, err)
	return err
}

// write sends cmd from the calling goroutine, with no hand-off to the
// writer, unless the writer has frames queued or in hand (a oneway request
// this goroutine sent just before): then cmd queues behind them, so one
// goroutine's requests reach the wire in the order it made them. A frame
// longer than limit (if > 0) queues too. Only a connection already closed
// is an error (nothing reached the wire, so the caller may retry
// elsewhere); a failed write closes the connection, which fails the
// published call.
func (cc *clientConn) write(cmd *remoting.Command, limit int) error {
	n, _, err := cc.put(cmd, true, false, limit)
	cc.requestWritten(cmd, n, err)
	return err
}

func (cc *clientConn) requestWritten(cmd *remoting.Command, n int, err error) {
	if h := cc.client.cfg.hooks.OnRequestWritten; h != nil {
		h(cc.addr, cmd.Code, n, err)
	}
}

// put encodes cmd and either queues it for the writer or, when direct and
// the writer has nothing queued or in hand (and the frame is within limit,
// if limit > 0), writes it on the calling goroutine. It returns the frame
// size, 0 on error.
//
// A frame with a body of at least splitBody bytes leaves as two iovecs,
// header buffer and cmd.Body, in one writev, so the body is not copied,
// when the caller cannot reuse the body while the frame may still be read:
// written directly, the caller is inside put until the kernel has the
// bytes; queued with ref, put returns the queued frame's handle, which the
// caller passes to release before it reuses the body (see release). Any
// other queued frame outlives the call (oneway, or a timed-out caller) and
// keeps its own copy.
func (cc *clientConn) put(cmd *remoting.Command, direct, ref bool, limit int) (int, *[]byte, error) {
	pools := &cc.client.pools
	bp := pools.GetBuf()
	b, err := remoting.AppendFrameHeader((*bp)[:0], cmd)
	if err != nil {
		pools.PutBuf(bp)
		return 0, nil, err
	}
	n := len(b) + len(cmd.Body)
	split := (direct || ref) && len(cmd.Body) >= splitBody && (limit <= 0 || n <= limit) && cc.vectored()
	if !split {
		b = append(b, cmd.Body...)
	}
	*bp = b
	cc.wmu.Lock()
	if cc.wclosed {
		cc.wmu.Unlock()
		pools.PutBuf(bp)
		return 0, nil, fmt.Errorf("%w: %s", remoting.ErrConnClosed, cc.addr)
	}
	direct = direct && len(cc.queue) == 0 && !cc.writing && (limit <= 0 || n <= limit)
	if !direct && split && !ref {
		// The writer got busy meanwhile: this frame queues after all, and
		// a queued frame keeps its own copy of the body. Copied outside
		// the lock, which the writer needs.
		cc.wmu.Unlock()
		*bp = append(b, cmd.Body...)
		split = false
		cc.wmu.Lock()
		if cc.wclosed {
			cc.wmu.Unlock()
			pools.PutBuf(bp)
			return 0, nil, fmt.Errorf("%w: %s", remoting.ErrConnClosed, cc.addr)
		}
	}
	var handle *[]byte
	if !direct {
		f := qframe{buf: bp}
		if split {
			f.body, handle = cmd.Body, bp
		}
		cc.queue = append(cc.queue, f)
	}
	cc.wmu.Unlock()
	if !direct {
		select {
		case cc.wake <- struct{}{}:
		default: // the writer has a wake-up pending already
		}
		return n, handle, nil
	}
	var werr error
	if split {
		werr = cc.writeSplit(b, cmd.Body)
	} else {
		_, werr = cc.nc.Write(b)
	}
	if werr != nil {
		cc.close(fmt.Errorf("%w: write to %s: %w", remoting.ErrConnClosed, cc.addr, werr))
	}
	pools.PutBuf(bp)
	return n, nil, nil
}

// splitBody is the body size from which a directly written frame sends the
// body from the caller's slice instead of copying it behind the header: one
// more iovec costs less than copying a few KiB.
const splitBody = 4 << 10

// vectored reports whether one Write of net.Buffers reaches the socket as a
// single writev. Only then can header and body go separately: other
// connections (TLS, a custom dialer's wrapper) write each buffer on its
// own, and another goroutine's frame could land between them.
func (cc *clientConn) vectored() bool {
	_, ok := cc.nc.(*net.TCPConn)
	return ok
}

// writeSplit writes a frame's header and body with one writev. The iovec
// pair is pooled: net.Buffers escapes through WriteTo.
func (cc *clientConn) writeSplit(hdr, body []byte) error {
	v, _ := cc.iovs.Get().(*splitIOV)
	if v == nil {
		v = new(splitIOV)
	}
	v.a = [2][]byte{hdr, body}
	v.bufs = v.a[:]
	_, err := v.bufs.WriteTo(cc.nc)
	v.a, v.bufs = [2][]byte{}, nil
	cc.iovs.Put(v)
	return err
}

// splitIOV is writeSplit's iovec pair and the net.Buffers over it.
type splitIOV struct {
	a    [2][]byte
	bufs net.Buffers
}

// qframe is a queued frame: the pooled buffer and, for a frame queued by
// sendRef, the body it does not contain.
type qframe struct {
	buf  *[]byte
	body []byte // nil: buf holds the whole frame
}

func (f qframe) appendTo(iov [][]byte) [][]byte {
	iov = append(iov, *f.buf)
	if f.body != nil {
		iov = append(iov, f.body)
	}
	return iov
}

// sendRef queues cmd like send, except that a body of splitBody bytes or
// more is not copied: the writer sends it from cmd.Body. It returns a handle
// (nil when the body was copied or the frame not queued) that the caller
// must pass to release before it may reuse the body if it stops waiting
// for the response: a response proves the whole frame was written, nothing
// else does. Only a sync caller, which waits for that response, may use it.
func (cc *clientConn) sendRef(cmd *remoting.Command) (*[]byte, error) {
	n, h, err := cc.put(cmd, false, true, 0)
	cc.requestWritten(cmd, n, err)
	return h, err
}

// releaseGrace is how long release waits for a writer stuck on a frame
// (a peer that stopped reading) before it closes the connection to free it.
const releaseGrace = 100 * time.Millisecond

// release makes sure the writer no longer reads the body of the frame
// sendRef queued as h, for a caller that gave up waiting (timeout,
// cancellation, connection closed). A frame still queued is dropped: the
// request was never sent. One the writer has taken is waited for; if that
// write does not finish within releaseGrace the connection is closed,
// which fails the write.
func (cc *clientConn) release(h *[]byte) {
	if h == nil {
		return
	}
	cc.wmu.Lock()
	for i, f := range cc.queue {
		if f.buf == h {
			cc.queue = slices.Delete(cc.queue, i, i+1)
			cc.wmu.Unlock()
			cc.client.pools.PutBuf(h)
			return
		}
	}
	// Not queued: the writer took it in batch cc.batches or earlier, and
	// every earlier batch is finished.
	batch := cc.batches
	start := time.Now()
	closed := false
	for cc.writing && cc.batches == batch {
		cc.wmu.Unlock()
		if !closed && time.Since(start) > releaseGrace {
			// Once: the close fails the stalled write, which ends the batch.
			cc.close(fmt.Errorf("%w: a write to %s stalled past a request's timeout", remoting.ErrConnClosed, cc.addr))
			closed = true
		}
		time.Sleep(50 * time.Microsecond)
		cc.wmu.Lock()
	}
	cc.wmu.Unlock()
}

// maxCoalesceYields bounds how often the writer yields to senders that are
// still queueing before it writes (coalesce).
const maxCoalesceYields = 4

// writeLoop drains the queue: one writev per wake-up carries every frame
// queued by then, and coalesce makes that as many as are about to come.
func (cc *clientConn) writeLoop() {
	defer cc.client.wg.Done()
	var (
		spare []qframe
		iov   [][]byte
	)
	for {
		select {
		case <-cc.wake:
		case <-cc.closing:
			return
		}
		cc.coalesce()
		cc.wmu.Lock()
		q := cc.queue
		cc.queue = spare[:0]
		cc.writing = len(q) > 0
		cc.batches++
		cc.wmu.Unlock()
		if len(q) == 0 {
			spare = q
			continue
		}
		iov = iov[:0]
		for _, f := range q {
			iov = f.appendTo(iov)
		}
		bufs := net.Buffers(iov)
		_, err := bufs.WriteTo(cc.nc)
		cc.wmu.Lock()
		cc.writing = false
		cc.wmu.Unlock()
		clear(iov)
		for _, f := range q {
			cc.client.pools.PutBuf(f.buf)
		}
		clear(q)
		spare = q
		if err != nil {
			cc.close(fmt.Errorf("%w: write to %s: %w", remoting.ErrConnClosed, cc.addr, err))
			return
		}
	}
}

// coalesce lets the senders that are already runnable queue their frames
// before the writer takes the queue, so that one writev carries them all: a
// timer-free Nagle. The first sender to queue readies the writer into its
// processor's run-next slot, ahead of the senders the reader has just woken
// with their responses; written at once, a burst of 64 responses went back
// out as about 15 writevs of 4 frames, and a writev on loopback costs
// several microseconds of kernel time (it runs the peer's TCP receive path
// too). Each yield puts the writer behind the runnable goroutines; it yields
// again while the queue grew meanwhile, up to maxCoalesceYields times. When
// nothing else is runnable a yield returns at once, so a lone frame waits a
// few hundred nanoseconds at most.
func (cc *clientConn) coalesce() {
	n := cc.queued()
	for range maxCoalesceYields {
		runtime.Gosched()
		m := cc.queued()
		if m == n {
			return
		}
		n = m
	}
}

// queued is how many frames wait for the writer.
func (cc *clientConn) queued() int {
	cc.wmu.Lock()
	defer cc.wmu.Unlock()
	return len(cc.queue)
}

// compactReadBuf drops the consumed prefix and sizes the buffer for what
// comes next: big enough for the pending frame (whose length is known once
// its prefix arrived), back to the default size when idle.
func compactReadBuf(buf []byte, consumed int) []byte {
	rest := len(buf) - consumed
	need := readBufSize
	if rest >= 4 {
		if l := 4 + int(binary.BigEndian.Uint32(buf[consumed:])); l > need {
			need = l // SplitFrame already rejected lengths above the cap
		}
	}
	if need < rest {
		need = rest
	}
	if cap(buf) < need || (cap(buf) > readBufSize && need == readBufSize) {
		nb := make([]byte, rest, need)
		copy(nb, buf[consumed:])
		return nb
	}
	copy(buf, buf[consumed:])
	return buf[:rest]
}

func (cc *clientConn) readError(err error) error {
	if errors.Is(err, io.EOF) {
		return fmt.Errorf("%w: %s closed by peer", remoting.ErrConnClosed, cc.addr)
	}
	return fmt.Errorf("%w: read from %s: %w", remoting.ErrConnClosed, cc.addr, err)
}

// wakeCallbacks wakes a callback worker for the async calls the holder
// queued, if any. Token holder only.
func (cc *clientConn) wakeCallbacks() {
	if cc.unwoken {
		cc.unwoken = false
		cc.client.cbs.wake()
	}
}

// dispatch routes a decoded frame: responses complete their call, requests go
// to the registered handler.
func (cc *clientConn) dispatch(cmd *remoting.Command) {
	if !cmd.IsResponse() {
		cc.client.serve(cc, cmd)
		return
	}
	if cl := cc.pending.Remove(cmd.Opaque); cl != nil {
		if cl.Callback != nil {
			// An async call: queued for a callback worker, which the
			// holder wakes once for all it read (wakeCallbacks).
			cl.Resp = cmd
			cl.Stop()
			cc.client.cbs.add(cl)
			cc.unwoken = true
			return
		}
		cc.client.complete(cl, cmd, nil)
		return
	}
	cc.client.cfg.logger.Debug("remoting: dropping response with unknown opaque", "addr", cc.addr, "opaque", cmd.Opaque, "code", cmd.Code)
}

// close tears the connection down once: later calls redial, queued frames
// are dropped, the socket is closed (unblocking the reader), the writer is
// stopped and every outstanding call fails with reason.
func (cc *clientConn) close(reason error) {
	cc.closeOnce.Do(func() {
		cc.client.forget(cc)
		cc.wmu.Lock()
		cc.wclosed = true
		cc.queue = nil
		cc.wmu.Unlock()
		close(cc.closing)
		_ = cc.nc.Close()
		for _, cl := range cc.pending.CloseAll(reason) {
			cc.client.complete(cl, nil, reason)
		}
		cc.stopAsyncTimer()
		if h := cc.client.cfg.hooks.OnDisconnect; h != nil {
			h(cc.addr, reason)
		}
		cc.client.cfg.logger.Debug("remoting: connection closed", "addr", cc.addr, "reason", reason)
	})
}
