package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// TestLoadtestJSONToStdout: with -json - stdout is one JSON document (a
// pipe can parse it) and the report goes to stderr.
func TestLoadtestJSONToStdout(t *testing.T) {
	// An embedded run doubles the Ps unless the environment sets them.
	cpus := procsAtCPUs(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var stdout, stderr bytes.Buffer
	code := runLoadtest(ctx, []string{"-mode", "produce", "-messages", "50", "-senders", "2", "-warmup", "100ms", "-json", "-"}, &stdout, &stderr)
	if code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout.String(), stderr.String())
	}
	var j map[string]any
	if err := json.Unmarshal(stdout.Bytes(), &j); err != nil {
		t.Fatalf("stdout is not one JSON document: %v\n%s", err, stdout.String())
	}
	if j["sent"] != 50.0 || j["warmupSeconds"] != 0.1 {
		t.Errorf("sent %v warmupSeconds %v", j["sent"], j["warmupSeconds"])
	}
	// The header names the Ps the run had: twice the CPUs.
	header := fmt.Sprintf("; GOMAXPROCS %d, %d CPUs", 2*cpus, runtime.NumCPU())
	for _, want := range []string{"rocketgo loadtest: mode produce", header, "warm-up: 100ms", "[Complete] Send Total: 50 "} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr.String())
		}
	}
}

// TestLoadtestHTMLAndReport: -html writes the page next to -json; `loadtest
// report` compares saved results (flags before, between or after the
// files) and overlays them in one page; bad input gets exit 1 or 2 and a
// message, not a page.
func TestLoadtestHTMLAndReport(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.json"), filepath.Join(dir, "b.json")
	var stdout, stderr bytes.Buffer
	page := filepath.Join(dir, "a.html")
	if code := runLoadtest(ctx, []string{"-mode", "produce", "-messages", "40", "-senders", "2", "-json", a, "-html", page}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, stdout.String(), stderr.String())
	}
	if !strings.Contains(stdout.String(), "HTML report written to "+page) {
		t.Errorf("stdout:\n%s", stdout.String())
	}
	html, err := os.ReadFile(page)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Content-Security-Policy", `id="chart-tps"`, "uPlot", "this run"} {
		if !bytes.Contains(html, []byte(want)) {
			t.Errorf("page lacks %q", want)
		}
	}
	if code := runLoadtest(ctx, []string{"-mode", "produce", "-messages", "40", "-senders", "1", "-keys", "-tag-count", "2", "-json", b}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d\n%s", code, stderr.String())
	}

	cmp := filepath.Join(dir, "cmp.html")
	stdout.Reset()
	if code := runLoadtest(ctx, []string{"report", a, "-title", "A vs B", b, "-html", cmp}, &stdout, &stderr); code != 0 {
		t.Fatalf("report: exit %d\n%s", code, stderr.String())
	}
	out := stdout.String()
	for _, want := range []string{"a.json", "b.json", "1.00x", "HTML report written to " + cmp} {
		if !strings.Contains(out, want) {
			t.Errorf("report output lacks %q:\n%s", want, out)
		}
	}
	html, err = os.ReadFile(cmp)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(html, []byte("<title>A vs B</title>")) || !bytes.Contains(html, []byte(`"label":"b.json"`)) {
		t.Errorf("comparison page lacks its title or the second run")
	}

	stdout.Reset()
	stderr.Reset()
	if code := runLoadtest(ctx, []string{"report", "-h"}, &stdout, &stderr); code != 0 || stderr.Len() != 0 ||
		!strings.Contains(stdout.String(), "usage: rocketgo loadtest report") || !strings.Contains(stdout.String(), "-html") {
		t.Errorf("report -h: exit %d, stdout %q, stderr %q", code, stdout.String(), stderr.String())
	}

	notResult := filepath.Join(dir, "x.json")
	os.WriteFile(notResult, []byte(`{"hello":1}`), 0o644)
	for _, c := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"report"}, 2, "at least one JSON result"},
		{[]string{"report", filepath.Join(dir, "missing.json")}, 1, "missing.json"},
		{[]string{"report", notResult}, 1, "not a load test result"},
		{[]string{"report", a, "-nope"}, 2, "-nope"},
		{[]string{"-tag-count", "2", "-tags", "x"}, 1, "tag count and tags"},
		{[]string{"-delay-level", "19"}, 1, "delay level 19"},
	} {
		stdout.Reset()
		stderr.Reset()
		if code := runLoadtest(ctx, c.args, &stdout, &stderr); code != c.code || !strings.Contains(stderr.String(), c.msg) {
			t.Errorf("%q: exit %d (want %d), stderr %q", c.args, code, c.code, stderr.String())
		}
	}
}

// TestLoadtestSlowLog: -slow-log writes one CSV line per send at least
// -slow-over slow (every send, with 1ns) and says where; a non-positive
// -slow-over is a usage error.
func TestLoadtestSlowLog(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	path := filepath.Join(t.TempDir(), "slow.csv")
	var stdout, stderr bytes.Buffer
	code := runLoadtest(ctx, []string{"-mode", "produce", "-messages", "30", "-senders", "3", "-slow-log", path, "-slow-over", "1ns"}, &stdout, &stderr)
	if code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout.String(), stderr.String())
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	if len(lines) != 31 || lines[0] != "start_unix_us,end_unix_us,latency_us,messages" {
		t.Fatalf("%d lines, header %q; want 30 sends after the header", len(lines), lines[0])
	}
	if !strings.Contains(stdout.String(), "Slow sends written to "+path) || !strings.Contains(stdout.String(), "Slow sends (>= 1ns): 30 ") {
		t.Errorf("stdout lacks the slow-send lines:\n%s", stdout.String())
	}
	stdout.Reset()
	stderr.Reset()
	if code := runLoadtest(ctx, []string{"-slow-log", path, "-slow-over", "0s"}, &stdout, &stderr); code != 2 {
		t.Errorf("-slow-over 0s: exit %d, want 2 (stderr %q)", code, stderr.String())
	}
}
