package store

// A read fence makes the store show readers only the records that end at
// or before a physical offset, as RocketMQ's controller mode dispatches
// only up to the confirm offset: a master waiting for its in-sync replicas
// must not let consumers see (and commit offsets past) messages a failover
// may truncate. Appends and replication are not affected; queue entries
// past the fence exist but GetMatching and MaxOffset stop before them.

// SetReadFence hides every record that ends past phy; a negative phy
// removes the fence.
func (s *Store) SetReadFence(phy int64) {
	if phy < 0 {
		s.readFence.Store(0)
		return
	}
	s.readFence.Store(phy + 1)
}

// ReadFence returns the fence and whether one is set.
func (s *Store) ReadFence() (int64, bool) {
	f := s.readFence.Load()
	return f - 1, f != 0
}

// visibleMax is the queue offset of the first entry a reader may not see:
// the queue's max, or the first entry whose record ends past the fence.
func (s *Store) visibleMax(cq *consumeQueue) int64 {
	hi := cq.max.Load()
	fence, ok := s.ReadFence()
	if !ok {
		return hi
	}
	n := min(cq.searchPhy(fence), hi)
	// searchPhy finds the first record starting at or past the fence; the
	// one before it may still straddle the fence.
	if n > cq.min.Load() {
		if phy, size, _, ok := cq.lookup(n - 1); ok && phy+int64(size) > fence {
			n--
		}
	}
	return n
}
