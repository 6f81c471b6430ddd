package store

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// FuzzRecoverCorruptLog damages the commit log of a crashed store at a
// fuzzed position with fuzzed bytes. Recovery must not panic, must serve
// only intact records, and must leave consume queues equal to the log.
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
		for i := 0; i < 600; i++ {
			mustAppend(t, s, newMsg("fz", int32(i%3), body(i), "t", ""))
		}
		end := s.MaxPhysicalOffset()
		s.stopForCrashTest()
		// Recovery after a crash rescans from one segment before the last
		// checkpoint (taken at open, offset 0), so damage anywhere is seen.
		writeLogBytes(t, cfg, int64(at)%end, junk)
		s = mustOpen(t, cfg)
		defer mustClose(t, s)
		n := checkQueuesMatchLog(t, s, cfg)
		if n > 600 {
			t.Fatalf("%d records from 600 appends", n)
		}
		if _, err := os.Stat(filepath.Join(cfg.Dir, "abort")); err != nil {
			t.Fatalf("abort marker missing while open: %v", err)
		}
	})
}
