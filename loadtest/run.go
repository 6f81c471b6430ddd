package loadtest

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rocketgo/rocketgo/consumer"
	"github.com/rocketgo/rocketgo/message"
	"github.com/rocketgo/rocketgo/producer"
	"github.com/rocketgo/rocketgo/remoting"
	"github.com/rocketgo/rocketgo/server/broker"
	"github.com/rocketgo/rocketgo/server/embedded"
	"github.com/rocketgo/rocketgo/trace"
)

// ProducerGroup is the producer group the tool sends with.
const ProducerGroup = "benchmark_producer"

// meter is everything senders and consumers record. Counters are
// cumulative; the *Iv histograms are emptied by every report.
type meter struct {
	sent           atomic.Int64 // messages acknowledged (or queued, oneway)
	sendFailed     atomic.Int64 // client-side failures, in messages
	responseFailed atomic.Int64 // broker refusals, in messages
	received       atomic.Int64 // distinct messages of this run consumed
	duplicates     atomic.Int64 // redeliveries of messages already counted
	foreign        atomic.Int64 // messages of other runs skipped

	sendRT, sendRTIv     histogram
	pubDelay, pubDelayIv histogram
	e2e, e2eIv           histogram
	s2c, s2cIv           histogram
}

// run is one load test in progress.
type run struct {
	cfg     Config
	runID   uint64
	namesrv string
	m       *meter
	start   time.Time
	seq     atomic.Uint64 // next message sequence number
	sending atomic.Bool   // the send phase is on (for per-interval send figures)
	warming atomic.Bool   // the warm-up phase is on: record nothing (warmup.go)
	warmed  atomic.Int64  // messages acknowledged during the warm-up
	seen    *dedup
	shape   messageShape // keys, properties, delay, tags of every message
	slow    slowLog      // sends at least cfg.SlowOver slow (slowlog.go)
	// firstErr is the run's first failed send, printed by the reporter so
	// a failing run says why and not only how often.
	firstErr atomic.Pointer[error]
	errShown bool // the reporter printed firstErr (reporter goroutine only)
}

// Run performs one load test and returns its result. The error is for runs
// that could not be carried out (bad config, unreachable cluster); a run
// that completed with too many errors returns a Result with Failed set.
// Every goroutine, client and embedded server Run starts is stopped before
// it returns, and the embedded server's directory is removed.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	var idb [8]byte
	if _, err := rand.Read(idb[:]); err != nil {
		return nil, fmt.Errorf("loadtest: run id: %w", err)
	}
	r := &run{cfg: cfg, runID: binary.BigEndian.Uint64(idb[:]), namesrv: cfg.NameServer, m: &meter{}, seen: newDedup(), shape: newMessageShape(cfg),
		slow: slowLog{over: cfg.SlowOver}}

	if r.namesrv == "" {
		ns, cleanup, err := startEmbeddedFor(ctx, cfg)
		if err != nil {
			return nil, err
		}
		defer cleanup()
		r.namesrv = ns
	}
	if err := r.prepareTopic(ctx); err != nil {
		return nil, err
	}
	return r.execute(ctx)
}

// prepareTopic makes sure the topic exists before consumers start (they
// need its route): the tool creates it for an embedded server, with
// -create-topic, and in mode both when the cluster does not route it yet
// (a fresh topic: producers alone would auto-create it, consumers cannot).
// It warns when the topic's queue count is far from -queues.
func (r *run) prepareTopic(ctx context.Context) error {
	cfg := r.cfg
	tctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	create := cfg.NameServer == "" || cfg.CreateTopic
	if !create && cfg.Mode != ModeProduce {
		switch _, err := TopicQueues(tctx, r.namesrv, cfg.Topic, cfg.transportOptions()...); {
		case errors.Is(err, remoting.ErrTopicNotExist) && cfg.Mode == ModeBoth:
			fmt.Fprintf(cfg.Out, "topic %s does not exist: creating it with %d queues on every master (as -create-topic)\n", cfg.Topic, cfg.Queues)
			create = true
		case errors.Is(err, remoting.ErrTopicNotExist):
			return fmt.Errorf("loadtest: topic %s does not exist; add -create-topic, or run -mode produce first", cfg.Topic)
		case err != nil:
			return err
		}
	}
	if create {
		if err := CreateTopic(tctx, r.namesrv, cfg.Topic, cfg.Queues, cfg.transportOptions()...); err != nil {
			return err
		}
	}
	n, err := TopicQueues(tctx, r.namesrv, cfg.Topic, cfg.transportOptions()...)
	switch {
	case err != nil && !errors.Is(err, remoting.ErrTopicNotExist):
		return err
	case err == nil && (n > 4*cfg.Queues || 4*n < cfg.Queues):
		// BenchmarkTest, for one, is a system topic every RocketMQ broker
		// creates with 1,024 queues: as many consume-queue files, and
		// senders spread so thin that batching and caches stop working.
		fmt.Fprintf(cfg.Out, "warning: topic %s has %d write queues, -queues is %d; use another -topic, or -create-topic to resize it\n", cfg.Topic, n, cfg.Queues)
	}
	return nil
}

