// Package store is rocketgo's message store: a RocketMQ-style commit log of
// memory-mapped segments holding every topic's records in arrival order, one
// consume queue of 20-byte entries per (topic, queue) pointing into it, and a
// hash index over message keys.
//
// Records are kept in exactly the wire layout of package message, so a pull
// response body is a run of slices straight out of the mappings. Appends are
// ordered by one lock; encoding and checksumming happen before it is taken.
// Consume-queue and index entries are written in the same locked section, so
// a message is readable by the time Append returns.
package store

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rocketgo/rocketgo/message"
)

// Property names the store reads. They are spelled out here rather than
// imported so the store depends only on the record layout.
const (
	propTags    = "TAGS"
	propKeys    = "KEYS"
	propUniqKey = "UNIQ_KEY"
)

// maxKeysPerMessage caps how many index entries one message may add, so a
// hostile KEYS property cannot flood an index file.
const maxKeysPerMessage = 32

// maxKeysPerWideMessage is the cap for Config.WideIndexTopics: a trace
// message of ~118 KB holds at most a few hundred records, each adding its
// message id and keys.
const maxKeysPerWideMessage = 4096

// AppendStatus qualifies a successful append.
type AppendStatus int

const (
	// AppendOK: stored, and durable as far as the flush policy promises.
	AppendOK AppendStatus = iota
	// FlushDiskTimeout: stored, but the SYNC_FLUSH fsync did not complete
	// within SyncFlushTimeout (RocketMQ's FLUSH_DISK_TIMEOUT).
	FlushDiskTimeout
)

func (s AppendStatus) String() string {
	if s == FlushDiskTimeout {
		return "FLUSH_DISK_TIMEOUT"
	}
	return "PUT_OK"
}

// AppendResult describes an append. For a batch, offsets are those of the
// first record and WroteBytes covers all of them.
type AppendResult struct {
	Status         AppendStatus
	PhysicalOffset int64
	QueueOffset    int64
	StoreTimestamp int64
	WroteBytes     int32
	MsgCount       int
}

// Store is the message store. All methods are safe for concurrent use.
type Store struct {
	cfg  Config
	o    options
	log  *slog.Logger
	cl   fileSet
	ix   *indexService
	root string // consumequeue directory

	clMin   atomic.Int64 // first physical offset still stored
	wrote   atomic.Int64 // end of the last fully dispatched record
	replEnd atomic.Int64 // replica: end of the bytes received (may be mid-record)
	flushed atomic.Int64 // commit log durable up to here (flusher only writes)
	lastTs  atomic.Int64 // store timestamp of the newest record

	// openEnd is where the log ended when the store opened. Records below
	// it came from disk and are verified in full on every read; it is set
	// by recovery, before any reader exists.
	openEnd int64
	damage  damageLog

	appendMu sync.Mutex
	// lockedAt is when the running append took appendMu (UnixNano), 0
	// while no append holds it: the broker's page-cache-busy signal.
	lockedAt atomic.Int64
	queuesW  map[queueKey]*consumeQueue // appender's view, under appendMu
	closed   bool                       // under appendMu

	qmu     sync.RWMutex
	queuesR map[queueKey]*consumeQueue // readers' view

	maintMu     sync.Mutex // retention, DeleteTopic and checkpoints exclude each other
	filesClosed bool       // under maintMu

	// Group commit. pending, pendingLate, flushClosed and gatherTarget are
	// guarded by fmu; spare, lastBatch and lastSync belong to the flusher
	// goroutine.
	fmu          sync.Mutex
	pending      []flushReq
	pendingLate  *batchDeadline // deadline new waiters in pending share
	flushClosed  bool
	gatherTarget int // >0 while the flusher waits for that many waiters
	spare        []flushReq
	lastBatch    int
	lastSync     time.Duration
	wake         chan struct{} // a waiter was queued
	gathered     chan struct{} // gatherTarget was reached
	groupCommits atomic.Int64
	groupWaiters atomic.Int64

	// truncMu orders Truncate against flushLog publishing its flushed
	// offset: a flush that began before a truncation must not publish an
	// offset past the cut (truncate.go). truncGen counts truncations.
	truncMu  sync.Mutex
	truncGen uint64
	// readFence hides records ending past a physical offset from readers
	// (fence.go); it holds that offset + 1, or 0 for no fence.
	readFence atomic.Int64

	diskFull atomic.Bool
	isClosed atomic.Bool
	stop     chan struct{}
	warm     chan warmReq // pre-fault requests (warm.go); nil: off
	// warmSeg and warmTo (under appendMu) are the segment being pre-faulted
	// and the end of the last request queued for it (warm.go).
	warmSeg *mappedFile
	warmTo  int64
	// pwrites counts appends written with pwrite (warm.go writeLog), for
	// tests that check which path an append took.
	pwrites atomic.Uint64
	// writeback takes requests to start write-back behind the appender
	// (writeback.go); nil under SYNC_FLUSH. wbAsked (under appendMu) is
	// the end of the last request accepted.
	writeback chan writebackReq
	wbAsked   int64
	wg        sync.WaitGroup
	closeOnce sync.Once
	closeErr  error

	// spareWake wakes the allocator goroutine for the spare starting at
	// spareWant; spareAsked (under appendMu) is the last base asked for
	// (spare.go).
	spareWake  chan struct{}
	spareWant  atomic.Int64
	spareAsked int64

	scratch sync.Pool // *appendScratch
	waiters sync.Pool // *syncWaiter
	results sync.Pool // *GetResult
}

