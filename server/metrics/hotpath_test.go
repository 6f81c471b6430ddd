package metrics_test

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/rocketgo/rocketgo/remoting"
	"github.com/rocketgo/rocketgo/server/broker"
	"github.com/rocketgo/rocketgo/server/metrics"
)

func newBrokerMetrics(t testing.TB) (*metrics.Broker, *prometheus.Registry) {
	reg := prometheus.NewRegistry()
	m, err := metrics.NewBroker(reg, metrics.Labels{Cluster: "C", NodeID: "b"})
	if err != nil {
		t.Fatal(err)
	}
	return m, reg
}

// TestHotPathDoesNotAllocate: once a topic's series exist, recording a
// send, a pull, a DLQ message and a request allocates nothing.
func TestHotPathDoesNotAllocate(t *testing.T) {
	m, reg := newBrokerMetrics(t)
	topic, group := "HotTopic", "HotGroup"
	record := func() {
		m.MessagesIn(topic, broker.MessageNormal, 1, 512)
		m.MessagesOut(topic, group, 32, 16384)
		m.SentToDLQ(group, topic)
		m.RequestServed(remoting.SendMessageV2, remoting.Success, 300*time.Microsecond, false)
		m.RequestServed(12345, remoting.Success, time.Millisecond, false) // an unnamed code
	}
	record() // creates the series
	if n := testing.AllocsPerRun(1000, record); n != 0 {
		t.Fatalf("%v allocations per recording, want 0", n)
	}
	n, err := testutil.GatherAndCount(reg, metrics.MessagesInTotal, metrics.RPCLatency)
	if err != nil || n != 3 {
		t.Fatalf("series: %d %v (want messages_in and two rpc series)", n, err)
	}
}

func BenchmarkMessagesIn(b *testing.B) {
	m, _ := newBrokerMetrics(b)
	m.MessagesIn("BenchTopic", broker.MessageNormal, 1, 512)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			m.MessagesIn("BenchTopic", broker.MessageNormal, 1, 512)
		}
	})
}

func BenchmarkMessagesOut(b *testing.B) {
	m, _ := newBrokerMetrics(b)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			m.MessagesOut("BenchTopic", "BenchGroup", 32, 16384)
		}
	})
}

func BenchmarkRequestServed(b *testing.B) {
	m, _ := newBrokerMetrics(b)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			m.RequestServed(remoting.SendMessageV2, remoting.Success, 300*time.Microsecond, false)
		}
	})
}
