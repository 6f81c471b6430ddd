package trace

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rocketgo/rocketgo/client"
	"github.com/rocketgo/rocketgo/message"
)

// Defaults. A trace message closes when it holds BatchSize records, when
// its body reaches MaxBatchBytes (118,000) or its keys MaxKeyBytes, or
// FlushInterval after its first record (upstream's Java dispatcher fills
// its segments to 118,000 bytes or for up to 500 ms). Under load the count
// of trace messages, not their bytes, is what tracing costs beyond the
// records themselves — each is a wake-up, a compression block with its
// Huffman tables, a request, a broker append and copies of a KEYS
// property of some thousands of bytes — so batches should be full: 512
// records of up to ~200 bytes fit MaxBatchBytes, and their message ids
// (33 bytes a key) fit MaxKeyBytes, so a full batch goes out as one
// message instead of a full message and a remainder. In a traced load
// test a 5 ms interval closed trace messages of ~190 records; 50 ms and
// 512 records make them ~450 records and half as many.
const (
	DefaultQueueSize     = 8192
	DefaultBatchSize     = 512
	DefaultMaxBatchBytes = 128000 - 10*1000
	DefaultFlushInterval = 50 * time.Millisecond
	DefaultMaxInflight   = 8
	DefaultSendTimeout   = 3 * time.Second
)

// MaxKeyBytes bounds the lookup keys of one trace message (their lengths
// plus separators): KEYS is a property, and a message's properties must
// fit a 16-bit length. The bound is upstream's MAX_MSG_KEY_SIZE, leaving
// 10,000 bytes for the other properties.
const MaxKeyBytes = 32767 - 10000

// Trace message bodies of CompressThreshold bytes or more are sent
// zlib-compressed (SysFlag 0x1, read by every RocketMQ client and by
// admin.MessageTrace). Upstream's Java trace producer is an ordinary
// producer and compresses its batches over 4 KiB the same way; the
// official Go client sends them uncompressed. Storing batches whole cost
// the broker more than the rest of tracing together: a traced load test
// of 128-byte messages wrote about as many trace bytes as message bytes
// to the commit log, and the page faults of those writes were the largest
// part of the difference between tracing on and off. The trace producers
// compress with AppendZlib, which codes each record as copies of the
// previous one of its type at a third of the CPU of zlib level 1.
const CompressThreshold = 4096

// ProducerGroupPrefix names the producer group trace messages are sent
// under: the prefix followed by the traced group (upstream's
// "_INNER_TRACE_PRODUCER-").
const ProducerGroupPrefix = "_INNER_TRACE_PRODUCER-"

// CloudTopicPrefix is the trace topic of the Cloud access channel: the
// prefix followed by the region of the traced message.
const CloudTopicPrefix = "rmq_sys_TRACE_DATA_"

// AccessChannel selects where trace messages go.
type AccessChannel int

const (
	// Local (default): every record goes to Config.Topic.
	Local AccessChannel = iota
	// Cloud: a record goes to CloudTopicPrefix + its region, as on
	// Alibaba Cloud; Config.Topic is ignored.
	Cloud
)

// Config configures message trace for a producer or consumer. The zero
// value traces to DefaultTopic through the traced client's own cluster.
type Config struct {
	// Topic receives trace messages. Default DefaultTopic.
	Topic string
	// AccessChannel: Local (default) or Cloud.
	AccessChannel AccessChannel
	// Client sends the trace messages, for a trace topic in another
	// cluster. Default: the traced producer's or consumer's Client.
	Client *client.Client
	// QueueSize bounds the records waiting to be sent; when it is full new
	// records are dropped and counted (Stats.Dropped), never waited for.
	// Default 8192.
	QueueSize int
	// BatchSize is the most records one trace message carries. Default
	// 512; records with long keys close a message at MaxKeyBytes first.
	BatchSize int
	// MaxBatchBytes bounds a trace message body (before compression).
	// Default 118,000.
	MaxBatchBytes int
	// FlushInterval is how long a partial batch waits for more records:
	// how late a record may reach the trace topic. Default 50 ms.
	FlushInterval time.Duration
	// MaxInflight bounds the trace messages being sent at once; when they
	// are all in flight, records queue and then drop. Default 8.
	MaxInflight int
	// SendTimeout bounds one trace send. Default 3 s.
	SendTimeout time.Duration
}

