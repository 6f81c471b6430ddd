package store

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/rocketgo/rocketgo/message"
)

// recover brings the files back to a consistent state.
//
// After a clean close the checkpoint's safe offset is the exact end of the
// log and nothing is rescanned. After a crash (the abort file is still
// there) recovery starts one segment before the safe point, verifies every
// record's magic, length, offset and body CRC, cuts the log at the first
// failure, and rebuilds consume-queue and index entries from the start of
// the scan so they agree exactly with the surviving records.
func (s *Store) recover() error {
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
	if err := s.openQueues(); err != nil {
		return err
	}
	if s.ix != nil {
		if err := s.ix.open(); err != nil {
			return err
		}
	}

	start := cp.SafeOffset
	if crashed || !cpOK {
		start -= start % s.cl.size
		start -= s.cl.size // the previous segment may hold torn pages too
	}
	if last := segs.last(); last == nil {
		start = 0
	} else {
		start = max(start, segs.files[0].base)
		start = min(start, last.base+s.cl.size)
	}
	s.log.Info("recovering store", "crashed", crashed, "checkpoint", cp.SafeOffset, "scanFrom", start)

	// Forget every derived entry at or past the scan start; the scan
	// re-creates exactly those that belong to surviving records.
	for _, cq := range s.queuesW {
		cq.truncate(cq.searchPhy(start))
	}
	if s.ix != nil {
		s.ix.undoFrom(start)
	}
	end, n, err := s.scanAndDispatch(start, crashed || !cpOK)
	if err != nil {
		return err
	}
	s.truncateLog(end)
	s.wrote.Store(end)
	if n > 0 || end != cp.SafeOffset {
		s.log.Info("recovered commit log", "from", start, "to", end, "redispatched", n)
	}

	// Make the rebuilt state durable before admitting new writes, then mark
	// the store as running: a crash from here on is detected by "abort".
	if err := s.cl.syncRange(max(start, s.clMin.Load()), end); err != nil {
		return err
	}
	s.flushed.Store(end)
	if err := s.checkpoint(); err != nil {
		return err
	}
	f, err := os.OpenFile(abortPath, os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return fmt.Errorf("store: create abort marker: %w", err)
	}
	return f.Close()
}

// openQueues maps every consume queue found on disk.
func (s *Store) openQueues() error {
	topics, err := os.ReadDir(s.root)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("store: read dir %s: %w", s.root, err)
	}
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
			return fmt.Errorf("store: read dir: %w", err)
		}
		for _, q := range qdirs {
			id, ok := parseQueueDir(q.Name())
			if !q.IsDir() || !ok {
				continue
			}
			key := queueKey{t.Name(), id}
			cq := newConsumeQueue(s.root, key, s.cfg.ConsumeQueueEntriesPerFile, s.o.alloc)
			if err := cq.files.open(); err != nil {
				return err
			}
			cq.recoverBounds(s.clMin.Load())
			cq.flushed = cq.max.Load()
			s.queuesW[key] = cq
			s.queuesR[key] = cq
		}
	}
	return nil
}

// scanAndDispatch walks records from start, re-creating their consume-queue
// and index entries, and returns where the valid log ends.
func (s *Store) scanAndDispatch(start int64, verifyCRC bool) (end int64, n int, err error) {
	off := start
	segs := s.cl.load()
	var keys []uint32
	for {
		seg := segs.find(off, s.cl.size)
		if seg == nil {
			return off, n, nil
		}
		size, perr := recordAt(seg, off, verifyCRC)
		if perr != nil {
			if !allZero(seg.data[off-seg.base : min(off-seg.base+64, seg.size)]) {
				s.log.Warn("commit log ends in a damaged record; truncating", "offset", off, "err", perr)
			}
			return off, n, nil
		}
		if size < 0 { // blank marker: continue in the next segment
			off = seg.base + s.cl.size
			continue
		}
		if off-seg.base+int64(size)+blankLen > s.cl.size {
			s.log.Warn("record overruns its segment; truncating", "offset", off)
			return off, n, nil
		}
		rec, _ := message.ParseStored(seg.data[off-seg.base:], false)
		keys, err = s.redispatch(rec, keys[:0])
		if errors.Is(err, errQueueGap) {
			s.log.Warn("record breaks its queue's offset sequence; truncating", "offset", off, "err", err)
			return off, n, nil
		}
		if err != nil {
			return off, n, err
		}
		n++
		off += int64(size)
	}
}

var errQueueGap = errors.New("queue offset out of sequence")

// redispatch rebuilds the derived entries of one recovered record.
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
	// Header fields carry no checksum, so the queue offset is checked
	// against the sequence instead. A jump ahead means a damaged header
	// (or lost entries): the log is cut there. A step back happens
	// legitimately when a deleted topic was recreated; the newer records
	// win.
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
	if keys, err := s.reindex(rec, topic, keys); err != nil {
		return keys, err
	}
	var tags int64
	if tag, ok := message.LookupProperty(rec.Properties, propTags); ok {
		tags = message.TagsHashCode(string(tag))
	}
	if s.o.tagsCode != nil {
		tags = s.o.tagsCode(topic, rec.Properties, rec.StoreTimestamp, tags)
	}
	cq.put(rec.QueueOffset, rec.PhysicalOffset, rec.TotalSize, tags)
	cq.next = rec.QueueOffset + 1
	cq.max.Store(cq.next)
	return keys, nil
}

// reindex re-creates the index entries of a recovered record.
func (s *Store) reindex(rec message.StoredRecord, topic string, keys []uint32) ([]uint32, error) {
	if s.ix == nil {
		return keys, nil
	}
	keys = appendKeyHashes(keys, topic, rec.Properties)
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
