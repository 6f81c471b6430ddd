package inflight

import (
	"errors"
	"sync"
	"sync/atomic"
	"testing"
)

func TestTableAddRemoveLen(t *testing.T) {
	var tb Table
	calls := make([]*Call, 40)
	for i := range calls {
		calls[i] = &Call{}
		if err := tb.Add(int32(i), calls[i]); err != nil {
			t.Fatal(err)
		}
	}
	if tb.Len() != len(calls) {
		t.Fatalf("Len %d, want %d", tb.Len(), len(calls))
	}
	for i := range calls {
		if got := tb.Remove(int32(i)); got != calls[i] {
			t.Fatalf("Remove(%d) = %p, want %p", i, got, calls[i])
		}
		if got := tb.Remove(int32(i)); got != nil {
			t.Fatalf("second Remove(%d) = %p: a call must be withdrawn once", i, got)
		}
	}
	if tb.Len() != 0 {
		t.Fatalf("Len %d after removing all", tb.Len())
	}
	// Negative opaques (a wrapped counter) are kept too.
	if err := tb.Add(-7, &Call{}); err != nil || tb.Remove(-7) == nil {
		t.Fatal("negative opaque lost")
	}
}

func TestTableCloseAllRefusesAndReturnsEveryCall(t *testing.T) {
	var tb Table
	for i := range 100 {
		if err := tb.Add(int32(i*3), &Call{}); err != nil {
			t.Fatal(err)
		}
	}
	first, second := errors.New("gone"), errors.New("later")
	if got := len(tb.CloseAll(first)); got != 100 {
		t.Fatalf("CloseAll returned %d calls, want 100", got)
	}
	if tb.Len() != 0 {
		t.Fatalf("Len %d after CloseAll", tb.Len())
	}
	for op := range int32(16) {
		if err := tb.Add(op, &Call{}); err != first {
			t.Fatalf("Add(%d) after close: %v, want the first reason", op, err)
		}
	}
	if got := tb.CloseAll(second); len(got) != 0 {
		t.Fatalf("second CloseAll returned %d calls", len(got))
	}
	if err := tb.Add(1, &Call{}); err != first {
		t.Fatalf("the first close reason must stay, got %v", err)
	}
}

// TestTableConcurrentCloseLosesNoCall: calls added while CloseAll runs are
// either refused or returned by it, never left behind.
func TestTableConcurrentCloseLosesNoCall(t *testing.T) {
	for round := range 50 {
		var tb Table
		var added atomic.Int64
		var wg sync.WaitGroup
		for g := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range 200 {
					if tb.Add(int32(g*1000+i), &Call{}) == nil {
						added.Add(1)
					}
				}
			}()
		}
		closed := tb.CloseAll(errors.New("closed"))
		wg.Wait()
		if int64(len(closed)) != added.Load() {
			t.Fatalf("round %d: %d calls added, CloseAll returned %d", round, added.Load(), len(closed))
		}
		if tb.Len() != 0 {
			t.Fatalf("round %d: Len %d after close", round, tb.Len())
		}
	}
}

// BenchmarkTable: an Add and a Remove per op from many goroutines, as
// the senders of a busy connection make them.
func BenchmarkTable(b *testing.B) {
	var tb Table
	var next atomic.Int32
	c := &Call{}
	b.SetParallelism(32)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			op := next.Add(1)
			if err := tb.Add(op, c); err != nil {
				b.Error(err)
				return
			}
			_ = tb.Len()
			tb.Remove(op)
		}
	})
}
