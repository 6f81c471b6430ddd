package store

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// TestCleanRestartVerifyWindow: after a clean shutdown a restart
// re-verifies only the last CleanRecoveryVerifyBytes of the log, starting
// at a record boundary found through the consume queues (opened side by
// side), so a damaged body inside the window is found at open and one
// before it only when it is read; every other record is served.
func TestCleanRestartVerifyWindow(t *testing.T) {
	cfg := smallConfig(t.TempDir())
	cfg.CleanRecoveryVerifyBytes = 12 << 10
	s := mustOpen(t, cfg)
	const n, queues = 800, 5
	pos := make([]int64, n)
	for i := range n {
		pos[i] = mustAppend(t, s, newMsg("W", int32(i%queues), body(i), "TagA", "")).PhysicalOffset
	}
	end := s.MaxPhysicalOffset()
	mustClose(t, s)
	if end < 8*cfg.CleanRecoveryVerifyBytes {
		t.Fatalf("log of %d bytes is too short for the test", end)
	}

	// One record long before the window, one well inside it.
	old, recent := 40, n-1
	for pos[recent] > end-cfg.CleanRecoveryVerifyBytes/2 {
		recent--
	}
	for _, i := range []int{old, recent} {
		at := bodyOffset(t, cfg, pos[i], body(i))
		writeLogBytes(t, cfg, at, []byte("#"))
	}

	s = mustOpen(t, cfg)
	defer mustClose(t, s)
	if got := s.Stats().DamagedRecords; got != 1 {
		t.Fatalf("open found %d damaged records, want 1 (the one inside the window)", got)
	}
	served := 0
	for q := range int32(queues) {
		for _, rec := range readAll(t, s, "W", q) {
			var i int
			if _, err := fmt.Sscanf(string(rec.Body), "body-%08d-", &i); err != nil {
				t.Fatalf("body %q", rec.Body)
			}
			if i == old || i == recent {
				t.Fatalf("damaged record %d served", i)
			}
			served++
		}
	}
	if served != n-2 {
		t.Fatalf("served %d records, want %d", served, n-2)
	}
	if got := s.Stats().DamagedRecords; got != 2 {
		t.Fatalf("%d damaged records after reading everything, want 2", got)
	}
}

// bodyOffset finds where body lies in the record at phy.
func bodyOffset(t *testing.T, cfg Config, phy int64, body []byte) int64 {
	t.Helper()
	base := phy - phy%cfg.CommitLogSegmentSize
	b, err := os.ReadFile(filepath.Join(cfg.Dir, "commitlog", segmentName(base)))
	if err != nil {
		t.Fatal(err)
	}
	i := bytes.Index(b[phy-base:], body)
	if i < 0 {
		t.Fatalf("body not found in the record at %d", phy)
	}
	return phy + int64(i)
}
