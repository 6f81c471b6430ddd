package remoting

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// Transport errors. Every error returned by Client and Server methods wraps
// one of these (or a codec error), so callers can branch with errors.Is and
// still read the address and request code from *OpError via errors.As.
var (
	// ErrConnClosed reports that the connection a request travelled on was
	// closed before the response arrived (peer hung up, frame error, idle
	// timeout, or Close). The next call to the same address reconnects.
	ErrConnClosed = errors.New("remoting: connection closed")
	// ErrTimeout reports that no response arrived before the deadline. The
	// error also wraps the context error, so errors.Is(err,
	// context.DeadlineExceeded) holds as well.
	ErrTimeout = errors.New("remoting: request timed out")
	// ErrClientClosed is returned by every Client method after Close.
	ErrClientClosed = errors.New("remoting: client closed")
	// ErrServerClosed is returned by Server methods after Shutdown.
	ErrServerClosed = errors.New("remoting: server closed")
)

// errNilCommand is returned (wrapped in *OpError) when a nil *Command is
// passed to an invoke method.
var errNilCommand = errors.New("remoting: nil command")

// OpError describes a failed transport operation.
type OpError struct {
	Op   string // "invoke", "invokeAsync", "invokeOneway", "dial"
	Addr string // remote address
	Code int16  // request code
	Err  error  // wraps one of the sentinels above, a context error or a codec error
}

func (e *OpError) Error() string {
	return fmt.Sprintf("remoting: %s code=%d addr=%s: %v", e.Op, e.Code, e.Addr, e.Err)
}

func (e *OpError) Unwrap() error { return e.Err }

// Defaults shared by client and server, matching RocketMQ's NettySystemConfig /
// NettyServerConfig.
const (
	DefaultDialTimeout    = 3 * time.Second   // connect timeout (Java 3000 ms)
	DefaultRequestTimeout = 3 * time.Second   // mqClientApiTimeout
	DefaultIdleTimeout    = 120 * time.Second // channel max idle, both sides
)

// Option configures both a Client and a Server (logger, frame cap, idle and
// request timeouts are meaningful on either side).
type Option interface {
	ClientOption
	ServerOption
}

type sharedOption func(*commonConfig)

func (o sharedOption) applyClient(c *clientConfig) { o(&c.commonConfig) }
func (o sharedOption) applyServer(c *serverConfig) { o(&c.commonConfig) }

// commonConfig holds the settings both transports understand.
type commonConfig struct {
	logger         *slog.Logger
	maxFrameSize   int
	idleTimeout    time.Duration
	requestTimeout time.Duration
}

func defaultCommonConfig() commonConfig {
	return commonConfig{
		logger:         slog.New(slog.DiscardHandler),
		maxFrameSize:   DefaultMaxFrameSize,
		idleTimeout:    DefaultIdleTimeout,
		requestTimeout: DefaultRequestTimeout,
	}
}

// WithLogger sets the logger. Default: discard everything. Frame errors and
// connection churn log at Debug, processor panics at Error.
func WithLogger(l *slog.Logger) Option {
	return sharedOption(func(c *commonConfig) {
		if l != nil {
			c.logger = l
		}
	})
}

// WithMaxFrameSize caps the size of an inbound frame (length prefix value).
// A peer sending a bigger frame is disconnected. Default DefaultMaxFrameSize
// (16 MiB, Java's frameMaxLength). Values <= 0 keep the default.
func WithMaxFrameSize(n int) Option {
	return sharedOption(func(c *commonConfig) {
		if n > 0 {
			c.maxFrameSize = n
		}
	})
}

// WithIdleTimeout closes a connection that received nothing for d.
// Default 120 s (Java channel max idle, Go client's idle check). d <= 0
// disables the check.
func WithIdleTimeout(d time.Duration) Option {
	return sharedOption(func(c *commonConfig) { c.idleTimeout = d })
}

// WithRequestTimeout is the deadline applied to a request whose context has
// none (client calls, and server-to-client Conn.Invoke). Default 3 s.
// Values <= 0 keep the default.
func WithRequestTimeout(d time.Duration) Option {
	return sharedOption(func(c *commonConfig) {
		if d > 0 {
			c.requestTimeout = d
		}
	})
}

