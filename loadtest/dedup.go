package loadtest

import "sync"

// dedupWindow is how many recent sequence numbers the duplicate filter
// remembers: 2 MiB of bits, about seven minutes at 40k msg/s. Redeliveries
// after a rebalance arrive within seconds, so this catches them while
// memory stays fixed however long the run.
const dedupWindow = 1 << 24

// dedup tells first deliveries from redeliveries (RocketMQ is
// at-least-once: a rebalance can hand a queue over before its offset was
// committed). It is a ring of bits over the newest dedupWindow sequences.
type dedup struct {
	mu   sync.Mutex
	bits []uint64
	hi   uint64 // one above the highest sequence seen
}

func newDedup() *dedup { return &dedup{bits: make([]uint64, dedupWindow/64)} }

// first reports whether seq is seen for the first time. Sequences older
// than the window count as first deliveries: it cannot tell.
func (d *dedup) first(seq uint64) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	switch {
	case seq >= d.hi:
		from := d.hi
		if seq+1-from > dedupWindow {
			from = seq + 1 - dedupWindow
		}
		for s := from; s <= seq; s++ { // recycle the slots the window moves over
			d.bits[(s%dedupWindow)/64] &^= 1 << (s % 64)
		}
		d.hi = seq + 1
	case d.hi-seq > dedupWindow:
		return true
	}
	w, b := (seq%dedupWindow)/64, uint64(1)<<(seq%64)
	if d.bits[w]&b != 0 {
		return false
	}
	d.bits[w] |= b
	return true
}
