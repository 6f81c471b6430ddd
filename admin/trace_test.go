package admin_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/rocketgo/rocketgo/admin"
	"github.com/rocketgo/rocketgo/message"
	"github.com/rocketgo/rocketgo/producer"
	"github.com/rocketgo/rocketgo/server/broker"
	"github.com/rocketgo/rocketgo/server/embedded/embeddedtest"
	"github.com/rocketgo/rocketgo/trace"
)

// TestMessageTrace: a traced send leaves a Pub record that MessageTrace
// finds by the producer's message id; an id nobody traced is
// ErrMessageNotFound and trace.ErrNoTrace.
func TestMessageTrace(t *testing.T) {
	srv := embeddedtest.Start(t, func(c *broker.Config) { c.TraceTopicEnable = true })
	adm, err := admin.Dial(srv.NamesrvAddr())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { adm.Close() })
	ctx := testCtx(t)
	p, err := producer.New(producer.WithNameServers(srv.NamesrvAddr()), producer.WithGroup("AdminTracePG"),
		producer.WithTrace(producer.TraceConfig{FlushInterval: 20 * time.Millisecond}))
	if err != nil {
		t.Fatal(err)
	}
	res, err := p.SendSync(ctx, message.New("AdminTraceT", []byte("traced")).WithKeys("tk"))
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Shutdown(ctx); err != nil { // flushes the trace
		t.Fatal(err)
	}
	var recs []trace.Record
	deadline := time.Now().Add(10 * time.Second) // the index is written behind the log
	for {
		recs, err = adm.MessageTrace(ctx, res.MsgID, "")
		if err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil || len(recs) != 1 {
		t.Fatalf("trace of %s: %+v, %v", res.MsgID, recs, err)
	}
	if r := recs[0]; r.Type != trace.Pub || r.Group != "AdminTracePG" || r.Topic != "AdminTraceT" || !r.Success || r.OffsetMsgID != res.OffsetMsgID {
		t.Fatalf("Pub record %+v does not describe send %+v", r, res)
	}
	_, err = adm.MessageTrace(ctx, "0A0000000000000000000000000000FF", "")
	if !errors.Is(err, admin.ErrMessageNotFound) || !errors.Is(err, trace.ErrNoTrace) {
		t.Fatalf("untraced id: %v", err)
	}
	if _, err := adm.MessageTrace(context.Background(), "", ""); err == nil {
		t.Fatal("empty id accepted")
	}
}