func (c Config) withDefaults() Config {
	if c.Topic == "" {
		c.Topic = DefaultTopic
	}
	if c.QueueSize <= 0 {
		c.QueueSize = DefaultQueueSize
	}
	if c.BatchSize <= 0 {
		c.BatchSize = DefaultBatchSize
	}
	if c.MaxBatchBytes <= 0 {
		c.MaxBatchBytes = DefaultMaxBatchBytes
	}
	if c.FlushInterval <= 0 {
		c.FlushInterval = DefaultFlushInterval
	}
	if c.MaxInflight <= 0 {
		c.MaxInflight = DefaultMaxInflight
	}
	if c.SendTimeout <= 0 {
		c.SendTimeout = DefaultSendTimeout
	}
	return c
}

// TopicFor returns the trace topic a record of region goes to.
func (c Config) TopicFor(region string) string {
	if c.AccessChannel == Cloud {
		return CloudTopicPrefix + region
	}
	if c.Topic == "" {
		return DefaultTopic
	}
	return c.Topic
}

// Sender sends one trace message without waiting: it returns at once and
// calls done exactly once with the outcome. producer.WithTrace and
// consumer.WithTrace give the dispatcher a Sender backed by a producer of
// its own.
type Sender interface {
	SendTrace(ctx context.Context, msg *message.Message, done func(error))
}

// BodyReleaser is implemented by a Sender that no longer reads a trace
// message's Body once SendTrace has returned (it compressed or copied
// it); the dispatcher then writes its next trace message into the same
// memory instead of allocating a body per message. producer.SenderOf's
// Senders implement it.
type BodyReleaser interface {
	Sender
	ReleasesBody()
}

// SenderFunc adapts a function to Sender.
type SenderFunc func(ctx context.Context, msg *message.Message, done func(error))

// SendTrace calls f.
func (f SenderFunc) SendTrace(ctx context.Context, msg *message.Message, done func(error)) {
	f(ctx, msg, done)
}

// Stats counts records by fate. Appended = Dropped + Sent + Failed +
// (records still queued or in flight).
type Stats struct {
	Appended int64 // records accepted into the queue
	Dropped  int64 // records refused: queue full or dispatcher closed
	Sent     int64 // records in trace messages the broker stored
	Failed   int64 // records in trace messages whose send failed
	Messages int64 // trace messages sent successfully
}

// ErrClosed is returned by Close when called twice.
var ErrClosed = errors.New("trace: dispatcher closed")

// Dispatcher batches records into trace messages and sends them in the
// background. Append never blocks: it is called on the traced send's and
// the consumer's paths, which tracing must never slow or fail.
//
// Records wait in a slice under a mutex rather than in a channel: a
// channel send of every record woke the loop goroutine about once per
// record under load (a scheduler round trip on the traced path), while
// the slice wakes it once per batch, when the first record of a batch
// arrives and when the batch is full. The loop swaps the whole slice out
// for an empty spare, so the lock is held for a copy and no allocation.
type Dispatcher struct {
	cfg    Config
	sender Sender

	mu     sync.Mutex
	buf    []Record      // guarded by mu
	held   atomic.Int64  // records the loop took and has not handed to the Sender; buf+held ≤ QueueSize
	wake   chan struct{} // capacity 1: the loop has records to look at
	closed atomic.Bool
	quit   chan struct{} // closed by Close: drain and stop
	abort  chan struct{} // closed when Close's context ends: stop waiting
	done   chan struct{} // closed when the loop has returned
	once   sync.Once
	slots  chan struct{} // in-flight trace sends
	wg     sync.WaitGroup
	seen   keySet // the loop's key de-duplication, reused
	// recBytes is the loop's estimate of a record's encoded size, from the
	// last trace message: bodies are allocated at their expected size, not
	// the largest a record may take.
	recBytes int
	// spare is a released body (BodyReleaser) for the loop's next message.
	spare   []byte
	release bool // the Sender is a BodyReleaser

	appended, dropped, sent, failed, messages atomic.Int64
}

