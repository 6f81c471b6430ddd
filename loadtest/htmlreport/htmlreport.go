// Package htmlreport turns load test results into one self-contained HTML
// page: throughput and latency percentiles over time, and each run's
// latency percentile curve, drawn with uPlot (vendored in uplot/, MIT).
//
// Results are read from the OpenMessaging Benchmark TestResult JSON that
// `rocketgo loadtest -json` writes, so the page can also chart OMB's own
// result files. Several results overlay in one page, to compare runs.
//
// The page needs nothing at view time: the chart library, its stylesheet
// and the data are inlined. It is written with html/template (labels and
// workload names from result files are data, never markup) and carries a
// Content-Security-Policy that allows only its own two scripts and its one
// stylesheet, by hash: no network, no eval, no inline handlers.
package htmlreport

import (
	"bytes"
	"crypto/sha256"
	_ "embed"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io"
	"math"
	"slices"
	"strconv"
	"time"
)

// The chart library (uPlot 1.6.32 from npm, LICENSE beside it) and the
// page's own script and style.
var (
	//go:embed uplot/uPlot.iife.min.js
	uplotJS string
	//go:embed uplot/uPlot.min.css
	uplotCSS string
	//go:embed report.js
	reportJS string
	//go:embed report.css
	reportCSS string
	//go:embed report.html
	pageHTML string
)

// ErrResult reports a result file that is not a load test result.
var ErrResult = errors.New("htmlreport: not a load test result")

// Run is one load test result, as the page charts it. Latencies are in
// milliseconds; series hold one value per report interval.
type Run struct {
	Label    string // shown in legends: the file name, or "this run"
	Workload string
	Driver   string
	Mode     string // produce, consume or both ("" for OMB's own results)
	SendMode string
	Size     int // message size in bytes
	Senders  int

	IntervalSeconds float64 // length of one report interval
	PublishRate     []float64
	ConsumeRate     []float64
	PublishP50      []float64
	PublishP99      []float64
	PublishP999     []float64
	EndToEndP50     []float64
	EndToEndP99     []float64
	EndToEndP999    []float64

	PublishRateAvg, ConsumeRateAvg float64
	Publish, EndToEnd              Summary
	// PublishQuantiles and EndToEndQuantiles are the whole distributions
	// (percentile → ms), increasing, ending at 100.
	PublishQuantiles, EndToEndQuantiles []Quantile
	Sent, Received                      int64
	Failed                              bool
}

// Summary is one aggregated latency distribution in milliseconds.
type Summary struct {
	Avg, P50, P99, P999, P9999, Max float64
}

// Quantile is one point of a percentile curve.
type Quantile struct {
	Percentile float64 // 0..100
	Value      float64 // ms
}

// omb are the TestResult fields the page uses.
type omb struct {
	Workload              string             `json:"workload"`
	Driver                string             `json:"driver"`
	Mode                  string             `json:"mode"`
	SendMode              string             `json:"sendMode"`
	MessageSize           int                `json:"messageSize"`
	Senders               int                `json:"senders"`
	ReportIntervalSeconds float64            `json:"reportIntervalSeconds"`
	PublishRate           []float64          `json:"publishRate"`
	ConsumeRate           []float64          `json:"consumeRate"`
	Pub50                 []float64          `json:"publishLatency50pct"`
	Pub99                 []float64          `json:"publishLatency99pct"`
	Pub999                []float64          `json:"publishLatency999pct"`
	E2E50                 []float64          `json:"endToEndLatency50pct"`
	E2E99                 []float64          `json:"endToEndLatency99pct"`
	E2E999                []float64          `json:"endToEndLatency999pct"`
	PubRateAvg            *float64           `json:"publishRateAvg"`
	ConsRateAvg           *float64           `json:"consumeRateAvg"`
	PubAvg                float64            `json:"aggregatedPublishLatencyAvg"`
	Pub50Agg              float64            `json:"aggregatedPublishLatency50pct"`
	Pub99Agg              float64            `json:"aggregatedPublishLatency99pct"`
	Pub999Agg             float64            `json:"aggregatedPublishLatency999pct"`
	Pub9999Agg            float64            `json:"aggregatedPublishLatency9999pct"`
	PubMax                float64            `json:"aggregatedPublishLatencyMax"`
	E2EAvg                float64            `json:"aggregatedEndToEndLatencyAvg"`
	E2E50Agg              float64            `json:"aggregatedEndToEndLatency50pct"`
	E2E99Agg              float64            `json:"aggregatedEndToEndLatency99pct"`
	E2E999Agg             float64            `json:"aggregatedEndToEndLatency999pct"`
	E2E9999Agg            float64            `json:"aggregatedEndToEndLatency9999pct"`
	E2EMax                float64            `json:"aggregatedEndToEndLatencyMax"`
	PubQ                  map[string]float64 `json:"aggregatedPublishLatencyQuantiles"`
	E2EQ                  map[string]float64 `json:"aggregatedEndToEndLatencyQuantiles"`
	Sent                  int64              `json:"sent"`
	Received              int64              `json:"received"`
	Failed                bool               `json:"failed"`
}

// OMBStatsPeriod is the OpenMessaging Benchmark's report interval, assumed
// for result files that do not name theirs.
const OMBStatsPeriod = 10 * time.Second

