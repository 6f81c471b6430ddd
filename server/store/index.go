package store

import (
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"
)

// Index file layout (modelled on RocketMQ's IndexFile):
//
//	header  40 bytes: beginTimestamp 8, endTimestamp 8, beginPhyOffset 8,
//	                  endPhyOffset 8, slotsUsed 4, entryCount 4
//	slots   IndexSlots × 4 bytes: number of the newest entry in the slot
//	entries IndexEntries × 20 bytes: keyHash 4, phyOffset 8,
//	                  seconds since beginTimestamp 4, previous entry 4
//
// Entry numbers start at 1 so that a zero slot means empty. Each slot is the
// head of a linked list through "previous entry", newest first, which is what
// lets a query stop early once it passes the start of its time range.
const (
	idxHeaderLen = 40
	idxSlotLen   = 4
	idxEntryLen  = 20
)

const (
	hdrBeginTs  = 0
	hdrEndTs    = 8
	hdrBeginPhy = 16
	hdrEndPhy   = 24
	hdrSlots    = 32
	hdrCount    = 36
)

// keyHash hashes "topic#key" like Java's String.hashCode over the bytes,
// without building the string.
func keyHash(topic string, key []byte) uint32 {
	var h int32
	for i := 0; i < len(topic); i++ {
		h = 31*h + int32(topic[i])
	}
	h = 31*h + '#'
	for _, c := range key {
		h = 31*h + int32(c)
	}
	if h < 0 {
		h = -h
		if h < 0 { // MinInt32
			h = 0
		}
	}
	return uint32(h)
}

type indexFile struct {
	mf      *mappedFile
	slots   int
	entries int
	flushed int // entry count at the last flush (under indexService.mu)
}

func (f *indexFile) hdr64(off int) int64 { return int64(binary.BigEndian.Uint64(f.mf.data[off:])) }
func (f *indexFile) hdr32(off int) int   { return int(binary.BigEndian.Uint32(f.mf.data[off:])) }
func (f *indexFile) set64(off int, v int64) {
	binary.BigEndian.PutUint64(f.mf.data[off:], uint64(v))
}
func (f *indexFile) set32(off int, v int) { binary.BigEndian.PutUint32(f.mf.data[off:], uint32(v)) }

func (f *indexFile) count() int      { return f.hdr32(hdrCount) }
func (f *indexFile) full(n int) bool { return f.count()+n > f.entries }
func (f *indexFile) slotPos(h uint32) int {
	return idxHeaderLen + int(h%uint32(f.slots))*idxSlotLen
}
func (f *indexFile) entryPos(n int) int {
	return idxHeaderLen + f.slots*idxSlotLen + (n-1)*idxEntryLen
}

func (f *indexFile) entry(n int) (h uint32, phy int64, secs int32, prev int) {
	b := f.mf.data[f.entryPos(n):]
	return binary.BigEndian.Uint32(b), int64(binary.BigEndian.Uint64(b[4:])),
		int32(binary.BigEndian.Uint32(b[12:])), int(binary.BigEndian.Uint32(b[16:]))
}

// put adds one key. The entry and the count are written before the slot, so
// a crash at any point leaves either no trace or an entry undo can remove.
func (f *indexFile) put(h uint32, phy, ts int64) {
	n := f.count() + 1
	if n == 1 {
		f.set64(hdrBeginTs, ts)
		f.set64(hdrBeginPhy, phy)
	}
	sp := f.slotPos(h)
	prev := f.hdr32(sp)
	if prev > n-1 {
		prev = 0 // stale slot from a torn write: treat as empty
	}
	secs := (ts - f.hdr64(hdrBeginTs)) / 1000
	if secs < 0 {
		secs = 0
	}
	b := f.mf.data[f.entryPos(n):]
	binary.BigEndian.PutUint32(b, h)
	binary.BigEndian.PutUint64(b[4:], uint64(phy))
	binary.BigEndian.PutUint32(b[12:], uint32(secs))
	binary.BigEndian.PutUint32(b[16:], uint32(prev))
	f.set32(hdrCount, n)
	if prev == 0 {
		f.set32(hdrSlots, f.hdr32(hdrSlots)+1)
	}
	f.set32(sp, n)
	if ts > f.hdr64(hdrEndTs) {
		f.set64(hdrEndTs, ts)
	}
	f.set64(hdrEndPhy, phy)
}

