//go:build !race

// The official Go client has data races of its own, so this interop test
// runs in CI's race-free pass (go test -run Official ./...).

package broker_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/rocketgo/rocketgo/remoting/netclient"
	"github.com/rocketgo/rocketgo/server/broker"

	rocketmq "github.com/apache/rocketmq-client-go/v2"
	"github.com/apache/rocketmq-client-go/v2/primitive"
	oproducer "github.com/apache/rocketmq-client-go/v2/producer"
	"github.com/apache/rocketmq-client-go/v2/rlog"

	"github.com/rocketgo/rocketgo/consumer"
	"github.com/rocketgo/rocketgo/message"
)

// TestOfficialProducerThenSlaveFailover: the official client produces to
// a master; once the master is gone, our push consumer finds the slave
// through the name server (offsets included) and consumes everything from
// it. The official Go consumer v2.1.2 cannot do this last step: it looks
// consumer offsets up on masters only ("broker-a address not found").
func TestOfficialProducerThenSlaveFailover(t *testing.T) {
	rlog.SetLogLevel("fatal")
	ns := startNamesrv(t)
	master := startHABroker(t, haConfig(t, broker.RoleAsyncMaster, ns))
	slave := startHABroker(t, haConfig(t, broker.RoleSlave, ns), broker.WithSlaveSyncInterval(50*time.Millisecond))

	p, err := rocketmq.NewProducer(
		oproducer.WithNsResolver(primitive.NewPassthroughResolver([]string{ns})),
		oproducer.WithGroupName("ha-official-pg"),
		oproducer.WithRetry(2),
	)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	const topic, n = "HAOfficial", 20
	for i := range n {
		if _, err := p.SendSync(ctx, primitive.NewMessage(topic, []byte(fmt.Sprintf("m%d", i)))); err != nil {
			t.Fatalf("send %d: %v", i, err)
		}
	}
	p.Shutdown()
	rc := netclient.New()
	defer rc.Close()
	waitReplicated(t, rc, master, slave, topic)
	waitFor(t, "the topic to reach the slave", 5*time.Second, func() bool { return hasTopic(t, rc, slave.Addr(), topic) })
	stopHABroker(t, master)

	var mu sync.Mutex
	seen := map[string]int{}
	c, err := consumer.NewPush(consumer.WithNameServers(ns), consumer.WithGroup("ha-failover-cg"),
		consumer.WithConsumeFrom(consumer.ConsumeFromFirstOffset), consumer.WithRebalanceInterval(200*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	err = c.Subscribe(topic, "*", consumer.ConcurrentListener(func(_ context.Context, _ *consumer.ConcurrentContext, msgs []*message.MessageExt) consumer.ConsumeResult {
		mu.Lock()
		for _, m := range msgs {
			seen[string(m.Body)]++
		}
		mu.Unlock()
		return consumer.ConsumeSuccess
	}))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer c.Shutdown(context.Background())
	waitFor(t, "every message from the slave", 20*time.Second, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(seen) == n
	})
	for i := range n {
		if seen[fmt.Sprintf("m%d", i)] == 0 {
			t.Errorf("m%d never arrived", i)
		}
	}
}
