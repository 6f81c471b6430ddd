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
	"github.com/rocketgo/rocketgo/trace"
)

// PullStatus is the outcome of PullFrom.
type PullStatus int

const (
	// PullFound: messages were returned.
	PullFound PullStatus = iota
	// PullNoNewMessage: the offset is at the queue's end.
	PullNoNewMessage
	// PullNoMatchedMessage: messages exist but none matched the filter.
	PullNoMatchedMessage
	// PullOffsetIllegal: the offset is outside the queue; use NextOffset.
	PullOffsetIllegal
)

// PullResult is one PullFrom answer.
type PullResult struct {
	Status     PullStatus
	NextOffset int64 // where to pull next
	MinOffset  int64 // the queue's first offset
	MaxOffset  int64 // the queue's next offset to be written
	Messages   []*message.MessageExt
}

// LitePullConsumer fetches messages in the background and hands them out
// through Poll. Queues come from Subscribe (the group rebalances them) or
// from Assign (fixed). Consumed offsets are committed by CommitSync or,
// by default, automatically every 5 s.
type LitePullConsumer struct {
	cfg config

	mu       sync.Mutex
	subs     map[string]*subscription
	assigned []Queue
	mode     int // 0 none, 1 Subscribe, 2 Assign
	state    lifecycle

	cl    *cluster
	store offsetStore

	ctx      context.Context
	cancel   context.CancelFunc
	loopDone chan struct{}
	pullWG   sync.WaitGroup

	qmu    sync.RWMutex
	queues map[Queue]*liteQueue

	buf       chan *liteBatch
	buffered  atomic.Int64
	rebalance chan struct{}

	tracer *tracer // nil unless WithTrace; set by Start under mu
}

// liteQueue is one fetched queue.
type liteQueue struct {
	q   Queue
	sub *subscription

	mu         sync.Mutex
	pullOffset int64  // next offset to fetch
	consumed   int64  // offset after the last polled message
	gen        uint64 // bumped by Seek; older batches are stale
	buffered   int    // messages of this queue waiting in buf
	pullCancel context.CancelFunc
	removed    bool

	cancel context.CancelFunc
	done   chan struct{}
}

type liteBatch struct {
	lq   *liteQueue
	gen  uint64
	msgs []*message.MessageExt
}

// NewLitePull returns a lite-pull consumer; call Subscribe or Assign, then
// Start.
func NewLitePull(opts ...Option) (*LitePullConsumer, error) {
	cfg := defaultConfig()
	for _, o := range opts {
		o(&cfg)
	}
	if err := cfg.validate(true); err != nil {
		return nil, err
	}
	return &LitePullConsumer{
		cfg:       cfg,
		subs:      map[string]*subscription{},
		queues:    map[Queue]*liteQueue{},
		buf:       make(chan *liteBatch, max(cfg.thresholdAll/cfg.pullBatchSize, 1)+64),
		rebalance: make(chan struct{}, 1),
	}, nil
}

// Subscribe consumes topic's messages matching expression; the group's
// members share its queues. It cannot be mixed with Assign.
func (c *LitePullConsumer) Subscribe(topic, expression string) error {
	return c.subscribe(topic, wire.ParseSubscription(topic, expression, time.Now().UnixMilli()))
}

// SubscribeSQL92 consumes topic's messages whose properties satisfy a SQL92
// expression, evaluated by the broker (see PushConsumer.SubscribeSQL92).
func (c *LitePullConsumer) SubscribeSQL92(topic, expression string) error {
	if strings.TrimSpace(expression) == "" {
		return fmt.Errorf("%w: empty SQL92 expression", ErrInvalidOption)
	}
	return c.subscribe(topic, wire.ParseSQL92Subscription(topic, expression, time.Now().UnixMilli()))
}

func (c *LitePullConsumer) subscribe(topic string, data wire.SubscriptionData) error {
	if err := message.ValidateTopic(topic); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidOption, err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.state == stateShutDown {
		return ErrClosed
	}
	if c.mode == 2 {
		return fmt.Errorf("%w: Subscribe after Assign", ErrInvalidOption)
	}
	c.mode = 1
	c.subs[topic] = &subscription{topic: topic, data: data}
	if c.state == stateStarted {
		select {
		case c.rebalance <- struct{}{}:
		default:
		}
	}
	return nil
}