// NewDispatcher starts a dispatcher sending through s. Close stops it.
func NewDispatcher(cfg Config, s Sender) *Dispatcher {
	cfg = cfg.withDefaults()
	d := &Dispatcher{
		cfg:    cfg,
		sender: s,
		buf:    make([]Record, 0, min(cfg.QueueSize, cfg.BatchSize)),
		wake:   make(chan struct{}, 1),
		quit:   make(chan struct{}),
		abort:  make(chan struct{}),
		done:   make(chan struct{}),
		slots:  make(chan struct{}, cfg.MaxInflight),
		seen:   newKeySet(2 * min(cfg.BatchSize, MaxKeyBytes/2)),
	}
	_, d.release = s.(BodyReleaser)
	go d.loop()
	return d
}

// Config returns the configuration in use, defaults filled in.
func (d *Dispatcher) Config() Config { return d.cfg }

// Append queues r and reports whether it was accepted; a full queue or a
// closed dispatcher drops it and counts the drop.
func (d *Dispatcher) Append(r Record) bool {
	if d.closed.Load() {
		d.dropped.Add(1)
		return false
	}
	d.mu.Lock()
	n := len(d.buf)
	// closed is checked again under mu, which Close holds to set it, so
	// no record lands after the loop's final take.
	if n+int(d.held.Load()) >= d.cfg.QueueSize || d.closed.Load() {
		d.mu.Unlock()
		d.dropped.Add(1)
		return false
	}
	d.buf = append(d.buf, r)
	d.mu.Unlock()
	d.appended.Add(1)
	// Wake the loop for the first record of a batch (it then waits
	// FlushInterval for more) and when a batch is full; in between it
	// has nothing to do.
	if n == 0 || n+1 == d.cfg.BatchSize {
		select {
		case d.wake <- struct{}{}:
		default:
		}
	}
	return true
}

// Stats returns the counters.
func (d *Dispatcher) Stats() Stats {
	return Stats{
		Appended: d.appended.Load(),
		Dropped:  d.dropped.Load(),
		Sent:     d.sent.Load(),
		Failed:   d.failed.Load(),
		Messages: d.messages.Load(),
	}
}

// Close stops accepting records, sends those queued and waits for every
// trace send to finish, or for ctx to end (the rest are then abandoned
// and ctx's error returned). It stops every goroutine the dispatcher
// started. The Sender may be shut down once Close has returned.
func (d *Dispatcher) Close(ctx context.Context) error {
	first := false
	d.once.Do(func() {
		first = true
		d.mu.Lock()
		d.closed.Store(true)
		d.mu.Unlock()
		close(d.quit)
	})
	if !first {
		return ErrClosed
	}
	stopped := make(chan struct{})
	go func() {
		<-d.done
		d.wg.Wait()
		close(stopped)
	}()
	select {
	case <-stopped:
		return nil
	case <-ctx.Done():
		close(d.abort)
		<-stopped
		return ctx.Err()
	}
}

// loop gathers records into batches: a batch goes out when it is full or
// FlushInterval after its first record.
func (d *Dispatcher) loop() {
	defer close(d.done)
	var spare []Record // the slice Append fills next; swapped with d.buf
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	armed := false
	// take swaps the queued records out and sends them in batches; with
	// fullOnly a partial last batch stays queued for the timer.
	take := func(fullOnly bool) {
		d.mu.Lock()
		all := d.buf
		n := len(all)
		if fullOnly {
			n -= n % d.cfg.BatchSize
		}
		d.buf = append(spare[:0], all[n:]...)
		rest := len(d.buf)
		d.held.Store(int64(n))
		d.mu.Unlock()
		if rest == 0 && armed {
			timer.Stop()
			armed = false
		}
		for recs := all[:n]; len(recs) > 0; {
			k := min(len(recs), d.cfg.BatchSize)
			d.flush(recs[:k])
			d.held.Add(-int64(k))
			recs = recs[k:]
		}
		// Cleared so the sent records' strings are not kept reachable
		// until the slice is filled again.
		clear(all)
		spare = all[:0]
		if rest > 0 && !armed {
			timer.Reset(d.cfg.FlushInterval)
			armed = true
		}
	}
	for {
		select {
		case <-d.wake:
			d.mu.Lock()
			n := len(d.buf)
			d.mu.Unlock()
			if n >= d.cfg.BatchSize {
				take(true)
			} else if n > 0 && !armed {
				timer.Reset(d.cfg.FlushInterval)
				armed = true
			}
		case <-timer.C:
			armed = false
			take(false)
		case <-d.quit:
			take(false)
			return
		}
	}
}

