package loadtest

import (
	"math"
	"math/bits"
	"sync/atomic"
	"time"
)

// The histogram is log-linear in microseconds, in the spirit of
// HdrHistogram with two significant digits: values below 128 µs get a bucket
// each, and every power of two above that is split into 64 buckets, so a
// recorded value is off by at most 1/64 (≈1.6 %). It has a fixed size no
// matter how long a run lasts, which is what keeps the tool's memory flat;
// recording is a handful of atomic adds, so senders never share a lock.
const (
	histSubBits    = 6                // 64 sub-buckets per power of two
	histSub        = 1 << histSubBits // 64
	histLinear     = 2 * histSub      // values below 128 µs are exact
	histMaxShift   = 40               // 2^46 µs ≈ 2 years: nothing real exceeds it
	histBucketsLen = (histMaxShift + 2) * histSub
)

// histogram counts latencies in microseconds. The zero value is ready.
type histogram struct {
	buckets [histBucketsLen]atomic.Uint64
	count   atomic.Uint64
	sum     atomic.Uint64 // µs
	max     atomic.Uint64 // µs
}

func bucketOf(us uint64) int {
	if us < histLinear {
		return int(us)
	}
	shift := bits.Len64(us) - (histSubBits + 1)
	if shift > histMaxShift {
		return histBucketsLen - 1
	}
	return shift*histSub + int(us>>uint(shift))
}

// bucketValue is the upper edge of bucket i, so percentiles never
// understate a latency.
func bucketValue(i int) uint64 {
	if i < histLinear {
		return uint64(i)
	}
	shift := i/histSub - 1
	sub := uint64(i - shift*histSub)
	return (sub+1)<<uint(shift) - 1
}

// record adds one latency. Negative durations (clock steps) count as zero.
func (h *histogram) record(d time.Duration) {
	us := uint64(0)
	if d > 0 {
		us = uint64(d / time.Microsecond)
	}
	h.recordMicros(us)
}

func (h *histogram) recordMicros(us uint64) {
	h.buckets[bucketOf(us)].Add(1)
	h.count.Add(1)
	h.sum.Add(us)
	for {
		m := h.max.Load()
		if us <= m || h.max.CompareAndSwap(m, us) {
			return
		}
	}
}

// snapshot copies the counts into a plain value; with reset it also empties
// the histogram, bucket by bucket, which is what the per-interval histograms
// need (a value recorded during the copy lands in this interval or the next,
// never in neither).
func (h *histogram) snapshot(reset bool) *histSnapshot {
	s := &histSnapshot{}
	for i := range h.buckets {
		if reset {
			s.buckets[i] = h.buckets[i].Swap(0)
		} else {
			s.buckets[i] = h.buckets[i].Load()
		}
		s.count += s.buckets[i]
	}
	if reset {
		s.sum, s.max = h.sum.Swap(0), h.max.Swap(0)
		h.count.Swap(0)
	} else {
		s.sum, s.max = h.sum.Load(), h.max.Load()
	}
	return s
}

// histSnapshot is a frozen histogram: safe to read without atomics.
type histSnapshot struct {
	buckets [histBucketsLen]uint64
	count   uint64
	sum     uint64
	max     uint64
}

// merge adds o into s.
func (s *histSnapshot) merge(o *histSnapshot) {
	for i := range s.buckets {
		s.buckets[i] += o.buckets[i]
	}
	s.count += o.count
	s.sum += o.sum
	s.max = max(s.max, o.max)
}

// mean is the exact average in microseconds (0 when empty).
func (s *histSnapshot) mean() float64 {
	if s.count == 0 {
		return 0
	}
	return float64(s.sum) / float64(s.count)
}

// percentile returns the value in microseconds below or at which q percent
// of the recorded values fall, capped at the exact maximum.
func (s *histSnapshot) percentile(q float64) uint64 {
	if s.count == 0 {
		return 0
	}
	rank := uint64(math.Ceil(q / 100 * float64(s.count)))
	rank = max(rank, 1)
	var seen uint64
	for i, c := range s.buckets {
		seen += c
		if seen >= rank {
			return min(bucketValue(i), s.max)
		}
	}
	return s.max
}
