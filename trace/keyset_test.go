package trace

import (
	"strconv"
	"testing"
)

// TestKeySet: each key is new once until reset, across the table's
// growth, and the empty key is never entered.
func TestKeySet(t *testing.T) {
	s := newKeySet(4)
	if s.add("") {
		t.Fatal("empty key entered")
	}
	const n = 1000 // many times the initial size: grows
	for round := range 2 {
		for i := range n {
			if !s.add(strconv.Itoa(i)) {
				t.Fatalf("round %d: key %d not new", round, i)
			}
		}
		for i := range n {
			if s.add(strconv.Itoa(i)) {
				t.Fatalf("round %d: key %d new twice", round, i)
			}
		}
		s.reset()
	}
}
