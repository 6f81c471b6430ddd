package conformance_test

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/rocketgo/rocketgo/conformance/harness"
)

// TestDeadNamesrvFailsFast runs this test binary's suite as a child
// process pointed at a port nobody listens on: it must fail within seconds
// with one line naming the address, before any spec runs.
func TestDeadNamesrvFailsFast(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	const dead = "127.0.0.1:1"
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestConformance$", "-test.count=1", "-"+harness.FlagNamesrv, dead)
	cmd.Env = append(os.Environ(), harness.EnvNamesrv+"=")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	err := cmd.Run()
	took := time.Since(start)
	if err == nil {
		t.Fatalf("suite against %s passed:\n%s", dead, out.String())
	}
	if ctx.Err() != nil {
		t.Fatalf("suite against %s hung (killed after %v):\n%s", dead, took, out.String())
	}
	text := out.String()
	var reasons []string
	for _, line := range strings.Split(text, "\n") {
		if strings.Contains(line, "unreachable") {
			reasons = append(reasons, line)
		}
	}
	if len(reasons) != 1 || !strings.Contains(reasons[0], dead) {
		t.Fatalf("want exactly one line naming %s as unreachable, got:\n%s", dead, text)
	}
	if strings.Contains(text, "Ran ") || strings.Contains(text, "Will run") {
		t.Fatalf("specs ran against a dead address:\n%s", text)
	}
	t.Logf("failed in %v with: %s", took.Round(time.Millisecond), strings.TrimSpace(reasons[0]))
}
