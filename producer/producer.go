package producer

import (
	"context"
	"fmt"
	"os"
	"sync"
	"sync/atomic"

	"github.com/rocketgo/rocketgo/client"

	"github.com/sony/gobreaker/v2"

	iclient "github.com/rocketgo/rocketgo/internal/client"
	"github.com/rocketgo/rocketgo/message"
	"github.com/rocketgo/rocketgo/selector"
	"github.com/rocketgo/rocketgo/selector/fault"
)

// Producer sends messages. It is safe for concurrent use; create one per
// producer group and share it.
type Producer struct {
	cfg    config
	pub    *client.Client  // the Client (WithClient's, or a private one)
	cl     *iclient.Client // its implementation
	shared bool            // pub came from WithClient
	sends  []client.SendHook
	group  string // as sent on the wire (namespace applied)
	uniq   *message.UniqIDGenerator
	codec  *message.Codec // compresses bodies; keeps encoders warm between sends
	rr     *selector.RoundRobin
	table  *fault.Table // nil when fault avoidance is off

	// breakers is copy-on-write, keyed by broker name: read on every send,
	// written once per broker.
	breakers atomic.Pointer[map[string]*brokerHealth]
	bmu      sync.Mutex

	mu        sync.RWMutex // guards closed against inflight.Add
	closed    bool
	inflight  sync.WaitGroup // every send in progress, async ones until their callback returned
	checks    sync.WaitGroup // transaction check-backs in progress
	slots     *asyncSlots    // async sends in flight, at most WithAsyncLimit
	async     *asyncPool     // the goroutines async sends run on (async.go)
	reqs      sync.Pool      // *remoting.Command: send requests, reused (putRequest)
	stopWatch func()         // removes the route watch
	replies   *replyTable    // pending Request calls by correlation id
	tracer    *tracer        // nil unless WithTrace
}

// New creates a producer and registers its group with the iclient. It does
// no network I/O; routes are looked up on the first send.
func New(opts ...Option) (*Producer, error) {
	cfg := defaultConfig()
	for _, o := range opts {
		if o != nil {
			o(&cfg)
		}
	}
	if !cfg.compressType.ValidLevel(cfg.compressLevel) {
		// Checked here, not in WithCompression: the valid range depends on
		// the type, which may be set by a later option.
		cfg.compressLevel = DefaultCompressLevel
	}
	pub := cfg.client
	if pub != nil {
		if err := iclient.Of(pub).Acquire(); err != nil {
			return nil, fmt.Errorf("producer: shared client: %w", err)
		}
	} else {
		copts := []client.Option{
			client.WithNameServers(cfg.nameServers),
			client.WithInstanceName(cfg.instanceName),
			client.WithNamespace(cfg.namespace),
			client.WithUnitName(cfg.unitName),
			client.WithLogger(cfg.logger),
			client.WithRequestSigner(cfg.credentials),
		}
		copts = append(copts, cfg.tls...)
		if cfg.resolver != nil {
			copts = append(copts, client.WithResolver(cfg.resolver))
		}
		var err error
		if pub, err = client.New(copts...); err != nil {
			return nil, fmt.Errorf("producer: %w", err)
		}
	}
	cl := iclient.Of(pub)
	p := &Producer{
		cfg:    cfg,
		pub:    pub,
		cl:     cl,
		shared: cfg.client != nil,
		sends:  pub.SendHooks(),
		group:  cl.Wrap(cfg.group),
		uniq:   message.NewUniqIDGenerator(cl.IP(), os.Getpid()),
		codec:  message.NewCodec(),
		rr:     selector.NewRoundRobin(),

		slots: newAsyncSlots(cfg.asyncLimit),
		async: newAsyncPool(),
	}
	empty := map[string]*brokerHealth{}
	p.breakers.Store(&empty)
	if cfg.faultAvoidance {
		fopts := []fault.Option{fault.WithVersion(cfg.faultVersion), fault.WithLogger(cfg.logger)}
		if cfg.faultClock != nil {
			fopts = append(fopts, fault.WithClock(cfg.faultClock))
		}
		p.table = fault.New(fopts...)
	}
	if p.table != nil {
		// Forget the latency and breaker state of brokers that left every
		// route, so a broker name reused later starts clean.
		p.stopWatch = cl.WatchRoutes(func(*iclient.TopicInfo) { p.forgetGoneBrokers() })
	}
	var checker iclient.TransactionChecker
	if cfg.txListener != nil {
		checker = txChecker{p}
	}
	if err := cl.RegisterProducer(p.group, checker); err != nil {
		if p.stopWatch != nil {
			p.stopWatch()
		}
		cl.Release()
		return nil, fmt.Errorf("producer: %w", err)
	}
	if cfg.trace != nil {
		if err := p.startTrace(); err != nil {
			cl.UnregisterProducer(canceledCtx(), p.group)
			if p.stopWatch != nil {
				p.stopWatch()
			}
			cl.Release()
			return nil, fmt.Errorf("producer: trace: %w", err)
		}
	}
	// Replies are pushed to the client, which offers them to each of its
	// producers; registering up front (a map insert) keeps Request free of
	// registration races with Shutdown.
	p.replies = newReplyTable()
	p.replies.unregister = cl.RegisterReplyHandler(p.replies.deliver)
	return p, nil
}

