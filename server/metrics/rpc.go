package metrics

import (
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/rocketgo/rocketgo/internal/cowmap"
	"github.com/rocketgo/rocketgo/remoting"
)

// rpcLatencyBuckets are upstream's (ms): 1, 3, 5, 7, 10, 100 ms, 1, 2, 3 s.
var rpcLatencyBuckets = []float64{1, 3, 5, 7, 10, 100, 1000, 2000, 3000}

// unnamedCode stands for every code RocketMQ has no name for.
const unnamedCode int16 = -32768

// rpcKey is one rocketmq_rpc_latency series.
type rpcKey struct {
	request, response int16
	longPolling       bool
}

// rpcRecorder times answered requests into rocketmq_rpc_latency, labelled
// as upstream's writeResponse does.
type rpcRecorder struct {
	vec    *prometheus.HistogramVec
	series cowmap.Map[rpcKey, observer]
}

// observer boxes a series so the copy-on-write map can hold it.
type observer struct{ prometheus.Observer }

func newRPCRecorder(constLabels prometheus.Labels) *rpcRecorder {
	return &rpcRecorder{vec: prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:        RPCLatency,
		Help:        "Rpc latency in milliseconds, from a request's arrival to its answer.",
		Buckets:     rpcLatencyBuckets,
		ConstLabels: constLabels,
	}, []string{"protocol_type", "request_code", "response_code", "is_long_polling", "result"})}
}

// served records one answer; it is a remoting.ReplyHook.
func (r *rpcRecorder) served(request, response int16, elapsed time.Duration, longPolling bool) {
	// Codes without a name share one series key (see codeLabel).
	if remoting.RequestCodeName(request) == "" {
		request = unnamedCode
	}
	if remoting.ResponseCodeName(response) == "" {
		response = unnamedCode
	}
	k := rpcKey{request, response, longPolling}
	o := r.series.Get(k)
	if o == nil {
		o = r.series.GetOrCreate(k, func() *observer {
			return &observer{r.vec.WithLabelValues(protocolTypeRemoting, codeLabel(request, remoting.RequestCodeName),
				codeLabel(response, remoting.ResponseCodeName), boolLabel(longPolling), "success")}
		})
	}
	o.Observe(float64(elapsed) / float64(time.Millisecond))
}

// codeLabel is upstream's label for a code: its lower-case name. Upstream
// falls back to the number; rocketgo says "other" instead, so that a peer
// sending every int16 cannot create 65536 series.
func codeLabel(code int16, name func(int16) string) string {
	if n := name(code); n != "" {
		return strings.ToLower(n)
	}
	return "other"
}
