package client

import (
	"context"
	"log/slog"
	"time"

	"github.com/rocketgo/rocketgo/remoting/netclient"

	"github.com/rocketgo/rocketgo/remoting"
)

// Defaults, matching the Java client's ClientConfig.
const (
	// DefaultRequestTimeout bounds one request whose context has no deadline
	// (Java mqClientApiTimeout, 3000 ms).
	DefaultRequestTimeout = 3 * time.Second
	// DefaultHeartbeatInterval is heartbeatBrokerInterval (30 s).
	DefaultHeartbeatInterval = 30 * time.Second
	// DefaultRouteRefreshInterval is pollNameServerInterval (30 s).
	DefaultRouteRefreshInterval = 30 * time.Second
	// DefaultInstanceName is instanceName's default; it is replaced by the
	// process id in the client id.
	DefaultInstanceName = "DEFAULT"
	// DefaultTopic is the auto-creation template topic (createTopicKey).
	DefaultTopic = "TBW102"
	// DefaultTopicQueueNums is defaultTopicQueueNums: how many queues a
	// producer uses for a topic that exists only as the TBW102 template.
	DefaultTopicQueueNums = 4
)

// Resolver returns the current name-server addresses ("host:port" each). It
// is called before the first lookup and again on every route refresh, so a
// resolver backed by DNS or an HTTP endpoint follows changes.
type Resolver func(ctx context.Context) ([]string, error)

// CredentialsHook may add ext fields (AccessKey, Signature, ...) to every
// request the Client sends to a broker, just before it is sent. It runs on
// the sender's goroutine and must be safe for concurrent use. The default
// is none.
type CredentialsHook func(cmd *remoting.Command)

// Option configures a Client.
type Option func(*config)

type config struct {
	nameServers    string
	resolver       Resolver
	instanceName   string
	namespace      string
	unitName       string
	clientIP       string
	requestTimeout time.Duration
	heartbeat      time.Duration
	routeRefresh   time.Duration
	logger         *slog.Logger
	credentials    CredentialsHook
	remotingOpts   []netclient.Option
	hooks          []any
}

func defaultConfig() config {
	return config{
		instanceName:   DefaultInstanceName,
		requestTimeout: DefaultRequestTimeout,
		heartbeat:      DefaultHeartbeatInterval,
		routeRefresh:   DefaultRouteRefreshInterval,
		logger:         slog.New(slog.DiscardHandler),
	}
}

// WithNameServers sets the name servers as "host:port;host:port" (the
// NAMESRV_ADDR format). One of WithNameServers or WithResolver is required.
func WithNameServers(addrs string) Option { return func(c *config) { c.nameServers = addrs } }

// WithResolver sets a function that supplies the name-server addresses; it
// takes precedence over WithNameServers.
func WithResolver(r Resolver) Option { return func(c *config) { c.resolver = r } }

// WithInstanceName sets the instance part of the client id. Default
// "DEFAULT", which is replaced by "<pid>#<nanos>" as the Java client does,
// so that several Clients in one process get distinct ids.
func WithInstanceName(name string) Option {
	return func(c *config) {
		if name != "" {
			c.instanceName = name
		}
	}
}

// WithNamespace makes the Client's users prefix topics and groups with
// "namespace%" (see WrapTopic). Default: none.
func WithNamespace(ns string) Option { return func(c *config) { c.namespace = ns } }

// WithUnitName appends "@unit" to the client id. Default: none.
func WithUnitName(unit string) Option { return func(c *config) { c.unitName = unit } }

// WithClientIP overrides the address part of the client id and of unique
// message keys. Default: the first non-loopback IPv4 address, else
// 127.0.0.1.
func WithClientIP(ip string) Option { return func(c *config) { c.clientIP = ip } }

// WithRequestTimeout bounds a request whose context has no deadline.
// Default 3 s. Values <= 0 keep the default.
func WithRequestTimeout(d time.Duration) Option {
	return func(c *config) {
		if d > 0 {
			c.requestTimeout = d
		}
	}
}

// WithHeartbeatInterval sets how often every broker is sent a heartbeat.
// Default 30 s. Values <= 0 keep the default.
func WithHeartbeatInterval(d time.Duration) Option {
	return func(c *config) {
		if d > 0 {
			c.heartbeat = d
		}
	}
}

// WithRouteRefreshInterval sets how often cached topic routes are re-read
// from the name servers. Default 30 s. Values <= 0 keep the default.
func WithRouteRefreshInterval(d time.Duration) Option {
	return func(c *config) {
		if d > 0 {
			c.routeRefresh = d
		}
	}
}

// WithLogger sets the logger. Default: discard everything.
func WithLogger(l *slog.Logger) Option {
	return func(c *config) {
		if l != nil {
			c.logger = l
		}
	}
}

// WithCredentials installs a hook that signs every broker request (for
// ACL). Default: none.
func WithCredentials(h CredentialsHook) Option { return func(c *config) { c.credentials = h } }

// DefaultSerializeType is the header encoding of the requests a Client
// sends unless WithRemotingOptions says otherwise: ROCKETMQ binary. Servers
// answer in kind (ours) or in JSON (Java's default); the transport reads both.
const DefaultSerializeType = remoting.SerializeRocketMQ

// WithRemotingOptions passes options to the underlying netclient.Client
// (dial timeout, serialisation, frame cap, ...).
func WithRemotingOptions(opts ...netclient.Option) Option {
	return func(c *config) { c.remotingOpts = append(c.remotingOpts, opts...) }
}
