package client

import (
	"context"
	"crypto/tls"
	"log/slog"
	"time"

	"github.com/rocketgo/rocketgo/auth"
	iclient "github.com/rocketgo/rocketgo/internal/client"
	"github.com/rocketgo/rocketgo/remoting"
	"github.com/rocketgo/rocketgo/remoting/netclient"
)

// Defaults, matching the Java client's ClientConfig.
const (
	// DefaultRequestTimeout bounds a request whose context has no deadline
	// (mqClientApiTimeout, 3 s).
	DefaultRequestTimeout = iclient.DefaultRequestTimeout
	// DefaultHeartbeatInterval is heartbeatBrokerInterval (30 s).
	DefaultHeartbeatInterval = iclient.DefaultHeartbeatInterval
	// DefaultRouteRefreshInterval is pollNameServerInterval (30 s).
	DefaultRouteRefreshInterval = iclient.DefaultRouteRefreshInterval
	// DefaultInstanceName is instanceName's default; it is replaced by
	// "<pid>#<nanos>" in the client id.
	DefaultInstanceName = iclient.DefaultInstanceName
)

// Option configures a Client.
type Option func(*config)

type config struct {
	opts  []iclient.Option
	hooks []Hook
}

func with(o iclient.Option) Option { return func(c *config) { c.opts = append(c.opts, o) } }

// WithNameServers sets the name servers as "host:port;host:port" (the
// NAMESRV_ADDR format). One of WithNameServers or WithResolver is required.
func WithNameServers(addrs string) Option { return with(iclient.WithNameServers(addrs)) }

// WithResolver sets a function that supplies the name-server addresses,
// called before the first lookup and on every route refresh (so a resolver
// backed by DNS or an HTTP endpoint follows changes). It takes precedence
// over WithNameServers.
func WithResolver(r func(ctx context.Context) ([]string, error)) Option {
	return with(iclient.WithResolver(r))
}

// WithInstanceName sets the instance part of the client id. Default
// "DEFAULT", replaced by "<pid>#<nanos>" as the Java client does, so that
// several Clients in one process get distinct ids.
func WithInstanceName(name string) Option { return with(iclient.WithInstanceName(name)) }

// WithNamespace prefixes the topics and groups of this Client's producers
// and consumers with "namespace%". Default: none.
func WithNamespace(ns string) Option { return with(iclient.WithNamespace(ns)) }

// WithUnitName appends "@unit" to the client id. Default: none.
func WithUnitName(unit string) Option { return with(iclient.WithUnitName(unit)) }

// WithClientIP overrides the address in the client id and in unique message
// keys. Default: the first non-loopback IPv4 address, else 127.0.0.1.
func WithClientIP(ip string) Option { return with(iclient.WithClientIP(ip)) }

// WithLogger sets the logger. Default: discard everything.
func WithLogger(l *slog.Logger) Option { return with(iclient.WithLogger(l)) }

// WithRequestTimeout bounds a request whose context has no deadline.
// Default 3 s. Values <= 0 keep the default.
func WithRequestTimeout(d time.Duration) Option { return with(iclient.WithRequestTimeout(d)) }

// WithHeartbeatInterval sets how often every broker is sent a heartbeat.
// Default 30 s. Values <= 0 keep the default.
func WithHeartbeatInterval(d time.Duration) Option { return with(iclient.WithHeartbeatInterval(d)) }

// WithRouteRefreshInterval sets how often cached topic routes are re-read
// from the name servers. Default 30 s. Values <= 0 keep the default.
func WithRouteRefreshInterval(d time.Duration) Option {
	return with(iclient.WithRouteRefreshInterval(d))
}

// WithRequestSigner installs a function that may add ext fields to every
// request sent to a broker, just before it is sent: the raw hook for custom
// signing schemes. It runs on the sender's goroutine and must be safe for
// concurrent use. It replaces WithCredentials and WithCredentialsProvider
// (the last of the three wins). Default: none.
func WithRequestSigner(sign func(req *remoting.Command)) Option {
	return with(iclient.WithCredentials(sign))
}

// WithCredentials signs every broker request with c as Apache RocketMQ's
// ACL expects (AccessKey, Signature and SecurityToken ext fields; see
// package auth). Default: no signing, as against a broker without ACL.
func WithCredentials(c auth.Credentials) Option {
	return WithRequestSigner(auth.NewSigner(c).Sign)
}

// WithCredentialsProvider signs every broker request with the credentials p
// returns at that moment, so keys can rotate. A request for which p fails is
// sent unsigned and the broker refuses it. Default: none.
func WithCredentialsProvider(p auth.Provider) Option {
	return WithRequestSigner(auth.NewProviderSigner(p).Sign)
}

// WithTransportOptions passes options to the client transport (dial
// timeout, header serialisation, frame cap, idle timeout). Default: the
// transport's own defaults.
func WithTransportOptions(opts ...netclient.Option) Option {
	return with(iclient.WithRemotingOptions(opts...))
}

// WithTLS makes every connection (name servers and brokers) TLS, for
// clusters in TLS permissive or enforcing mode. A nil cfg verifies servers
// against the system roots. Default: plain TCP.
func WithTLS(cfg *tls.Config) Option { return WithTransportOptions(netclient.WithTLS(cfg)) }

// WithHooks adds hooks (see Hook). Each is checked once, here, for the hook
// interfaces it implements; events with no hook cost nothing. Default: none.
func WithHooks(hooks ...Hook) Option {
	return func(c *config) { c.hooks = append(c.hooks, hooks...) }
}
