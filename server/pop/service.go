// Package pop is the broker side of RocketMQ 5.x POP consumption: a
// consumer pops messages from any queue of a topic, they stay invisible to
// the rest of its group for an invisible time, and come back — to the
// POP retry topic, with their reconsume count raised, and to the group's
// DLQ once it is used up — unless the consumer acknowledges them first or
// changes their invisible time. No client-side rebalance is involved, so a
// group may have more consumers than queues.
//
// The bookkeeping (checkpoints of popped, unacknowledged offsets and the
// pop offset of every queue) lives in memory and in a journal in the store
// directory (see journal), synced as the store's flush mode asks, so a
// restarted broker keeps what was acknowledged acknowledged and brings
// back what was not.
//
// The broker calls into the package through Service's remoting processors
// (ProcessPop, ProcessAck, ProcessBatchAck, ProcessChangeInvisibleTime), Arrived
// for new messages, and Close; the package asks the broker for topics,
// groups and offsets through the Broker interface.
package pop

import (
	"container/heap"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/netip"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/rocketgo/rocketgo/message"
	"github.com/rocketgo/rocketgo/remoting"
	"github.com/rocketgo/rocketgo/remoting/wire"
	"github.com/rocketgo/rocketgo/server/store"
)

// Limits of a POP request (upstream: at most 32 messages per pop).
const (
	MaxPopMessages   = 32
	MaxInvisibleTime = 7 * 24 * time.Hour
	MaxPollTime      = 60 * time.Second
	maxPopBytes      = 8 << 20
)

// Errors the service reports; the remoting processors map them onto
// response codes.
var (
	ErrClosed = errors.New("pop: service closed")
	// ErrHandleExpired: the receipt handle's invisible time has passed and
	// the message was (or is being) put back for redelivery.
	ErrHandleExpired = errors.New("pop: receipt handle expired")
	// ErrHandleUnknown: the handle names no message this broker handed out.
	ErrHandleUnknown = errors.New("pop: receipt handle names no popped message")
	ErrBadRequest    = errors.New("pop: bad request")
	ErrTopicNotExist = errors.New("pop: topic does not exist")
	ErrGroupNotExist = errors.New("pop: subscription group does not exist")
	ErrNotServing    = errors.New("pop: broker does not serve POP in its current role")
)

// Store is the part of the message store POP reads and writes.
type Store interface {
	GetMatching(topic string, queueID int32, offset int64, maxCount, maxBytes int, filter store.Filter) (*store.GetResult, error)
	MinOffset(topic string, queueID int32) int64
	MaxOffset(topic string, queueID int32) int64
	Append(ctx context.Context, m *message.StoredMessage) (store.AppendResult, error)
}

// Broker is what POP asks of the broker it runs in.
type Broker interface {
	// ReadQueues is the number of read queues of topic; ok is false when
	// the topic does not exist or is not readable.
	ReadQueues(topic string) (queues int, ok bool)
	// Group is the group's retry policy; ok is false for an unknown group.
	Group(group string) (maxReconsumeTimes, retryQueues int, ok bool)
	// EnsureTopic creates an internal topic (POP retry, DLQ) if absent.
	EnsureTopic(topic string, queues int) error
	// ConsumerOffset is the group's committed offset of a queue, where a
	// queue it never popped starts.
	ConsumerOffset(group, topic string, queueID int32) (int64, bool)
	// CommitOffset records pop progress as the group's consumer offset,
	// so consume-progress tools see POP groups as upstream shows them.
	CommitOffset(group, topic string, queueID int32, offset int64)
	// Serving reports whether this broker may hand out and revive
	// messages now (a master; a slave only replicates).
	Serving() bool
}

// Config names the broker and where the journal lives.
type Config struct {
	Dir        string         // directory of the journal (created)
	BrokerName string         // written into receipt handles
	StoreHost  netip.AddrPort // store host of revived messages
	SyncFlush  bool           // fsync every change before answering (flushDiskType SYNC_FLUSH)
}

// Option tunes a Service.
type Option func(*options)

type options struct {
	logger         *slog.Logger
	clock          func() time.Time
	reviveInterval time.Duration
	flushInterval  time.Duration
	compactSize    int64
	maxParked      int
}

// WithLogger sets the logger. Default: discard.
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.logger = l } }

// WithClock replaces time.Now, for tests.
func WithClock(now func() time.Time) Option { return func(o *options) { o.clock = now } }

// WithReviveInterval is how often expired checkpoints are looked for, so
// the upper bound of how late past its invisible time a message comes
// back. Default 200ms (upstream's revive service scans about every second).
func WithReviveInterval(d time.Duration) Option {
	return func(o *options) { o.reviveInterval = d }
}

// WithFlushInterval is how often the journal is synced under ASYNC_FLUSH
// (the store's own default flush interval is 500ms). Default 500ms.
func WithFlushInterval(d time.Duration) Option {
	return func(o *options) { o.flushInterval = d }
}

