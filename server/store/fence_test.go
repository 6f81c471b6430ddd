package store

import "testing"

func TestReadFenceHidesUnconfirmedRecords(t *testing.T) {
	s := mustOpen(t, smallConfig(t.TempDir()))
	defer mustClose(t, s)
	var ends []int64
	for i := range 10 {
		r := mustAppend(t, s, newMsg("T", 0, body(i), "", ""))
		ends = append(ends, r.PhysicalOffset+int64(r.WroteBytes))
	}
	s.SetReadFence(ends[3] + 5) // mid-way into record 4: it stays hidden
	if got := s.MaxOffset("T", 0); got != 4 {
		t.Fatalf("visible max %d, want 4", got)
	}
	if got := len(readAll(t, s, "T", 0)); got != 4 {
		t.Fatalf("read %d records through the fence, want 4", got)
	}
	r, err := s.GetMessages("T", 0, 4, 32, 1<<20, nil)
	if err != nil {
		t.Fatal(err)
	}
	if r.Status != OffsetOverflowOne {
		t.Fatalf("reading at the fence: %v, want OFFSET_OVERFLOW_ONE (caught up)", r.Status)
	}
	r.Release()
	s.SetReadFence(0)
	if got := s.MaxOffset("T", 0); got != 0 {
		t.Fatalf("fence at 0: visible max %d", got)
	}
	s.SetReadFence(-1)
	if got := len(readAll(t, s, "T", 0)); got != 10 {
		t.Fatalf("without a fence %d records, want 10", got)
	}
}