// Assign fetches exactly qs, with no group rebalancing. Calling it again
// replaces the assignment.
func (c *LitePullConsumer) Assign(qs []Queue) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.state == stateShutDown {
		return ErrClosed
	}
	if c.mode == 1 {
		return fmt.Errorf("%w: Assign after Subscribe", ErrInvalidOption)
	}
	c.mode = 2
	c.assigned = slices.Clone(qs)
	for _, q := range qs {
		if _, ok := c.subs[q.Topic]; !ok {
			c.subs[q.Topic] = &subscription{topic: q.Topic, data: wire.ParseSubscription(q.Topic, wire.SubAll, time.Now().UnixMilli())}
		}
	}
	if c.state == stateStarted {
		select {
		case c.rebalance <- struct{}{}:
		default:
		}
	}
	return nil
}

// Start connects and begins fetching.
func (c *LitePullConsumer) Start(ctx context.Context) error {
	c.mu.Lock()
	if c.state != stateNew {
		st := c.state
		c.mu.Unlock()
		if st == stateStarted {
			return ErrStarted
		}
		return ErrClosed
	}
	cl, err := newCluster(&c.cfg)
	if err != nil {
		c.mu.Unlock()
		return err
	}
	if c.cfg.model == Clustering {
		c.store = &remoteStore{cl: cl, group: c.cfg.group, timeout: c.cfg.requestTimeout}
	} else {
		ls, err := newLocalStore(c.cfg.offsetDir, cl.ClientID(), c.cfg.group)
		if err != nil {
			c.mu.Unlock()
			cl.release()
			return err
		}
		c.store = ls
	}
	if err := cl.RegisterConsumer(c.cfg.group, (*liteHandler)(c)); err != nil {
		c.mu.Unlock()
		cl.release()
		return fmt.Errorf("consumer: %w", err)
	}
	c.cl = cl
	if c.cfg.trace != nil {
		// A consumer without its trace still consumes: tracing must never
		// fail the traced client.
		if t, err := newTracer(&c.cfg, cl); err != nil {
			c.cfg.logger.Warn("message trace off", "err", err)
		} else {
			c.tracer = t
		}
	}
	c.ctx, c.cancel = context.WithCancel(context.Background())
	c.loopDone = make(chan struct{})
	c.state = stateStarted
	topics := make([]string, 0, len(c.subs))
	for t := range c.subs {
		topics = append(topics, t)
	}
	c.mu.Unlock()
	for _, t := range topics {
		_, _ = cl.Route(ctx, t)
	}
	_ = cl.SendHeartbeat(ctx)
	go c.ownerLoop()
	return nil
}

// Shutdown stops fetching, commits what was polled (with auto-commit, or
// always for the in-memory offsets already committed) and releases the
// client.
func (c *LitePullConsumer) Shutdown(ctx context.Context) error {
	if !shutDown(&c.mu, &c.state) {
		return nil
	}
	c.cancel()
	<-c.loopDone
	var errs []error
	for _, lq := range c.snapshotQueues() {
		if err := c.removeQueue(ctx, lq); err != nil {
			errs = append(errs, err)
		}
	}
	c.pullWG.Wait()
	if c.cfg.model == Broadcasting {
		errs = append(errs, c.store.persist(ctx, nil))
	}
	if c.tracer != nil {
		// Flush the records of every Poll, then stop the trace producer
		// before the client it may share is released.
		c.tracer.stop(ctx)
	}
	uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.cfg.requestTimeout)
	c.cl.UnregisterConsumer(uctx, c.cfg.group)
	cancel()
	c.cl.release()
	return errors.Join(errs...)
}

func (c *LitePullConsumer) snapshotQueues() []*liteQueue {
	c.qmu.RLock()
	defer c.qmu.RUnlock()
	out := make([]*liteQueue, 0, len(c.queues))
	for _, lq := range c.queues {
		out = append(out, lq)
	}
	return out
}

// ownerLoop owns the queue table: it rebalances (or applies Assign) and
// auto-commits.
func (c *LitePullConsumer) ownerLoop() {
	defer close(c.loopDone)
	rb := time.NewTicker(c.cfg.rebalanceInterval)
	defer rb.Stop()
	ac := time.NewTicker(c.cfg.autoCommitInterval)
	defer ac.Stop()
	c.doRebalance(c.ctx)
	for {
		select {
		case <-c.ctx.Done():
			return
		case <-rb.C:
			c.doRebalance(c.ctx)
		case <-c.rebalance:
			c.doRebalance(c.ctx)
		case <-ac.C:
			if c.cfg.autoCommit {
				if err := c.commit(c.ctx); err != nil {
					c.cfg.logger.Debug("auto commit", "err", err)
				}
			}
		}
	}
}

