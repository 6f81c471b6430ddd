package netclient

import (
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/rocketgo/rocketgo/internal/inflight"
	"github.com/rocketgo/rocketgo/remoting"
)

// Who reads the socket.
//
// Exactly one goroutine reads a connection at a time: the holder of its read
// token (clientConn.tok). Normally that is the connection's reader goroutine.
// A sync caller that is alone on the connection (no other sync call in
// progress, nothing pending, no context to watch) takes the token instead,
// writes its own frame and reads its own response on its own goroutine. That
// spares two goroutine hand-offs per round trip (caller → writer, reader →
// caller), which on a single sender are most of the client's latency. (An
// async request alone on the connection skips the first hand-off too; its
// response still comes through the reader goroutine, as its callback must
// run elsewhere anyway.)
//
// The holder dispatches everything it reads: other calls' responses go to
// their waiters and server requests to their handlers, exactly as the reader
// goroutine would. A caller keeps the token only until its own response has
// arrived; if other calls are pending by then, it kicks the reader goroutine
// to take over. The reader goroutine gives the token up only when a lone
// caller asked for it (want) and nothing is pending, and takes it back when
// it lies unused for leadIdle, so a server request that arrives while no
// caller is active waits at most about that long.
const (
	tokReader int32 = iota // the reader goroutine reads
	tokFree                // nobody reads; the reader goroutine waits for a kick or leadIdle
	tokCaller              // a sync caller reads its own response
)

// leadIdle is how long the token may lie unused before the reader goroutine
// takes it back. Back-to-back sync calls from one goroutine are microseconds
// apart, far below it. (config.leadIdle; tests that need a caller to lead
// on a slow machine raise it.)
const leadIdle = 2 * time.Millisecond

// errOwnDeadline is readFrame telling a leading caller that its own deadline
// passed; it never leaves the package.
var errOwnDeadline = errors.New("netclient: caller's deadline passed")

// lead makes the calling goroutine the reader of its own response if it is
// alone on the connection; it then holds the token and must call unlead.
// A lone caller that finds the reader goroutine reading asks it to hand the
// token over once the connection goes quiet.
//
// Alone means no other sync call in progress and nothing pending. The
// table alone is not enough: under many sync senders it empties whenever
// the reader has just answered them all, before any has sent again, and a
// caller leading then would only bounce the token back and forth.
func (cc *clientConn) lead() bool {
	if cc.syncs.Load() != 1 {
		return false
	}
	switch cc.tok.Load() {
	case tokFree:
		if cc.pending.Len() == 0 && cc.tok.CompareAndSwap(tokFree, tokCaller) {
			cc.leads.Add(1)
			return true
		}
	case tokReader:
		if !cc.want.Load() && cc.pending.Len() == 0 {
			cc.want.Store(true)
		}
	}
	return false
}

// unlead gives a caller's token back. Calls that became pending meanwhile
// need a reader now: the reader goroutine is kicked. The order (release,
// then look at the table) pairs with wakeReader's (publish, then look at the
// token) so that one of the two always sees the other.
func (cc *clientConn) unlead() {
	cc.wakeCallbacks()
	cc.tok.Store(tokFree)
	if cc.pending.Len() > 0 {
		cc.kickReader()
	}
}

// wakeReader is called after publishing a call that will not read its own
// response: if nobody holds the token, the reader goroutine must take it.
func (cc *clientConn) wakeReader() {
	if cc.tok.Load() == tokFree {
		cc.kickReader()
	}
}

func (cc *clientConn) kickReader() {
	select {
	case cc.kick <- struct{}{}:
	default: // a kick is pending already
	}
}

// readLoop is the reader goroutine: it reads and dispatches while it holds
// the token, and waits for it otherwise. Any read or frame error closes the
// connection.
func (cc *clientConn) readLoop() {
	defer cc.client.wg.Done()
	idle := time.NewTimer(cc.client.cfg.leadIdle)
	idle.Stop()
	for {
		if err := cc.readHeld(); err != nil {
			cc.wakeCallbacks()
			cc.close(err)
			return
		}
		if !cc.awaitToken(idle) {
			return
		}
	}
}