// flushReq is one group-commit waiter: either a blocked Append (w) or an
// AppendAsync callback (done).
type flushReq struct {
	w        *syncWaiter
	done     func(err error, late bool)
	deadline *batchDeadline
}

// syncWaiter is a pooled rendezvous for a blocking SYNC_FLUSH append, so
// the hot path does not allocate a channel and closure per message.
type syncWaiter struct {
	ch chan flushOutcome
}

// batchDeadline bounds by SyncFlushTimeout the wait of consecutive waiters
// of one group commit, counted from the first one's append. One timer per
// batch rather than one per append: arming and stopping a timer for each
// of 64 concurrent appenders cost more than a fifth of the commit cycle.
// A waiter never joins a deadline that has passed, so none is reported
// late before it has waited the full timeout itself.
type batchDeadline struct {
	expired chan struct{} // closed once the timeout has passed
	t       *time.Timer
}

func newBatchDeadline(d time.Duration) *batchDeadline {
	b := &batchDeadline{expired: make(chan struct{})}
	b.t = time.AfterFunc(d, func() { close(b.expired) })
	return b
}

func (b *batchDeadline) passed() bool {
	select {
	case <-b.expired:
		return true
	default:
		return false
	}
}

// completeAll completes reqs, whose deadlines form contiguous runs, and
// disarms each deadline once; a deadline whose timer had already fired
// makes its waiters late.
func completeAll(reqs []flushReq, err error) {
	var d *batchDeadline
	late := false
	for i := range reqs {
		if reqs[i].deadline != d {
			d = reqs[i].deadline
			late = !d.t.Stop()
		}
		reqs[i].complete(err, late)
		reqs[i] = flushReq{}
	}
}

type flushOutcome struct {
	err  error
	late bool
}

func (r *flushReq) complete(err error, late bool) {
	if r.w != nil {
		r.w.ch <- flushOutcome{err, late}
		return
	}
	r.done(err, late)
}

// Open opens or creates the store in cfg.Dir, recovering after a crash.
func Open(cfg Config, opts ...Option) (*Store, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	o := buildOptions(opts)
	s := &Store{
		cfg:      cfg,
		o:        o,
		log:      o.logger,
		root:     filepath.Join(cfg.Dir, "consumequeue"),
		queuesW:  make(map[queueKey]*consumeQueue),
		queuesR:  make(map[queueKey]*consumeQueue),
		wake:     make(chan struct{}, 1),
		gathered: make(chan struct{}, 1),
		stop:     make(chan struct{}),
		warm:     make(chan warmReq, 4),
	}
	s.spareWake = make(chan struct{}, 1)
	// Read-ahead goes off on the segment being appended to only where
	// syncs are small (SYNC_FLUSH group commits): see adviseAppend.
	s.cl = fileSet{dir: filepath.Join(cfg.Dir, "commitlog"), size: cfg.CommitLogSegmentSize, alloc: o.alloc,
		appendOnly: !o.readAheadOnAppend && cfg.FlushDiskType == SyncFlush}
	if cfg.IndexEntries > 0 {
		s.ix = &indexService{dir: filepath.Join(cfg.Dir, "index"), slots: cfg.IndexSlots, entries: cfg.IndexEntries, alloc: o.alloc, log: o.logger}
	}
	s.scratch.New = func() any { return &appendScratch{} }
	s.results.New = func() any { return &GetResult{} }
	s.waiters.New = func() any { return &syncWaiter{ch: make(chan flushOutcome, 1)} }
	if err := os.MkdirAll(cfg.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("store: mkdir %s: %w", cfg.Dir, err)
	}
	if err := s.recover(); err != nil {
		s.closeFiles()
		return nil, err
	}
	s.checkDisk()
	if cfg.FlushDiskType == AsyncFlush {
		s.writeback = make(chan writebackReq, 4)
		s.wbAsked = s.wrote.Load()
		s.wg.Add(1)
		go s.writebackLoop()
	}
	s.wg.Add(4)
	go s.flushLoop()
	go s.cleanLoop()
	go s.warmLoop()
	go s.allocLoop()
	if seg := s.cl.load().last(); seg != nil {
		pos := s.wrote.Load() - seg.base
		s.warmAfterAppend(seg, pos, pos) // no append runs yet
	}
	return s, nil
}

