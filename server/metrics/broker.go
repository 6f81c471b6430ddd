package metrics

import (
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/rocketgo/rocketgo/internal/cowmap"
	"github.com/rocketgo/rocketgo/server/broker"
)

// messageSizeBuckets are upstream's (bytes): 1 KiB, 4 KiB, 512 KiB, 1, 2,
// 4 MiB.
var messageSizeBuckets = []float64{1 << 10, 4 << 10, 512 << 10, 1 << 20, 2 << 20, 4 << 20}

// Broker holds one broker's metrics. It implements broker.Observer for the
// counters and histograms, and, once attached to a broker, collects its
// gauges at scrape time.
type Broker struct {
	in, inBytes, out, outBytes, dlq *prometheus.CounterVec
	size                            *prometheus.HistogramVec
	rpc                             *rpcRecorder

	inSeries  cowmap.Map[inKey, inSeries]
	outSeries cowmap.Map[outKey, outSeries]
	dlqSeries cowmap.Map[outKey, counter]

	gauges brokerGauges
}

type inKey struct {
	topic string
	kind  broker.MessageKind
}

type inSeries struct {
	msgs, bytes prometheus.Counter
	size        prometheus.Observer
}

type outKey struct{ topic, group string }

type outSeries struct{ msgs, bytes prometheus.Counter }

type counter struct{ prometheus.Counter }

var _ broker.Observer = (*Broker)(nil)

// BrokerLabels are the constant labels of a broker: its cluster, its name
// as node_id, and the pairs of metricsLabel.
func BrokerLabels(cfg broker.Config) (Labels, error) {
	extra, err := ParseLabels(cfg.MetricsLabel)
	if err != nil {
		return Labels{}, err
	}
	return Labels{Cluster: cfg.BrokerClusterName, NodeID: cfg.BrokerName, Extra: extra}, nil
}

// NewBroker registers a broker's metrics with reg.
func NewBroker(reg prometheus.Registerer, l Labels) (*Broker, error) {
	cl, err := l.constLabels(nodeTypeBroker)
	if err != nil {
		return nil, err
	}
	counterVec := func(name, help string, labels ...string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help, ConstLabels: cl}, labels)
	}
	m := &Broker{
		in:       counterVec(MessagesInTotal, "Total number of incoming messages.", "topic", "message_type", "is_system"),
		inBytes:  counterVec(ThroughputInTotal, "Total traffic of incoming messages in bytes.", "topic", "message_type", "is_system"),
		out:      counterVec(MessagesOutTotal, "Total number of outgoing messages.", "topic", "consumer_group", "is_system"),
		outBytes: counterVec(ThroughputOutTotal, "Total traffic of outgoing messages in bytes.", "topic", "consumer_group", "is_system"),
		dlq:      counterVec(SendToDLQTotal, "Consumer send to DLQ messages.", "consumer_group", "topic", "is_system"),
		size: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: MessageSize, Help: "Incoming messages size in bytes.", Buckets: messageSizeBuckets, ConstLabels: cl,
		}, []string{"topic", "message_type", "is_system"}),
		rpc: newRPCRecorder(cl),
	}
	m.gauges.descs = newBrokerDescs(cl)
	for _, c := range []prometheus.Collector{m.in, m.inBytes, m.out, m.outBytes, m.dlq, m.size, m.rpc.vec, &m.gauges} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("metrics: %w", err)
		}
	}
	return m, nil
}

// Attach makes the gauges read b. Until then they report nothing.
func (m *Broker) Attach(b *broker.Broker) { m.gauges.b.Store(b) }

// MessagesIn implements broker.Observer.
func (m *Broker) MessagesIn(topic string, kind broker.MessageKind, msgs, bytes int) {
	k := inKey{topic, kind}
	s := m.inSeries.Get(k)
	if s == nil {
		s = m.inSeries.GetOrCreate(k, func() *inSeries {
			lv := []string{topic, kind.String(), boolLabel(broker.IsSystemTopic(topic))}
			return &inSeries{m.in.WithLabelValues(lv...), m.inBytes.WithLabelValues(lv...), m.size.WithLabelValues(lv...)}
		})
	}
	s.msgs.Add(float64(msgs))
	s.bytes.Add(float64(bytes))
	if msgs > 0 {
		s.size.Observe(float64(bytes / msgs)) // one observation per append, as upstream
	}
}

