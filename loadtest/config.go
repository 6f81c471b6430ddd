package loadtest

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/rocketgo/rocketgo/auth"
	"github.com/rocketgo/rocketgo/message"
	"github.com/rocketgo/rocketgo/producer"
	"github.com/rocketgo/rocketgo/remoting/netclient"
)

// Mode is what a run does.
type Mode string

// Run modes.
const (
	// ModeProduce only sends.
	ModeProduce Mode = "produce"
	// ModeConsume only consumes (what other producers send to the topic).
	ModeConsume Mode = "consume"
	// ModeBoth sends and consumes in one process and measures end-to-end
	// latency; the run ends once the consumers have drained what was sent.
	ModeBoth Mode = "both"
)

// SendMode is how messages are sent.
type SendMode string

// Send modes.
const (
	SendSync   SendMode = "sync"
	SendAsync  SendMode = "async"
	SendOneway SendMode = "oneway"
)

// Defaults. They follow RocketMQ's benchmark Producer/Consumer where it has
// an equivalent (topic, 128-byte body, 64 sender threads, consumer group),
// and OpenMessaging's backpressure limit for async sends.
const (
	// DefaultTopic is not upstream's BenchmarkTest: every RocketMQ broker
	// creates that one as a system topic with 1,024 queues.
	DefaultTopic          = "RocketgoLoadTest"
	DefaultGroup          = "benchmark_consumer"
	DefaultMessageSize    = 128
	DefaultProducers      = 1
	DefaultSenders        = 64
	DefaultBatchSize      = 1
	DefaultConsumers      = 1
	DefaultDuration       = 10 * time.Second
	DefaultReportInterval = time.Second
	DefaultDrainTimeout   = 30 * time.Second
	DefaultMaxInflight    = 1024
	DefaultQueues         = 8
	// DefaultCompressOver is the producer's compressMsgBodyOverHowmuch.
	DefaultCompressOver = producer.DefaultCompressThreshold
	// MinMessageSize leaves room for the 24-byte stamp every body starts
	// with (run id, send time, sequence number): consumers use it to ignore
	// foreign messages, measure end-to-end latency at microsecond
	// resolution and count redeliveries apart.
	MinMessageSize = 24
)

