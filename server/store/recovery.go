package store

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"

	"github.com/rocketgo/rocketgo/internal/phasetime"
	"github.com/rocketgo/rocketgo/message"
)

// recover brings the files back to a consistent state, clean shutdown or
// not: the checkpoint says how far the log, the consume queues and the index
// were durable together (its SafeOffset), but the files may have been
// damaged since, so it is a starting point, never proof.
//
// Recovery walks the log from a point before the safe offset (at most
// RecoveryVerifyBytes earlier after a crash, CleanRecoveryVerifyBytes after
// a clean shutdown, so restart time does not grow with the store)
// to its end, checking every record's magic, length, own offset, layout and
// body CRC:
//
//   - below the safe offset it only verifies, and puts back consume-queue
//     entries that are missing or wrong for the records it passes;
//   - from the safe offset on it re-creates the consume-queue and index
//     entries, which it removed first (after a crash they may be partial);
//   - damaged bytes followed by intact records are damage in place: they
//     are logged and counted, the records after them stay, and readers
//     refuse the damaged ones, keeping their queue offsets;
//   - damaged bytes with nothing intact after them are the torn or damaged
//     end of the log: the log is cut at them, with every derived entry.
//
// Without a usable checkpoint the whole log is walked and every derived
// entry rebuilt.
//
// No checksum covers a record's queue id and queue offset, so a record
// whose body checks out may still name the wrong slot. A slot already
// taken, or one ahead of the queue that the queue's next record claims
// too, marks it as damaged; a slot ahead that nothing contradicts is
// taken, with holes for the records the damage before it may have eaten.
// One case stays undecidable: a queue id damaged into another queue at
// exactly the offset that queue expects next looks the same as that
// queue's next record being the damaged one, and one damaged to claim
// offset 0 of a queue that holds one record looks the same as the topic
// having been deleted and created again. The first record to claim the
// slot keeps it (the second, for a restart) and the other is counted as
// damaged.
func (s *Store) recover() error {
	lap := phasetime.New()
	abortPath := filepath.Join(s.cfg.Dir, "abort")
	_, statErr := os.Stat(abortPath)
	crashed := statErr == nil
	cp, cpOK, err := readCheckpoint(s.cfg.Dir)
	if err != nil {
		return err
	}
	if err := s.cl.open(); err != nil {
		return err
	}
	segs := s.cl.load()
	if len(segs.files) > 0 {
		s.clMin.Store(segs.files[0].base)
	}
	// Until recovery decides where the log ends, every record counts as
	// read from disk and is checked in full.
	s.openEnd = math.MaxInt64

	// The checkpoint alone says which part of the log the walk reads, so
	// the kernel starts reading it now, while the queues and the index
	// open: from a cold page cache the walk then finds its pages read in
	// one stream instead of faulting them in one by one.
	w := &recoveryWalk{s: s, crashed: crashed, repair: s.o.repair, last: map[*consumeQueue]walkMark{}, below: map[*consumeQueue]int64{}}
	target := int64(-1) // where verification should start; -1: at the first record
	if last := segs.last(); last != nil {
		first := segs.files[0].base
		w.full = !cpOK || s.o.repair
		w.safe = min(max(cp.SafeOffset, first), last.base+s.cl.size)
		if w.full {
			w.safe = first
			w.seen = map[*consumeQueue]bool{}
		} else {
			window := s.cfg.RecoveryVerifyBytes
			if !crashed {
				window = s.cfg.CleanRecoveryVerifyBytes
			}
			if window >= 0 {
				if w.safe-first > window {
					target = w.safe - window
				}
				s.cl.prefetch(max(first, target), min(w.safe+recoveryPrefetchPast, last.base+s.cl.size))
			}
		}
	}
	lap.Done("commitLogOpen")
	best, err := s.openQueuesAndIndex(target)
	if err != nil {
		return err
	}
	lap.Done("queuesAndIndexOpen")

	from := int64(0)
	if last := segs.last(); last != nil {
		from = w.safe
		if !w.full {
			from = s.verifyStart(segs, w.safe, target, best)
		}
		// Where the records end is only known for sure after a clean
		// shutdown; otherwise the consume queues may know of later ones.
		w.knownEnd = w.safe
		if crashed || w.full {
			w.knownEnd = max(w.safe, s.derivedEnd(last.base+s.cl.size))
			if !w.full {
				s.cl.prefetch(w.safe, w.knownEnd)
			}
		}
	}
	lap.Done("verifyStart")
	s.log.Info("recovering store", "crashed", crashed, "checkpoint", cp.SafeOffset, "verifyFrom", from, "dispatchFrom", w.safe)

	// Forget every derived entry at or past the safe offset; the walk
	// re-creates exactly those that belong to surviving records. A full
	// rebuild cuts each queue where its first surviving record says.
	if !w.full {
		for _, cq := range s.queuesW {
			cq.cutFrom(w.safe)
		}
	}
	if s.ix != nil {
		s.ix.undoFrom(w.safe)
	}
	lap.Done("cutDerived")
	end, err := w.run(from)
	if err != nil {
		return err
	}
	w.lowerStarts()
	lap.Done("walk")
	if w.full {
		// Queues without a surviving record keep only entries for deleted
		// segments; anything pointing into the log is stale.
		for _, cq := range s.queuesW {
			if !w.seen[cq] {
				cq.cutFrom(s.clMin.Load())
			}
		}
	}
	s.discardFrom(end)
	s.cl.adviseLast()
	s.openEnd = end
	lap.Done("discardTail")
	for _, cq := range s.queuesW {
		cq.verifyBelow = cq.max.Load()
	}
	if w.redispatched > 0 || end != cp.SafeOffset {
		s.log.Info("recovered commit log", "verifiedFrom", from, "to", end, "redispatched", w.redispatched)
	}

	// Make the rebuilt state durable before admitting new writes, then mark
	// the store as running: a crash from here on is detected by "abort".
	if err := s.cl.syncRange(max(w.safe, s.clMin.Load()), end); err != nil {
		return err
	}
	lap.Done("syncRebuilt")
	s.flushed.Store(end)
	if err := s.checkpoint(); err != nil {
		return err
	}
	f, err := os.OpenFile(abortPath, os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return fmt.Errorf("store: create abort marker: %w", err)
	}
	lap.Done("checkpoint")
	s.log.Debug("store recovery phases", lap.Attrs("queues", len(s.queuesW), "segments", len(segs.files), "verifiedBytes", end-from)...)
	return f.Close()
}