// readHeld reads and dispatches frames until the token is handed to a lone
// caller (nil) or reading fails.
func (cc *clientConn) readHeld() error {
	for {
		cmd, err := cc.readFrame(0)
		if err != nil {
			return err
		}
		cc.dispatch(cmd)
		// Hand over only between frames (nothing buffered) and with nothing
		// pending: then no response can be waiting for this goroutine.
		if cc.want.Load() && cc.roff == len(cc.rbuf) && cc.pending.Len() == 0 {
			cc.wakeCallbacks()
			cc.want.Store(false)
			cc.tok.Store(tokFree)
			// A stale kick would take the token straight back. Drained
			// before looking at the table, so a kick sent for a call the
			// table check misses arrives after the drain.
			select {
			case <-cc.kick:
			default:
			}
			if cc.pending.Len() == 0 || !cc.tok.CompareAndSwap(tokFree, tokReader) {
				return nil
			}
		}
	}
}

// awaitToken waits until the reader goroutine holds the token again: on a
// kick (calls are pending), or when the token lay unused for a whole
// leadIdle. It reports false when the connection closed.
func (cc *clientConn) awaitToken(t *time.Timer) bool {
	seen := cc.leads.Load()
	t.Reset(cc.client.cfg.leadIdle)
	defer t.Stop()
	for {
		select {
		case <-cc.closing:
			return false
		case <-cc.kick:
			if cc.tok.CompareAndSwap(tokFree, tokReader) {
				return true
			}
			// A caller holds it; it kicks again on release if needed.
		case <-t.C:
			g := cc.leads.Load()
			if g == seen && cc.tok.CompareAndSwap(tokFree, tokReader) {
				return true
			}
			seen = g
			t.Reset(cc.client.cfg.leadIdle)
		}
	}
}

// readOwn is a leading caller's wait: it reads frames until its own response
// (opaque) arrives, dispatching any other, then gives the token back. until
// is the call's deadline (unix ns). The call's ownership rule is the
// table's: if Remove finds the call gone, the close path owns it and is
// completing it through cl.Done.
func (cc *clientConn) readOwn(opaque int32, cl *inflight.Call, until int64) (*remoting.Command, error) {
	for {
		cmd, err := cc.readFrame(until)
		if err != nil {
			if err == errOwnDeadline {
				mine := cc.pending.Remove(opaque) != nil
				cc.unlead()
				if mine {
					return nil, inflight.TimeoutError(cc.client.cfg.requestTimeout)
				}
			} else {
				cc.close(err)
				cc.unlead()
			}
			<-cl.Done
			return cl.Resp, cl.Err
		}
		if cmd.Opaque != opaque || !cmd.IsResponse() {
			cc.dispatch(cmd)
			continue
		}
		mine := cc.pending.Remove(opaque) != nil
		// Frames already read must not wait for the next holder.
		for {
			next, err := cc.bufferedFrame()
			if err != nil {
				cc.close(err)
				break
			}
			if next == nil {
				break
			}
			cc.dispatch(next)
		}
		cc.unlead()
		if mine {
			return cmd, nil
		}
		<-cl.Done
		return cl.Resp, cl.Err
	}
}

// bufferedFrame decodes the next complete frame already in the read buffer,
// or returns nil if there is none. Token holder only.
func (cc *clientConn) bufferedFrame() (*remoting.Command, error) {
	if cc.roff == len(cc.rbuf) {
		return nil, nil
	}
	frame, used, err := remoting.SplitFrame(cc.rbuf[cc.roff:], cc.client.cfg.maxFrameSize)
	if err != nil {
		return nil, cc.frameError(err)
	}
	if used == 0 {
		return nil, nil
	}
	cc.roff += used
	cmd, err := remoting.DecodeFrame(frame)
	if err != nil {
		return nil, cc.frameError(err)
	}
	inflight.DetachBody(cmd)
	return cmd, nil
}