// Config describes a run. Zero values take the defaults above.
type Config struct {
	Mode Mode // default ModeBoth
	// NameServer is "host:port;host:port". Empty starts an embedded name
	// server and broker in a temporary directory, removed afterwards.
	NameServer string
	Topic      string // default DefaultTopic
	// Queues is the queue count used when the tool creates the topic
	// (always with the embedded server; with CreateTopic otherwise).
	Queues int
	// CreateTopic creates Topic on every master of a foreign cluster
	// before the run, for brokers with auto-create off.
	CreateTopic bool
	MessageSize int      // bytes, default 128, at least MinMessageSize
	Producers   int      // producer instances, default 1
	Senders     int      // concurrent sender goroutines in total, default 64
	SendMode    SendMode // default SendSync
	BatchSize   int      // messages per send, default 1 (no batching)
	// MaxInflight caps unanswered async sends (default 1024, as
	// OpenMessaging's backpressureConcurrency), through the producers'
	// WithAsyncLimit, shared out among them. Async send latency runs from
	// the SendAsync call, so it includes any wait for an in-flight slot.
	MaxInflight int
	// Rate is the target send rate in messages per second over all
	// senders; 0 means as fast as possible. When set, publish delay (the
	// lag of the actual send behind its schedule) is measured so
	// coordinated omission stays visible.
	Rate float64
	// Duration bounds the sending phase (default 10 s) unless Messages is
	// set, in which case exactly Messages messages are sent.
	Duration time.Duration
	Messages int64
	// Warmup, when positive, runs the senders (and consumers) that long
	// before the measured phase and leaves everything of it out of the
	// results, as OpenMessaging's warm-up does. Default 0: none.
	Warmup time.Duration
	// Consumers is the number of push consumers (default 1) in Group.
	Consumers int
	Group     string // default DefaultGroup
	// Tags is the tag set on sent messages and the consumers' subscription
	// expression ("" = no tag, subscribe to all).
	Tags string
	// Keys sets a key on every message (RocketMQ benchmark's -k): the
	// send time in seconds, as upstream, so the broker indexes every
	// message. Default off.
	Keys bool
	// PropertySize adds user properties (prop0=hello0, prop1=0, …) until
	// their names and values pass this many characters (RocketMQ
	// benchmark's -p). Default 0: none.
	PropertySize int
	// DelayLevel sends every message with this delay level, 1..18 (1 s …
	// 2 h with the broker's default messageDelayLevel; RocketMQ
	// benchmark's -d with -e). End-to-end latency then includes the delay;
	// DrainTimeout must cover it. Default 0: no delay.
	DelayLevel int
	// TagCount tags messages tag0 … tag<N-1> in turn (RocketMQ benchmark's
	// -l); consumers subscribe to all of them. Not with Tags. Default 0.
	TagCount int
	// ReportInterval is the period of the live lines (default 1 s).
	ReportInterval time.Duration
	// DrainTimeout bounds how long ModeBoth waits for consumers to receive
	// everything after the last send (default 30 s).
	DrainTimeout time.Duration
	// MaxErrorRate is the failed-send fraction (0..1) above which the
	// result reports failure; lost messages in a sync/async ModeBoth run
	// count as errors too. Default 0: any error fails the run.
	MaxErrorRate float64
	// CompressOver is the body size from which the producers compress
	// single messages (compressMsgBodyOverHowmuch). 0 keeps the producer's
	// default, 4096 bytes with zlib as RocketMQ's; a negative value turns
	// compression off. Loadtest bodies are zeros after the 24-byte stamp,
	// so with compression on a 16 KiB message travels and is stored as a
	// few dozen bytes: turn it off to compare with a tool that sends raw
	// bodies.
	CompressOver int
	// SlowOver, when positive, keeps every measured send at least this
	// slow, with its start time, in Result.Slow: a timeline of the tail
	// (slowlog.go). Default 0: off.
	SlowOver time.Duration
	// Trace turns on message trace (producer.WithTrace and
	// consumer.WithTrace to trace.DefaultTopic; the embedded broker runs
	// with traceTopicEnable), to measure its cost against a run without.
	Trace bool
	// Out receives the live lines and the summary (default io.Discard).
	Out io.Writer
	// Logger receives the SDK's and the embedded server's logs (default:
	// discard).
	Logger *slog.Logger

	// Credentials sign every request (brokers with ACL on); the topic is
	// created and deleted with them too, so they need admin rights where
	// the tool creates the topic. Default: none.
	Credentials auth.Credentials
	// TLS connects over TLS (nil: plain TCP).
	TLS *tls.Config
	// EmbeddedACL starts the embedded server with ACL on and Credentials
	// (or DefaultAccessKey/DefaultSecretKey) as its only, admin account, to
	// measure what ACL costs. Ignored with NameServer.
	EmbeddedACL bool
	// EmbeddedMetrics, when set, serves the embedded server's Prometheus
	// metrics on this address ("127.0.0.1:0" for a free port), so that
	// runs with and without can be compared. Ignored with NameServer.
	EmbeddedMetrics string
}

// Keys the embedded server accepts with EmbeddedACL when no Credentials
// are given.
const (
	DefaultAccessKey = "loadtestAK"
	DefaultSecretKey = "loadtestSK"
)

// ErrConfig reports an invalid Config; the message names the field.
var ErrConfig = errors.New("loadtest: invalid config")

// transportOptions are the topic administration's transport options.
func (c Config) transportOptions() []netclient.Option {
	var opts []netclient.Option
	if c.Credentials.Valid() {
		opts = append(opts, netclient.WithRequestSigner(auth.NewSigner(c.Credentials).Sign))
	}
	if c.TLS != nil {
		opts = append(opts, netclient.WithTLS(c.TLS))
	}
	return opts
}