// startEmbeddedFor starts the embedded server a run without a name server
// uses, says where it listens on cfg.Out, and returns its name server
// address and what stops it.
func startEmbeddedFor(ctx context.Context, cfg Config) (string, func(), error) {
	srv, cleanup, err := startEmbedded(ctx, cfg)
	if err != nil {
		return "", nil, err
	}
	fmt.Fprintf(cfg.Out, "embedded server: name server %s, broker %s\n", srv.NamesrvAddr(), srv.BrokerAddr())
	if m := srv.MetricsAddr(); m != "" {
		fmt.Fprintf(cfg.Out, "embedded server metrics: http://%s/metrics\n", m)
	}
	return srv.NamesrvAddr(), cleanup, nil
}

// startEmbedded starts a name server and broker on free loopback ports in
// a temporary directory; cleanup stops them and removes the directory.
func startEmbedded(ctx context.Context, cfg Config) (*embedded.Server, func(), error) {
	dir, err := os.MkdirTemp("", "rocketgo-loadtest-")
	if err != nil {
		return nil, nil, fmt.Errorf("loadtest: temp dir: %w", err)
	}
	bc := broker.DefaultConfig()
	bc.StorePathRootDir = dir
	// Smaller files than production: a 10 s run should not allocate a
	// 1 GiB commit-log file on a laptop.
	bc.MappedFileSizeCommitLog = 128 << 20
	// The index a tenth of upstream's (5 M slots, 20 M entries; 42 MB a
	// file): a traced run indexes three keys per message, and files of
	// 200,000 entries rolled about once a second under it, each roll a
	// file creation on the append path; trace records were dropped.
	bc.MaxHashSlotNum, bc.MaxIndexNum = 500_000, 2_000_000
	bc.DefaultTopicQueueNums = cfg.Queues
	bc.TraceTopicEnable = cfg.Trace
	if cfg.EmbeddedACL {
		aclFile := filepath.Join(dir, "plain_acl.yml")
		account := fmt.Sprintf("accounts:\n  - accessKey: %q\n    secretKey: %q\n    admin: true\n", cfg.Credentials.AccessKey, cfg.Credentials.SecretKey)
		if err := os.WriteFile(aclFile, []byte(account), 0o600); err != nil {
			os.RemoveAll(dir)
			return nil, nil, fmt.Errorf("loadtest: %w", err)
		}
		bc.AclEnable, bc.AclFile = true, aclFile
	}
	sctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	srv, err := embedded.Start(sctx, embedded.Config{Host: "127.0.0.1", NamesrvPort: -1, BrokerPort: -1, Broker: bc, Logger: cfg.Logger,
		MetricsAddr: cfg.EmbeddedMetrics})
	if err != nil {
		os.RemoveAll(dir)
		return nil, nil, fmt.Errorf("loadtest: %w", err)
	}
	return srv, func() {
		sctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		srv.Shutdown(sctx)
		os.RemoveAll(dir)
	}, nil
}

