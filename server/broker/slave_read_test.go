package broker

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/rocketgo/rocketgo/consumer"
	"github.com/rocketgo/rocketgo/message"
	"github.com/rocketgo/rocketgo/remoting"
)

// smallMemory makes a 4,000-byte backlog "more than fits in memory":
// accessMessageInMemoryMaxRatio 40 % of a configured 10,000 bytes.
func smallMemory(c *Config) {
	c.PhysicalMemorySize = 10_000
	c.AccessMessageInMemoryMaxRatio = 40
}

// pullSuggest pulls one message at offset (subscription in the request)
// and returns the answer's code and suggested broker id.
func pullSuggest(t *testing.T, addr, topic string, offset int64) (int16, int64) {
	t.Helper()
	rc := newClient(t)
	resp := invoke(t, rc, addr, remoting.NewRequest(remoting.PullMessage, &remoting.PullMessageRequestHeader{
		ConsumerGroup: "SlowGroup", Topic: topic, QueueID: 0, QueueOffset: offset, MaxMsgNums: 1,
		SysFlag: remoting.PullFlagSubscription, Subscription: "*", ExpressionType: "TAG",
	}, nil))
	return resp.Code, pullHeader(t, resp).SuggestWhichBrokerID
}

// TestPullSuggestsSlaveWhenBehind: a master suggests the group's
// whichBrokerWhenConsumeSlowly (1) to a reader whose backlog passes the
// in-memory share, and the group's brokerId (the master) to one that is
// close to the end; without slaveReadEnable, the master always.
func TestPullSuggestsSlaveWhenBehind(t *testing.T) {
	b, rc := testBroker(t, func(c *Config) {
		smallMemory(c)
		c.SlaveReadEnable = true
	})
	body := strings.Repeat("x", 200)
	for range 50 { // ~15 KB of log
		sendOK(t, rc, b.Addr(), "Backlog", 0, body)
	}
	if code, id := pullSuggest(t, b.Addr(), "Backlog", 0); code != remoting.Success || id != 1 {
		t.Fatalf("far behind: code %d, suggested broker %d; want SUCCESS and 1", code, id)
	}
	if code, id := pullSuggest(t, b.Addr(), "Backlog", 48); code != remoting.Success || id != 0 {
		t.Fatalf("near the end: code %d, suggested broker %d; want SUCCESS and 0", code, id)
	}
	// The group's whichBrokerWhenConsumeSlowly decides which slave.
	g, err := b.groups.Find("SlowGroup")
	if err != nil {
		t.Fatal(err)
	}
	g.WhichBrokerWhenConsumeSlowly = 2
	if err := b.groups.Update(g); err != nil {
		t.Fatal(err)
	}
	if _, id := pullSuggest(t, b.Addr(), "Backlog", 0); id != 2 {
		t.Fatalf("far behind with whichBrokerWhenConsumeSlowly=2: suggested %d", id)
	}
	// slaveReadEnable changes at run time, as upstream's does.
	if _, err := b.UpdateConfig(map[string]string{"slaveReadEnable": "false"}); err != nil {
		t.Fatal(err)
	}
	if _, id := pullSuggest(t, b.Addr(), "Backlog", 0); id != 0 {
		t.Fatalf("slaveReadEnable=false: suggested %d, want the master", id)
	}
}

// TestPullSuggestionDefaultsToMaster: with upstream's defaults (slave reads
// off, 40 % of the machine's memory) nothing on this scale is slow.
func TestPullSuggestionDefaultsToMaster(t *testing.T) {
	b, rc := testBroker(t, func(c *Config) { c.SlaveReadEnable = true })
	for range 10 {
		sendOK(t, rc, b.Addr(), "Small", 0, "m")
	}
	if code, id := pullSuggest(t, b.Addr(), "Small", 0); code != remoting.Success || id != 0 {
		t.Fatalf("code %d, suggested %d", code, id)
	}
	if b.memLimit <= 0 {
		t.Fatalf("in-memory limit %d: the machine's memory was not read", b.memLimit)
	}
}

