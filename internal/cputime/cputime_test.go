package cputime

import (
	"os"
	"runtime"
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

// TestParseStat: the aggregate line of /proc/stat, with and without the
// later fields, and lines that are not it.
func TestParseStat(t *testing.T) {
	m, ok := parseStat("cpu  1901832 1554 852811 3311009 143842 0 123437 175290 0 0")
	want := Machine{Busy: 1901832 + 1554 + 852811 + 0 + 123437, Idle: 3311009 + 143842, Steal: 175290}
	if !ok || m != want {
		t.Fatalf("parseStat = %+v, %v; want %+v", m, ok, want)
	}
	if m, ok := parseStat("cpu 10 0 5 100"); !ok || m != (Machine{Busy: 15, Idle: 100}) {
		t.Errorf("four fields: %+v, %v", m, ok)
	}
	for _, bad := range []string{"", "cpu0 1 2 3 4 5", "cpu 1 2 3", "cpu 1 2 x 4 5", "cpu 1 2 -3 4 5"} {
		if _, ok := parseStat(bad); ok {
			t.Errorf("parseStat(%q) accepted", bad)
		}
	}
	idle, steal := (Machine{Busy: 60, Idle: 30, Steal: 10}).Shares()
	if idle != 0.3 || steal != 0.1 {
		t.Errorf("shares %.2f idle, %.2f steal; want 0.30 and 0.10", idle, steal)
	}
	if idle, steal := (Machine{}).Shares(); idle != 0 || steal != 0 {
		t.Errorf("empty: %.2f, %.2f", idle, steal)
	}
}

// TestReadMachineAdvances: on Linux the machine's time grows while this
// test spins, and only forwards.
func TestReadMachineAdvances(t *testing.T) {
	m0, ok := ReadMachine()
	if !ok {
		if runtime.GOOS == "linux" {
			t.Fatal("no /proc/stat on Linux")
		}
		t.Skip("no /proc/stat")
	}
	t0 := Process()
	for Process()-t0 < 30_000_000 { // 30 ms of CPU: three ticks at 100 Hz
	}
	m1, _ := ReadMachine()
	d := m1.Sub(m0)
	if d.Busy <= 0 || d.Idle < 0 || d.Steal < 0 {
		t.Fatalf("after 30 ms of CPU: %+v", d)
	}
}
