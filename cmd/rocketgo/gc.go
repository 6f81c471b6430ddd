package main

import (
	"os"
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
