package loadtest

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/montanaflynn/stats"

	"github.com/rocketgo/rocketgo/trace"
)

// Percentiles summarises one latency distribution. The JSON result gives
// publish and end-to-end latency in milliseconds and publish delay in
// microseconds, as the OpenMessaging Benchmark does.
type Percentiles struct {
	Avg, P50, P75, P95, P99, P999, P9999, P99999, Max float64
}

// percentiles converts a snapshot (µs) to the unit of scale: 1000 gives
// milliseconds, 1 microseconds.
func percentiles(s *histSnapshot, scale float64) Percentiles {
	p := func(q float64) float64 { return float64(s.percentile(q)) / scale }
	return Percentiles{
		Avg: s.mean() / scale, P50: p(50), P75: p(75), P95: p(95), P99: p(99),
		P999: p(99.9), P9999: p(99.99), P99999: p(99.999), Max: float64(s.max) / scale,
	}
}

// Interval is one report interval's figures.
type Interval struct {
	PublishRate      float64 // messages/s acknowledged
	PublishErrorRate float64 // failed messages/s
	ConsumeRate      float64 // messages/s received
	Backlog          int64   // sent minus received so far (ModeBoth)
	Sending          bool    // the interval ended during the send phase
	Publish          Percentiles
	PublishDelay     Percentiles
	EndToEnd         Percentiles
}

// Result is a run's outcome. It marshals to the OpenMessaging Benchmark's
// TestResult field names, plus rocketgo totals.
type Result struct {
	Mode        Mode
	SendMode    SendMode
	Topic       string
	Queues      int
	MessageSize int
	Producers   int
	Senders     int
	Consumers   int
	BatchSize   int
	Rate        float64 // target, 0 = unlimited
	// Message shape (Config's fields of the same names).
	Keys         bool
	PropertySize int
	DelayLevel   int
	TagCount     int
	// CompressOver is the body size from which the producers compressed
	// single messages, 0 when compression was off.
	CompressOver   int
	Sent           int64 // acknowledged (queued, for oneway)
	Received       int64 // distinct messages of this run consumed
	Duplicates     int64 // redeliveries (at-least-once), not in Received
	SendFailed     int64
	ResponseFailed int64
	Foreign        int64         // consumed messages of other runs, skipped
	SendElapsed    time.Duration // length of the send phase
	Elapsed        time.Duration // whole run, including draining
	Drained        bool          // ModeBoth: every sent message was received
	PublishRate    float64       // aggregate, messages/s
	ConsumeRate    float64       // aggregate, messages/s
	Publish        Percentiles   // ms
	PublishDelay   Percentiles   // µs; zero unless Rate > 0
	EndToEnd       Percentiles   // ms
	// The *Quantiles are the whole distributions (same units as above),
	// for OpenMessaging's percentile charts.
	PublishQuantiles      Quantiles
	PublishDelayQuantiles Quantiles
	EndToEndQuantiles     Quantiles
	// Warmup is the length of the warm-up phase, whose sends and
	// receipts are in none of the figures; WarmupSent counts its
	// acknowledged messages.
	Warmup     time.Duration
	WarmupSent int64
	Intervals  []Interval
	// ReportInterval is the length of each of Intervals (the last may be
	// shorter when a run ends inside it).
	ReportInterval time.Duration
	// Failed is set when errors (failed sends, and for sync/async ModeBoth
	// runs messages never received) exceed MaxErrorRate.
	Failed     bool
	FailReason string
	// SlowOver is Config.SlowOver; Slow the measured sends at least that
	// slow, in order of start (not in the JSON: WriteSlowSends writes
	// them), and SlowDropped those beyond the maxSlowSends kept.
	SlowOver    time.Duration
	Slow        []SlowSend
	SlowDropped int64
	// Trace sums the producers' and consumers' trace dispatchers at the
	// end of the send phase; nil when Config.Trace is off.
	Trace *trace.Stats
}

// Backlog is what was sent and not (yet) received.
func (r *Result) Backlog() int64 {
	if r.Mode != ModeBoth {
		return 0
	}
	return max(r.Sent-r.Received, 0)
}

