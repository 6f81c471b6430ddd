package netclient

import (
	"context"
	"crypto/tls"
	"log/slog"
	"net"
	"time"

	"github.com/rocketgo/rocketgo/remoting"
)

// Option configures a Client.
type Option func(*config)

type config struct {
	logger         *slog.Logger
	maxFrameSize   int
	idleTimeout    time.Duration
	requestTimeout time.Duration
	dialTimeout    time.Duration
	serializeType  remoting.SerializeType
	hooks          Hooks
	dialer         func(ctx context.Context, network, addr string) (net.Conn, error)
	signer         func(*remoting.Command)
	tls            *tls.Config // nil: plain TCP
	leadIdle       time.Duration
}

func defaultConfig() config {
	return config{
		logger:         slog.New(slog.DiscardHandler),
		maxFrameSize:   remoting.DefaultMaxFrameSize,
		idleTimeout:    remoting.DefaultIdleTimeout,
		requestTimeout: remoting.DefaultRequestTimeout,
		dialTimeout:    remoting.DefaultDialTimeout,
		serializeType:  remoting.SerializeJSON,
		leadIdle:       leadIdle,
	}
}

// WithLogger sets the logger. Default: discard everything. Frame errors and
// connection churn log at Debug, handler panics at Error.
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
// Default 120 s (Java channel max idle, Go client's idle check). d <= 0
// disables the check.
func WithIdleTimeout(d time.Duration) Option {
	return func(c *config) { c.idleTimeout = d }
}

// WithRequestTimeout is the deadline applied to a request whose context has
// none. Default 3 s. Values <= 0 keep the default.
func WithRequestTimeout(d time.Duration) Option {
	return func(c *config) {
		if d > 0 {
			c.requestTimeout = d
		}
	}
}

// WithDialTimeout bounds connection establishment. Default 3 s (Java
// connectTimeoutMillis). Values <= 0 keep the default.
func WithDialTimeout(d time.Duration) Option {
	return func(c *config) {
		if d > 0 {
			c.dialTimeout = d
		}
	}
}

// WithDialer replaces the TCP dialer, for fault injection (a test that
// partitions a broker from its peers) and custom transports. The dial
// timeout still bounds ctx. Default: net.Dialer.
func WithDialer(d func(ctx context.Context, network, addr string) (net.Conn, error)) Option {
	return func(c *config) { c.dialer = d }
}

// WithSerializeType selects the header encoding of requests this client
// sends. Default remoting.SerializeJSON, the only one every RocketMQ server
// and client family reads. Responses to server-initiated requests always
// mirror the request's encoding.
func WithSerializeType(t remoting.SerializeType) Option {
	return func(c *config) { c.serializeType = t }
}

// WithRequestSigner installs a function that may add ext fields (an ACL
// signature, see package auth) to every request this Client sends, just
// before it is encoded. It runs on the sender's goroutine and must be safe
// for concurrent use. Default: none.
func WithRequestSigner(sign func(*remoting.Command)) Option {
	return func(c *config) { c.signer = sign }
}

// WithTLS makes every connection TLS, as a broker or name server in TLS
// permissive or enforcing mode expects. A nil cfg verifies servers against
// the system roots. When cfg has no ServerName it is taken from the address
// dialled. Default: plain TCP.
func WithTLS(cfg *tls.Config) Option {
	return func(c *config) {
		if cfg == nil {
			cfg = &tls.Config{MinVersion: tls.VersionTLS12}
		}
		c.tls = cfg
	}
}

// WithHooks installs transport observers (see Hooks). Default: none. A
// later call replaces the earlier one's hooks.
func WithHooks(h Hooks) Option {
	return func(c *config) { c.hooks = h }
}

// Hooks observe a Client's connections and requests, for metrics, tracing
// and logging. Every field is optional; a nil field costs one nil check on
// its path and nothing else. Hooks run on the goroutine where the event
// happens (a caller's, a dialler's, a callback's), so they must be fast,
// must not block and must be safe for concurrent use. They must not keep
// the commands they are shown.
type Hooks struct {
	// OnConnect is called once per dial attempt with its duration and
	// outcome (err nil: connected).
	OnConnect func(addr string, dial time.Duration, err error)
	// OnDisconnect is called once when a connection that was established
	// closes, with the reason.
	OnDisconnect func(addr string, err error)
	// OnRequestWritten is called when a request (sync, async or oneway)
	// has been encoded and handed to the connection's writer, with the
	// frame's size in bytes, or with the error that stopped it.
	OnRequestWritten func(addr string, code int16, bytes int, err error)
	// OnResponseRead is called when a sync or async request completes:
	// resp is the response (nil with err), latency runs from the hand-off
	// to the writer to the completion.
	OnResponseRead func(addr string, code int16, resp *remoting.Command, latency time.Duration, err error)
}
