package store

import (
	"errors"
	"fmt"
	"os"
	"sync/atomic"
	"syscall"
	"unsafe"
)

// mappedFile is one fixed-size file mapped read-write into memory. Commit-log
// segments, consume-queue files and index files are all mappedFiles.
//
// Readers hand out slices that alias the mapping (zero-copy pull bodies), so
// a file that retention deletes must stay mapped until the last reader lets
// go. refs counts the owner's reference (1 from creation until destroy) plus
// one per hold; the mapping is torn down when it reaches zero.
type mappedFile struct {
	path string
	base int64 // logical start: byte offset for the log and consume queues
	size int64
	f    *os.File
	data []byte
	refs atomic.Int32
	gone atomic.Bool // destroy was called; no new holds
	// populated is the end of the pages the warmer (warm.go) has faulted
	// in for writing, from where the appender stood when it asked; writeLog
	// copies a large append through the mapping when it falls below it.
	populated atomic.Int64
}

// allocFunc reserves disk blocks for a new file. It is a field of the store
// rather than a direct call so tests can simulate ENOSPC without filling the
// machine's disk.
type allocFunc func(f *os.File, size int64) error

// fallocate reserves every block of a new file up front: writing through a
// mapping into a sparse file on a full disk raises SIGBUS, which would kill
// the broker, whereas a failed fallocate is an ordinary error we can refuse
// the append with.
func fallocate(f *os.File, size int64) error {
	err := syscall.Fallocate(int(f.Fd()), 0, 0, size)
	if errors.Is(err, syscall.EOPNOTSUPP) || errors.Is(err, syscall.ENOSYS) {
		return f.Truncate(size)
	}
	return err
}

// createMapped creates path (which must not exist) with size bytes and maps it.
func createMapped(path string, base, size int64, alloc allocFunc) (*mappedFile, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return nil, fmt.Errorf("store: create %s: %w", path, classifyIOError(err))
	}
	if err := alloc(f, size); err != nil {
		f.Close()
		os.Remove(path)
		return nil, fmt.Errorf("store: allocate %d bytes for %s: %w", size, path, classifyIOError(err))
	}
	m, err := mapFile(f, path, base, size)
	if err != nil {
		os.Remove(path)
		return nil, err
	}
	return m, nil
}

// openMapped maps an existing file, growing it to size when it is shorter
// (a crash can leave a file before its allocation completed).
func openMapped(path string, base, size int64) (*mappedFile, error) {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("store: stat %s: %w", path, err)
	}
	if st.Size() != size {
		if err := f.Truncate(size); err != nil {
			f.Close()
			return nil, fmt.Errorf("store: resize %s to %d: %w", path, size, classifyIOError(err))
		}
	}
	return mapFile(f, path, base, size)
}

func mapFile(f *os.File, path string, base, size int64) (*mappedFile, error) {
	data, err := syscall.Mmap(int(f.Fd()), 0, int(size), syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_SHARED)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("store: mmap %s: %w", path, err)
	}
	m := &mappedFile{path: path, base: base, size: size, f: f, data: data}
	m.refs.Store(1)
	return m, nil
}

// hold pins the mapping; it fails once the file has been destroyed.
func (m *mappedFile) hold() bool {
	for {
		r := m.refs.Load()
		if r <= 0 || m.gone.Load() {
			return false
		}
		if m.refs.CompareAndSwap(r, r+1) {
			return true
		}
	}
}

// release drops one reference and unmaps on the last one.
func (m *mappedFile) release() {
	if m.refs.Add(-1) == 0 {
		syscall.Munmap(m.data)
		m.f.Close()
	}
}

// destroy drops the owner's reference; with remove the file is unlinked at
// once (Linux keeps the pages alive for readers still holding the mapping).
func (m *mappedFile) destroy(remove bool) {
	if !m.gone.CompareAndSwap(false, true) {
		return
	}
	if remove {
		os.Remove(m.path)
	}
	m.release()
}

// sync writes [from, to) of the mapping to disk. msync needs a page-aligned
// start, so the range is widened downwards.
func (m *mappedFile) sync(from, to int64) error {
	if to <= from {
		return nil
	}
	page := int64(os.Getpagesize())
	from -= from % page
	if to > m.size {
		to = m.size
	}
	b := m.data[from:to]
	_, _, errno := syscall.Syscall(syscall.SYS_MSYNC, uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)), syscall.MS_SYNC)
	if errno != 0 {
		return fmt.Errorf("store: msync %s: %w", m.path, classifyIOError(errno))
	}
	return nil
}

// adviseAppend turns off read-ahead on the mapping of the file being
// appended to. With read-ahead on, the page faults of a sequential writer
// ramp the kernel's read-ahead window up and fill the file's page cache
// with ever larger folios (large folios on ext4 since Linux 6.16); a
// dirty folio is written back whole, so after some tens of megabytes every
// SYNC_FLUSH group commit of a few hundred bytes wrote and waited for a
// large folio. One SYNC_FLUSH sender then ran at a third of its speed on a
// fresh segment as soon as a burst had pushed the write position past the
// first ~20 MB of a segment (issue 18). MADV_RANDOM keeps the faults to
// single pages, so a sync writes what changed. The advice only affects
// performance: an error is ignored.
//
// Only SYNC_FLUSH stores take it. Small folios make every copy into the
// mapping dearer, not only the faults: on this project's 2-vCPU VM a
// 1,200-byte record copied into pages pre-faulted under MADV_RANDOM takes
// about 1.6 µs, under the default advice (large folios) 1.0 µs, with no
// fault in either (BenchmarkCopyIntoMapping) — plausibly TLB reach, which
// physically contiguous folios extend. An ASYNC_FLUSH store syncs every
// flushInterval whatever has accumulated, so writing back whole large
// folios costs it little, and it keeps them.
func (m *mappedFile) adviseAppend() {
	syscall.Madvise(m.data, syscall.MADV_RANDOM)
}

// prefetch starts reading [from, to) of the file into the page cache
// (MADV_WILLNEED: the kernel queues the reads and returns). Errors only
// lose the head start and are ignored.
func (m *mappedFile) prefetch(from, to int64) {
	page := int64(os.Getpagesize())
	from -= from % page
	to = min(to, m.size)
	if from < 0 || to <= from {
		return
	}
	syscall.Madvise(m.data[from:to], syscall.MADV_WILLNEED)
}

// adviseRead restores read-ahead once a file is no longer appended to:
// consumers reading an old segment from disk want it.
func (m *mappedFile) adviseRead() {
	syscall.Madvise(m.data, syscall.MADV_NORMAL)
}

// classifyIOError maps "no space" errors onto ErrDiskFull so callers can use
// errors.Is regardless of which system call failed.
func classifyIOError(err error) error {
	if errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT) {
		return fmt.Errorf("%w: %w", ErrDiskFull, err)
	}
	return err
}
