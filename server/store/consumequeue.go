package store

import (
	"encoding/binary"
	"fmt"
	"path/filepath"
	"strconv"
	"sync/atomic"
)

// cqEntrySize is RocketMQ's consume-queue unit: commit-log offset (8), size
// (4), tag code (8).
const cqEntrySize = 20

// queueKey names one consume queue. A struct key makes map lookups free of
// allocation, unlike a concatenated string.
type queueKey struct {
	topic string
	id    int32
}

// consumeQueue is the per-(topic, queue) index into the commit log. Entry n
// lives at byte n*20 of the queue's files, so a consumer offset maps to its
// entry with one division.
type consumeQueue struct {
	key   queueKey
	files fileSet
	// max is the offset after the last readable entry. It is stored only
	// after the entry's bytes are written, which is what makes an entry
	// visible to readers.
	max atomic.Int64
	// min is the first entry whose message still exists in the commit log.
	min atomic.Int64
	// next is the appender's counter (guarded by the store's append lock);
	// it can run ahead of max only inside one locked append.
	next int64
	// flushed is how far (in entries) the checkpointer has flushed.
	flushed int64
	// verifyBelow: entries below it were on disk (or re-created by
	// recovery) when the store opened, and readers check each against its
	// record. Entries above were made by this process from records it
	// wrote or verified. Set once by recovery, before any reader exists.
	verifyBelow int64
}

func newConsumeQueue(root string, key queueKey, entriesPerFile int, alloc allocFunc) *consumeQueue {
	cq := &consumeQueue{key: key}
	cq.files = fileSet{
		dir:   filepath.Join(root, key.topic, strconv.Itoa(int(key.id))),
		size:  int64(entriesPerFile) * cqEntrySize,
		alloc: alloc,
	}
	return cq
}

// ensure makes sure the file that will hold entry off exists, creating it
// (and nothing else) when needed. Called before the commit-log write so a
// failure leaves the log untouched.
func (cq *consumeQueue) ensure(off int64) error {
	pos := off * cqEntrySize
	for {
		l := cq.files.load()
		if l.find(pos, cq.files.size) != nil {
			return nil
		}
		base := pos - pos%cq.files.size
		last := l.last()
		if last != nil && last.base > base {
			return fmt.Errorf("%w: consume queue %s/%d: entry %d precedes its files", ErrCorruptStore, cq.key.topic, cq.key.id, off)
		}
		if last != nil {
			// Files must stay contiguous; recovery can meet a gap when
			// entries were lost, and fills it with empty files.
			base = last.base + cq.files.size
		} else if off > 0 && cq.max.Load() < off {
			// First file of a queue that starts late (its older files were
			// all deleted): entries begin where this file does.
			cq.min.Store(off)
			cq.max.Store(off)
			cq.next = off
		}
		if _, err := cq.files.create(base); err != nil {
			return err
		}
	}
}

// put writes entry off. ensure(off) must have succeeded.
func (cq *consumeQueue) put(off, phy int64, size int32, tags int64) {
	pos := off * cqEntrySize
	f := cq.files.load().find(pos, cq.files.size)
	b := f.data[pos-f.base:]
	binary.BigEndian.PutUint64(b, uint64(phy))
	binary.BigEndian.PutUint32(b[8:], uint32(size))
	binary.BigEndian.PutUint64(b[12:], uint64(tags))
}

// entry reads entry off from file f (which covers it).
func cqEntry(f *mappedFile, off int64) (phy int64, size int32, tags int64) {
	b := f.data[off*cqEntrySize-f.base:]
	return int64(binary.BigEndian.Uint64(b)), int32(binary.BigEndian.Uint32(b[8:])), int64(binary.BigEndian.Uint64(b[12:]))
}

// tagsAt returns the tag code of entry off, which the caller has just
// written under the append lock.
func (cq *consumeQueue) tagsAt(off int64) int64 {
	_, _, tags, _ := cq.lookup(off)
	return tags
}

// lookup returns entry off, or ok=false when it is outside the queue.
func (cq *consumeQueue) lookup(off int64) (phy int64, size int32, tags int64, ok bool) {
	if off < cq.min.Load() || off >= cq.max.Load() {
		return 0, 0, 0, false
	}
	f := cq.files.load().find(off*cqEntrySize, cq.files.size)
	if f == nil || !f.hold() {
		return 0, 0, 0, false
	}
	phy, size, tags = cqEntry(f, off)
	f.release()
	return phy, size, tags, true
}

// perFile is the number of entries per file.
func (cq *consumeQueue) perFile() int64 { return cq.files.size / cqEntrySize }