// WithCompactSize is the journal size past which it is rewritten with
// only the live state. Default 64 MiB.
func WithCompactSize(n int64) Option { return func(o *options) { o.compactSize = n } }

// WithMaxParked caps the POP requests held for long polling; more get
// POLLING_FULL (upstream maxPopPollingSize is 100000). Default 10000.
func WithMaxParked(n int) Option { return func(o *options) { o.maxParked = n } }

// queueKey names one queue as popped by one group.
type queueKey struct {
	group, topic string
	queueID      int32
}

// ckKey names a checkpoint: where in its queue the pop started and when.
type ckKey struct {
	queueKey
	start, popTime int64
}

// checkpoint is one pop's unacknowledged offsets of one queue.
type checkpoint struct {
	ckKey
	invisible int64 // ms
	reviveQid int32
	offsets   []int64
	acked     []bool
	open      int   // offsets not acked
	order     bool  // an orderly (FIFO) pop's: holds its queue (see order.go)
	due       int64 // ms when the revive loop takes it (deadline, later after a failed revive)
	idx       int   // position in the due heap
}

func (c *checkpoint) deadline() int64 { return c.popTime + c.invisible }

func (c *checkpoint) indexOf(off int64) int {
	for i, o := range c.offsets {
		if o == off {
			return i
		}
	}
	return -1
}

// Service serves POP for one broker.
type Service struct {
	cfg    Config
	opt    options
	store  Store
	broker Broker
	log    *slog.Logger

	mu      sync.Mutex // guards offsets, cks, due, rotation and journal order
	offsets map[queueKey]int64
	cks     map[ckKey]*checkpoint
	orders  map[queueKey]*orderInfo
	due     dueHeap
	turn    uint64
	rec     recordWriter

	jrnl    *journal
	polls   *pollers
	quit    chan struct{}
	wg      sync.WaitGroup
	closeMu sync.Mutex
	closed  bool

	// Parked POP and NOTIFICATION requests end on pollStop (StopPolling)
	// and are counted by parked, so the broker can answer them while its
	// connections are still open.
	pollStop     chan struct{}
	parked       sync.WaitGroup
	pollsStopped bool // guarded by closeMu
}

// New opens the journal in cfg.Dir, replays it and starts the revive and
// flush loops. Close stops them.
func New(cfg Config, st Store, b Broker, opts ...Option) (*Service, error) {
	o := options{
		logger:         slog.New(slog.NewTextHandler(io.Discard, nil)),
		clock:          time.Now,
		reviveInterval: 200 * time.Millisecond,
		flushInterval:  500 * time.Millisecond,
		compactSize:    64 << 20,
		maxParked:      10000,
	}
	for _, fn := range opts {
		if fn != nil {
			fn(&o)
		}
	}
	if cfg.Dir == "" {
		return nil, fmt.Errorf("pop: %w: no journal directory", ErrBadRequest)
	}
	s := &Service{
		cfg: cfg, opt: o, store: st, broker: b,
		log:     o.logger.With("component", "pop"),
		offsets: make(map[queueKey]int64),
		cks:     make(map[ckKey]*checkpoint),
		orders:  make(map[queueKey]*orderInfo),
		quit:    make(chan struct{}),

		pollStop: make(chan struct{}),
	}
	s.polls = newPollers(o.maxParked)
	j, err := openJournal(filepath.Clean(cfg.Dir), s.apply)
	if err != nil {
		return nil, err
	}
	s.jrnl = j
	heap.Init(&s.due)
	s.log.Info("pop journal replayed", "checkpoints", len(s.cks), "queues", len(s.offsets))
	s.wg.Add(1)
	go s.reviveLoop()
	if !cfg.SyncFlush {
		s.wg.Add(1)
		go s.flushLoop()
	}
	return s, nil
}

// Close answers parked pops, stops the loops and syncs and closes the
// journal.
func (s *Service) Close() error { return s.stop(true) }

// Abandon stops like a crashed process would: goroutines end and the
// journal is closed without a final sync (what was written stays in the
// page cache, as after a process crash). For the broker's Kill.
func (s *Service) Abandon() { s.stop(false) }

// StopPolling answers every parked POP (POLLING_TIMEOUT) and NOTIFICATION
// (hasMsg false) and returns once they are answered; requests arriving
// later are not parked. The broker calls it before closing its
// connections; Close does it too.
func (s *Service) StopPolling() {
	s.closeMu.Lock()
	if !s.pollsStopped {
		s.pollsStopped = true
		close(s.pollStop)
	}
	s.closeMu.Unlock()
	s.parked.Wait()
}

func (s *Service) stop(syncJournal bool) error {
	s.StopPolling()
	s.closeMu.Lock()
	if s.closed {
		s.closeMu.Unlock()
		return nil
	}
	s.closed = true
	close(s.quit)
	s.closeMu.Unlock()
	s.wg.Wait()
	if !syncJournal {
		s.jrnl.abandon()
		return nil
	}
	return s.jrnl.close()
}