func (c *LitePullConsumer) doRebalance(ctx context.Context) {
	c.mu.Lock()
	assigned := slices.Clone(c.assigned)
	subs := make([]*subscription, 0, len(c.subs))
	for _, s := range c.subs {
		subs = append(subs, s)
	}
	c.mu.Unlock()
	want := map[Queue]*subscription{}
	c.mu.Lock()
	assignMode := c.mode == 2
	c.mu.Unlock()
	if assignMode {
		for _, q := range assigned {
			for _, s := range subs {
				if s.topic == q.Topic {
					want[q] = s
				}
			}
		}
	} else {
		for _, s := range subs {
			all, err := c.cl.readQueues(ctx, s.topic, false)
			if err != nil {
				continue
			}
			mine := all
			if c.cfg.model == Clustering {
				cids, err := c.cl.ConsumerIDs(ctx, s.topic, c.cfg.group)
				if err != nil || len(cids) == 0 {
					c.keepTopic(s.topic, want, s)
					continue
				}
				if mine, err = c.cfg.strategy.Allocate(c.cfg.group, c.cl.ClientID(), all, cids); err != nil {
					c.keepTopic(s.topic, want, s)
					continue
				}
			}
			for _, q := range mine {
				want[q] = s
			}
		}
	}
	for _, lq := range c.snapshotQueues() {
		if _, ok := want[lq.q]; !ok {
			if err := c.removeQueue(ctx, lq); err != nil {
				c.cfg.logger.Debug("remove queue", "queue", lq.q, "err", err)
			}
		}
	}
	for q, s := range want {
		c.qmu.RLock()
		_, ok := c.queues[q]
		c.qmu.RUnlock()
		if ok {
			continue
		}
		if err := c.addQueue(ctx, q, s); err != nil {
			c.cfg.logger.Debug("add queue", "queue", q, "err", err)
		}
	}
}

// keepTopic keeps the current queues of topic when its allocation could
// not be computed this round.
func (c *LitePullConsumer) keepTopic(topic string, want map[Queue]*subscription, s *subscription) {
	for _, lq := range c.snapshotQueues() {
		if lq.q.Topic == topic {
			want[lq.q] = s
		}
	}
}

func (c *LitePullConsumer) addQueue(ctx context.Context, q Queue, s *subscription) error {
	off, err := c.store.read(ctx, q, true)
	if err != nil || off < 0 {
		if err != nil && !errors.Is(err, ErrNoOffset) {
			return err
		}
		if off, err = resolveConsumeFrom(ctx, c.cl, q, c.cfg.consumeFrom, c.cfg.consumeTS); err != nil {
			return err
		}
	}
	c.store.update(q, off, false)
	pctx, cancel := context.WithCancel(c.ctx)
	lq := &liteQueue{q: q, sub: s, pullOffset: off, consumed: off, cancel: cancel, done: make(chan struct{})}
	c.qmu.Lock()
	c.queues[q] = lq
	c.qmu.Unlock()
	c.pullWG.Add(1)
	go c.fetchLoop(pctx, lq)
	return nil
}

// removeQueue stops fetching lq and commits what was polled from it.
func (c *LitePullConsumer) removeQueue(ctx context.Context, lq *liteQueue) error {
	lq.mu.Lock()
	lq.removed = true
	consumed := lq.consumed
	lq.mu.Unlock()
	lq.cancel()
	<-lq.done
	c.qmu.Lock()
	delete(c.queues, lq.q)
	c.qmu.Unlock()
	var err error
	if c.cfg.model == Clustering {
		if c.cfg.autoCommit {
			c.store.update(lq.q, consumed, true)
		}
		pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.cfg.requestTimeout)
		err = c.store.persist(pctx, []Queue{lq.q})
		cancel()
		c.store.remove(lq.q)
	}
	return err
}

