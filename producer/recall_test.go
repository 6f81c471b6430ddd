package producer

import (
	"testing"
	"time"

	"github.com/rocketgo/rocketgo/message"
)

// TestRecallMessage: of two timer messages the recalled one is never
// delivered, the other is; recalling after the delivery time, with a
// broken handle or on a retry topic fails with the documented errors.
func TestRecallMessage(t *testing.T) {
	srv := startServer(t)
	rc := newRC(t)
	ctx := testCtx(t)
	createTopicWait(t, rc, srv, "RECALL", 1)
	p := newProducer(t, srv)

	gone, err := p.SendSync(ctx, message.New("RECALL", []byte("recalled")).WithDelay(800*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	kept, err := p.SendSync(ctx, message.New("RECALL", []byte("kept")).WithDelay(1200*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	plain, err := p.SendSync(ctx, message.New("RECALL", []byte("now")))
	if err != nil {
		t.Fatal(err)
	}
	if gone.RecallHandle == "" || kept.RecallHandle == "" || plain.RecallHandle != "" {
		t.Fatalf("handles: timer %q %q, plain %q", gone.RecallHandle, kept.RecallHandle, plain.RecallHandle)
	}
	id, err := p.RecallMessage(ctx, "RECALL", gone.RecallHandle)
	if err != nil {
		t.Fatal(err)
	}
	if id != gone.MsgID {
		t.Fatalf("recall returned %q, want the message id %q", id, gone.MsgID)
	}

	msgs := waitMessages(t, rc, srv.BrokerAddr(), "RECALL", 1, 2, 10*time.Second)
	var bodies []string
	for _, m := range msgs {
		bodies = append(bodies, string(m.Body))
	}
	if len(msgs) != 2 || string(msgs[0].Body) != "now" || string(msgs[1].Body) != "kept" {
		t.Fatalf("delivered %q, want [now kept]", bodies)
	}

	if _, err := p.RecallMessage(ctx, "RECALL", kept.RecallHandle); !isErr(err, ErrIllegalOperation) {
		t.Fatalf("recall after delivery: %v, want ErrIllegalOperation", err)
	}
	if _, err := p.RecallMessage(ctx, "RECALL", "bm90IGEgaGFuZGxl"); !isErr(err, message.ErrInvalidRecallHandle) {
		t.Fatalf("broken handle: %v, want ErrInvalidRecallHandle", err)
	}
	if _, err := p.RecallMessage(ctx, "%RETRY%G", gone.RecallHandle); !isErr(err, ErrRecallUnsupported) {
		t.Fatalf("retry topic: %v, want ErrRecallUnsupported", err)
	}
}
