package store

import (
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/rocketgo/rocketgo/message"
)

// blankLen is the smallest end-of-segment marker: TOTALSIZE + BLANK_MAGIC.
// A record is only placed in a segment when this much room remains after it,
// so a segment always ends in either a record boundary or a marker.
const blankLen = 8

// maxQueueOffset bounds a believable queue offset (2^48 messages in one
// queue); recovery treats anything larger as header damage, which also
// keeps entry positions (offset × 20) far from overflowing.
const maxQueueOffset = 1 << 48

// segmentName is the 20-digit zero-padded start offset RocketMQ names files by.
func segmentName(base int64) string { return fmt.Sprintf("%020d", base) }

// segmentList is an immutable, contiguous run of equally sized files. Lookups
// load it through an atomic pointer without locking; changes publish a copy.
type segmentList struct {
	files []*mappedFile
}

// find returns the file covering off, or nil.
func (l *segmentList) find(off, size int64) *mappedFile {
	if l == nil || len(l.files) == 0 || off < l.files[0].base {
		return nil
	}
	i := (off - l.files[0].base) / size
	if i >= int64(len(l.files)) {
		return nil
	}
	return l.files[i]
}

func (l *segmentList) last() *mappedFile {
	if l == nil || len(l.files) == 0 {
		return nil
	}
	return l.files[len(l.files)-1]
}

// fileSet manages the files of one directory (the commit log, or one
// consume queue). Appends happen on one goroutine at a time (the caller's
// lock); mu only orders list changes against retention.
type fileSet struct {
	dir   string
	size  int64
	alloc allocFunc
	// appendOnly marks a SYNC_FLUSH commit log: its newest file is written
	// through the mapping record by record and synced a few hundred bytes
	// at a time (see adviseAppend), older files are only read.
	appendOnly bool
	mu         sync.Mutex
	list       atomic.Pointer[segmentList]

	// spare is the commit log's next file, created ahead of time and not
	// yet in list (spare.go); allocMu orders its creation against create
	// taking it, and spareClosed (under allocMu) stops it after close.
	spare       atomic.Pointer[mappedFile]
	allocMu     sync.Mutex
	spareClosed bool
}

func (fs *fileSet) load() *segmentList { return fs.list.Load() }

// open maps every file in dir, which must be named by start offsets that are
// multiples of size and contiguous.
func (fs *fileSet) open() error {
	entries, err := os.ReadDir(fs.dir)
	if err != nil && !os.IsNotExist(err) {
		return fmt.Errorf("store: read dir %s: %w", fs.dir, err)
	}
	if err := removeSpares(fs.dir, entries); err != nil {
		return err
	}
	var bases []int64
	for _, e := range entries {
		if e.IsDir() || len(e.Name()) != 20 {
			continue
		}
		b, err := strconv.ParseInt(e.Name(), 10, 64)
		if err != nil {
			continue
		}
		bases = append(bases, b)
	}
	sort.Slice(bases, func(i, j int) bool { return bases[i] < bases[j] })
	l := &segmentList{}
	for i, b := range bases {
		if b%fs.size != 0 || (i > 0 && b != bases[i-1]+fs.size) {
			for _, f := range l.files {
				f.destroy(false)
			}
			return fmt.Errorf("%w: %s: file %s is out of sequence (file size %d)", ErrCorruptStore, fs.dir, segmentName(b), fs.size)
		}
		m, err := openMapped(filepath.Join(fs.dir, segmentName(b)), b, fs.size)
		if err != nil {
			for _, f := range l.files {
				f.destroy(false)
			}
			return err
		}
		l.files = append(l.files, m)
	}
	fs.list.Store(l)
	return nil
}

// adviseLast gives the commit log's newest file the appender's advice.
// Recovery calls it once it has read the file: open leaves the default
// read-ahead on, since recovery reads the end of the log sequentially and
// under MADV_RANDOM every page of it would be a synchronous 4 KiB read
// (8,192 of them for the 32 MiB a clean restart re-verifies).
func (fs *fileSet) adviseLast() {
	if last := fs.load().last(); last != nil && fs.appendOnly {
		last.adviseAppend()
	}
}

// prefetch asks the kernel to start reading [from, to) of the files into
// the page cache without waiting for it, so that a walk over the range
// finds its pages there instead of faulting them in one read-around at a
// time. Only performance depends on it.
func (fs *fileSet) prefetch(from, to int64) {
	l := fs.load()
	for from < to {
		f := l.find(from, fs.size)
		if f == nil {
			return
		}
		end := min(to, f.base+fs.size)
		f.prefetch(from-f.base, end-f.base)
		from = end
	}
}

// create appends a new file starting at base: the spare when it was made
// for base (spare.go), else a file created now.
func (fs *fileSet) create(base int64) (*mappedFile, error) {
	m := fs.takeSpare(base)
	if m == nil {
		var err error
		if m, err = fs.newFile(segmentName(base), base); err != nil {
			return nil, err
		}
	}
	fs.mu.Lock()
	old := fs.load()
	nl := &segmentList{}
	if old != nil {
		nl.files = append(nl.files, old.files...)
	}
	nl.files = append(nl.files, m)
	fs.list.Store(nl)
	fs.mu.Unlock()
	if fs.appendOnly {
		if prev := old.last(); prev != nil {
			prev.adviseRead()
		}
	}
	return m, nil
}