// MarshalJSON writes the OpenMessaging Benchmark TestResult shape: series
// per interval under publishRate, consumeRate, backlog, publishLatency*,
// publishDelayLatency*, endToEndLatency*, and the aggregated* values.
func (r *Result) MarshalJSON() ([]byte, error) {
	out := map[string]any{
		"workload":          fmt.Sprintf("rocketgo-%s-%s-%dB", r.Mode, r.SendMode, r.MessageSize),
		"driver":            "rocketgo",
		"topics":            1,
		"partitions":        r.Queues,
		"messageSize":       r.MessageSize,
		"producersPerTopic": r.Producers,
		"consumersPerTopic": r.Consumers,
		"sendMode":          string(r.SendMode),
		"mode":              string(r.Mode),
		"senders":           r.Senders,
		"batchSize":         r.BatchSize,
		"targetRate":        r.Rate,
		"keys":              r.Keys,
		"propertySize":      r.PropertySize,
		"delayLevel":        r.DelayLevel,
		"tagCount":          r.TagCount,
		"compressOver":      r.CompressOver,
		"sent":              r.Sent,
		"received":          r.Received,
		"sendFailed":        r.SendFailed,
		"responseFailed":    r.ResponseFailed,
		"foreign":           r.Foreign,
		"duplicates":        r.Duplicates,
		"backlogFinal":      r.Backlog(),
		"drained":           r.Drained,
		"durationSeconds":   r.SendElapsed.Seconds(),
		"publishRateAvg":    r.PublishRate,
		"consumeRateAvg":    r.ConsumeRate,
		"failed":            r.Failed,
		"failReason":        r.FailReason,
	}
	n := len(r.Intervals)
	pub, pubErr, cons := make([]float64, n), make([]float64, n), make([]float64, n)
	backlog := make([]int64, n)
	for i, iv := range r.Intervals {
		pub[i], pubErr[i], cons[i], backlog[i] = iv.PublishRate, iv.PublishErrorRate, iv.ConsumeRate, iv.Backlog
	}
	out["publishRate"], out["publishErrorRate"], out["consumeRate"], out["backlog"] = pub, pubErr, cons, backlog
	series := func(prefix string, get func(Interval) Percentiles) {
		cols := make([][]float64, len(percentileSuffixes()))
		for i := range cols {
			cols[i] = make([]float64, n)
		}
		for i, iv := range r.Intervals {
			p := get(iv)
			for j, v := range p.values() {
				cols[j][i] = v
			}
		}
		for j, suffix := range percentileSuffixes() {
			out[prefix+suffix] = cols[j]
		}
	}
	series("publishLatency", func(iv Interval) Percentiles { return iv.Publish })
	series("publishDelayLatency", func(iv Interval) Percentiles { return iv.PublishDelay })
	series("endToEndLatency", func(iv Interval) Percentiles { return iv.EndToEnd })
	aggregated := func(prefix string, p Percentiles) {
		for j, v := range p.values() {
			out[prefix+percentileSuffixes()[j]] = v
		}
	}
	aggregated("aggregatedPublishLatency", r.Publish)
	aggregated("aggregatedPublishDelayLatency", r.PublishDelay)
	aggregated("aggregatedEndToEndLatency", r.EndToEnd)
	out["aggregatedPublishLatencyQuantiles"] = r.PublishQuantiles.jsonMap()
	out["aggregatedPublishDelayLatencyQuantiles"] = r.PublishDelayQuantiles.jsonMap()
	out["aggregatedEndToEndLatencyQuantiles"] = r.EndToEndQuantiles.jsonMap()
	out["warmupSeconds"], out["warmupSent"] = r.Warmup.Seconds(), r.WarmupSent
	out["reportIntervalSeconds"] = r.ReportInterval.Seconds()
	return json.Marshal(out)
}

// percentileSuffixes are the OpenMessaging field suffixes, in the order of
// Percentiles.values.
func percentileSuffixes() [9]string {
	return [9]string{"Avg", "50pct", "75pct", "95pct", "99pct", "999pct", "9999pct", "99999pct", "Max"}
}

func (p Percentiles) values() [9]float64 {
	return [9]float64{p.Avg, p.P50, p.P75, p.P95, p.P99, p.P999, p.P9999, p.P99999, p.Max}
}

