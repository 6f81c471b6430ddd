//go:build storescale

package store

// Run with: go test -tags storescale -run TestScaleCleanRestart -v -timeout 30m ./server/store
// STORE_SCALE_BYTES overrides the log size (default 2 GiB); STORE_SCALE_DIR
// keeps the store in (and reuses it from) a directory instead of a temp dir;
// STORE_SCALE_CLEAN_VERIFY sets CleanRecoveryVerifyBytes (for an A/B
// against the crash window, 268435456); STORE_SCALE_DROP_CACHES=1 makes the
// cold restarts drop the whole page cache (echo 3 > drop_caches, root
// only) instead of evicting the store's own files.

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/rocketgo/rocketgo/message"
)

// scaleRestartConfig is the broker's production layout: 1 GiB segments,
// 300,000-entry queue files and the default 5 M / 20 M index.
func scaleRestartConfig(dir string) Config {
	return Config{Dir: dir, CommitLogSegmentSize: 1 << 30, CleanInterval: time.Hour}
}

// dropCache evicts the store's own files from the page cache
// (POSIX_FADV_DONTNEED), so a reopen reads them from disk as after a
// reboot, without touching anyone else's cached pages.
func dropCache(t *testing.T, dir string) {
	filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil || fi.IsDir() {
			return nil
		}
		f, err := os.Open(p)
		if err != nil {
			return nil
		}
		defer f.Close()
		syscall.Fdatasync(int(f.Fd()))
		const dontNeed = 4
		syscall.Syscall6(syscall.SYS_FADVISE64, f.Fd(), 0, 0, dontNeed, 0, 0)
		return nil
	})
}

func TestScaleCleanRestart(t *testing.T) {
	size := int64(2 << 30)
	if v, err := strconv.ParseInt(os.Getenv("STORE_SCALE_BYTES"), 10, 64); err == nil && v > 0 {
		size = v
	}
	dir := os.Getenv("STORE_SCALE_DIR")
	if dir == "" {
		dir = t.TempDir()
	}
	cfg := scaleRestartConfig(dir)
	if v, err := strconv.ParseInt(os.Getenv("STORE_SCALE_CLEAN_VERIFY"), 10, 64); err == nil {
		cfg.CleanRecoveryVerifyBytes = v
	}
	if cfg.CleanRecoveryVerifyBytes == 0 {
		cfg.CleanRecoveryVerifyBytes = DefaultCleanRecoveryVerifyBytes
	}
	s := mustOpen(t, cfg)
	ctx := context.Background()
	if s.MaxPhysicalOffset() < size {
		start := time.Now()
		body := make([]byte, 256)
		for i := 0; s.MaxPhysicalOffset() < size; i++ {
			m := newMsg("BenchmarkTest", int32(i%8), body, "TagA", "")
			m.Properties += string(message.AppendProperty(nil, propUniqKey, fmt.Sprintf("7F00000100002A9F0000%010d", i)))
			if _, err := s.Append(ctx, m); err != nil {
				t.Fatal(err)
			}
		}
		t.Logf("wrote %d bytes of log in %v", s.MaxPhysicalOffset(), time.Since(start).Round(time.Millisecond))
	}
	mustClose(t, s)
	measure := func(name string, cold bool) {
		var ds []time.Duration
		for i := 0; i < 5; i++ {
			if cold && os.Getenv("STORE_SCALE_DROP_CACHES") == "1" {
				syscall.Sync()
				if err := os.WriteFile("/proc/sys/vm/drop_caches", []byte("3\n"), 0); err != nil {
					t.Fatalf("drop caches: %v", err)
				}
			} else if cold {
				dropCache(t, dir)
			}
			t0 := time.Now()
			s := mustOpen(t, cfg)
			ds = append(ds, time.Since(t0))
			mustClose(t, s)
		}
		sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
		t.Logf("clean restart (%s page cache, verifying %d MiB) of a %d MiB store: median %v, min %v, max %v",
			name, cfg.CleanRecoveryVerifyBytes>>20, size>>20, ds[len(ds)/2].Round(time.Millisecond), ds[0].Round(time.Millisecond), ds[len(ds)-1].Round(time.Millisecond))
	}
	measure("warm", false)
	measure("cold", true)

	// After a kill: a second of appends since the last checkpoint, then
	// the process dies without closing.
	var ds []time.Duration
	for i := 0; i < 3; i++ {
		s := mustOpen(t, cfg)
		body := make([]byte, 256)
		for j := 0; j < 20000; j++ {
			if _, err := s.Append(ctx, newMsg("BenchmarkTest", int32(j%8), body, "TagA", "")); err != nil {
				t.Fatal(err)
			}
		}
		time.Sleep(1500 * time.Millisecond) // let a checkpoint pass
		for j := 0; j < 20000; j++ {
			if _, err := s.Append(ctx, newMsg("BenchmarkTest", int32(j%8), body, "TagA", "")); err != nil {
				t.Fatal(err)
			}
		}
		s.stopForCrashTest()
		t0 := time.Now()
		s = mustOpen(t, cfg)
		ds = append(ds, time.Since(t0))
		mustClose(t, s)
	}
	sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
	t.Logf("restart after a kill (warm page cache) of a %d MiB store: median %v, min %v, max %v",
		size>>20, ds[1].Round(time.Millisecond), ds[0].Round(time.Millisecond), ds[2].Round(time.Millisecond))
}
