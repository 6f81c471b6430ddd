package main

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"time"
)

// TestServeFirstRun: a first `rocketgo serve` stays on loopback, prints its
// ready line, keeps its store directly in the data root as upstream
// lays out storePathRootDir (commitlog, consumequeue, ... beside config) and takes well under 200 MB of disk before any message.
func TestServeFirstRun(t *testing.T) {
	data := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out, errOut syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"serve", "-data", data, "-namesrv-port", "0", "-broker-port", "0"}, &out, &errOut)
	}()
	ready := regexp.MustCompile(`rocketgo serve: ready in \S+: name server 127\.0\.0\.1:\d+, broker 127\.0\.0\.1:\d+ \(ASYNC_FLUSH\), data in (\S+)\n`)
	deadline := time.Now().Add(20 * time.Second)
	var m []string
	for m = ready.FindStringSubmatch(out.String()); m == nil; m = ready.FindStringSubmatch(out.String()) {
		select {
		case code := <-done:
			t.Fatalf("serve exited %d before ready: %s %s", code, out.String(), errOut.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("no ready line: %q %q", out.String(), errOut.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if m[1] != data {
		t.Fatalf("store in %s, want %s", m[1], data)
	}
	for _, name := range []string{"checkpoint", "config"} {
		if _, err := os.Stat(filepath.Join(data, name)); err != nil {
			t.Fatalf("upstream layout under the data root: %v", err)
		}
	}
	if _, err := os.Stat(filepath.Join(data, "store")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("nested store directory: %v", err)
	}
	var size int64
	filepath.WalkDir(data, func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if info, err := d.Info(); err == nil {
				size += info.Size()
			}
		}
		return nil
	})
	if size > 200<<20 {
		t.Fatalf("a fresh serve store holds %d bytes, want < 200 MB", size)
	}
	t.Logf("%s; fresh store: %d bytes before the first message", m[0][:len(m[0])-1], size)
	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("serve exited %d: %s", code, errOut.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not stop")
	}
}
