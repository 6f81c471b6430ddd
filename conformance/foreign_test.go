package conformance_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rocketgo/rocketgo/conformance/harness"
	"github.com/rocketgo/rocketgo/server/broker"
)

// TestSuiteAgainstSyncMasterSlavePair runs this test binary's suite as a
// child process pointed (-namesrv) at a SYNC_MASTER with a slave, as a user
// points it at `rocketgo serve` or any cluster: the specs of issue 21's
// labels must pass through feature detection alone — the timer, recall and
// sync-master specs run, the ones that must stop or slow a broker skip with
// their reason.
func TestSuiteAgainstSyncMasterSlavePair(t *testing.T) {
	if testing.Short() {
		t.Skip("runs part of the suite in a child process")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c, err := harness.StartCluster(ctx, nil,
		harness.BrokerSpec{Name: "pair", Role: broker.RoleSyncMaster, ID: 0, Configure: func(c *broker.Config) { c.AutoCreateTopicEnable = true }},
		harness.BrokerSpec{Name: "pair", Role: broker.RoleSlave, ID: 1, Options: []broker.Option{broker.WithSlaveSyncInterval(50 * time.Millisecond)}},
	)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Shutdown(context.Background())

	report := filepath.Join(t.TempDir(), "report.json")
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestConformance$", "-test.count=1",
		"-"+harness.FlagNamesrv, c.Namesrv,
		"-ginkgo.label-filter=timer || recall || sync-master || busy || slave",
		"-ginkgo.json-report="+report)
	cmd.Env = append(os.Environ(), harness.EnvNamesrv+"=")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("suite against the pair: %v\n%s", err, out.String())
	}
	data, err := os.ReadFile(report)
	if err != nil {
		t.Fatal(err)
	}
	var suites []struct {
		SpecReports []struct {
			LeafNodeText string
			State        string
			Failure      struct{ Message string }
		}
	}
	if err := json.Unmarshal(data, &suites); err != nil || len(suites) != 1 {
		t.Fatalf("report: %v (%d suites)", err, len(suites))
	}
	passed := map[string]bool{}
	for _, s := range suites[0].SpecReports {
		if s.State == "passed" {
			passed[s.LeafNodeText] = true
		} else if s.State == "skipped" && s.Failure.Message != "" {
			t.Logf("skipped %q: %s", s.LeafNodeText, s.Failure.Message)
		}
	}
	for _, want := range []string{
		"answers SEND_OK only once the slave holds the message",
		"never delivers a recalled message, delivers the others, and refuses a recall once delivered",
		"delivers at the requested delay and delivery time, under the message's own topic",
	} {
		if !passed[want] {
			t.Errorf("spec %q did not pass against the pair", want)
		}
	}
	for name := range passed {
		if strings.Contains(name, "SYSTEM_BUSY") {
			t.Errorf("the overload spec ran against a cluster the suite did not start: %q", name)
		}
	}
}