// appendScratch is the per-append working memory, pooled so steady-state
// appends do not allocate.
type appendScratch struct {
	buf  []byte
	recs []recMeta
	keys []uint32
	sink byte // see indexService.prefetchSlots
}

type recMeta struct {
	start, size int
	tags        int64
	sysFlag     int32
	noQueue     bool // transaction prepared/rollback: log only
	nkeys       int
	props       []byte
}

// Append stores one message and returns once it is durable per the flush
// policy. Under SyncFlush a slow fsync yields Status FlushDiskTimeout, not an
// error; ctx only bounds that wait (the message is stored either way).
func (s *Store) Append(ctx context.Context, m *message.StoredMessage) (AppendResult, error) {
	ms := [1]*message.StoredMessage{m}
	return s.AppendBatch(ctx, ms[:])
}

// AppendAsync stores one message without waiting for an fsync; done runs
// once the message is durable per the policy (immediately under AsyncFlush,
// on the flusher goroutine after the group commit under SyncFlush, so it
// must not block). The ordered copy itself still takes the append lock.
func (s *Store) AppendAsync(m *message.StoredMessage, done func(AppendResult, error)) {
	ms := [1]*message.StoredMessage{m}
	s.AppendBatchAsync(ms[:], done)
}

// AppendBatch stores several records of one topic and queue back to back
// with consecutive queue offsets, under one lock hold.
func (s *Store) AppendBatch(ctx context.Context, msgs []*message.StoredMessage) (AppendResult, error) {
	res, err := s.appendRecords(msgs, false)
	if err != nil || s.cfg.FlushDiskType == AsyncFlush {
		return res, err
	}
	w := s.waiters.Get().(*syncWaiter)
	deadline := s.enqueueFlush(flushReq{w: w})
	var expired <-chan struct{}
	if deadline != nil {
		expired = deadline.expired
	}
	select {
	case oc := <-w.ch:
		s.waiters.Put(w)
		if oc.err != nil {
			return res, oc.err
		}
		if oc.late {
			res.Status = FlushDiskTimeout
		}
	case <-expired:
		// The waiter is still queued and will be completed later; it
		// cannot go back to the pool.
		res.Status = FlushDiskTimeout
	case <-ctx.Done():
		// Abandoned like a timed-out waiter, not pooled.
		return res, fmt.Errorf("store: waiting for flush: %w", ctx.Err())
	}
	return res, nil
}

// AppendBatchAsync is AppendBatch with a completion callback instead of a wait.
func (s *Store) AppendBatchAsync(msgs []*message.StoredMessage, done func(AppendResult, error)) {
	_ = s.appendBatchAsync(msgs, false, done) // never ErrWouldBlock
}

// TryAppendAsync is AppendAsync for a caller that must not wait (a network
// event loop): when another append holds the commit-log lock, or this one
// would have to create a commit-log, consume-queue or index file, it stores
// nothing, returns ErrWouldBlock and never calls done; otherwise it returns
// nil and done is called as by AppendAsync.
func (s *Store) TryAppendAsync(m *message.StoredMessage, done func(AppendResult, error)) error {
	ms := [1]*message.StoredMessage{m}
	return s.appendBatchAsync(ms[:], true, done)
}

// TryAppendBatchAsync is AppendBatchAsync that does not wait, as TryAppendAsync.
func (s *Store) TryAppendBatchAsync(msgs []*message.StoredMessage, done func(AppendResult, error)) error {
	return s.appendBatchAsync(msgs, true, done)
}

func (s *Store) appendBatchAsync(msgs []*message.StoredMessage, noWait bool, done func(AppendResult, error)) error {
	res, err := s.appendRecords(msgs, noWait)
	if err == ErrWouldBlock {
		return err
	}
	if err != nil || s.cfg.FlushDiskType == AsyncFlush {
		done(res, err)
		return nil
	}
	s.enqueueFlush(flushReq{done: func(err error, late bool) {
		if late {
			res.Status = FlushDiskTimeout
		}
		done(res, err)
	}})
	return nil
}

// validTopic guards file names built from topics. RocketMQ topics are
// [%|a-zA-Z0-9_-]+; the store only needs them to be one safe path element
// that cannot collide with its own dot-prefixed bookkeeping names.
func validTopic(t string) bool {
	return t != "" && t[0] != '.' && strings.IndexByte(t, '/') < 0 && strings.IndexByte(t, 0) < 0
}

