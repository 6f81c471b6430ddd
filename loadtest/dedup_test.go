package loadtest

import "testing"

func TestDedupWindow(t *testing.T) {
	d := newDedup()
	for _, s := range []uint64{5, 3, 4, 0} {
		if !d.first(s) {
			t.Fatalf("seq %d reported as duplicate on first sight", s)
		}
	}
	if d.first(3) || d.first(5) {
		t.Fatal("redelivery not detected")
	}
	// Jump far ahead: old slots are recycled, so a new sequence sharing a
	// slot with an old one is still a first delivery.
	if !d.first(3 + dedupWindow) {
		t.Fatal("sequence in a recycled slot reported as duplicate")
	}
	if !d.first(2) { // older than the window: cannot tell, counts once
		t.Fatal("sequence beyond the window reported as duplicate")
	}
}
