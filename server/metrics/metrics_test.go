package metrics_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/rocketgo/rocketgo/message"
	"github.com/rocketgo/rocketgo/remoting"
	"github.com/rocketgo/rocketgo/remoting/netclient"
	"github.com/rocketgo/rocketgo/remoting/wire"
	"github.com/rocketgo/rocketgo/server/broker"
	"github.com/rocketgo/rocketgo/server/embedded"
	"github.com/rocketgo/rocketgo/server/metrics"
)

// server starts an embedded name server and broker with metrics on a free
// loopback port.
func server(t *testing.T) *embedded.Server {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cfg := embedded.SmallConfig(t.TempDir())
	cfg.MetricsLabel = "region:test"
	srv, err := embedded.Start(ctx, embedded.Config{Host: "127.0.0.1", NamesrvPort: -1, BrokerPort: -1, Broker: cfg, MetricsAddr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})
	return srv
}

type client struct {
	t    *testing.T
	rc   *netclient.Client
	addr string
}

func newClient(t *testing.T, addr string) *client {
	rc := netclient.New()
	t.Cleanup(func() { rc.Close() })
	return &client{t, rc, addr}
}

func (c *client) invoke(cmd *remoting.Command) *remoting.Command {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := c.rc.InvokeSync(ctx, c.addr, cmd)
	if err != nil {
		c.t.Fatal(err)
	}
	return resp
}

func (c *client) send(topic, props string, body []byte) {
	c.t.Helper()
	h := &remoting.SendMessageRequestHeader{ProducerGroup: "PG", Topic: topic, DefaultTopic: broker.TopicAutoCreate,
		DefaultTopicQueueNums: 4, QueueID: 0, BornTimestamp: time.Now().UnixMilli(), Properties: props}
	if resp := c.invoke(remoting.NewRequest(remoting.SendMessage, h, body)); resp.Code != remoting.Success {
		c.t.Fatalf("send: %d %s", resp.Code, resp.Remark)
	}
}

func (c *client) subscribe(group, topic string) {
	c.t.Helper()
	hb := wire.HeartbeatData{ClientID: "127.0.0.1@metrics", ConsumerDataSet: []wire.ConsumerData{{
		GroupName: group, ConsumeType: wire.ConsumePassively, MessageModel: wire.Clustering, ConsumeFromWhere: wire.ConsumeFromFirstOffset,
		SubscriptionDataSet: []wire.SubscriptionData{wire.ParseSubscription(topic, "*", 1)},
	}}, ProducerDataSet: []wire.ProducerData{{GroupName: "PG"}}}
	body, _ := json.Marshal(hb)
	if resp := c.invoke(remoting.NewRequest(remoting.HeartBeat, nil, body)); resp.Code != remoting.Success {
		c.t.Fatalf("heartbeat: %d %s", resp.Code, resp.Remark)
	}
}

func (c *client) pull(group, topic string, offset int64) int {
	c.t.Helper()
	resp := c.invoke(remoting.NewRequest(remoting.PullMessage, &remoting.PullMessageRequestHeader{
		ConsumerGroup: group, Topic: topic, QueueID: 0, QueueOffset: offset, MaxMsgNums: 32, ExpressionType: "TAG",
	}, nil))
	if resp.Code != remoting.Success {
		return 0
	}
	msgs, err := message.DecodeMessages(resp.Body)
	if err != nil {
		c.t.Fatal(err)
	}
	return len(msgs)
}

func (c *client) commit(group, topic string, offset int64) {
	c.t.Helper()
	h := &remoting.UpdateConsumerOffsetRequestHeader{ConsumerGroup: group, Topic: topic, QueueID: 0, CommitOffset: offset}
	c.invoke(remoting.NewRequest(remoting.UpdateConsumerOffset, h, nil))
}

// scrapeText reads /metrics.
func scrapeText(t *testing.T, addr string) string {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	text, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d: %s", resp.StatusCode, text)
	}
	return string(text)
}