// appendRecords encodes outside the lock, then assigns offsets and copies in.
// With noWait it gives up with ErrWouldBlock rather than wait for the lock
// or create a file.
func (s *Store) appendRecords(msgs []*message.StoredMessage, noWait bool) (AppendResult, error) {
	var res AppendResult
	if len(msgs) == 0 {
		return res, fmt.Errorf("%w: empty batch", ErrInvalidMessage)
	}
	if s.isClosed.Load() {
		return res, ErrClosed
	}
	if s.diskFull.Load() {
		return res, fmt.Errorf("%w: usage above %d%%, refusing writes", ErrDiskFull, s.cfg.DiskCriticalRatio)
	}
	topic, qid := msgs[0].Topic, msgs[0].QueueID
	if !validTopic(topic) {
		return res, fmt.Errorf("%w: topic %q", ErrInvalidMessage, topic)
	}
	if qid < 0 {
		return res, fmt.Errorf("%w: queue id %d", ErrInvalidMessage, qid)
	}
	sc := s.scratch.Get().(*appendScratch)
	defer s.scratch.Put(sc)
	sc.buf, sc.recs, sc.keys = sc.buf[:0], sc.recs[:0], sc.keys[:0]
	for _, m := range msgs {
		if m.Topic != topic || m.QueueID != qid {
			return res, fmt.Errorf("%w: a batch must share one topic and queue", ErrInvalidMessage)
		}
		start := len(sc.buf)
		var err error
		if sc.buf, err = message.AppendStored(sc.buf, m); err != nil {
			return res, fmt.Errorf("%w: %w", ErrInvalidMessage, err)
		}
		size := len(sc.buf) - start
		if size > s.cfg.MaxMessageSize || len(sc.buf) > s.cfg.MaxMessageSize {
			return res, fmt.Errorf("%w: %d bytes, limit %d", ErrMessageTooBig, len(sc.buf), s.cfg.MaxMessageSize)
		}
		rec := recMeta{start: start, size: size, sysFlag: m.SysFlag}
		tx := m.SysFlag & message.SysFlagTxMask
		rec.noQueue = tx == message.SysFlagTxPrepared || tx == message.SysFlagTxRollback
		sc.recs = append(sc.recs, rec)
	}
	// Properties sit at the end of each record; read tags and keys there
	// so no string conversions of the message are needed.
	for i := range sc.recs {
		r := &sc.recs[i]
		r.props = sc.buf[r.start+r.size-len(msgs[i].Properties) : r.start+r.size]
		if tag, ok := message.LookupProperty(r.props, propTags); ok {
			r.tags = message.TagsHashCode(string(tag))
		}
		if s.ix != nil {
			n := len(sc.keys)
			sc.keys = appendKeyHashes(sc.keys, topic, r.props, s.keyLimit(topic))
			r.nkeys = len(sc.keys) - n
		}
	}
	if s.ix != nil && len(sc.keys) >= prefetchMinKeys {
		sc.sink = s.ix.prefetchSlots(sc.keys)
	}
	return s.commit(sc, topic, qid, noWait)
}

// keyLimit is how many index entries one message of topic may add.
func (s *Store) keyLimit(topic string) int {
	if slices.Contains(s.cfg.WideIndexTopics, topic) {
		return maxKeysPerWideMessage
	}
	return maxKeysPerMessage
}

// appendKeyHashes adds the index hashes of UNIQ_KEY and each KEYS token,
// at most limit of them.
func appendKeyHashes(dst []uint32, topic string, props []byte, limit int) []uint32 {
	n := 0
	seed := topicSeed(topic)
	if v, ok := message.LookupProperty(props, propUniqKey); ok && len(v) > 0 {
		dst = append(dst, keyHashFrom(seed, v))
		n++
	}
	if v, ok := message.LookupProperty(props, propKeys); ok {
		for len(v) > 0 && n < limit {
			i := bytes.IndexByte(v, ' ')
			if i < 0 {
				i = len(v)
			}
			if i > 0 {
				dst = append(dst, keyHashFrom(seed, v[:i]))
				n++
			}
			if i == len(v) {
				break
			}
			v = v[i+1:]
		}
	}
	return dst
}

