package store

import (
	"context"
	"os"
	"slices"
	"strings"
	"testing"
)

// Under SYNC_FLUSH the segment being appended to is mapped with read-ahead
// off (issue 18: with it on, group commits wrote back 2 MiB folios); once
// the log rolls past it, read-ahead comes back for readers. A reopened
// store advises its last segment again. Under ASYNC_FLUSH no segment loses
// read-ahead: large folios make the appender's copies cheaper and its
// periodic flushes write them back whole anyway.
func TestAppendSegmentReadAheadAdvice(t *testing.T) {
	if _, err := os.Stat("/proc/self/smaps"); err != nil {
		t.Skip("needs /proc/self/smaps")
	}
	for _, flush := range []FlushDiskType{SyncFlush, AsyncFlush} {
		t.Run(flush.String(), func(t *testing.T) {
			cfg := smallConfig(t.TempDir())
			cfg.FlushDiskType = flush
			wantActiveOff := flush == SyncFlush
			s := mustOpen(t, cfg)
			ctx := context.Background()
			for len(s.cl.load().files) < 2 {
				if _, err := s.Append(ctx, newMsg("T", 0, make([]byte, 1000), "", "")); err != nil {
					t.Fatal(err)
				}
			}
			files := s.cl.load().files
			if rr, _ := readAheadOff(t, files[0].path); rr {
				t.Errorf("full segment %s still has read-ahead off", files[0].path)
			}
			if rr, ok := readAheadOff(t, files[1].path); ok && rr != wantActiveOff {
				t.Errorf("active segment %s: read-ahead off = %v, want %v", files[1].path, rr, wantActiveOff)
			}
			last := files[1].path
			mustClose(t, s)

			s = mustOpen(t, cfg)
			defer mustClose(t, s)
			if rr, ok := readAheadOff(t, last); ok && rr != wantActiveOff {
				t.Errorf("reopened active segment %s: read-ahead off = %v, want %v", last, rr, wantActiveOff)
			}
			if rr, _ := readAheadOff(t, files[0].path); rr {
				t.Errorf("reopened full segment %s has read-ahead off", files[0].path)
			}
		})
	}
}

// readAheadOff reports whether /proc/self/smaps marks the mapping of path
// with the "rr" (MADV_RANDOM) flag; ok is false when it cannot tell.
func readAheadOff(t testing.TB, path string) (rr, ok bool) {
	b, err := os.ReadFile("/proc/self/smaps")
	if err != nil {
		return false, false
	}
	in := false
	for _, line := range strings.Split(string(b), "\n") {
		fields := strings.Fields(line)
		if len(fields) >= 6 && strings.Contains(fields[0], "-") {
			in = fields[len(fields)-1] == path
			continue
		}
		if in && strings.HasPrefix(line, "VmFlags:") {
			return slices.Contains(fields[1:], "rr"), true
		}
	}
	t.Fatalf("no mapping of %s in /proc/self/smaps", path)
	return false, false
}
