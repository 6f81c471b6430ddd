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
// its body reaches MaxBatchBytes (118,000) or its keys would pass
// MaxKeyBytes, or FlushInterval after its oldest record (upstream's Java
// dispatcher fills its segments to 118,000 bytes or for up to 500 ms).
// Under load the count of trace messages, not their bytes, is what
// tracing costs beyond the records themselves — each is a wake-up, a
// compression block, a request, a broker append and a KEYS property of
// some thousands of bytes — so messages should be full: the loop fills
// one open message per trace topic from every chunk of records it takes
// and sends it at whichever bound it reaches first. 512 records of up to
// ~200 bytes fit MaxBatchBytes and their message ids (33 bytes a key)
// fit MaxKeyBytes. Messages of 1024 records (bytes-bound: ~650 Pub or
// ~1,000 SubBefore/SubAfter records) were 40 % fewer in a traced load
// test but no cheaper end to end, and each holds the broker's append
// lock longer for its index puts and write. A 5 ms interval closed
// trace messages of ~190 records.
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
	// FlushInterval is how long a partial message waits for more
	// records, from its oldest: how late a record may reach the trace
	// topic. Default 50 ms.
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
// message's Body or Keys once SendTrace has returned (it compressed or
// copied the body and encoded the keys); the dispatcher then writes its
// next trace message into the same memory instead of allocating a body
// and a key slice per message. producer.SenderOf's Senders implement it.
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
// the slice wakes it twice per takeChunk records: when the first record
// arrives in the empty slice (to time its flush) and when takeChunk have.
// The loop swaps the whole slice out for an empty spare, so the lock is
// held for a copy and no allocation, and encodes the records into the
// open trace message, which goes out when it is full or FlushInterval
// after its oldest record; under load every message goes out full.
//
// The records are encoded, and their keys de-duplicated, by the loop and
// not by Append on the traced goroutines: in a traced load test, encoding
// on the appending goroutines (into the open message, under the lock)
// cost about three times the CPU per record and the key table four times,
// every appender writing lines of memory the other core had just written,
// where the loop works through a chunk of records with its code and
// tables in cache.
type Dispatcher struct {
	cfg    Config
	sender Sender

	mu      sync.Mutex
	buf     []Record  // guarded by mu
	bufFrom time.Time // guarded by mu: when buf's first record arrived
	// appended is guarded by mu rather than atomic: Append holds mu's
	// cache line already, where an atomic counter elsewhere in the struct
	// was one more line moved between the cores for every record.
	appended int64
	held     atomic.Int64  // records the loop took and has not handed to the Sender; buf+held ≤ QueueSize
	wake     chan struct{} // capacity 1: the loop has records to look at
	closed   atomic.Bool
	quit     chan struct{} // closed by Close: drain and stop
	abort    chan struct{} // closed when Close's context ends: stop waiting
	done     chan struct{} // closed when the loop has returned
	once     sync.Once
	slots    chan struct{} // in-flight trace sends
	wg       sync.WaitGroup

	// The loop's own state.
	chunk int        // records that make the loop take the slice
	open  []*pending // the trace messages being filled, one per topic
	// recBytes is the loop's estimate of a record's encoded size, from the
	// last trace message: bodies are allocated at their expected size, not
	// the largest a record may take.
	recBytes int
	// spare and spareKeys are a released body and key slice
	// (BodyReleaser) for the loop's next message.
	spare     []byte
	spareKeys []string
	release   bool // the Sender is a BodyReleaser

	dropped, sent, failed, messages atomic.Int64
}

// takeChunk is how many queued records make Append wake the loop to take
// them (BatchSize if smaller). Each chunk costs two wake-ups of the loop;
// the records of a chunk wait at most until the chunk fills or the flush
// timer fires.
const takeChunk = 512