func (r *run) execute(ctx context.Context) (*Result, error) {
	cfg := r.cfg
	produce := cfg.Mode != ModeConsume
	consume := cfg.Mode != ModeProduce

	var consumers []*consumer.PushConsumer
	defer func() { shutdownAll(nil, consumers) }()
	if consume {
		for i := range cfg.Consumers {
			c, err := r.startConsumer(ctx, i)
			if err != nil {
				return nil, err
			}
			consumers = append(consumers, c)
		}
	}
	var producers []*producer.Producer
	defer func() { shutdownAll(producers, nil) }()
	if produce {
		for i := range cfg.Producers {
			popts := []producer.Option{
				producer.WithNameServers(r.namesrv),
				producer.WithGroup(ProducerGroup),
				producer.WithInstanceName(fmt.Sprintf("loadtest-%x-%d", r.runID, i)),
				producer.WithLogger(cfg.Logger),
			}
			// A threshold of 0 is off for WithCompression; level 0 keeps
			// the default level.
			popts = append(popts, producer.WithCompression(cfg.compressThreshold(), 0))
			if cfg.Trace {
				popts = append(popts, producer.WithTrace(producer.TraceConfig{}))
			}
			if cfg.Credentials.Valid() {
				popts = append(popts, producer.WithCredentials(cfg.Credentials))
			}
			if cfg.TLS != nil {
				popts = append(popts, producer.WithTLS(cfg.TLS))
			}
			if cfg.SendMode == SendAsync {
				popts = append(popts, producer.WithAsyncLimit(inflightShare(cfg.MaxInflight, cfg.Producers, i)))
			}
			p, err := producer.New(popts...)
			if err != nil {
				return nil, fmt.Errorf("loadtest: producer: %w", err)
			}
			producers = append(producers, p)
		}
	}

	r.warmUp(ctx, producers)
	rep := newReporter(r)
	r.start = time.Now()
	repCtx, stopReporter := context.WithCancel(ctx)
	repDone := make(chan struct{})
	go func() {
		defer close(repDone)
		rep.loop(repCtx)
	}()

	// The send phase ends at the duration, after the message count, or
	// when ctx is cancelled (Ctrl-C): whichever comes first.
	var (
		phaseCtx context.Context
		endPhase context.CancelFunc
	)
	if cfg.Messages == 0 {
		phaseCtx, endPhase = context.WithTimeout(ctx, cfg.Duration)
	} else {
		phaseCtx, endPhase = context.WithCancel(ctx)
	}
	defer endPhase()
	if produce {
		r.sending.Store(true)
		// In-flight sends outlive a Ctrl-C (each is bounded by the
		// producer's send timeout) so an interrupted run still ends with
		// an honest summary instead of a burst of cancelled sends.
		r.sendAll(context.WithoutCancel(ctx), phaseCtx, producers, cfg.Messages)
		r.sending.Store(false)
	} else {
		r.consumeOnly(phaseCtx)
	}
	sendElapsed := time.Since(r.start)
	endPhase()
	drained := true
	if produce && consume {
		drained = r.drain(ctx)
	}
	stopReporter()
	<-repDone
	elapsed := time.Since(r.start)
	if !produce {
		sendElapsed = elapsed
	}
	res := rep.result(sendElapsed, elapsed, drained)
	res.Slow, res.SlowDropped = r.slow.take()
	if cfg.Trace {
		// Shut down (idempotent; the deferred calls then do nothing)
		// before counting: shutdown sends the trace records still queued,
		// so the counts are final rather than whatever the last flush
		// interval left unsent.
		shutdownAll(producers, consumers)
		var st trace.Stats
		add := func(x trace.Stats) {
			st.Appended += x.Appended
			st.Dropped += x.Dropped
			st.Sent += x.Sent
			st.Failed += x.Failed
			st.Messages += x.Messages
		}
		for _, p := range producers {
			add(p.TraceStats())
		}
		for _, c := range consumers {
			add(c.TraceStats())
		}
		res.Trace = &st
	}
	rep.printSummary(res)
	return res, nil
}

// shutdownAll shuts the producers and then the consumers down, each within
// 10 s, as the run's deferred calls do.
func shutdownAll(producers []*producer.Producer, consumers []*consumer.PushConsumer) {
	for _, p := range producers {
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		p.Shutdown(sctx)
		cancel()
	}
	for _, c := range consumers {
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		c.Shutdown(sctx)
		cancel()
	}
}

// consumeOnly waits for the duration, or until Messages were received.
func (r *run) consumeOnly(ctx context.Context) {
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if r.cfg.Messages > 0 && r.m.received.Load() >= r.cfg.Messages {
				return
			}
		}
	}
}

// drain waits until the consumers have received every message sent, or the
// drain timeout passes. Oneway sends can be lost by design, so for them the
// wait is only as long as the drain timeout allows.
func (r *run) drain(ctx context.Context) bool {
	deadline := time.NewTimer(r.cfg.DrainTimeout)
	defer deadline.Stop()
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	for {
		if r.m.received.Load() >= r.m.sent.Load() {
			return true
		}
		select {
		case <-ctx.Done():
			return false
		case <-deadline.C:
			return false
		case <-t.C:
		}
	}
}

