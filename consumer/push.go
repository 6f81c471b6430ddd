package consumer

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rocketgo/rocketgo/message"
	"github.com/rocketgo/rocketgo/remoting"
	"github.com/rocketgo/rocketgo/remoting/wire"
)

// Retry and DLQ topic prefixes (upstream MixAll.RETRY_GROUP_TOPIC_PREFIX
// and DLQ_GROUP_TOPIC_PREFIX).
const (
	RetryPrefix = "%RETRY%"
	DLQPrefix   = "%DLQ%"
)

// lockMaxLive is how long a client trusts a broker lock without renewal
// (Java rocketmq.client.rebalance.lockMaxLiveTime, 30 s).
const lockMaxLive = 30 * time.Second

// maxContinuousOrderly bounds one orderly task before it yields its
// goroutine to other queues (Java MAX_TIME_CONSUME_CONTINUOUSLY, 60 s).
const maxContinuousOrderly = time.Minute

// subscription is one subscribed topic.
type subscription struct {
	topic    string
	data     wire.SubscriptionData
	listener Listener
}

// queueRun is an owned queue: its cache and its pull loop.
type queueRun struct {
	pq     *processQueue
	sub    *subscription
	cancel context.CancelFunc
	done   chan struct{} // closed when the pull loop returns
}

// stopPulling marks the queue dropped, so that no new batch is handed to
// listeners, and waits for its pull loop to return. Callbacks already
// running are the caller's to wait for.
func (run *queueRun) stopPulling() {
	run.pq.mu.Lock()
	run.pq.dropped.Store(true)
	run.pq.mu.Unlock()
	run.cancel()
	<-run.done
}

// PushConsumer pulls the queues the rebalance assigns it and calls the
// subscribed listeners.
type PushConsumer struct {
	cfg     config
	orderly bool

	mu    sync.Mutex // guards subs and state
	subs  map[string]*subscription
	state lifecycle

	cl    *cluster
	store offsetStore
	pool  *pool
	retry string // %RETRY%group

	// ctx lives until Shutdown starts; pulls and loops hang off it.
	ctx    context.Context
	cancel context.CancelFunc
	// consumeCtx is what listeners see; it ends only when Shutdown's own
	// context expires, so in-flight callbacks may finish.
	consumeCtx    context.Context
	consumeCancel context.CancelFunc
	loopDone      chan struct{}
	pullWG        sync.WaitGroup
	timers        sync.WaitGroup // delayed resubmissions

	// table is written only by the owner goroutine (rebalance loop, then
	// Shutdown); tableMu lets handlers read it.
	tableMu sync.RWMutex
	table   map[Queue]*queueRun

	rebalanceNow chan struct{}
	resets       chan map[Queue]int64 // RESET_CONSUMER_CLIENT_OFFSET, to the owner
	stats        consumeStats
	tracer       *tracer // nil unless WithTrace; set by Start under mu
	// infos recycles ConsumeInfos when the tracer is the only interceptor
	// (reuseInfo, set by Start before any listener call): it keeps none
	// past AfterConsume, while a user's interceptor might.
	infos     sync.Pool
	reuseInfo bool

	popInflight atomic.Int64 // POP mode: popped messages not yet settled
}

// NewPush returns a push consumer; call Subscribe, then Start.
func NewPush(opts ...Option) (*PushConsumer, error) {
	cfg := defaultConfig()
	for _, o := range opts {
		o(&cfg)
	}
	if err := cfg.validate(false); err != nil {
		return nil, err
	}
	return &PushConsumer{
		cfg:          cfg,
		subs:         map[string]*subscription{},
		table:        map[Queue]*queueRun{},
		rebalanceNow: make(chan struct{}, 1),
		resets:       make(chan map[Queue]int64, 4),
		retry:        RetryPrefix + cfg.group,
	}, nil
}

