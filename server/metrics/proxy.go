package metrics

import (
	"fmt"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/rocketgo/rocketgo/internal/cowmap"
)

const (
	nodeTypeProxy    = "proxy"
	protocolTypeGRPC = "grpc"
)

// Proxy records the 5.x gRPC endpoint's calls (server/proxy) into
// rocketmq_rpc_latency with protocol_type "grpc", node_type "proxy",
// request_code the method's lower-case name ("sendmessage") and
// response_code the gRPC status code's ("ok"). It is a proxy.Observer.
type Proxy struct {
	vec    *prometheus.HistogramVec
	series cowmap.Map[proxyKey, observer]
}

type proxyKey struct{ method, code string }

// NewProxy registers the gRPC endpoint's metrics with reg.
func NewProxy(reg prometheus.Registerer, l Labels) (*Proxy, error) {
	cl, err := l.constLabels(nodeTypeProxy)
	if err != nil {
		return nil, err
	}
	m := &Proxy{vec: newRPCRecorder(cl).vec}
	if err := reg.Register(m.vec); err != nil {
		return nil, fmt.Errorf("metrics: %w", err)
	}
	return m, nil
}

// ObserveCall records one finished call. method is the full gRPC method
// ("/apache.rocketmq.v2.MessagingService/SendMessage"): grpc calls
// observers only for registered methods, so the series stay few.
func (m *Proxy) ObserveCall(method, code string, d time.Duration) {
	k := proxyKey{method, code}
	o := m.series.Get(k)
	if o == nil {
		o = m.series.GetOrCreate(k, func() *observer {
			name := strings.ToLower(method[strings.LastIndexByte(method, '/')+1:])
			result := "success"
			if code != "OK" {
				result = "failure"
			}
			return &observer{m.vec.WithLabelValues(protocolTypeGRPC, name, strings.ToLower(code),
				boolLabel(name == "receivemessage"), result)}
		})
	}
	o.Observe(float64(d) / float64(time.Millisecond))
}