// reporter prints the live lines and keeps the per-interval series.
type reporter struct {
	r         *run
	out       io.Writer
	intervals []Interval
	lastAt    time.Time
	lastSent  int64
	lastFail  int64
	lastRecv  int64
}

func newReporter(r *run) *reporter { return &reporter{r: r, out: r.cfg.Out} }

func (rep *reporter) loop(ctx context.Context) {
	rep.lastAt = rep.r.start
	t := time.NewTicker(rep.r.cfg.ReportInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			// A run shorter than one interval still shows its live lines,
			// covering the whole run. Longer runs leave the last partial
			// interval out: a few straggling sends over a few milliseconds
			// would only print misleading rates.
			m := rep.r.m
			if len(rep.intervals) == 0 && (m.sent.Load() != 0 || m.received.Load() != 0) {
				rep.tick(time.Now())
			}
			return
		case now := <-t.C:
			rep.tick(now)
		}
	}
}

// timeLayout is RocketMQ's benchmark timestamp (yyyy-MM-dd HH:mm:ss,SSS).
const timeLayout = "2006-01-02 15:04:05,000"

func (rep *reporter) tick(now time.Time) {
	m, cfg := rep.r.m, rep.r.cfg
	secs := now.Sub(rep.lastAt).Seconds()
	rep.lastAt = now
	sent, recv := m.sent.Load(), m.received.Load()
	fail := m.sendFailed.Load() + m.responseFailed.Load()
	rt, delay, e2e, s2c := m.sendRTIv.snapshot(true), m.pubDelayIv.snapshot(true), m.e2eIv.snapshot(true), m.s2cIv.snapshot(true)
	iv := Interval{
		Sending:          rep.r.sending.Load(),
		PublishRate:      float64(sent-rep.lastSent) / secs,
		PublishErrorRate: float64(fail-rep.lastFail) / secs,
		ConsumeRate:      float64(recv-rep.lastRecv) / secs,
		Publish:          percentiles(rt, 1000),
		PublishDelay:     percentiles(delay, 1),
		EndToEnd:         percentiles(e2e, 1000),
	}
	if cfg.Mode == ModeBoth {
		iv.Backlog = max(sent-recv, 0)
	}
	rep.lastSent, rep.lastFail, rep.lastRecv = sent, fail, recv
	rep.intervals = append(rep.intervals, iv)

	ts := now.Format(timeLayout)
	rep.showFirstError()
	if cfg.Mode != ModeConsume {
		fmt.Fprintf(rep.out, "Current Time: %s | Send TPS: %d | Max RT(ms): %d | Average RT(ms): %7.3f | Send Failed: %d | Response Failed: %d\n",
			ts, int64(iv.PublishRate), m.sendRT.max.Load()/1000, iv.Publish.Avg, m.sendFailed.Load(), m.responseFailed.Load())
		line := "  Send RT(ms) " + pctLine(iv.Publish)
		if cfg.Rate > 0 {
			line += " | Pub Delay(ms) " + pctLine(scale(iv.PublishDelay, 1000))
		}
		fmt.Fprintln(rep.out, line)
	}
	if cfg.Mode != ModeProduce {
		fmt.Fprintf(rep.out, "Current Time: %s | Consume TPS: %d | AVG(B2C) RT(ms): %7.3f | AVG(S2C) RT(ms): %7.3f | MAX(B2C) RT(ms): %d | MAX(S2C) RT(ms): %d | Consume Fail: 0\n",
			ts, int64(iv.ConsumeRate), e2e.mean()/1000, s2c.mean()/1000, e2e.max/1000, s2c.max/1000)
		line := "  E2E(B2C)(ms) " + pctLine(iv.EndToEnd)
		if cfg.Mode == ModeBoth {
			line += fmt.Sprintf(" | Backlog: %d", iv.Backlog)
		}
		fmt.Fprintln(rep.out, line)
	}
}

func scale(p Percentiles, by float64) Percentiles {
	v := p.values()
	for i := range v {
		v[i] /= by
	}
	return Percentiles{v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8]}
}