func (c Config) withDefaults() (Config, error) {
	if c.Mode == "" {
		c.Mode = ModeBoth
	}
	if c.EmbeddedACL && c.NameServer == "" && !c.Credentials.Valid() {
		c.Credentials = auth.Credentials{AccessKey: DefaultAccessKey, SecretKey: DefaultSecretKey}
	}
	if c.SendMode == "" {
		c.SendMode = SendSync
	}
	if c.Topic == "" {
		c.Topic = DefaultTopic
	}
	if c.Group == "" {
		c.Group = DefaultGroup
	}
	setInt(&c.Queues, DefaultQueues)
	setInt(&c.MessageSize, DefaultMessageSize)
	setInt(&c.Producers, DefaultProducers)
	setInt(&c.Senders, DefaultSenders)
	setInt(&c.BatchSize, DefaultBatchSize)
	setInt(&c.MaxInflight, DefaultMaxInflight)
	setInt(&c.Consumers, DefaultConsumers)
	if c.Duration == 0 && c.Messages == 0 {
		c.Duration = DefaultDuration
	}
	if c.ReportInterval == 0 {
		c.ReportInterval = DefaultReportInterval
	}
	if c.DrainTimeout == 0 {
		c.DrainTimeout = DefaultDrainTimeout
	}
	if c.Out == nil {
		c.Out = io.Discard
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	bad := func(format string, a ...any) (Config, error) {
		return c, fmt.Errorf("%w: "+format, append([]any{ErrConfig}, a...)...)
	}
	switch {
	case c.Mode != ModeProduce && c.Mode != ModeConsume && c.Mode != ModeBoth:
		return bad("mode %q (want produce, consume or both)", c.Mode)
	case c.SendMode != SendSync && c.SendMode != SendAsync && c.SendMode != SendOneway:
		return bad("send mode %q (want sync, async or oneway)", c.SendMode)
	case c.MessageSize < MinMessageSize:
		return bad("message size %d below %d", c.MessageSize, MinMessageSize)
	case c.Queues < 0 || c.Producers < 0 || c.Senders < 0 || c.BatchSize < 0 || c.MaxInflight < 0 || c.Consumers < 0:
		return bad("counts must be positive")
	case c.Rate < 0 || c.Duration < 0 || c.Messages < 0 || c.ReportInterval < 0 || c.DrainTimeout < 0 || c.Warmup < 0 || c.SlowOver < 0:
		return bad("rate, duration, messages, warm-up, intervals and slow-send threshold must not be negative")
	case c.PropertySize < 0 || c.TagCount < 0:
		return bad("property size and tag count must not be negative")
	case c.DelayLevel < 0 || c.DelayLevel > message.MaxDelayLevel:
		return bad("delay level %d not in 0..%d", c.DelayLevel, message.MaxDelayLevel)
	case c.DelayLevel > 0 && c.BatchSize > 1:
		return bad("delay level with batches (RocketMQ refuses delayed batch messages)")
	case c.TagCount > 0 && c.Tags != "":
		return bad("tag count and tags together (tag count sets the tags)")
	case c.MaxErrorRate < 0 || c.MaxErrorRate > 1:
		return bad("max error rate %v outside 0..1", c.MaxErrorRate)
	case c.Senders < c.Producers:
		return bad("%d senders for %d producers", c.Senders, c.Producers)
	}
	return c, nil
}

// compressThreshold is the body size from which the producers compress,
// 0 when they do not.
func (c Config) compressThreshold() int {
	switch {
	case c.CompressOver < 0:
		return 0
	case c.CompressOver == 0:
		return producer.DefaultCompressThreshold
	}
	return c.CompressOver
}

func setInt(p *int, def int) {
	if *p == 0 {
		*p = def
	}
}