// recoveryPrefetchPast is how far past the checkpoint's safe offset
// recovery reads ahead: after a clean shutdown the log ends there, after a
// crash the last second of appends may follow.
const recoveryPrefetchPast = 1 << 20

// recoveryOpeners bounds the goroutines that open consume queues side by
// side. Each queue costs a few dependent random reads on a cold page cache
// (the bounds of its last file); running them in parallel overlaps their
// waits.
const recoveryOpeners = 16

// openQueuesAndIndex maps the index files and every consume queue found on
// disk, side by side. With target >= 0 it returns the earliest log
// position at or after target that some queue's entry points to
// (math.MaxInt64 if none), and starts reading each queue's entries from
// there on, which the walk checks.
func (s *Store) openQueuesAndIndex(target int64) (int64, error) {
	var ixErr error
	var wg sync.WaitGroup
	if s.ix != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ixErr = s.ix.open()
		}()
	}
	best, err := s.openQueues(target)
	wg.Wait()
	return best, errors.Join(err, ixErr)
}

// openQueues maps every consume queue found on disk (see
// openQueuesAndIndex for target and the result).
func (s *Store) openQueues(target int64) (int64, error) {
	keys, err := s.queueDirs()
	if err != nil {
		return 0, err
	}
	type opened struct {
		cq   *consumeQueue
		near int64 // first entry's record at or after target
		err  error
	}
	results := make([]opened, len(keys))
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(recoveryOpeners, len(keys)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				results[i] = opened{near: math.MaxInt64}
				cq := newConsumeQueue(s.root, keys[i], s.cfg.ConsumeQueueEntriesPerFile, s.o.alloc)
				if err := cq.files.open(); err != nil {
					results[i].err = err
					continue
				}
				cq.recoverBounds(s.clMin.Load())
				cq.flushed = cq.max.Load()
				results[i].cq = cq
				if target < 0 {
					continue
				}
				q := cq.searchPhy(target)
				if p, _, _, ok := cq.lookup(q); ok && p >= target {
					results[i].near = p
				}
				cq.files.prefetch(q*cqEntrySize, cq.max.Load()*cqEntrySize)
			}
		}()
	}
	for i := range keys {
		next <- i
	}
	close(next)
	wg.Wait()
	best := int64(math.MaxInt64)
	var errs []error
	for _, r := range results {
		if r.cq != nil {
			// Even when another queue failed: closeFiles unmaps these.
			s.queuesW[r.cq.key] = r.cq
			s.queuesR[r.cq.key] = r.cq
			best = min(best, r.near)
		}
		if r.err != nil {
			errs = append(errs, r.err)
		}
	}
	return best, errors.Join(errs...)
}