func pctLine(p Percentiles) string {
	return fmt.Sprintf("p50: %.3f p75: %.3f p95: %.3f p99: %.3f p99.9: %.3f p99.99: %.3f max: %.3f",
		p.P50, p.P75, p.P95, p.P99, p.P999, p.P9999, p.Max)
}

// result assembles the final figures from the cumulative histograms.
func (rep *reporter) result(sendElapsed, elapsed time.Duration, drained bool) *Result {
	m, cfg := rep.r.m, rep.r.cfg
	res := &Result{
		Mode: cfg.Mode, SendMode: cfg.SendMode, Topic: cfg.Topic, Queues: cfg.Queues,
		MessageSize: cfg.MessageSize, Producers: cfg.Producers, Senders: cfg.Senders,
		Consumers: cfg.Consumers, BatchSize: cfg.BatchSize, Rate: cfg.Rate,
		Keys: cfg.Keys, PropertySize: cfg.PropertySize, DelayLevel: cfg.DelayLevel, TagCount: cfg.TagCount,
		CompressOver: cfg.compressThreshold(),
		Sent:         m.sent.Load(), Received: m.received.Load(),
		SendFailed: m.sendFailed.Load(), ResponseFailed: m.responseFailed.Load(),
		Foreign: m.foreign.Load(), Duplicates: m.duplicates.Load(), SendElapsed: sendElapsed, Elapsed: elapsed,
		Drained:   cfg.Mode == ModeBoth && drained,
		Intervals: rep.intervals, ReportInterval: cfg.ReportInterval,
		Warmup: cfg.Warmup, WarmupSent: rep.r.warmed.Load(), SlowOver: cfg.SlowOver,
	}
	pub, e2e := m.sendRT.snapshot(false), m.e2e.snapshot(false)
	res.Publish, res.PublishQuantiles = percentiles(pub, 1000), quantiles(pub, 1000)
	res.EndToEnd, res.EndToEndQuantiles = percentiles(e2e, 1000), quantiles(e2e, 1000)
	if cfg.Mode == ModeProduce {
		res.Consumers = 0
	}
	if cfg.Mode == ModeConsume {
		res.Producers, res.Senders = 0, 0
	}
	if cfg.Rate > 0 {
		delay := m.pubDelay.snapshot(false)
		res.PublishDelay, res.PublishDelayQuantiles = percentiles(delay, 1), quantiles(delay, 1)
	}
	if s := sendElapsed.Seconds(); s > 0 {
		res.PublishRate = float64(res.Sent) / s
	}
	if s := elapsed.Seconds(); s > 0 {
		res.ConsumeRate = float64(res.Received) / s
	}
	failed := res.SendFailed + res.ResponseFailed
	if cfg.Mode == ModeBoth && cfg.SendMode != SendOneway {
		failed += res.Backlog() // acknowledged but never delivered
	}
	attempted := res.Sent + res.SendFailed + res.ResponseFailed
	if attempted > 0 {
		if rate := float64(failed) / float64(attempted); rate > cfg.MaxErrorRate {
			res.Failed = true
			res.FailReason = fmt.Sprintf("%d of %d messages failed or were lost (%.4f%% > %.4f%% allowed)",
				failed, attempted, 100*rate, 100*cfg.MaxErrorRate)
		}
	} else if cfg.Mode != ModeConsume {
		res.Failed, res.FailReason = true, "no message was sent"
	}
	return res
}

// showFirstError prints the run's first send error, once.
func (rep *reporter) showFirstError() {
	if e := rep.r.firstErr.Load(); e != nil && !rep.r.errShown {
		rep.r.errShown = true
		fmt.Fprintf(rep.out, "first send error: %v\n", *e)
	}
}

