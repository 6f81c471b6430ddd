package loadtest

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"runtime"
	"strings"
	"testing"
	"time"
)

// CompareTrace runs its pairs against one embedded server, the traced
// phase of each with every record sent, and reports each pair's ratio and
// their median.
func TestCompareTrace(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	var out bytes.Buffer
	c, err := CompareTrace(ctx, Config{Messages: 300, Senders: 4, Out: &out, Logger: slog.New(slog.DiscardHandler)}, 2)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Off) != 2 || len(c.On) != 2 || len(c.Ratios) != 2 {
		t.Fatalf("comparison %+v, want two pairs", c)
	}
	for i := range c.Ratios {
		if c.Off[i] <= 0 || c.On[i] <= 0 || c.Ratios[i] != c.On[i]/c.Off[i] {
			t.Fatalf("pair %d: off %.0f on %.0f ratio %.3f", i, c.Off[i], c.On[i], c.Ratios[i])
		}
	}
	if len(c.CPUOff) != 2 || len(c.CPUOn) != 2 {
		t.Fatalf("CPU per message off %v on %v, want two pairs", c.CPUOff, c.CPUOn)
	}
	for i := range c.CPUOff {
		if c.CPUOff[i] <= 0 || c.CPUOn[i] <= 0 {
			t.Errorf("pair %d: CPU per message off %.1f µs, on %.1f µs", i, c.CPUOff[i], c.CPUOn[i])
		}
	}
	clo, chi := min(c.CPUOff[0]/c.CPUOn[0], c.CPUOff[1]/c.CPUOn[1]), max(c.CPUOff[0]/c.CPUOn[0], c.CPUOff[1]/c.CPUOn[1])
	if c.CPURatio < clo || c.CPURatio > chi {
		t.Errorf("CPU ratio %.3f outside the pairs' %.3f–%.3f", c.CPURatio, clo, chi)
	}
	lo, hi := min(c.Ratios[0], c.Ratios[1]), max(c.Ratios[0], c.Ratios[1])
	if c.Median < lo || c.Median > hi {
		t.Fatalf("median %.3f outside the ratios %v", c.Median, c.Ratios)
	}
	// Two pairs: each half is one ratio.
	if c.Q1 != lo || c.Q3 != hi {
		t.Errorf("quartiles %.3f–%.3f, want the ratios %.3f–%.3f", c.Q1, c.Q3, lo, hi)
	}
	// Mode both: a Pub, a SubBefore and a SubAfter per message of the
	// two traced phases; none of the untraced ones.
	if c.Records != 2*3*300 || c.Dropped != 0 {
		t.Errorf("%d trace records sent and %d dropped, want %d and 0", c.Records, c.Dropped, 2*3*300)
	}
	text := out.String()
	if strings.Count(text, "pair ") != 2 || !strings.Contains(text, "trace on/off send TPS: median") || !strings.Contains(text, "middle half") ||
		!strings.Contains(text, "CPU per message, off/on: median") {
		t.Errorf("report:\n%s", text)
	}
	// The machine's share of idle and stolen time, where Linux tells it.
	if runtime.GOOS == "linux" {
		if !c.MachineKnown || c.Idle < 0 || c.Steal < 0 || c.Idle+c.Steal > 1 || !strings.Contains(text, "stolen by the hypervisor") {
			t.Errorf("machine: known %v, idle %.3f, steal %.3f; report:\n%s", c.MachineKnown, c.Idle, c.Steal, text)
		}
	}
	if _, err := CompareTrace(ctx, Config{}, 0); !errors.Is(err, ErrConfig) {
		t.Errorf("zero pairs: %v, want ErrConfig", err)
	}
	if _, err := CompareTrace(ctx, Config{Mode: ModeConsume}, 1); !errors.Is(err, ErrConfig) {
		t.Errorf("mode consume: %v, want ErrConfig", err)
	}
}