// Subscribe registers listener for topic's messages whose tag matches
// expression ("*", "" or "a || b"), consumed concurrently. listener may be
// a plain function literal:
//
//	c.Subscribe("Orders", "*", func(ctx context.Context, cc *consumer.ConcurrentContext, msgs []*message.MessageExt) consumer.ConsumeResult {
//		return consumer.ConsumeSuccess
//	})
//
// Use SubscribeOrderly for queue-ordered consumption; one consumer cannot
// mix the two (ErrMixedListeners). Subscribing after Start takes effect at
// the next rebalance.
func (c *PushConsumer) Subscribe(topic, expression string, listener ConcurrentListener) error {
	if listener == nil {
		return fmt.Errorf("%w: topic %q: nil listener", ErrInvalidOption, topic)
	}
	return c.subscribe(topic, wire.ParseSubscription(topic, expression, time.Now().UnixMilli()), listener)
}

// SubscribeOrderly registers listener for topic's messages whose tag
// matches expression, consumed one batch at a time per queue, in queue
// order, while this consumer holds the queue's broker lock. listener may be
// a plain function literal.
func (c *PushConsumer) SubscribeOrderly(topic, expression string, listener OrderlyListener) error {
	if listener == nil {
		return fmt.Errorf("%w: topic %q: nil listener", ErrInvalidOption, topic)
	}
	return c.subscribe(topic, wire.ParseSubscription(topic, expression, time.Now().UnixMilli()), listener)
}

func (c *PushConsumer) subscribe(topic string, data wire.SubscriptionData, listener Listener) error {
	if topic == "" || listener == nil {
		return fmt.Errorf("%w: topic %q, listener %v", ErrInvalidOption, topic, listener)
	}
	if err := message.ValidateTopic(topic); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidOption, err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.state == stateShutDown {
		return ErrClosed
	}
	for _, s := range c.subs {
		if s.topic != c.retry && s.listener.orderly() != listener.orderly() {
			return ErrMixedListeners
		}
	}
	c.orderly = listener.orderly()
	c.subs[topic] = &subscription{topic: topic, listener: listener, data: data}
	if c.state == stateStarted {
		c.triggerRebalance()
		c.cl.TriggerHeartbeat()
	}
	return nil
}

// SubscribeSQL92 registers listener for topic's messages whose properties
// satisfy expression, in RocketMQ's SQL92 filter language (for example
// "region = 'eu' AND amount > 100"; TAGS names the tag), consumed
// concurrently; listener may be a plain function literal. The broker
// evaluates the expression, and must run with enablePropertyFilter=true:
// otherwise pulls fail with the broker's "does not support" error.
func (c *PushConsumer) SubscribeSQL92(topic, expression string, listener ConcurrentListener) error {
	if listener == nil {
		return fmt.Errorf("%w: topic %q: nil listener", ErrInvalidOption, topic)
	}
	return c.subscribeSQL92(topic, expression, listener)
}

// SubscribeOrderlySQL92 is SubscribeSQL92 with queue-ordered consumption,
// as SubscribeOrderly is to Subscribe.
func (c *PushConsumer) SubscribeOrderlySQL92(topic, expression string, listener OrderlyListener) error {
	if listener == nil {
		return fmt.Errorf("%w: topic %q: nil listener", ErrInvalidOption, topic)
	}
	return c.subscribeSQL92(topic, expression, listener)
}

func (c *PushConsumer) subscribeSQL92(topic, expression string, listener Listener) error {
	if strings.TrimSpace(expression) == "" {
		return fmt.Errorf("%w: empty SQL92 expression", ErrInvalidOption)
	}
	return c.subscribe(topic, wire.ParseSQL92Subscription(topic, expression, time.Now().UnixMilli()), listener)
}

// Unsubscribe stops consuming topic at the next rebalance.
func (c *PushConsumer) Unsubscribe(topic string) {
	c.mu.Lock()
	delete(c.subs, topic)
	started := c.state == stateStarted
	c.mu.Unlock()
	if started {
		c.triggerRebalance()
	}
}

