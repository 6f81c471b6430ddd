package rebalance

import (
	"fmt"
	"testing"
)

// benchInput is a mid-sized group: 4 brokers × 16 queues, 12 consumers.
func benchInput() ([]Queue, []string) {
	var mqs []Queue
	for b := 0; b < 4; b++ {
		for q := 0; q < 16; q++ {
			mqs = append(mqs, Queue{Topic: "TopicTest", BrokerName: fmt.Sprintf("broker-%d", b), QueueID: q})
		}
	}
	var ids []string
	for c := 0; c < 12; c++ {
		ids = append(ids, fmt.Sprintf("10.0.0.%d@%d", c, 1000+c))
	}
	return mqs, ids
}

func benchStrategy(b *testing.B, s Strategy) {
	mqs, ids := benchInput()
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, err := s.Allocate("G", ids[5], mqs, ids); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAveragely(b *testing.B) { benchStrategy(b, Averagely{}) }

func BenchmarkConsistentHash(b *testing.B) {
	s, err := NewConsistentHash()
	if err != nil {
		b.Fatal(err)
	}
	benchStrategy(b, s)
}