// queueDirs lists the consume queues on disk, removing what an
// interrupted DeleteTopic left behind.
func (s *Store) queueDirs() ([]queueKey, error) {
	topics, err := os.ReadDir(s.root)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("store: read dir %s: %w", s.root, err)
	}
	var keys []queueKey
	for _, t := range topics {
		if strings.HasPrefix(t.Name(), ".deleted.") {
			// DeleteTopic was interrupted before its cleanup finished.
			os.RemoveAll(filepath.Join(s.root, t.Name()))
			continue
		}
		if !t.IsDir() || !validTopic(t.Name()) {
			continue
		}
		qdirs, err := os.ReadDir(filepath.Join(s.root, t.Name()))
		if err != nil {
			return nil, fmt.Errorf("store: read dir: %w", err)
		}
		for _, q := range qdirs {
			if id, ok := parseQueueDir(q.Name()); q.IsDir() && ok {
				keys = append(keys, queueKey{t.Name(), id})
			}
		}
	}
	return keys, nil
}

// verifyStart picks where recovery starts verifying: at target (window
// bytes before the safe offset; -1 for the whole log), moved to a record
// boundary. Any consume-queue entry gives one; best, the earliest at or
// after the target, is taken, and checked, since it comes from a file
// that may be damaged too. Failing that, the start of the segment holding
// the target always is one.
func (s *Store) verifyStart(segs *segmentList, safe, target, best int64) int64 {
	first := segs.files[0].base
	if target < 0 {
		return first
	}
	seg := segs.find(target, s.cl.size)
	if seg == nil {
		return first
	}
	if f := segs.find(best, s.cl.size); best < safe && f != nil {
		if _, err := recordAt(f, best, true); err == nil {
			return best
		}
	}
	return seg.base
}

// derivedEnd is the furthest record end any consume queue points to, below
// limit: after a crash, records up to there were written.
func (s *Store) derivedEnd(limit int64) int64 {
	end := int64(0)
	for _, cq := range s.queuesW {
		if m := cq.max.Load(); m > cq.min.Load() {
			if p, size, _, ok := cq.lookup(m - 1); ok && size > 0 && p >= 0 && p+int64(size) <= limit {
				end = max(end, p+int64(size))
			}
		}
	}
	return end
}

// errInconsistent marks a record whose checksum holds but whose place in
// its queue does not: its header (which no checksum covers) is damaged.
var errInconsistent = errors.New("record does not continue its queue")

// errQuarantined marks a run that `store check -repair` already marked.
var errQuarantined = errors.New("quarantined by store check -repair")

// recoveryWalk is the state of one pass over the log.
type recoveryWalk struct {
	s        *Store
	crashed  bool
	full     bool  // no usable checkpoint (or repair): rebuild everything
	repair   bool  // quarantine damaged runs
	safe     int64 // derived entries are re-created from here
	knownEnd int64 // records may exist up to here; resync searches no further

	keys         []uint32
	redispatched int
	runs         []span                     // damaged runs kept in place
	open         span                       // the run before the record being dispatched (from < 0: none)
	walked       int64                      // records met at or past safe, damaged or not
	last         map[*consumeQueue]walkMark // the last entry put per queue
	seen         map[*consumeQueue]bool     // full rebuild: queues already cut
	below        map[*consumeQueue]int64    // the lowest entry restored below a queue's start
}

// lowerStarts moves each queue's start back over the entries the walk
// restored below it, as far as every entry from there on points at its own
// record: never over an entry of a record retention deleted.
func (w *recoveryWalk) lowerStarts() {
	for cq, lo := range w.below {
		m := cq.min.Load()
		for m > lo {
			if _, ok := w.s.homeEntry(cq, m-1); !ok {
				break
			}
			m--
		}
		cq.min.Store(m)
	}
}

type span struct{ from, to int64 }

// walkMark is where the walk was when it put a queue's last entry.
type walkMark struct{ phy, walked int64 }

