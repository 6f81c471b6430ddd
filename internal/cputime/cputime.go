// Package cputime reads the process's CPU time, for benchmarks that report
// CPU per operation: on a machine whose cores are shared, CPU, not wall
// time, is what an operation costs the rest of the process.
package cputime

import (
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Process is the user plus system CPU time this process has used so far
// (children, such as a benchmark's server process, not counted); 0 when the
// kernel does not say.
func Process() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// Of is process pid's user plus system CPU time so far, read from /proc; 0
// when it cannot be read (another OS, or no such pid).
func Of(pid int) time.Duration {
	if pid <= 0 {
		return 0
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	// The fields after the command (which may hold spaces) start at field
	// 3; utime and stime are fields 14 and 15, in clock ticks (100 Hz on
	// Linux).
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) < 13 {
		return 0
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * 10 * time.Millisecond
}

// Machine is the whole machine's CPU time since boot by what the CPUs
// did, in clock ticks, from the first line of /proc/stat. A benchmark
// reads it before and after a run: its process's own CPU time says what
// the run cost, Machine says whether the run had the machine to itself.
// On a virtual machine Steal is the time a vCPU wanted to run while the
// hypervisor ran something else, which no process's CPU time shows.
type Machine struct {
	Busy  int64 // user, nice, system, irq and softirq (guest time is part of user and nice)
	Idle  int64 // idle and iowait
	Steal int64
}

// ReadMachine reads Machine; ok is false where the kernel does not say
// (not Linux, no /proc).
func ReadMachine() (m Machine, ok bool) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return Machine{}, false
	}
	line, _, _ := strings.Cut(string(b), "\n")
	return parseStat(line)
}

// parseStat reads /proc/stat's aggregate line: "cpu" and then user, nice,
// system, idle, iowait, irq, softirq and steal (older kernels stop
// earlier; what is missing counts as 0), then guest times, which user
// and nice already include.
func parseStat(line string) (Machine, bool) {
	f := strings.Fields(line)
	if len(f) < 5 || f[0] != "cpu" {
		return Machine{}, false
	}
	var v [8]int64
	for i := range v {
		if i+1 >= len(f) {
			break
		}
		n, err := strconv.ParseInt(f[i+1], 10, 64)
		if err != nil || n < 0 {
			return Machine{}, false
		}
		v[i] = n
	}
	return Machine{Busy: v[0] + v[1] + v[2] + v[5] + v[6], Idle: v[3] + v[4], Steal: v[7]}, true
}

// Sub is the time from o to m.
func (m Machine) Sub(o Machine) Machine {
	return Machine{Busy: m.Busy - o.Busy, Idle: m.Idle - o.Idle, Steal: m.Steal - o.Steal}
}

// Shares is idle and steal as fractions of all of m's time; both 0 when m
// holds no time.
func (m Machine) Shares() (idle, steal float64) {
	total := m.Busy + m.Idle + m.Steal
	if total <= 0 {
		return 0, 0
	}
	return float64(m.Idle) / float64(total), float64(m.Steal) / float64(total)
}
