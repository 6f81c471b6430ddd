// Package panicwatch counts the processor panics a remoting server
// recovered from, by watching the log records it writes: a test feeding a
// server hostile input fails on any, since a recovered panic is still a
// bug.
package panicwatch

import (
	"context"
	"log/slog"
	"strings"
	"sync/atomic"
)

// Watch is a slog.Handler that discards every record and counts those
// reporting a panic ("remoting: processor panicked"). The zero value is
// ready to use.
type Watch struct {
	panics atomic.Int64
}

// Logger returns a logger writing to w, for a server's WithLogger option.
func (w *Watch) Logger() *slog.Logger { return slog.New(w) }

// Panics returns how many panics were logged so far.
func (w *Watch) Panics() int64 { return w.panics.Load() }

// Enabled reports true for every level: a panic is logged at Error, but
// nothing is written, so looking costs nothing worth saving.
func (w *Watch) Enabled(context.Context, slog.Level) bool { return true }

// Handle counts r if it reports a panic.
func (w *Watch) Handle(_ context.Context, r slog.Record) error {
	if strings.Contains(r.Message, "panicked") {
		w.panics.Add(1)
	}
	return nil
}

// WithAttrs returns w: attributes do not change what is counted.
func (w *Watch) WithAttrs([]slog.Attr) slog.Handler { return w }

// WithGroup returns w.
func (w *Watch) WithGroup(string) slog.Handler { return w }
