package loadtest

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// TestQuantilesOMBShape: the quantile ladder is what OpenMessaging's chart
// script plots: percentiles keyed as Java doubles, increasing, 50 % first
// and 100 % (the maximum) last, halving the tail down to one sample, with
// the standard tail points included.
func TestQuantilesOMBShape(t *testing.T) {
	var h histogram
	for us := uint64(1); us <= 10000; us++ {
		h.recordMicros(us)
	}
	q := quantiles(h.snapshot(false), 1000)
	if q[0].Percentile != 50 || q[len(q)-1].Percentile != 100 || q[len(q)-1].Value != 10 {
		t.Fatalf("ends %+v … %+v", q[0], q[len(q)-1])
	}
	for i := 1; i < len(q); i++ {
		if q[i].Percentile <= q[i-1].Percentile || q[i].Value < q[i-1].Value {
			t.Fatalf("not increasing at %d: %+v then %+v", i, q[i-1], q[i])
		}
	}
	m := q.jsonMap()
	for _, k := range []string{"50.0", "75.0", "87.5", "93.75", "99.0", "99.9", "99.99", "99.999", "100.0"} {
		if _, ok := m[k]; !ok {
			t.Errorf("quantile map lacks %q: %v", k, m)
		}
	}
	// 10,000 samples: the ladder stops once fewer than one sample is left
	// beyond the next tick (2^-14 of 10,000 < 1).
	if _, ok := m["99.993896484375"]; !ok {
		t.Errorf("ladder stops early: %v", m)
	}
	if _, ok := m["99.9969482421875"]; ok {
		t.Errorf("ladder goes past the last sample: %v", m)
	}
	if v := m["50.0"]; v < 4.9 || v > 5.1 {
		t.Errorf("p50 %v ms, want ≈5", v)
	}
	if quantiles(new(histogram).snapshot(false), 1) != nil {
		t.Error("an empty histogram has quantiles")
	}
}

// TestRunWarmupExcluded: warm-up traffic is sent and consumed but appears in
// no figure; the JSON carries OpenMessaging's quantile maps and 99.999 %
// fields.
func TestRunWarmupExcluded(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var out bytes.Buffer
	res, err := Run(ctx, Config{Messages: 400, Senders: 4, Warmup: 400 * time.Millisecond, ReportInterval: 100 * time.Millisecond, Out: &out})
	if err != nil {
		t.Fatal(err)
	}
	if res.WarmupSent == 0 {
		t.Fatalf("the warm-up sent nothing\n%s", out.String())
	}
	if res.Failed || res.Sent != 400 || res.Received != 400 || res.Foreign != 0 || res.Duplicates != 0 || !res.Drained {
		t.Fatalf("failed=%v (%s) sent %d received %d foreign %d duplicates %d drained %v",
			res.Failed, res.FailReason, res.Sent, res.Received, res.Foreign, res.Duplicates, res.Drained)
	}
	if !strings.Contains(out.String(), "warm-up: 400ms") || !strings.Contains(out.String(), "[Complete] Send Total: 400 ") {
		t.Errorf("output:\n%s", out.String())
	}
	raw, err := json.Marshal(res)
	if err != nil {
		t.Fatal(err)
	}
	var j map[string]any
	if err := json.Unmarshal(raw, &j); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"aggregatedPublishLatencyQuantiles", "aggregatedEndToEndLatencyQuantiles"} {
		m, ok := j[k].(map[string]any)
		if !ok || m["50.0"] == nil || m["100.0"] == nil {
			t.Errorf("%s = %v", k, j[k])
		}
	}
	if _, ok := j["aggregatedPublishDelayLatencyQuantiles"].(map[string]any); !ok {
		t.Errorf("aggregatedPublishDelayLatencyQuantiles = %v", j["aggregatedPublishDelayLatencyQuantiles"])
	}
	for _, k := range []string{"aggregatedPublishLatency99999pct", "aggregatedPublishDelayLatency99999pct", "aggregatedEndToEndLatency99999pct",
		"publishLatency99999pct", "publishDelayLatency99999pct", "endToEndLatency99999pct"} {
		if _, ok := j[k]; !ok {
			t.Errorf("JSON lacks %q", k)
		}
	}
	if j["warmupSeconds"] != 0.4 || j["warmupSent"].(float64) != float64(res.WarmupSent) {
		t.Errorf("warmupSeconds %v warmupSent %v", j["warmupSeconds"], j["warmupSent"])
	}
	p999, p99999, pmax := j["aggregatedPublishLatency999pct"].(float64), j["aggregatedPublishLatency99999pct"].(float64), j["aggregatedPublishLatencyMax"].(float64)
	if !(p999 <= p99999 && p99999 <= pmax) {
		t.Errorf("p99.9 %v p99.999 %v max %v out of order", p999, p99999, pmax)
	}
}