// flush encodes batch into trace messages (one per trace topic, split at
// MaxBatchBytes and MaxKeyBytes) and sends them.
func (d *Dispatcher) flush(batch []Record) {
	if d.cfg.AccessChannel == Cloud {
		byRegion := map[string][]Record{}
		var order []string
		for _, r := range batch {
			if _, ok := byRegion[r.RegionID]; !ok {
				order = append(order, r.RegionID)
			}
			byRegion[r.RegionID] = append(byRegion[r.RegionID], r)
		}
		for _, region := range order {
			d.encodeAndSend(d.cfg.TopicFor(region), byRegion[region])
		}
		return
	}
	d.encodeAndSend(d.cfg.Topic, batch)
}

func (d *Dispatcher) encodeAndSend(topic string, recs []Record) {
	// Records encode to 100–200 bytes, alike within a stream; sizing the
	// body from the last message's records, with an eighth to spare,
	// saves growing it and allocates little unused. Most records add one
	// key (their message id; a consumer's SubAfter shares its SubBefore's).
	if d.recBytes == 0 {
		d.recBytes = 192
	}
	size := min(len(recs)*d.recBytes, d.cfg.MaxBatchBytes+512)
	var (
		body     = d.newBody(size)
		keys     = make([]string, 0, len(recs)+8)
		keyBytes int
		count    int
	)
	d.seen.reset()
	for i := range recs {
		// The lookup keys (Record.LookupKeys) without its slice, each
		// entered in seen once; a record whose new keys would pass
		// MaxKeyBytes starts the next message.
		k1, k2 := recs[i].MsgID, recs[i].Keys
		if k2 == k1 {
			k2 = ""
		}
		new1, new2 := d.enter(k1), d.enter(k2)
		add := 0
		if new1 {
			add += len(k1) + 1
		}
		if new2 {
			add += len(k2) + 1
		}
		if count > 0 && keyBytes+add > MaxKeyBytes {
			d.send(topic, body, keys, count)
			body, keys, keyBytes, count = d.newBody(size), make([]string, 0, len(recs)-i+8), 0, 0
			d.seen.reset()
			new1, new2 = d.enter(k1), d.enter(k2)
		}
		body = AppendRecord(body, &recs[i])
		count++
		if new1 {
			keys = append(keys, k1)
			keyBytes += len(k1) + 1
		}
		if new2 {
			keys = append(keys, k2)
			keyBytes += len(k2) + 1
		}
		if len(body) >= d.cfg.MaxBatchBytes {
			d.send(topic, body, keys, count)
			body, keys, keyBytes, count = d.newBody(size), make([]string, 0, len(recs)-i+8), 0, 0
			d.seen.reset()
		}
	}
	if count > 0 {
		d.send(topic, body, keys, count)
	}
}

// newBody returns an empty body of capacity size or more: the released
// one if it is large enough.
func (d *Dispatcher) newBody(size int) []byte {
	if b := d.spare; cap(b) >= size {
		d.spare = nil
		return b[:0]
	}
	return make([]byte, 0, size)
}

// enter adds a non-empty k to the keys of the message being built and
// reports whether it was new there.
func (d *Dispatcher) enter(k string) bool { return d.seen.add(k) }

// send hands one trace message to the Sender once an in-flight slot is
// free. Waiting here only holds the loop, so records queue in the bounded
// channel and drop when it fills: the traced paths never wait.
func (d *Dispatcher) send(topic string, body []byte, keys []string, records int) {
	d.recBytes = len(body)/records + len(body)/records/8 + 1
	select {
	case d.slots <- struct{}{}:
	case <-d.abort:
		d.failed.Add(int64(records))
		return
	}
	if d.release {
		// Released once SendTrace returns: the next message reuses it.
		defer func() { d.spare = body }()
	}
	msg := message.New(topic, body)
	msg.Keys = keys // KEYS is space separated; the broker indexes each token
	d.wg.Add(1)
	ctx, cancel := context.WithTimeout(context.Background(), d.cfg.SendTimeout)
	var once sync.Once
	d.sender.SendTrace(ctx, msg, func(err error) {
		once.Do(func() {
			cancel()
			if err != nil {
				d.failed.Add(int64(records))
			} else {
				d.sent.Add(int64(records))
				d.messages.Add(1)
			}
			<-d.slots
			d.wg.Done()
		})
	})
}
