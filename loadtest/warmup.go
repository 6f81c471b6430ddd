package loadtest

import (
	"context"
	"fmt"
	"time"

	"github.com/rocketgo/rocketgo/producer"
)

// warmUp runs the senders (or, in ModeConsume, the consumers alone) for
// cfg.Warmup before the measured phase, as OpenMessaging does, so connection
// set-up, route lookups, cold caches, fresh commit-log pages and GC sizing
// settle before anything is recorded. Warm-up messages carry
// warmID instead of the run id: consumers drop them without counting them
// as foreign, and nothing sent or received during the warm-up reaches the
// meters.
func (r *run) warmUp(ctx context.Context, producers []*producer.Producer) {
	cfg := r.cfg
	if cfg.Warmup <= 0 {
		return
	}
	fmt.Fprintf(cfg.Out, "warm-up: %v (not measured)\n", cfg.Warmup)
	r.warming.Store(true)
	defer r.warming.Store(false)
	r.start = time.Now()
	phaseCtx, cancel := context.WithTimeout(ctx, cfg.Warmup)
	defer cancel()
	if cfg.Mode == ModeConsume {
		<-phaseCtx.Done()
		return
	}
	r.sendAll(context.WithoutCancel(ctx), phaseCtx, producers, 0)
}

// warmID marks warm-up messages; it differs from runID in every bit so
// that no run's id can be another run's warm-up id by accident of one bit.
func (r *run) warmID() uint64 { return ^r.runID }

// stampID is the id newMessages writes into bodies.
func (r *run) stampID() uint64 {
	if r.warming.Load() {
		return r.warmID()
	}
	return r.runID
}
