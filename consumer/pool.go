package consumer

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// idleWorkerTimeout is how long a goroutine above the pool minimum waits
// for work before exiting (Java keepAliveTime, 60 s).
const idleWorkerTimeout = time.Minute

// pool runs consume tasks on min..max goroutines. It grows by one
// goroutine whenever a task is queued while work is already waiting, and
// shrinks back to min after idleWorkerTimeout without work.
type pool struct {
	min, max int
	tasks    chan func()
	ctx      context.Context
	workers  atomic.Int32
	wg       sync.WaitGroup
}

func newPool(ctx context.Context, min, max int) *pool {
	p := &pool{min: min, max: max, tasks: make(chan func(), 4096), ctx: ctx}
	for range min {
		p.spawn()
	}
	return p
}

func (p *pool) spawn() {
	p.workers.Add(1)
	p.wg.Add(1)
	go p.work()
}

// submit queues fn, waiting while the queue is full; false when ctx ends.
func (p *pool) submit(ctx context.Context, fn func()) bool {
	select {
	case p.tasks <- fn:
	case <-ctx.Done():
		return false
	case <-p.ctx.Done():
		return false
	}
	if len(p.tasks) > 0 {
		for {
			n := p.workers.Load()
			if int(n) >= p.max {
				break
			}
			if p.workers.CompareAndSwap(n, n+1) {
				p.wg.Add(1)
				go p.work()
				break
			}
		}
	}
	return true
}

func (p *pool) work() {
	defer p.wg.Done()
	idle := time.NewTimer(idleWorkerTimeout)
	defer idle.Stop()
	for {
		select {
		case fn := <-p.tasks:
			fn()
			idle.Reset(idleWorkerTimeout)
		case <-idle.C:
			n := p.workers.Load()
			if int(n) > p.min && p.workers.CompareAndSwap(n, n-1) {
				return
			}
			idle.Reset(idleWorkerTimeout)
		case <-p.ctx.Done():
			p.workers.Add(-1)
			return
		}
	}
}