// call is one outstanding request waiting for its response. Whoever removes
// it from its pendingTable owns its completion; that single rule makes "the
// callback runs exactly once" hold across response, timeout and close.
type call struct {
	done  chan struct{} // sync calls: receives one value on completion
	resp  *Command
	err   error
	timer *time.Timer // sync calls: default-timeout timer, reused with the call

	// Async calls only.
	cb   func(*Command, error)
	stop func() // releases the timeout / cancellation hooks
}

// pools recycles per-request objects. Each Client and Server owns one
// (rather than a package-level pool) so instances share no mutable state.
type pools struct {
	calls sync.Pool // *call
	bufs  sync.Pool // *[]byte encode buffers
}

func (p *pools) getCall() *call {
	if c, ok := p.calls.Get().(*call); ok {
		return c
	}
	return &call{done: make(chan struct{}, 1)}
}

// putCall recycles a sync call; its done channel must have been drained.
func (p *pools) putCall(c *call) {
	c.resp, c.err, c.cb, c.stop = nil, nil, nil, nil
	p.calls.Put(c)
}

// maxPooledBuf: buffers that grew past it (big message bodies) are dropped so
// a burst of large frames does not pin memory.
const maxPooledBuf = 1 << 20

func (p *pools) getBuf() *[]byte {
	if b, ok := p.bufs.Get().(*[]byte); ok {
		return b
	}
	b := make([]byte, 0, 4096)
	return &b
}

func (p *pools) putBuf(b *[]byte) {
	if cap(*b) > maxPooledBuf {
		return
	}
	*b = (*b)[:0]
	p.bufs.Put(b)
}

// pendingTable maps opaques to outstanding calls of one connection.
type pendingTable struct {
	mu     sync.Mutex
	calls  map[int32]*call
	closed error // set once the connection is gone; refuses new entries
}

func (t *pendingTable) add(opaque int32, c *call) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed != nil {
		return t.closed
	}
	if t.calls == nil {
		t.calls = make(map[int32]*call)
	}
	t.calls[opaque] = c
	return nil
}

func (t *pendingTable) remove(opaque int32) *call {
	t.mu.Lock()
	c := t.calls[opaque]
	if c != nil {
		delete(t.calls, opaque)
	}
	t.mu.Unlock()
	return c
}

// closeAll refuses further entries and returns every outstanding call so the
// caller can fail them outside the lock.
func (t *pendingTable) closeAll(reason error) []*call {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed == nil {
		t.closed = reason
	}
	out := make([]*call, 0, len(t.calls))
	for op, c := range t.calls {
		out = append(out, c)
		delete(t.calls, op)
	}
	return out
}

// detachBody copies a decoded body out of the read buffer it aliases so the
// buffer can be reused for the next read.
func detachBody(cmd *Command) {
	if len(cmd.Body) > 0 {
		cmd.Body = append([]byte(nil), cmd.Body...)
	}
}

// awaitCall waits for a sync call published under opaque in t. Without a ctx
// deadline it applies defaultTimeout with a plain timer, cheaper on the hot
// path than deriving a context per call. If the deadline and the response
// race, whichever withdrew the call from t wins; a response that won is
// returned even though the deadline passed, because it is already here.
func awaitCall(ctx context.Context, t *pendingTable, opaque int32, cl *call, defaultTimeout time.Duration) (*Command, error) {
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
	case <-cl.done:
		return cl.resp, cl.err
	case <-expired:
		waitErr = fmt.Errorf("%w after %s: %w", ErrTimeout, defaultTimeout, context.DeadlineExceeded)
	case <-ctx.Done():
		waitErr = ctxError(ctx)
	}
	if t.remove(opaque) != nil {
		return nil, waitErr
	}
	<-cl.done // the completer owns the call and is signalling
	return cl.resp, cl.err
}

// ctxError maps a finished context to the transport's error vocabulary: a
// deadline is a timeout (wrapping both ErrTimeout and DeadlineExceeded),
// anything else is the context's own error.
func ctxError(ctx context.Context) error {
	err := ctx.Err()
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%w: %w", ErrTimeout, err)
	}
	if err == nil {
		err = context.Canceled
	}
	return err
}
