// Package kprom exports a rocketgo client's metrics to Prometheus: plug
// a *Metrics into client.WithHooks and register it with the registerer of
// your choice. Producer and consumer packages never import Prometheus;
// nothing is registered globally.
//
//	m := kprom.New(kprom.WithClientID("orders-api"))
//	reg.MustRegister(m)
//	cl, _ := client.New(client.WithNameServers(ns), client.WithHooks(m))
//	p, _ := producer.New(producer.WithClient(cl), producer.WithGroup("pg"))
//
// The same Metrics on the client of consumers adds the consume side:
//
//	c, _ := consumer.NewPush(consumer.WithClient(cl), consumer.WithGroup("cg"))
//
// Names, labels, units (milliseconds) and buckets follow Apache RocketMQ
// 5.x's client metrics where one exists: rocketmq_send_cost_time (topic,
// invocation_status), rocketmq_delivery_latency and rocketmq_await_time
// (topic, consumer_group), rocketmq_process_time (topic, consumer_group,
// invocation_status success/failure); client_id comes from WithClientID.
// Every series counts one sample per message. The pull and connection
// series are rocketgo's, named in the same style.
package kprom

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics implements client.SendHook, client.PullHook, client.ReceiveHook,
// client.ConsumeHook, client.ConnectHook and client.DisconnectHook, and
// prometheus.Collector.
type Metrics struct {
	sendCost    *prometheus.HistogramVec
	pullLatency *prometheus.HistogramVec
	pulled      *prometheus.CounterVec
	connects    *prometheus.CounterVec
	disconnects prometheus.Counter

	delivery *prometheus.HistogramVec
	await    *prometheus.HistogramVec
	process  *prometheus.HistogramVec

	// groups caches the consume-side observers of each (group, topic):
	// the per-message hooks look them up in a copy-on-write map without a
	// lock or an allocation, instead of hashing label values every time.
	groups  atomic.Pointer[map[groupTopic]*groupSeries]
	groupMu sync.Mutex // serialises additions to groups
}

type groupTopic struct{ group, topic string }

type groupSeries struct {
	delivery, await, processOK, processFailed prometheus.Observer
}

// Option configures Metrics.
type Option func(*config)

type config struct {
	namespace string
	labels    prometheus.Labels
}

// WithClientID adds the client_id constant label upstream's client
// metrics carry. Default: none.
func WithClientID(id string) Option { return WithConstLabels(prometheus.Labels{"client_id": id}) }

// WithConstLabels adds constant labels to every series.
func WithConstLabels(l prometheus.Labels) Option {
	return func(c *config) {
		for k, v := range l {
			c.labels[k] = v
		}
	}
}

// Bucket boundaries in milliseconds: upstream 5.x's for send cost,
// delivery latency, await and process time; the pull buckets extend the
// send buckets to cover long polls.
var (
	sendBuckets     = []float64{1, 5, 10, 20, 50, 200, 500}
	pullBuckets     = []float64{1, 5, 10, 20, 50, 200, 500, 1000, 5000, 30000}
	deliveryBuckets = []float64{1, 5, 10, 20, 50, 200, 500}
	awaitBuckets    = []float64{1, 5, 20, 100, 1000, 5000, 10000}
	processBuckets  = []float64{1, 5, 10, 100, 1000, 10000, 60000}
)

// New builds the collectors.
func New(opts ...Option) *Metrics {
	cfg := config{labels: prometheus.Labels{}}
	for _, o := range opts {
		o(&cfg)
	}
	m := &Metrics{
		sendCost: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "rocketmq_send_cost_time", Help: "Time from a send call to its result, after retries, in milliseconds.",
			Buckets: sendBuckets, ConstLabels: cfg.labels,
		}, []string{"topic", "invocation_status"}),
		pullLatency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "rocketmq_pull_latency", Help: "Time of a pull request to its answer (long polls included), in milliseconds.",
			Buckets: pullBuckets, ConstLabels: cfg.labels,
		}, []string{"topic", "invocation_status"}),
		pulled: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "rocketmq_pulled_messages_total", Help: "Messages received by pulls.", ConstLabels: cfg.labels,
		}, []string{"topic"}),
		connects: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "rocketmq_client_connects_total", Help: "Dial attempts to name servers and brokers.", ConstLabels: cfg.labels,
		}, []string{"invocation_status"}),
		disconnects: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "rocketmq_client_disconnects_total", Help: "Established connections that closed.", ConstLabels: cfg.labels,
		}),
		delivery: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "rocketmq_delivery_latency", Help: "Time from a message's storing on the broker to its arrival at the consumer, in milliseconds.",
			Buckets: deliveryBuckets, ConstLabels: cfg.labels,
		}, []string{"topic", "consumer_group"}),
		await: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "rocketmq_await_time", Help: "Time a message waited in the consumer's process queue before its listener call, in milliseconds.",
			Buckets: awaitBuckets, ConstLabels: cfg.labels,
		}, []string{"topic", "consumer_group"}),
		process: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "rocketmq_process_time", Help: "Running time of the listener call that consumed a message, in milliseconds.",
			Buckets: processBuckets, ConstLabels: cfg.labels,
		}, []string{"topic", "consumer_group", "invocation_status"}),
	}
	m.groups.Store(&map[groupTopic]*groupSeries{})
	return m
}

