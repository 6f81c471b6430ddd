package main

import (
	"runtime"
	"testing"
)

// A load test with its own broker runs with twice the CPUs' Ps unless the
// environment sets GOMAXPROCS; a second call keeps the first call's Ps.
func TestTuneEmbedded(t *testing.T) {
	cpus := procsAtCPUs(t)
	tuneEmbedded()
	if got := runtime.GOMAXPROCS(0); got != 2*cpus {
		t.Errorf("GOMAXPROCS %d after tuning on %d CPUs, want %d", got, cpus, 2*cpus)
	}
	if runtime.NumCPU() == cpus { // not limited below the machine's CPUs
		tuneEmbedded()
		if got := runtime.GOMAXPROCS(0); got != 2*cpus {
			t.Errorf("GOMAXPROCS %d after a second tuning, want %d", got, 2*cpus)
		}
	}

	// The environment wins.
	t.Setenv("GOMAXPROCS", "1")
	runtime.GOMAXPROCS(1)
	tuneEmbedded()
	if got := runtime.GOMAXPROCS(0); got != 1 {
		t.Errorf("GOMAXPROCS %d with GOMAXPROCS=1 in the environment, want 1", got)
	}
}

// procsAtCPUs sets GOMAXPROCS to the CPUs the runtime gave the test (at
// most NumCPU) with no GOMAXPROCS in the environment, as a fresh process
// starts, and restores both when the test ends. It returns the CPUs.
func procsAtCPUs(t *testing.T) int {
	t.Helper()
	procs := runtime.GOMAXPROCS(0)
	t.Cleanup(func() { runtime.GOMAXPROCS(procs) })
	cpus := min(procs, runtime.NumCPU())
	t.Setenv("GOMAXPROCS", "")
	runtime.GOMAXPROCS(cpus)
	return cpus
}
