package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestServeWithConsole: `serve -console` serves the console against the
// embedded cluster: the cluster page lists its broker, the topics page
// its topics, and shutdown stops it.
func TestServeWithConsole(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out, errOut syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"serve", "-data", t.TempDir(), "-namesrv-port", "0", "-broker-port", "0", "-console", "127.0.0.1:0"}, &out, &errOut)
	}()
	re := regexp.MustCompile(`rocketgo: console on (http://127\.0\.0\.1:\d+)\n`)
	deadline := time.Now().Add(20 * time.Second)
	var m []string
	for m = re.FindStringSubmatch(out.String()); m == nil; m = re.FindStringSubmatch(out.String()) {
		select {
		case code := <-done:
			t.Fatalf("serve exited %d: %s %s", code, out.String(), errOut.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("no console line: %q %q", out.String(), errOut.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	for path, want := range map[string]string{"/cluster": "DefaultCluster", "/topics?system=1": "TBW102"} {
		resp, err := http.Get(m[1] + path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(b), want) {
			t.Errorf("%s: %d, want %q in:\n%s", path, resp.StatusCode, want, b)
		}
	}
	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("serve exited %d: %s", code, errOut.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not stop")
	}
}

func TestConsoleRefusesOpenBindWithoutUsers(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := run(context.Background(), []string{"console", "-listen", "0.0.0.0:0"}, &out, &errOut); code != 2 || !strings.Contains(errOut.String(), "-users") {
		t.Fatalf("exit %d, stderr %q", code, errOut.String())
	}
	errOut.Reset()
	if code := run(context.Background(), []string{"console", "-access-key", "ak"}, &out, &errOut); code != 2 {
		t.Fatalf("half credentials: exit %d, stderr %q", code, errOut.String())
	}
}