// Group returns the producer group as sent on the wire.
func (p *Producer) Group() string { return p.group }

// Client returns the Client the producer uses: WithClient's, or the
// private one it created (closed by Shutdown).
func (p *Producer) Client() *client.Client { return p.pub }

// FaultTable returns the latency fault table, or nil when fault avoidance
// is off; useful for diagnostics (Snapshot).
func (p *Producer) FaultTable() *fault.Table { return p.table }

// enter registers a send in progress; it fails once Shutdown has begun.
func (p *Producer) enter() error {
	p.mu.RLock()
	defer p.mu.RUnlock()
	if p.closed {
		return ErrProducerClosed
	}
	p.inflight.Add(1)
	return nil
}

// Shutdown stops accepting sends, waits for sends in progress (async ones
// until their callback has returned) up to ctx, unregisters the group and
// releases the client (closing it if it was private). It returns ctx's
// error if the wait was cut short. Shutdown is idempotent.
func (p *Producer) Shutdown(ctx context.Context) error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	p.mu.Unlock()
	p.replies.close() // pending requests fail now rather than at their timeout

	var err error
	done := make(chan struct{})
	go func() {
		p.inflight.Wait()
		p.checks.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-ctx.Done():
		err = fmt.Errorf("producer: shutdown: %w", ctx.Err())
	}
	if p.tracer != nil {
		// After the traced sends, whose records it flushes; before the
		// client is released, which the trace producer may share.
		p.tracer.stop(ctx)
	}
	if p.stopWatch != nil {
		p.stopWatch()
	}
	if p.shared && ctx.Err() == nil {
		// Other users keep the shared client's connections open, so tell
		// the brokers the group is gone. A private client's connections
		// close below, which the brokers notice by themselves.
		uctx, cancel := context.WithTimeout(ctx, p.cl.RequestTimeout())
		p.cl.UnregisterProducer(uctx, p.group)
		cancel()
	} else {
		p.cl.UnregisterProducer(canceledCtx(), p.group)
	}
	p.cl.Release()
	if err != nil {
		// Closing the client (if private) fails what is still in flight,
		// so the waiter finishes promptly; a shared client's sends end
		// within their own time budget.
		<-done
	}
	// Every async send has returned from its callback: the workers are
	// idle or about to be.
	p.async.close()
	return err
}

// brokerHealth is one broker's circuit breaker plus a "suspect" flag. A
// broker with no recent transport failure is not suspect, and its sends
// bypass the breaker entirely: no mutex, no allocation on the hot path.
// The first failure makes it suspect; from then on every attempt goes
// through the breaker until it has been closed with no failure counted.
type brokerHealth struct {
	cb      *gobreaker.TwoStepCircuitBreaker[struct{}]
	suspect atomic.Bool
}

// health returns broker's entry, creating it on first use.
func (p *Producer) health(broker string) *brokerHealth {
	if h := (*p.breakers.Load())[broker]; h != nil {
		return h
	}
	p.bmu.Lock()
	defer p.bmu.Unlock()
	old := *p.breakers.Load()
	if h := old[broker]; h != nil {
		return h
	}
	failures := p.cfg.breakerFailures
	logger := p.cfg.logger
	h := &brokerHealth{cb: gobreaker.NewTwoStepCircuitBreaker[struct{}](gobreaker.Settings{
		Name:        broker,
		MaxRequests: 1,
		Timeout:     p.cfg.breakerOpenTime,
		ReadyToTrip: func(c gobreaker.Counts) bool { return c.ConsecutiveFailures >= failures },
		OnStateChange: func(name string, from, to gobreaker.State) {
			logger.Info("producer: broker circuit breaker", "broker", name, "from", from.String(), "to", to.String())
		},
	})}
	next := make(map[string]*brokerHealth, len(old)+1)
	for k, v := range old {
		next[k] = v
	}
	next[broker] = h
	p.breakers.Store(&next)
	return h
}

// breakerOpen reports whether broker's breaker currently refuses traffic.
func (p *Producer) breakerOpen(broker string) bool {
	h := (*p.breakers.Load())[broker]
	return h != nil && h.suspect.Load() && h.cb.State() == gobreaker.StateOpen
}

// forgetGoneBrokers drops fault and breaker state of brokers that no
// cached route mentions any more.
func (p *Producer) forgetGoneBrokers() {
	for _, b := range p.table.Snapshot() {
		if p.cl.BrokerAddr(b.Broker) == "" {
			p.table.Remove(b.Broker)
		}
	}
	p.bmu.Lock()
	defer p.bmu.Unlock()
	old := *p.breakers.Load()
	next := make(map[string]*brokerHealth, len(old))
	for name, h := range old {
		if p.cl.BrokerAddr(name) != "" {
			next[name] = h
		}
	}
	if len(next) != len(old) {
		p.breakers.Store(&next)
	}
}

// canceledCtx returns a context that is already done: UnregisterProducer
// then only drops the registration, without telling the brokers.
func canceledCtx() context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return ctx
}