// MessagesOut implements broker.Observer.
func (m *Broker) MessagesOut(topic, group string, msgs, bytes int) {
	k := outKey{topic, group}
	s := m.outSeries.Get(k)
	if s == nil {
		s = m.outSeries.GetOrCreate(k, func() *outSeries {
			lv := []string{topic, group, boolLabel(broker.IsSystemTopic(topic) || broker.IsSystemGroup(group))}
			return &outSeries{m.out.WithLabelValues(lv...), m.outBytes.WithLabelValues(lv...)}
		})
	}
	s.msgs.Add(float64(msgs))
	s.bytes.Add(float64(bytes))
}

// SentToDLQ implements broker.Observer.
func (m *Broker) SentToDLQ(group, topic string) {
	k := outKey{topic, group}
	c := m.dlqSeries.Get(k)
	if c == nil {
		c = m.dlqSeries.GetOrCreate(k, func() *counter {
			return &counter{m.dlq.WithLabelValues(group, topic, boolLabel(broker.IsSystemTopic(topic) || broker.IsSystemGroup(group)))}
		})
	}
	c.Inc()
}

// RequestServed implements broker.Observer.
func (m *Broker) RequestServed(code, result int16, elapsed time.Duration, longPolling bool) {
	m.rpc.served(code, result, elapsed, longPolling)
}

// TopicDeleted implements broker.Observer: the topic's series go.
func (m *Broker) TopicDeleted(topic string) {
	m.inSeries.DeleteFunc(func(k inKey, _ *inSeries) bool { return k.topic == topic })
	m.outSeries.DeleteFunc(func(k outKey, _ *outSeries) bool { return k.topic == topic })
	m.dlqSeries.DeleteFunc(func(k outKey, _ *counter) bool { return k.topic == topic })
	for _, v := range []*prometheus.MetricVec{m.in.MetricVec, m.inBytes.MetricVec, m.out.MetricVec, m.outBytes.MetricVec, m.dlq.MetricVec, m.size.MetricVec} {
		v.DeletePartialMatch(prometheus.Labels{"topic": topic})
	}
}

// brokerGauges collects the broker's gauges when scraped.
type brokerGauges struct {
	b     atomic.Pointer[broker.Broker]
	descs brokerDescs
}

type brokerDescs struct {
	permission, topics, groups, producers, consumers             *prometheus.Desc
	lag, lagLatency, inflight, queueing, ready                   *prometheus.Desc
	storageSize, flushBehind, dispatchBehind, reserveTime, queue *prometheus.Desc
}

func newBrokerDescs(cl prometheus.Labels) brokerDescs {
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc(name, help, labels, cl)
	}
	lagLabels := []string{"consumer_group", "topic", "is_retry", "is_system"}
	storeLabels := []string{"storage_type", "storage_medium"}
	return brokerDescs{
		permission:     d(BrokerPermission, "Broker permission (brokerPermission)."),
		topics:         d(TopicNumber, "Active topic number."),
		groups:         d(ConsumerGroupNumber, "Active subscription group number."),
		producers:      d(ProducerConnections, "Producer connections.", "language", "version", "protocol_type"),
		consumers:      d(ConsumerConnections, "Consumer connections.", "consumer_group", "language", "version", "consume_mode", "protocol_type", "is_system"),
		lag:            d(ConsumerLagMessages, "Consumer lag messages.", lagLabels...),
		lagLatency:     d(ConsumerLagLatency, "Consumer lag time in milliseconds.", lagLabels...),
		inflight:       d(ConsumerInflight, "Consumer inflight messages.", lagLabels...),
		queueing:       d(ConsumerQueueingLatency, "Consumer queueing time in milliseconds.", lagLabels...),
		ready:          d(ConsumerReady, "Consumer ready messages.", lagLabels...),
		storageSize:    d(StorageSize, "Broker storage size in bytes.", storeLabels...),
		flushBehind:    d(StorageFlushBehind, "Broker flush behind bytes.", storeLabels...),
		dispatchBehind: d(StorageDispatchBehind, "Broker dispatch behind bytes.", storeLabels...),
		reserveTime:    d(StorageReserveTime, "Broker message reserve time in milliseconds.", storeLabels...),
		queue:          d(ProcessorWatermark, "Request processor watermark: requests waiting for a worker.", "processor"),
	}
}