func (s *Service) nowMs() int64 { return s.opt.clock().UnixMilli() }

// commit makes the records up to seq durable when the flush mode says so.
func (s *Service) commit(seq uint64) error {
	if !s.cfg.SyncFlush || seq == 0 {
		return nil
	}
	return s.jrnl.sync(seq)
}

func (s *Service) flushLoop() {
	defer s.wg.Done()
	t := time.NewTicker(s.opt.flushInterval)
	defer t.Stop()
	for {
		select {
		case <-s.quit:
			return
		case <-t.C:
			if err := s.jrnl.syncAll(); err != nil {
				s.log.Error("pop journal sync failed", "err", err)
			}
		}
	}
}

// PopRequest is one POP_MESSAGE as the service sees it.
type PopRequest struct {
	Group, Topic string
	QueueID      int32 // -1: any queue
	MaxMessages  int
	Invisible    time.Duration
	InitMode     int32
	Filter       wire.SubscriptionData
	// Order asks for orderly (FIFO) POP: a queue hands out its next
	// messages only once the ones it handed out before are acknowledged
	// or expired. Groups the broker knows as orderly (OrderedGroups) pop
	// in order whatever the request says.
	Order bool
}

// OrderedGroups may be implemented by a Broker whose subscription groups
// can be configured orderly (consumeMessageOrderly): their pops are
// orderly even when the request does not ask.
type OrderedGroups interface {
	GroupOrderly(group string) bool
}

// PopResult is what a pop handed out: the stored records ready for the
// reply body and the header describing them.
type PopResult struct {
	Body   []byte
	Count  int
	Header remoting.PopMessageResponseHeader
}

// validate checks a request against the topic and group.
func (s *Service) validate(r *PopRequest) (queues int, err error) {
	if !s.broker.Serving() {
		return 0, ErrNotServing
	}
	if r.MaxMessages < 1 || r.MaxMessages > MaxPopMessages {
		return 0, fmt.Errorf("%w: maxMsgNums %d not in [1, %d]", ErrBadRequest, r.MaxMessages, MaxPopMessages)
	}
	if r.Invisible <= 0 || r.Invisible > MaxInvisibleTime {
		return 0, fmt.Errorf("%w: invisibleTime %v not in (0, %v]", ErrBadRequest, r.Invisible, MaxInvisibleTime)
	}
	n, ok := s.broker.ReadQueues(r.Topic)
	if !ok {
		return 0, fmt.Errorf("%w: %s", ErrTopicNotExist, r.Topic)
	}
	if r.QueueID >= int32(n) || r.QueueID < -1 {
		return 0, fmt.Errorf("%w: queueId %d of topic %s with %d read queues", ErrBadRequest, r.QueueID, r.Topic, n)
	}
	if _, _, ok := s.broker.Group(r.Group); !ok {
		return 0, fmt.Errorf("%w: %s", ErrGroupNotExist, r.Group)
	}
	if og, ok := s.broker.(OrderedGroups); ok && !r.Order && og.GroupOrderly(r.Group) {
		r.Order = true
	}
	return n, nil
}

// Pop hands out up to r.MaxMessages messages from the topic's queues and
// its POP retry topic, recording a checkpoint per queue read. A result
// with Count 0 means nothing was there.
func (s *Service) Pop(r *PopRequest) (*PopResult, error) {
	queues, err := s.validate(r)
	if err != nil {
		return nil, err
	}
	retryTopic := remoting.PopRetryTopic(r.Topic, r.Group)
	retryQueues, _ := s.broker.ReadQueues(retryTopic)

	var f store.Filter
	if !r.Filter.MatchAll() {
		f.TagsCode = r.Filter.MatchesCode
	}
	res := &PopResult{}
	var start, offs []byte
	var lastSeq uint64
	var rest int64

	s.mu.Lock()
	popTime := s.nowMs()
	s.turn++
	turn := s.turn
	// Redeliveries first on every fifth pop, so a busy topic cannot starve
	// its retry topic (upstream draws popFromRetryProbability, 20%).
	retryFirst := turn%5 == 0
	if r.Order {
		// Order pops redeliver in place (order.go); the retry topic is
		// not theirs.
		retryQueues, retryFirst = 0, false
	}
	readTopic := func(topic string, n int, rewrite bool) error {
		if n <= 0 {
			return nil
		}
		first := int(turn % uint64(n))
		for i := 0; i < n && res.Count < r.MaxMessages; i++ {
			qid := int32((first + i) % n)
			if topic == r.Topic && r.QueueID >= 0 {
				if i > 0 {
					break
				}
				qid = r.QueueID
			}
			seq, more, err := s.popQueueLocked(r, topic, qid, popTime, f, rewrite, res, &start, &offs)
			if err != nil {
				return err
			}
			rest += more
			lastSeq = max(lastSeq, seq)
		}
		return nil
	}
	if retryFirst {
		err = readTopic(retryTopic, retryQueues, true)
	}
	if err == nil {
		err = readTopic(r.Topic, queues, false)
	}
	if err == nil && !retryFirst {
		err = readTopic(retryTopic, retryQueues, true)
	}
	// One write for the records of every queue read.
	if ferr := s.jrnl.flush(); err == nil && ferr != nil {
		err = ferr
	}
	s.mu.Unlock()
	if err != nil {
		return nil, err
	}
	if err := s.commit(lastSeq); err != nil {
		return nil, err
	}
	res.Header = remoting.PopMessageResponseHeader{
		PopTime:         popTime,
		InvisibleTime:   r.Invisible.Milliseconds(),
		ReviveQid:       reviveQidOf(r.Order),
		RestNum:         rest,
		StartOffsetInfo: string(start),
		MsgOffsetInfo:   string(offs),
	}
	return res, nil
}