// pending is a trace message the loop is filling.
type pending struct {
	topic    string
	region   string // Cloud: its records' region
	body     []byte
	keys     []string
	keyBytes int       // KEYS' length: the keys plus separators
	count    int       // records
	from     time.Time // when its oldest record arrived, or before: a flush is never late
	seen     keySet    // its keys
}

// NewDispatcher starts a dispatcher sending through s. Close stops it.
func NewDispatcher(cfg Config, s Sender) *Dispatcher {
	cfg = cfg.withDefaults()
	d := &Dispatcher{
		cfg:    cfg,
		sender: s,
		buf:    make([]Record, 0, min(cfg.QueueSize, cfg.BatchSize, takeChunk)),
		wake:   make(chan struct{}, 1),
		quit:   make(chan struct{}),
		abort:  make(chan struct{}),
		done:   make(chan struct{}),
		slots:  make(chan struct{}, cfg.MaxInflight),
		chunk:  min(cfg.BatchSize, takeChunk),
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
	if n == 0 {
		// One clock read per chunk: the flush timer counts from here.
		d.bufFrom = time.Now()
	}
	d.buf = append(d.buf, r)
	d.appended++
	d.mu.Unlock()
	// Wake the loop for the first record of a chunk (it arms the flush
	// timer) and when the chunk is complete (it takes the records); in
	// between it has nothing to do.
	if n == 0 || n+1 == d.chunk {
		select {
		case d.wake <- struct{}{}:
		default:
		}
	}
	return true
}

// Stats returns the counters.
func (d *Dispatcher) Stats() Stats {
	d.mu.Lock()
	appended := d.appended
	d.mu.Unlock()
	return Stats{
		Appended: appended,
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

// loop takes queued records a chunk at a time into the open trace
// messages, which go out when full, and sends what is open once its
// oldest record has waited FlushInterval.
func (d *Dispatcher) loop() {
	defer close(d.done)
	var (
		spare    []Record // the slice Append fills next; swapped with d.buf
		timer    = time.NewTimer(time.Hour)
		deadline time.Time // the timer's, zero when it is stopped
	)
	timer.Stop()
	for {
		final := false
		select {
		case <-d.wake:
		case <-timer.C:
			deadline = time.Time{}
		case <-d.quit:
			final = true
		}
		now := time.Now()
		d.mu.Lock()
		all := d.buf
		from := d.bufFrom
		// A chunk is taken once complete; everything once it is due.
		take := len(all) >= d.chunk || final || (len(all) > 0 && !now.Before(from.Add(d.cfg.FlushInterval)))
		if take {
			d.buf = spare[:0]
			d.held.Add(int64(len(all)))
		}
		rest := len(d.buf)
		d.mu.Unlock()
		if take {
			for i := range all {
				d.add(&all[i], from)
			}
			// Cleared so the records' strings are not kept reachable until
			// the slice is filled again.
			clear(all)
			spare = all[:0]
		}
		// Send the open messages whose oldest record is due, and time the
		// next flush from the oldest record still waiting.
		var next time.Time
		if rest > 0 { // not taken: all is d.buf
			next = from
		}
		for _, p := range d.open {
			if p.count == 0 {
				continue
			}
			if final || !now.Before(p.from.Add(d.cfg.FlushInterval)) {
				d.flush(p)
				continue
			}
			if next.IsZero() || p.from.Before(next) {
				next = p.from
			}
		}
		if final {
			return
		}
		switch due := next.Add(d.cfg.FlushInterval); {
		case next.IsZero():
			if !deadline.IsZero() {
				timer.Stop()
				deadline = time.Time{}
			}
		case !due.Equal(deadline):
			timer.Reset(due.Sub(now))
			deadline = due
		}
	}
}

// add encodes r into the open message of its topic, sending the message
// when r fills it or when r's keys would not fit it. from is when r's
// chunk began to queue, no later than r arrived.
func (d *Dispatcher) add(r *Record, from time.Time) {
	p := d.openFor(r.RegionID, from)
	// The lookup keys (Record.LookupKeys) without its slice, each
	// entered in seen once; a record whose new keys would pass
	// MaxKeyBytes starts the next message.
	k1, k2 := r.MsgID, r.Keys
	if k2 == k1 {
		k2 = ""
	}
	new1, new2 := p.seen.add(k1), p.seen.add(k2)
	if p.count > 0 && p.keyBytes+keyBytes(new1, k1)+keyBytes(new2, k2) > MaxKeyBytes {
		d.flush(p)
		p.from = from
		new1, new2 = p.seen.add(k1), p.seen.add(k2)
	}
	if new1 {
		p.keys = append(p.keys, k1)
		p.keyBytes += len(k1) + 1
	}
	if new2 {
		p.keys = append(p.keys, k2)
		p.keyBytes += len(k2) + 1
	}
	p.body = AppendRecord(p.body, r)
	p.count++
	if p.count >= d.cfg.BatchSize || len(p.body) >= d.cfg.MaxBatchBytes {
		d.flush(p)
		// What the message gets next arrived no earlier than r's chunk.
		p.from = from
	}
}

// keyBytes is what key k adds to KEYS if it is new there.
func keyBytes(isNew bool, k string) int {
	if isNew {
		return len(k) + 1
	}
	return 0
}

// openFor returns the open message for records of region, opening one
// (its oldest record arrived at from) if there is none.
func (d *Dispatcher) openFor(region string, from time.Time) *pending {
	cloud := d.cfg.AccessChannel == Cloud
	for _, p := range d.open {
		if !cloud || p.region == region {
			if p.count == 0 {
				p.from = from
			}
			return p
		}
	}
	p := &pending{topic: d.cfg.Topic, from: from, seen: newKeySet(2 * min(d.cfg.BatchSize, MaxKeyBytes/2))}
	if cloud {
		p.region, p.topic = region, d.cfg.TopicFor(region)
	}
	d.renew(p)
	d.open = append(d.open, p)
	return p
}

// flush sends p's records, if any, as one trace message and empties p.
func (d *Dispatcher) flush(p *pending) {
	if p.count == 0 {
		return
	}
	d.send(p.topic, p.body, p.keys, p.count)
	d.renew(p)
}

// renew gives p an empty body and keys.
func (d *Dispatcher) renew(p *pending) {
	// Records encode to 100–250 bytes, alike within a stream; sizing the
	// body from the last message's records, with an eighth to spare,
	// saves growing it and allocates little unused.
	if d.recBytes == 0 {
		d.recBytes = 192
	}
	size := min(d.cfg.BatchSize*d.recBytes, d.cfg.MaxBatchBytes+512)
	if b := d.spare; cap(b) >= size {
		p.body, d.spare = b[:0], nil
	} else {
		p.body = make([]byte, 0, size)
	}
	if k := d.spareKeys; k != nil {
		p.keys, d.spareKeys = k[:0], nil
	} else {
		p.keys = make([]string, 0, min(d.cfg.BatchSize, 1024)) // went with the message
	}
	p.keyBytes, p.count = 0, 0
	p.seen.reset()
}

// send hands one trace message to the Sender once an in-flight slot is
// free. Waiting here only holds the loop, so records stay queued and new
// ones drop once QueueSize are: the traced paths never wait.
func (d *Dispatcher) send(topic string, body []byte, keys []string, records int) {
	defer d.held.Add(-int64(records))
	d.recBytes = len(body)/records + len(body)/records/8 + 1
	select {
	case d.slots <- struct{}{}:
	case <-d.abort:
		d.failed.Add(int64(records))
		if d.release {
			d.reuse(body, keys)
		}
		return
	}
	if d.release {
		// Released once SendTrace returns: the next message reuses them.
		defer d.reuse(body, keys)
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

// reuse keeps a released body and key slice for the next message; the
// keys are cleared so the ids they hold are not kept reachable.
func (d *Dispatcher) reuse(body []byte, keys []string) {
	clear(keys)
	d.spare, d.spareKeys = body, keys
}
