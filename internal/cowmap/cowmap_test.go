package cowmap

import (
	"sync"
	"sync/atomic"
	"testing"
)

type pair struct{ a, b string }

func TestGetOrCreateAndDelete(t *testing.T) {
	var m Map[pair, atomic.Int64]
	if m.Get(pair{"t", "g"}) != nil || m.Len() != 0 {
		t.Fatal("zero map is not empty")
	}
	v := m.GetOrCreate(pair{"t", "g"}, nil)
	v.Add(3)
	if got := m.GetOrCreate(pair{"t", "g"}, nil); got != v || got.Load() != 3 {
		t.Fatal("second GetOrCreate returned another value")
	}
	m.GetOrCreate(pair{"t", "h"}, func() *atomic.Int64 { n := new(atomic.Int64); n.Store(7); return n })
	if m.Get(pair{"t", "h"}).Load() != 7 || m.Len() != 2 {
		t.Fatal("constructor not used")
	}
	gone := m.DeleteFunc(func(k pair, _ *atomic.Int64) bool { return k.b == "g" })
	if len(gone) != 1 || gone[0] != v || m.Get(pair{"t", "g"}) != nil || m.Len() != 1 {
		t.Fatalf("DeleteFunc removed %v, left %d", gone, m.Len())
	}
	n := 0
	m.Range(func(pair, *atomic.Int64) bool { n++; return true })
	if n != 1 {
		t.Fatalf("Range saw %d entries", n)
	}
}

// TestConcurrentCreateSharesOneValue checks that racing creators of the
// same key all get the same value, so no increment is lost.
func TestConcurrentCreateSharesOneValue(t *testing.T) {
	var m Map[string, atomic.Int64]
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range 1000 {
				m.GetOrCreate("k", nil).Add(1)
				m.GetOrCreate(string(rune('a'+i))+string(rune('a'+j%26)), nil).Add(1)
			}
		}()
	}
	wg.Wait()
	if got := m.Get("k").Load(); got != 8000 {
		t.Fatalf("lost increments: %d, want 8000", got)
	}
}

func BenchmarkGetHit(b *testing.B) {
	var m Map[pair, atomic.Int64]
	for i := range 1000 {
		m.GetOrCreate(pair{"topic", string(rune(i))}, nil)
	}
	k := pair{"topic", string(rune(500))}
	b.ReportAllocs()
	for b.Loop() {
		m.Get(k).Add(1)
	}
}
