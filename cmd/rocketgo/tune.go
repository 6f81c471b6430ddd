package main

import (
	"os"
	"runtime"
	"runtime/debug"
)

// brokerGCPercent is the GOGC a broker process runs with unless the GOGC
// environment variable says otherwise.
//
// A broker's live heap is small (a few MiB: routes, queues, pooled buffers)
// while its allocation rate is high: each request's header strings and
// command live for microseconds before the message is copied into the
// mapped commit log. With Go's default GOGC=100 the heap target stays
// around twice that small live heap, and at 50k sends/s the collector ran
// about 70 cycles a second, 7 % of the broker's CPU in marking alone. 400
// lets the heap grow to about five times the live heap between cycles:
// a few tens of MiB more memory (next to the GiBs of page cache a broker
// maps) for a fraction of the cycles. GOMEMLIMIT, when set, still caps
// the heap, and GOGC in the environment wins over this default.
const brokerGCPercent = 400

// tuneGC applies brokerGCPercent to a process about to run a broker.
func tuneGC() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(brokerGCPercent)
	}
}

// embeddedProcsPerCPU sets the GOMAXPROCS of a load test that runs its
// broker in its own process, unless the GOMAXPROCS environment variable
// says otherwise: twice the CPUs, the Ps a broker process and a client
// process have between them when they run apart, each with one P per CPU.
//
// Much of a broker's and a client's time is in system calls — the
// transport's event loops wait for traffic in epoll_wait, sends write to
// loopback sockets, the commit log is written with pwrite — and a
// goroutine in a system call keeps its P until Go's sysmon takes it back
// after a tick of at least 20 µs and hands it to another thread. Apart,
// the kernel runs one process's Go code while the other's threads wait in
// those calls. In one process with one P per CPU, the waits hold Ps the
// runnable goroutines need: on 2 CPUs the README's main run left 30–40 %
// of the CPU idle with goroutines waiting to run, and sysmon, ticking at
// its shortest period to retake Ps, was 14 % of the CPU samples of a
// broker (perf); given twice the Ps, that broker's sysmon fell to 0.6 %.
// With twice the Ps the main run sent a median 13 % more messages per
// second over 14 alternations (per round 0.89–1.75×; 13 of 14 at or above
// 1), level with a broker and a load test run apart; 3× was within the
// noise of 2× and 4× worse (BENCHMARKS.md, "More Ps than CPUs"). A broker
// process alone keeps Go's default: given 2× its Ps it measured within its
// load generator's noise.
const embeddedProcsPerCPU = 2

// tuneEmbedded applies embeddedProcsPerCPU to a load test about to start
// its own broker.
func tuneEmbedded() {
	if os.Getenv("GOMAXPROCS") == "" {
		// The CPUs: GOMAXPROCS as the runtime chose it (CPU count, affinity,
		// a container's limit), or NumCPU if that is fewer: a second call in
		// one process (tests run several load tests) then keeps 2×NumCPU
		// rather than doubling what the first call set.
		runtime.GOMAXPROCS(embeddedProcsPerCPU * min(runtime.GOMAXPROCS(0), runtime.NumCPU()))
	}
}
