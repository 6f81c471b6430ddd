package phasetime

import (
	"log/slog"
	"testing"
	"time"
)

func TestPhasesAddUpToTotal(t *testing.T) {
	tm := New()
	time.Sleep(2 * time.Millisecond)
	tm.Done("a")
	tm.Done("b")
	attrs := tm.Attrs("k", 1)
	if len(attrs) != 5 {
		t.Fatalf("attrs %v", attrs)
	}
	var sum time.Duration
	for i, name := range []string{"a", "b"} {
		a := attrs[i].(slog.Attr)
		if a.Key != name {
			t.Fatalf("attr %d is %s, want %s", i, a.Key, name)
		}
		sum += a.Value.Duration()
	}
	if a := attrs[0].(slog.Attr).Value.Duration(); a < 2*time.Millisecond {
		t.Fatalf("phase a took %v, want >= 2ms", a)
	}
	total := attrs[2].(slog.Attr)
	if total.Key != "total" || total.Value.Duration() < sum-2*time.Microsecond || total.Value.Duration() > sum+2*time.Microsecond {
		t.Fatalf("total %v, phases sum %v", total.Value, sum)
	}
	if attrs[3] != "k" || attrs[4] != 1 {
		t.Fatalf("extra %v", attrs[3:])
	}
}