// Start connects, registers the group and begins consuming. It fails if a
// subscribed topic has no route.
func (c *PushConsumer) Start(ctx context.Context) error {
	c.mu.Lock()
	st, topics := c.state, c.topicList()
	c.mu.Unlock()
	switch {
	case st == stateStarted:
		return ErrStarted
	case st == stateShutDown:
		return ErrClosed
	case len(topics) == 0:
		return fmt.Errorf("%w: no subscription", ErrInvalidOption)
	}
	// Network work happens outside mu: heartbeats read the subscriptions.
	cl, err := newCluster(&c.cfg)
	if err != nil {
		return err
	}
	for _, t := range topics {
		qs, err := cl.readQueues(ctx, t, true)
		if err == nil {
			err = c.checkSubscription(ctx, cl, t, qs)
		}
		if err != nil {
			cl.release()
			return err
		}
	}
	c.mu.Lock()
	err = c.startLocked(cl)
	c.mu.Unlock()
	if err != nil {
		cl.release()
		return err
	}
	if c.cfg.trace != nil {
		// No listener runs before the owner loop starts below, so the
		// interceptor list may still change here.
		c.mu.Lock()
		err := c.startTrace()
		c.mu.Unlock()
		if err != nil {
			c.cfg.logger.Warn("message trace off", "err", err)
		}
	}
	// The retry topic's route appears once the broker saw a heartbeat;
	// read it best effort so heartbeats reach its broker too.
	_, _ = c.cl.Route(ctx, c.retry)
	if err := c.cl.SendHeartbeat(ctx); err != nil {
		c.cfg.logger.Debug("first heartbeat failed", "err", err)
	}
	if c.cfg.popMode {
		go c.popOwnerLoop()
	} else {
		go c.ownerLoop()
	}
	return nil
}

// checkSubscription has the brokers of topic vet a SQL92 subscription.
func (c *PushConsumer) checkSubscription(ctx context.Context, cl *cluster, topic string, qs []Queue) error {
	c.mu.Lock()
	s := c.subs[topic]
	c.mu.Unlock()
	if s == nil || s.data.ExpressionType != wire.ExpressionSQL92 {
		return nil
	}
	return cl.checkSubscription(ctx, c.cfg.group, s.data, qs)
}

// startLocked finishes Start with cl; c.mu held.
func (c *PushConsumer) startLocked(cl *cluster) error {
	switch c.state {
	case stateStarted:
		return ErrStarted
	case stateShutDown:
		return ErrClosed
	}
	if c.cfg.model == Clustering && !c.cfg.popMode {
		// Every clustering member also consumes its group's retry topic
		// (in POP mode the broker hands out redeliveries itself).
		sub := &subscription{topic: c.retry, data: wire.ParseSubscription(c.retry, wire.SubAll, time.Now().UnixMilli())}
		for _, s := range c.subs {
			sub.listener = s.listener
			break
		}
		c.subs[c.retry] = sub
		c.store = &remoteStore{cl: cl, group: c.cfg.group, timeout: c.cfg.requestTimeout}
	} else if c.cfg.popMode {
		c.store = &remoteStore{cl: cl, group: c.cfg.group, timeout: c.cfg.requestTimeout}
	} else {
		ls, err := newLocalStore(c.cfg.offsetDir, cl.ClientID(), c.cfg.group)
		if err != nil {
			return err
		}
		c.store = ls
	}
	if err := cl.RegisterConsumer(c.cfg.group, (*pushHandler)(c)); err != nil {
		delete(c.subs, c.retry)
		return fmt.Errorf("consumer: %w", err)
	}
	c.cl = cl
	c.ctx, c.cancel = context.WithCancel(context.Background())
	c.consumeCtx, c.consumeCancel = context.WithCancel(context.Background())
	c.pool = newPool(c.consumeCtx, c.cfg.goroutinesMin, c.cfg.goroutinesMax)
	c.stats.start = time.Now()
	// Made here, under mu, so a Shutdown racing with the end of Start
	// always has a channel to wait on.
	c.loopDone = make(chan struct{})
	c.state = stateStarted
	return nil
}

