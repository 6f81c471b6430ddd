package htmlreport

import (
	"bytes"
	"encoding/json"
	"errors"
	"html"
	"regexp"
	"strings"
	"testing"
)

// sample is a result as `rocketgo loadtest -json` writes it (trimmed).
func sample(t *testing.T, workload string) []byte {
	t.Helper()
	b, err := json.Marshal(map[string]any{
		"workload": workload, "driver": "rocketgo", "mode": "both", "sendMode": "sync", "messageSize": 128, "senders": 64,
		"reportIntervalSeconds":         1.0,
		"publishRate":                   []float64{1000, 2000, 3000},
		"consumeRate":                   []float64{900, 2100, 3000},
		"publishLatency50pct":           []float64{0.5, 0.6, 0.7},
		"publishLatency99pct":           []float64{2, 3, 4},
		"publishLatency999pct":          []float64{5, 6, 7},
		"endToEndLatency50pct":          []float64{1, 1, 1},
		"endToEndLatency99pct":          []float64{3, 3, 3},
		"endToEndLatency999pct":         []float64{9, 9, 9},
		"publishRateAvg":                2000.0,
		"consumeRateAvg":                2000.0,
		"aggregatedPublishLatency50pct": 0.6, "aggregatedPublishLatency99pct": 3.0, "aggregatedPublishLatency999pct": 6.0,
		"aggregatedPublishLatencyMax":        8.0,
		"aggregatedEndToEndLatency99pct":     3.0,
		"aggregatedPublishLatencyQuantiles":  map[string]float64{"50.0": 0.6, "99.0": 3, "75.0": 1, "100.0": 8},
		"aggregatedEndToEndLatencyQuantiles": map[string]float64{"50.0": 1, "99.9": 9, "100.0": 10},
		"sent":                               6000, "received": 6000,
	})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestDecode(t *testing.T) {
	r, err := Decode(bytes.NewReader(sample(t, "w")), "a.json")
	if err != nil {
		t.Fatal(err)
	}
	if r.Label != "a.json" || r.IntervalSeconds != 1 || len(r.PublishRate) != 3 || r.PublishRateAvg != 2000 || r.Publish.P99 != 3 || r.Publish.Max != 8 {
		t.Fatalf("%+v", r)
	}
	want := []Quantile{{50, 0.6}, {75, 1}, {99, 3}, {100, 8}}
	if len(r.PublishQuantiles) != len(want) {
		t.Fatalf("quantiles %v", r.PublishQuantiles)
	}
	for i := range want {
		if r.PublishQuantiles[i] != want[i] {
			t.Fatalf("quantiles %v, want %v", r.PublishQuantiles, want)
		}
	}
}

// TestDecodeOMBResult: an OpenMessaging Benchmark result names no interval
// and no averages: 10 s and the series' mean stand in.
func TestDecodeOMBResult(t *testing.T) {
	in := `{"workload":"1-topic-16-partitions-1kb","driver":"Kafka","publishRate":[100,300],"consumeRate":[100,300],
	"aggregatedPublishLatencyQuantiles":{"50.0":1.5,"100.0":20}}`
	r, err := Decode(strings.NewReader(in), "kafka.json")
	if err != nil {
		t.Fatal(err)
	}
	if r.IntervalSeconds != 10 || r.PublishRateAvg != 200 || r.ConsumeRateAvg != 200 {
		t.Fatalf("interval %v publish avg %v consume avg %v", r.IntervalSeconds, r.PublishRateAvg, r.ConsumeRateAvg)
	}
}

func TestDecodeRefusesOtherFiles(t *testing.T) {
	for name, in := range map[string]string{
		"not json":      "<html>",
		"other json":    `{"name":"x"}`,
		"wrong type":    `{"publishRate":"fast"}`,
		"bad quantiles": `{"publishRate":[1],"aggregatedPublishLatencyQuantiles":{"p99":1}}`,
		"percent > 100": `{"publishRate":[1],"aggregatedEndToEndLatencyQuantiles":{"120":1}}`,
	} {
		if _, err := Decode(strings.NewReader(in), "f.json"); !errors.Is(err, ErrResult) {
			t.Errorf("%s: err %v, want ErrResult", name, err)
		}
	}
}

// TestWriteSelfContainedAndEscaped: the page inlines uPlot, its script and
// style, each allowed by a CSP hash that matches its text; it loads nothing
// from anywhere; hostile labels and workload names stay text.
func TestWriteSelfContainedAndEscaped(t *testing.T) {
	evil := `</script><script>alert(1)</script><img src=x onerror=alert(2)>`
	a, err := Decode(bytes.NewReader(sample(t, evil)), evil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Decode(bytes.NewReader(sample(t, "plain")), "b.json")
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := Write(&out, "compare "+evil, []*Run{a, b}); err != nil {
		t.Fatal(err)
	}
	page := out.String()
	if strings.Contains(page, "<script>alert") || strings.Contains(page, "<img src=x") {
		t.Fatal("a label was written as markup")
	}
	for _, banned := range []string{"src=\"http", "href=\"http", "<link", "@import", "<iframe"} {
		if strings.Contains(page, banned) {
			t.Errorf("page refers outside itself: %q", banned)
		}
	}
	csp := regexp.MustCompile(`<meta http-equiv="Content-Security-Policy" content="([^"]+)">`).FindStringSubmatch(page)
	if csp == nil {
		t.Fatal("no Content-Security-Policy")
	}
	policy := html.UnescapeString(csp[1]) // as the browser reads the attribute
	if !strings.HasPrefix(policy, "default-src 'none'; ") || strings.Contains(policy, "unsafe") {
		t.Fatalf("policy %q", policy)
	}
	// Every executable inline script and the style block are allowed by
	// their hashes, and nothing else is.
	scripts := regexp.MustCompile(`(?s)<script>(.*?)</script>`).FindAllStringSubmatch(page, -1)
	if len(scripts) != 2 {
		t.Fatalf("%d executable inline scripts, want 2 (uPlot and the report's)", len(scripts))
	}
	for _, s := range scripts {
		if !strings.Contains(policy, cspHash(s[1])) {
			t.Errorf("script of %d bytes not allowed by the policy", len(s[1]))
		}
	}
	style := regexp.MustCompile(`(?s)<style>(.*?)</style>`).FindStringSubmatch(page)
	if style == nil || !strings.Contains(policy, cspHash(style[1])) {
		t.Error("the style block is not allowed by the policy")
	}
	if strings.Contains(page, " on") && regexp.MustCompile(`<[^>]+ on[a-z]+=`).MatchString(page) {
		t.Error("inline event handler in the page")
	}
	// The data block is JSON the page's script can parse, labels included.
	data := regexp.MustCompile(`(?s)<script type="application/json" id="report-data">(.*?)</script>`).FindStringSubmatch(page)
	if data == nil {
		t.Fatal("no data block")
	}
	var d pageData
	if err := json.Unmarshal([]byte(data[1]), &d); err != nil {
		t.Fatalf("data block: %v\n%s", err, data[1])
	}
	if len(d.Runs) != 2 || d.Runs[0].Label != evil || len(d.Runs[1].Series) != 8 || len(d.Runs[1].PubQ) != 4 {
		t.Fatalf("data %+v", d)
	}
	if err := Write(&out, "none", nil); err == nil {
		t.Error("a page of no runs")
	}
}

func TestCompare(t *testing.T) {
	a, _ := Decode(bytes.NewReader(sample(t, "w")), "a.json")
	b, _ := Decode(bytes.NewReader(sample(t, "w")), "b.json")
	b.PublishRateAvg, b.Publish.P99 = 3000, 1.5
	var out bytes.Buffer
	if err := Compare(&out, []*Run{a, b}); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 4 || !strings.Contains(lines[2], "b.json") || !strings.Contains(lines[2], "1.50x") || !strings.Contains(lines[2], "0.50x") {
		t.Fatalf("comparison:\n%s", out.String())
	}
}
