package pop

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"sync"
)

// The POP journal: every change to the invisible-time bookkeeping is one
// framed record appended to a file in the store directory, so a restarted
// broker rebuilds exactly the checkpoints (popped, not yet acknowledged
// messages) and pop offsets it had. Upstream writes the same facts as
// checkpoint and ack messages into its revive topic; a journal of its own
// keeps them out of the commit log's retention and lets a change of
// invisible time be one atomic record instead of an ack plus a checkpoint.
//
// Frame: uint32 payload length, uint32 CRC-32C of the payload, payload. A
// torn or corrupt tail (a crash mid-write) ends replay; the file is
// truncated there. When the file grows past its compaction size it is
// rewritten with only the live state (write temp, fsync, rename, fsync
// directory), so a crash during compaction leaves the old or the new file,
// never half of one.

const (
	journalName   = "pop.journal"
	maxRecordLen  = 1 << 20
	recCheckpoint = 1 // a pop handed out offsets of one queue
	recAck        = 2 // one offset of a checkpoint acknowledged
	recRevived    = 3 // a checkpoint's unacknowledged offsets were re-sent
	recOffset     = 4 // a queue's pop offset moved without a checkpoint
	recChange     = 5 // one offset moved from a checkpoint to a new one
	// Orderly POP (order.go).
	recOrderCheckpoint = 6 // as recCheckpoint, of an order pop: holds its queue
	recOrderRevive     = 7 // an order checkpoint expired: counts raised, queue rewound, some to the DLQ
	recOrderInfo       = 8 // a queue's order state, in a compacted journal
	recAcks            = 9 // several offsets of one checkpoint acknowledged
	frameHeaderSize    = 8
)

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// errCorruptRecord ends replay at a record that does not parse.
var errCorruptRecord = errors.New("pop: corrupt journal record")

// journal appends records and syncs them in groups: Append only writes
// (into the page cache), Sync waits until everything appended before it
// is on disk, and one fsync covers every caller waiting at that moment.
type journal struct {
	dir  string
	path string

	mu      sync.Mutex // guards f, w, size, written
	f       *os.File
	w       *bufio.Writer
	size    int64
	written uint64 // records appended (sequence of the last one)

	syncMu sync.Mutex // one fsync at a time; guards synced
	synced uint64
}

// openJournal opens (creating) the journal in dir and replays it into fn,
// truncating a torn tail. fn returns an error only for records it cannot
// apply, which also ends replay there.
func openJournal(dir string, fn func(rec []byte) error) (*journal, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("pop: %w", err)
	}
	j := &journal{dir: dir, path: filepath.Join(dir, journalName)}
	f, err := os.OpenFile(j.path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("pop: open journal: %w", err)
	}
	good, err := replay(f, fn)
	if err != nil {
		f.Close()
		return nil, err
	}
	if st, err := f.Stat(); err == nil && st.Size() != good {
		if err := f.Truncate(good); err != nil {
			f.Close()
			return nil, fmt.Errorf("pop: truncate torn journal tail: %w", err)
		}
	}
	if _, err := f.Seek(good, io.SeekStart); err != nil {
		f.Close()
		return nil, fmt.Errorf("pop: %w", err)
	}
	j.f, j.w, j.size = f, bufio.NewWriterSize(f, 64<<10), good
	return j, nil
}

// replay feeds every intact record to fn and returns the length of the
// intact prefix.
func replay(f *os.File, fn func(rec []byte) error) (int64, error) {
	r := bufio.NewReaderSize(f, 64<<10)
	var good int64
	var hdr [frameHeaderSize]byte
	buf := make([]byte, 0, 256)
	for {
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			return good, nil // clean end or torn header
		}
		n := binary.BigEndian.Uint32(hdr[0:4])
		if n == 0 || n > maxRecordLen {
			return good, nil
		}
		buf = append(buf[:0], make([]byte, n)...)
		if _, err := io.ReadFull(r, buf); err != nil {
			return good, nil
		}
		if crc32.Checksum(buf, crcTable) != binary.BigEndian.Uint32(hdr[4:8]) {
			return good, nil
		}
		if err := fn(buf); err != nil {
			return good, nil
		}
		good += int64(frameHeaderSize + n)
	}
}

// append writes one record and returns its sequence number for Sync.
func (j *journal) append(rec []byte) (uint64, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	seq, err := j.stageLocked(rec)
	if err != nil {
		return 0, err
	}
	// The buffer only batches the two writes of a frame and the records
	// staged before it; it is handed to the kernel at once so a process
	// crash (not a power loss) never loses an answered record.
	if err := j.w.Flush(); err != nil {
		return 0, fmt.Errorf("pop: journal write: %w", err)
	}
	return seq, nil
}

// stage buffers one record without handing it to the kernel: several
// records of one request then cost one write. The caller must flush (or
// append) before it answers the request; a sync flushes too.
func (j *journal) stage(rec []byte) (uint64, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.stageLocked(rec)
}

