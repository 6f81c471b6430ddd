package broker

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
)

// The store lives directly in storePathRootDir, as upstream lays it out:
// <root>/commitlog, consumequeue, index, checkpoint, abort and
// epochFileCheckpoint, beside <root>/config. Brokers before this layout
// kept the store one level deeper, in <root>/store, which with the default
// root ($HOME/store) made $HOME/store/store/commitlog.

// ErrStoreLayout reports a storage root holding a store both in the nested
// layout and directly: the broker cannot tell which one is current.
var ErrStoreLayout = errors.New("broker: ambiguous store layout")

// nestedStoreEntries are the store's entries the nested layout kept in
// <root>/store. The commit log moves last: while it is still in the nested
// directory, an interrupted move is found and finished at the next start.
var nestedStoreEntries = []string{"abort", "checkpoint", "consumequeue", "index", "epochFileCheckpoint", "commitlog"}

// migrateNestedStore moves a store found in <root>/store up into root. It
// only renames within one directory tree (no copying), so it takes no time
// whatever the store's size, and it is resumable: each entry is moved on
// its own and a later start moves whatever an interrupted one left. It
// refuses, changing nothing, when root already holds a store of its own.
func migrateNestedStore(root string, log *slog.Logger) error {
	nested := filepath.Join(root, "store")
	var found []string
	for _, name := range nestedStoreEntries {
		if _, err := os.Lstat(filepath.Join(nested, name)); err == nil {
			found = append(found, name)
		}
	}
	if len(found) == 0 {
		return nil
	}
	for _, name := range found {
		if _, err := os.Lstat(filepath.Join(root, name)); err == nil {
			return fmt.Errorf("%w: both %s and %s exist; %s is the nested layout of older rocketgo brokers (the store now lives directly in storePathRootDir): keep one and move the other away",
				ErrStoreLayout, filepath.Join(root, name), filepath.Join(nested, name), nested)
		}
	}
	for _, name := range found {
		if err := os.Rename(filepath.Join(nested, name), filepath.Join(root, name)); err != nil {
			return fmt.Errorf("broker: moving the store up from %s: %w", nested, err)
		}
	}
	if err := syncDir(root); err != nil {
		return fmt.Errorf("broker: moving the store up from %s: %w", nested, err)
	}
	os.Remove(filepath.Join(nested, "checkpoint.tmp")) // a checkpoint write cut short
	if err := os.Remove(nested); err != nil {
		log.Warn("moved the store out of its nested directory; other files were left there", "from", nested, "to", root, "err", err)
	} else {
		log.Warn("moved the store out of its nested directory into storePathRootDir, as upstream lays it out", "from", nested, "to", root, "moved", found)
	}
	return nil
}

// syncDir makes renames within dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
