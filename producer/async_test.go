package producer

import (
	"context"
	"errors"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rocketgo/rocketgo/message"
)

// TestAsyncSendsNeedNoWorker: an async send whose message is stored runs
// on no goroutine of the producer's (the first attempt is made on the
// caller's, the result and callback on the transport's callback workers),
// and Shutdown leaves no goroutine behind.
func TestAsyncSendsNeedNoWorker(t *testing.T) {
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
	if n := p.async.spawned.Load(); n != 0 {
		t.Errorf("%d async workers started for %d stored messages, want none", n, rounds*conc)
	}
	if err := p.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 1<<20)
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > base && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > base {
		t.Fatalf("%d goroutines before the producer, %d after Shutdown:\n%s", base, n, buf[:runtime.Stack(buf, true)])
	}
}

// workerJob hands the producer's async workers a send that failed its
// first attempt for good (no retry), as HandleResponse does with a broker's
// refusal, and returns at once; done runs in the send's callback.
func workerJob(t *testing.T, p *Producer, done func()) {
	t.Helper()
	if err := p.enter(); err != nil {
		t.Fatal(err)
	}
	st := &sendState{p: p, mode: ModeAsync, ctx: context.Background(), parent: context.Background(), topic: "AJ", attempts: 1}
	st.cb = func(_ *SendResult, err error) {
		if err == nil {
			t.Error("a failed send reported success")
		}
		done()
	}
	if start, err := p.slots.acquire(context.Background(), st); err != nil || !start {
		t.Fatalf("slot: start %v, err %v", start, err)
	}
	p.startAsync(st, nil, errors.New("refused"))
}

