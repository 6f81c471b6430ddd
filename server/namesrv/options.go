package namesrv

import (
	"io"
	"log/slog"
	"time"

	"github.com/rocketgo/rocketgo/server/controller"
	"github.com/rocketgo/rocketgo/server/transport"
)

// Defaults, matching the Apache name server.
const (
	// DefaultListenAddr is the name server's well-known port.
	DefaultListenAddr = ":9876"
	// DefaultScanInterval is how often silent brokers are looked for
	// (4.x scanned every 10 s, 5.x every 5 s).
	DefaultScanInterval = 10 * time.Second
	// DefaultBrokerTimeout expires a broker that has not registered or
	// heartbeated for this long; a broker may ask for another value with
	// heartbeatTimeoutMillis.
	DefaultBrokerTimeout = 120 * time.Second
)

// Option configures a Server.
type Option func(*config)

type config struct {
	listenAddr          string
	scanInterval        time.Duration
	brokerTimeout       time.Duration
	logger              *slog.Logger
	now                 func() time.Time
	remotingOpts        []transport.Option
	kvConfigPath        string
	controller          *controller.Controller // enableControllerInNamesrv; started and stopped with the server
	holdUntilRegistered bool
}

func defaultConfig() config {
	return config{
		listenAddr:    DefaultListenAddr,
		scanInterval:  DefaultScanInterval,
		brokerTimeout: DefaultBrokerTimeout,
		logger:        slog.New(slog.NewTextHandler(io.Discard, nil)),
		now:           time.Now,
	}
}

// WithListenAddr sets the TCP listen address. Default ":9876"; use
// "127.0.0.1:0" for a free port (Addr reports the one chosen).
func WithListenAddr(addr string) Option {
	return func(c *config) { c.listenAddr = addr }
}

// WithScanInterval sets how often silent brokers are expired. Default 10 s;
// values ≤ 0 are ignored.
func WithScanInterval(d time.Duration) Option {
	return func(c *config) {
		if d > 0 {
			c.scanInterval = d
		}
	}
}

// WithBrokerTimeout sets how long a broker may stay silent before it is
// dropped, unless its registration carries heartbeatTimeoutMillis.
// Default 120 s; values ≤ 0 are ignored.
func WithBrokerTimeout(d time.Duration) Option {
	return func(c *config) {
		if d > 0 {
			c.brokerTimeout = d
		}
	}
}

// WithLogger sets the logger. Default: discard everything. Broker arrivals
// and departures are logged at Info, rejected requests at Warn.
func WithLogger(l *slog.Logger) Option {
	return func(c *config) {
		if l != nil {
			c.logger = l
		}
	}
}

// WithClock replaces time.Now for liveness bookkeeping (tests). The scan
// ticker still runs on real time; a fake clock decides what has expired.
func WithClock(now func() time.Time) Option {
	return func(c *config) {
		if now != nil {
			c.now = now
		}
	}
}

// WithRemotingOptions passes options (frame cap, idle timeout, ...) to the
// underlying remoting server. Default: none, i.e. remoting's defaults.
func WithRemotingOptions(opts ...transport.Option) Option {
	return func(c *config) { c.remotingOpts = append(c.remotingOpts, opts...) }
}

// WithKVConfigPath persists the KV configuration (ORDER_TOPIC_CONFIG and
// other namespaces) to a JSON file, as upstream's kvConfig.json. Default:
// none, the table lives in memory.
func WithKVConfigPath(path string) Option {
	return func(c *config) { c.kvConfigPath = path }
}

// WithController runs a controller node inside the name server, as
// upstream's enableControllerInNamesrv: it starts after the name server
// listens and stops before it. The controller keeps its own remoting and
// raft ports (controllerDLegerPeers), as upstream's does.
func WithController(c *controller.Controller) Option {
	return func(cfg *config) { cfg.controller = c }
}

// WithHoldUntilBrokerRegistered makes the server hold every client request
// (route, cluster and topic queries, KV configuration, ...) until a broker
// has registered, then answer them from the routes it brought. Broker
// requests (registration, heartbeat, data version) are served at once. It
// is for a name server started together with its broker, as `rocketgo
// serve` does: a client started at the same moment then waits a little
// instead of being told its topic does not exist. Held requests are
// bounded (4,096; later ones are answered SYSTEM_BUSY). Default: off, every
// request is answered at once, as upstream's name server does.
func WithHoldUntilBrokerRegistered() Option {
	return func(c *config) { c.holdUntilRegistered = true }
}
