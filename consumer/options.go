package consumer

import (
	"crypto/tls"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"time"

	"github.com/rocketgo/rocketgo/auth"
	"github.com/rocketgo/rocketgo/client"

	"github.com/rocketgo/rocketgo/rebalance"
	"github.com/rocketgo/rocketgo/remoting"
)

// MessageModel says how a group shares messages.
type MessageModel int

const (
	// Clustering (the default) gives every message to one member of the
	// group; offsets live on the broker.
	Clustering MessageModel = iota
	// Broadcasting gives every message to every member; offsets live in a
	// local file per member.
	Broadcasting
)

func (m MessageModel) String() string {
	if m == Broadcasting {
		return "BROADCASTING"
	}
	return "CLUSTERING"
}

// ConsumeFrom says where a group with no stored offset starts on a queue.
type ConsumeFrom int

const (
	// ConsumeFromLastOffset (the default) starts at the queue's end. As in
	// Java, a brand-new group on a young queue (offset 0 still in memory)
	// is answered offset 0 by the broker and so reads from the start.
	ConsumeFromLastOffset ConsumeFrom = iota
	// ConsumeFromFirstOffset starts at the queue's first message.
	ConsumeFromFirstOffset
	// ConsumeFromTimestamp starts at the first message stored at or after
	// the consume timestamp (WithConsumeTimestamp).
	ConsumeFromTimestamp
)

func (c ConsumeFrom) wire() string {
	switch c {
	case ConsumeFromFirstOffset:
		return "CONSUME_FROM_FIRST_OFFSET"
	case ConsumeFromTimestamp:
		return "CONSUME_FROM_TIMESTAMP"
	}
	return "CONSUME_FROM_LAST_OFFSET"
}

// Defaults. Most are the Java client's (DefaultMQPushConsumer and
// DefaultLitePullConsumer in apache/rocketmq's client module); where
// rocketmq-client-go differs the option says so. Two deliberately differ
// from the Java push consumer:
//
//   - The consume pool keeps 10 goroutines and grows to 20 while work
//     waits. Java's consumeThreadMin/Max are 20/20 (its unbounded queue
//     means the pool never grows past the core size, so it is a fixed 20);
//     rocketmq-client-go runs 20 per subscribed topic. An idle consumer
//     here holds half the goroutines and reaches Java's 20 under load.
//   - A pull that finds nothing is held 20 s at the broker. The Java push
//     consumer asks for 15 s (BROKER_SUSPEND_MAX_TIME_MILLIS); its lite-pull
//     consumer and rocketmq-client-go (_BrokerSuspendMaxTime) ask for 20 s.
//     One value serves both our consumer kinds; a held pull times out on
//     the client 10 s after the suspend, at Java's 30 s
//     (consumerTimeoutMillisWhenSuspend).
const (
	DefaultPullBatchSize           = 32
	DefaultLitePullBatchSize       = 10
	DefaultBrokerSuspend           = 20 * time.Second
	DefaultConsumeGoroutinesMin    = 10
	DefaultConsumeGoroutinesMax    = 20
	DefaultConsumeBatchSize        = 1
	DefaultPullThresholdForQueue   = 1000
	DefaultPullThresholdSizeQueue  = 100 << 20
	DefaultConsumeMaxSpan          = 2000
	DefaultMaxReconsumeTimes       = 16
	DefaultConsumeTimeout          = 15 * time.Minute
	DefaultSuspendCurrentQueueTime = time.Second
	DefaultRebalanceInterval       = 20 * time.Second
	DefaultPersistInterval         = 5 * time.Second
	DefaultHeartbeatInterval       = 30 * time.Second
	DefaultRouteRefreshInterval    = 30 * time.Second
	DefaultLockInterval            = 20 * time.Second
	DefaultPullBackoffOnError      = time.Second
	DefaultFlowControlBackoff      = 50 * time.Millisecond
	DefaultSendBackRetryDelay      = 5 * time.Second
	DefaultConsumeTimestampAgo     = 30 * time.Minute
	DefaultAutoCommitInterval      = 5 * time.Second
	DefaultPullThresholdForAll     = 10000
	DefaultRequestTimeout          = 3 * time.Second
)