// Decode reads one result (OpenMessaging TestResult JSON, as `rocketgo
// loadtest -json` writes it) and labels it. A file without any rate series
// or latency figure is refused with ErrResult.
func Decode(r io.Reader, label string) (*Run, error) {
	var o omb
	dec := json.NewDecoder(r)
	if err := dec.Decode(&o); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrResult, label, err)
	}
	if o.PublishRate == nil && o.ConsumeRate == nil && o.PubQ == nil && o.E2EQ == nil {
		return nil, fmt.Errorf("%w: %s has no publishRate, consumeRate or latency quantiles", ErrResult, label)
	}
	pq, err := quantiles(o.PubQ)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: aggregatedPublishLatencyQuantiles: %v", ErrResult, label, err)
	}
	eq, err := quantiles(o.E2EQ)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: aggregatedEndToEndLatencyQuantiles: %v", ErrResult, label, err)
	}
	run := &Run{
		Label: label, Workload: o.Workload, Driver: o.Driver, Mode: o.Mode, SendMode: o.SendMode,
		Size: o.MessageSize, Senders: o.Senders,
		IntervalSeconds: o.ReportIntervalSeconds,
		PublishRate:     o.PublishRate, ConsumeRate: o.ConsumeRate,
		PublishP50: o.Pub50, PublishP99: o.Pub99, PublishP999: o.Pub999,
		EndToEndP50: o.E2E50, EndToEndP99: o.E2E99, EndToEndP999: o.E2E999,
		Publish:          Summary{o.PubAvg, o.Pub50Agg, o.Pub99Agg, o.Pub999Agg, o.Pub9999Agg, o.PubMax},
		EndToEnd:         Summary{o.E2EAvg, o.E2E50Agg, o.E2E99Agg, o.E2E999Agg, o.E2E9999Agg, o.E2EMax},
		PublishQuantiles: pq, EndToEndQuantiles: eq,
		Sent: o.Sent, Received: o.Received, Failed: o.Failed,
	}
	if run.IntervalSeconds <= 0 || math.IsInf(run.IntervalSeconds, 0) {
		run.IntervalSeconds = OMBStatsPeriod.Seconds()
	}
	// OMB's own results carry no averages: the mean of the series is the
	// best figure they allow.
	run.PublishRateAvg = avgOr(o.PubRateAvg, o.PublishRate)
	run.ConsumeRateAvg = avgOr(o.ConsRateAvg, o.ConsumeRate)
	return run, nil
}

func avgOr(v *float64, series []float64) float64 {
	if v != nil {
		return *v
	}
	if len(series) == 0 {
		return 0
	}
	var sum float64
	for _, x := range series {
		sum += x
	}
	return sum / float64(len(series))
}

// quantiles parses an OMB quantile map ("99.9" → value) into an increasing
// curve.
func quantiles(m map[string]float64) ([]Quantile, error) {
	out := make([]Quantile, 0, len(m))
	for k, v := range m {
		p, err := strconv.ParseFloat(k, 64)
		if err != nil || p < 0 || p > 100 || math.IsNaN(p) {
			return nil, fmt.Errorf("percentile key %q", k)
		}
		out = append(out, Quantile{p, v})
	}
	slices.SortFunc(out, func(a, b Quantile) int {
		switch {
		case a.Percentile < b.Percentile:
			return -1
		case a.Percentile > b.Percentile:
			return 1
		}
		return 0
	})
	return out, nil
}

// page is what the template fills in.
type page struct {
	Title     string
	Generated string
	CSP       string
	Style     template.CSS
	UPlot     template.JS
	Script    template.JS
	Runs      []*Run
	Data      pageData
}

// pageData is the JSON the page's script charts.
type pageData struct {
	Runs []runData `json:"runs"`
}

type runData struct {
	Label    string       `json:"label"`
	Interval float64      `json:"interval"`
	Series   [][]float64  `json:"series"` // publishRate, consumeRate, pub p50/p99/p99.9, e2e p50/p99/p99.9
	PubQ     [][2]float64 `json:"pubQ"`   // [percentile, ms]
	E2EQ     [][2]float64 `json:"e2eQ"`
}

var pageTmpl = template.Must(template.New("page").Parse(pageHTML))

// Write renders the page for runs (at least one) to w.
func Write(w io.Writer, title string, runs []*Run) error {
	if len(runs) == 0 {
		return errors.New("htmlreport: no result to chart")
	}
	p := page{
		Title:     title,
		Generated: time.Now().UTC().Format(time.RFC3339),
		Style:     template.CSS(uplotCSS + "\n" + reportCSS),
		UPlot:     template.JS(uplotJS),
		Script:    template.JS(reportJS),
		Runs:      runs,
	}
	p.CSP = fmt.Sprintf("default-src 'none'; script-src %s %s; style-src %s; img-src data:; base-uri 'none'; form-action 'none'",
		cspHash(uplotJS), cspHash(reportJS), cspHash(string(p.Style)))
	for _, r := range runs {
		d := runData{Label: r.Label, Interval: r.IntervalSeconds,
			Series: [][]float64{r.PublishRate, r.ConsumeRate, r.PublishP50, r.PublishP99, r.PublishP999, r.EndToEndP50, r.EndToEndP99, r.EndToEndP999}}
		for i, s := range d.Series {
			if s == nil {
				d.Series[i] = []float64{}
			}
		}
		d.PubQ, d.E2EQ = pairs(r.PublishQuantiles), pairs(r.EndToEndQuantiles)
		p.Data.Runs = append(p.Data.Runs, d)
	}
	var b bytes.Buffer
	if err := pageTmpl.Execute(&b, p); err != nil {
		return fmt.Errorf("htmlreport: %w", err)
	}
	_, err := w.Write(b.Bytes())
	return err
}

func pairs(q []Quantile) [][2]float64 {
	out := make([][2]float64, 0, len(q))
	for _, x := range q {
		out = append(out, [2]float64{x.Percentile, x.Value})
	}
	return out
}

// cspHash is the CSP source expression allowing exactly this inline text.
func cspHash(s string) string {
	sum := sha256.Sum256([]byte(s))
	return "'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"
}