// run walks from off and returns where the valid log ends.
func (w *recoveryWalk) run(off int64) (int64, error) {
	s := w.s
	segs := s.cl.load()
	bad := int64(-1) // start of the current run of damaged bytes
	var badErr error
	known := false // the run so far is one quarantined record
	for {
		seg := segs.find(off, s.cl.size)
		if seg == nil {
			break
		}
		size, err := recordAt(seg, off, true)
		if off >= w.safe && !(err == nil && size < 0) {
			w.walked++
		}
		if err == nil && size < 0 { // blank marker: continue in the next segment
			if bad >= 0 {
				w.inPlace(bad, off, badErr, known)
				bad = -1
			}
			off = seg.base + s.cl.size
			continue
		}
		if err == nil && off-seg.base+int64(size)+blankLen > s.cl.size {
			err = fmt.Errorf("%w: record at %d overruns its segment", message.ErrCorrupt, off)
		}
		if err == nil {
			rec, _ := message.ParseStored(seg.data[off-seg.base:], false)
			if off < w.safe {
				w.reconcile(rec)
			} else {
				w.open = span{bad, off}
				if err = w.dispatch(rec, false); err != nil && !errors.Is(err, errInconsistent) {
					return off, err
				}
			}
		}
		if err == nil {
			if bad >= 0 {
				w.inPlace(bad, off, badErr, known)
				bad = -1
			}
			off += int64(size)
			continue
		}
		q := isQuarantined(seg.data[off-seg.base:])
		if q {
			err = errQuarantined
		}
		if bad < 0 {
			bad, badErr, known = off, err, q
		} else {
			known = known && q
		}
		if off >= w.safe {
			w.open = span{-1, 0}
			w.placeholder(seg, off)
		}
		next := w.resync(seg, off)
		if next < 0 {
			break
		}
		off = next
	}
	if bad >= 0 {
		w.tail(bad, badErr)
		return bad, nil
	}
	return off, nil
}

// resync finds where intact records resume after the damaged one at off.
func (w *recoveryWalk) resync(seg *mappedFile, off int64) int64 {
	return resyncAfter(seg, off, w.s.cl.size, w.knownEnd, seg == w.s.cl.load().last())
}

// resyncAfter finds where intact records resume after the damaged bytes at
// off in seg (of a log with segSize-long segments): right after them when
// their framing (length, magic, own offset) survived and something sound
// follows, else at the next self-identifying record. In the last segment
// the search stops at limit. It returns -1 when nothing intact follows,
// which makes the damage the end of the log.
func resyncAfter(seg *mappedFile, off, segSize, limit int64, lastSeg bool) int64 {
	pos := off - seg.base
	segEnd := seg.base + segSize
	if b := seg.data[pos:]; int64(len(b)) >= minRecordLen {
		n := int64(int32(get32(b)))
		m := get32(b[message.OffMagic:])
		if (magicOK(m) || m == quarantineMagic) && get64(b[message.OffPhysicalOffset:]) == off &&
			n >= minRecordLen && pos+n+blankLen <= segSize {
			// Trust the length only if something sound follows it and
			// nothing sound lies inside it: a damaged length must not make
			// the walk skip good records. Records never overlap, so an
			// intact record within the claimed length means the length is
			// what was damaged — be it one reaching past the log's end
			// (which passes for a torn last write) or one that happens to
			// land on a later record.
			next := off + n
			if _, err := recordAt(seg, next, true); err == nil || (lastSeg && next >= limit) || isQuarantined(seg.data[next-seg.base:]) {
				inside := next
				if lastSeg {
					inside = min(next, limit)
				}
				if p := findRecord(seg, off+1, inside); p >= 0 {
					return p
				}
				return next
			}
		}
	}
	if !lastSeg {
		limit = segEnd
	}
	if p := findRecord(seg, off+1, min(limit, segEnd)); p >= 0 {
		return p
	}
	if !lastSeg {
		return segEnd // a later segment starts with a record, or the walk finds its damage
	}
	return -1
}

// recordMagicPrefix is the first three bytes of both record magics.
var recordMagicPrefix = [3]byte{0xDA, 0xA3, 0x20}

