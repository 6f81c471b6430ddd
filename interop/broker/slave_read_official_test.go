//go:build !race

package broker_test

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	rocketmq "github.com/apache/rocketmq-client-go/v2"
	oconsumer "github.com/apache/rocketmq-client-go/v2/consumer"
	"github.com/apache/rocketmq-client-go/v2/primitive"
	"github.com/apache/rocketmq-client-go/v2/rlog"

	"github.com/rocketgo/rocketgo/message"
	"github.com/rocketgo/rocketgo/producer"
	"github.com/rocketgo/rocketgo/remoting/netclient"
	"github.com/rocketgo/rocketgo/server/broker"
)

// sendN sends n messages of body to topic with our producer.
func sendN(t *testing.T, ns, topic string, n int, body string) {
	t.Helper()
	p, err := producer.New(producer.WithNameServers(ns))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	defer p.Shutdown(ctx)
	for range n {
		if _, err := p.SendSync(ctx, message.New(topic, []byte(body))); err != nil {
			t.Fatal(err)
		}
	}
}

// pulledCounter counts the messages a broker's pulls delivered.
type pulledCounter struct{ out atomic.Int64 }

func (c *pulledCounter) MessagesIn(string, broker.MessageKind, int, int) {}
func (c *pulledCounter) MessagesOut(_, _ string, msgs, _ int)            { c.out.Add(int64(msgs)) }
func (c *pulledCounter) SentToDLQ(string, string)                        {}
func (c *pulledCounter) RequestServed(int16, int16, time.Duration, bool) {}
func (c *pulledCounter) TopicDeleted(string)                             {}

// TestOfficialConsumerFollowsSlaveSuggestion: the official push consumer,
// far behind on a master with slaveReadEnable, is told to pull from the
// slave (suggestWhichBrokerId 1), consumes there, and is sent back to the
// master once it has caught up.
func TestOfficialConsumerFollowsSlaveSuggestion(t *testing.T) {
	rlog.SetLogLevel("fatal")
	ns := startNamesrv(t)
	small := func(c broker.Config) broker.Config {
		c.SlaveReadEnable = true
		c.PhysicalMemorySize, c.AccessMessageInMemoryMaxRatio = 10_000, 40 // 4,000-byte backlog is "slow"
		return c
	}
	var onMaster, onSlave pulledCounter
	master := startHABroker(t, small(haConfig(t, broker.RoleAsyncMaster, ns)), broker.WithObserver(&onMaster))
	slave := startHABroker(t, small(haConfig(t, broker.RoleSlave, ns)), broker.WithSlaveSyncInterval(50*time.Millisecond),
		broker.WithObserver(&onSlave))

	rc := netclient.New()
	defer rc.Close()
	const topic, n = "SlaveReadOfficial", 200
	sendN(t, ns, topic, n, strings.Repeat("x", 200))
	waitReplicated(t, rc, master, slave, topic)
	waitFor(t, "the topic to reach the slave", 5*time.Second, func() bool { return hasTopic(t, rc, slave.Addr(), topic) })

	var got atomic.Int64
	c, err := rocketmq.NewPushConsumer(
		oconsumer.WithNsResolver(primitive.NewPassthroughResolver([]string{ns})),
		oconsumer.WithGroupName("slave-read-official"),
		oconsumer.WithConsumeFromWhere(oconsumer.ConsumeFromFirstOffset),
		oconsumer.WithPullBatchSize(8),
	)
	if err != nil {
		t.Fatal(err)
	}
	err = c.Subscribe(topic, oconsumer.MessageSelector{}, func(_ context.Context, msgs ...*primitive.MessageExt) (oconsumer.ConsumeResult, error) {
		got.Add(int64(len(msgs)))
		return oconsumer.ConsumeSuccess, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	defer c.Shutdown()
	waitFor(t, "every message", 30*time.Second, func() bool { return got.Load() >= n })
	if s := onSlave.out.Load(); s == 0 || s >= n {
		t.Fatalf("the slave delivered %d of %d messages: want the backlog's start from the slave, its end from the master", s, n)
	}
	// Caught up: new messages come from the master, none from the slave.
	fromSlave, fromMaster := onSlave.out.Load(), onMaster.out.Load()
	sendN(t, ns, topic, 5, "new")
	waitFor(t, "the new messages", 30*time.Second, func() bool { return got.Load() >= n+5 })
	if m := onMaster.out.Load() - fromMaster; m < 5 {
		t.Fatalf("the master delivered %d of the 5 new messages", m)
	}
	if s := onSlave.out.Load() - fromSlave; s != 0 {
		t.Fatalf("the slave delivered %d new messages after the consumer caught up", s)
	}
}
