// Package phasetime times the consecutive phases of a start-up, so one
// debug log line can say where the time went (store recovery, broker
// start, serve's readiness).
package phasetime

import (
	"log/slog"
	"time"
)

// Timer measures phases back to back: each Done closes the phase that
// began at the previous Done (or at New).
type Timer struct {
	began, last time.Time
	attrs       []any
}

// New starts the first phase now.
func New() *Timer {
	now := time.Now()
	return &Timer{began: now, last: now}
}

// Done ends the current phase under name and starts the next.
func (t *Timer) Done(name string) {
	now := time.Now()
	t.attrs = append(t.attrs, slog.Duration(name, now.Sub(t.last).Round(time.Microsecond)))
	t.last = now
}

// Attrs returns the phases as slog attributes, followed by the total,
// then extra (key-value pairs as slog takes them).
func (t *Timer) Attrs(extra ...any) []any {
	out := append(t.attrs[:len(t.attrs):len(t.attrs)], slog.Duration("total", t.last.Sub(t.began).Round(time.Microsecond)))
	return append(out, extra...)
}