// popOffsetLocked is where the group's next pop of a queue starts.
func (s *Service) popOffsetLocked(k queueKey, initMode int32) int64 {
	minOff, maxOff := s.store.MinOffset(k.topic, k.queueID), s.store.MaxOffset(k.topic, k.queueID)
	off, ok := s.offsets[k]
	if !ok {
		if committed, found := s.broker.ConsumerOffset(k.group, k.topic, k.queueID); found && committed >= 0 {
			off = committed
		} else if initMode == remoting.PopInitModeMax && !isRetry(k.topic) {
			off = maxOff
		} else {
			off = minOff
		}
	}
	return min(max(off, minOff), maxOff)
}

func reviveQidOf(order bool) int32 {
	if order {
		return remoting.PopOrderReviveQueue
	}
	return 0
}

func isRetry(topic string) bool { return remoting.PopRetryMark(topic) != remoting.PopRetryNone }

// moveOffsetLocked journals off as k's next pop offset, then takes it and
// commits it as the group's consume offset. It returns the journal sequence
// to sync.
func (s *Service) moveOffsetLocked(k queueKey, off int64) (uint64, error) {
	s.rec.reset(recOffset)
	s.rec.queue(k)
	s.rec.int(off)
	seq, err := s.jrnl.stage(s.rec.b)
	if err != nil {
		return 0, err
	}
	s.offsets[k] = off
	s.broker.CommitOffset(k.group, k.topic, k.queueID, off)
	return seq, nil
}

// popQueueLocked reads one queue into res and records the checkpoint. It
// returns the journal sequence to sync and the messages left behind.
func (s *Service) popQueueLocked(r *PopRequest, topic string, qid int32, popTime int64, f store.Filter,
	rewrite bool, res *PopResult, start, offs *[]byte) (uint64, int64, error) {
	k := queueKey{group: r.Group, topic: topic, queueID: qid}
	off := s.popOffsetLocked(k, r.InitMode)
	var seq uint64
	if _, known := s.offsets[k]; !known {
		// Pin where the group starts, durably: under init mode MAX a
		// message arriving before the next pop must not be skipped by
		// recomputing "the end" then.
		var err error
		if seq, err = s.moveOffsetLocked(k, off); err != nil {
			return 0, 0, err
		}
	}
	if r.Order && s.orderBlockedLocked(k) {
		return seq, 0, nil
	}
	got, err := s.store.GetMatching(topic, qid, off, r.MaxMessages-res.Count, maxPopBytes-len(res.Body), f)
	if err != nil {
		return 0, 0, fmt.Errorf("pop: read %s/%d@%d: %w", topic, qid, off, err)
	}
	defer got.Release()
	next := got.NextBeginOffset
	rest := max(got.MaxOffset-max(next, off), 0)
	if got.MsgCount == 0 {
		if next > off && (got.Status == store.NoMatchedMessage || got.Status == store.OffsetFoundNull) {
			// Filtered out: move past them, durably, so they are not
			// scanned again.
			seq, err := s.moveOffsetLocked(k, next)
			if err != nil {
				return 0, 0, err
			}
			return seq, rest, nil
		}
		return seq, rest, nil
	}
	ck := &checkpoint{ckKey: ckKey{queueKey: k, start: off, popTime: popTime}, invisible: r.Invisible.Milliseconds(),
		order: r.Order, reviveQid: reviveQidOf(r.Order)}
	var ord *orderInfo
	if r.Order {
		ord = s.orderLocked(k)
	}
	if _, dup := s.cks[ck.ckKey]; dup {
		// Same queue popped twice in one millisecond with nothing acked
		// in between cannot start at the same offset: the first moved it.
		return seq, rest, nil
	}
	bodyAt := len(res.Body)
	for _, buf := range got.Buffers {
		rec, err := message.ParseStored(buf, false)
		if err != nil {
			res.Body = res.Body[:bodyAt]
			return 0, 0, fmt.Errorf("pop: stored record in %s/%d unreadable: %w", topic, qid, err)
		}
		if ord != nil {
			if ord.acked[rec.QueueOffset] {
				delete(ord.acked, rec.QueueOffset) // passed for good
				continue
			}
			ck.offsets = append(ck.offsets, rec.QueueOffset)
			if res.Body, err = appendOrderDelivery(res.Body, buf, ord.attempts[rec.QueueOffset]); err != nil {
				res.Body = res.Body[:bodyAt]
				return 0, 0, fmt.Errorf("pop: re-encode order delivery: %w", err)
			}
			continue
		}
		ck.offsets = append(ck.offsets, rec.QueueOffset)
		if !rewrite {
			res.Body = append(res.Body, buf...)
			continue
		}
		res.Body, err = s.appendRedelivery(res.Body, rec, r, ck)
		if err != nil {
			res.Body = res.Body[:bodyAt]
			return 0, 0, err
		}
	}
	if len(ck.offsets) == 0 {
		// An order redelivery whose messages were all acknowledged.
		seq, err := s.moveOffsetLocked(k, next)
		if err != nil {
			return 0, 0, err
		}
		s.dropOrderStateLocked(k)
		return seq, rest, nil
	}
	ck.acked = make([]bool, len(ck.offsets))
	ck.open = len(ck.offsets)
	ck.due = ck.deadline()
	s.rec.reset(ckKind(ck))
	s.rec.checkpoint(ck)
	s.rec.int(next)
	seq, err = s.jrnl.stage(s.rec.b)
	if err != nil {
		res.Body = res.Body[:bodyAt]
		return 0, 0, err
	}
	s.addCk(ck)
	if ck.order {
		s.holdLocked(k)
	}
	s.offsets[k] = next
	s.broker.CommitOffset(k.group, k.topic, k.queueID, next)
	res.Count += len(ck.offsets)
	*start = remoting.AppendPopStartOffset(*start, topic, qid, off)
	*offs = remoting.AppendPopMsgOffsets(*offs, topic, qid, ck.offsets)
	return seq, rest, nil
}

