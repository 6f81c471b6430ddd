package producer

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rocketgo/rocketgo/remoting"
)

// asyncWorkerIdle is how long an async worker may stay idle before it
// exits (between one and two periods): long enough to stay alive between
// the sends of a steady stream, short enough that an idle producer holds no
// goroutines for long.
const asyncWorkerIdle = time.Second

// asyncPool runs, on reusable goroutines, the async sends that cannot be
// finished from the transport's callback workers: those whose first
// attempt failed or did not store the message and which may now retry
// (send.go: launch, HandleResponse). A stored message never reaches it. A
// goroutine per send cost a goroutine start and, as the send path is deep,
// one or two stack growths per message; a worker keeps its grown stack
// from one send to the next.
//
// Idle workers wait on a mailbox of their own, stacked most recently idle
// last. Handing a send over is a mutex-guarded pop and a send on a channel
// nobody else uses. The earlier design, every idle worker in one select on
// a shared hand-off channel, a stop channel and a per-worker idle timer
// (reset after every send), made each hand-off lock three channels and a
// timer; with 1,024 sends in flight that was the largest share of runtime
// lock time in the load generator's profile. The stack order also gives the
// next send the worker whose stack and cache lines are warmest, and leaves
// the workers idle longest at the bottom, where the reaper takes them.
type asyncPool struct {
	mu     sync.Mutex
	idle   []*asyncWorker // bottom: idle longest; top: idle most recently
	live   int            // workers started and not yet told to exit
	epoch  uint64         // reaper ticks so far
	closed bool
	// reaping: the reaper goroutine runs; it stops when no worker is live
	// and the next spawn starts it again.
	reaping bool
	stop    chan struct{} // closed by close: ends the reaper
	wg      sync.WaitGroup
	spawned atomic.Int64 // workers started, ever (tests)
}

// asyncWorker is one worker's mailbox: a job, or one without a send to exit. Only
// a worker on the idle stack is sent to, once per pop, so the one slot
// never blocks the sender.
type asyncWorker struct {
	next  chan asyncJob
	epoch uint64 // the pool's epoch when the worker last went idle
}

func newAsyncPool() *asyncPool {
	return &asyncPool{stop: make(chan struct{})}
}

// asyncJob is a send for a worker and its first attempt's outcome.
type asyncJob struct {
	st   *sendState // nil: exit
	resp *remoting.Command
	err  error
}

// startAsync continues st after its first attempt's outcome on the most
// recently idle worker, or on a new one when none is idle.
func (p *Producer) startAsync(st *sendState, resp *remoting.Command, err error) {
	job := asyncJob{st, resp, err}
	a := p.async
	a.mu.Lock()
	if n := len(a.idle); n > 0 {
		w := a.idle[n-1]
		a.idle[n-1] = nil
		a.idle = a.idle[:n-1]
		a.mu.Unlock()
		w.next <- job
		return
	}
	// Shutdown closes the pool only after every async send returned from
	// its callback, so no spawn races close's Wait.
	a.live++
	a.wg.Add(1)
	reaper := !a.reaping
	if reaper {
		a.reaping = true
		a.wg.Add(1)
	}
	a.mu.Unlock()
	a.spawned.Add(1)
	go a.asyncWorker(&asyncWorker{next: make(chan asyncJob, 1)}, job)
	if reaper {
		go a.reap()
	}
}

// asyncWorker runs job, then the jobs handed to it, until the reaper or
// the pool's close tells it to exit.
func (a *asyncPool) asyncWorker(w *asyncWorker, job asyncJob) {
	defer a.wg.Done()
	for job.st != nil {
		job.st.runAsync(job.resp, job.err)
		if !a.park(w) {
			return
		}
		job = <-w.next
	}
}

// park puts w on top of the idle stack; false when the pool is closed.
func (a *asyncPool) park(w *asyncWorker) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closed {
		a.live--
		return false
	}
	w.epoch = a.epoch
	a.idle = append(a.idle, w)
	return true
}

// reap ticks every asyncWorkerIdle until no worker is live or the pool
// closes. Reading no clock per send, it counts ticks instead: a worker that
// went idle before the previous tick and is still on the stack has been
// idle at least one period.
func (a *asyncPool) reap() {
	defer a.wg.Done()
	t := time.NewTicker(asyncWorkerIdle)
	defer t.Stop()
	for {
		select {
		case <-t.C:
		case <-a.stop:
			return
		}
		if !a.tick() {
			return
		}
	}
}

