package store

import (
	"errors"
	"testing"
	"time"
)

func TestInspectionViews(t *testing.T) {
	clk := &fakeClock{t: time.UnixMilli(1_700_000_000_000)}
	s := mustOpen(t, smallConfig(t.TempDir()), WithClock(clk.now))
	defer mustClose(t, s)

	if _, ok := s.EarliestMessageTime(); ok {
		t.Fatal("an empty store reports an earliest message time")
	}
	var phys []int64
	for i := range 5 {
		clk.set(time.UnixMilli(1_700_000_000_000 + int64(i)*1000))
		r := mustAppend(t, s, newMsg("I", 1, body(i), "TagA", ""))
		phys = append(phys, r.PhysicalOffset)
	}

	if ts, ok := s.StoreTime("I", 1, 3); !ok || ts != 1_700_000_003_000 {
		t.Fatalf("StoreTime(3) = %d, %v", ts, ok)
	}
	for _, off := range []int64{-1, 5, 99} {
		if _, ok := s.StoreTime("I", 1, off); ok {
			t.Errorf("StoreTime(%d) found a message", off)
		}
	}
	if _, ok := s.StoreTime("nope", 0, 0); ok {
		t.Error("StoreTime on an unknown queue found a message")
	}
	if ts, ok := s.EarliestMessageTime(); !ok || ts != 1_700_000_000_000 {
		t.Fatalf("EarliestMessageTime = %d, %v", ts, ok)
	}

	entries, err := s.QueueEntries("I", 1, 1, 3)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 3 {
		t.Fatalf("got %d entries, want 3", len(entries))
	}
	for i, e := range entries {
		if e.QueueOffset != int64(i+1) || e.PhysicalOffset != phys[i+1] || e.Size <= 0 || e.TagsCode == 0 {
			t.Errorf("entry %d = %+v", i, e)
		}
	}
	if tail, _ := s.QueueEntries("I", 1, 4, 100); len(tail) != 1 {
		t.Fatalf("entries past the end: %d, want 1", len(tail))
	}
	if none, _ := s.QueueEntries("I", 1, 7, 10); len(none) != 0 {
		t.Fatalf("entries beyond the queue: %v", none)
	}
	if neg, _ := s.QueueEntries("I", 1, 0, -5); len(neg) != 0 {
		t.Fatalf("negative count returned %v", neg)
	}
	if _, err := s.QueueEntries("nope", 0, 0, 1); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown queue: err = %v, want ErrNotFound", err)
	}

	h := s.Health()
	if h.DispatchBehindBytes != 0 || h.FlushBehindBytes < 0 || h.DiskTotalBytes == 0 || h.DiskUsedBytes > h.DiskTotalBytes {
		t.Fatalf("health %+v", h)
	}
}