// findRecord returns the first position in [from, limit) of seg holding an
// intact record that names that position as its own offset, or -1. Only
// such a record is accepted, so bytes that merely look like a header (in a
// body, say) are not.
func findRecord(seg *mappedFile, from, limit int64) int64 {
	for from+minRecordLen <= limit {
		lo := from - seg.base + message.OffMagic
		hi := min(limit-seg.base+message.OffMagic, seg.size)
		if lo >= hi {
			return -1
		}
		i := bytes.Index(seg.data[lo:hi], recordMagicPrefix[:])
		if i < 0 {
			return -1
		}
		c := from + int64(i)
		p := c - seg.base
		if m := seg.data[p+message.OffMagic+3]; (m == 0xA7 || m == 0xAB) && p+minRecordLen <= seg.size &&
			get64(seg.data[p+message.OffPhysicalOffset:]) == c {
			if n, err := recordAt(seg, c, true); err == nil && n > 0 {
				return c
			}
		}
		from = c + 1
	}
	return -1
}

// inPlace handles damaged bytes [from, to) with intact records after them.
func (w *recoveryWalk) inPlace(from, to int64, cause error, known bool) {
	if to > w.safe {
		w.runs = append(w.runs, span{from, to})
	}
	if known {
		return // quarantined by an earlier repair; readers refuse it already
	}
	w.s.recordDamaged(from, "damaged records inside the commit log: kept, never served", cause, "length", to-from)
	if w.repair {
		w.s.quarantine(from, to)
	}
}

// tail reports the damaged bytes the log is cut at.
func (w *recoveryWalk) tail(at int64, cause error) {
	s := w.s
	seg := s.cl.load().find(at, s.cl.size)
	if seg == nil || allZero(seg.data[at-seg.base:min(at-seg.base+64, seg.size)]) || errors.Is(cause, errQuarantined) {
		return // the log simply ends here
	}
	if w.crashed {
		// A write torn by the crash, most likely: nobody was told it was stored.
		s.log.Warn("commit log ends in a torn or damaged record; truncating", "offset", at, "err", cause)
		return
	}
	s.recordDamaged(at, "commit log ends in a damaged record after a clean shutdown; truncating", cause)
}

// reconcile checks, below the safe offset, that the record's consume-queue
// entry exists and points at it, and puts it back when the entry is
// missing at the queue's end or does not point at a servable record. An
// entry that serves another good record is left alone: a topic deleted and
// created again reuses queue offsets.
func (w *recoveryWalk) reconcile(rec message.StoredRecord) {
	s := w.s
	if tx := rec.SysFlag & message.SysFlagTxMask; tx == message.SysFlagTxPrepared || tx == message.SysFlagTxRollback {
		return
	}
	cq := s.queuesW[queueKey{string(rec.Topic), rec.QueueID}]
	if cq == nil {
		return // never re-create a deleted topic's queue
	}
	q, phy := rec.QueueOffset, rec.PhysicalOffset
	maxOff := cq.max.Load()
	first := int64(0)
	if l := cq.files.load(); len(l.files) > 0 {
		first = l.files[0].base / cqEntrySize
	}
	if q < first || q > maxOff {
		return
	}
	if q < maxOff {
		if p, size, _, ok := cq.lookup(q); ok && p == phy && size == rec.TotalSize {
			return // the entry points at this record, just verified
		}
		if _, ok := s.validEntry(cq, q); ok {
			return
		}
	}
	// Entries run in log order: only a record between its neighbours'
	// records belongs at q. A neighbour entry is evidence only if it
	// points at its own record: one damaged write often spans two
	// entries.
	if p, ok := s.validEntry(cq, q-1); ok && p >= phy {
		return
	}
	if p, ok := s.validEntry(cq, q+1); ok && p <= phy {
		return
	}
	if err := cq.ensure(q); err != nil {
		return
	}
	cq.put(q, phy, rec.TotalSize, s.tagsOf(string(rec.Topic), rec))
	cq.flushed = min(cq.flushed, q)
	if q < cq.min.Load() {
		// A damaged first entry made opening the queue place its start
		// past this record; lowerStarts moves it back once the walk is done.
		if b, ok := w.below[cq]; !ok || q < b {
			w.below[cq] = q
		}
	}
	if q == maxOff {
		cq.next = q + 1
		cq.max.Store(q + 1)
	}
	s.log.Warn("consume-queue entry restored from the commit log", "topic", cq.key.topic, "queueId", cq.key.id, "queueOffset", q, "offset", phy)
}

// homeEntry returns the record offset of entry q of cq, read from the
// queue's files whatever the queue's start, and whether it points at a
// record that names queue offset q.
func (s *Store) homeEntry(cq *consumeQueue, q int64) (int64, bool) {
	if q < 0 {
		return 0, false
	}
	f := cq.files.load().find(q*cqEntrySize, cq.files.size)
	if f == nil || !f.hold() {
		return 0, false
	}
	phy, size, _ := cqEntry(f, q)
	f.release()
	seg := s.cl.load().find(phy, s.cl.size)
	return phy, seg != nil && s.checkEntry(seg, phy, size, cq.key.topic, cq.key.id, q) == nil
}

