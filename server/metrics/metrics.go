// Package metrics exposes rocketgo's broker and name server to Prometheus
// under the names and labels of Apache RocketMQ 5.x (BrokerMetricsConstant,
// RemotingMetricsConstant, DefaultStoreMetricsConstant), so dashboards and
// alerts written for a Java cluster read a rocketgo one unchanged. Values
// keep upstream's units: latencies in milliseconds, sizes in bytes.
//
// Everything lives in a registry the caller owns (NewRegistry); nothing is
// registered globally. The broker calls in through broker.Observer on its
// send, pull and reply paths, where a recording is a copy-on-write map
// lookup and atomic adds — no lock, no allocation once a topic's series
// exist. Gauges (lag, connections, storage) are read from the broker when
// Prometheus scrapes.
//
// Wiring, as cmd/rocketgo and server/embedded do it:
//
//	reg := metrics.NewRegistry()
//	bm, err := metrics.NewBroker(reg, metrics.BrokerLabels(cfg))
//	b, err := broker.New(cfg, broker.WithObserver(bm))
//	bm.Attach(b) // gauges read b from now on
//	ep, err := metrics.Serve(ctx, "0.0.0.0:5557", reg)
package metrics

import (
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Metric names, as upstream's.
const (
	MessagesInTotal         = "rocketmq_messages_in_total"
	MessagesOutTotal        = "rocketmq_messages_out_total"
	ThroughputInTotal       = "rocketmq_throughput_in_total"
	ThroughputOutTotal      = "rocketmq_throughput_out_total"
	MessageSize             = "rocketmq_message_size"
	SendToDLQTotal          = "rocketmq_send_to_dlq_messages_total"
	RPCLatency              = "rocketmq_rpc_latency"
	BrokerPermission        = "rocketmq_broker_permission"
	TopicNumber             = "rocketmq_topic_number"
	ConsumerGroupNumber     = "rocketmq_consumer_group_number"
	ProducerConnections     = "rocketmq_producer_connections"
	ConsumerConnections     = "rocketmq_consumer_connections"
	ConsumerLagMessages     = "rocketmq_consumer_lag_messages"
	ConsumerLagLatency      = "rocketmq_consumer_lag_latency"
	ConsumerInflight        = "rocketmq_consumer_inflight_messages"
	ConsumerQueueingLatency = "rocketmq_consumer_queueing_latency"
	ConsumerReady           = "rocketmq_consumer_ready_messages"
	StorageSize             = "rocketmq_storage_size"
	StorageFlushBehind      = "rocketmq_storage_flush_behind_bytes"
	StorageDispatchBehind   = "rocketmq_storage_dispatch_behind_bytes"
	StorageReserveTime      = "rocketmq_storage_message_reserve_time"
	ProcessorWatermark      = "rocketmq_processor_watermark"
	BrokerNumber            = "rocketmq_broker_number" // rocketgo's: broker addresses a name server knows
)

// DefaultExporterPort is upstream's metricsPromExporterPort.
const DefaultExporterPort = 5557

const (
	nodeTypeBroker       = "broker"
	nodeTypeNameServer   = "nameserver"
	protocolTypeRemoting = "remoting"
)

// Labels are the constant labels on every rocketmq_ series of one server:
// upstream puts cluster, node_type and node_id on all of them, plus the
// pairs of metricsLabel.
type Labels struct {
	Cluster string // cluster
	NodeID  string // node_id: the broker name, or the name server's address
	// Extra are additional constant labels (upstream's metricsLabel,
	// "k1:v1,k2:v2").
	Extra map[string]string
}

var labelName = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)

// ParseLabels reads upstream's metricsLabel syntax, "k1:v1,k2:v2". Empty
// items are skipped; a malformed one or an invalid label name is an error.
func ParseLabels(s string) (map[string]string, error) {
	out := map[string]string{}
	for item := range strings.SplitSeq(s, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		k, v, ok := strings.Cut(item, ":")
		k = strings.TrimSpace(k)
		if !ok || strings.Contains(v, ":") || !labelName.MatchString(k) || strings.HasPrefix(k, "__") {
			return nil, fmt.Errorf("metrics: metricsLabel item %q is not name:value with a Prometheus label name", item)
		}
		out[k] = strings.TrimSpace(v)
	}
	return out, nil
}

// constLabels builds the constant labels for one node type, refusing extra
// labels that would shadow upstream's own.
func (l Labels) constLabels(nodeType string) (prometheus.Labels, error) {
	out := prometheus.Labels{"cluster": l.Cluster, "node_type": nodeType, "node_id": l.NodeID}
	for _, k := range slices.Sorted(maps.Keys(l.Extra)) {
		if _, taken := out[k]; taken || slices.Contains(reservedLabels[:], k) {
			return nil, fmt.Errorf("metrics: extra label %q clashes with one rocketgo sets", k)
		}
		if !labelName.MatchString(k) {
			return nil, fmt.Errorf("metrics: %q is not a Prometheus label name", k)
		}
		out[k] = l.Extra[k]
	}
	return out, nil
}

// reservedLabels are the variable labels of rocketgo's series.
var reservedLabels = [...]string{"topic", "message_type", "is_system", "consumer_group", "is_retry", "language", "version",
	"consume_mode", "protocol_type", "request_code", "response_code", "is_long_polling", "result", "storage_type",
	"storage_medium", "processor"}

// NewRegistry returns an empty registry with the Go runtime and process
// collectors, ready for NewBroker and NewNameServer.
func NewRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}

func boolLabel(b bool) string {
	if b {
		return "true"
	}
	return "false"
}