// commit is the ordered section: everything that can fail (file creation)
// happens before the first byte is copied, so an error leaves no trace.
func (s *Store) commit(sc *appendScratch, topic string, qid int32, noWait bool) (AppendResult, error) {
	var res AppendResult
	total := int64(len(sc.buf))
	var locked time.Time
	if noWait {
		if !s.appendMu.TryLock() {
			return res, ErrWouldBlock
		}
		locked = s.lockedAppend()
	} else {
		locked = s.lockAppend()
	}
	if s.closed {
		s.unlockAppend()
		return res, ErrClosed
	}
	key := queueKey{topic, qid}
	cq := s.queuesW[key]
	if noWait && !s.fitsOpenFiles(cq, sc, total) {
		s.unlockAppend()
		return res, ErrWouldBlock
	}
	if cq == nil {
		cq = newConsumeQueue(s.root, key, s.cfg.ConsumeQueueEntriesPerFile, s.o.alloc)
		cq.files.list.Store(&segmentList{})
		s.queuesW[key] = cq
		s.qmu.Lock()
		s.queuesR[key] = cq
		s.qmu.Unlock()
	}
	queued := 0
	for i := range sc.recs {
		if !sc.recs[i].noQueue {
			queued++
		}
	}
	if queued > 0 {
		// The batch's entries may straddle a consume-queue file boundary.
		if err := cq.ensure(cq.next); err != nil {
			s.unlockAppend()
			return res, err
		}
		if err := cq.ensure(cq.next + int64(queued) - 1); err != nil {
			s.unlockAppend()
			return res, err
		}
	}
	now := locked // one clock read per append: the lock's stamp is the store time
	if !s.o.wallClock {
		now = s.o.clock()
	}
	if s.ix != nil && len(sc.keys) > 0 {
		if err := s.ix.ensure(len(sc.keys), now); err != nil {
			s.unlockAppend()
			return res, err
		}
		if m := s.ix.created; m != nil {
			// Its slot table is written at random: fault it in at once.
			s.ix.created = nil
			s.postWarm(warmReq{m: m, from: 0, to: int64(idxHeaderLen + s.ix.slots*idxSlotLen)})
		}
	}
	phy := s.wrote.Load()
	seg := s.cl.load().last()
	if seg == nil || phy == seg.base+s.cl.size {
		var err error
		if seg, err = s.cl.create(phy); err != nil {
			s.unlockAppend()
			return res, err
		}
	}
	if pos := phy - seg.base; total+blankLen > s.cl.size-pos {
		// Does not fit: make sure the next segment exists, then close this
		// one with the blank marker so readers and recovery skip its tail.
		next, err := s.cl.create(seg.base + s.cl.size)
		if err != nil {
			s.unlockAppend()
			return res, err
		}
		putBlank(seg.data[pos:], s.cl.size-pos)
		seg, phy = next, next.base
		s.wrote.Store(phy)
	}
	s.spareAhead(phy + total) // nothing fails from here on
	ts := now.UnixMilli()
	pos := phy - seg.base
	res = AppendResult{PhysicalOffset: phy, StoreTimestamp: ts, WroteBytes: int32(total), MsgCount: len(sc.recs)}
	first := cq.next
	for i := range sc.recs {
		r := &sc.recs[i]
		qoff := int64(0)
		if !r.noQueue {
			qoff = cq.next
			cq.next++
		}
		if i == 0 {
			res.QueueOffset = qoff
		}
		patchRecord(sc.buf[r.start:r.start+r.size], qoff, phy+int64(r.start), ts)
	}
	s.writeLog(seg, pos, sc.buf)
	keys := sc.keys
	var ixFile *mappedFile
	var ixEnd int64
	for i := range sc.recs {
		r := &sc.recs[i]
		if !r.noQueue {
			tags := r.tags
			if s.o.tagsCode != nil {
				tags = s.o.tagsCode(topic, r.props, ts, tags)
			}
			r.tags = tags
			cq.put(first, phy+int64(r.start), int32(r.size), tags)
			first++
		}
		if s.ix != nil && r.nkeys > 0 {
			ixFile, ixEnd = s.ix.putAll(keys[:r.nkeys], phy+int64(r.start), ts)
			keys = keys[r.nkeys:]
		}
	}
	if ixFile != nil {
		if w, ok := s.ix.warmEntries(ixFile, ixEnd); ok && s.postWarm(w) {
			s.ix.warmPosted(w)
		}
	}
	cq.max.Store(cq.next)
	s.lastTs.Store(ts)
	s.wrote.Store(phy + total)
	s.writebackAfterAppend(phy + total)
	s.unlockAppend()
	if s.o.arrival != nil {
		qoff := res.QueueOffset
		for i := range sc.recs {
			if r := &sc.recs[i]; !r.noQueue {
				s.o.arrival(topic, qid, qoff, r.tags)
				qoff++
			}
		}
	}
	return res, nil
}

// lockAppend takes the append lock for commit and records when, so that
// AppendLockHeld can tell a stalled append (slow page cache, hung disk
// allocation) while it lasts.
func (s *Store) lockAppend() time.Time {
	s.appendMu.Lock()
	return s.lockedAppend()
}

// lockedAppend runs once appendMu is held and returns when it was taken.
func (s *Store) lockedAppend() time.Time {
	now := time.Now()
	s.lockedAt.Store(now.UnixNano())
	if s.o.inAppendLock != nil {
		s.o.inAppendLock()
	}
	return now
}

// fitsOpenFiles reports whether an append fits the commit-log segment (or
// its ready spare), the consume-queue file and the index file already
// open, so that it creates no file (the slow part of an append a no-wait
// caller must not take on).
// Under appendMu.
func (s *Store) fitsOpenFiles(cq *consumeQueue, sc *appendScratch, total int64) bool {
	if cq == nil {
		return false
	}
	queued := int64(0)
	for i := range sc.recs {
		if !sc.recs[i].noQueue {
			queued++
		}
	}
	if queued > 0 {
		l := cq.files.load()
		if l.find(cq.next*cqEntrySize, cq.files.size) == nil || l.find((cq.next+queued-1)*cqEntrySize, cq.files.size) == nil {
			return false
		}
	}
	if s.ix != nil && len(sc.keys) > 0 && !s.ix.hasRoom(len(sc.keys)) {
		return false
	}
	// A roll onto a ready spare is only a rename (spare.go).
	phy := s.wrote.Load()
	seg := s.cl.load().last()
	if seg == nil || phy == seg.base+s.cl.size {
		return s.cl.hasSpare(phy)
	}
	if total+blankLen > s.cl.size-(phy-seg.base) {
		return s.cl.hasSpare(seg.base + s.cl.size)
	}
	return true
}

