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
	if n := p.async.spawned.Load(); n > rounds*conc/4 {
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

// TestAsyncIdleWorkersReaped: workers idle for a whole reaper period exit,
// the reaper stops with the last of them, and later sends start afresh.
// The test drives the reaper's ticks itself rather than waiting for them.
func TestAsyncIdleWorkersReaped(t *testing.T) {
	srv := startServer(t)
	rc := newRC(t)
	createTopicWait(t, rc, srv, "AR", 4)
	p, err := New(WithNameServers(srv.NamesrvAddr()))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Shutdown(context.Background())
	ctx := testCtx(t)
	burst := func(n int) {
		var wg sync.WaitGroup
		wg.Add(n)
		for i := 0; i < n; i++ {
			if err := p.SendAsync(ctx, func(_ *SendResult, err error) {
				defer wg.Done()
				if err != nil {
					t.Error(err)
				}
			}, message.New("AR", []byte("x"))); err != nil {
				t.Fatal(err)
			}
		}
		wg.Wait()
	}
	a := p.async
	state := func() (idle, live int, reaping bool) {
		a.mu.Lock()
		defer a.mu.Unlock()
		return len(a.idle), a.live, a.reaping
	}
	// Callbacks return before their workers park: wait for all of them.
	waitParked := func() {
		for {
			if idle, live, _ := state(); idle == live {
				return
			}
			if ctx.Err() != nil {
				t.Fatal("workers never parked")
			}
			runtime.Gosched()
		}
	}

	burst(16)
	waitParked()
	if _, live, reaping := state(); live == 0 || !reaping {
		t.Fatalf("after a burst: %d live workers, reaper running %v", live, reaping)
	}
	a.tick() // the workers have been idle for less than a period
	if _, live, _ := state(); live == 0 {
		t.Fatal("one tick ended workers that went idle after the previous one")
	}
	a.tick()
	if idle, live, reaping := state(); idle != 0 || live != 0 || reaping {
		t.Fatalf("after two ticks: %d idle, %d live, reaper running %v; want none", idle, live, reaping)
	}
	spawned := a.spawned.Load()
	burst(4)
	if a.spawned.Load() == spawned {
		t.Fatal("sends after the reaping ran on no new worker")
	}
	waitParked()
	if _, live, reaping := state(); live == 0 || !reaping {
		t.Fatalf("after the second burst: %d live workers, reaper running %v", live, reaping)
	}
}
