package metrics

import (
	"fmt"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/rocketgo/rocketgo/server/namesrv"
	"github.com/rocketgo/rocketgo/server/transport"
)

// NameServer holds a name server's metrics: request latency, through the
// remoting server's reply hook, and the size of its route table.
type NameServer struct {
	rpc    *rpcRecorder
	ns     atomic.Pointer[namesrv.Server]
	topics *prometheus.Desc
	broker *prometheus.Desc
}

// NewNameServer registers a name server's metrics with reg. Its node_id is
// l.NodeID (the listen address, say); upstream name servers export none,
// so only rocketmq_rpc_latency and the table sizes are here.
func NewNameServer(reg prometheus.Registerer, l Labels) (*NameServer, error) {
	cl, err := l.constLabels(nodeTypeNameServer)
	if err != nil {
		return nil, err
	}
	m := &NameServer{
		rpc:    newRPCRecorder(cl),
		topics: prometheus.NewDesc(TopicNumber, "Active topic number.", nil, cl),
		broker: prometheus.NewDesc(BrokerNumber, "Broker addresses registered.", nil, cl),
	}
	for _, c := range []prometheus.Collector{m.rpc.vec, m} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("metrics: %w", err)
		}
	}
	return m, nil
}

// RemotingOption times the name server's answers; pass it with
// namesrv.WithRemotingOptions.
func (m *NameServer) RemotingOption() transport.Option {
	return transport.WithReplyHook(m.rpc.served)
}

// Attach makes the gauges read ns.
func (m *NameServer) Attach(ns *namesrv.Server) { m.ns.Store(ns) }

func (m *NameServer) Describe(ch chan<- *prometheus.Desc) {
	ch <- m.topics
	ch <- m.broker
}

func (m *NameServer) Collect(ch chan<- prometheus.Metric) {
	ns := m.ns.Load()
	if ns == nil {
		return
	}
	brokers, topics := ns.Counts()
	ch <- prometheus.MustNewConstMetric(m.topics, prometheus.GaugeValue, float64(topics))
	ch <- prometheus.MustNewConstMetric(m.broker, prometheus.GaugeValue, float64(brokers))
}