// config is every knob of push and lite-pull consumers; options fill it and
// validate checks it once, at construction.
type config struct {
	nameServers  string
	group        string
	instanceName string
	model        MessageModel
	consumeFrom  ConsumeFrom
	consumeTS    time.Time
	strategy     rebalance.Strategy
	logger       *slog.Logger
	client       *client.Client

	pullBatchSize      int
	brokerSuspend      time.Duration
	pullInterval       time.Duration
	goroutinesMin      int
	goroutinesMax      int
	consumeBatchSize   int
	thresholdQueue     int
	thresholdSizeQueue int64
	thresholdTopic     int
	thresholdSizeTopic int64
	maxSpan            int64
	maxReconsume       int32
	awaitDuration      time.Duration // SimpleConsumer: broker long-poll time
	consumeTimeout     time.Duration
	suspendQueue       time.Duration
	rebalanceInterval  time.Duration
	persistInterval    time.Duration
	heartbeatInterval  time.Duration
	routeInterval      time.Duration
	lockInterval       time.Duration
	pullBackoff        time.Duration
	flowBackoff        time.Duration
	sendBackRetryDelay time.Duration
	requestTimeout     time.Duration
	signer             func(*remoting.Command)
	tls                []client.Option // WithTLS's, if given
	offsetDir          string
	handover           time.Duration

	autoCommit         bool
	autoCommitInterval time.Duration
	thresholdAll       int

	interceptors []Interceptor
	trace        *TraceConfig

	popMode      bool // WithClientRebalance(false)
	popInvisible time.Duration
	popBatch     int
	popThreshold int
}

func defaultConfig() config {
	ns := os.Getenv("NAMESRV_ADDR")
	if ns == "" {
		ns = "127.0.0.1:9876"
	}
	home, err := os.UserHomeDir()
	if err != nil {
		home = os.TempDir()
	}
	return config{
		nameServers:        ns,
		instanceName:       "DEFAULT",
		strategy:           rebalance.Averagely{},
		brokerSuspend:      DefaultBrokerSuspend,
		goroutinesMin:      DefaultConsumeGoroutinesMin,
		goroutinesMax:      DefaultConsumeGoroutinesMax,
		consumeBatchSize:   DefaultConsumeBatchSize,
		thresholdQueue:     DefaultPullThresholdForQueue,
		thresholdSizeQueue: DefaultPullThresholdSizeQueue,
		thresholdTopic:     -1,
		thresholdSizeTopic: -1,
		maxSpan:            DefaultConsumeMaxSpan,
		maxReconsume:       -1,
		consumeTimeout:     DefaultConsumeTimeout,
		suspendQueue:       DefaultSuspendCurrentQueueTime,
		rebalanceInterval:  DefaultRebalanceInterval,
		persistInterval:    DefaultPersistInterval,
		heartbeatInterval:  DefaultHeartbeatInterval,
		routeInterval:      DefaultRouteRefreshInterval,
		lockInterval:       DefaultLockInterval,
		pullBackoff:        DefaultPullBackoffOnError,
		flowBackoff:        DefaultFlowControlBackoff,
		sendBackRetryDelay: DefaultSendBackRetryDelay,
		requestTimeout:     DefaultRequestTimeout,
		offsetDir:          filepath.Join(home, ".rocketmq_offsets"),
		autoCommit:         true,
		autoCommitInterval: DefaultAutoCommitInterval,
		thresholdAll:       DefaultPullThresholdForAll,
		popInvisible:       DefaultPopInvisibleTime,
		popBatch:           DefaultPopBatchSize,
		popThreshold:       DefaultPopThreshold,
	}
}

// Option configures a push or lite-pull consumer. Options that concern only
// one kind say so and are ignored by the other.
type Option func(*config)

// WithNameServers sets the name servers, "host:port;host:port". Default:
// $NAMESRV_ADDR, else 127.0.0.1:9876. Ignored with WithClient.
func WithNameServers(addrs string) Option { return func(c *config) { c.nameServers = addrs } }

// WithGroup sets the consumer group. Required.
func WithGroup(group string) Option { return func(c *config) { c.group = group } }

