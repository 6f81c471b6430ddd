package store

import (
	"syscall"
	"unsafe"
)

// Pre-faulting the append path.
//
// Every file is fallocated and written through a shared mapping, so the
// first write to each page takes a page fault that allocates the page-cache
// page and makes the file system mark the block written: tens of
// microseconds per 4 KiB page on this class of machine, roughly one fault
// per dozen small messages. Those faults happen under the append lock, so
// each one stalls every sender. Upstream pre-touches whole segments
// (warmMapedFileEnable); here a background goroutine keeps the commit log
// populated a few MiB ahead of the write position with MADV_POPULATE_WRITE
// (Linux 5.14+), in chunks, and populates a new index file's slot table,
// which is written at random. The append path only posts a request when
// its write position enters a new chunk and never waits for it.

// warmChunk is the unit of pre-faulting; warmAhead how far ahead of the
// chunk being written the commit log is kept populated.
const (
	warmChunk = 1 << 20
	warmAhead = 4 * warmChunk
)

// madvPopulateWrite is MADV_POPULATE_WRITE (not in package syscall).
const madvPopulateWrite = 23

// warmReq asks for [from, to) of m to be populated for writing.
type warmReq struct {
	m        *mappedFile
	from, to int64
}

// warmAfterAppend is called under the append lock after bytes [pos, end)
// of segment m were written: when end crossed into a new chunk (or m is new),
// it posts a request that extends the populated window to warmAhead past the
// chunk being written. Only what was not asked for before is requested:
// MADV_POPULATE_WRITE on resident pages still walks them, ~50 µs a MiB
// (BenchmarkPopulate), which with overlapping windows cost the warmer a
// few times that per MiB written. It never blocks: a full queue means the
// warmer is behind; the appender then faults the pages in itself, and the
// next crossing asks again from where the last accepted request ended.
func (s *Store) warmAfterAppend(m *mappedFile, pos, end int64) {
	if m != s.warmSeg {
		s.warmSeg, s.warmTo = m, 0
	} else if pos/warmChunk == end/warmChunk && pos != 0 {
		return
	}
	to := min((end/warmChunk+1)*warmChunk+warmAhead, m.size)
	from := max(s.warmTo, end)
	if from < to && s.postWarm(warmReq{m: m, from: from, to: to}) {
		s.warmTo = to
	}
}

// postWarm queues r for the warmer and reports whether it was queued.
func (s *Store) postWarm(r warmReq) bool {
	if s.warm == nil || r.from >= r.to {
		return false
	}
	select {
	case s.warm <- r:
		return true
	default:
		return false
	}
}

// warmLoop serves warm requests until the store stops.
func (s *Store) warmLoop() {
	defer s.wg.Done()
	for {
		select {
		case <-s.stop:
			return
		case r := <-s.warm:
			if !r.m.hold() { // retention removed it meanwhile
				continue
			}
			err := r.m.populate(r.from, r.to)
			r.m.release()
			if err != nil {
				// EINVAL before Linux 5.14: faults stay on the append path,
				// as they were before this existed.
				s.log.Debug("store: pre-faulting disabled", "err", err)
				return
			}
		}
	}
}

// populate faults [from, to) of the mapping in for writing.
func (m *mappedFile) populate(from, to int64) error {
	from &^= int64(syscall.Getpagesize() - 1) // madvise wants a page-aligned start
	if from >= to {
		return nil
	}
	b := m.data[from:to]
	_, _, errno := syscall.Syscall(syscall.SYS_MADVISE, uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)), madvPopulateWrite)
	if errno != 0 && errno != syscall.EINTR {
		return errno
	}
	return nil
}
