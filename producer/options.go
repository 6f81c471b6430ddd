package producer

import (
	"context"
	"crypto/tls"
	"log/slog"
	"time"

	"github.com/rocketgo/rocketgo/auth"
	"github.com/rocketgo/rocketgo/client"

	iclient "github.com/rocketgo/rocketgo/internal/client"
	"github.com/rocketgo/rocketgo/message"
	"github.com/rocketgo/rocketgo/remoting"
	"github.com/rocketgo/rocketgo/selector"
	"github.com/rocketgo/rocketgo/selector/fault"
)

// Defaults, matching the Java DefaultMQProducer unless noted.
const (
	// DefaultGroup is the producer group used when none is given.
	DefaultGroup = "DEFAULT_PRODUCER"
	// DefaultSendTimeout is sendMsgTimeout: one budget shared by every
	// attempt of a send.
	DefaultSendTimeout = 3 * time.Second
	// DefaultRetries is retryTimesWhenSendFailed (sync) and
	// retryTimesWhenSendAsyncFailed (async): 2 retries, 3 attempts.
	DefaultRetries = 2
	// DefaultCompressThreshold is compressMsgBodyOverHowmuch (4 KiB).
	DefaultCompressThreshold = message.CompressThreshold
	// DefaultCompressLevel is compressLevel (rocketmq.message.compressLevel):
	// 5.
	DefaultCompressLevel = message.DefaultCompressLevel
	// DefaultCompressionType is compressType
	// (rocketmq.message.compressType): zlib.
	DefaultCompressionType = message.DefaultCompressionType
	// DefaultMaxMessageSize is maxMessageSize (4 MiB).
	DefaultMaxMessageSize = message.DefaultMaxMessageSize
	// DefaultBreakerFailures is how many consecutive transport failures
	// open a broker's circuit breaker (rocketgo default).
	DefaultBreakerFailures = 3
	// DefaultBreakerOpenTime is how long an open breaker keeps a broker out
	// of rotation before one probe send; it equals the 5.x isolation ban.
	DefaultBreakerOpenTime = 10 * time.Second
	// DefaultAsyncLimit bounds async sends in flight, like the Java
	// client's clientAsyncSemaphoreValue (65535).
	DefaultAsyncLimit = 65535
)

// Option configures a Producer.
type Option func(*config)

type config struct {
	group             string
	nameServers       string
	resolver          iclient.Resolver
	instanceName      string
	namespace         string
	unitName          string
	credentials       iclient.CredentialsHook
	tls               []client.Option // WithTLS's, if given
	logger            *slog.Logger
	client            *client.Client
	sendTimeout       time.Duration
	retries           int
	retryNotStoreOK   bool
	compressThreshold int
	compressLevel     int
	compressType      message.CompressionType
	compressor        func(dst, body []byte) []byte // WithCompressor's; nil: codec
	maxMessageSize    int
	selector          selector.Selector
	faultAvoidance    bool
	faultVersion      fault.Version
	faultClock        func() time.Time
	breakerFailures   uint32
	breakerOpenTime   time.Duration
	interceptors      []Interceptor
	asyncLimit        int
	txListener        TransactionListener
	trace             *TraceConfig
}

func defaultConfig() config {
	return config{
		group:             DefaultGroup,
		instanceName:      iclient.DefaultInstanceName,
		logger:            slog.New(slog.DiscardHandler),
		sendTimeout:       DefaultSendTimeout,
		retries:           DefaultRetries,
		compressThreshold: DefaultCompressThreshold,
		compressLevel:     DefaultCompressLevel,
		compressType:      DefaultCompressionType,
		maxMessageSize:    DefaultMaxMessageSize,
		faultAvoidance:    true,
		faultVersion:      fault.V5,
		breakerFailures:   DefaultBreakerFailures,
		breakerOpenTime:   DefaultBreakerOpenTime,
		asyncLimit:        DefaultAsyncLimit,
	}
}

// WithGroup sets the producer group. Default "DEFAULT_PRODUCER". The group
// matters for transactions: the broker checks back with a producer of the
// group that sent the half message.
func WithGroup(g string) Option {
	return func(c *config) {
		if g != "" {
			c.group = g
		}
	}
}