// TestSlaveSendsCaughtUpReaderToMaster: a slave keeps a reader that is far
// behind, sends one that caught up back to its live master, and answers an
// empty read PULL_RETRY_IMMEDIATELY rather than parking it; with the
// master gone it keeps everyone.
func TestSlaveSendsCaughtUpReaderToMaster(t *testing.T) {
	ns := startNamesrv(t)
	mcfg := haConfig(t, RoleAsyncMaster, ns)
	smallMemory(&mcfg)
	mcfg.SlaveReadEnable = true
	scfg := haConfig(t, RoleSlave, ns)
	smallMemory(&scfg)
	scfg.SlaveReadEnable = true
	master := startHABroker(t, mcfg)
	slave := startHABroker(t, scfg, WithSlaveSyncInterval(50*time.Millisecond))
	rc := newClient(t)
	body := strings.Repeat("x", 200)
	for range 50 {
		sendOK(t, rc, master.Addr(), "SlaveRead", 0, body)
	}
	waitReplicated(t, master, slave)
	waitFor(t, "the topic to reach the slave", 5*time.Second, func() bool { _, ok := slave.topics.Get("SlaveRead"); return ok })
	if code, id := pullSuggest(t, slave.Addr(), "SlaveRead", 0); code != remoting.Success || id != 1 {
		t.Fatalf("far behind on the slave: code %d, suggested %d; want SUCCESS and 1", code, id)
	}
	if code, id := pullSuggest(t, slave.Addr(), "SlaveRead", 48); code != remoting.Success || id != 0 {
		t.Fatalf("caught up on the slave: code %d, suggested %d; want SUCCESS and 0", code, id)
	}
	start := time.Now()
	rc2 := newClient(t)
	resp := invoke(t, rc2, slave.Addr(), remoting.NewRequest(remoting.PullMessage, &remoting.PullMessageRequestHeader{
		ConsumerGroup: "SlowGroup", Topic: "SlaveRead", QueueID: 0, QueueOffset: 50, MaxMsgNums: 1,
		SysFlag:              remoting.PullFlagSubscription | remoting.PullFlagSuspend,
		SuspendTimeoutMillis: 5000, Subscription: "*", ExpressionType: "TAG",
	}, nil))
	if resp.Code != remoting.PullRetryImmediately || pullHeader(t, resp).SuggestWhichBrokerID != 0 || time.Since(start) > 4*time.Second {
		t.Fatalf("empty read on the slave: code %d after %v; want PULL_RETRY_IMMEDIATELY at once", resp.Code, time.Since(start))
	}

	stopHABroker(t, master)
	waitFor(t, "the slave to learn its master is gone", 10*time.Second, func() bool { return !slave.masterOnline.Load() })
	if code, id := pullSuggest(t, slave.Addr(), "SlaveRead", 50); code != remoting.PullNotFound || id != 0 {
		t.Fatalf("empty read on a masterless slave: code %d, suggested %d; want PULL_NOT_FOUND", code, id)
	}
}

// TestConsumerFollowsSlaveSuggestion: a push consumer far behind is sent to
// the slave, consumes there, and returns to the master once it has caught
// up; messages sent afterwards come from the master.
func TestConsumerFollowsSlaveSuggestion(t *testing.T) {
	ns := startNamesrv(t)
	mcfg := haConfig(t, RoleAsyncMaster, ns)
	smallMemory(&mcfg)
	mcfg.SlaveReadEnable = true
	scfg := haConfig(t, RoleSlave, ns)
	smallMemory(&scfg)
	scfg.SlaveReadEnable = true
	master := startHABroker(t, mcfg)
	slave := startHABroker(t, scfg, WithSlaveSyncInterval(50*time.Millisecond))
	rc := newClient(t)
	const backlog = 200
	body := strings.Repeat("x", 200)
	for i := range backlog {
		sendOK(t, rc, master.Addr(), "Follow", 0, fmt.Sprintf("%04d%s", i, body))
	}
	waitReplicated(t, master, slave)
	waitFor(t, "the topic to reach the slave", 5*time.Second, func() bool { _, ok := slave.topics.Get("Follow"); return ok })

	got := make(chan string, 4*backlog)
	c, err := consumer.NewPush(consumer.WithNameServers(ns), consumer.WithGroup("FollowGroup"),
		consumer.WithConsumeFrom(consumer.ConsumeFromFirstOffset), consumer.WithPullBatchSize(8),
		consumer.WithBrokerSuspend(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	err = c.Subscribe("Follow", "*", func(_ context.Context, _ *consumer.ConcurrentContext, msgs []*message.MessageExt) consumer.ConsumeResult {
		for _, m := range msgs {
			if m.QueueID == 0 {
				got <- string(m.Body[:4])
			}
		}
		return consumer.ConsumeSuccess
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer c.Shutdown(context.Background())

	seen := map[string]bool{}
	collect := func(n int) {
		t.Helper()
		deadline := time.After(20 * time.Second)
		for len(seen) < n {
			select {
			case s := <-got:
				seen[s] = true
			case <-deadline:
				t.Fatalf("consumed %d distinct messages, want %d", len(seen), n)
			}
		}
	}
	collect(backlog)
	fromSlave := slave.stats.getMsgs.Load()
	if fromSlave == 0 || fromSlave >= backlog {
		t.Fatalf("the slave served %d of %d messages: want the backlog's start from the slave and its end from the master", fromSlave, backlog)
	}
	fromMaster := master.stats.getMsgs.Load()

	// Caught up: new messages are pulled from the master.
	for i := range 5 {
		sendOK(t, rc, master.Addr(), "Follow", 0, fmt.Sprintf("n%03d", i))
	}
	collect(backlog + 5)
	if d := master.stats.getMsgs.Load() - fromMaster; d < 5 {
		t.Fatalf("the master served %d of the 5 new messages", d)
	}
	if s := slave.stats.getMsgs.Load(); s != fromSlave {
		t.Fatalf("the slave served %d more messages after the consumer caught up", s-fromSlave)
	}
}
