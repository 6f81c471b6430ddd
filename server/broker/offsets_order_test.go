package broker

import (
	"context"
	"testing"
	"time"

	"github.com/rocketgo/rocketgo/remoting"
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