// validEntry is homeEntry for an entry inside the queue, which readers
// serve.
func (s *Store) validEntry(cq *consumeQueue, q int64) (int64, bool) {
	if q < cq.min.Load() || q >= cq.max.Load() {
		return 0, false
	}
	return s.homeEntry(cq, q)
}

// placeholder keeps the queue offset of a damaged record whose header still
// names its queue: an entry points at it (readers refuse it), so the
// records after it keep their offsets and consumers that had read past it
// are not handed a new message under an old offset.
func (w *recoveryWalk) placeholder(seg *mappedFile, off int64) {
	rec, err := message.ParseStored(seg.data[off-seg.base:], false)
	if err != nil || rec.PhysicalOffset != off || !validTopic(string(rec.Topic)) || rec.QueueID < 0 ||
		rec.QueueOffset < 0 || rec.QueueOffset > maxQueueOffset {
		return
	}
	w.dispatch(rec, true)
}

// dispatch re-creates the derived entries of a record at or past the safe
// offset. A damaged record gets its queue entry only. It returns
// errInconsistent, changing nothing, when the record cannot take its
// queue offset.
func (w *recoveryWalk) dispatch(rec message.StoredRecord, damaged bool) error {
	s := w.s
	topic := string(rec.Topic)
	if tx := rec.SysFlag & message.SysFlagTxMask; tx == message.SysFlagTxPrepared || tx == message.SysFlagTxRollback {
		if damaged {
			return nil
		}
		var err error
		w.keys, err = s.reindex(rec, topic, w.keys[:0])
		return err
	}
	key := queueKey{topic, rec.QueueID}
	cq := s.queuesW[key]
	if cq == nil {
		cq = newConsumeQueue(s.root, key, s.cfg.ConsumeQueueEntriesPerFile, s.o.alloc)
		cq.files.list.Store(&segmentList{})
		s.queuesW[key] = cq
		s.qmu.Lock()
		s.queuesR[key] = cq
		s.qmu.Unlock()
	}
	q := rec.QueueOffset
	if damaged && (q != cq.next || (w.full && !w.seen[cq])) {
		// A damaged header may only fill the very next slot.
		return errInconsistent
	}
	if w.full && !w.seen[cq] {
		// The first surviving record of a queue says where its entries
		// start; a queue missing entries before it restarts there.
		w.seen[cq] = true
		if q <= cq.max.Load() {
			cq.truncate(q)
		} else {
			cq.reset()
		}
	}
	if cq.files.load().last() != nil && q != cq.next {
		at, n := w.missing(cq, rec.PhysicalOffset)
		switch {
		case q == 0 && w.restarts(key, rec.PhysicalOffset+int64(rec.TotalSize)):
			cq.truncate(0) // the topic was deleted and created again
		case q > cq.next && q-cq.next <= n && !w.contradicted(key, rec.PhysicalOffset+int64(rec.TotalSize), cq.next, q):
			// Records of this queue were lost to damage since its last
			// entry: hole entries keep their offsets, so every later
			// offset stays where consumers know it.
			for ; cq.next < q; cq.next++ {
				if err := cq.ensure(cq.next); err != nil {
					return errInconsistent
				}
				cq.put(cq.next, at, holeSize, 0)
			}
			cq.max.Store(cq.next)
			w.s.log.Warn("queue offsets lost to damage kept as holes", "topic", topic, "queueId", rec.QueueID, "upTo", q, "offset", at)
		default:
			return errInconsistent
		}
	}
	if err := cq.ensure(q); err != nil {
		if errors.Is(err, ErrCorruptStore) {
			return errInconsistent
		}
		return err
	}
	tags := int64(0)
	if !damaged {
		var err error
		if w.keys, err = s.reindex(rec, topic, w.keys[:0]); err != nil {
			return err
		}
		tags = s.tagsOf(topic, rec)
	}
	cq.put(q, rec.PhysicalOffset, rec.TotalSize, tags)
	cq.next = q + 1
	cq.max.Store(cq.next)
	w.last[cq] = walkMark{rec.PhysicalOffset, w.walked}
	w.redispatched++
	return nil
}