func (g *brokerGauges) Describe(ch chan<- *prometheus.Desc) {
	d := g.descs
	for _, desc := range []*prometheus.Desc{d.permission, d.topics, d.groups, d.producers, d.consumers, d.lag, d.lagLatency,
		d.inflight, d.queueing, d.ready, d.storageSize, d.flushBehind, d.dispatchBehind, d.reserveTime, d.queue} {
		ch <- desc
	}
}

func (g *brokerGauges) Collect(ch chan<- prometheus.Metric) {
	b := g.b.Load()
	if b == nil {
		return
	}
	d := g.descs
	gauge := func(desc *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(desc, prometheus.GaugeValue, v, labels...)
	}
	gauge(d.permission, float64(b.Permission()))
	gauge(d.topics, float64(b.TopicCount()))
	gauge(d.groups, float64(b.GroupCount()))
	gauge(d.queue, float64(b.PendingRequests()), "pull")

	producers := map[[2]string]int{}
	for _, c := range b.ProducerConns() {
		producers[[2]string{languageLabel(c.Language), versionLabel(c.Version)}]++
	}
	for k, n := range producers {
		gauge(d.producers, float64(n), k[0], k[1], protocolTypeRemoting)
	}
	consumers := map[[4]string]int{}
	for _, c := range b.ConsumerConns() {
		consumers[[4]string{c.Group, languageLabel(c.Language), versionLabel(c.Version), consumeModeLabel(c.ConsumeType)}]++
	}
	for k, n := range consumers {
		gauge(d.consumers, float64(n), k[0], k[1], k[2], k[3], protocolTypeRemoting, boolLabel(broker.IsSystemGroup(k[0])))
	}

	now := time.Now().UnixMilli()
	since := func(ts int64) float64 {
		if ts <= 0 {
			return 0
		}
		return float64(max(now-ts, 0))
	}
	for _, l := range b.ConsumerLags() {
		lv := []string{l.Group, l.Topic, "false", boolLabel(broker.IsSystemTopic(l.Topic) || broker.IsSystemGroup(l.Group))}
		gauge(d.lag, float64(l.Lag), lv...)
		gauge(d.lagLatency, since(l.EarliestUnconsumed), lv...)
		gauge(d.inflight, float64(l.Inflight), lv...)
		gauge(d.queueing, since(l.EarliestUnpulled), lv...)
		gauge(d.ready, float64(l.Ready), lv...)
	}

	health, earliest := b.StoreHealth()
	gauge(d.storageSize, float64(health.DiskUsedBytes), "local", "disk")
	gauge(d.flushBehind, float64(health.FlushBehindBytes), "local", "disk")
	gauge(d.dispatchBehind, float64(health.DispatchBehindBytes), "local", "disk")
	if earliest > 0 {
		gauge(d.reserveTime, since(earliest), "local", "disk")
	}
}

// languageLabel is upstream's lower-case language name ("java", "go").
func languageLabel(lang string) string { return strings.ToLower(lang) }

// consumeModeLabel is upstream's consume type in lower case: pull for
// CONSUME_ACTIVELY, push for CONSUME_PASSIVELY, pop for CONSUME_POP.
func consumeModeLabel(consumeType string) string {
	switch consumeType {
	case "CONSUME_ACTIVELY":
		return "pull"
	case "CONSUME_PASSIVELY":
		return "push"
	case "CONSUME_POP":
		return "pop"
	}
	return strings.ToLower(consumeType)
}

// versionLabel is upstream's MQVersion name of a client version ordinal in
// lower case ("v5_3_3"). From V4_0_0_SNAPSHOT (212) on, the enumeration
// lists every x.y.z as a snapshot then a release, for 4.0.0 to 5.9.9, then
// HIGHER_VERSION; older 3.x ordinals, irregular, are shown as numbers.
func versionLabel(ordinal int16) string {
	const first, last = 212, 612
	switch {
	case ordinal >= last:
		return "higher_version"
	case ordinal < first:
		return strconv.Itoa(int(ordinal))
	}
	n := int(ordinal-first) / 2
	v := fmt.Sprintf("v%d_%d_%d", 4+n/100, n/10%10, n%10)
	if (ordinal-first)%2 == 0 {
		v += "_snapshot"
	}
	return v
}