// appendRedelivery re-encodes a message of the POP retry topic as
// upstream hands it out by default: under its original topic, with the
// receipt handle in POP_CK (the client could not build it from the
// original topic).
func (s *Service) appendRedelivery(dst []byte, rec message.StoredRecord, r *PopRequest, ck *checkpoint) ([]byte, error) {
	handle := remoting.ExtraInfo{
		CkQueueOffset: ck.start, PopTime: ck.popTime, InvisibleTime: ck.invisible,
		RetryMark: remoting.PopRetryMark(ck.topic), BrokerName: s.cfg.BrokerName,
		QueueID: ck.queueID, QueueOffset: rec.QueueOffset,
	}
	props := removeProperty(rec.Properties, message.PropertyPopCK)
	props = message.AppendProperty(props, message.PropertyPopCK, handle.String())
	m := message.StoredMessage{
		QueueID: rec.QueueID, Flag: rec.Flag, QueueOffset: rec.QueueOffset, PhysicalOffset: rec.PhysicalOffset,
		SysFlag: rec.SysFlag, BornTimestamp: rec.BornTimestamp, BornHost: rec.BornHost,
		StoreTimestamp: rec.StoreTimestamp, StoreHost: rec.StoreHost, ReconsumeTimes: rec.ReconsumeTimes,
		PreparedTransactionOffset: rec.PreparedTransactionOffset, Body: rec.Body,
		Topic: r.Topic, Properties: string(props),
	}
	out, err := message.AppendStored(dst, &m)
	if err != nil {
		return dst, fmt.Errorf("pop: re-encode redelivery: %w", err)
	}
	return out, nil
}

// removeProperty returns props without key (a copy).
func removeProperty(props []byte, key string) []byte {
	out := make([]byte, 0, len(props)+64)
	for len(props) > 0 {
		end := 0
		for end < len(props) && props[end] != 0x02 {
			end++
		}
		pair := props[:end]
		if end < len(props) {
			props = props[end+1:]
		} else {
			props = nil
		}
		name := pair
		for i, c := range pair {
			if c == 0x01 {
				name = pair[:i]
				break
			}
		}
		if string(name) == key || len(pair) == 0 {
			continue
		}
		out = append(out, pair...)
		out = append(out, 0x02)
	}
	return out
}

// Handle identifies one popped message for Ack and ChangeInvisible: the
// topic it is stored in, its queue and offset, and its receipt handle.
type Handle struct {
	Group, Topic string
	QueueID      int32
	Offset       int64
	ExtraInfo    string
}

func (s *Service) locate(h *Handle) (ckKey, remoting.ExtraInfo, error) {
	ei, err := remoting.ParseExtraInfo(h.ExtraInfo)
	if err != nil {
		return ckKey{}, ei, fmt.Errorf("%w: %v", ErrBadRequest, err)
	}
	if h.Group == "" || h.Topic == "" {
		return ckKey{}, ei, fmt.Errorf("%w: empty group or topic", ErrBadRequest)
	}
	return ckKey{queueKey: queueKey{group: h.Group, topic: h.Topic, queueID: h.QueueID}, start: ei.CkQueueOffset, popTime: ei.PopTime}, ei, nil
}

