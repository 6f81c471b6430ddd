package kprom_test

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/rocketgo/rocketgo/client"
	"github.com/rocketgo/rocketgo/message"
	"github.com/rocketgo/rocketgo/plugin/kprom"
	"github.com/rocketgo/rocketgo/producer"
	"github.com/rocketgo/rocketgo/server/embedded/embeddedtest"
)

var (
	_ client.SendHook       = (*kprom.Metrics)(nil)
	_ client.PullHook       = (*kprom.Metrics)(nil)
	_ client.ConnectHook    = (*kprom.Metrics)(nil)
	_ client.DisconnectHook = (*kprom.Metrics)(nil)
)

// TestSendsAreCounted: a producer on a client carrying the hook shows its
// sends in rocketmq_send_cost_time, and the names pass promlint.
func TestSendsAreCounted(t *testing.T) {
	srv := embeddedtest.Start(t)
	m := kprom.New(kprom.WithClientID("test"))
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(m)
	cl, err := client.New(client.WithNameServers(srv.NamesrvAddr()), client.WithHooks(m))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	p, err := producer.New(producer.WithClient(cl), producer.WithGroup("KpromPG"))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Shutdown(context.Background())
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	const n = 5
	for range n {
		if _, err := p.SendSync(ctx, message.New("KpromT", []byte("x"))); err != nil {
			t.Fatal(err)
		}
	}
	// A batch counts once per message, as upstream's clients count it.
	if _, err := p.SendSync(ctx, message.New("KpromT", []byte("a")), message.New("KpromT", []byte("b")),
		message.New("KpromT", []byte("c"))); err != nil {
		t.Fatal(err)
	}
	got, err := testutil.GatherAndCount(reg, "rocketmq_send_cost_time")
	if err != nil || got != 1 {
		t.Fatalf("series %d, %v", got, err)
	}
	mfs, _ := reg.Gather()
	for _, mf := range mfs {
		if mf.GetName() == "rocketmq_send_cost_time" {
			if c := mf.GetMetric()[0].GetHistogram().GetSampleCount(); c != n+3 {
				t.Fatalf("send_cost_time count %d, want %d", c, n+3)
			}
		}
	}
	if probs, err := testutil.GatherAndLint(reg); err != nil || len(probs) > 0 {
		t.Fatalf("lint: %v %v", probs, err)
	}
}