// printSummary prints RocketMQ's [Complete] lines and the percentile table.
func (rep *reporter) printSummary(res *Result) {
	w, cfg, m := rep.out, rep.r.cfg, rep.r.m
	rep.showFirstError()
	if cfg.Mode != ModeConsume {
		fmt.Fprintf(w, "[Complete] Send Total: %d | Send TPS: %d | Max RT(ms): %d | Average RT(ms): %7.3f | Send Failed: %d | Response Failed: %d\n",
			res.Sent+res.SendFailed+res.ResponseFailed, int64(res.PublishRate), int64(res.Publish.Max), res.Publish.Avg, res.SendFailed, res.ResponseFailed)
	}
	if cfg.Mode != ModeProduce {
		s2c := m.s2c.snapshot(false)
		fmt.Fprintf(w, "[Complete] Consume Total: %d | Consume TPS: %d | AVG(B2C) RT(ms): %7.3f | AVG(S2C) RT(ms): %7.3f | MAX(B2C) RT(ms): %d | MAX(S2C) RT(ms): %d | Consume Fail: 0\n",
			res.Received, int64(res.ConsumeRate), res.EndToEnd.Avg, s2c.mean()/1000, int64(res.EndToEnd.Max), s2c.max/1000)
	}
	if tps := rep.tpsSeries(cfg.Mode != ModeConsume); len(tps) > 1 {
		mean, _ := stats.Mean(tps)
		sd, _ := stats.StandardDeviation(tps)
		lo, _ := stats.Min(tps)
		hi, _ := stats.Max(tps)
		med, _ := stats.Median(tps)
		fmt.Fprintf(w, "TPS per interval: mean %.0f median %.0f stddev %.0f min %.0f max %.0f (%d intervals)\n", mean, med, sd, lo, hi, len(tps))
	}
	if cfg.Mode == ModeBoth {
		fmt.Fprintf(w, "Sent: %d | Received: %d | Duplicates: %d | Backlog: %d | Drained: %v\n", res.Sent, res.Received, res.Duplicates, res.Backlog(), res.Drained)
	}
	if t := res.Trace; t != nil {
		// In every mode: a produce-only or consume-only run traces too.
		fmt.Fprintf(w, "Trace records: %d queued | %d sent | %d failed | %d dropped (queue full) | %d trace messages\n",
			t.Appended, t.Sent, t.Failed, t.Dropped, t.Messages)
	}
	if cfg.SlowOver > 0 && cfg.Mode != ModeConsume {
		rep.printSlow(res)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%-22s %9s %9s %9s %9s %9s %9s %9s %9s\n", "Latency (ms)", "avg", "p50", "p75", "p95", "p99", "p99.9", "p99.99", "max")
	row := func(name string, p Percentiles) {
		fmt.Fprintf(&b, "%-22s %9.3f %9.3f %9.3f %9.3f %9.3f %9.3f %9.3f %9.3f\n", name, p.Avg, p.P50, p.P75, p.P95, p.P99, p.P999, p.P9999, p.Max)
	}
	if cfg.Mode != ModeConsume {
		row("send RT", res.Publish)
		if cfg.Rate > 0 {
			row("publish delay", scale(res.PublishDelay, 1000))
		}
	}
	if cfg.Mode != ModeProduce {
		row("end-to-end (B2C)", res.EndToEnd)
	}
	io.WriteString(w, b.String())
	if res.Failed {
		fmt.Fprintf(w, "FAILED: %s\n", res.FailReason)
	}
}

// tpsSeries is the per-interval send rate during the send phase (or the
// consume rate throughout); montanaflynn/stats then summarises how steady
// the rate was.
func (rep *reporter) tpsSeries(send bool) []float64 {
	out := make([]float64, 0, len(rep.intervals))
	for _, iv := range rep.intervals {
		if send {
			if iv.Sending { // the drain phase sends nothing: leave it out
				out = append(out, iv.PublishRate)
			}
		} else {
			out = append(out, iv.ConsumeRate)
		}
	}
	return out
}

// printSlow summarises Result.Slow: how many sends were slow, and how many
// of them ended together with at least half the senders' others, i.e.
// waited out one stall of the whole path (slowlog.go).
func (rep *reporter) printSlow(res *Result) {
	n := int64(len(res.Slow)) + res.SlowDropped
	total := res.Sent + res.SendFailed + res.ResponseFailed
	pct := 0.0
	if total > 0 {
		pct = 100 * float64(n) / float64(total)
	}
	together := max(rep.r.cfg.Senders/2, 2)
	moments, released := stalls(res.Slow, together)
	fmt.Fprintf(rep.out, "Slow sends (>= %v): %d (%.2f %%); %d of them ended in %d stalls (>= %d sends ending within %v of each other)\n",
		res.SlowOver, n, pct, released, moments, together, stallWindow)
}