// Shutdown stops pulling, waits (up to ctx) for in-flight callbacks,
// persists every offset, releases orderly locks, leaves the group and
// joins every goroutine the consumer started. When ctx expires first,
// listeners' contexts are cancelled and Shutdown still returns only after
// its goroutines are gone (a listener ignoring its context delays it).
func (c *PushConsumer) Shutdown(ctx context.Context) error {
	if !shutDown(&c.mu, &c.state) {
		return nil
	}

	// Past ctx's deadline listeners are told to give up.
	stopAfter := context.AfterFunc(ctx, c.consumeCancel)
	defer stopAfter()
	c.cancel()
	<-c.loopDone
	// Shutdown now owns the table.
	var errs []error
	for q, run := range c.table {
		if err := c.removeQueue(ctx, q, run); err != nil {
			errs = append(errs, err)
		}
	}
	c.pullWG.Wait()
	if c.cfg.popMode {
		// Let listeners finish and settle what they took (up to ctx);
		// whatever is left comes back to the group after its invisible
		// time.
		waitUntil(ctx, func() bool { return c.popInflight.Load() == 0 })
	}
	c.consumeCancel()
	c.timers.Wait()
	if !waitUntil(ctx, func() bool { return c.pool.workers.Load() == 0 }) {
		// A listener ignores its cancelled context; its goroutine exits
		// when it returns, but Shutdown does not wait for it any longer.
		errs = append(errs, fmt.Errorf("consumer: shutdown: %d callbacks still running: %w", c.pool.workers.Load(), ctx.Err()))
	}
	pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.cfg.requestTimeout)
	defer cancel()
	if c.cfg.model == Broadcasting {
		if err := c.store.persist(pctx, nil); err != nil {
			errs = append(errs, err)
		}
	}
	if c.tracer != nil {
		// Every listener has returned: flush their records, then stop the
		// trace producer before the client it may share is released.
		c.tracer.stop(pctx)
	}
	c.cl.UnregisterConsumer(pctx, c.cfg.group)
	c.cl.release()
	return errors.Join(errs...)
}

func (c *PushConsumer) topicList() []string {
	out := make([]string, 0, len(c.subs))
	for t := range c.subs {
		out = append(out, t)
	}
	slices.Sort(out)
	return out
}

func (c *PushConsumer) triggerRebalance() {
	select {
	case c.rebalanceNow <- struct{}{}:
	default:
	}
}

// ownerLoop is the single goroutine that owns the queue table: it
// rebalances, persists offsets, renews orderly locks and expires stuck
// callbacks.
func (c *PushConsumer) ownerLoop() {
	defer close(c.loopDone)
	rb := time.NewTicker(c.cfg.rebalanceInterval)
	defer rb.Stop()
	ps := time.NewTicker(c.cfg.persistInterval)
	defer ps.Stop()
	lk := time.NewTicker(c.cfg.lockInterval)
	defer lk.Stop()
	c.rebalance(c.ctx)
	for {
		select {
		case <-c.ctx.Done():
			return
		case <-rb.C:
			c.rebalance(c.ctx)
		case <-c.rebalanceNow:
			c.rebalance(c.ctx)
		case offs := <-c.resets:
			c.resetOffsets(c.ctx, offs)
			c.rebalance(c.ctx)
		case <-ps.C:
			c.expireStuck(c.ctx)
			c.persistAll(c.ctx)
			c.stats.tick()
		case <-lk.C:
			if c.orderly && c.cfg.model == Clustering {
				c.lockAll(c.ctx)
			}
		}
	}
}

func (c *PushConsumer) persistAll(ctx context.Context) {
	qs := make([]Queue, 0, len(c.table))
	for q := range c.table {
		qs = append(qs, q)
	}
	if err := c.store.persist(ctx, qs); err != nil {
		c.cfg.logger.Debug("persist offsets", "err", err)
	}
}

// rebalance recomputes the owned queues of every subscribed topic.
func (c *PushConsumer) rebalance(ctx context.Context) {
	c.mu.Lock()
	subs := make([]*subscription, 0, len(c.subs))
	for _, s := range c.subs {
		subs = append(subs, s)
	}
	c.mu.Unlock()
	wanted := map[string]bool{}
	for _, s := range subs {
		wanted[s.topic] = true
		mine, ok := c.allocate(ctx, s.topic)
		if !ok {
			continue // keep what we have until the next round
		}
		c.applyAllocation(ctx, s, mine)
	}
	for q, run := range c.table {
		if !wanted[q.Topic] {
			if err := c.removeQueue(ctx, q, run); err != nil {
				c.cfg.logger.Debug("remove queue", "queue", q, "err", err)
			}
		}
	}
}

