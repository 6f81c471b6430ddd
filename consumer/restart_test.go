package consumer

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/rocketgo/rocketgo/remoting/netclient"
)

func TestPushResumesAfterBrokerRestart(t *testing.T) {
	b := startBrokerOnly(t)
	nsAddr := b.ns.Addr()
	s := &sender{rc: netclient.New(), addr: b.br.Addr()}
	defer s.rc.Close()
	topic := "PushRestart"
	s.send(t, topic, 0, "", []byte("init"))
	rec := newRecorder()
	opts := []Option{WithNameServers(nsAddr), WithGroup("cg-restart"), WithConsumeFrom(ConsumeFromFirstOffset),
		WithRebalanceInterval(500 * time.Millisecond), WithPersistInterval(200 * time.Millisecond),
		WithHeartbeatInterval(time.Second), WithRouteRefreshInterval(time.Second),
		WithPullBackoff(100 * time.Millisecond), WithBrokerSuspend(2 * time.Second)}
	var c *PushConsumer
	waitFor(t, 10*time.Second, "consumer start", func() bool {
		var err error
		c, err = NewPush(opts...)
		if err != nil {
			t.Fatal(err)
		}
		c.Subscribe(topic, "*", rec.listener())
		return c.Start(context.Background()) == nil
	})
	defer shutdown(t, c)
	for i := range 40 {
		s.send(t, topic, i%4, "", []byte(fmt.Sprintf("before-%d", i)))
	}
	waitFor(t, 20*time.Second, "before messages", func() bool { return rec.distinct() >= 41 })
	b.restart(t, 300*time.Millisecond)
	for i := range 40 {
		s.send(t, topic, i%4, "", []byte(fmt.Sprintf("after-%d", i)))
	}
	start := time.Now()
	waitFor(t, 20*time.Second, "after messages", func() bool { return rec.distinct() >= 81 })
	t.Logf("resumed %v after the broker came back; duplicates %d", time.Since(start), rec.dups())
}