// fetchLoop pulls lq into the shared buffer until its context ends.
func (c *LitePullConsumer) fetchLoop(ctx context.Context, lq *liteQueue) {
	defer c.pullWG.Done()
	defer close(lq.done)
	req := &pullRequest{group: c.cfg.group, q: lq.q, max: c.cfg.pullBatchSize,
		suspend: c.cfg.brokerSuspend, expression: lq.sub.data.SubString, exprType: lq.sub.data.ExpressionType, commit: -1}
	for ctx.Err() == nil {
		lq.mu.Lock()
		full := lq.buffered >= c.cfg.thresholdQueue
		offset, gen := lq.pullOffset, lq.gen
		pctx, pcancel := context.WithCancel(ctx)
		lq.pullCancel = pcancel
		lq.mu.Unlock()
		if full || c.buffered.Load() >= int64(c.cfg.thresholdAll) {
			pcancel()
			if !sleepCtx(ctx, c.cfg.flowBackoff) {
				return
			}
			continue
		}
		req.offset = offset
		res, err := pullOnce(pctx, c.cl, req)
		pcancel()
		if ctx.Err() != nil {
			return
		}
		lq.mu.Lock()
		stale := lq.gen != gen
		lq.mu.Unlock()
		if stale {
			continue // a Seek moved the queue while we pulled
		}
		if err != nil {
			c.cfg.logger.Debug("pull failed", "queue", lq.q, "err", err)
			c.cl.TriggerHeartbeat()
			if !sleepCtx(ctx, c.cfg.pullBackoff) {
				return
			}
			continue
		}
		var msgs []*message.MessageExt
		if res.code == remoting.Success {
			msgs = prepare(res.msgs, lq.sub, lq.q.BrokerName, RetryPrefix+c.cfg.group)
		}
		lq.mu.Lock()
		if lq.gen != gen {
			lq.mu.Unlock()
			continue
		}
		lq.pullOffset = res.next
		if len(msgs) == 0 && lq.buffered == 0 && lq.consumed < res.next && res.code != remoting.PullOffsetMoved {
			// Nothing to hand out: filtered or absent messages count as
			// consumed, so commits move past them.
			lq.consumed = res.next
		}
		if res.code == remoting.PullOffsetMoved {
			lq.consumed = res.next
		}
		lq.buffered += len(msgs)
		lq.mu.Unlock()
		if res.stalled && !sleepCtx(ctx, c.cfg.pullBackoff) {
			return
		}
		if len(msgs) == 0 {
			continue
		}
		if len(c.cl.receives) > 0 {
			c.cl.received(c.cfg.group, "", msgs)
		}
		c.buffered.Add(int64(len(msgs)))
		select {
		case c.buf <- &liteBatch{lq: lq, gen: gen, msgs: msgs}:
		case <-ctx.Done():
			return
		}
	}
}

// Poll returns the next batch of fetched messages, waiting until one is
// available or ctx ends (then it returns ctx's error). Messages of one
// queue come in offset order.
func (c *LitePullConsumer) Poll(ctx context.Context) ([]*message.MessageExt, error) {
	c.mu.Lock()
	st := c.state
	c.mu.Unlock()
	switch st {
	case stateNew:
		return nil, ErrNotStarted
	case stateShutDown:
		return nil, ErrClosed
	}
	for {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-c.ctx.Done():
			return nil, ErrClosed
		case b := <-c.buf:
			c.buffered.Add(-int64(len(b.msgs)))
			lq := b.lq
			lq.mu.Lock()
			lq.buffered -= len(b.msgs)
			if lq.removed || lq.gen != b.gen {
				lq.mu.Unlock()
				continue
			}
			lq.consumed = b.msgs[len(b.msgs)-1].QueueOffset + 1
			consumed := lq.consumed
			lq.mu.Unlock()
			if c.cfg.autoCommit {
				c.store.update(lq.q, consumed, true)
			}
			if c.tracer != nil {
				c.tracer.polled(b.msgs)
			}
			return b.msgs, nil
		}
	}
}

// TraceStats returns the trace dispatcher's counters, all zero when
// tracing is off or the consumer has not started.
func (c *LitePullConsumer) TraceStats() trace.Stats {
	c.mu.Lock()
	t := c.tracer
	c.mu.Unlock()
	if t == nil {
		return trace.Stats{}
	}
	return t.d.Stats()
}

// Seek makes the next messages of q start at offset; batches fetched
// before the call are discarded.
func (c *LitePullConsumer) Seek(q Queue, offset int64) error {
	c.qmu.RLock()
	lq, ok := c.queues[q]
	c.qmu.RUnlock()
	if !ok {
		return fmt.Errorf("%w: %v", ErrNotAssigned, q)
	}
	lq.mu.Lock()
	lq.gen++
	lq.pullOffset, lq.consumed = offset, offset
	if lq.pullCancel != nil {
		lq.pullCancel() // abandon a long poll at the old offset
	}
	lq.mu.Unlock()
	c.store.update(q, offset, false)
	return nil
}

// SeekToBegin seeks q to its first offset.
func (c *LitePullConsumer) SeekToBegin(ctx context.Context, q Queue) error {
	return c.Seek(q, 0)
}

// SeekToEnd seeks q to its end.
func (c *LitePullConsumer) SeekToEnd(ctx context.Context, q Queue) error {
	off, err := maxOffset(ctx, c.cl, q)
	if err != nil {
		return err
	}
	return c.Seek(q, off)
}