func (r *run) startConsumer(ctx context.Context, i int) (*consumer.PushConsumer, error) {
	cfg := r.cfg
	opts := []consumer.Option{
		consumer.WithNameServers(r.namesrv),
		consumer.WithGroup(cfg.Group),
		consumer.WithInstanceName(fmt.Sprintf("loadtest-%x-%d", r.runID, i)),
		consumer.WithLogger(cfg.Logger),
		// Short rebalance period so several consumers share the queues
		// within the first second of a short run.
		consumer.WithRebalanceInterval(time.Second),
	}
	if cfg.Trace {
		opts = append(opts, consumer.WithTrace(consumer.TraceConfig{}))
	}
	if cfg.Credentials.Valid() {
		opts = append(opts, consumer.WithCredentials(cfg.Credentials))
	}
	if cfg.TLS != nil {
		opts = append(opts, consumer.WithTLS(cfg.TLS))
	}
	if cfg.Mode == ModeBoth {
		// A new group starts at messages stored since just before the
		// run, so nothing sent before a queue is assigned is missed (with
		// "last offset" it would be on an old topic); an existing group
		// resumes from its committed offsets, and older messages are
		// skipped by run id. ModeConsume keeps RocketMQ's default (last
		// offset), like its benchmark consumer.
		opts = append(opts,
			consumer.WithConsumeFrom(consumer.ConsumeFromTimestamp),
			consumer.WithConsumeTimestamp(time.Now().Add(-time.Second)))
	}
	c, err := consumer.NewPush(opts...)
	if err != nil {
		return nil, fmt.Errorf("loadtest: consumer: %w", err)
	}
	expr := cfg.Tags
	if expr == "" {
		expr = "*"
	}
	if err := c.Subscribe(cfg.Topic, expr, consumer.ConcurrentListener(r.onMessages)); err != nil {
		return nil, fmt.Errorf("loadtest: subscribe: %w", err)
	}
	sctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	if err := c.Start(sctx); err != nil {
		return nil, fmt.Errorf("loadtest: consumer start: %w", err)
	}
	return c, nil
}

// onMessages is the consumers' listener: it counts and times messages of
// this run and skips the rest. In ModeConsume every message counts (other
// processes produce them), and born-to-consume latency comes from the
// born timestamp, in milliseconds, as in RocketMQ's benchmark consumer.
func (r *run) onMessages(_ context.Context, _ *consumer.ConcurrentContext, msgs []*message.MessageExt) consumer.ConsumeResult {
	now := time.Now()
	if r.cfg.Mode == ModeConsume {
		if r.warming.Load() {
			return consumer.ConsumeSuccess
		}
		for _, m := range msgs {
			b2c, s2c := now.Sub(time.UnixMilli(m.BornTimestamp)), now.Sub(time.UnixMilli(m.StoreTimestamp))
			r.m.e2e.record(b2c)
			r.m.e2eIv.record(b2c)
			r.m.s2c.record(s2c)
			r.m.s2cIv.record(s2c)
		}
		r.m.received.Add(int64(len(msgs)))
		return consumer.ConsumeSuccess
	}
	for _, m := range msgs {
		if len(m.Body) >= MinMessageSize && binary.BigEndian.Uint64(m.Body) == r.warmID() {
			continue // warm-up traffic: in no figure
		}
		if len(m.Body) < MinMessageSize || binary.BigEndian.Uint64(m.Body) != r.runID {
			r.m.foreign.Add(1)
			continue
		}
		if !r.seen.first(binary.BigEndian.Uint64(m.Body[16:])) {
			r.m.duplicates.Add(1)
			continue
		}
		sentAt := int64(binary.BigEndian.Uint64(m.Body[8:]))
		e2e := now.Sub(time.Unix(0, sentAt))
		r.m.e2e.record(e2e)
		r.m.e2eIv.record(e2e)
		s2c := now.Sub(time.UnixMilli(m.StoreTimestamp))
		r.m.s2c.record(s2c)
		r.m.s2cIv.record(s2c)
		r.m.received.Add(1)
	}
	return consumer.ConsumeSuccess
}

// sendAll runs the senders until phaseCtx ends or limit messages were sent
// (0: no limit), then waits for every outstanding async send. In-flight
// sends use ctx, not phaseCtx, so the end of the phase does not fail them.
func (r *run) sendAll(ctx, phaseCtx context.Context, producers []*producer.Producer, limit int64) {
	var (
		claimed atomic.Int64 // messages handed to senders so far
		wg      sync.WaitGroup
		async   sync.WaitGroup
	)
	for i := range r.cfg.Senders {
		p := producers[i%len(producers)]
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.sender(ctx, phaseCtx, p, limit, &claimed, &async)
		}()
	}
	wg.Wait()
	async.Wait()
}

// inflightShare is producer i's part of the async in-flight cap when
// producers share it: the cap divided as evenly as it goes, at least one.
func inflightShare(total, producers, i int) int {
	n := total / producers
	if i < total%producers {
		n++
	}
	return max(n, 1)
}