// missing bounds how many records of cq can have been lost since its last
// entry: one per record the walk has passed since (its header may have
// been damaged into another queue), plus as many as fit in the damaged runs
// since. at is where hole entries point: the first such run, or the record
// being dispatched.
func (w *recoveryWalk) missing(cq *consumeQueue, phy int64) (at, n int64) {
	last, ok := w.last[cq]
	if !ok {
		last = walkMark{phy: w.safe - 1}
	}
	at = phy
	runs := w.runs
	if w.open.from >= 0 {
		runs = append(runs[:len(runs):len(runs)], w.open)
	}
	var damaged int64
	for _, r := range runs {
		// A run may begin with the queue's last entry itself: a damaged
		// record whose header still named its slot (a placeholder). What
		// follows it in the run may have held more of the queue.
		from := max(r.from, last.phy)
		if r.to > last.phy && from < phy {
			at = min(at, from)
			damaged += r.to - from
		}
	}
	return at, w.walked - last.walked - 1 + damaged/minRecordLen
}

// claimLookahead bounds how many records nextClaim reads.
const claimLookahead = 4096

// nextClaim returns the queue offset claimed by the first intact record
// of key from off on; ok is false when none is found within
// claimLookahead records.
func (w *recoveryWalk) nextClaim(key queueKey, off int64) (q int64, ok bool) {
	segs := w.s.cl.load()
	for n := 0; n < claimLookahead; n++ {
		seg := segs.find(off, w.s.cl.size)
		if seg == nil {
			return 0, false
		}
		size, err := recordAt(seg, off, true)
		if err != nil {
			return 0, false
		}
		if size < 0 {
			off = seg.base + w.s.cl.size
			continue
		}
		rec, _ := message.ParseStored(seg.data[off-seg.base:], false)
		if rec.QueueID == key.id && string(rec.Topic) == key.topic {
			return rec.QueueOffset, true
		}
		off += int64(size)
	}
	return 0, false
}

// contradicted tells whether a record claiming offset q of key, when
// next was due, has its own queue-offset field damaged rather than
// following lost records: the queue's next record, looked for from off
// on, claims an offset from next to q, which the two cannot both hold.
// One damaged header explains that; lost records would need a second.
func (w *recoveryWalk) contradicted(key queueKey, off, next, q int64) bool {
	c, ok := w.nextClaim(key, off)
	return ok && c >= next && c <= q
}

// restarts tells a queue that starts over at offset 0 (its topic deleted
// and created again) from a record whose queue-offset field was damaged to
// 0: the queue's next record, looked for from off on, says 1 in the first
// case. When none is found the record counts as damaged, since wrongly
// starting the queue over would drop every entry it has.
func (w *recoveryWalk) restarts(key queueKey, off int64) bool {
	q, ok := w.nextClaim(key, off)
	return ok && q == 1
}

var errQueueGap = errors.New("queue offset out of sequence")

// redispatch derives the entries of a record a replica received. Unlike
// recovery it accepts no damage: a record that does not continue its
// queue is refused, and the master is asked to send it again.
func (s *Store) redispatch(rec message.StoredRecord, keys []uint32) ([]uint32, error) {
	topic := string(rec.Topic)
	tx := rec.SysFlag & message.SysFlagTxMask
	if tx == message.SysFlagTxPrepared || tx == message.SysFlagTxRollback {
		return s.reindex(rec, topic, keys)
	}
	key := queueKey{topic, rec.QueueID}
	cq := s.queuesW[key]
	if cq == nil {
		cq = newConsumeQueue(s.root, key, s.cfg.ConsumeQueueEntriesPerFile, s.o.alloc)
		cq.files.list.Store(&segmentList{})
		s.queuesW[key] = cq
		s.qmu.Lock() // replicas dispatch while readers run
		s.queuesR[key] = cq
		s.qmu.Unlock()
	}
	// A jump ahead means a damaged header or lost entries. A step back
	// happens legitimately when a deleted topic was recreated; the newer
	// records win.
	if cq.files.load().last() != nil && rec.QueueOffset != cq.next {
		if rec.QueueOffset > cq.next || rec.QueueOffset < 0 {
			return keys, fmt.Errorf("%w: %s/%d expects %d, record has %d", errQueueGap, topic, rec.QueueID, cq.next, rec.QueueOffset)
		}
		cq.truncate(rec.QueueOffset)
	}
	if err := cq.ensure(rec.QueueOffset); err != nil {
		if errors.Is(err, ErrCorruptStore) {
			return keys, fmt.Errorf("%w: %w", errQueueGap, err)
		}
		return keys, err
	}
	keys, err := s.reindex(rec, topic, keys)
	if err != nil {
		return keys, err
	}
	cq.put(rec.QueueOffset, rec.PhysicalOffset, rec.TotalSize, s.tagsOf(topic, rec))
	cq.next = rec.QueueOffset + 1
	cq.max.Store(cq.next)
	return keys, nil
}

