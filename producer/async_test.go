package producer

import (
	"context"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rocketgo/rocketgo/message"
)

// TestAsyncWorkersReusedAndStopped: async sends run on reused workers (far
// fewer started than sends), and Shutdown ends every one of them.
func TestAsyncWorkersReusedAndStopped(t *testing.T) {
	srv := startServer(t)
	rc := newRC(t)
	createTopicWait(t, rc, srv, "AW", 4)
	base := runtime.NumGoroutine()
	p, err := New(WithNameServers(srv.NamesrvAddr()))
	if err != nil {
		t.Fatal(err)
	}
	ctx := testCtx(t)
	const rounds, conc = 50, 8
	for r := 0; r < rounds; r++ {
		var wg sync.WaitGroup
		wg.Add(conc)
		for i := 0; i < conc; i++ {
			err := p.SendAsync(ctx, func(_ *SendResult, err error) {
				defer wg.Done()
				if err != nil {
					t.Error(err)
				}
			}, message.New("AW", []byte("x")))
			if err != nil {
				t.Fatal(err)
			}
		}
		wg.Wait()
	}
	if n := p.spawned.Load(); n > rounds*conc/4 {
		t.Errorf("%d workers started for %d async sends: not reused", n, rounds*conc)
	}
	if err := p.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	// Shutdown joins the workers: none is left, not even an idle one
	// still within asyncWorkerIdle.
	buf := make([]byte, 1<<20)
	if stacks := string(buf[:runtime.Stack(buf, true)]); strings.Contains(stacks, "asyncWorker") {
		t.Fatalf("an async worker outlived Shutdown:\n%s", stacks)
	}
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > base && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > base {
		t.Fatalf("%d goroutines before the producer, %d after Shutdown:\n%s", base, n, buf[:runtime.Stack(buf, true)])
	}
}
