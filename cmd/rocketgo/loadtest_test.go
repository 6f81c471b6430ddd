package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// TestLoadtestJSONToStdout: with -json - stdout is one JSON document (a
// pipe can parse it) and the report goes to stderr.
func TestLoadtestJSONToStdout(t *testing.T) {
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
	for _, want := range []string{"rocketgo loadtest: mode produce", "warm-up: 100ms", "[Complete] Send Total: 50 "} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr.String())
		}
	}
}
