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
// Names follow Apache RocketMQ 5.x's client metrics where one exists
// (rocketmq_send_cost_time, milliseconds, invocation_status
// success/failure); the pull and connection series are rocketgo's, named
// in the same style.
package kprom

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics implements client.SendHook, client.PullHook, client.ConnectHook
// and client.DisconnectHook, and prometheus.Collector.
type Metrics struct {
	sendCost    *prometheus.HistogramVec
	pullLatency *prometheus.HistogramVec
	pulled      *prometheus.CounterVec
	connects    *prometheus.CounterVec
	disconnects prometheus.Counter
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

// sendBuckets and pullBuckets are upstream's send_cost_time boundaries (ms).
var (
	sendBuckets = []float64{1, 5, 10, 20, 50, 200, 500}
	pullBuckets = []float64{1, 5, 10, 20, 50, 200, 500, 1000, 5000, 30000}
)

// New builds the collectors.
func New(opts ...Option) *Metrics {
	cfg := config{labels: prometheus.Labels{}}
	for _, o := range opts {
		o(&cfg)
	}
	return &Metrics{
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
	}
}

func status(err error) string {
	if err != nil {
		return "failure"
	}
	return "success"
}

func millis(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// OnSend records a send's cost time.
func (m *Metrics) OnSend(topic string, messages int, latency time.Duration, err error) {
	m.sendCost.WithLabelValues(topic, status(err)).Observe(millis(latency))
}

// OnPull records a pull's latency and the messages it brought.
func (m *Metrics) OnPull(topic, brokerName string, queueID int32, messages int, latency time.Duration, err error) {
	m.pullLatency.WithLabelValues(topic, status(err)).Observe(millis(latency))
	if messages > 0 {
		m.pulled.WithLabelValues(topic).Add(float64(messages))
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
}

// Collect implements prometheus.Collector.
func (m *Metrics) Collect(ch chan<- prometheus.Metric) {
	m.sendCost.Collect(ch)
	m.pullLatency.Collect(ch)
	m.pulled.Collect(ch)
	m.connects.Collect(ch)
	m.disconnects.Collect(ch)
}
