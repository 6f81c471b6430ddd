// Package loadtestreport_test opens the HTML report of `rocketgo loadtest
// -html` and `rocketgo loadtest report -html` in a real headless Chromium
// (chromedp), from a file:// URL as a user would: every chart must be drawn
// (a canvas with ink on it), the legends must name the runs, and the page
// must throw no script error and trip no Content-Security-Policy rule.
//
// Browser and artifacts as interop/console: $ROCKETGO_CHROMIUM or chromium
// on $PATH; skipped loudly without one unless ROCKETGO_REQUIRE_BROWSER=1
// (set by .ci/run); the screenshot goes to
// $ROCKETGO_ARTIFACTS/loadtest-report/ when set.
//
//	ROCKETGO_ARTIFACTS=/tmp/art go test -run Browser -v ./loadtestreport/
package loadtestreport_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/rocketgo/rocketgo/interop/internal/headless"

	"github.com/rocketgo/rocketgo/loadtest"
	"github.com/rocketgo/rocketgo/loadtest/htmlreport"
)

// runOnce does a short end-to-end load test against an embedded server,
// rate-limited for a fixed time so that it spans several report intervals
// however fast the machine, and returns its result as the report reads it (through the JSON, as
// `loadtest report` does).
func runOnce(t *testing.T, ctx context.Context, label string, senders int) *htmlreport.Run {
	t.Helper()
	res, err := loadtest.Run(ctx, loadtest.Config{Duration: 700 * time.Millisecond, Rate: 1500, Senders: senders, ReportInterval: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if res.Failed || len(res.Intervals) < 2 {
		t.Fatalf("%s: failed=%v (%s), %d intervals", label, res.Failed, res.FailReason, len(res.Intervals))
	}
	b, err := json.Marshal(res)
	if err != nil {
		t.Fatal(err)
	}
	run, err := htmlreport.Decode(bytes.NewReader(b), label)
	if err != nil {
		t.Fatal(err)
	}
	return run
}

// figure is what the page shows of one chart.
type figure struct {
	ID     string   `json:"id"`
	Drawn  string   `json:"drawn"`  // series drawn, set by report.js
	Hidden bool     `json:"hidden"` // no data for it: hidden
	Ink    int      `json:"ink"`    // non-transparent canvas pixels
	Labels []string `json:"labels"` // legend entries
}

const inspect = `Array.from(document.querySelectorAll("figure")).map(function (f) {
  var c = f.querySelector("canvas"), ink = 0;
  if (c) {
    var d = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
    for (var i = 3; i < d.length; i += 4) { if (d[i] !== 0) { ink++; } }
  }
  return { id: f.id, drawn: f.getAttribute("data-drawn") || "", hidden: f.classList.contains("empty"), ink: ink,
    labels: Array.from(f.querySelectorAll(".u-legend .u-label")).map(function (l) { return l.textContent; }) };
})`

// TestLoadtestReportInBrowser: a page overlaying two runs (one with a
// hostile label) draws its five charts with both runs in each legend, and
// raises no error; a single-run produce-only page hides the end-to-end
// charts instead of drawing empty ones.
func TestLoadtestReportInBrowser(t *testing.T) {
	browser := headless.Require(t, "the HTML report")
	shots := headless.ShotsDir(t, "loadtest-report")
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()

	evil := `<img src=x onerror=alert(1)>.json`
	a, b := runOnce(t, ctx, "eight-senders.json", 8), runOnce(t, ctx, evil, 2)
	dir := t.TempDir()
	cmp := filepath.Join(dir, "cmp.html")
	writePage(t, cmp, "two runs", a, b)
	produceOnly := *a
	produceOnly.Label, produceOnly.EndToEndQuantiles = "produce only", nil
	produceOnly.ConsumeRate, produceOnly.EndToEndP50, produceOnly.EndToEndP99, produceOnly.EndToEndP999 = nil, nil, nil, nil
	single := filepath.Join(dir, "single.html")
	writePage(t, single, "one run", &produceOnly)

	br := headless.Start(t, ctx, browser, 1280, 900)
	bctx, errs := br.Ctx, br.Errors
	figs := open(t, bctx, cmp, errs)
	want := map[string]int{"chart-tps": 4, "chart-pub": 6, "chart-e2e": 6, "chart-pubq": 2, "chart-e2eq": 2}
	for _, f := range figs {
		n, ok := want[f.ID]
		if !ok {
			continue
		}
		delete(want, f.ID)
		if f.Hidden || f.Drawn != fmt.Sprint(n) || f.Ink < 500 {
			t.Errorf("%s: hidden %v, %s series drawn (want %d), %d pixels of ink", f.ID, f.Hidden, f.Drawn, n, f.Ink)
		}
		legend := strings.Join(f.Labels, "|")
		if !strings.Contains(legend, "eight-senders.json") || !strings.Contains(legend, evil) {
			t.Errorf("%s: legend %q lacks a run", f.ID, legend)
		}
	}
	if len(want) != 0 {
		t.Errorf("charts missing from the page: %v", want)
	}
	if n, err := chromedp.Run(bctx, chromedp.Evaluate[int](`document.querySelectorAll("img").length`)); err != nil || n != 0 {
		t.Errorf("the hostile label became markup: %d img elements (%v)", n, err)
	}
	shot(t, bctx, filepath.Join(shots, "compare.png"))

	for _, f := range open(t, bctx, single, errs) {
		switch f.ID {
		case "chart-e2e", "chart-e2eq":
			if !f.Hidden || f.Drawn != "" {
				t.Errorf("%s drawn for a produce-only run", f.ID)
			}
		default:
			if f.Hidden || f.Ink < 500 {
				t.Errorf("%s not drawn for a produce-only run (%d pixels)", f.ID, f.Ink)
			}
		}
	}
	shot(t, bctx, filepath.Join(shots, "single.png"))
	t.Logf("screenshots in %s", shots)

	br.CheckErrors(t)
}

func writePage(t *testing.T, path, title string, runs ...*htmlreport.Run) {
	t.Helper()
	var b bytes.Buffer
	if err := htmlreport.Write(&b, title, runs); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// open loads a page, waits for its script to finish and returns what its
// figures show.
// A script the policy blocks never sets data-charts: the page errors
// collected so far then say why.
func open(t *testing.T, ctx context.Context, path string, errs func() []string) []figure {
	t.Helper()
	wctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	if err := chromedp.Do(wctx, chromedp.Navigate("file://"+path), chromedp.WaitVisible(chromedp.CSS(`body[data-charts="ready"]`))); err != nil {
		t.Fatalf("open %s: the charts never finished (%v); page errors: %q", path, err, errs())
	}
	figs, err := chromedp.Run(ctx, chromedp.Evaluate[[]figure](inspect))
	if err != nil {
		t.Fatalf("inspect %s: %v", path, err)
	}
	return figs
}

func shot(t *testing.T, ctx context.Context, file string) {
	t.Helper()
	buf, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	if err := os.WriteFile(file, buf, 0o644); err != nil {
		t.Fatal(err)
	}
}
