// Package cowmap is a copy-on-write map for tables read on every message
// and written rarely: per-topic counters, per-queue pull offsets, metric
// handles. A read is one atomic load and a plain map lookup — no lock, no
// allocation — and a write copies the map under a mutex, which is cheap
// while writes are as rare as new topics, groups or queues.
package cowmap

import (
	"sync"
	"sync/atomic"
)

// Map maps keys to shared *V values that are created on first use and
// then updated in place by the caller (typically with atomics). The zero
// Map is empty and ready to use.
type Map[K comparable, V any] struct {
	mu sync.Mutex // serialises writers
	m  atomic.Pointer[map[K]*V]
}

// Get returns the value for k, or nil.
func (c *Map[K, V]) Get(k K) *V {
	if m := c.m.Load(); m != nil {
		return (*m)[k]
	}
	return nil
}

// GetOrCreate returns the value for k, creating it with newV (when not nil)
// or as a zero V on first use. newV runs under the writer lock.
func (c *Map[K, V]) GetOrCreate(k K, newV func() *V) *V {
	if v := c.Get(k); v != nil {
		return v
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	old := c.m.Load()
	if old != nil {
		if v := (*old)[k]; v != nil {
			return v
		}
	}
	var v *V
	if newV != nil {
		v = newV()
	} else {
		v = new(V)
	}
	next := make(map[K]*V, c.lenOf(old)+1)
	if old != nil {
		for key, val := range *old {
			next[key] = val
		}
	}
	next[k] = v
	c.m.Store(&next)
	return v
}

// DeleteFunc removes every entry for which del returns true and returns the
// removed values.
func (c *Map[K, V]) DeleteFunc(del func(K, *V) bool) []*V {
	c.mu.Lock()
	defer c.mu.Unlock()
	old := c.m.Load()
	if old == nil {
		return nil
	}
	var gone []*V
	next := make(map[K]*V, len(*old))
	for k, v := range *old {
		if del(k, v) {
			gone = append(gone, v)
		} else {
			next[k] = v
		}
	}
	if len(gone) > 0 {
		c.m.Store(&next)
	}
	return gone
}

// Range calls f for every entry of one consistent snapshot until f returns
// false. Entries added meanwhile may be missed.
func (c *Map[K, V]) Range(f func(K, *V) bool) {
	m := c.m.Load()
	if m == nil {
		return
	}
	for k, v := range *m {
		if !f(k, v) {
			return
		}
	}
}

// Len is the number of entries.
func (c *Map[K, V]) Len() int { return c.lenOf(c.m.Load()) }

func (c *Map[K, V]) lenOf(m *map[K]*V) int {
	if m == nil {
		return 0
	}
	return len(*m)
}
