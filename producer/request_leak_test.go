package producer

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/rocketgo/rocketgo/message"
)

// TestRequestTimeoutsLeaveNothingBehind: requests nobody answers time out,
// leave the reply table empty, and after Shutdown no producer or client
// goroutine remains.
func TestRequestTimeoutsLeaveNothingBehind(t *testing.T) {
	srv := startServer(t)
	rc := newRC(t)
	createTopicWait(t, rc, srv, "RQLeak", 2)
	before, _ := clientGoroutines()
	p, err := New(WithNameServers(srv.NamesrvAddr()), WithGroup("rq-leak-pg"))
	if err != nil {
		t.Fatal(err)
	}
	const n = 10
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		defer cancel()
		if err := p.RequestAsync(ctx, message.New("RQLeak", []byte("x")), func(_ *message.MessageExt, err error) { errs <- err }); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < n; i++ {
		if err := <-errs; !errors.Is(err, ErrRequestTimeout) || !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("RequestAsync callback error %v", err)
		}
	}
	p.replies.mu.Lock()
	left := len(p.replies.pending)
	p.replies.mu.Unlock()
	if left != 0 {
		t.Fatalf("%d timed-out requests left in the reply table", left)
	}
	if err := p.Shutdown(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	if err := p.RequestAsync(testCtx(t), message.New("RQLeak", []byte("x")), nil); !errors.Is(err, ErrProducerClosed) {
		t.Fatalf("RequestAsync after Shutdown = %v", err)
	}
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		k, stacks := clientGoroutines()
		if k <= before {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("client goroutines before %d after %d:\n%s", before, k, stacks)
		}
	}
}