// tick advances the epoch and ends the workers idle since before the
// previous tick. It reports whether the reaper should go on (some worker is
// still live and the pool is open).
func (a *asyncPool) tick() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closed {
		return false
	}
	a.epoch++
	// The stack is ordered by epoch, oldest at the bottom.
	k := 0
	for k < len(a.idle) && a.idle[k].epoch+1 < a.epoch {
		a.idle[k].next <- asyncJob{}
		k++
	}
	if k > 0 {
		n := copy(a.idle, a.idle[k:])
		clear(a.idle[n:])
		a.idle = a.idle[:n]
		a.live -= k
	}
	if a.live == 0 {
		a.reaping = false
		a.idle = nil // a burst's worth of stack need not outlive it
		return false
	}
	return true
}

// close ends the idle workers and the reaper and waits for every worker to
// return. Call it once no async send is in progress.
func (a *asyncPool) close() {
	a.mu.Lock()
	a.closed = true
	for _, w := range a.idle {
		w.next <- asyncJob{}
	}
	a.live -= len(a.idle)
	a.idle = nil
	a.mu.Unlock()
	close(a.stop)
	a.wg.Wait()
}

// asyncSlots bounds the async sends in flight (WithAsyncLimit). A send
// holds its slot from SendAsync until its result is known, not through its
// callback, so a callback may itself send asynchronously without waiting
// for its own slot.
//
// Under back-pressure every finishing send frees a slot that a waiting
// caller takes. The goroutine that finished the send (a transport callback
// worker, or an async worker after retries) launches the waiter's first
// attempt itself, before it runs its own callback: launching only queues
// the request. The waiter, woken at the same time, returns from SendAsync;
// should it find the send still unclaimed (another core ran the waiter
// first), it launches the send itself. Whichever of the two claims the
// hand-over launches the send: never both, never neither, and a blocking
// callback never holds up the send waiting behind it.
type asyncSlots struct {
	mu         sync.Mutex
	free       int
	head, tail *sendState // callers waiting for a slot, oldest first
	wakes      sync.Pool  // chan struct{} (capacity 1) for waiters, reused
}

// Hand-over states of a send that waited for a slot (sendState.handover).
const (
	handoverPending int32 = iota // granted a slot; nobody runs it yet
	handoverWorker               // the goroutine that freed the slot launches it
	handoverCaller               // the waiting caller launches it
)

func newAsyncSlots(n int) *asyncSlots {
	return &asyncSlots{free: n}
}

// acquire takes a slot for st, waiting within ctx when none is free. start
// reports whether the caller must launch st: false when the goroutine that
// freed the slot took the send over. The error, ctx's, means no slot was taken.
func (s *asyncSlots) acquire(ctx context.Context, st *sendState) (start bool, err error) {
	s.mu.Lock()
	if s.free > 0 && s.head == nil {
		s.free--
		s.mu.Unlock()
		return true, nil
	}
	wake, _ := s.wakes.Get().(chan struct{})
	if wake == nil {
		wake = make(chan struct{}, 1)
	}
	st.wake = wake
	st.queued = true
	if s.tail == nil {
		s.head = st
	} else {
		s.tail.nextWaiter = st
	}
	s.tail = st
	s.mu.Unlock()

	select {
	case <-wake:
	case <-ctx.Done():
		s.mu.Lock()
		if st.queued {
			s.unlink(st)
			s.mu.Unlock()
			st.wake = nil
			s.wakes.Put(wake)
			return false, ctx.Err()
		}
		s.mu.Unlock()
		<-wake // granted just before ctx ended: the send goes ahead
	}
	st.wake = nil
	s.wakes.Put(wake)
	return st.handover.CompareAndSwap(handoverPending, handoverCaller), nil
}

// unlink removes a waiter that gave up; the queue is short and this rare.
func (s *asyncSlots) unlink(st *sendState) {
	var prev *sendState
	for w := s.head; w != nil; prev, w = w, w.nextWaiter {
		if w != st {
			continue
		}
		if prev == nil {
			s.head = w.nextWaiter
		} else {
			prev.nextWaiter = w.nextWaiter
		}
		if s.tail == w {
			s.tail = prev
		}
		w.nextWaiter, w.queued = nil, false
		return
	}
}

// release frees the slot of a send whose result is known: to the oldest
// waiter, whose send it returns (for the caller to try to claim), or back
// to the pool.
func (s *asyncSlots) release() *sendState {
	s.mu.Lock()
	w := s.head
	if w == nil {
		s.free++
		s.mu.Unlock()
		return nil
	}
	s.head = w.nextWaiter
	if s.head == nil {
		s.tail = nil
	}
	w.nextWaiter, w.queued = nil, false
	wake := w.wake
	s.mu.Unlock()
	wake <- struct{}{}
	return w
}