// series returns the consume-side observers of (group, topic), creating
// them on first use.
func (m *Metrics) series(group, topic string) *groupSeries {
	k := groupTopic{group, topic}
	if s, ok := (*m.groups.Load())[k]; ok {
		return s
	}
	m.groupMu.Lock()
	defer m.groupMu.Unlock()
	old := *m.groups.Load()
	if s, ok := old[k]; ok {
		return s
	}
	s := &groupSeries{
		delivery:      m.delivery.WithLabelValues(topic, group),
		await:         m.await.WithLabelValues(topic, group),
		processOK:     m.process.WithLabelValues(topic, group, "success"),
		processFailed: m.process.WithLabelValues(topic, group, "failure"),
	}
	next := make(map[groupTopic]*groupSeries, len(old)+1)
	for kk, v := range old {
		next[kk] = v
	}
	next[k] = s
	m.groups.Store(&next)
	return s
}

func status(err error) string {
	if err != nil {
		return "failure"
	}
	return "success"
}

func millis(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// OnSend records a send's cost time once for every message it carried
// (a batch of n counts n), as upstream's clients do.
func (m *Metrics) OnSend(topic string, messages int, latency time.Duration, err error) {
	o, ms := m.sendCost.WithLabelValues(topic, status(err)), millis(latency)
	for range max(messages, 1) {
		o.Observe(ms)
	}
}

// OnPull records a pull's latency and the messages it brought.
func (m *Metrics) OnPull(topic, brokerName string, queueID int32, messages int, latency time.Duration, err error) {
	m.pullLatency.WithLabelValues(topic, status(err)).Observe(millis(latency))
	if messages > 0 {
		m.pulled.WithLabelValues(topic).Add(float64(messages))
	}
}

// OnReceive records a received message's delivery latency. A negative
// latency (the broker's clock ahead of ours) is not recorded, as upstream
// does.
func (m *Metrics) OnReceive(group, topic string, delivery time.Duration) {
	if delivery < 0 {
		return
	}
	m.series(group, topic).delivery.Observe(millis(delivery))
}

// OnConsume records a consumed message's await and process time.
func (m *Metrics) OnConsume(group, topic string, await, process time.Duration, ok bool) {
	s := m.series(group, topic)
	s.await.Observe(millis(await))
	if ok {
		s.processOK.Observe(millis(process))
	} else {
		s.processFailed.Observe(millis(process))
	}
}

// OnConnect counts dial attempts.
func (m *Metrics) OnConnect(addr string, dial time.Duration, err error) {
	m.connects.WithLabelValues(status(err)).Inc()
}

// OnDisconnect counts closed connections.
func (m *Metrics) OnDisconnect(addr string, err error) { m.disconnects.Inc() }

// Describe implements prometheus.Collector.
func (m *Metrics) Describe(ch chan<- *prometheus.Desc) {
	m.sendCost.Describe(ch)
	m.pullLatency.Describe(ch)
	m.pulled.Describe(ch)
	m.connects.Describe(ch)
	m.disconnects.Describe(ch)
	m.delivery.Describe(ch)
	m.await.Describe(ch)
	m.process.Describe(ch)
}

// Collect implements prometheus.Collector.
func (m *Metrics) Collect(ch chan<- prometheus.Metric) {
	m.sendCost.Collect(ch)
	m.pullLatency.Collect(ch)
	m.pulled.Collect(ch)
	m.connects.Collect(ch)
	m.disconnects.Collect(ch)
	m.delivery.Collect(ch)
	m.await.Collect(ch)
	m.process.Collect(ch)
}