// WithNameServers sets the name servers, "host:port;host:port". Required
// unless WithResolver or WithClient is given.
func WithNameServers(addrs string) Option { return func(c *config) { c.nameServers = addrs } }

// WithResolver supplies the name-server list from a function, consulted on
// first use and on every route refresh.
func WithResolver(r func(ctx context.Context) ([]string, error)) Option {
	return func(c *config) { c.resolver = r }
}

// WithInstanceName sets the instance part of the client id. Default
// "DEFAULT" (replaced by "<pid>#<nanos>"). Ignored with WithClient.
func WithInstanceName(n string) Option {
	return func(c *config) {
		if n != "" {
			c.instanceName = n
		}
	}
}

// WithNamespace prefixes topics and the group with "ns%" on the wire.
// Default: none. Ignored with WithClient (the Client's namespace applies).
func WithNamespace(ns string) Option { return func(c *config) { c.namespace = ns } }

// WithUnitName appends "@unit" to the client id. Ignored with WithClient.
func WithUnitName(u string) Option { return func(c *config) { c.unitName = u } }

// WithRequestSigner installs a hook that may add ext fields (a custom
// signature) to every request. It replaces WithCredentials. Default: none.
// Ignored with WithClient.
func WithRequestSigner(h func(cmd *remoting.Command)) Option {
	return func(c *config) { c.credentials = h }
}

// WithCredentials signs every request for a broker with ACL on (see
// client.WithCredentials). Default: no signing. Ignored with WithClient.
func WithCredentials(cr auth.Credentials) Option {
	return func(c *config) { c.credentials = auth.NewSigner(cr).Sign }
}

// WithTLS connects over TLS (see client.WithTLS; nil verifies with the
// system roots). Default: plain TCP. Ignored with WithClient.
func WithTLS(cfg *tls.Config) Option {
	return func(c *config) { c.tls = []client.Option{client.WithTLS(cfg)} }
}

// WithCredentialsProvider signs with rotating credentials (see
// client.WithCredentialsProvider). Ignored with WithClient.
func WithCredentialsProvider(p auth.Provider) Option {
	return func(c *config) { c.credentials = auth.NewProviderSigner(p).Sign }
}

// WithLogger sets the logger. Default: discard.
func WithLogger(l *slog.Logger) Option {
	return func(c *config) {
		if l != nil {
			c.logger = l
		}
	}
}

// WithClient makes the producer use a shared client.Client (connections,
// routes, heartbeat and hooks) instead of creating a private one; the
// client-level options of this package (name servers, resolver, instance,
// namespace, unit, credentials, logger) are then ignored. The caller
// closes the Client after every producer and consumer using it has shut
// down; Shutdown leaves it open.
func WithClient(cl *client.Client) Option { return func(c *config) { c.client = cl } }

// WithSendTimeout sets the time budget of one send, shared by all its
// attempts, used when the context has no earlier deadline. Default 3 s.
func WithSendTimeout(d time.Duration) Option {
	return func(c *config) {
		if d > 0 {
			c.sendTimeout = d
		}
	}
}

// WithRetries sets how many times a failed sync or async send is retried
// (on another broker when possible). Default 2. Oneway sends are never
// retried.
func WithRetries(n int) Option {
	return func(c *config) {
		if n >= 0 {
			c.retries = n
		}
	}
}

// WithRetryAnotherBrokerWhenNotStoreOK makes a sync send whose message was
// stored but not flushed or replicated in time (FLUSH_DISK_TIMEOUT,
// FLUSH_SLAVE_TIMEOUT, SLAVE_NOT_AVAILABLE) count as failed and be retried
// on another broker, as Java's retryAnotherBrokerWhenNotStoreOK does.
// Default false: such a send returns its status without an error. The
// message may then be stored more than once; when every attempt ends like
// this, the last result is returned. Orderly and async sends are not
// affected.
func WithRetryAnotherBrokerWhenNotStoreOK(on bool) Option {
	return func(c *config) { c.retryNotStoreOK = on }
}