// recoverBounds derives min and max from the files: max is the first zero
// entry (files are pre-zeroed and filled in order), min the first entry whose
// message is at or above minPhy.
func (cq *consumeQueue) recoverBounds(minPhy int64) {
	l := cq.files.load()
	last := l.last()
	if last == nil {
		return
	}
	n := cq.perFile()
	first := last.base / cqEntrySize
	// Binary search the last file for the first empty entry.
	lo, hi := int64(0), n
	for lo < hi {
		mid := (lo + hi) / 2
		if _, size, _ := cqEntry(last, first+mid); size != 0 {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	cq.max.Store(first + lo)
	cq.next = first + lo
	cq.min.Store(cq.searchPhy(minPhy))
	if cq.min.Load() > cq.max.Load() {
		cq.min.Store(cq.max.Load())
	}
}

// searchPhy returns the first entry offset whose commit-log offset is >= phy
// (entries of one queue are in increasing commit-log order), or max.
func (cq *consumeQueue) searchPhy(phy int64) int64 {
	// max before the list: a file is published before entries in it, so
	// every entry below this max lies in a file of the list loaded next.
	hi := cq.max.Load()
	l := cq.files.load()
	if l == nil || len(l.files) == 0 {
		return hi
	}
	lo := max(l.files[0].base/cqEntrySize, cq.min.Load())
	// Usually nothing below phy is left (retention has not deleted the
	// queue's oldest records, or phy is the log's start): one read instead
	// of a binary search's twenty, which on a cold page cache are random
	// reads each.
	if f := l.find(lo*cqEntrySize, cq.files.size); lo < hi && f != nil {
		if p, _, _ := cqEntry(f, lo); p >= phy {
			return lo
		}
	}
	for lo < hi {
		mid := (lo + hi) / 2
		f := l.find(mid*cqEntrySize, cq.files.size)
		if f == nil {
			return hi
		}
		if p, _, _ := cqEntry(f, mid); p < phy {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	return lo
}

// truncate removes every entry at or after off (crash recovery).
func (cq *consumeQueue) truncate(off int64) {
	if off < 0 {
		off = 0
	}
	pos := off * cqEntrySize
	// Whole files past the cut go; the file holding the cut is zeroed from it.
	cq.files.dropFrom(pos - pos%cq.files.size + cq.files.size)
	if f := cq.files.load().find(pos, cq.files.size); f != nil {
		clear(f.data[pos-f.base:])
	}
	if cq.max.Load() > off {
		cq.max.Store(off)
	}
	cq.next = cq.max.Load()
	if cq.min.Load() > off {
		cq.min.Store(off)
	}
	if cq.flushed > off {
		cq.flushed = off
	}
}

// cutFrom removes the entries at the end of the queue whose records do not
// end before phy (recovery re-creates those that belong to surviving
// records). Entries are in log order, so walking back from the end finds
// them all, including a damaged last entry pointing anywhere at or past
// phy; a damaged entry further back is left for the read path to refuse.
func (cq *consumeQueue) cutFrom(phy int64) {
	l := cq.files.load()
	if l == nil || len(l.files) == 0 {
		return
	}
	first := l.files[0].base / cqEntrySize
	n := cq.max.Load()
	for n > first {
		f := l.find((n-1)*cqEntrySize, cq.files.size)
		if f == nil {
			break
		}
		p, size, _ := cqEntry(f, n-1)
		if p >= 0 && ((size > 0 && p+int64(size) <= phy) || (size == holeSize && p < phy)) {
			break
		}
		n--
	}
	if n < cq.max.Load() {
		cq.truncate(n)
	}
}

// reset deletes every file of the queue (a full rebuild found it missing
// entries before its first surviving record); the next ensure starts it
// afresh at that record's offset.
func (cq *consumeQueue) reset() {
	cq.files.dropFrom(0)
	cq.min.Store(0)
	cq.max.Store(0)
	cq.next, cq.flushed = 0, 0
}

// flush writes entries up to max to disk.
func (cq *consumeQueue) flush() error {
	max := cq.max.Load()
	if max <= cq.flushed {
		return nil
	}
	if err := cq.files.syncRange(cq.flushed*cqEntrySize, max*cqEntrySize); err != nil {
		return err
	}
	cq.flushed = max
	return nil
}

// deleteBelow drops whole files whose every message is below minPhy and
// advances min. It returns how many files went.
func (cq *consumeQueue) deleteBelow(minPhy int64) int {
	l := cq.files.load()
	drop := 0
	for i := 0; i+1 < len(l.files); i++ { // never the last: it carries max
		f := l.files[i]
		lastOff := (f.base+cq.files.size)/cqEntrySize - 1
		if p, size, _ := cqEntry(f, lastOff); size != 0 && p+int64(size) <= minPhy {
			drop++
			continue
		}
		break
	}
	cq.files.dropFront(drop)
	if m := cq.searchPhy(minPhy); m > cq.min.Load() {
		cq.min.Store(m)
	}
	return drop
}
