package metrics

import (
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/common/expfmt"
)

func TestProxyObserveCall(t *testing.T) {
	reg := NewRegistry()
	m, err := NewProxy(reg, Labels{Cluster: "c", NodeID: "p"})
	if err != nil {
		t.Fatal(err)
	}
	m.ObserveCall("/apache.rocketmq.v2.MessagingService/SendMessage", "OK", 2*time.Millisecond)
	m.ObserveCall("/apache.rocketmq.v2.MessagingService/SendMessage", "OK", 4*time.Millisecond)
	m.ObserveCall("/apache.rocketmq.v2.MessagingService/ReceiveMessage", "Unauthenticated", time.Millisecond)
	if n := testutil.CollectAndCount(reg, RPCLatency); n != 2 {
		t.Fatalf("%d series, want 2", n)
	}
	out, err := testutil.CollectAndFormat(reg, expfmt.TypeTextPlain, RPCLatency)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{
		`rocketmq_rpc_latency_count{cluster="c",is_long_polling="false",node_id="p",node_type="proxy",protocol_type="grpc",request_code="sendmessage",response_code="ok",result="success"} 2`,
		`rocketmq_rpc_latency_count{cluster="c",is_long_polling="true",node_id="p",node_type="proxy",protocol_type="grpc",request_code="receivemessage",response_code="unauthenticated",result="failure"} 1`,
	} {
		if !strings.Contains(string(out), s) {
			t.Errorf("missing %s in\n%s", s, out)
		}
	}
}
