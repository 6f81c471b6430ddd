package loadtest

import (
	"math"
	"slices"
	"strconv"
	"strings"
)

// Quantile is one point of a latency distribution: Value is at or above
// Percentile percent of the samples.
type Quantile struct {
	Percentile float64
	Value      float64
}

// Quantiles is a whole distribution as OpenMessaging's
// aggregated*LatencyQuantiles maps carry it, in increasing percentile
// order, ending at 100 (the maximum).
type Quantiles []Quantile

// standardPercentiles are always present, so that a chart of a short run
// still shows the usual tail points.
var standardPercentiles = []float64{50, 75, 90, 95, 99, 99.9, 99.99, 99.999}

// quantiles walks the snapshot as HdrHistogram's percentile iteration with
// one tick per half distance does (50, 75, 87.5, 93.75, … %), which is what
// the OpenMessaging Benchmark writes, until the remaining tail holds less
// than one sample; the standard percentiles and 100 % are added. Values are
// divided by scale (1000: µs to ms).
func quantiles(s *histSnapshot, scale float64) Quantiles {
	if s.count == 0 {
		return nil
	}
	ps := slices.Clone(standardPercentiles)
	for k := 1; k < 64; k++ {
		q := 100 * (1 - math.Ldexp(1, -k))
		ps = append(ps, q)
		if math.Ldexp(float64(s.count), -k) < 1 {
			break
		}
	}
	slices.Sort(ps)
	ps = slices.Compact(ps)
	out := make(Quantiles, 0, len(ps)+1)
	for _, p := range ps {
		out = append(out, Quantile{p, float64(s.percentile(p)) / scale})
	}
	return append(out, Quantile{100, float64(s.max) / scale})
}

// jsonMap keys the values by percentile written as Java prints a double
// ("50.0", "99.9"), as OpenMessaging's TreeMap<Double, …> serialises.
func (q Quantiles) jsonMap() map[string]float64 {
	m := make(map[string]float64, len(q))
	for _, p := range q {
		k := strconv.FormatFloat(p.Percentile, 'f', -1, 64)
		if !strings.ContainsAny(k, ".e") {
			k += ".0"
		}
		m[k] = p.Value
	}
	return m
}
