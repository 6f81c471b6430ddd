package store

import (
	"errors"
	"fmt"
)

// Runtime truncation serves replication with automatic failover: a broker
// demoted from master may hold log bytes its successor never received;
// before it follows the new master it cuts its log back to the last offset
// both share (found from their epoch files), and a replica promoted to
// master first drops a trailing partial record it was still receiving.
// Recovery cuts a log at open time; Truncate does the same on a running
// store.

// ErrBadTruncation reports a truncation point that is not a record
// boundary inside the retained log.
var ErrBadTruncation = errors.New("store: invalid truncation point")

// LastRecordEnd is the end of the last complete record: MaxPhysicalOffset
// less a partial record a replica is still receiving.
func (s *Store) LastRecordEnd() int64 { return s.wrote.Load() }

// Truncate discards every record at or after offset: the commit-log bytes
// (zeroed and flushed, so a later recovery cannot resurrect them), their
// consume-queue entries and their index entries. offset must be a record
// boundary between MinPhysicalOffset and LastRecordEnd; a partial record
// past LastRecordEnd is always dropped. Appends wait while it runs;
// readers holding results keep valid (possibly zeroed) slices.
func (s *Store) Truncate(offset int64) error {
	if err := s.truncate(offset); err != nil {
		return err
	}
	// Record the shortened log as the safe point at once.
	return s.checkpoint()
}

func (s *Store) truncate(offset int64) error {
	s.maintMu.Lock()
	defer s.maintMu.Unlock()
	if s.filesClosed {
		return ErrClosed
	}
	s.appendMu.Lock()
	defer s.appendMu.Unlock()
	if s.closed {
		return ErrClosed
	}
	wrote := s.wrote.Load()
	if offset == wrote && s.replEnd.Load() <= wrote {
		return nil
	}
	if err := s.checkBoundary(offset, wrote); err != nil {
		return err
	}
	for _, cq := range s.queuesW {
		cq.truncate(cq.searchPhy(offset))
	}
	if s.ix != nil {
		s.ix.undoFrom(offset)
	}
	s.truncMu.Lock()
	s.truncGen++
	s.truncateLog(offset)
	s.wrote.Store(offset)
	s.replEnd.Store(offset)
	s.wbAsked = min(s.wbAsked, offset)
	if s.flushed.Load() > offset {
		s.flushed.Store(offset)
	}
	s.truncMu.Unlock()
	if seg := s.cl.load().find(offset, s.cl.size); seg != nil {
		if err := seg.sync(offset-seg.base, s.cl.size); err != nil {
			return err
		}
	}
	s.log.Info("commit log truncated", "to", offset, "from", max(wrote, s.replEnd.Load()))
	return nil
}

// checkBoundary verifies that offset starts a record or a segment's blank
// marker, or is the end of the records.
func (s *Store) checkBoundary(offset, wrote int64) error {
	if offset < s.clMin.Load() || offset > wrote {
		return fmt.Errorf("%w: %d is outside the records [%d, %d]", ErrBadTruncation, offset, s.clMin.Load(), wrote)
	}
	if offset == wrote {
		return nil
	}
	seg := s.cl.load().find(offset, s.cl.size)
	if seg == nil {
		return fmt.Errorf("%w: no segment holds %d", ErrBadTruncation, offset)
	}
	if _, err := recordAt(seg, offset, false); err != nil {
		return fmt.Errorf("%w: no record starts at %d: %v", ErrBadTruncation, offset, err)
	}
	return nil
}

// truncationGen reads the truncation count for flushLog.
func (s *Store) truncationGen() uint64 {
	s.truncMu.Lock()
	defer s.truncMu.Unlock()
	return s.truncGen
}

// publishFlushed records that the log is durable up to target, unless a
// truncation happened since the flush read its target: the bytes it
// synced may no longer be the log's.
func (s *Store) publishFlushed(gen uint64, target int64) {
	s.truncMu.Lock()
	defer s.truncMu.Unlock()
	if s.truncGen == gen {
		s.flushed.Store(target)
	}
}
