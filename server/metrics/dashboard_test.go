package metrics_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/rocketgo/rocketgo/server/metrics"
)

// TestGrafanaDashboardUsesExportedNames reads deploy/grafana/rocketgo.json
// and checks that every series its queries name is one rocketgo exports.
func TestGrafanaDashboardUsesExportedNames(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("..", "..", "deploy", "grafana", "rocketgo.json"))
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		UID    string
		Panels []struct {
			Type    string
			Targets []struct{ Expr string }
		}
	}
	if err := json.Unmarshal(raw, &dash); err != nil || dash.UID == "" {
		t.Fatalf("dashboard JSON: %v", err)
	}
	exported := map[string]bool{}
	for _, n := range []string{metrics.MessagesInTotal, metrics.MessagesOutTotal, metrics.ThroughputInTotal, metrics.ThroughputOutTotal,
		metrics.MessageSize, metrics.SendToDLQTotal, metrics.RPCLatency, metrics.BrokerPermission, metrics.TopicNumber,
		metrics.ConsumerGroupNumber, metrics.ProducerConnections, metrics.ConsumerConnections, metrics.ConsumerLagMessages,
		metrics.ConsumerLagLatency, metrics.ConsumerInflight, metrics.ConsumerQueueingLatency, metrics.ConsumerReady,
		metrics.StorageSize, metrics.StorageFlushBehind, metrics.StorageDispatchBehind, metrics.StorageReserveTime,
		metrics.ProcessorWatermark, metrics.BrokerNumber} {
		exported[n] = true
	}
	mfs, err := metrics.NewRegistry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		exported[mf.GetName()] = true
	}
	name := regexp.MustCompile(`\b(rocketmq|go|process)_[a-z_]+`)
	queries := 0
	for _, p := range dash.Panels {
		for _, tg := range p.Targets {
			queries++
			for _, n := range name.FindAllString(tg.Expr, -1) {
				base := n
				for _, suffix := range []string{"_bucket", "_count", "_sum"} {
					if s, ok := strings.CutSuffix(n, suffix); ok && !exported[n] {
						base = s
					}
				}
				if !exported[base] {
					t.Errorf("panel %q queries %s, which rocketgo does not export", p.Type, n)
				}
			}
		}
	}
	if queries < 20 {
		t.Fatalf("only %d queries in the dashboard", queries)
	}
}
