package store

import (
	"fmt"
	"syscall"

	"github.com/rocketgo/rocketgo/message"
)

// This file holds the read-only views admin tools and metrics use: single
// store timestamps, raw consume-queue entries and the store's health
// figures. None of them is on the send or pull path.

// StoreTime is the store timestamp (ms) of the message at a queue offset,
// read from the record's fixed header without decoding the message; false
// when the offset is outside the queue or its record was deleted.
func (s *Store) StoreTime(topic string, queueID int32, offset int64) (int64, bool) {
	cq := s.queue(topic, queueID)
	if cq == nil {
		return 0, false
	}
	return s.storeTimeAt(cq, offset)
}

// QueueEntry is one consume-queue entry: where its message lies in the
// commit log and its tag code (QUERY_CONSUME_QUEUE).
type QueueEntry struct {
	QueueOffset    int64
	PhysicalOffset int64
	Size           int32
	TagsCode       int64
}

// maxQueueEntries bounds one QueueEntries call, whatever count asks for.
const maxQueueEntries = 1000

// QueueEntries returns up to count entries of a queue from offset on (at
// most 1000). An offset below the queue's minimum starts at the minimum;
// one at or past the end returns none.
func (s *Store) QueueEntries(topic string, queueID int32, offset int64, count int) ([]QueueEntry, error) {
	if s.isClosed.Load() {
		return nil, ErrClosed
	}
	cq := s.queue(topic, queueID)
	if cq == nil {
		return nil, fmt.Errorf("%w: queue %s/%d", ErrNotFound, topic, queueID)
	}
	offset = max(offset, cq.min.Load())
	count = min(max(count, 0), maxQueueEntries)
	out := make([]QueueEntry, 0, min(count, 64))
	for off := offset; off < offset+int64(count); off++ {
		phy, size, tags, ok := cq.lookup(off)
		if !ok {
			break
		}
		out = append(out, QueueEntry{QueueOffset: off, PhysicalOffset: phy, Size: size, TagsCode: tags})
	}
	return out, nil
}

// EarliestMessageTime is the store timestamp of the oldest record still in
// the commit log; false when the log is empty.
func (s *Store) EarliestMessageTime() (int64, bool) {
	res, err := s.MessageAt(s.clMin.Load())
	if err != nil {
		return 0, false
	}
	defer res.Release()
	rec, err := message.ParseStored(res.Buffers[0], false)
	if err != nil {
		return 0, false
	}
	return rec.StoreTimestamp, true
}

// Health is the store's state for operators: how far writes are ahead of
// the disk and of the consume queues, and the file system's usage.
type Health struct {
	// FlushBehindBytes is log data written but not yet known durable.
	FlushBehindBytes int64
	// DispatchBehindBytes is log data received (on a slave) but not yet
	// dispatched to consume queues and the index; 0 on a master, which
	// dispatches as it appends.
	DispatchBehindBytes int64
	// DiskUsedBytes and DiskTotalBytes describe the file system holding
	// the store, as df counts them (root-reserved blocks are unavailable).
	DiskUsedBytes, DiskTotalBytes uint64
}

// Health reports the store's current figures. A failing statfs leaves the
// disk fields zero.
func (s *Store) Health() Health {
	wrote, flushed, received := s.wrote.Load(), s.flushed.Load(), s.replEnd.Load()
	h := Health{
		FlushBehindBytes:    max(wrote-flushed, 0),
		DispatchBehindBytes: max(received-wrote, 0),
	}
	var st syscall.Statfs_t
	if err := syscall.Statfs(s.cfg.Dir, &st); err == nil {
		used := (st.Blocks - st.Bfree) * uint64(st.Bsize)
		h.DiskUsedBytes, h.DiskTotalBytes = used, used+st.Bavail*uint64(st.Bsize)
	}
	return h
}