// flush hands staged records to the kernel.
func (j *journal) flush() error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.f == nil {
		return ErrClosed
	}
	if err := j.w.Flush(); err != nil {
		return fmt.Errorf("pop: journal write: %w", err)
	}
	return nil
}

func (j *journal) stageLocked(rec []byte) (uint64, error) {
	if j.f == nil {
		return 0, ErrClosed
	}
	var hdr [frameHeaderSize]byte
	binary.BigEndian.PutUint32(hdr[0:4], uint32(len(rec)))
	binary.BigEndian.PutUint32(hdr[4:8], crc32.Checksum(rec, crcTable))
	if _, err := j.w.Write(hdr[:]); err != nil {
		return 0, fmt.Errorf("pop: journal write: %w", err)
	}
	if _, err := j.w.Write(rec); err != nil {
		return 0, fmt.Errorf("pop: journal write: %w", err)
	}
	j.size += int64(frameHeaderSize + len(rec))
	j.written++
	return j.written, nil
}

// sync returns once record seq (and all before it) is on disk.
func (j *journal) sync(seq uint64) error {
	j.syncMu.Lock()
	defer j.syncMu.Unlock()
	if j.synced >= seq {
		return nil
	}
	j.mu.Lock()
	f, upTo := j.f, j.written
	var err error
	if f != nil {
		err = j.w.Flush() // staged records are part of what is synced
	}
	j.mu.Unlock()
	if f == nil {
		return ErrClosed
	}
	if err != nil {
		return fmt.Errorf("pop: journal write: %w", err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("pop: journal fsync: %w", err)
	}
	j.synced = upTo
	return nil
}

// syncAll syncs everything appended so far.
func (j *journal) syncAll() error {
	j.mu.Lock()
	seq := j.written
	j.mu.Unlock()
	return j.sync(seq)
}

// sizeNow is the journal's current length in bytes.
func (j *journal) sizeNow() int64 {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.size
}

// rewrite replaces the journal with the records snapshot yields, durably.
// The caller must keep the state snapshot reads from stable (the service
// holds its lock), and no append may interleave: rewrite holds j.mu.
func (j *journal) rewrite(snapshot func(emit func(rec []byte) error) error) error {
	j.syncMu.Lock() // the order sync takes them in
	defer j.syncMu.Unlock()
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.f == nil {
		return ErrClosed
	}
	tmp := j.path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return fmt.Errorf("pop: compact journal: %w", err)
	}
	w := bufio.NewWriterSize(f, 256<<10)
	var size int64
	var hdr [frameHeaderSize]byte
	err = snapshot(func(rec []byte) error {
		binary.BigEndian.PutUint32(hdr[0:4], uint32(len(rec)))
		binary.BigEndian.PutUint32(hdr[4:8], crc32.Checksum(rec, crcTable))
		if _, err := w.Write(hdr[:]); err != nil {
			return err
		}
		_, err := w.Write(rec)
		size += int64(frameHeaderSize + len(rec))
		return err
	})
	if err == nil {
		err = w.Flush()
	}
	if err == nil {
		err = f.Sync()
	}
	if err == nil {
		err = os.Rename(tmp, j.path)
	}
	if err != nil {
		f.Close()
		os.Remove(tmp)
		return fmt.Errorf("pop: compact journal: %w", err)
	}
	if d, err := os.Open(j.dir); err == nil {
		d.Sync()
		d.Close()
	}
	j.f.Close()
	j.f, j.w, j.size = f, bufio.NewWriterSize(f, 64<<10), size
	if _, err := f.Seek(size, io.SeekStart); err != nil {
		return fmt.Errorf("pop: compact journal: %w", err)
	}
	// Everything written so far is in the synced new file.
	j.synced = j.written
	return nil
}

// close syncs and closes the journal.
func (j *journal) close() error {
	err := j.syncAll()
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.f == nil {
		return nil
	}
	if cerr := j.f.Close(); err == nil {
		err = cerr
	}
	j.f = nil
	return err
}

// abandon closes the file without syncing it.
func (j *journal) abandon() {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.f != nil {
		j.f.Close()
		j.f = nil
	}
}

// recordWriter builds record payloads.
type recordWriter struct{ b []byte }

func (w *recordWriter) reset(kind byte) { w.b = append(w.b[:0], kind) }
func (w *recordWriter) str(s string) {
	w.b = binary.AppendUvarint(w.b, uint64(len(s)))
	w.b = append(w.b, s...)
}
func (w *recordWriter) int(v int64) { w.b = binary.AppendVarint(w.b, v) }

// recordReader parses record payloads; the first failure sticks.
type recordReader struct {
	b   []byte
	err error
}

func (r *recordReader) int() int64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.err = errCorruptRecord
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *recordReader) str() string {
	if r.err != nil {
		return ""
	}
	l, n := binary.Uvarint(r.b)
	if n <= 0 || l > uint64(len(r.b)-n) {
		r.err = errCorruptRecord
		return ""
	}
	s := string(r.b[n : n+int(l)])
	r.b = r.b[n+int(l):]
	return s
}
