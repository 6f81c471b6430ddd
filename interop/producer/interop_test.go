//go:build !race

// The official Go client has data races of its own, so tests that run it
// are excluded from -race builds (go test -run Official ./... runs them).

package producer_test

import (
	"context"
	. "github.com/rocketgo/rocketgo/producer"
	"strings"
	"sync"
	"testing"
	"time"

	rocketmq "github.com/apache/rocketmq-client-go/v2"
	"github.com/apache/rocketmq-client-go/v2/consumer"
	"github.com/apache/rocketmq-client-go/v2/primitive"
	"github.com/apache/rocketmq-client-go/v2/rlog"

	"github.com/rocketgo/rocketgo/client"
	"github.com/rocketgo/rocketgo/message"
	"github.com/rocketgo/rocketgo/remoting"
	"github.com/rocketgo/rocketgo/remoting/netclient"
	"github.com/rocketgo/rocketgo/server/embedded"
)

// TestOfficialConsumerReceivesOurMessages: messages from every send mode of
// our producer reach the official v2.1.2 push consumer intact, whether the
// producer wrote its requests with the binary ROCKETMQ header (our default)
// or with JSON.
func TestOfficialConsumerReceivesOurMessages(t *testing.T) {
	rlog.SetLogLevel("fatal")
	srv := startServer(t)
	for _, st := range []remoting.SerializeType{remoting.SerializeRocketMQ, remoting.SerializeJSON} {
		t.Run(st.String(), func(t *testing.T) {
			cl, err := client.New(client.WithNameServers(srv.NamesrvAddr()),
				client.WithTransportOptions(netclient.WithSerializeType(st)))
			if err != nil {
				t.Fatal(err)
			}
			defer cl.Close()
			officialConsumerReceivesOurs(t, srv, "InteropOurs"+st.String(), WithClient(cl), WithGroup("interop-ours-pg"))
		})
	}
}

func officialConsumerReceivesOurs(t *testing.T, srv *embedded.Server, topic string, opts ...Option) {
	rc := newRC(t)
	createTopicWait(t, rc, srv, topic, 4)
	p := newProducer(t, srv, opts...)
	ctx := testCtx(t)

	want := map[string]*message.Message{}
	ids := map[string]string{}
	sync1 := message.New(topic, []byte("sync")).WithTags("TagA").WithKeys("k1", "k2").WithProperty("color", "blue")
	res, err := p.SendSync(ctx, sync1)
	if err != nil {
		t.Fatal(err)
	}
	want["sync"], ids["sync"] = sync1, res.MsgID
	big := message.New(topic, []byte(strings.Repeat("z", 10000))).WithTags("Big")
	if res, err = p.SendSync(ctx, big); err != nil {
		t.Fatal(err)
	}
	want[string(big.Body)], ids[string(big.Body)] = big, res.MsgID
	done := make(chan error, 1)
	am := message.New(topic, []byte("async")).WithKeys("ak")
	if err := p.SendAsync(ctx, func(r *SendResult, err error) {
		if err == nil {
			ids["async"] = r.MsgID
		}
		done <- err
	}, am); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	want["async"] = am
	om := message.New(topic, []byte("oneway"))
	if err := p.SendOneway(ctx, om); err != nil {
		t.Fatal(err)
	}
	want["oneway"] = om
	batch := []*message.Message{message.New(topic, []byte("b1")).WithTags("B"), message.New(topic, []byte("b2")).WithProperty("p", "2")}
	res, err = p.SendSync(ctx, batch...)
	if err != nil {
		t.Fatal(err)
	}
	bids := strings.Split(res.MsgID, ",")
	want["b1"], want["b2"], ids["b1"], ids["b2"] = batch[0], batch[1], bids[0], bids[1]

	var mu sync.Mutex
	got := map[string]*primitive.MessageExt{}
	c, err := rocketmq.NewPushConsumer(
		consumer.WithNsResolver(primitive.NewPassthroughResolver([]string{srv.NamesrvAddr()})),
		consumer.WithGroupName("interop-ours-cg-"+topic),
		consumer.WithConsumeFromWhere(consumer.ConsumeFromFirstOffset),
	)
	if err != nil {
		t.Fatal(err)
	}
	err = c.Subscribe(topic, consumer.MessageSelector{Type: consumer.TAG, Expression: "*"},
		func(_ context.Context, msgs ...*primitive.MessageExt) (consumer.ConsumeResult, error) {
			mu.Lock()
			defer mu.Unlock()
			for _, m := range msgs {
				got[string(m.Body)] = m
			}
			return consumer.ConsumeSuccess, nil
		})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	defer c.Shutdown()
	deadline := time.Now().Add(30 * time.Second)
	for {
		mu.Lock()
		n := len(got)
		mu.Unlock()
		if n >= len(want) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("official consumer received %d of %d messages", n, len(want))
		}
		time.Sleep(50 * time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	for body, m := range want {
		g := got[body]
		if g == nil {
			t.Errorf("%.10q not received", body)
			continue
		}
		if g.GetTags() != m.Tags || g.GetKeys() != strings.Join(m.Keys, " ") {
			t.Errorf("%.10q: tags %q keys %q, want %q %q", body, g.GetTags(), g.GetKeys(), m.Tags, m.Keys)
		}
		m.RangeProperties(func(k, v string) bool {
			if g.GetProperty(k) != v {
				t.Errorf("%.10q: property %s = %q, want %q", body, k, g.GetProperty(k), v)
			}
			return true
		})
		if id := ids[body]; id != "" && (g.MsgId != id || g.GetProperty(message.PropertyUniqKey) != id) {
			t.Errorf("%.10q: msgId %q uniq %q, want %q", body, g.MsgId, g.GetProperty(message.PropertyUniqKey), id)
		}
	}
}