// readFrame returns the next frame, reading the socket as needed. Token
// holder only. until is a leading caller's deadline (unix ns); 0 is the
// reader goroutine, whose only deadline is the idle timeout.
func (cc *clientConn) readFrame(until int64) (*remoting.Command, error) {
	for {
		cmd, err := cc.bufferedFrame()
		if cmd != nil || err != nil {
			return cmd, err
		}
		cc.rbuf = compactReadBuf(cc.rbuf, cc.roff)
		cc.roff = 0
		// About to block: the callbacks of the responses read so far
		// can run now.
		cc.wakeCallbacks()
		if err := cc.armDeadline(until); err != nil {
			return nil, fmt.Errorf("%w: read deadline on %s: %w", remoting.ErrConnClosed, cc.addr, err)
		}
		n, err := cc.nc.Read(cc.rbuf[len(cc.rbuf):cap(cc.rbuf)])
		if n > 0 {
			cc.lastRead.Store(time.Now().UnixNano())
			cc.rbuf = cc.rbuf[:len(cc.rbuf)+n]
		}
		if err != nil {
			if !errors.Is(err, os.ErrDeadlineExceeded) {
				return nil, cc.readError(err)
			}
			if err := cc.deadlineHit(until); err != nil {
				return nil, err
			}
		}
	}
}

// Read deadlines. Setting one costs a timer update in the runtime's poller,
// too much to pay per read, so the socket's deadline (rdl) is only ever
// pulled earlier when the holder needs it earlier, and re-armed when it
// fires: about once per request timeout under steady traffic. When it fires
// early for the current holder, deadlineHit tells a spurious expiry from a
// real one.

// rdlExpired marks a deadline that fired and must be set again.
const rdlExpired = -1

// armDeadline makes sure the socket's read deadline is no later than the
// holder needs: until for a leading caller, last read + idle timeout for the
// reader goroutine (none if the idle check is off).
func (cc *clientConn) armDeadline(until int64) error {
	want := until
	if until == 0 {
		idle := cc.client.cfg.idleTimeout
		if idle <= 0 {
			if cc.rdl == 0 {
				return nil
			}
			cc.rdl = 0
			return cc.nc.SetReadDeadline(time.Time{})
		}
		want = cc.lastRead.Load() + int64(idle)
	}
	if cc.rdl > 0 && cc.rdl <= want {
		return nil
	}
	cc.rdl = want
	return cc.nc.SetReadDeadline(time.Unix(0, want))
}

// deadlineHit decides what an expired read deadline means: the leading
// caller's own deadline (errOwnDeadline), an idle connection (an error that
// closes it), or nothing (an earlier holder's deadline: read on).
func (cc *clientConn) deadlineHit(until int64) error {
	cc.rdl = rdlExpired
	now := time.Now().UnixNano()
	if until != 0 {
		if now >= until {
			return errOwnDeadline
		}
		return nil
	}
	if idle := cc.client.cfg.idleTimeout; idle > 0 && now-cc.lastRead.Load() >= int64(idle) {
		cc.client.cfg.logger.Debug("remoting: closing idle connection", "addr", cc.addr)
		return fmt.Errorf("%w: %s idle for %s", remoting.ErrConnClosed, cc.addr, idle)
	}
	return nil
}

func (cc *clientConn) frameError(err error) error {
	cc.client.cfg.logger.Debug("remoting: bad frame from server", "addr", cc.addr, "err", err)
	return fmt.Errorf("%w: %w", remoting.ErrConnClosed, err)
}

// maxAsyncDirect bounds the frames an async caller writes itself: a bigger
// one could block it until the peer has read most of it, and InvokeAsync
// promises not to wait on the network.
const maxAsyncDirect = 64 << 10