// WithInstanceName sets the instance part of the client id. Default
// "DEFAULT", replaced by "<pid>#<nanos>" so consumers in one process get
// distinct ids. Ignored with WithClient.
func WithInstanceName(name string) Option { return func(c *config) { c.instanceName = name } }

// WithMessageModel selects Clustering (default) or Broadcasting.
func WithMessageModel(m MessageModel) Option { return func(c *config) { c.model = m } }

// WithConsumeFrom sets where a group without a stored offset starts.
// Default ConsumeFromLastOffset.
func WithConsumeFrom(f ConsumeFrom) Option { return func(c *config) { c.consumeFrom = f } }

// WithConsumeTimestamp sets the start time for ConsumeFromTimestamp.
// Default: 30 minutes before Start, as upstream.
func WithConsumeTimestamp(t time.Time) Option { return func(c *config) { c.consumeTS = t } }

// WithStrategy sets the queue allocation strategy. Default
// rebalance.Averagely (Java AllocateMessageQueueAveragely).
func WithStrategy(s rebalance.Strategy) Option { return func(c *config) { c.strategy = s } }

// WithLogger sets the logger. Default: discard everything.
func WithLogger(l *slog.Logger) Option { return func(c *config) { c.logger = l } }

// WithClient makes the consumer use a shared client.Client (connections,
// routes, client id, heartbeat and hooks) instead of creating a private
// one; the client-level options of this package (name servers, instance
// name, logger, intervals, request timeout) are then ignored. The caller
// closes the Client after every producer and consumer using it has shut
// down; Shutdown leaves it open.
func WithClient(cl *client.Client) Option { return func(c *config) { c.client = cl } }

// WithPullBatchSize sets how many messages one pull asks for: default 32
// for push consumers, 10 for lite-pull consumers; range 1..1024.
func WithPullBatchSize(n int) Option { return func(c *config) { c.pullBatchSize = n } }

// WithBrokerSuspend sets how long the broker holds a pull that found
// nothing (long polling). Default 20 s (Java push consumer: 15 s; Java
// lite-pull consumer and rocketmq-client-go: 20 s).
func WithBrokerSuspend(d time.Duration) Option { return func(c *config) { c.brokerSuspend = d } }

// WithPullInterval delays every pull by d. Default 0.
func WithPullInterval(d time.Duration) Option { return func(c *config) { c.pullInterval = d } }

// WithConsumeGoroutines sets the consume pool: it keeps min goroutines and
// grows to max while work is waiting. Defaults 10 and 20 (Java: a fixed 20;
// rocketmq-client-go: 20 per subscribed topic).
func WithConsumeGoroutines(min, max int) Option {
	return func(c *config) { c.goroutinesMin, c.goroutinesMax = min, max }
}

// WithConsumeBatchSize sets how many messages one concurrent callback gets.
// Default 1; range 1..1024.
func WithConsumeBatchSize(n int) Option { return func(c *config) { c.consumeBatchSize = n } }

// WithPullThresholdForQueue caps the messages cached per queue before pulls
// are delayed. Default 1000 (rocketmq-client-go: 1024).
func WithPullThresholdForQueue(n int) Option { return func(c *config) { c.thresholdQueue = n } }

// WithPullThresholdSizeForQueue caps the cached bytes per queue. Default
// 100 MiB (rocketmq-client-go: 512 MiB).
func WithPullThresholdSizeForQueue(n int64) Option {
	return func(c *config) { c.thresholdSizeQueue = n }
}

// WithPullThresholdForTopic caps cached messages per topic, split evenly
// over the topic's queues; it overrides the per-queue limit. Default -1
// (off).
func WithPullThresholdForTopic(n int) Option { return func(c *config) { c.thresholdTopic = n } }

// WithPullThresholdSizeForTopic caps cached bytes per topic, split evenly
// over its queues. Default -1 (off).
func WithPullThresholdSizeForTopic(n int64) Option {
	return func(c *config) { c.thresholdSizeTopic = n }
}

// WithConsumeMaxSpan caps, for concurrent consumption, the distance between
// the lowest and highest cached offset of a queue. Default 2000
// (rocketmq-client-go: 1000).
func WithConsumeMaxSpan(n int64) Option { return func(c *config) { c.maxSpan = n } }