// allocate returns this member's queues of topic; ok is false when the
// inputs could not be read.
func (c *PushConsumer) allocate(ctx context.Context, topic string) ([]Queue, bool) {
	all, err := c.cl.readQueues(ctx, topic, false)
	if err != nil {
		c.cfg.logger.Debug("rebalance: route", "topic", topic, "err", err)
		return nil, false
	}
	if c.cfg.model == Broadcasting {
		return all, true
	}
	cids, err := c.cl.ConsumerIDs(ctx, topic, c.cfg.group)
	if err != nil || len(cids) == 0 {
		c.cfg.logger.Debug("rebalance: consumer list", "topic", topic, "err", err)
		return nil, false
	}
	mine, err := c.cfg.strategy.Allocate(c.cfg.group, c.cl.ClientID(), all, cids)
	if err != nil {
		c.cfg.logger.Debug("rebalance: allocate", "topic", topic, "err", err)
		return nil, false
	}
	return mine, true
}

func (c *PushConsumer) applyAllocation(ctx context.Context, s *subscription, mine []Queue) {
	keep := make(map[Queue]bool, len(mine))
	for _, q := range mine {
		keep[q] = true
	}
	for q, run := range c.table {
		if q.Topic == s.topic && !keep[q] {
			if err := c.removeQueue(ctx, q, run); err != nil {
				c.cfg.logger.Debug("remove queue", "queue", q, "err", err)
			}
		}
	}
	for _, q := range mine {
		if _, ok := c.table[q]; ok {
			continue
		}
		if err := c.addQueue(ctx, s, q); err != nil {
			c.cfg.logger.Debug("add queue", "queue", q, "err", err)
		}
	}
}

// addQueue locks (orderly), finds the start offset and starts pulling q.
func (c *PushConsumer) addQueue(ctx context.Context, s *subscription, q Queue) error {
	pq := newProcessQueue(q)
	if c.orderly && c.cfg.model == Clustering {
		locked, err := c.lock(ctx, q.BrokerName, q.Topic, []Queue{q})
		if err != nil {
			return err
		}
		if !slices.Contains(locked, q) {
			return fmt.Errorf("consumer: lock of %v refused", q)
		}
		pq.locked.Store(true)
		pq.lockedAt.Store(time.Now().UnixNano())
	}
	c.store.remove(q) // a stale in-memory offset from an earlier ownership
	offset, err := c.startOffset(ctx, q)
	if err != nil {
		if c.orderly && c.cfg.model == Clustering {
			c.unlock(ctx, q)
		}
		return err
	}
	if c.cfg.handover > 0 && c.cfg.model == Clustering {
		// The pull loop reads the offset again after the handover delay and
		// stores it then. Until then this member has made no progress of its
		// own, and the offset read here may be older than the one the
		// previous owner is about to commit: kept in the store, the periodic
		// persist (or a removal during the delay) would commit it over the
		// newer one, and the pull loop would read it back and consume those
		// messages again.
		c.store.remove(q)
	} else {
		c.store.update(q, offset, false)
	}
	pctx, cancel := context.WithCancel(c.ctx)
	run := &queueRun{pq: pq, sub: s, cancel: cancel, done: make(chan struct{})}
	c.tableMu.Lock()
	c.table[q] = run
	c.tableMu.Unlock()
	c.pullWG.Add(1)
	go c.pullLoop(pctx, run, offset)
	return nil
}

// startOffset is the stored offset or, for a group without one, the
// consume-from-where position (as upstream RebalancePushImpl.computePullFromWhere).
func (c *PushConsumer) startOffset(ctx context.Context, q Queue) (int64, error) {
	off, err := c.store.read(ctx, q, true)
	if err == nil && off >= 0 {
		return off, nil
	}
	if err != nil && !errors.Is(err, ErrNoOffset) {
		return 0, err
	}
	return resolveConsumeFrom(ctx, c.cl, q, c.cfg.consumeFrom, c.cfg.consumeTS)
}

func resolveConsumeFrom(ctx context.Context, cl *cluster, q Queue, from ConsumeFrom, ts time.Time) (int64, error) {
	switch {
	case strings.HasPrefix(q.Topic, RetryPrefix):
		return 0, nil
	case from == ConsumeFromFirstOffset:
		return 0, nil
	case from == ConsumeFromTimestamp:
		return searchOffset(ctx, cl, q, ts)
	}
	return maxOffset(ctx, cl, q)
}