// Ack acknowledges one popped message. Acknowledging twice is fine; a
// message whose invisible time passed and that was put back for
// redelivery gives ErrHandleExpired.
func (s *Service) Ack(h *Handle) error {
	if !s.broker.Serving() {
		return ErrNotServing
	}
	key, ei, err := s.locate(h)
	if err != nil {
		return err
	}
	s.mu.Lock()
	ck, ok := s.cks[key]
	if !ok {
		s.mu.Unlock()
		if ei.PopTime+ei.InvisibleTime <= s.nowMs() {
			return ErrHandleExpired
		}
		return nil // acknowledged before (a checkpoint leaves once all its offsets are)
	}
	i := ck.indexOf(h.Offset)
	if i < 0 {
		s.mu.Unlock()
		return fmt.Errorf("%w: offset %d is not in the checkpoint", ErrHandleUnknown, h.Offset)
	}
	if ck.acked[i] {
		s.mu.Unlock()
		return nil
	}
	s.rec.reset(recAck)
	s.rec.key(key)
	s.rec.int(h.Offset)
	seq, err := s.jrnl.append(s.rec.b)
	if err != nil {
		s.mu.Unlock()
		return err
	}
	s.ackLocked(ck, i, false)
	unblocked := ck.order && !s.orderBlockedLocked(key.queueKey)
	s.mu.Unlock()
	if unblocked {
		s.polls.notify(key.topic)
	}
	return s.commit(seq)
}

// AckAll acknowledges several popped messages at once (BATCH_ACK_MESSAGE):
// one journal record per checkpoint, one write and, under SYNC_FLUSH, one
// sync for all of them. errs[i] is Ack's answer for hs[i].
func (s *Service) AckAll(hs []Handle) (errs []error, err error) {
	if !s.broker.Serving() {
		return nil, ErrNotServing
	}
	errs = make([]error, len(hs))
	type located struct {
		key ckKey
		ei  remoting.ExtraInfo
	}
	locs := make([]located, len(hs))
	for i := range hs {
		locs[i].key, locs[i].ei, errs[i] = s.locate(&hs[i])
	}
	now := s.nowMs()
	var unblocked []string
	s.mu.Lock()
	// Group the offsets by checkpoint, in the order they came.
	byCk := map[*checkpoint][]int{}
	var cks []*checkpoint
	for i, h := range hs {
		if errs[i] != nil {
			continue
		}
		ck, ok := s.cks[locs[i].key]
		if !ok {
			if ei := locs[i].ei; ei.PopTime+ei.InvisibleTime <= now {
				errs[i] = ErrHandleExpired
			}
			continue
		}
		j := ck.indexOf(h.Offset)
		if j < 0 {
			errs[i] = fmt.Errorf("%w: offset %d is not in the checkpoint", ErrHandleUnknown, h.Offset)
			continue
		}
		if ck.acked[j] || slices.Contains(byCk[ck], j) {
			continue
		}
		if _, seen := byCk[ck]; !seen {
			cks = append(cks, ck)
		}
		byCk[ck] = append(byCk[ck], j)
	}
	var seq uint64
	for _, ck := range cks {
		s.rec.reset(recAcks)
		s.rec.key(ck.ckKey)
		s.rec.int(int64(len(byCk[ck])))
		for _, j := range byCk[ck] {
			s.rec.int(ck.offsets[j] - ck.start)
		}
		if seq, err = s.jrnl.stage(s.rec.b); err != nil {
			break
		}
		for _, j := range byCk[ck] {
			s.ackLocked(ck, j, false)
		}
		if ck.order && !s.orderBlockedLocked(ck.queueKey) {
			unblocked = append(unblocked, ck.topic)
		}
	}
	if ferr := s.jrnl.flush(); err == nil {
		err = ferr
	}
	s.mu.Unlock()
	for _, t := range unblocked {
		s.polls.notify(t)
	}
	if err != nil {
		return nil, err
	}
	return errs, s.commit(seq)
}

// ChangeInvisible makes a popped message visible again d from now (0:
// at once, for the next revive). It returns the new pop time, from which
// the client builds the new receipt handle; the old one stops working.
func (s *Service) ChangeInvisible(h *Handle, d time.Duration) (popTime int64, err error) {
	if !s.broker.Serving() {
		return 0, ErrNotServing
	}
	if d < 0 || d > MaxInvisibleTime {
		return 0, fmt.Errorf("%w: invisibleTime %v not in [0, %v]", ErrBadRequest, d, MaxInvisibleTime)
	}
	key, ei, err := s.locate(h)
	if err != nil {
		return 0, err
	}
	s.mu.Lock()
	popTime, seq, err := s.changeLocked(key, ei, h.Offset, d)
	s.mu.Unlock()
	if err != nil {
		return 0, err
	}
	return popTime, s.commit(seq)
}

