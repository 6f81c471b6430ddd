package embedded_test

import (
	"context"
	"testing"
	"time"

	"github.com/rocketgo/rocketgo/message"
	"github.com/rocketgo/rocketgo/producer"
	"github.com/rocketgo/rocketgo/remoting"
	"github.com/rocketgo/rocketgo/remoting/netclient"
	"github.com/rocketgo/rocketgo/server/broker"
)

// TestOffsetsFollowTheMaster: consumer offsets committed to a
// controller-mode master reach its slaves between full metadata syncs
// (here an hour apart, so only the frequent offsets copy can carry the
// second commit), and the slave promoted after a kill serves them.
func TestOffsetsFollowTheMaster(t *testing.T) {
	cfg := fastFailover(t.TempDir(), 1, 2)
	cfg.BrokerOptions = []broker.Option{broker.WithSlaveSyncInterval(time.Hour)}
	c := startCluster(t, cfg)
	mi, m := waitInSync(t, c, 2, 30*time.Second)
	si := 1 - mi

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	const topic, group = "Offsets", "offsets-cg"
	p, err := producer.New(producer.WithNameServers(c.NamesrvAddr()), producer.WithGroup("offsets-pg"))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Shutdown(context.Background())
	if res, err := p.SendSync(ctx, message.New(topic, []byte("x"))); err != nil || res.Status != producer.SendOK {
		t.Fatalf("send: %v %v", res, err)
	}
	rpc := netclient.New()
	defer rpc.Close()
	commit := func(off int64) {
		t.Helper()
		h := &remoting.UpdateConsumerOffsetRequestHeader{ConsumerGroup: group, Topic: topic, QueueID: 0, CommitOffset: off}
		resp, err := rpc.InvokeSync(ctx, m.Addr(), remoting.NewRequest(remoting.UpdateConsumerOffset, h, nil))
		if err != nil || resp.Code != remoting.Success {
			t.Fatalf("commit %d: %v %v", off, resp, err)
		}
	}
	query := func(addr string) int64 {
		h := &remoting.QueryConsumerOffsetRequestHeader{ConsumerGroup: group, Topic: topic, QueueID: 0}
		resp, err := rpc.InvokeSync(ctx, addr, remoting.NewRequest(remoting.QueryConsumerOffset, h, nil))
		if err != nil || resp.Code != remoting.Success {
			return -1
		}
		var rh remoting.OffsetResponseHeader
		if resp.DecodeHeader(&rh) != nil {
			return -1
		}
		return rh.Offset
	}
	waitOffset := func(addr string, want int64) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for query(addr) != want {
			if time.Now().After(deadline) {
				t.Fatalf("%s answers offset %d, want %d", addr, query(addr), want)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	slaveAddr := c.Broker(si).Addr()
	commit(1)
	waitOffset(slaveAddr, 1) // the first full sync may carry this one
	commit(7)
	waitOffset(slaveAddr, 7) // only the offsets copy can carry this one
	c.KillBroker(mi)
	if _, _, err := c.WaitMaster(ctx, mi); err != nil {
		t.Fatal(err)
	}
	waitOffset(slaveAddr, 7)
}