// WithMaxReconsumeTimes sets how often a message is retried before it goes
// to the DLQ. Default -1: 16 for concurrent, unlimited for orderly.
func WithMaxReconsumeTimes(n int32) Option { return func(c *config) { c.maxReconsume = n } }

// WithConsumeTimeout sets how long a concurrent callback may run before its
// messages are sent back for retry. Default 15 minutes.
func WithConsumeTimeout(d time.Duration) Option { return func(c *config) { c.consumeTimeout = d } }

// WithSuspendCurrentQueueTime sets the orderly pause after a failure.
// Default 1 s.
func WithSuspendCurrentQueueTime(d time.Duration) Option {
	return func(c *config) { c.suspendQueue = d }
}

// WithRebalanceInterval sets the periodic rebalance. Default 20 s.
func WithRebalanceInterval(d time.Duration) Option {
	return func(c *config) { c.rebalanceInterval = d }
}

// WithPersistInterval sets how often offsets are stored. Default 5 s.
func WithPersistInterval(d time.Duration) Option { return func(c *config) { c.persistInterval = d } }

// WithHeartbeatInterval sets how often brokers get a heartbeat. Default 30 s.
func WithHeartbeatInterval(d time.Duration) Option {
	return func(c *config) { c.heartbeatInterval = d }
}

// WithRouteRefreshInterval sets how often routes are re-read. Default 30 s.
func WithRouteRefreshInterval(d time.Duration) Option {
	return func(c *config) { c.routeInterval = d }
}

// WithLockInterval sets how often orderly queue locks are renewed.
// Default 20 s; the broker expires a lock after 60 s.
func WithLockInterval(d time.Duration) Option { return func(c *config) { c.lockInterval = d } }

// WithPullBackoff sets the delay before re-pulling after an error. Default
// 1 s (Java 5.x; rocketmq-client-go 3 s).
func WithPullBackoff(d time.Duration) Option { return func(c *config) { c.pullBackoff = d } }

// WithSendBackRetryDelay sets the delay before a message whose send-back
// failed is consumed again locally. Default 5 s.
func WithSendBackRetryDelay(d time.Duration) Option {
	return func(c *config) { c.sendBackRetryDelay = d }
}

// WithRequestTimeout bounds broker requests other than pulls. Default 3 s.
func WithRequestTimeout(d time.Duration) Option { return func(c *config) { c.requestTimeout = d } }

// WithCredentials signs every request for a broker with ACL on (see
// client.WithCredentials). Default: no signing. Ignored with WithClient.
func WithCredentials(cr auth.Credentials) Option {
	return func(c *config) { c.signer = auth.NewSigner(cr).Sign }
}

// WithTLS connects over TLS (see client.WithTLS; nil verifies with the
// system roots). Default: plain TCP. Ignored with WithClient.
func WithTLS(cfg *tls.Config) Option {
	return func(c *config) { c.tls = []client.Option{client.WithTLS(cfg)} }
}

// WithCredentialsProvider signs with rotating credentials (see
// client.WithCredentialsProvider). Ignored with WithClient.
func WithCredentialsProvider(p auth.Provider) Option {
	return func(c *config) { c.signer = auth.NewProviderSigner(p).Sign }
}

// WithRequestSigner installs a raw hook that may add ext fields (a custom
// signature) to every request. It replaces WithCredentials. Default: none.
// Ignored with WithClient.
func WithRequestSigner(h func(cmd *remoting.Command)) Option {
	return func(c *config) { c.signer = h }
}

// WithHandoverDelay makes a push consumer wait d after gaining a queue
// (clustering) before it reads the queue's offset and starts pulling, so
// the previous owner — which finishes its callbacks and persists its
// offset as soon as it learns of the change — is done first. It trades
// that much start-up latency for fewer duplicates when members join.
// Default 0 (Java behaviour: start at once from the last persisted offset).
func WithHandoverDelay(d time.Duration) Option { return func(c *config) { c.handover = d } }

