package broker_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/rocketgo/rocketgo/remoting"
	"github.com/rocketgo/rocketgo/remoting/netclient"
	"github.com/rocketgo/rocketgo/server/broker"
	"github.com/rocketgo/rocketgo/server/namesrv"
)

// These fixtures mirror server/broker's HA test helpers through the
// packages' public API and the wire protocol only, since this module
// cannot reach the broker's internals.

func startNamesrv(t *testing.T) string {
	t.Helper()
	ns := namesrv.New(namesrv.WithListenAddr("127.0.0.1:0"))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := ns.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := ns.Shutdown(ctx); err != nil {
			t.Errorf("name server shutdown: %v", err)
		}
	})
	return ns.Addr()
}

// haConfig is a small broker of the given role registering with namesrv,
// with replication intervals short enough for tests.
func haConfig(t *testing.T, role, namesrv string) broker.Config {
	cfg := broker.DefaultConfig()
	cfg.ListenHost, cfg.ListenPort = "127.0.0.1", 0
	cfg.StorePathRootDir = t.TempDir()
	cfg.MappedFileSizeCommitLog = 8 << 20
	cfg.MaxMessageSize = 1 << 20
	cfg.MappedFileSizeConsumeQueue = 20 * 1000
	cfg.MaxHashSlotNum, cfg.MaxIndexNum = 1000, 4000
	cfg.NamesrvAddr = namesrv
	cfg.BrokerRole = role
	if role == broker.RoleSlave {
		cfg.BrokerID = 1
	}
	cfg.RegisterNameServerPeriod = 200 * time.Millisecond
	cfg.HASendHeartbeatInterval = 100 * time.Millisecond
	cfg.HAHousekeepingInterval = time.Second
	return cfg
}

// startHABroker starts a broker and stops it when the test ends (stopping
// it earlier with stopHABroker is fine).
func startHABroker(t *testing.T, cfg broker.Config, opts ...broker.Option) *broker.Broker {
	t.Helper()
	b, err := broker.New(cfg, opts...)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := b.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stopHABroker(t, b) })
	return b
}

func stopHABroker(t *testing.T, b *broker.Broker) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := b.Shutdown(ctx); err != nil {
		t.Errorf("shutdown %s: %v", b.Config().BrokerRole, err)
	}
}

func waitFor(t testing.TB, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// queuedMessages sums GET_MAX_OFFSET over the first queues of topic on the
// broker at addr: how many messages its consume queues index.
func queuedMessages(t testing.TB, rc *netclient.Client, addr, topic string) int64 {
	t.Helper()
	var total int64
	for q := int32(0); q < 16; q++ {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		resp, err := rc.InvokeSync(ctx, addr, remoting.NewRequest(remoting.GetMaxOffset,
			&remoting.GetMaxOffsetRequestHeader{Topic: topic, QueueID: q, Committed: true}, nil))
		cancel()
		if err != nil {
			t.Fatalf("GET_MAX_OFFSET from %s: %v", addr, err)
		}
		if resp.Code != remoting.Success {
			continue
		}
		if v, ok := resp.Ext.Get("offset"); ok {
			var n int64
			if err := json.Unmarshal([]byte(v), &n); err == nil {
				total += n
			}
		}
	}
	return total
}

// waitReplicated waits until the slave's consume queues index as many
// messages of topic as the master's.
func waitReplicated(t testing.TB, rc *netclient.Client, master, slave *broker.Broker, topic string) {
	t.Helper()
	want := queuedMessages(t, rc, master.Addr(), topic)
	if want == 0 {
		t.Fatalf("master holds no message of %s", topic)
	}
	waitFor(t, "the slave to catch up", 10*time.Second, func() bool {
		return queuedMessages(t, rc, slave.Addr(), topic) == want
	})
}

// hasTopic asks the broker at addr for its topic table (GET_ALL_TOPIC_CONFIG)
// and reports whether topic is in it.
func hasTopic(t testing.TB, rc *netclient.Client, addr, topic string) bool {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	resp, err := rc.InvokeSync(ctx, addr, remoting.NewRequest(remoting.GetAllTopicConfig, nil, nil))
	if err != nil || resp.Code != remoting.Success {
		t.Fatalf("GET_ALL_TOPIC_CONFIG from %s: %v %v", addr, err, resp)
	}
	var body struct {
		TopicConfigTable map[string]json.RawMessage `json:"topicConfigTable"`
	}
	if err := json.Unmarshal(resp.Body, &body); err != nil {
		t.Fatalf("topic table from %s: %v", addr, err)
	}
	_, ok := body.TopicConfigTable[topic]
	return ok
}
