package broker

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/rocketgo/rocketgo/remoting"
	"github.com/rocketgo/rocketgo/remoting/wire"
)

// TestOffsetCommitsApplyInArrivalOrder: commits of one connection are
// applied in the order they arrive. The official clients commit one way
// (rocketmq-client-go's persist sends UPDATE_CONSUMER_OFFSET oneway and
// does not wait), so a broker that ran them on a pool of workers could
// apply an older commit after a newer one and move the group back — its
// consumers would then get those messages again. A query sent after the
// commits on the same connection sees the last of them.
func TestOffsetCommitsApplyInArrivalOrder(t *testing.T) {
	b, rc := testBroker(t, nil)
	send(t, rc, b.Addr(), "Ord", 0, "", []byte("x"))
	heartbeat(t, rc, b.Addr(), "CG", "Ord", "*")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for round := range 20 {
		const commits = 200
		base := int64(round * commits)
		for i := int64(1); i <= commits; i++ {
			h := &remoting.UpdateConsumerOffsetRequestHeader{ConsumerGroup: "CG", Topic: "Ord", QueueID: 0, CommitOffset: base + i}
			if err := rc.InvokeOneway(ctx, b.Addr(), remoting.NewRequest(remoting.UpdateConsumerOffset, h, nil)); err != nil {
				t.Fatal(err)
			}
		}
		resp := invoke(t, rc, b.Addr(), remoting.NewRequest(remoting.QueryConsumerOffset,
			&remoting.QueryConsumerOffsetRequestHeader{ConsumerGroup: "CG", Topic: "Ord", QueueID: 0}, nil))
		var h remoting.OffsetResponseHeader
		if err := resp.DecodeHeader(&h); err != nil || resp.Code != remoting.Success {
			t.Fatalf("round %d: query: code %d, %v", round, resp.Code, err)
		}
		if h.Offset != base+commits {
			t.Fatalf("round %d: offset %d after commits up to %d: an earlier commit was applied last, or the query overtook them", round, h.Offset, base+commits)
		}
	}
}

// TestQueueUnlockThenLockApplyInOrder: an orderly consumer that gives a
// queue up (unlock, one way, as the official clients send it on a
// rebalance) and takes it back at once (lock) holds it afterwards. Run on
// the workers, the unlock could be applied after the lock, leaving the
// queue free while its consumer believed it held, and a second client
// could then lock it and consume the same queue at the same time.
func TestQueueUnlockThenLockApplyInOrder(t *testing.T) {
	b, rc := testBroker(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	mq := []wire.MessageQueue{{Topic: "Ord", BrokerName: b.cfg.BrokerName, QueueID: 0}}
	body := func(client string) []byte {
		raw, err := json.Marshal(wire.LockBatchRequest{ConsumerGroup: "CG", ClientID: client, MQSet: mq})
		if err != nil {
			t.Fatal(err)
		}
		return raw
	}
	granted := func(client string) int {
		resp := invoke(t, rc, b.Addr(), remoting.NewRequest(remoting.LockBatchMQ, nil, body(client)))
		var got wire.LockBatchResponse
		if resp.Code != remoting.Success || json.Unmarshal(resp.Body, &got) != nil {
			t.Fatalf("lock: code %d %s", resp.Code, resp.Remark)
		}
		return len(got.LockOKMQSet)
	}
	if granted("c1") != 1 {
		t.Fatal("c1 could not lock a free queue")
	}
	for round := range 300 {
		if err := rc.InvokeOneway(ctx, b.Addr(), remoting.NewRequest(remoting.UnlockBatchMQ, nil, body("c1"))); err != nil {
			t.Fatal(err)
		}
		if granted("c1") != 1 {
			t.Fatalf("round %d: c1 could not take its queue back", round)
		}
		if granted("c2") != 0 {
			t.Fatalf("round %d: c2 locked the queue c1 had just locked: c1's earlier unlock was applied after its lock", round)
		}
	}
}

// TestLargeLockBatchAnswered: a lock or unlock batch too large to decode
// on the event loop (over inlineLockBody) is still served, from a
// goroutine of its own.
func TestLargeLockBatchAnswered(t *testing.T) {
	b, rc := testBroker(t, nil)
	var mqs []wire.MessageQueue
	for i := 0; ; i++ {
		mqs = append(mqs, wire.MessageQueue{Topic: "BigLockTopic", BrokerName: b.cfg.BrokerName, QueueID: int32(i)})
		if len(mqs)*60 > inlineLockBody && len(mqs)%1000 == 0 {
			break
		}
	}
	raw, err := json.Marshal(wire.LockBatchRequest{ConsumerGroup: "CG", ClientID: "c1", MQSet: mqs})
	if err != nil {
		t.Fatal(err)
	}
	if len(raw) <= inlineLockBody {
		t.Fatalf("body of %d bytes is not over %d", len(raw), inlineLockBody)
	}
	resp := invoke(t, rc, b.Addr(), remoting.NewRequest(remoting.LockBatchMQ, nil, raw))
	var got wire.LockBatchResponse
	if resp.Code != remoting.Success || json.Unmarshal(resp.Body, &got) != nil || len(got.LockOKMQSet) != len(mqs) {
		t.Fatalf("large lock batch: code %d %s, %d of %d granted", resp.Code, resp.Remark, len(got.LockOKMQSet), len(mqs))
	}
	resp = invoke(t, rc, b.Addr(), remoting.NewRequest(remoting.UnlockBatchMQ, nil, raw))
	if resp.Code != remoting.Success {
		t.Fatalf("large unlock batch: code %d %s", resp.Code, resp.Remark)
	}
	if granted := b.locks.lock("CG", "c2", mqs[:1]); len(granted) != 1 {
		t.Fatal("the large unlock left the queues locked")
	}
}

// TestPullCarriedCommitOnlyMovesForward: the commit a pull carries never
// moves the group's offset back. Pulls run on the workers and may be served
// after a commit their client sent later; an explicit commit still may.
func TestPullCarriedCommitOnlyMovesForward(t *testing.T) {
	b, rc := testBroker(t, nil)
	send(t, rc, b.Addr(), "Fwd", 0, "", []byte("x"))
	heartbeat(t, rc, b.Addr(), "CG", "Fwd", "*")
	commit := func(off int64) {
		h := &remoting.UpdateConsumerOffsetRequestHeader{ConsumerGroup: "CG", Topic: "Fwd", QueueID: 0, CommitOffset: off}
		if resp := invoke(t, rc, b.Addr(), remoting.NewRequest(remoting.UpdateConsumerOffset, h, nil)); resp.Code != remoting.Success {
			t.Fatalf("commit %d: %d %s", off, resp.Code, resp.Remark)
		}
	}
	pullCommitting := func(off int64) {
		req := pullRequest("CG", "Fwd", 0, 0, 0)
		var h remoting.PullMessageRequestHeader
		if err := req.DecodeHeader(&h); err != nil {
			t.Fatal(err)
		}
		h.SysFlag |= remoting.PullFlagCommitOffset
		h.CommitOffset = off
		invoke(t, rc, b.Addr(), remoting.NewRequest(remoting.PullMessage, &h, nil))
	}
	want := func(off int64) {
		t.Helper()
		if got, ok := b.offsets.Query("CG", "Fwd", 0); !ok || got != off {
			t.Fatalf("offset %d (found %v), want %d", got, ok, off)
		}
	}
	commit(100)
	pullCommitting(50)
	want(100)
	pullCommitting(150)
	want(150)
	commit(20) // a seek back is an explicit commit
	want(20)
}