// WithOffsetDir sets where broadcasting consumers keep offsets. Default
// $HOME/.rocketmq_offsets.
func WithOffsetDir(dir string) Option { return func(c *config) { c.offsetDir = dir } }

// WithAutoCommit turns lite-pull auto-commit on or off. Default on.
func WithAutoCommit(on bool) Option { return func(c *config) { c.autoCommit = on } }

// WithAutoCommitInterval sets the lite-pull auto-commit period. Default 5 s
// (Java enforces at least 1 s; any positive value is accepted here).
func WithAutoCommitInterval(d time.Duration) Option {
	return func(c *config) { c.autoCommitInterval = d }
}

// WithPullThresholdForAll caps the messages a lite-pull consumer buffers
// across all queues. Default 10000.
func WithPullThresholdForAll(n int) Option { return func(c *config) { c.thresholdAll = n } }

func (c *config) validate(lite bool) error {
	if c.logger == nil {
		c.logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if c.pullBatchSize == 0 {
		c.pullBatchSize = DefaultPullBatchSize
		if lite {
			c.pullBatchSize = DefaultLitePullBatchSize
		}
	}
	if c.consumeTS.IsZero() {
		c.consumeTS = time.Now().Add(-DefaultConsumeTimestampAgo)
	}
	bad := func(what string, v any) error { return fmt.Errorf("%w: %s = %v", ErrInvalidOption, what, v) }
	switch {
	case c.group == "":
		return bad("group", `""`)
	case c.pullBatchSize < 1 || c.pullBatchSize > 1024:
		return bad("pull batch size", c.pullBatchSize)
	case c.goroutinesMin < 1 || c.goroutinesMax < c.goroutinesMin || c.goroutinesMax > 1000:
		return bad("consume goroutines", fmt.Sprint(c.goroutinesMin, "..", c.goroutinesMax))
	case c.consumeBatchSize < 1 || c.consumeBatchSize > 1024:
		return bad("consume batch size", c.consumeBatchSize)
	case c.thresholdQueue < 1:
		return bad("pull threshold for queue", c.thresholdQueue)
	case c.thresholdSizeQueue < 1:
		return bad("pull threshold size for queue", c.thresholdSizeQueue)
	case c.maxSpan < 1:
		return bad("consume max span", c.maxSpan)
	case c.brokerSuspend < 0 || c.brokerSuspend > 30*time.Second:
		return bad("broker suspend", c.brokerSuspend)
	case c.strategy == nil:
		return bad("strategy", nil)
	case c.model == Broadcasting && c.offsetDir == "":
		return bad("offset dir", `""`)
	case c.popMode && c.model == Broadcasting:
		return bad("client rebalance off (POP) with", c.model)
	case c.popInvisible <= 0 || c.popInvisible > 12*time.Hour:
		return bad("pop invisible time", c.popInvisible)
	case c.popBatch < 1 || c.popBatch > MaxReceiveMessages:
		return bad("pop batch size", c.popBatch)
	case c.popThreshold < 1:
		return bad("pop threshold", c.popThreshold)
	case c.consumeFrom < ConsumeFromLastOffset || c.consumeFrom > ConsumeFromTimestamp:
		return bad("consume from", c.consumeFrom)
	}
	for name, d := range map[string]time.Duration{
		"rebalance interval": c.rebalanceInterval, "persist interval": c.persistInterval,
		"heartbeat interval": c.heartbeatInterval, "route refresh interval": c.routeInterval,
		"lock interval": c.lockInterval, "pull backoff": c.pullBackoff, "flow backoff": c.flowBackoff,
		"send-back retry delay": c.sendBackRetryDelay, "request timeout": c.requestTimeout,
		"suspend current queue time": c.suspendQueue, "auto commit interval": c.autoCommitInterval,
	} {
		if d <= 0 {
			return bad(name, d)
		}
	}
	return nil
}

// maxReconsumeFor resolves the -1 default of WithMaxReconsumeTimes.
func (c *config) maxReconsumeFor(orderly bool) int32 {
	if c.maxReconsume >= 0 {
		return c.maxReconsume
	}
	if orderly {
		return math.MaxInt32
	}
	return DefaultMaxReconsumeTimes
}
