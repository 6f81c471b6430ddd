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