func (s *Store) unlockAppend() {
	s.lockedAt.Store(0)
	s.appendMu.Unlock()
}

// AppendLockHeld is how long the append in progress has held the commit-log
// lock, 0 when none holds it. Upstream's broker calls the page cache busy
// when this exceeds osPageCacheBusyTimeOutMills and sheds sends meanwhile.
func (s *Store) AppendLockHeld() time.Duration {
	at := s.lockedAt.Load()
	if at == 0 {
		return 0
	}
	return max(time.Duration(time.Now().UnixNano()-at), 0)
}

// AppendLocked reports whether an append holds the commit-log lock now:
// AppendLockHeld without its clock read, for a check on every send.
func (s *Store) AppendLocked() bool { return s.lockedAt.Load() != 0 }

func putBlank(b []byte, n int64) {
	b[0], b[1], b[2], b[3] = byte(n>>24), byte(n>>16), byte(n>>8), byte(n)
	m := message.BlankMagic
	b[4], b[5], b[6], b[7] = byte(m>>24), byte(m>>16), byte(m>>8), byte(m)
}

// patchRecord fills in the fields only known under the lock.
func patchRecord(rec []byte, qoff, phy, ts int64) {
	put64(rec[message.OffQueueOffset:], qoff)
	put64(rec[message.OffPhysicalOffset:], phy)
	sys := int32(uint32(rec[message.OffSysFlag])<<24 | uint32(rec[message.OffSysFlag+1])<<16 |
		uint32(rec[message.OffSysFlag+2])<<8 | uint32(rec[message.OffSysFlag+3]))
	put64(rec[message.StoreTimestampOffset(sys):], ts)
}

func put64(b []byte, v int64) {
	_ = b[7]
	b[0], b[1], b[2], b[3] = byte(v>>56), byte(v>>48), byte(v>>40), byte(v>>32)
	b[4], b[5], b[6], b[7] = byte(v>>24), byte(v>>16), byte(v>>8), byte(v)
}

// enqueueFlush registers a group-commit waiter for everything appended so
// far and returns the deadline of the batch it joined (nil when Close had
// already flushed everything and r was completed at once).
func (s *Store) enqueueFlush(r flushReq) *batchDeadline {
	s.fmu.Lock()
	if s.flushClosed {
		// Close already flushed everything appended before it began.
		s.fmu.Unlock()
		r.complete(nil, false)
		return nil
	}
	if len(s.pending) == 0 || s.pendingLate.passed() {
		s.pendingLate = newBatchDeadline(s.cfg.SyncFlushTimeout)
	}
	r.deadline = s.pendingLate
	s.pending = append(s.pending, r)
	gathered := s.gatherTarget > 0 && len(s.pending) >= s.gatherTarget
	if gathered {
		s.gatherTarget = 0
	}
	s.fmu.Unlock()
	ch := s.wake
	if gathered {
		ch = s.gathered
	}
	select {
	case ch <- struct{}{}:
	default:
	}
	return r.deadline
}

// groupCommit flushes the log up to its current end and completes every
// waiter queued before the flush started: one fsync for all of them.
func (s *Store) groupCommit() {
	s.gatherCommitters()
	s.fmu.Lock()
	reqs := s.pending
	s.pending, s.pendingLate = s.spare[:0], nil
	s.fmu.Unlock()
	if len(reqs) == 0 {
		s.spare = reqs
		return
	}
	began := time.Now()
	err := s.flushLog(s.wrote.Load())
	s.lastSync = time.Since(began)
	s.groupCommits.Add(1)
	s.groupWaiters.Add(int64(len(reqs)))
	// The appenders released now plus those that queued during the fsync
	// estimate how many are active; the next commit gathers that many.
	s.fmu.Lock()
	s.lastBatch = len(reqs) + len(s.pending)
	s.fmu.Unlock()
	completeAll(reqs, err)
	s.spare = reqs[:0]
}

// gatherCommitters delays a group commit briefly while fewer appenders are
// waiting than were active around the previous one. Without it the flusher, woken by the
// first appender that comes back after a commit, would fsync for that one
// alone while the rest are still being scheduled, and batches would shrink
// to a fraction of the concurrency. The wait is bounded by half the last
// fsync's duration (at most 2 ms); a lone appender never waits, since its
// previous batch had size one.
func (s *Store) gatherCommitters() {
	if s.lastBatch <= 1 {
		return
	}
	s.fmu.Lock()
	if len(s.pending) >= s.lastBatch {
		s.fmu.Unlock()
		return
	}
	s.gatherTarget = s.lastBatch
	s.fmu.Unlock()
	t := time.NewTimer(min(s.lastSync, 2*time.Millisecond))
	select {
	case <-s.gathered:
	case <-t.C:
	case <-s.stop:
	}
	t.Stop()
	s.fmu.Lock()
	s.gatherTarget = 0
	s.fmu.Unlock()
	select { // drop a signal that raced with the timer
	case <-s.gathered:
	default:
	}
}

