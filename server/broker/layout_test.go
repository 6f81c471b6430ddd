package broker

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

func layoutBroker(t *testing.T, dir string) (*Broker, error) {
	t.Helper()
	cfg := DefaultConfig()
	cfg.ListenHost, cfg.ListenPort = "127.0.0.1", 0
	cfg.StorePathRootDir = dir
	cfg.MappedFileSizeCommitLog = 8 << 20
	cfg.MappedFileSizeConsumeQueue = 20 * 1000
	cfg.MaxHashSlotNum, cfg.MaxIndexNum = 1000, 4000
	b, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return b, b.Start(ctx)
}

func stopLayoutBroker(t *testing.T, b *Broker) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := b.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestStoreLayoutIsUpstreams: the store lives directly in storePathRootDir
// (commitlog, consumequeue, index, checkpoint beside config), and a store
// left in the older nested <root>/store layout, even half moved by an
// interrupted start, is moved up with every message kept.
func TestStoreLayoutIsUpstreams(t *testing.T) {
	dir := t.TempDir()
	b, err := layoutBroker(t, dir)
	if err != nil {
		t.Fatal(err)
	}
	rc := newClient(t)
	for _, body := range []string{"a", "b", "c"} {
		sendOK(t, rc, b.Addr(), "Layout", 0, body)
	}
	stopLayoutBroker(t, b)
	for _, name := range []string{"commitlog", "consumequeue", "index", "checkpoint", "config"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			t.Fatalf("upstream layout: %v", err)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "store")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a nested store directory was created: %v", err)
	}

	// The nested layout, with checkpoint and consumequeue already moved up
	// by a start that was interrupted.
	nested := filepath.Join(dir, "store")
	if err := os.Mkdir(nested, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"commitlog", "index"} {
		if err := os.Rename(filepath.Join(dir, name), filepath.Join(nested, name)); err != nil {
			t.Fatal(err)
		}
	}
	b, err = layoutBroker(t, dir)
	if err != nil {
		t.Fatal(err)
	}
	if got := drain(t, rc, b.Addr(), "CG", "Layout", 0); !slices.Equal(got, []string{"a", "b", "c"}) {
		t.Fatalf("after moving the store up: %q", got)
	}
	sendOK(t, rc, b.Addr(), "Layout", 0, "d")
	stopLayoutBroker(t, b)
	if _, err := os.Stat(nested); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("nested directory left behind: %v", err)
	}

	// A store in both places is refused, and nothing is moved.
	if err := os.MkdirAll(filepath.Join(nested, "commitlog"), 0o755); err != nil {
		t.Fatal(err)
	}
	b, err = layoutBroker(t, dir)
	if !errors.Is(err, ErrStoreLayout) {
		t.Fatalf("start with two stores: %v, want ErrStoreLayout", err)
	}
	if _, serr := os.Stat(filepath.Join(nested, "commitlog")); serr != nil {
		t.Fatalf("the refused start moved files: %v", serr)
	}
	t.Log(err)
}
