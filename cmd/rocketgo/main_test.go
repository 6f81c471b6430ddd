package main

import (
	"bytes"
	"context"
	"runtime/debug"
	"strings"
	"testing"
)

func TestVersionPrintsRelease(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := run(context.Background(), []string{"version"}, &out, &errOut); code != 0 {
		t.Fatalf("exit code %d, stderr %q", code, errOut.String())
	}
	info, _ := debug.ReadBuildInfo()
	if !strings.HasPrefix(out.String(), "rocketgo "+buildVersion(version, info)+" (") {
		t.Fatalf("unexpected version output %q", out.String())
	}
}

func TestBuildVersionSources(t *testing.T) {
	installed := &debug.BuildInfo{Main: debug.Module{Path: "github.com/rocketgo/rocketgo", Version: "v0.3.1"},
		Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: "0123456789abcdef"}}}
	checkout := &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}}
	for _, c := range []struct {
		stamped string
		info    *debug.BuildInfo
		want    string
	}{
		{"v9.9.9", installed, "v9.9.9"}, // -ldflags -X wins
		{"", installed, "v0.3.1"},       // go install module@v0.3.1
		{"", checkout, devVersion},      // go build in a checkout
		{"", nil, devVersion},
	} {
		if got := buildVersion(c.stamped, c.info); got != c.want {
			t.Errorf("buildVersion(%q, %+v) = %q, want %q", c.stamped, c.info, got, c.want)
		}
	}
	if d := buildDescription(installed); !strings.Contains(d, "module v0.3.1") || !strings.Contains(d, "commit 0123456789ab") {
		t.Errorf("build description %q lacks the module version or commit", d)
	}
}

func TestUnknownCommandFails(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := run(context.Background(), []string{"frobnicate"}, &out, &errOut); code != 2 {
		t.Fatalf("exit code %d, want 2", code)
	}
	if !strings.Contains(errOut.String(), `unknown command "frobnicate"`) {
		t.Fatalf("stderr %q does not name the command", errOut.String())
	}
}

func TestNoArgumentsPrintsUsage(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := run(context.Background(), nil, &out, &errOut); code != 2 {
		t.Fatalf("exit code %d, want 2", code)
	}
	if !strings.Contains(out.String(), "version") {
		t.Fatalf("usage %q does not list the version command", out.String())
	}
}