// OffsetForTimestamp returns the first offset of q stored at or after t.
func (c *LitePullConsumer) OffsetForTimestamp(ctx context.Context, q Queue, t time.Time) (int64, error) {
	if c.cl == nil {
		return 0, ErrNotStarted
	}
	return searchOffset(ctx, c.cl, q, t)
}

// Assignment lists the queues currently fetched.
func (c *LitePullConsumer) Assignment() []Queue {
	c.qmu.RLock()
	defer c.qmu.RUnlock()
	out := make([]Queue, 0, len(c.queues))
	for q := range c.queues {
		out = append(out, q)
	}
	slices.SortFunc(out, Queue.Compare)
	return out
}

// Committed returns the offset stored on the broker for q.
func (c *LitePullConsumer) Committed(ctx context.Context, q Queue) (int64, error) {
	if c.cl == nil {
		return 0, ErrNotStarted
	}
	return c.store.read(ctx, q, true)
}

// CommitSync stores the offsets of everything polled so far.
func (c *LitePullConsumer) CommitSync(ctx context.Context) error {
	c.mu.Lock()
	st := c.state
	c.mu.Unlock()
	if st != stateStarted {
		return ErrNotStarted
	}
	return c.commit(ctx)
}

func (c *LitePullConsumer) commit(ctx context.Context) error {
	qs := []Queue{}
	for _, lq := range c.snapshotQueues() {
		lq.mu.Lock()
		consumed := lq.consumed
		lq.mu.Unlock()
		c.store.update(lq.q, consumed, true)
		qs = append(qs, lq.q)
	}
	return c.store.persist(ctx, qs)
}

// PullFrom reads up to max messages of q from offset, without waiting for
// new ones and without touching the consumer's offsets — the low-level
// pull. The consumer must be started.
func (c *LitePullConsumer) PullFrom(ctx context.Context, q Queue, offset int64, max int) (*PullResult, error) {
	if c.cl == nil {
		return nil, ErrNotStarted
	}
	if max < 1 || max > 1024 {
		return nil, fmt.Errorf("%w: max = %d", ErrInvalidOption, max)
	}
	sub := &subscription{topic: q.Topic, data: wire.ParseSubscription(q.Topic, wire.SubAll, 0)}
	c.mu.Lock()
	if s, ok := c.subs[q.Topic]; ok {
		sub.data = s.data
	}
	c.mu.Unlock()
	res, err := pullOnce(ctx, c.cl, &pullRequest{group: c.cfg.group, q: q, offset: offset, max: max, commit: -1,
		expression: sub.data.SubString, exprType: sub.data.ExpressionType})
	if err != nil {
		return nil, err
	}
	out := &PullResult{NextOffset: res.next, MinOffset: res.minOffset, MaxOffset: res.maxOffset}
	switch res.code {
	case remoting.Success:
		out.Status = PullFound
		out.Messages = prepare(res.msgs, sub, q.BrokerName, RetryPrefix+c.cfg.group)
		if len(c.cl.receives) > 0 {
			c.cl.received(c.cfg.group, "", out.Messages)
		}
	case remoting.PullNotFound:
		out.Status = PullNoNewMessage
	case remoting.PullRetryImmediately:
		out.Status = PullNoMatchedMessage
	case remoting.PullOffsetMoved:
		out.Status = PullOffsetIllegal
	}
	return out, nil
}

// liteHandler is the lite-pull consumer as the shared client sees it.
type liteHandler LitePullConsumer

// ConsumerData describes the group for heartbeats.
func (h *liteHandler) ConsumerData() wire.ConsumerData {
	c := (*LitePullConsumer)(h)
	c.mu.Lock()
	defer c.mu.Unlock()
	cd := wire.ConsumerData{GroupName: c.cfg.group, ConsumeType: wire.ConsumeActively,
		MessageModel: c.cfg.model.String(), ConsumeFromWhere: c.cfg.consumeFrom.wire()}
	for _, s := range c.subs {
		cd.SubscriptionDataSet = append(cd.SubscriptionDataSet, s.data)
	}
	return cd
}

// HandleRequest rebalances on NOTIFY_CONSUMER_IDS_CHANGED.
func (h *liteHandler) HandleRequest(_ context.Context, _ string, req *remoting.Command) *remoting.Command {
	c := (*LitePullConsumer)(h)
	if req.Code == remoting.NotifyConsumerIDsChanged {
		select {
		case c.rebalance <- struct{}{}:
		default:
		}
		return nil
	}
	return remoting.NewResponse(req, remoting.RequestCodeNotSupported, "not supported by a lite-pull consumer")
}
