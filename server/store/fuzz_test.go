package store

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// FuzzRecoverCorruptLog damages the commit log of a crashed store at a
// fuzzed position with fuzzed bytes. Recovery must not panic, must serve
// only intact records, each at the queue offset it was stored with, must
// serve every record the damage left untouched, and must accept appends.
func FuzzRecoverCorruptLog(f *testing.F) {
	f.Add(uint32(100), []byte{0xff, 0xff})
	f.Add(uint32(5000), []byte("garbage-garbage"))
	f.Add(uint32(70000), []byte{0, 0, 0, 0, 0, 0, 0, 0})
	f.Add(uint32(65530), []byte{0xcb, 0xd4, 0x31, 0x94})
	f.Fuzz(func(t *testing.T, at uint32, junk []byte) {
		if len(junk) == 0 || len(junk) > 4096 {
			return
		}
		cfg := smallConfig(t.TempDir())
		cfg.CheckpointInterval = time.Hour
		cfg.FlushInterval = time.Hour
		s := mustOpen(t, cfg)
		var stored []storedAt
		for i := 0; i < 600; i++ {
			r := mustAppend(t, s, newMsg("fz", int32(i%3), body(i), "t", ""))
			stored = append(stored, storedAt{int32(i % 3), r.QueueOffset, r.PhysicalOffset, int64(r.WroteBytes), body(i)})
		}
		end := s.MaxPhysicalOffset()
		s.stopForCrashTest()
		// The checkpoint taken at open says offset 0, so recovery
		// re-dispatches the whole log and meets the damage wherever it is.
		from := int64(at) % end
		writeLogBytes(t, cfg, from, junk)
		s = mustOpen(t, cfg)
		defer mustClose(t, s)
		// A fake end-of-segment marker legitimately hides the rest of its
		// segment; otherwise every untouched record must be served.
		fakeBlank := bytes.Contains(junk, []byte{0xcb, 0xd4, 0x31, 0x94})
		checkServed(t, s, stored, func(a storedAt) bool {
			return fakeBlank || a.phy+a.size > from && a.phy < from+int64(len(junk))
		})
		if _, err := os.Stat(filepath.Join(cfg.Dir, "abort")); err != nil {
			t.Fatalf("abort marker missing while open: %v", err)
		}
		next := s.MaxOffset("fz", 0)
		r := mustAppend(t, s, newMsg("fz", 0, []byte("after"), "", ""))
		if r.QueueOffset != next {
			t.Fatalf("append after recovery got queue offset %d, want %d", r.QueueOffset, next)
		}
	})
}

// storedAt is one acknowledged append.
type storedAt struct {
	q         int32
	qoff, phy int64
	size      int64
	body      []byte
}

// checkServed reads queues fz/0..2 back: every record served must be one
// that was stored, intact, at its own queue offset; every stored record
// that mayLose does not excuse must be among them.
func checkServed(t *testing.T, s *Store, stored []storedAt, mayLose func(storedAt) bool) {
	t.Helper()
	want := map[[2]int64]storedAt{}
	for _, a := range stored {
		want[[2]int64{int64(a.q), a.qoff}] = a
	}
	got := map[[2]int64]bool{}
	for q := int32(0); q < 3; q++ {
		for _, rec := range readAll(t, s, "fz", q) {
			k := [2]int64{int64(q), rec.QueueOffset}
			a, ok := want[k]
			if !ok || !bytes.Equal(a.body, rec.Body) || a.phy != rec.PhysicalOffset {
				t.Fatalf("queue %d offset %d served %q at %d, stored %q at %d", q, rec.QueueOffset, rec.Body, rec.PhysicalOffset, a.body, a.phy)
			}
			if got[k] {
				t.Fatalf("queue %d offset %d served twice", q, rec.QueueOffset)
			}
			got[k] = true
		}
	}
	for _, a := range stored {
		if !got[[2]int64{int64(a.q), a.qoff}] && !mayLose(a) {
			t.Fatalf("untouched record queue %d offset %d at %d not served", a.q, a.qoff, a.phy)
		}
	}
}