// TestAsyncWorkersReusedAndStopped: sends continued on async workers (a
// failed first attempt) run on reused workers, and Shutdown ends every one
// of them.
func TestAsyncWorkersReusedAndStopped(t *testing.T) {
	srv := startServer(t)
	base := runtime.NumGoroutine()
	p, err := New(WithNameServers(srv.NamesrvAddr()))
	if err != nil {
		t.Fatal(err)
	}
	const rounds, conc = 50, 8
	for r := 0; r < rounds; r++ {
		var wg sync.WaitGroup
		wg.Add(conc)
		for i := 0; i < conc; i++ {
			workerJob(t, p, wg.Done)
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
			workerJob(t, p, wg.Done)
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

// waitQueued waits until st is in s's wait queue.
func waitQueued(t *testing.T, s *asyncSlots, st *sendState) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; {
		s.mu.Lock()
		q := st.queued
		s.mu.Unlock()
		if q {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the caller never queued for a slot")
		}
		runtime.Gosched()
	}
}

// TestAsyncSlotsHandOverOnce: a slot freed while a caller waits goes to
// that caller's send, which exactly one of the two parties (the freeing
// worker or the woken caller) then runs, whatever the interleaving.
func TestAsyncSlotsHandOverOnce(t *testing.T) {
	for i := 0; i < 200; i++ {
		s := newAsyncSlots(1)
		held := &sendState{}
		if start, err := s.acquire(context.Background(), held); err != nil || !start {
			t.Fatalf("a free slot: start %v, err %v", start, err)
		}
		waiter := &sendState{}
		callerStarts := make(chan bool, 1)
		go func() {
			start, err := s.acquire(context.Background(), waiter)
			if err != nil {
				t.Error(err)
			}
			callerStarts <- start
		}()
		waitQueued(t, s, waiter)
		next := s.release()
		if next != waiter {
			t.Fatalf("release handed over %p, want the waiter %p", next, waiter)
		}
		if i%2 == 0 {
			runtime.Gosched() // give the caller a chance to claim first
		}
		workerRuns := next.handover.CompareAndSwap(handoverPending, handoverWorker)
		if c := <-callerStarts; c == workerRuns {
			t.Fatalf("caller starts %v, worker runs %v: want exactly one", c, workerRuns)
		}
		if s.free != 0 {
			t.Fatalf("%d slots free after a hand-over, want 0", s.free)
		}
		if s.release() != nil || s.free != 1 {
			t.Fatalf("the last release freed the slot: free %d", s.free)
		}
	}
}

// TestAsyncSlotsFIFOAndCancel: waiters get slots in arrival order, and one
// whose context ends leaves the queue without a slot.
func TestAsyncSlotsFIFOAndCancel(t *testing.T) {
	s := newAsyncSlots(1)
	if _, err := s.acquire(context.Background(), &sendState{}); err != nil {
		t.Fatal(err)
	}
	first, gone, second := &sendState{}, &sendState{}, &sendState{}
	ctx, cancel := context.WithCancel(context.Background())
	errs := make(chan error, 3)
	go func() { _, err := s.acquire(context.Background(), first); errs <- err }()
	waitQueued(t, s, first)
	go func() { _, err := s.acquire(ctx, gone); errs <- err }()
	waitQueued(t, s, gone)
	go func() { _, err := s.acquire(context.Background(), second); errs <- err }()
	waitQueued(t, s, second)

	cancel()
	if err := <-errs; err != context.Canceled {
		t.Fatalf("the cancelled waiter: %v, want context.Canceled", err)
	}
	if got := s.release(); got != first {
		t.Fatal("the first slot went to someone other than the first waiter")
	}
	if got := s.release(); got != second {
		t.Fatal("the second slot did not go to the second waiter (the cancelled one left the queue)")
	}
	for i := 0; i < 2; i++ {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if s.release() != nil || s.head != nil || s.tail != nil || s.free != 1 {
		t.Fatalf("queue not empty or slot lost: head %p tail %p free %d", s.head, s.tail, s.free)
	}
}

// TestAsyncLimitBlockingCallback: with one slot, a callback that blocks
// until the next send's callback has run must not hold that send up (its
// waiting caller starts it), or the two would wait for each other forever.
func TestAsyncLimitBlockingCallback(t *testing.T) {
	srv := startServer(t)
	rc := newRC(t)
	createTopicWait(t, rc, srv, "AL", 4)
	p := newProducer(t, srv, WithAsyncLimit(1))
	ctx := testCtx(t)
	secondDone := make(chan struct{})
	firstDone := make(chan error, 1)
	if err := p.SendAsync(ctx, func(_ *SendResult, err error) {
		select {
		case <-secondDone:
		case <-ctx.Done():
			err = ctx.Err()
		}
		firstDone <- err
	}, message.New("AL", []byte("1"))); err != nil {
		t.Fatal(err)
	}
	// Waits for the slot the first send frees when its result is known.
	if err := p.SendAsync(ctx, func(_ *SendResult, err error) {
		if err != nil {
			t.Error(err)
		}
		close(secondDone)
	}, message.New("AL", []byte("2"))); err != nil {
		t.Fatal(err)
	}
	if err := <-firstDone; err != nil {
		t.Fatal(err)
	}
}

// TestAsyncLimitManySends: many senders through a small limit all complete,
// and every slot is back afterwards.
func TestAsyncLimitManySends(t *testing.T) {
	srv := startServer(t)
	rc := newRC(t)
	createTopicWait(t, rc, srv, "AM", 4)
	const limit, senders, each = 3, 8, 40
	p := newProducer(t, srv, WithAsyncLimit(limit))
	ctx := testCtx(t)
	var wg sync.WaitGroup
	var done sync.WaitGroup
	done.Add(senders * each)
	for g := 0; g < senders; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				if err := p.SendAsync(ctx, func(_ *SendResult, err error) {
					defer done.Done()
					if err != nil {
						t.Error(err)
					}
				}, message.New("AM", []byte("x"))); err != nil {
					t.Error(err)
					done.Done()
				}
			}
		}()
	}
	wg.Wait()
	done.Wait()
	p.slots.mu.Lock()
	free, head := p.slots.free, p.slots.head
	p.slots.mu.Unlock()
	if free != limit || head != nil {
		t.Fatalf("after all sends: %d of %d slots free, waiter queue head %p", free, limit, head)
	}
}