func (s *Service) changeLocked(key ckKey, ei remoting.ExtraInfo, off int64, d time.Duration) (int64, uint64, error) {
	ck, ok := s.cks[key]
	if !ok {
		if ei.PopTime+ei.InvisibleTime <= s.nowMs() {
			return 0, 0, ErrHandleExpired
		}
		return 0, 0, fmt.Errorf("%w: already acknowledged", ErrHandleUnknown)
	}
	i := ck.indexOf(off)
	if i < 0 || ck.acked[i] {
		return 0, 0, fmt.Errorf("%w: offset %d is not open in the checkpoint", ErrHandleUnknown, off)
	}
	nk := ckKey{queueKey: key.queueKey, start: off, popTime: s.nowMs()}
	for {
		if _, taken := s.cks[nk]; !taken {
			break
		}
		nk.popTime++ // two changes of one offset within a millisecond
	}
	nc := &checkpoint{ckKey: nk, invisible: d.Milliseconds(), reviveQid: ck.reviveQid,
		offsets: []int64{off}, acked: []bool{false}, open: 1, order: ck.order}
	nc.due = nc.deadline()
	s.rec.reset(recChange)
	s.rec.key(key)
	s.rec.int(off)
	s.rec.int(nk.popTime)
	s.rec.int(nc.invisible)
	seq, err := s.jrnl.append(s.rec.b)
	if err != nil {
		return 0, 0, err
	}
	if nc.order {
		s.holdLocked(key.queueKey) // before the old one may release it
	}
	s.ackLocked(ck, i, true)
	s.addCk(nc)
	return nk.popTime, seq, nil
}

// ackLocked marks offset i of ck acknowledged (moved: handed over to a
// new checkpoint by a change of invisible time) and drops ck once all are.
func (s *Service) ackLocked(ck *checkpoint, i int, moved bool) {
	if ck.acked[i] {
		return
	}
	ck.acked[i] = true
	ck.open--
	if ck.order && !moved {
		s.orderAckedLocked(ck.queueKey, ck.offsets[i])
	}
	if ck.open == 0 {
		s.dropCkLocked(ck)
		if ck.order {
			s.releaseLocked(ck.queueKey)
		}
	}
}

// dropCkLocked takes ck out of the tables.
func (s *Service) dropCkLocked(ck *checkpoint) {
	if s.cks[ck.ckKey] == ck {
		delete(s.cks, ck.ckKey)
	}
	if ck.idx >= 0 && ck.idx < len(s.due) && s.due[ck.idx] == ck {
		heap.Remove(&s.due, ck.idx)
	}
}

// dropOrderStateLocked forgets k's order state once nothing holds the
// queue and nothing below the pop offset can be handed out again.
func (s *Service) dropOrderStateLocked(k queueKey) {
	if o := s.orders[k]; o != nil && o.holds == 0 {
		s.orders[k].holds = 1
		s.releaseLocked(k)
	}
}

func ckKind(ck *checkpoint) byte {
	if ck.order {
		return recOrderCheckpoint
	}
	return recCheckpoint
}

func (s *Service) addCk(ck *checkpoint) {
	s.cks[ck.ckKey] = ck
	heap.Push(&s.due, ck)
}

// Inflight is the number of popped, unacknowledged messages of group on
// topic (both its queues and its POP retry topic).
func (s *Service) Inflight(group, topic string) int {
	retry := remoting.PopRetryTopic(topic, group)
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for k, ck := range s.cks {
		if k.group == group && (k.topic == topic || k.topic == retry) {
			n += ck.open
		}
	}
	return n
}

// Journal record bodies.

func (w *recordWriter) queue(k queueKey) {
	w.str(k.group)
	w.str(k.topic)
	w.int(int64(k.queueID))
}

func (w *recordWriter) key(k ckKey) {
	w.queue(k.queueKey)
	w.int(k.start)
	w.int(k.popTime)
}

// writeCk writes a checkpoint's key, times and open offsets (acked ones
// are left out: a compacted journal needs no separate acks).
func (w *recordWriter) checkpoint(ck *checkpoint) {
	w.key(ck.ckKey)
	w.int(ck.invisible)
	w.int(int64(ck.reviveQid))
	w.int(int64(ck.open))
	prev := ck.start
	for i, o := range ck.offsets {
		if !ck.acked[i] {
			w.int(o - prev)
			prev = o
		}
	}
}

func readQueue(r *recordReader) queueKey {
	return queueKey{group: r.str(), topic: r.str(), queueID: int32(r.int())}
}

func readKey(r *recordReader) ckKey {
	q := readQueue(r)
	return ckKey{queueKey: q, start: r.int(), popTime: r.int()}
}