// WithCompression sets the body size from which single messages are
// compressed (compressMsgBodyOverHowmuch; batches never are, as in Java) and
// the level (compressLevel). Defaults 4096 bytes and 5. A threshold <= 0
// turns compression off; a level of 0 keeps the level set so far. Valid
// levels depend on the type (WithCompressionType): zlib 1..9, zstd 1..22,
// and LZ4 ignores the level, as Java's LZ4 compressor does. A level outside
// the type's range falls back to 5 when the producer is created.
func WithCompression(threshold, level int) Option {
	return func(c *config) {
		c.compressThreshold = threshold
		if level != 0 {
			c.compressLevel = level
		}
	}
}

// WithCompressionType selects the compression of single-message bodies
// (compressType): message.CompressZlib (default), message.CompressLZ4 or
// message.CompressZstd. As the Java 5.x producer does, a compressed message
// carries SysFlag 0x1 plus the type bits (0x301, 0x101 or 0x201). Consumers
// must know the type: Java 5.x and rocketgo read all three, while RocketMQ
// 4.x clients, the official Go client and ons read zlib only, so choose LZ4
// or ZSTD only when every group consuming the topic can. Any other value is
// ignored.
func WithCompressionType(t message.CompressionType) Option {
	return func(c *config) {
		if t.Valid() {
			c.compressType = t
		}
	}
}

// WithCompressor replaces the built-in compressor of single-message bodies
// at or over the WithCompression threshold: compress appends body,
// compressed in the format of the WithCompressionType type, to dst and
// returns the result, and the message is flagged with that type as usual.
// The compression level is then compress's business. Message trace uses
// it to compress its record batches with trace.AppendZlib, which knows
// their layout. nil (the default) keeps the built-in compressor.
func WithCompressor(compress func(dst, body []byte) []byte) Option {
	return func(c *config) { c.compressor = compress }
}

// WithMaxMessageSize caps a message body (and a whole batch). Default
// 4 MiB.
func WithMaxMessageSize(n int) Option {
	return func(c *config) {
		if n > 0 {
			c.maxMessageSize = n
		}
	}
}

// WithSelector replaces the queue selector. The default is round-robin
// with fault avoidance. A custom selector is used as is, on every attempt,
// with no fault filtering, so an order-keeping selector (selector.Hash)
// keeps every message of a key on one queue even through retries.
func WithSelector(s selector.Selector) Option { return func(c *config) { c.selector = s } }

// WithFaultAvoidance turns latency-based broker avoidance and the
// per-broker circuit breakers on or off. Default on (the Java client ships
// it off).
func WithFaultAvoidance(on bool) Option { return func(c *config) { c.faultAvoidance = on } }

// WithFaultTable selects the latency table: fault.V5 (default, 5.1.4+) or
// fault.V4 (4.9).
func WithFaultTable(v fault.Version) Option { return func(c *config) { c.faultVersion = v } }

// WithCircuitBreaker sets how many consecutive transport failures open a
// broker's breaker and how long it stays open before a probe. Defaults 3
// and 10 s.
func WithCircuitBreaker(failures int, open time.Duration) Option {
	return func(c *config) {
		if failures > 0 {
			c.breakerFailures = uint32(failures)
		}
		if open > 0 {
			c.breakerOpenTime = open
		}
	}
}

// WithInterceptors adds send interceptors, run in order around every send.
func WithInterceptors(is ...Interceptor) Option {
	return func(c *config) { c.interceptors = append(c.interceptors, is...) }
}

// WithTransactionListener makes the producer transactional: it enables
// SendMessageInTransaction and answers the broker's check-backs with l.
func WithTransactionListener(l TransactionListener) Option {
	return func(c *config) { c.txListener = l }
}

// WithAsyncLimit bounds how many async sends may be in flight; SendAsync
// waits (within its context) for a free slot, and waiting callers get
// slots in the order they asked. A send holds its slot until its result is
// known, not through its callback, so a callback may itself send
// asynchronously. Default 65535.
func WithAsyncLimit(n int) Option {
	return func(c *config) {
		if n > 0 {
			c.asyncLimit = n
		}
	}
}

// withFaultClock replaces the fault table's clock (tests).
func withFaultClock(now func() time.Time) Option { return func(c *config) { c.faultClock = now } }
