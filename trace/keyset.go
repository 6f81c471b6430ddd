package trace

import "hash/maphash"

// keySet de-duplicates the lookup keys of the trace message being built.
// It keeps 64-bit hashes of the keys in an open-addressed table rather
// than the keys in a map[string]struct{}: one hash and, mostly, one probe
// per key instead of a map assignment, and clearing it per message is a
// memclr of its slots. Two distinct keys of equal hash (about n²/2⁶⁵ for
// n keys) would be taken for one and the second left out of KEYS; with
// the ≤ 1,000 keys of a message that is far rarer than a lost trace send.
type keySet struct {
	seed  maphash.Seed
	slots []uint64 // 0: empty; a power of two long, at most half full
	n     int
}

func newKeySet(keys int) keySet {
	size := 64
	for size < 2*keys {
		size <<= 1
	}
	return keySet{seed: maphash.MakeSeed(), slots: make([]uint64, size)}
}

// add enters a non-empty k and reports whether it was new.
func (s *keySet) add(k string) bool {
	if k == "" {
		return false
	}
	h := maphash.String(s.seed, k)
	if h == 0 {
		h = 1
	}
	if 2*(s.n+1) > len(s.slots) {
		s.grow()
	}
	mask := uint64(len(s.slots) - 1)
	for i := h & mask; ; i = (i + 1) & mask {
		switch s.slots[i] {
		case h:
			return false
		case 0:
			s.slots[i] = h
			s.n++
			return true
		}
	}
}

// grow doubles the table; the stored hashes place themselves again.
func (s *keySet) grow() {
	old := s.slots
	s.slots = make([]uint64, 2*len(old))
	mask := uint64(len(s.slots) - 1)
	for _, h := range old {
		if h == 0 {
			continue
		}
		i := h & mask
		for s.slots[i] != 0 {
			i = (i + 1) & mask
		}
		s.slots[i] = h
	}
}

func (s *keySet) reset() {
	if s.n > 0 {
		clear(s.slots)
		s.n = 0
	}
}
