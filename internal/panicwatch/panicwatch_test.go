package panicwatch

import "testing"

func TestWatchCountsPanics(t *testing.T) {
	var w Watch
	log := w.Logger().With("component", "transport").WithGroup("g")
	log.Info("remoting: connection closed")
	log.Error("remoting: processor panicked", "code", 10, "panic", "boom")
	log.Error("remoting: processor panicked", "code", 11, "panic", "boom")
	if n := w.Panics(); n != 2 {
		t.Fatalf("Panics() = %d, want 2", n)
	}
}