// apply replays one journal record into the state (at open, before any
// other goroutine runs).
func (s *Service) apply(b []byte) error {
	if len(b) == 0 {
		return errCorruptRecord
	}
	r := &recordReader{b: b[1:]}
	switch b[0] {
	case recCheckpoint, recOrderCheckpoint:
		key := readKey(r)
		ck := &checkpoint{ckKey: key, invisible: r.int(), reviveQid: int32(r.int()), order: b[0] == recOrderCheckpoint}
		n := r.int()
		if r.err != nil || n < 0 || n > MaxPopMessages*1024 {
			return errCorruptRecord
		}
		prev := key.start
		for range n {
			prev += r.int()
			ck.offsets = append(ck.offsets, prev)
		}
		next := r.int()
		if r.err != nil {
			return r.err
		}
		ck.acked = make([]bool, len(ck.offsets))
		ck.open = len(ck.offsets)
		ck.due = ck.deadline()
		if ck.open > 0 {
			held := false
			if old, ok := s.cks[key]; ok {
				s.dropCkLocked(old)
				held = old.order
			}
			s.addCk(ck)
			if ck.order && !held {
				s.holdLocked(key.queueKey)
			}
		}
		if next >= 0 {
			s.offsets[key.queueKey] = max(s.offsets[key.queueKey], next)
		}
	case recAck:
		key := readKey(r)
		off := r.int()
		if r.err != nil {
			return r.err
		}
		if ck, ok := s.cks[key]; ok {
			if i := ck.indexOf(off); i >= 0 {
				s.ackLocked(ck, i, false)
			}
		}
	case recRevived:
		key := readKey(r)
		if r.err != nil {
			return r.err
		}
		if ck, ok := s.cks[key]; ok {
			delete(s.cks, key)
			heap.Remove(&s.due, ck.idx)
		}
	case recOffset:
		k := readQueue(r)
		next := r.int()
		if r.err != nil {
			return r.err
		}
		s.offsets[k] = max(s.offsets[k], next)
	case recChange:
		key := readKey(r)
		off, popTime, inv := r.int(), r.int(), r.int()
		if r.err != nil {
			return r.err
		}
		ck, ok := s.cks[key]
		if !ok {
			return nil
		}
		i := ck.indexOf(off)
		if i < 0 || ck.acked[i] {
			return nil
		}
		nc := &checkpoint{ckKey: ckKey{queueKey: key.queueKey, start: off, popTime: popTime}, invisible: inv,
			reviveQid: ck.reviveQid, offsets: []int64{off}, acked: []bool{false}, open: 1, order: ck.order}
		nc.due = nc.deadline()
		_, taken := s.cks[nc.ckKey]
		if nc.order && !taken {
			s.holdLocked(key.queueKey)
		}
		s.ackLocked(ck, i, true)
		if !taken {
			s.addCk(nc)
		}
	case recAcks:
		key := readKey(r)
		n := r.int()
		if r.err != nil || n < 0 || n > MaxPopMessages*1024 {
			return errCorruptRecord
		}
		ck := s.cks[key]
		for range n {
			off := key.start + r.int()
			if r.err != nil {
				return r.err
			}
			if ck != nil {
				if i := ck.indexOf(off); i >= 0 {
					s.ackLocked(ck, i, false)
				}
			}
		}
	case recOrderRevive:
		return s.applyOrderRevive(r)
	case recOrderInfo:
		return s.applyOrderInfo(r)
	default:
		return errCorruptRecord
	}
	return nil
}

// compactLocked rewrites the journal with the live state once it grew
// past the compaction size. s.mu must be held.
func (s *Service) compactLocked() {
	if s.jrnl.sizeNow() < s.opt.compactSize {
		return
	}
	var w recordWriter
	err := s.jrnl.rewrite(func(emit func([]byte) error) error {
		for k, next := range s.offsets {
			w.reset(recOffset)
			w.queue(k)
			w.int(next)
			if err := emit(w.b); err != nil {
				return err
			}
		}
		for k, o := range s.orders {
			w.reset(recOrderInfo)
			w.orderInfo(k, o)
			if err := emit(w.b); err != nil {
				return err
			}
		}
		for _, ck := range s.cks {
			w.reset(ckKind(ck))
			w.checkpoint(ck)
			w.int(-1) // pop offsets were written above
			if err := emit(w.b); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		s.log.Error("pop journal compaction failed", "err", err)
		return
	}
	s.log.Info("pop journal compacted", "checkpoints", len(s.cks), "queues", len(s.offsets), "bytes", s.jrnl.sizeNow())
}

// dueHeap orders checkpoints by when the revive loop takes them.
type dueHeap []*checkpoint

func (h dueHeap) Len() int           { return len(h) }
func (h dueHeap) Less(i, j int) bool { return h[i].due < h[j].due }
func (h dueHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].idx, h[j].idx = i, j
}
func (h *dueHeap) Push(x any) {
	ck := x.(*checkpoint)
	ck.idx = len(*h)
	*h = append(*h, ck)
}
func (h *dueHeap) Pop() any {
	old := *h
	ck := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	ck.idx = -1
	return ck
}

// retryQueueFor spreads redeliveries over the retry topic's queues.
func retryQueueFor(queues int) int32 {
	if queues <= 1 {
		return 0
	}
	return rand.Int32N(int32(queues))
}

// popRetryTopicOf is where redeliveries of group's messages of topic go.
func popRetryTopicOf(topic, group string) string { return remoting.PopRetryTopic(topic, group) }
