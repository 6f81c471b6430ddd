package consumer

import (
	"context"
	"testing"
	"time"

	"github.com/rocketgo/rocketgo/message"
	"github.com/rocketgo/rocketgo/remoting"
	"github.com/rocketgo/rocketgo/remoting/netclient"
)

// BenchmarkSimpleReceiveAck: one SimpleConsumer receiving batches of 32
// and acking each message (ns/op is per message, receive + ack), against
// an in-process broker with ASYNC_FLUSH.
func BenchmarkSimpleReceiveAck(b *testing.B) {
	benchReceiveAck(b, "BenchPop", func(ctx context.Context, c *SimpleConsumer, msgs []*message.MessageExt) error {
		for _, m := range msgs {
			if err := c.Ack(ctx, m); err != nil {
				return err
			}
		}
		return nil
	})
}

// BenchmarkSimpleReceiveAckBatch is BenchmarkSimpleReceiveAck with each
// batch acknowledged by one BATCH_ACK_MESSAGE (AckBatch).
func BenchmarkSimpleReceiveAckBatch(b *testing.B) {
	benchReceiveAck(b, "BenchPopBatch", func(ctx context.Context, c *SimpleConsumer, msgs []*message.MessageExt) error {
		return c.AckBatch(ctx, msgs)
	})
}

func benchReceiveAck(b *testing.B, topic string, ack func(context.Context, *SimpleConsumer, []*message.MessageExt) error) {
	br := startBrokerOnly(b)
	s := &sender{rc: netclient.New(), addr: br.br.Addr()}
	defer s.rc.Close()
	s.sendN(b, topic, "m", b.N+1, 4)
	c := newSimpleT(b, br.ns.Addr(), "cg-"+topic, topic, WithAwaitDuration(0))
	ctx := context.Background()
	b.ResetTimer()
	done := 0
	for done < b.N {
		msgs, err := c.Receive(ctx, 32, time.Minute)
		if err != nil {
			b.Fatal(err)
		}
		if len(msgs) > 0 {
			if err := ack(ctx, c, msgs); err != nil {
				b.Fatal(err)
			}
		}
		done += len(msgs)
	}
}

// BenchmarkClassicPull is the baseline for BenchmarkSimpleReceiveAck in
// the same run: raw PULL_MESSAGE of 32 from the same kind of broker, with
// the offset committed once per batch (ns/op is per message).
func BenchmarkClassicPull(b *testing.B) {
	br := startBrokerOnly(b)
	s := &sender{rc: netclient.New(), addr: br.br.Addr()}
	defer s.rc.Close()
	topic := "BenchPull"
	s.sendN(b, topic, "m", b.N+4, 4)
	ctx := context.Background()
	var next [4]int64
	b.ResetTimer()
	done := 0
	for i := 0; done < b.N; i++ {
		q := int32(i % 4)
		h := remoting.PullMessageRequestHeader{ConsumerGroup: "cg-bench-pull", Topic: topic, QueueID: q,
			QueueOffset: next[q], MaxMsgNums: 32, SysFlag: remoting.PullFlagSubscription, Subscription: "*"}
		resp, err := s.rc.InvokeSync(ctx, s.addr, remoting.NewRequest(remoting.PullMessage, &h, nil))
		if err != nil {
			b.Fatal(err)
		}
		if resp.Code != remoting.Success {
			if i > 100*b.N {
				b.Fatalf("pull answered %d: %s", resp.Code, resp.Remark)
			}
			continue
		}
		var rh remoting.PullMessageResponseHeader
		if err := resp.DecodeHeader(&rh); err != nil {
			b.Fatal(err)
		}
		msgs, err := message.DecodeMessages(resp.Body)
		if err != nil {
			b.Fatal(err)
		}
		done += len(msgs)
		next[q] = rh.NextBeginOffset
		u := remoting.UpdateConsumerOffsetRequestHeader{ConsumerGroup: "cg-bench-pull", Topic: topic, QueueID: q, CommitOffset: next[q]}
		if _, err := s.rc.InvokeSync(ctx, s.addr, remoting.NewRequest(remoting.UpdateConsumerOffset, &u, nil)); err != nil {
			b.Fatal(err)
		}
	}
}
