package producer

import "time"

// asyncWorkerIdle is how long an async worker waits for the next send
// before it exits: long enough to stay alive between the sends of a steady
// stream, short enough that an idle producer holds no goroutines for long.
const asyncWorkerIdle = time.Second

// startAsync runs st on an idle async worker, or on a new one when none is
// waiting. A goroutine per send cost a goroutine start and, as the send
// path is deep, one or two stack growths per message (about 7 % of the CPU
// of 64-way async sending in BenchmarkProducer); a worker keeps its grown
// stack from one send to the next.
func (p *Producer) startAsync(st *sendState) {
	select {
	case p.asyncIdle <- st:
	default:
		p.workers.Add(1)
		p.spawned.Add(1)
		go p.asyncWorker(st)
	}
}

// asyncWorker runs st, then the sends handed to it, until it has been idle
// for asyncWorkerIdle or the producer shuts down.
func (p *Producer) asyncWorker(st *sendState) {
	defer p.workers.Done()
	var idle *time.Timer
	for {
		st.runAsync()
		if idle == nil {
			idle = time.NewTimer(asyncWorkerIdle)
			defer idle.Stop()
		} else {
			idle.Reset(asyncWorkerIdle)
		}
		select {
		case st = <-p.asyncIdle:
		case <-idle.C:
			return
		case <-p.stopAsync:
			return
		}
	}
}