// scrape reads /metrics and parses it.
func scrape(t *testing.T, addr string) map[string]*dto.MetricFamily {
	t.Helper()
	text := scrapeText(t, addr)
	parser := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := parser.TextToMetricFamilies(strings.NewReader(text))
	if err != nil {
		t.Fatalf("parse: %v\n%s", err, text)
	}
	return mfs
}

// value sums the samples of a family whose labels include want.
func value(mfs map[string]*dto.MetricFamily, name string, want map[string]string) (float64, bool) {
	mf := mfs[name]
	if mf == nil {
		return 0, false
	}
	sum, found := 0.0, false
next:
	for _, m := range mf.Metric {
		labels := map[string]string{}
		for _, lp := range m.Label {
			labels[lp.GetName()] = lp.GetValue()
		}
		for k, v := range want {
			if labels[k] != v {
				continue next
			}
		}
		found = true
		switch {
		case m.Counter != nil:
			sum += m.Counter.GetValue()
		case m.Gauge != nil:
			sum += m.Gauge.GetValue()
		case m.Histogram != nil:
			sum += float64(m.Histogram.GetSampleCount())
		case m.Untyped != nil:
			sum += m.Untyped.GetValue()
		}
	}
	return sum, found
}

// TestBrokerMetricsFollowTraffic sends, pulls and commits through a real
// broker and reads the figures back from /metrics, as Prometheus would.
func TestBrokerMetricsFollowTraffic(t *testing.T) {
	srv := server(t)
	c := newClient(t, srv.BrokerAddr())
	const sent, committed = 7, 3
	for range sent {
		c.send("MetT", "", []byte("0123456789"))
	}
	c.send("MetT", string(message.AppendProperty(nil, message.PropertyShardingKey, "k")), []byte("fifo"))
	c.subscribe("MetG", "MetT")
	if n := c.pull("MetG", "MetT", 0); n != sent+1 {
		t.Fatalf("pulled %d", n)
	}
	c.commit("MetG", "MetT", committed)
	// A name-server request, so its latency series exists.
	ns := newClient(t, srv.NamesrvAddr())
	ns.invoke(remoting.NewRequest(remoting.GetBrokerClusterInfo, nil, nil))

	mfs := scrape(t, srv.MetricsAddr())
	base := map[string]string{"cluster": "DefaultCluster", "node_type": "broker", "node_id": "broker-a", "region": "test"}
	with := func(kv ...string) map[string]string {
		m := map[string]string{}
		for k, v := range base {
			m[k] = v
		}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	checks := []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{metrics.MessagesInTotal, with("topic", "MetT", "message_type", "normal", "is_system", "false"), sent},
		{metrics.MessagesInTotal, with("topic", "MetT", "message_type", "fifo"), 1},
		{metrics.MessageSize, with("topic", "MetT", "message_type", "normal"), sent},
		{metrics.MessagesOutTotal, with("topic", "MetT", "consumer_group", "MetG", "is_system", "false"), sent + 1},
		{metrics.ConsumerLagMessages, with("topic", "MetT", "consumer_group", "MetG", "is_retry", "false"), sent + 1 - committed},
		{metrics.ConsumerInflight, with("topic", "MetT", "consumer_group", "MetG"), sent + 1 - committed},
		{metrics.ConsumerReady, with("topic", "MetT", "consumer_group", "MetG"), 0},
		{metrics.ConsumerConnections, with("consumer_group", "MetG", "language", "go", "consume_mode", "push", "protocol_type", "remoting"), 1},
		{metrics.ProducerConnections, with("language", "go", "protocol_type", "remoting"), 1},
		{metrics.BrokerPermission, base, 6},
		{metrics.RPCLatency, with("request_code", "send_message", "response_code", "success", "is_long_polling", "false"), sent + 1},
		{metrics.RPCLatency, map[string]string{"node_type": "nameserver", "request_code": "get_broker_cluster_info"}, 1},
	}
	for _, c := range checks {
		got, ok := value(mfs, c.name, c.labels)
		if !ok || got != c.want {
			t.Errorf("%s%v = %v (found %v), want %v", c.name, c.labels, got, ok, c.want)
		}
	}
	if in, _ := value(mfs, metrics.ThroughputInTotal, with("topic", "MetT")); in < 10*sent {
		t.Errorf("throughput in %v bytes for %d ten-byte bodies", in, sent)
	}
	if lat, _ := value(mfs, metrics.ConsumerLagLatency, with("topic", "MetT")); lat < 0 {
		t.Errorf("lag latency %v", lat)
	}
	for _, name := range []string{metrics.TopicNumber, metrics.ConsumerGroupNumber, metrics.StorageSize, metrics.StorageFlushBehind,
		metrics.StorageDispatchBehind, metrics.StorageReserveTime, metrics.ProcessorWatermark, metrics.BrokerNumber, "go_goroutines", "process_open_fds"} {
		if _, ok := mfs[name]; !ok {
			t.Errorf("%s is not exported", name)
		}
	}
	if n, _ := value(mfs, metrics.BrokerNumber, map[string]string{"node_type": "nameserver"}); n != 1 {
		t.Errorf("name server counts %v brokers", n)
	}

	// Deleting the topic drops its series.
	del := remoting.NewRequest(remoting.DeleteTopicInBroker, &remoting.DeleteTopicRequestHeader{Topic: "MetT"}, nil)
	if resp := c.invoke(del); resp.Code != remoting.Success {
		t.Fatalf("delete: %d %s", resp.Code, resp.Remark)
	}
	mfs = scrape(t, srv.MetricsAddr())
	for _, name := range []string{metrics.MessagesInTotal, metrics.MessagesOutTotal, metrics.MessageSize} {
		if _, ok := value(mfs, name, map[string]string{"topic": "MetT"}); ok {
			t.Errorf("%s still has series of the deleted topic", name)
		}
	}
}

