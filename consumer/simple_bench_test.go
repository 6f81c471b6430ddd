package consumer

import (
	"context"
	"testing"
	"time"

	"github.com/rocketgo/rocketgo/remoting/netclient"
)

// BenchmarkSimpleReceiveAck: one SimpleConsumer receiving batches of 32
// and acking each message (ns/op is per message, receive + ack), against
// an in-process broker with ASYNC_FLUSH.
func BenchmarkSimpleReceiveAck(b *testing.B) {
	br := startBrokerOnly(b)
	s := &sender{rc: netclient.New(), addr: br.br.Addr()}
	defer s.rc.Close()
	topic := "BenchPop"
	s.sendN(b, topic, "m", b.N+1, 4)
	c := newSimpleT(b, br.ns.Addr(), "cg-bench-pop", topic, WithAwaitDuration(0))
	ctx := context.Background()
	b.ResetTimer()
	done := 0
	for done < b.N {
		msgs, err := c.Receive(ctx, 32, time.Minute)
		if err != nil {
			b.Fatal(err)
		}
		for _, m := range msgs {
			if err := c.Ack(ctx, m); err != nil {
				b.Fatal(err)
			}
		}
		done += len(msgs)
	}
}
