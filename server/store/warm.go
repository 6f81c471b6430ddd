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
	}
	to := min((end/warmChunk+1)*warmChunk+warmAhead, m.size)
	if s.warmTo >= to { // the common case: still inside the window asked for
		return
	}
	from := max(s.warmTo, end)
	if from < to && s.postWarm(warmReq{m: m, from: from, to: to}) {
		s.warmTo = to
	}
}

// pwriteMin is the append size from which the commit log is written with
// pwrite(2) rather than through the mapping, unless the warmer has already
// faulted the pages in (then the copy is all that is left to do, and it is
// cheaper than the syscall: a trace message of ~19 KB among small sends,
// where pwrite held the append lock twice as long and tracing cost 1.2 µs
// more CPU per message sent). The kernel then copies into
// page-cache pages it allocates for the write, without zeroing them first
// and without page-table work; through the mapping the same bytes cost a
// populate (zeroing, mapping) plus a copy that still runs at a fraction of
// memory speed on fresh pages. BenchmarkCommitLogWrite: 16 KiB records
// 7.4–7.9 µs with pwrite against 15–26 µs populated and copied, 8 KiB 5–6
// against 15–17; at 4 KiB the two are even and below it the syscall costs
// more than the copy. Readers see the bytes through the mapping all the
// same: both are the file's page cache.
const pwriteMin = 8 << 10

// writeLog puts b at pos of segment m, under the append lock.
func (s *Store) writeLog(m *mappedFile, pos int64, b []byte) {
	end := pos + int64(len(b))
	if len(b) < pwriteMin {
		copy(m.data[pos:], b)
		s.warmAfterAppend(m, pos, end)
		return
	}
	// Large appends never extend the pre-faulted window themselves: a
	// stream of them is cheaper written with pwrite than populated ahead
	// and copied (the warmer's faults are CPU too). They only use what the
	// small appends around them had faulted in anyway.
	if end <= m.populated.Load() {
		copy(m.data[pos:], b)
		return
	}
	if _, err := m.f.WriteAt(b, pos); err == nil {
		s.pwrites.Add(1)
		return
	}
	// The mapping is the path that cannot fail half-way (the file's blocks
	// are allocated): fall back to it.
	copy(m.data[pos:], b)
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
			if err == nil && r.to > r.m.populated.Load() {
				// Requests for a file come in order from one appender,
				// each starting where the last accepted one ended.
				r.m.populated.Store(r.to)
			}
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