func (r *run) sender(ctx, phaseCtx context.Context, p *producer.Producer, limit int64, claimed *atomic.Int64, async *sync.WaitGroup) {
	cfg := r.cfg
	batch := int64(cfg.BatchSize)
	// Reused by sync sends (see newMessagesIn). Tracing does not stop it:
	// its records keep the body's length, never the body.
	var bodies *[][]byte
	if cfg.SendMode == SendSync {
		bodies = new([][]byte)
	}
	for phaseCtx.Err() == nil {
		k := claimed.Add(batch) - batch
		n := batch
		if limit > 0 {
			if k >= limit {
				return
			}
			n = min(batch, limit-k)
		}
		if cfg.Rate > 0 {
			intended := r.start.Add(time.Duration(float64(k) / cfg.Rate * float64(time.Second)))
			if wait := time.Until(intended); wait > 0 {
				t := time.NewTimer(wait)
				select {
				case <-phaseCtx.Done():
					t.Stop()
					return
				case <-t.C:
				}
			}
			if delay := time.Since(intended); !r.warming.Load() {
				r.m.pubDelay.record(delay)
				r.m.pubDelayIv.record(delay)
			}
		}
		// The bodies' send time starts the latency clock too: one clock
		// read per send, not two.
		msgs, t0 := r.newMessagesIn(int(n), bodies)
		switch cfg.SendMode {
		case SendSync:
			_, err := p.SendSync(ctx, msgs...)
			r.done(t0, n, err)
		case SendOneway:
			err := p.SendOneway(ctx, msgs...)
			r.done(t0, n, err)
		case SendAsync:
			// The producer caps the sends in flight (WithAsyncLimit, set
			// from MaxInflight): SendAsync waits for a slot, and the
			// latency clock includes that wait, as a caller sees it.
			async.Add(1)
			err := p.SendAsync(ctx, func(_ *producer.SendResult, err error) {
				r.done(t0, n, err)
				async.Done()
			}, msgs...)
			if err != nil {
				r.done(t0, n, err)
				async.Done()
			}
		}
	}
}

// newMessages builds n messages whose bodies carry the run id, the send
// time (also returned) and a sequence number. Bodies are fresh per send
// because async and oneway sends may still hold them after the call returns.
func (r *run) newMessages(n int) ([]*message.Message, time.Time) { return r.newMessagesIn(n, nil) }

// newMessagesIn is newMessages with the bodies taken from *bodies (grown as
// needed) when bodies is not nil. Sync sends reuse theirs: once SendSync
// returns the producer holds no body (it copied each into the request
// frame, or compressed it into a new slice), and a fresh 16 KiB body per
// send cost the tool more CPU in allocation, GC and returned-then-refaulted
// heap than the copy itself. JetStream's tool sends one buffer throughout.
func (r *run) newMessagesIn(n int, bodies *[][]byte) ([]*message.Message, time.Time) {
	msgs := make([]*message.Message, n)
	t := time.Now()
	now := uint64(t.UnixNano())
	for i := range msgs {
		var body []byte
		switch {
		case bodies == nil:
			body = make([]byte, r.cfg.MessageSize)
		case i < len(*bodies):
			body = (*bodies)[i]
		default:
			body = make([]byte, r.cfg.MessageSize)
			*bodies = append(*bodies, body)
		}
		seq := r.seq.Add(1) - 1
		binary.BigEndian.PutUint64(body, r.stampID())
		binary.BigEndian.PutUint64(body[8:], now)
		binary.BigEndian.PutUint64(body[16:], seq)
		m := message.New(r.cfg.Topic, body)
		if r.cfg.Tags != "" {
			m.Tags = r.cfg.Tags
		}
		r.shape.apply(m, seq, t)
		msgs[i] = m
	}
	return msgs, t
}

// done records the outcome of one send of n messages.
func (r *run) done(t0 time.Time, n int64, err error) {
	if r.warming.Load() {
		if err == nil {
			r.warmed.Add(n)
		}
		return
	}
	if err == nil {
		rt := time.Since(t0)
		r.m.sendRT.record(rt)
		r.m.sendRTIv.record(rt)
		r.slow.note(t0, rt, n)
		r.m.sent.Add(n)
		return
	}
	// A copy: taking err's own address would move every call's err to
	// the heap, one allocation per successful send too.
	first := err
	r.firstErr.CompareAndSwap(nil, &first)
	// RocketMQ's benchmark splits failures the same way: a broker's
	// refusal (MQBrokerException) is a response failure, anything else a
	// send failure.
	if re := (*remoting.ResponseError)(nil); errors.As(err, &re) {
		r.m.responseFailed.Add(n)
		return
	}
	r.m.sendFailed.Add(n)
}
