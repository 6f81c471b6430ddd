package loadtest

import (
	"context"
	"fmt"
	"io"

	"github.com/montanaflynn/stats"

	"github.com/rocketgo/rocketgo/internal/cputime"
)

// TraceComparison is the outcome of CompareTrace: send TPS of each phase
// and the traced/untraced ratio of each pair, in the order run.
type TraceComparison struct {
	Off, On []float64 // send TPS of the untraced and the traced phase of each pair
	Ratios  []float64 // On[i] / Off[i]
	Median  float64   // the median of Ratios
	// Q1 and Q3 are the lower and upper quartiles of Ratios (the medians
	// of their lower and upper halves): on a shared machine single pairs
	// spread by ±15 %, and a median means little without its spread.
	Q1, Q3 float64
	// Records counts the trace records sent over all traced phases, and
	// Dropped those dropped (queue full): a comparison that dropped
	// records measured less than the full cost of tracing.
	Records, Dropped int64
	// CPUOff and CPUOn are the process's CPU time per message sent in
	// each phase, in µs (the embedded server's included when there is
	// one), and CPURatio the median over the pairs of CPUOff[i]/CPUOn[i].
	// The difference is what tracing costs a message in CPU. Where CPU
	// bounds throughput the two ratios agree; a TPS ratio well below the
	// CPU ratio says the traced phases lost throughput to something else
	// (waits, latency), one above it that the machine had CPU to spare.
	CPUOff, CPUOn []float64
	CPURatio      float64
	// Idle and Steal are the shares of the whole machine's CPU time that
	// sat idle and that the hypervisor gave to something else while the
	// pairs ran (/proc/stat; MachineKnown is false where the kernel does
	// not say). They tell what the ratios measured: with CPU idle,
	// tracing's work partly fills it; with none idle, or much stolen, the
	// run is CPU-bound and the TPS ratio falls to the CPU ratio.
	Idle, Steal  float64
	MachineKnown bool
}

// CompareTrace measures what message trace costs: it runs cfg's load in
// pairs of phases, one without trace and one with, against one cluster
// (an embedded server started once, trace topic enabled, when
// cfg.NameServer is empty), each phase cfg.Duration long (or cfg.Messages
// messages) with clients and a consumer group of its own. The order
// within a pair alternates (off-on, on-off, ...), so that a machine whose
// speed drifts over minutes weighs on both sides alike: runs of separate
// processes minutes apart differed by up to 30 % on a shared machine,
// pairs of phases seconds apart much less. The phases' own reports are
// discarded; a line per pair and the median with its quartiles go to
// cfg.Out.
func CompareTrace(ctx context.Context, cfg Config, pairs int) (*TraceComparison, error) {
	if pairs < 1 {
		return nil, fmt.Errorf("%w: a trace comparison needs at least one pair, got %d", ErrConfig, pairs)
	}
	full, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if full.Mode == ModeConsume {
		return nil, fmt.Errorf("%w: a trace comparison sends (mode both or produce), not %s", ErrConfig, full.Mode)
	}
	out := full.Out
	if cfg.NameServer == "" {
		ecfg := full
		ecfg.Trace = true // the broker creates and indexes the trace topic
		ns, cleanup, err := startEmbeddedFor(ctx, ecfg)
		if err != nil {
			return nil, err
		}
		defer cleanup()
		cfg.NameServer = ns
	}
	var c TraceComparison
	m0, known := cputime.ReadMachine()
	for i := range pairs {
		var tps, cpu [2]float64 // send TPS and CPU µs per message, indexed by trace on (1) or off (0)
		for k := range 2 {
			on := k != i%2 // off-on in even pairs, on-off in odd ones
			phase := cfg
			phase.Out = io.Discard
			phase.Trace = on
			if full.Mode != ModeProduce {
				// A topic and group of their own per phase: a consumer
				// starting a second before its phase would otherwise take
				// (and, traced, trace) the previous phase's last messages.
				name := fmt.Sprintf("_cmp%d_%s", i+1, onOff(on))
				phase.Topic, phase.Group = full.Topic+name, full.Group+name
			}
			cpu0 := cputime.Process()
			res, err := Run(ctx, phase)
			used := cputime.Process() - cpu0
			if err != nil {
				return nil, fmt.Errorf("loadtest: pair %d, trace %s: %w", i+1, onOff(on), err)
			}
			if res.Failed {
				return nil, fmt.Errorf("loadtest: pair %d, trace %s failed: %s", i+1, onOff(on), res.FailReason)
			}
			side := 0
			if on {
				side = 1
				c.Records += res.Trace.Sent // a traced run always reports Trace
				c.Dropped += res.Trace.Dropped
			}
			tps[side] = res.PublishRate
			if res.Sent > 0 {
				cpu[side] = float64(used.Microseconds()) / float64(res.Sent)
			}
		}
		ratio := 0.0
		if tps[0] > 0 {
			ratio = tps[1] / tps[0]
		}
		c.Off, c.On, c.Ratios = append(c.Off, tps[0]), append(c.On, tps[1]), append(c.Ratios, ratio)
		c.CPUOff, c.CPUOn = append(c.CPUOff, cpu[0]), append(c.CPUOn, cpu[1])
		fmt.Fprintf(out, "pair %d: trace off %.0f msg/s, on %.0f msg/s, on/off %.3f; CPU per message off %.1f µs, on %.1f µs\n",
			i+1, tps[0], tps[1], ratio, cpu[0], cpu[1])
	}
	c.Median, _ = stats.Median(c.Ratios)
	c.Q1, c.Q3 = c.Median, c.Median // one pair: no halves
	if q, err := stats.Quartile(c.Ratios); err == nil && len(c.Ratios) > 1 {
		c.Q1, c.Q3 = q.Q1, q.Q3
	}
	cpuRatios := make([]float64, 0, pairs)
	for i := range c.CPUOn {
		if c.CPUOn[i] > 0 {
			cpuRatios = append(cpuRatios, c.CPUOff[i]/c.CPUOn[i])
		}
	}
	c.CPURatio, _ = stats.Median(cpuRatios)
	fmt.Fprintf(out, "trace on/off send TPS: median %.3f of %d pairs, middle half %.3f–%.3f (%d trace records dropped)\n",
		c.Median, pairs, c.Q1, c.Q3, c.Dropped)
	fmt.Fprintf(out, "CPU per message, off/on: median %.3f (the TPS ratio where CPU alone bounds throughput)\n", c.CPURatio)
	if m1, ok := cputime.ReadMachine(); known && ok {
		c.Idle, c.Steal = m1.Sub(m0).Shares()
		c.MachineKnown = true
		fmt.Fprintf(out, "machine while the pairs ran: %.1f %% idle, %.1f %% stolen by the hypervisor (/proc/stat)\n", 100*c.Idle, 100*c.Steal)
	}
	return &c, nil
}

func onOff(on bool) string {
	if on {
		return "on"
	}
	return "off"
}