// flushLog makes the log durable up to target. Only the flusher goroutine
// (and Open/Close, when it is not running) call it.
func (s *Store) flushLog(target int64) error {
	from := s.flushed.Load()
	if target <= from {
		return nil
	}
	if from < s.clMin.Load() {
		from = s.clMin.Load()
	}
	gen := s.truncationGen()
	if s.o.beforeSync != nil {
		s.o.beforeSync()
	}
	if s.writeback != nil {
		// ASYNC_FLUSH: the last few MiB, not yet handed to the write-back
		// goroutine (which unmaps what it is given), lose their page-table
		// entries in one batch too, so the msync does not write-protect
		// them page by page (writeback.go). The whole tail, not only what
		// this flush syncs: a warmer that fell behind may have mapped
		// pages the appender had already passed.
		s.cl.unmapRange(target-target%writebackChunk-writebackLag, target)
	}
	if err := s.cl.syncRange(from, target); err != nil {
		s.log.Error("commit log flush failed", "from", from, "to", target, "err", err)
		return err
	}
	s.publishFlushed(gen, target)
	return nil
}

func (s *Store) flushLoop() {
	defer s.wg.Done()
	flushTick := time.NewTicker(s.cfg.FlushInterval)
	defer flushTick.Stop()
	cpTick := time.NewTicker(s.cfg.CheckpointInterval)
	defer cpTick.Stop()
	lastThorough := time.Now()
	for {
		select {
		case <-s.stop:
			return
		case <-s.wake:
			s.groupCommit()
		case <-flushTick.C:
			if s.cfg.FlushDiskType == SyncFlush {
				// Group commits cover every append; only a replica's
				// log (AppendLog has no waiters) is left to flush here.
				if s.wrote.Load() > s.flushed.Load() {
					s.flushLog(s.wrote.Load())
				}
				continue
			}
			// Like RocketMQ, skip rounds with little dirty data, but flush
			// thoroughly every 10 s whatever the amount.
			dirty := s.wrote.Load() - s.flushed.Load()
			if dirty >= int64(s.cfg.FlushLeastPages)*int64(os.Getpagesize()) || time.Since(lastThorough) >= 10*time.Second {
				s.flushLog(s.wrote.Load())
				lastThorough = time.Now()
			}
		case <-cpTick.C:
			if s.cfg.FlushDiskType == AsyncFlush {
				s.flushLog(s.wrote.Load())
			}
			if err := s.checkpoint(); err != nil {
				s.log.Error("checkpoint failed", "err", err)
			}
		}
	}
}

// checkpoint flushes consume queues and the index, then records the flushed
// log offset as safe: every entry for a record below it was written before
// the record was published, hence is covered by these flushes.
func (s *Store) checkpoint() error {
	s.maintMu.Lock()
	defer s.maintMu.Unlock()
	safe := s.flushed.Load()
	ts := s.lastTs.Load()
	s.qmu.RLock()
	qs := make([]*consumeQueue, 0, len(s.queuesR))
	for _, cq := range s.queuesR {
		qs = append(qs, cq)
	}
	s.qmu.RUnlock()
	for _, cq := range qs {
		if err := cq.flush(); err != nil {
			return err
		}
	}
	if s.ix != nil {
		if err := s.ix.flush(); err != nil {
			return err
		}
	}
	return writeCheckpoint(s.cfg.Dir, checkpoint{SafeOffset: safe, PhysicMsgTimestamp: ts, LogicsMsgTimestamp: ts, IndexMsgTimestamp: ts})
}

// Close flushes everything, writes a clean checkpoint and stops every
// goroutine. Slices from unreleased GetResults stay valid until released.
func (s *Store) Close(ctx context.Context) error {
	s.closeOnce.Do(func() {
		s.appendMu.Lock()
		s.closed = true
		s.isClosed.Store(true)
		s.appendMu.Unlock()
		close(s.stop)
		done := make(chan struct{})
		go func() { s.wg.Wait(); close(done) }()
		select {
		case <-done:
		case <-ctx.Done():
			s.closeErr = fmt.Errorf("store: close: %w", ctx.Err())
			<-done // the loops exit promptly; never unmap under them
		}
		err := s.flushLog(s.wrote.Load())
		s.fmu.Lock()
		reqs := s.pending
		s.pending, s.pendingLate = nil, nil
		s.flushClosed = true
		s.fmu.Unlock()
		completeAll(reqs, err)
		if err == nil {
			err = s.checkpoint()
		}
		if err == nil {
			// Only a complete, durable shutdown may skip crash recovery.
			err = os.Remove(filepath.Join(s.cfg.Dir, "abort"))
		}
		if err != nil && s.closeErr == nil {
			s.closeErr = err
		}
		s.maintMu.Lock()
		s.filesClosed = true
		s.closeFiles()
		s.maintMu.Unlock()
	})
	return s.closeErr
}