// newFile creates and maps the file name in the directory, starting at
// base, with the appender's advice if the set is append-only.
func (fs *fileSet) newFile(name string, base int64) (*mappedFile, error) {
	if err := os.MkdirAll(fs.dir, 0o755); err != nil {
		return nil, fmt.Errorf("store: mkdir %s: %w", fs.dir, classifyIOError(err))
	}
	m, err := createMapped(filepath.Join(fs.dir, name), base, fs.size, fs.alloc)
	if err != nil {
		return nil, err
	}
	if fs.appendOnly {
		m.adviseAppend()
	}
	return m, nil
}

// dropFront destroys the first n files.
func (fs *fileSet) dropFront(n int) {
	fs.mu.Lock()
	old := fs.load()
	if old == nil || n <= 0 {
		fs.mu.Unlock()
		return
	}
	if n > len(old.files) {
		n = len(old.files)
	}
	nl := &segmentList{files: append([]*mappedFile(nil), old.files[n:]...)}
	fs.list.Store(nl)
	fs.mu.Unlock()
	for _, f := range old.files[:n] {
		f.destroy(true)
	}
}

// dropFrom destroys every file whose base is >= base (crash recovery).
func (fs *fileSet) dropFrom(base int64) {
	fs.mu.Lock()
	old := fs.load()
	if old == nil {
		fs.mu.Unlock()
		return
	}
	keep := 0
	for keep < len(old.files) && old.files[keep].base < base {
		keep++
	}
	nl := &segmentList{files: append([]*mappedFile(nil), old.files[:keep]...)}
	fs.list.Store(nl)
	fs.mu.Unlock()
	for _, f := range old.files[keep:] {
		f.destroy(true)
	}
	if last := nl.last(); last != nil && fs.appendOnly && keep < len(old.files) {
		last.adviseAppend() // appends continue in it
	}
}

// close unmaps every file (readers still holding one keep it mapped) and
// deletes the spare.
func (fs *fileSet) close() {
	fs.dropSpare()
	fs.mu.Lock()
	old := fs.load()
	fs.list.Store(&segmentList{})
	fs.mu.Unlock()
	if old != nil {
		for _, f := range old.files {
			f.destroy(false)
		}
	}
}

// syncRange flushes [from, to) across however many files it spans.
func (fs *fileSet) syncRange(from, to int64) error {
	l := fs.load()
	for from < to {
		f := l.find(from, fs.size)
		if f == nil || !f.hold() {
			return nil // deleted by retention meanwhile: nothing left to flush
		}
		end := min(to, f.base+fs.size)
		err := f.sync(from-f.base, end-f.base)
		f.release()
		if err != nil {
			return err
		}
		from = end
	}
	return nil
}

// recordAt validates the record at physical offset off inside seg and
// returns its length, or -1 at a blank marker, or an error.
func recordAt(seg *mappedFile, off int64, verifyCRC bool) (int, error) {
	pos := off - seg.base
	b := seg.data[pos:]
	if len(b) < blankLen {
		return 0, fmt.Errorf("%w: %d bytes left at %d", message.ErrCorrupt, len(b), off)
	}
	if message.IsBlank(b) {
		n := int64(binary.BigEndian.Uint32(b))
		if pos+n != seg.size {
			return 0, fmt.Errorf("%w: blank marker at %d does not reach the segment end", message.ErrCorrupt, off)
		}
		return -1, nil
	}
	r, err := message.ParseStored(b, verifyCRC)
	if err != nil {
		return 0, err
	}
	if r.PhysicalOffset != off {
		return 0, fmt.Errorf("%w: record at %d claims offset %d", message.ErrCorrupt, off, r.PhysicalOffset)
	}
	// The layout checksums only the body. When verifying (recovery), also
	// insist on a sane topic, queue id and well-formed properties, which
	// catches much of the damage the checksum cannot see.
	if verifyCRC && (!validTopic(string(r.Topic)) || !wellFormedProps(r.Properties) || r.QueueID < 0 ||
		r.QueueOffset < 0 || r.QueueOffset > maxQueueOffset) {
		return 0, fmt.Errorf("%w: record at %d has a malformed topic or properties", message.ErrCorrupt, off)
	}
	return int(r.TotalSize), nil
}

// wellFormedProps checks the key 0x01 value 0x02 syntax of a property string.
func wellFormedProps(p []byte) bool {
	if len(p) == 0 {
		return true
	}
	if p[len(p)-1] != message.PropertySeparator {
		return false
	}
	sawSep := false
	for _, c := range p {
		switch c {
		case message.NameValueSeparator:
			sawSep = true
		case message.PropertySeparator:
			if !sawSep {
				return false
			}
			sawSep = false
		}
	}
	return true
}
