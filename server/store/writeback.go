package store

import (
	"syscall"
)

// Starting write-back behind the appender (ASYNC_FLUSH).
//
// An ASYNC_FLUSH store msyncs what accumulated every FlushInterval
// (500 ms, upstream's flushIntervalCommitLog). At 64 publishers × 16 KiB
// that is ~200 MB per flush, and msync submits all of it in one go: the
// flusher's thread then spends tens of milliseconds in ext4_writepages
// (9 % of the broker's CPU samples) while the event loops and the load
// generator share the other core. Those bursts made the 16 KiB p99: with
// the periodic flush removed (an experiment only) p99 fell from 15–48 ms
// to 5–10 ms in the same conditions. Nearly half of that write-back CPU
// was folio_mkclean write-protecting pages mapped writable, one TLB
// shoot-down IPI each; at 1 KiB every page is written through the mapping.
//
// So the store starts the write-back of each few MiB as soon as the
// appender has left them behind: sync_file_range(SYNC_FILE_RANGE_WRITE)
// queues the dirty pages for I/O and returns without waiting for it, on a
// goroutine of its own, in pieces of writebackChunk, after dropping the
// range's page-table entries in one batched shoot-down (unmapPages). The
// periodic msync then finds most pages clean or already in flight and
// only waits. Durability is unchanged: only a completed msync (flushLog)
// advances the flushed offset; it unmaps the tail not handed over yet
// itself (flushLog). 64 publishers against JetStream (BENCHMARKS.md,
// "Write-back behind the appender"): 1 KiB p99 4.2 → 2.7 ms and 9.6 →
// 7.5 µs of broker CPU per message; 16 KiB p99 19.7 → 12.0 ms.
//
// SYNC_FLUSH stores sync every group commit and need none of this.

// writebackChunk is the unit in which write-back is started; writebackLag
// how far behind the write position the started range ends, so the folio
// (or page) the appender is still filling, which write-back would clean
// and write-protect, is never part of it.
const (
	writebackChunk = 2 << 20
	writebackLag   = writebackChunk
)

// syncFileRangeWrite is SYNC_FILE_RANGE_WRITE: start write-out of the
// range's dirty pages that are not under write-out yet, without waiting.
const syncFileRangeWrite = 2

// writebackReq asks for write-back of commit-log bytes [from, to).
type writebackReq struct {
	from, to int64
}

// writebackAfterAppend is called under the append lock once the log's
// end has advanced to end. When the range left behind the appender
// (writebackLag) has grown by a chunk since the last accepted request, it
// posts a request for that range; it never waits: with the queue full the
// next call asks again from where the last accepted request ended.
func (s *Store) writebackAfterAppend(end int64) {
	if s.writeback == nil {
		return
	}
	to := end - end%writebackChunk - writebackLag
	if to <= s.wbAsked {
		return
	}
	select {
	case s.writeback <- writebackReq{from: s.wbAsked, to: to}:
		s.wbAsked = to
	default:
	}
}

// writebackLoop serves write-back requests until the store stops.
func (s *Store) writebackLoop() {
	defer s.wg.Done()
	for {
		select {
		case <-s.stop:
			return
		case r := <-s.writeback:
			if err := s.cl.startWriteback(r.from, r.to); err != nil {
				// Only smoothing is lost: the periodic flush writes the
				// bytes and reports a real I/O error itself.
				s.log.Debug("store: starting write-back failed", "from", r.from, "to", r.to, "err", err)
			}
			if s.o.onWriteback != nil {
				s.o.onWriteback(r.from, r.to)
			}
		}
	}
}

// startWriteback starts write-out of [from, to) of the files it spans and
// returns without waiting for it.
func (fs *fileSet) startWriteback(from, to int64) error {
	return fs.eachHeld(from, to, func(f *mappedFile, from, to int64) error {
		f.unmapPages(from, to)
		return syscall.SyncFileRange(int(f.f.Fd()), from, to-from, syncFileRangeWrite)
	})
}

// eachHeld calls fn with the part [from, to) of each file the range spans,
// relative to the file, while holding the file. Files retention removed
// meanwhile are skipped, and so is anything below the first file (a
// replica's log that adopted its master's starting offset asks from 0).
// The first error stops the walk.
func (fs *fileSet) eachHeld(from, to int64, fn func(f *mappedFile, from, to int64) error) error {
	l := fs.load()
	if l == nil || len(l.files) == 0 {
		return nil
	}
	from = max(from, l.files[0].base)
	for from < to {
		f := l.find(from, fs.size)
		if f == nil {
			return nil
		}
		end := min(to, f.base+fs.size)
		if f.hold() {
			err := fn(f, from-f.base, end-f.base)
			f.release()
			if err != nil {
				return err
			}
		}
		from = end
	}
	return nil
}

// unmapPages drops this process's page-table entries for [from, to) of the
// mapping (MADV_DONTNEED; on a shared file mapping the data stays in the
// page cache, dirty pages stay dirty, and a later access maps them again).
// Write-back has to write-protect every page it cleans that is mapped
// writable, one TLB shoot-down IPI to the other CPU per page
// (folio_mkclean: half of the flusher's write-back samples at 64 × 16 KiB);
// dropping the range first costs one batched shoot-down for all of it.
// Errors only lose that saving and are ignored.
func (m *mappedFile) unmapPages(from, to int64) {
	page := int64(syscall.Getpagesize())
	from -= from % page
	to = min(to, m.size)
	if to <= from {
		return
	}
	syscall.Madvise(m.data[from:to], syscall.MADV_DONTNEED)
}

// unmapRange drops this process's page-table entries for the whole pages
// of [from, to) across the files it spans (see unmapPages); the page
// holding to, which an appender may still be filling, keeps its entry.
func (fs *fileSet) unmapRange(from, to int64) {
	to -= to % int64(syscall.Getpagesize())
	fs.eachHeld(from, to, func(f *mappedFile, from, to int64) error {
		f.unmapPages(from, to)
		return nil
	})
}
