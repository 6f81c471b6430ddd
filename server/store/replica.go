package store

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/rocketgo/rocketgo/message"
)

// Replication moves the commit log byte for byte from a master to its
// slaves, the way RocketMQ's HA service does: the master reads raw log
// ranges (ReadLog) and the slave writes them at the same physical offsets
// (AppendLog), then derives its own consume queues and index from the
// records, exactly as crash recovery does. Both logs are therefore
// identical, and so are message ids, which encode physical offsets.

// ErrReplicaOffset reports log bytes offered at an offset other than the
// end of the slave's log. The master's stream and the slave disagree on
// where the slave is; the slave should report its end again.
var ErrReplicaOffset = errors.New("store: replica offset mismatch")

// ReadLog copies commit-log bytes starting at physical offset from into
// dst and returns how many it copied: up to len(dst), never past the end
// of the log and never across the end of from's segment (so one transfer
// lands in one segment on the slave too). It returns 0 at the end of the
// log, and an error wrapping ErrNotFound when from is below the oldest
// retained byte.
func (s *Store) ReadLog(from int64, dst []byte) (int, error) {
	end := s.MaxPhysicalOffset()
	if from < 0 || from > end {
		return 0, fmt.Errorf("%w: log offset %d outside [%d, %d]", ErrNotFound, from, s.clMin.Load(), end)
	}
	if from == end || len(dst) == 0 {
		return 0, nil
	}
	seg := s.cl.load().find(from, s.cl.size)
	if seg == nil || from < s.clMin.Load() || !seg.hold() {
		return 0, fmt.Errorf("%w: log offset %d is below the oldest retained byte %d", ErrNotFound, from, s.clMin.Load())
	}
	defer seg.release()
	stop := min(end, seg.base+s.cl.size, from+int64(len(dst)))
	return copy(dst, seg.data[from-seg.base:stop-seg.base]), nil
}

// AppendLog writes raw log bytes received from a master at physical offset
// at, which must be MaxPhysicalOffset() (or, on an empty log, the start of
// a segment: a new slave starts wherever the master's oldest segment
// begins). Every record the bytes complete is verified (magic, length,
// offset, body CRC), dispatched to its consume queue and the index, and
// announced to the arrival listener; a trailing partial record waits for
// the rest. data may span segment ends only as the master's log does
// (blank marker, then the next segment).
//
// Bytes that do not form valid records are discarded back to the last
// good record and reported as ErrCorruptStore, so the slave can report
// its offset again and get them resent. Durability follows the store's
// flush policy. Normal appends must not be mixed with AppendLog on one
// store.
func (s *Store) AppendLog(at int64, data []byte) error {
	if s.isClosed.Load() {
		return ErrClosed
	}
	if s.diskFull.Load() {
		return fmt.Errorf("%w: usage above %d%%, refusing writes", ErrDiskFull, s.cfg.DiskCriticalRatio)
	}
	s.appendMu.Lock()
	if s.closed {
		s.appendMu.Unlock()
		return ErrClosed
	}
	arrivals, err := s.appendLogLocked(at, data)
	s.appendMu.Unlock()
	if s.o.arrival != nil {
		for _, a := range arrivals {
			s.o.arrival(a.topic, a.id, a.qoff, a.tags)
		}
	}
	return err
}

// arrival is a dispatched record to announce once the lock is released.
type arrival struct {
	queueKey
	qoff, tags int64
}

