package cputime

import (
	"os"
	"testing"
)

// TestProcessGrows: spinning for a while shows up as CPU time.
func TestProcessGrows(t *testing.T) {
	t0 := Process()
	if t0 <= 0 {
		t.Fatalf("CPU time %v before any work", t0)
	}
	x := 0
	for Process()-t0 < 20_000_000 { // 20 ms of CPU
		for i := range 1_000_000 {
			x += i
		}
	}
	if x == 0 {
		t.Fatal("no work done")
	}
	// /proc counts in 10 ms ticks: the 20 ms just spent show in Of too.
	if of := Of(os.Getpid()); of < 10_000_000 {
		t.Fatalf("Of(self) = %v after 20 ms of CPU", of)
	}
	if Of(0) != 0 {
		t.Fatal("Of(0) is not 0")
	}
}