// tagsOf computes a record's consume-queue tag code as an append does.
func (s *Store) tagsOf(topic string, rec message.StoredRecord) int64 {
	var tags int64
	if tag, ok := message.LookupProperty(rec.Properties, propTags); ok {
		tags = message.TagsHashCode(string(tag))
	}
	if s.o.tagsCode != nil {
		tags = s.o.tagsCode(topic, rec.Properties, rec.StoreTimestamp, tags)
	}
	return tags
}

// reindex re-creates the index entries of a recovered record.
func (s *Store) reindex(rec message.StoredRecord, topic string, keys []uint32) ([]uint32, error) {
	if s.ix == nil {
		return keys, nil
	}
	keys = appendKeyHashes(keys, topic, rec.Properties, s.keyLimit(topic))
	if len(keys) == 0 {
		return keys, nil
	}
	if err := s.ix.ensure(len(keys), s.o.clock()); err != nil {
		return keys, err
	}
	for _, h := range keys {
		s.ix.put(h, rec.PhysicalOffset, rec.StoreTimestamp)
	}
	return keys, nil
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// discardFrom removes every record at or after end and every consume-queue
// and index entry pointing at them, and makes end the end of the log.
// Recovery calls it once the valid end is known. A caller at run time must
// hold the append lock and must know that no reader holds slices past end
// (the bytes are zeroed).
func (s *Store) discardFrom(end int64) {
	for _, cq := range s.queuesW {
		cq.cutFrom(end)
	}
	if s.ix != nil {
		s.ix.undoFrom(end)
	}
	s.truncateLog(end)
	s.wrote.Store(end)
}

// truncateLog discards everything at or after end: later segments are
// deleted and the rest of end's segment is zeroed, so a stale record beyond
// the cut can never be mistaken for a new one by a later recovery.
func (s *Store) truncateLog(end int64) {
	segs := s.cl.load()
	seg := segs.find(end, s.cl.size)
	if seg == nil {
		if last := segs.last(); last != nil && end < last.base {
			s.cl.dropFrom(end - end%s.cl.size + s.cl.size)
		}
		return
	}
	s.cl.dropFrom(seg.base + s.cl.size)
	zeroTail(seg, end-seg.base)
}

// quarantine marks the damaged run [from, to) so that readers refuse it
// and recovery and the checker step over it (see quarantineMagic). It
// needs room for the header fields it writes.
func (s *Store) quarantine(from, to int64) {
	seg := s.cl.load().find(from, s.cl.size)
	if seg == nil || to-from < message.OffPhysicalOffset+8 || to > seg.base+s.cl.size {
		return
	}
	pos := from - seg.base
	b := seg.data[pos:]
	n := uint32(to - from)
	b[0], b[1], b[2], b[3] = byte(n>>24), byte(n>>16), byte(n>>8), byte(n)
	m := quarantineMagic
	b[4], b[5], b[6], b[7] = byte(m>>24), byte(m>>16), byte(m>>8), byte(m)
	put64(b[message.OffPhysicalOffset:], from)
	if err := seg.sync(pos, pos+message.OffPhysicalOffset+8); err != nil {
		s.log.Error("quarantine mark not flushed", "offset", from, "err", err)
	}
}

// zeroTail clears [from, size) of a mapped file. Whole pages are punched out
// and re-allocated, which zeroes them without faulting a possibly huge range
// into memory; the partial first page is cleared by hand.
func zeroTail(f *mappedFile, from int64) {
	page := int64(os.Getpagesize())
	first := (from + page - 1) / page * page
	clear(f.data[from:min(first, f.size)])
	if first >= f.size {
		return
	}
	fd := int(f.f.Fd())
	const punch = 0x02 | 0x01 // FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE
	if syscall.Fallocate(fd, punch, first, f.size-first) == nil {
		// Reserve the blocks again so later writes cannot hit ENOSPC
		// through the mapping. Failure only loses that guarantee.
		syscall.Fallocate(fd, 0, first, f.size-first)
		return
	}
	clear(f.data[first:])
}