func (s *Store) appendLogLocked(at int64, data []byte) ([]arrival, error) {
	end := s.MaxPhysicalOffset()
	if s.cl.load().last() == nil && end == s.clMin.Load() && at != end {
		// An empty log adopts the master's starting point, which must be a
		// segment start for the file naming and lookups to hold.
		if at < 0 || at%s.cl.size != 0 {
			return nil, fmt.Errorf("%w: an empty log can only start at a segment boundary, not %d", ErrReplicaOffset, at)
		}
		s.clMin.Store(at)
		s.wrote.Store(at)
		s.flushed.Store(at)
		s.replEnd.Store(at)
		end = at
	}
	if at != end {
		return nil, fmt.Errorf("%w: got bytes for %d, log ends at %d", ErrReplicaOffset, at, end)
	}
	off := at
	for len(data) > 0 {
		seg := s.cl.load().find(off, s.cl.size)
		if seg == nil {
			var err error
			if seg, err = s.cl.create(off - off%s.cl.size); err != nil {
				return nil, err
			}
		}
		n := copy(seg.data[off-seg.base:], data)
		data = data[n:]
		off += int64(n)
	}
	s.replEnd.Store(off)
	s.spareAhead(off)
	s.writebackAfterAppend(off)
	return s.dispatchReplicated(off)
}

// dispatchReplicated derives queue and index entries for every complete
// record between the last dispatched one (wrote) and end.
func (s *Store) dispatchReplicated(end int64) ([]arrival, error) {
	var (
		out  []arrival
		keys []uint32
	)
	d := s.wrote.Load()
	defer func() { s.wrote.Store(d) }()
	for d < end {
		seg := s.cl.load().find(d, s.cl.size)
		if seg == nil {
			return out, nil // exactly at a segment end the master has not passed yet
		}
		segEnd := seg.base + s.cl.size
		avail := min(end, segEnd) - d
		if avail < blankLen {
			if end >= segEnd {
				return out, s.rejectReplicated(d, fmt.Errorf("%d stray bytes at the end of segment %d", avail, seg.base))
			}
			return out, nil
		}
		b := seg.data[d-seg.base:]
		if message.IsBlank(b) {
			if int64(binary.BigEndian.Uint32(b)) != segEnd-d {
				return out, s.rejectReplicated(d, fmt.Errorf("blank marker at %d does not reach the segment end", d))
			}
			if end < segEnd {
				return out, nil
			}
			d = segEnd
			continue
		}
		size := int64(int32(binary.BigEndian.Uint32(b)))
		if size <= blankLen || size > int64(s.cfg.MaxMessageSize) || d+size+blankLen > segEnd {
			return out, s.rejectReplicated(d, fmt.Errorf("record at %d claims %d bytes", d, size))
		}
		if d+size > end {
			return out, nil // the rest is still on its way
		}
		if _, err := recordAt(seg, d, true); err != nil {
			return out, s.rejectReplicated(d, err)
		}
		rec, _ := message.ParseStored(b, false)
		var err error
		if keys, err = s.redispatch(rec, keys[:0]); err != nil {
			if errors.Is(err, errQueueGap) {
				return out, s.rejectReplicated(d, err)
			}
			return out, err
		}
		tx := rec.SysFlag & message.SysFlagTxMask
		if tx != message.SysFlagTxPrepared && tx != message.SysFlagTxRollback {
			k := queueKey{string(rec.Topic), rec.QueueID}
			out = append(out, arrival{k, rec.QueueOffset, s.queuesW[k].tagsAt(rec.QueueOffset)})
		}
		s.lastTs.Store(rec.StoreTimestamp)
		d += size
	}
	return out, nil
}

// rejectReplicated drops the received bytes from the bad record at d on,
// so the master resends them from d.
func (s *Store) rejectReplicated(d int64, cause error) error {
	end := s.replEnd.Load()
	for off := d; off < end; {
		seg := s.cl.load().find(off, s.cl.size)
		if seg == nil {
			break
		}
		stop := min(end, seg.base+s.cl.size)
		clear(seg.data[off-seg.base : stop-seg.base])
		off = stop
	}
	s.replEnd.Store(d)
	s.log.Warn("replicated log bytes do not form valid records; discarded", "offset", d, "err", cause)
	return fmt.Errorf("%w: replicated bytes at %d: %w", ErrCorruptStore, d, cause)
}