func (s *Store) closeFiles() {
	s.cl.close()
	s.qmu.Lock()
	for _, cq := range s.queuesR {
		cq.files.close()
	}
	s.qmu.Unlock()
	if s.ix != nil {
		s.ix.close()
	}
}

// DeleteTopic removes the topic's consume queues. Its records stay in the
// commit log until retention removes their segments.
func (s *Store) DeleteTopic(topic string) error {
	s.maintMu.Lock()
	defer s.maintMu.Unlock()
	if s.filesClosed {
		return ErrClosed
	}
	s.appendMu.Lock()
	var gone []*consumeQueue
	for k, cq := range s.queuesW {
		if k.topic == topic {
			gone = append(gone, cq)
			delete(s.queuesW, k)
		}
	}
	s.qmu.Lock()
	for _, cq := range gone {
		delete(s.queuesR, cq.key)
	}
	s.qmu.Unlock()
	// Move the directory aside while appends are held off, so a message
	// recreating the topic right after cannot have its new files removed
	// by the cleanup below.
	tomb := ""
	if validTopic(topic) {
		tomb = filepath.Join(s.root, fmt.Sprintf(".deleted.%d.%s", time.Now().UnixNano(), topic))
		if err := os.Rename(filepath.Join(s.root, topic), tomb); err != nil && !os.IsNotExist(err) {
			s.appendMu.Unlock()
			return fmt.Errorf("store: delete topic %s: %w", topic, err)
		}
	}
	s.appendMu.Unlock()
	for _, cq := range gone {
		cq.files.close()
	}
	if tomb != "" {
		if err := os.RemoveAll(tomb); err != nil {
			return fmt.Errorf("store: delete topic %s: %w", topic, err)
		}
	}
	return nil
}

// Stats are counters for monitoring. Each is monotonic from Open.
type Stats struct {
	GroupCommits int64 // SYNC_FLUSH fsyncs that released waiters
	GroupWaiters int64 // appends released by them; ratio = batch size
	// DamagedRecords counts the distinct damaged records found (failed
	// layout, checksum or consume-queue cross-checks), by recovery or by
	// reads. None of them was served; each was logged once with its
	// position. Torn writes that crash recovery cuts off are not counted.
	DamagedRecords int64
}

// Stats returns the current counters. It only loads atomics, so a metrics
// scrape may call it as often as it likes.
func (s *Store) Stats() Stats {
	return Stats{
		GroupCommits:   s.groupCommits.Load(),
		GroupWaiters:   s.groupWaiters.Load(),
		DamagedRecords: s.damage.count.Load(),
	}
}

// MinPhysicalOffset is the first commit-log offset still stored.
func (s *Store) MinPhysicalOffset() int64 { return s.clMin.Load() }

// MaxPhysicalOffset is the offset the next record will be written at; on a
// replica, the end of the bytes received so far (possibly mid-record).
func (s *Store) MaxPhysicalOffset() int64 { return max(s.wrote.Load(), s.replEnd.Load()) }

// AppliedOffset is MaxPhysicalOffset read under the append lock. On a
// replica, AppendLog publishes the bytes it received before it dispatches
// the records in them (which makes them readable), both under that lock;
// read without it, MaxPhysicalOffset can cover a record that MessageAt
// does not serve yet. A slave acknowledges this offset to its master, and
// the master's SEND_OK promises the slave holds the message.
func (s *Store) AppliedOffset() int64 {
	s.appendMu.Lock()
	defer s.appendMu.Unlock()
	return s.MaxPhysicalOffset()
}

// FlushedPhysicalOffset is how far the commit log is known durable.
func (s *Store) FlushedPhysicalOffset() int64 { return s.flushed.Load() }

// Topics lists the (topic, queue id) pairs that have consume queues.
func (s *Store) Topics() map[string][]int32 {
	s.qmu.RLock()
	defer s.qmu.RUnlock()
	out := make(map[string][]int32)
	for k := range s.queuesR {
		out[k.topic] = append(out[k.topic], k.id)
	}
	return out
}

func (s *Store) queue(topic string, qid int32) *consumeQueue {
	s.qmu.RLock()
	cq := s.queuesR[queueKey{topic, qid}]
	s.qmu.RUnlock()
	return cq
}

// parseQueueDir reads a consume-queue directory name as a queue id.
func parseQueueDir(name string) (int32, bool) {
	v, err := strconv.ParseInt(name, 10, 32)
	return int32(v), err == nil && v >= 0
}
