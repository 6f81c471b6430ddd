package store

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// The next commit-log segment, created ahead of time.
//
// Creating a segment (open, fallocate, mmap, advice) took 0.05–20 ms on
// this project's VM (a go trace of `serve` at 64 × 16 KiB: 25 creations of
// 64 MiB segments in 8 s, six of them over 5 ms). It ran under the append
// lock, and since a roll made TryAppendAsync refuse, every event loop's
// sends fell back to the worker queue meanwhile. Upstream creates the next
// mapped file in a background service (AllocateMappedFileService) for the
// same reason. Here a goroutine (allocLoop) creates the next segment once
// the write position has passed a quarter of the current one, so a store
// holding less than a quarter of a segment costs no extra file, and the
// roll under the lock only renames it.
//
// The spare lives under a name of its own (segment name + spareSuffix) and
// outside the published segmentList until the append path takes it, so
// everything that treats the list's last file as the one being written
// (flushing, fitsOpenFiles, retention, recovery, the replica) never sees
// it, and a spare left by a crash is recognisable by its name alone: it
// never held a record, and open deletes it. Taking it renames it to its
// segment name before the first byte is written into it; a crash after
// that leaves an ordinary, possibly empty, last segment, as a crash right
// after a synchronous creation always did.

// spareSuffix marks a commit-log file created ahead of time and not yet
// part of the log.
const spareSuffix = ".spare"

// spareAt is the fraction (1/spareAt) of a segment the write position must
// pass before its successor is created.
const spareAt = 4

// spareHead is how much of a new spare is pre-faulted: the first chunk
// the warmer would otherwise only start on with the first append into it
// (warm.go), which the appends right after a roll then fault in themselves.
const spareHead = warmChunk

// isSpareName reports whether name is a spare's file name.
func isSpareName(name string) bool {
	base, ok := strings.CutSuffix(name, spareSuffix)
	if !ok || len(base) != 20 {
		return false
	}
	_, err := strconv.ParseInt(base, 10, 64)
	return err == nil
}

// removeSpares deletes the spares a crash left in dir (open calls it
// before listing the segments).
func removeSpares(dir string, entries []os.DirEntry) error {
	for _, e := range entries {
		if e.IsDir() || !isSpareName(e.Name()) {
			continue
		}
		if err := os.Remove(filepath.Join(dir, e.Name())); err != nil && !os.IsNotExist(err) {
			return fmt.Errorf("store: remove unused %s: %w", e.Name(), err)
		}
	}
	return nil
}

// prepare makes sure a spare starting at base exists, unless the list
// already reaches base or the file set is closed. It runs on the
// allocator goroutine; a stale spare (for another base: the log was
// truncated meanwhile) is deleted first.
func (fs *fileSet) prepare(base int64) error {
	fs.allocMu.Lock()
	if fs.spareClosed {
		fs.allocMu.Unlock()
		return nil
	}
	if sp := fs.spare.Load(); sp != nil {
		if sp.base == base {
			fs.allocMu.Unlock()
			return nil
		}
		fs.spare.Store(nil)
		sp.destroy(true)
	}
	if last := fs.load().last(); last != nil && last.base >= base {
		fs.allocMu.Unlock()
		return nil // created synchronously meanwhile
	}
	// newFile gives an append-only set's spare its advice before the
	// faults below, which it shapes.
	m, err := fs.newFile(segmentName(base)+spareSuffix, base)
	if err != nil {
		fs.allocMu.Unlock()
		return err
	}
	// Pinned for the pre-faulting below: once published, the spare can be
	// taken and the store closed (destroying it) at any time.
	m.hold()
	fs.spare.Store(m)
	fs.allocMu.Unlock()
	// Errors (EINVAL before Linux 5.14) only leave the faults to the
	// appender, as without a spare.
	if m.populate(0, min(spareHead, fs.size)) == nil {
		m.populated.Store(min(spareHead, fs.size))
	}
	m.release()
	return nil
}

// takeSpare returns the spare as the file starting at base, renamed to its
// segment name, or nil when there is none for base (create then makes the
// file itself). Under the append lock.
func (fs *fileSet) takeSpare(base int64) *mappedFile {
	fs.allocMu.Lock()
	defer fs.allocMu.Unlock()
	sp := fs.spare.Load()
	if sp == nil || sp.base != base {
		return nil
	}
	fs.spare.Store(nil)
	final := filepath.Join(fs.dir, segmentName(base))
	if err := os.Rename(sp.path, final); err != nil {
		// Creating the file afresh reports whatever is wrong.
		sp.destroy(true)
		return nil
	}
	sp.path = final // the file is not shared yet: only this goroutine reads path
	return sp
}

// hasSpare reports whether a spare starting at base is ready.
func (fs *fileSet) hasSpare(base int64) bool {
	sp := fs.spare.Load()
	return sp != nil && sp.base == base
}

// dropSpare deletes the spare and makes prepare a no-op from then on
// (close).
func (fs *fileSet) dropSpare() {
	fs.allocMu.Lock()
	fs.spareClosed = true
	sp := fs.spare.Swap(nil)
	fs.allocMu.Unlock()
	if sp != nil {
		sp.destroy(true)
	}
}

// spareAhead asks the allocator for the segment after the one end falls
// in, once end has passed a quarter of it. Under the append lock, for an
// append (or replicated bytes) ending at end; it never waits. A truncation that moves the
// end back into an earlier segment makes it ask for that one's successor,
// and prepare replaces the stale spare.
func (s *Store) spareAhead(end int64) {
	size := s.cl.size
	next := end - end%size + size
	if end%size < size/spareAt || s.spareAsked == next || s.o.noSpare {
		return
	}
	s.spareAsked = next
	s.spareWant.Store(next)
	select {
	case s.spareWake <- struct{}{}:
	default: // a request is pending; it reads spareWant when it runs
	}
}

// allocLoop creates spares until the store stops.
func (s *Store) allocLoop() {
	defer s.wg.Done()
	for {
		select {
		case <-s.stop:
			return
		case <-s.spareWake:
			base := s.spareWant.Load()
			if err := s.cl.prepare(base); err != nil {
				// The roll creates the segment itself and fails the
				// append that needs it with this same error if it
				// persists; appends that fit the current segment go on.
				s.log.Warn("store: could not create the next commit-log segment ahead of time", "base", base, "err", err)
			}
		}
	}
}
