package loadtest

import (
	"bufio"
	"fmt"
	"io"
	"slices"
	"sync"
	"time"
)

// Slow sends: the timeline behind a tail.
//
// Percentiles say how long the slowest sends took, not when. Lining the
// slow ones up in time is what tells a periodic cause (a flush, a segment
// roll, a CPU quota period) from scattered ones, and whether they came one
// by one or all senders' in-flight sends at once (the whole path stalled).
// With Config.SlowOver set, every measured send at least that slow is kept
// with its start and latency (Result.Slow; WriteSlowSends writes them as
// CSV). Only slow sends take the lock, so a threshold near the tail costs
// the senders nothing measurable; a threshold below the median records
// most sends and is bounded by maxSlowSends.

// SlowSend is one send whose latency reached Config.SlowOver.
type SlowSend struct {
	Start    time.Time     // when the send was issued
	Latency  time.Duration // until its acknowledgement
	Messages int           // messages in the send (batches)
}

// maxSlowSends bounds the memory a low threshold can take (about 40 MB);
// later slow sends are counted in Result.SlowDropped only.
const maxSlowSends = 1 << 20

// slowLog collects slow sends from every sender.
type slowLog struct {
	over    time.Duration // 0: off
	mu      sync.Mutex
	sends   []SlowSend
	dropped int64
}

// note keeps one send that took rt from t0, if it is slow enough.
func (l *slowLog) note(t0 time.Time, rt time.Duration, n int64) {
	if l.over <= 0 || rt < l.over {
		return
	}
	l.mu.Lock()
	if len(l.sends) < maxSlowSends {
		l.sends = append(l.sends, SlowSend{Start: t0, Latency: rt, Messages: int(n)})
	} else {
		l.dropped++
	}
	l.mu.Unlock()
}

// take returns the slow sends in order of start, and how many were not kept.
func (l *slowLog) take() ([]SlowSend, int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := l.sends
	l.sends = nil
	slices.SortFunc(s, func(a, b SlowSend) int { return a.Start.Compare(b.Start) })
	return s, l.dropped
}

// WriteSlowSends writes sends as CSV: start and end of each send in Unix
// microseconds, its latency in microseconds and its message count, one
// line each after a header. Sends that ended together (equal end times
// within a millisecond or so) waited for the same thing.
func WriteSlowSends(w io.Writer, sends []SlowSend) error {
	bw := bufio.NewWriter(w)
	fmt.Fprintln(bw, "start_unix_us,end_unix_us,latency_us,messages")
	for _, s := range sends {
		start := s.Start.UnixMicro()
		fmt.Fprintf(bw, "%d,%d,%d,%d\n", start, start+s.Latency.Microseconds(), s.Latency.Microseconds(), s.Messages)
	}
	return bw.Flush()
}

// stallWindow is how close together in time sends must end to count as
// released by the same event.
const stallWindow = time.Millisecond

// stalls finds the moments when at least atLeast of sends ended each
// within stallWindow of the previous one: many senders waiting on one thing
// (a stalled connection, broker, or machine), rather than slow sends one
// by one. It returns how many such moments there were and how many of
// sends they released. It means something only with a threshold above
// the usual latency: below it, ordinary sends end within a millisecond of
// each other all the time and chain into one long "stall".
func stalls(sends []SlowSend, atLeast int) (moments, released int) {
	if len(sends) == 0 || atLeast < 2 {
		return 0, 0
	}
	ends := make([]time.Time, len(sends))
	for i, s := range sends {
		ends[i] = s.Start.Add(s.Latency)
	}
	slices.SortFunc(ends, func(a, b time.Time) int { return a.Compare(b) })
	run := 1
	flush := func() {
		if run >= atLeast {
			moments++
			released += run
		}
	}
	for i := 1; i < len(ends); i++ {
		if ends[i].Sub(ends[i-1]) <= stallWindow {
			run++
			continue
		}
		flush()
		run = 1
	}
	flush()
	return moments, released
}
