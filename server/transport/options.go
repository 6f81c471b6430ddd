package transport

import (
	"crypto/tls"
	"errors"
	"log/slog"
	"runtime"
	"time"

	"github.com/rocketgo/rocketgo/remoting"
)

// ErrServerClosed is returned by Server methods after Shutdown.
var ErrServerClosed = errors.New("remoting: server closed")

// Option configures a Server.
type Option func(*config)

type config struct {
	logger         *slog.Logger
	maxFrameSize   int
	idleTimeout    time.Duration
	requestTimeout time.Duration
	workers        int
	queueSize      int
	eventLoops     int
	onConnect      func(*Conn)
	onClose        func(*Conn, error)
	accessCheck    AccessCheck
	tlsMode        TLSMode
	tlsConfig      *tls.Config
	onReply        ReplyHook
}

func defaultConfig() config {
	return config{
		logger:         slog.New(slog.DiscardHandler),
		maxFrameSize:   remoting.DefaultMaxFrameSize,
		idleTimeout:    remoting.DefaultIdleTimeout,
		requestTimeout: remoting.DefaultRequestTimeout,
		workers:        defaultWorkers(),
		queueSize:      DefaultQueueSize,
		eventLoops:     runtime.GOMAXPROCS(0),
	}
}

// WithLogger sets the logger. Default: discard everything. Frame errors and
// connection churn log at Debug, processor panics at Error.
func WithLogger(l *slog.Logger) Option {
	return func(c *config) {
		if l != nil {
			c.logger = l
		}
	}
}

// WithMaxFrameSize caps the size of an inbound frame (length prefix value).
// A peer sending a bigger frame is disconnected. Default
// remoting.DefaultMaxFrameSize (16 MiB, Java's frameMaxLength). Values <= 0
// keep the default.
func WithMaxFrameSize(n int) Option {
	return func(c *config) {
		if n > 0 {
			c.maxFrameSize = n
		}
	}
}

// WithIdleTimeout closes a connection that received nothing for d.
// Default 120 s (Java channel max idle). d <= 0 disables the check.
func WithIdleTimeout(d time.Duration) Option {
	return func(c *config) { c.idleTimeout = d }
}

// WithRequestTimeout is the deadline applied to a server-to-client request
// (Conn.Invoke) whose context has none. Default 3 s. Values <= 0 keep the
// default.
func WithRequestTimeout(d time.Duration) Option {
	return func(c *config) {
		if d > 0 {
			c.requestTimeout = d
		}
	}
}

// AccessCheck decides whether a request may reach its processor. A non-nil
// error refuses it: the client gets NO_PERMISSION with the error's text as
// the remark, and the processor never runs. It runs where the processor
// would (the event loop for HandleInline codes, a worker otherwise), so it
// must not block, and must be safe for concurrent use.
type AccessCheck func(c *Conn, req *remoting.Command) error

// WithAccessCheck installs an AccessCheck (the broker's ACL). Default: none,
// every request reaches its processor.
func WithAccessCheck(f AccessCheck) Option { return func(c *config) { c.accessCheck = f } }