func maxOffset(ctx context.Context, cl *cluster, q Queue) (int64, error) {
	resp, addr, err := cl.invokeQueue(ctx, q, remoting.NewRequest(remoting.GetMaxOffset,
		&remoting.GetMaxOffsetRequestHeader{Topic: q.Topic, QueueID: int32(q.QueueID), Committed: true}, nil))
	return offsetAnswer(remoting.GetMaxOffset, addr, resp, err)
}

func searchOffset(ctx context.Context, cl *cluster, q Queue, ts time.Time) (int64, error) {
	resp, addr, err := cl.invokeQueue(ctx, q, remoting.NewRequest(remoting.SearchOffsetByTimestamp,
		&remoting.SearchOffsetRequestHeader{Topic: q.Topic, QueueID: int32(q.QueueID), Timestamp: ts.UnixMilli()}, nil))
	return offsetAnswer(remoting.SearchOffsetByTimestamp, addr, resp, err)
}

func offsetAnswer(op int16, addr string, resp *remoting.Command, err error) (int64, error) {
	if err != nil {
		return 0, fmt.Errorf("consumer: %s: %w", remoting.CodeName(op, false), err)
	}
	if resp.Code != remoting.Success {
		return 0, brokerError(op, addr, resp)
	}
	var h remoting.OffsetResponseHeader
	if err := resp.DecodeHeader(&h); err != nil {
		return 0, fmt.Errorf("consumer: %s: %w", remoting.CodeName(op, false), err)
	}
	return h.Offset, nil
}

// removeQueue stops pulling q, lets its running callbacks finish (up to
// ctx), consumes the messages left below a consumed one (consumeGaps),
// persists its offset and, for orderly, unlocks it — in that order, so the
// next owner starts exactly after the last consumed message.
func (c *PushConsumer) removeQueue(ctx context.Context, q Queue, run *queueRun) error {
	pq := run.pq
	run.stopPulling()
	orderlyLocked := c.orderly && c.cfg.model == Clustering
	if c.orderly {
		// Wait for the orderly callback in flight, if any.
		if !waitUntil(ctx, pq.consumeMu.TryLock) {
			c.cfg.logger.Debug("remove queue: orderly callback still running", "queue", q)
		} else {
			defer pq.consumeMu.Unlock()
		}
	} else if waitUntil(ctx, func() bool { return pq.running.Load() == 0 }) && c.cfg.model == Clustering {
		c.consumeGaps(ctx, run)
	}
	var err error
	if c.cfg.model == Clustering {
		pq.mu.Lock()
		var off int64 = -1
		if pq.maxSeen >= 0 {
			off = pq.commitOffset()
		}
		pq.mu.Unlock()
		if off >= 0 {
			c.store.update(q, off, true)
		}
		pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.cfg.requestTimeout)
		err = c.store.persist(pctx, []Queue{q})
		if orderlyLocked {
			c.unlock(pctx, q)
		}
		cancel()
		c.store.remove(q)
	}
	pq.clear()
	c.tableMu.Lock()
	delete(c.table, q)
	c.tableMu.Unlock()
	return err
}

// resetOffsets applies a broker-initiated offset reset: each named queue
// we own stops, its offset is overwritten and persisted, and the rebalance
// that follows starts it again from there.
func (c *PushConsumer) resetOffsets(ctx context.Context, offs map[Queue]int64) {
	for q, off := range offs {
		run, ok := c.table[q]
		if !ok {
			continue
		}
		pq := run.pq
		run.stopPulling()
		waitUntil(ctx, func() bool { return pq.running.Load() == 0 })
		c.store.update(q, off, false)
		if err := c.store.persist(ctx, []Queue{q}); err != nil {
			c.cfg.logger.Debug("reset offset: persist", "queue", q, "err", err)
		}
		if c.orderly && c.cfg.model == Clustering {
			c.unlock(ctx, q)
		}
		pq.clear()
		c.tableMu.Lock()
		delete(c.table, q)
		c.tableMu.Unlock()
	}
}

// waitUntil polls cond every few milliseconds until it holds or ctx ends.
func waitUntil(ctx context.Context, cond func() bool) bool {
	if cond() {
		return true
	}
	t := time.NewTicker(5 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return cond()
		case <-t.C:
			if cond() {
				return true
			}
		}
	}
}

// sleepCtx waits d or until ctx ends; false when ctx ended.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