// TestMetricNamesPassLint runs client_golang's promlint over everything a
// broker and a name server with traffic export, as scraped.
func TestMetricNamesPassLint(t *testing.T) {
	srv := server(t)
	c := newClient(t, srv.BrokerAddr())
	c.send("LintT", "", []byte("x"))
	c.subscribe("LintG", "LintT")
	c.pull("LintG", "LintT", 0)
	text := scrapeText(t, srv.MetricsAddr())
	problems, err := promlint.New(strings.NewReader(text)).Lint()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("lint: %s: %s", p.Metric, p.Text)
	}
	if !strings.Contains(text, metrics.ConsumerLagMessages) || !strings.Contains(text, metrics.MessagesInTotal) {
		t.Fatal("the scrape linted lacks the broker's series")
	}
}

func TestParseLabels(t *testing.T) {
	m, err := metrics.ParseLabels(" region:eu , ,zone:a")
	if err != nil || len(m) != 2 || m["region"] != "eu" || m["zone"] != "a" {
		t.Fatalf("%v %v", m, err)
	}
	for _, bad := range []string{"novalue", "bad-name:x", "__reserved:x", "a:b:c"} {
		if _, err := metrics.ParseLabels(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	for _, clash := range []string{"cluster", "topic"} {
		if _, err := metrics.NewBroker(prometheus.NewRegistry(), metrics.Labels{Extra: map[string]string{clash: "x"}}); err == nil || !strings.Contains(err.Error(), clash) {
			t.Errorf("extra label %s accepted: %v", clash, err)
		}
	}
	// Two brokers in one registry must differ in their constant labels.
	reg := prometheus.NewRegistry()
	if _, err := metrics.NewBroker(reg, metrics.Labels{Cluster: "C", NodeID: "a"}); err != nil {
		t.Fatal(err)
	}
	if _, err := metrics.NewBroker(reg, metrics.Labels{Cluster: "C", NodeID: "b"}); err != nil {
		t.Fatalf("a second broker: %v", err)
	}
	if _, err := metrics.NewBroker(reg, metrics.Labels{Cluster: "C", NodeID: "a"}); err == nil {
		t.Fatal("the same broker registered twice")
	}
}