// undoFrom removes every entry whose commit-log offset is >= phy, newest
// first, restoring each slot to its previous head.
func (f *indexFile) undoFrom(phy int64) {
	n := f.count()
	for n > 0 {
		h, p, _, prev := f.entry(n)
		if p < phy {
			break
		}
		sp := f.slotPos(h)
		if f.hdr32(sp) == n {
			f.set32(sp, prev)
		}
		clear(f.mf.data[f.entryPos(n) : f.entryPos(n)+idxEntryLen])
		n--
	}
	f.set32(hdrCount, n)
	if n > 0 {
		_, p, _, _ := f.entry(n)
		f.set64(hdrEndPhy, p)
	}
}

// indexService owns the index files. One mutex serialises writers (the
// appender) and queries; queries are rare next to appends.
type indexService struct {
	dir     string
	slots   int
	entries int
	alloc   allocFunc
	mu      sync.Mutex
	files   []*indexFile
	// created is a file ensure just created whose slot table the store
	// has not yet asked to be pre-faulted (see warm.go); append lock only.
	created *mappedFile
}

func (ix *indexService) fileSize() int64 {
	return int64(idxHeaderLen + ix.slots*idxSlotLen + ix.entries*idxEntryLen)
}

func (ix *indexService) open() error {
	entries, err := os.ReadDir(ix.dir)
	if err != nil && !os.IsNotExist(err) {
		return fmt.Errorf("store: read dir %s: %w", ix.dir, err)
	}
	var names []string
	for _, e := range entries {
		if !e.IsDir() && len(e.Name()) == 17 {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	for i, n := range names {
		p := filepath.Join(ix.dir, n)
		st, err := os.Stat(p)
		if err != nil {
			return fmt.Errorf("store: stat %s: %w", p, err)
		}
		if st.Size() == 0 && i == len(names)-1 {
			// A crash between creating the newest file and reserving its
			// blocks: it holds nothing, and recovery re-indexes the log.
			if err := os.Remove(p); err != nil {
				return fmt.Errorf("store: remove empty index file: %w", err)
			}
			continue
		}
		if st.Size() != ix.fileSize() {
			// Written with another slot/entry configuration; its layout
			// cannot be read with ours.
			return fmt.Errorf("%w: index file %s has %d bytes, want %d", ErrCorruptStore, p, st.Size(), ix.fileSize())
		}
		m, err := openMapped(p, 0, ix.fileSize())
		if err != nil {
			return err
		}
		f := &indexFile{mf: m, slots: ix.slots, entries: ix.entries}
		f.flushed = f.count()
		ix.files = append(ix.files, f)
	}
	return nil
}

// ensure makes room for n entries, rolling to a new file when the current
// one is full. Called under the append lock, before the commit-log write.
// hasRoom reports whether the open index file takes n more entries.
func (ix *indexService) hasRoom(n int) bool {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	return len(ix.files) > 0 && !ix.files[len(ix.files)-1].full(n)
}

func (ix *indexService) ensure(n int, now time.Time) error {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	if len(ix.files) > 0 && !ix.files[len(ix.files)-1].full(n) {
		return nil
	}
	if err := os.MkdirAll(ix.dir, 0o755); err != nil {
		return fmt.Errorf("store: mkdir %s: %w", ix.dir, classifyIOError(err))
	}
	name := now.UTC().Format("20060102150405.000")
	name = name[:14] + name[15:]
	for i := 0; ; i++ { // names are timestamps; never reuse one
		if _, err := os.Stat(filepath.Join(ix.dir, name)); os.IsNotExist(err) {
			break
		}
		name = now.Add(time.Duration(i+1) * time.Millisecond).UTC().Format("20060102150405.000")
		name = name[:14] + name[15:]
	}
	// The full file is left for the checkpointer to flush: syncing
	// hundreds of megabytes here would stall every append.
	m, err := createMapped(filepath.Join(ix.dir, name), 0, ix.fileSize(), ix.alloc)
	if err != nil {
		return err
	}
	ix.files = append(ix.files, &indexFile{mf: m, slots: ix.slots, entries: ix.entries})
	ix.created = m
	return nil
}

func (ix *indexService) put(h uint32, phy, ts int64) {
	ix.mu.Lock()
	ix.files[len(ix.files)-1].put(h, phy, ts)
	ix.mu.Unlock()
}

// query collects up to max commit-log offsets for the key within
// [begin, end] (ms), newest first. Time bounds are checked at the index's
// one-second resolution; callers re-check exact timestamps.
func (ix *indexService) query(topic string, key []byte, max int, begin, end int64) (offs []int64, lastTs, lastPhy int64) {
	h := keyHash(topic, key)
	ix.mu.Lock()
	defer ix.mu.Unlock()
	for i := len(ix.files) - 1; i >= 0 && len(offs) < max; i-- {
		f := ix.files[i]
		if f.count() == 0 {
			continue
		}
		fb, fe := f.hdr64(hdrBeginTs), f.hdr64(hdrEndTs)
		if i == len(ix.files)-1 {
			lastTs, lastPhy = fe, f.hdr64(hdrEndPhy)
		}
		if fe < begin || fb > end {
			continue
		}
		n := f.hdr32(f.slotPos(h))
		for steps := 0; n > 0 && n <= f.count() && steps <= f.count() && len(offs) < max; steps++ {
			eh, phy, secs, prev := f.entry(n)
			ts := fb + int64(secs)*1000
			if ts > end+1000 {
				n = prev
				continue
			}
			if ts < begin-1000 {
				break // the list runs newest first: nothing older qualifies
			}
			if eh == h {
				offs = append(offs, phy)
			}
			if prev >= n {
				break // a cycle would only come from corruption
			}
			n = prev
		}
	}
	return offs, lastTs, lastPhy
}

// undoFrom drops every entry at or past phy: whole files that begin there
// are deleted, the file straddling it is rolled back entry by entry.
func (ix *indexService) undoFrom(phy int64) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	for len(ix.files) > 0 {
		f := ix.files[len(ix.files)-1]
		if f.count() > 0 && f.hdr64(hdrBeginPhy) < phy {
			f.undoFrom(phy)
			break
		}
		f.mf.destroy(true)
		ix.files = ix.files[:len(ix.files)-1]
	}
	if len(ix.files) > 0 {
		ix.files[len(ix.files)-1].flushed = -1 // rolled back: flush again
	}
}

// flush makes new entries durable in every file that has some (the newest,
// and a file that filled up since the last flush). Entries are spread over
// a file (slots are random), so whole mappings are synced; the kernel
// writes only dirty pages.
func (ix *indexService) flush() error {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	for _, f := range ix.files {
		if c := f.count(); c != f.flushed {
			if err := f.mf.sync(0, f.mf.size); err != nil {
				return err
			}
			f.flushed = c
		}
	}
	return nil
}

// deleteBelow removes files (never the newest) whose entries all point below
// minPhy.
func (ix *indexService) deleteBelow(minPhy int64) int {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	n := 0
	for len(ix.files) > 1 && ix.files[0].hdr64(hdrEndPhy) < minPhy {
		ix.files[0].mf.destroy(true)
		ix.files = ix.files[1:]
		n++
	}
	return n
}

func (ix *indexService) close() {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	for _, f := range ix.files {
		f.mf.destroy(false)
	}
	ix.files = nil
}
