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

	"github.com/rocketgo/rocketgo/internal/syncbuf"
)

// runUntil runs a server command until the test has checked it, returning
// what it printed once each pattern matched, and checks it exits 0 on
// cancellation.
func runUntil(t *testing.T, args []string, patterns ...string) []string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var out, errOut syncbuf.Buffer
	done := make(chan int, 1)
	go func() { done <- run(ctx, args, &out, &errOut) }()
	t.Cleanup(func() {
		cancel()
		select {
		case code := <-done:
			if code != 0 {
				t.Errorf("%v exited %d: %s", args, code, errOut.String())
			}
		case <-time.After(30 * time.Second):
			t.Errorf("%v did not stop", args)
		}
	})
	var found []string
	deadline := time.Now().Add(20 * time.Second)
	for _, p := range patterns {
		re := regexp.MustCompile(p)
		for {
			if m := re.FindStringSubmatch(out.String()); m != nil {
				found = append(found, m[1])
				break
			}
			select {
			case code := <-done:
				done <- code
				t.Fatalf("%v exited %d before printing %q: %s %s", args, code, p, out.String(), errOut.String())
			default:
			}
			if time.Now().After(deadline) {
				t.Fatalf("no %q in %q (stderr %q)", p, out.String(), errOut.String())
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	return found
}

func get(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %s", url, resp.StatusCode, body)
	}
	return string(body)
}

const (
	metricsLine = `metrics on http://([0-9.:]+)/metrics`
	pprofLine   = `pprof on http://([0-9.:]+)/debug/pprof/`
)

func TestServeMetricsAndPprof(t *testing.T) {
	addrs := runUntil(t, []string{"serve", "-host", "127.0.0.1", "-namesrv-port", "0", "-broker-port", "0", "-grpc-port", "0", "-data", t.TempDir(),
		"-metrics", "127.0.0.1:0", "-pprof", "127.0.0.1:0"}, metricsLine, pprofLine)
	text := get(t, "http://"+addrs[0]+"/metrics")
	for _, want := range []string{`rocketmq_topic_number{cluster="DefaultCluster",node_id="broker-a",node_type="broker"}`, `node_type="nameserver"`, "go_goroutines"} {
		if !strings.Contains(text, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	if !strings.Contains(get(t, "http://"+addrs[1]+"/debug/pprof/"), "goroutine") {
		t.Error("pprof index lacks the goroutine profile")
	}
	get(t, "http://"+addrs[1]+"/debug/pprof/goroutine?debug=1")
}

// TestBrokerMetricsFromBrokerConf turns metrics on with upstream's keys
// only, as a broker.conf would.
func TestBrokerMetricsFromBrokerConf(t *testing.T) {
	ns := runUntil(t, []string{"namesrv", "-listen", "127.0.0.1:0", "-kv-config", t.TempDir() + "/kv.json", "-metrics", "127.0.0.1:0"},
		`name server listening on ([0-9.:]+)`, metricsLine)
	addrs := runUntil(t, []string{"broker", "-data", t.TempDir(), "-namesrv", ns[0], "-pprof", "127.0.0.1:0",
		"-set", "listenHost=127.0.0.1", "-set", "listenPort=0", "-set", "brokerIP1=127.0.0.1",
		"-set", "metricsExporterType=PROM", "-set", "metricsPromExporterHost=127.0.0.1", "-set", "metricsPromExporterPort=0"},
		metricsLine, pprofLine)
	if text := get(t, "http://"+addrs[0]+"/metrics"); !strings.Contains(text, "rocketmq_broker_permission") {
		t.Error("broker metrics missing")
	}
	// The name server's registry counts the broker that registered.
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(get(t, "http://"+ns[1]+"/metrics"), `rocketmq_broker_number{cluster="",node_id="127.0.0.1:0",node_type="nameserver"} 1`) {
		if time.Now().After(deadline) {
			t.Fatalf("name server metrics never counted the broker: %s", get(t, "http://"+ns[1]+"/metrics"))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestOpsFlagErrors(t *testing.T) {
	var out, errOut bytes.Buffer
	// A busy metrics address fails the start with a one-line reason.
	busy := runUntil(t, []string{"namesrv", "-listen", "127.0.0.1:0", "-kv-config", t.TempDir() + "/kv.json", "-metrics", "127.0.0.1:0"}, metricsLine)
	code := run(context.Background(), []string{"namesrv", "-listen", "127.0.0.1:0", "-kv-config", t.TempDir() + "/kv.json", "-metrics", busy[0]}, &out, &errOut)
	if code != 1 || !strings.Contains(errOut.String(), busy[0]) {
		t.Fatalf("busy metrics address: exit %d, stderr %q", code, errOut.String())
	}
	errOut.Reset()
	code = run(context.Background(), []string{"broker", "-data", t.TempDir(), "-set", "metricsExporterType=OTLP_GRPC"}, &out, &errOut)
	if code != 2 || !strings.Contains(errOut.String(), "metricsExporterType") {
		t.Fatalf("unsupported exporter: exit %d, stderr %q", code, errOut.String())
	}
	errOut.Reset()
	code = run(context.Background(), []string{"broker", "-data", t.TempDir(), "-metrics", "127.0.0.1:0", "-set", "metricsLabel=bad-label"}, &out, &errOut)
	if code != 2 || !strings.Contains(errOut.String(), "metricsLabel") {
		t.Fatalf("bad metricsLabel: exit %d, stderr %q", code, errOut.String())
	}
}
