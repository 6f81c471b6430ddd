package store

import (
	"encoding/binary"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"sync/atomic"
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
	return keyHashFrom(topicSeed(topic), key)
}

// topicSeed is the String.hashCode state after "topic#", the part of the
// hash shared by every key of a message: a trace message has hundreds.
func topicSeed(topic string) int32 {
	var h int32
	for i := 0; i < len(topic); i++ {
		h = 31*h + int32(topic[i])
	}
	return 31*h + '#'
}

// keyHashFrom continues the hash from seed over key and folds it to the
// index's non-negative form. Four bytes a step: h*31⁴ + c0*31³ + c1*31² +
// c2*31 + c3 is the same sum modulo 2³² as four steps of h = 31h + c, but
// its products do not wait on each other, where each step of the byte loop
// waits for the one before.
//
// Eight bytes a step first, the same sum with the powers up to 31⁸ (they
// wrap modulo 2³² as the steps do): a 32-digit message id takes four
// dependent steps instead of eight.
func keyHashFrom(seed int32, key []byte) uint32 {
	const p2, p3, p4 = 31 * 31, 31 * 31 * 31, 31 * 31 * 31 * 31
	// 31⁵ and 31⁶ fit; 31⁷ and 31⁸ modulo 2³², as int32.
	const p5, p6, p7, p8 int32 = p4 * 31, p4 * p2, 1742810335, -1807454463
	h := seed
	for len(key) >= 8 {
		k := key[:8]
		h = h*p8 + int32(k[0])*p7 + int32(k[1])*p6 + int32(k[2])*p5 + int32(k[3])*p4 +
			int32(k[4])*p3 + int32(k[5])*p2 + int32(k[6])*31 + int32(k[7])
		key = key[8:]
	}
	for len(key) >= 4 {
		h = h*p4 + int32(key[0])*p3 + int32(key[1])*p2 + int32(key[2])*31 + int32(key[3])
		key = key[4:]
	}
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
	// touched is the highest entry number written since the last flush
	// (under indexService.mu), hence also the highest undoFrom may have
	// cleared: what the next flush must cover.
	touched int
	sink    byte // keeps putAll's slot prefetch loads from being dropped
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

// countEntries finds how many entries the file holds from the entries
// themselves, for a header whose count is damaged: entries are written in
// order into a zeroed area, so the written ones are a prefix, and an entry
// is never all zeros (its record's key hash, offset and previous head
// would all have to be 0 in the file's first second).
func (f *indexFile) countEntries() int {
	lo, hi := 0, f.entries // entry lo is written (or lo is 0), entries past hi are not
	for lo < hi {
		mid := (lo + hi + 1) / 2
		pos := f.entryPos(mid)
		if allZero(f.mf.data[pos : pos+idxEntryLen]) {
			hi = mid - 1
		} else {
			lo = mid
		}
	}
	return lo
}

// setEntry writes entry n: the key's hash, the record's commit-log offset,
// its seconds since the file's first record and the slot's previous head.
func (f *indexFile) setEntry(n int, h uint32, phy, secs int64, prev int) {
	b := f.mf.data[f.entryPos(n):]
	binary.BigEndian.PutUint32(b, h)
	binary.BigEndian.PutUint64(b[4:], uint64(phy))
	binary.BigEndian.PutUint32(b[12:], uint32(secs))
	binary.BigEndian.PutUint32(b[16:], uint32(prev))
}

func (f *indexFile) entry(n int) (h uint32, phy int64, secs int32, prev int) {
	b := f.mf.data[f.entryPos(n):]
	return binary.BigEndian.Uint32(b), int64(binary.BigEndian.Uint64(b[4:])),
		int32(binary.BigEndian.Uint32(b[12:])), int(binary.BigEndian.Uint32(b[16:]))
}

// putAll adds the keys of one record. The slots of all of them are read
// first: they lie at random in a table of tens of megabytes, so nearly each
// is a cache (and TLB) miss, and loads that do not depend on each other
// overlap where the puts, each waiting for its slot before the next,
// would take the misses one after another. A trace message has hundreds.
//
// Per key the entry and the count are written before the slot, so a crash
// at any point leaves either no trace or an entry undo can remove; the
// header fields every key of the record would set alike (end time and
// offset, slots used) are written once after them, with the result of one
// put per key (TestIndexPutAllSameAsPuts keeps that reference put).
func (f *indexFile) putAll(hs []uint32, phy, ts int64) {
	if len(hs) == 0 {
		return
	}
	if len(hs) > 1 {
		f.sink = f.loadSlots(hs)
	}
	n := f.count()
	if n == 0 {
		f.set64(hdrBeginTs, ts)
		f.set64(hdrBeginPhy, phy)
	}
	secs := max((ts-f.hdr64(hdrBeginTs))/1000, 0)
	used := 0
	for _, h := range hs {
		n++
		sp := f.slotPos(h)
		prev := f.hdr32(sp)
		if prev > n-1 {
			prev = 0 // stale slot from a torn write: treat as empty
		}
		f.setEntry(n, h, phy, secs, prev)
		f.set32(hdrCount, n)
		if prev == 0 {
			used++
		}
		f.set32(sp, n)
	}
	if used > 0 {
		f.set32(hdrSlots, f.hdr32(hdrSlots)+used)
	}
	if ts > f.hdr64(hdrEndTs) {
		f.set64(hdrEndTs, ts)
	}
	f.set64(hdrEndPhy, phy)
	f.touched = max(f.touched, n)
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
	// warmFile and warmTo (append lock only) are the file whose entry
	// area is being pre-faulted and the end of the last request for it.
	warmFile *mappedFile
	warmTo   int64
	// newest is files' last element (nil when there is none), for
	// prefetchSlots, which reads it without mu. Set under mu.
	newest atomic.Pointer[indexFile]
	// syncing, when set (tests), runs in flush between taking its
	// snapshot and syncing, without mu.
	syncing func()
	// log reports damage open repairs; nil in tests that build the
	// service alone.
	log *slog.Logger
}

// setNewest records files' last element after files changed (under mu).
func (ix *indexService) setNewest() {
	if len(ix.files) == 0 {
		ix.newest.Store(nil)
		return
	}
	ix.newest.Store(ix.files[len(ix.files)-1])
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
		if n := f.count(); n > f.entries {
			// A damaged header: every walk of the file trusts its count.
			f.set32(hdrCount, f.countEntries())
			if ix.log != nil {
				ix.log.Warn("index file with a damaged entry count; counted its entries instead", "file", p, "count", n, "entries", f.count())
			}
		}
		f.flushed = f.count()
		f.touched = f.flushed
		ix.files = append(ix.files, f)
	}
	ix.setNewest()
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
	ix.setNewest()
	ix.created = m
	return nil
}

func (ix *indexService) put(h uint32, phy, ts int64) {
	hs := [1]uint32{h}
	ix.putAll(hs[:], phy, ts)
}

// putAll adds the keys of one record to the newest file, under one hold of
// the lock, and returns that file and the end of its entries.
func (ix *indexService) putAll(hs []uint32, phy, ts int64) (*mappedFile, int64) {
	ix.mu.Lock()
	f := ix.files[len(ix.files)-1]
	f.putAll(hs, phy, ts)
	end := int64(f.entryPos(f.count() + 1))
	ix.mu.Unlock()
	return f.mf, end
}

// prefetchMinKeys is the key count from which an append reads its slots
// before it takes the append lock (prefetchSlots); below it the misses are
// too few to matter.
const prefetchMinKeys = 64

// prefetchSlots reads the slots of hs in the newest file before the append
// lock is taken, without any lock, so that the puts under the lock find
// them in the cache instead of waiting there for hundreds of cache and TLB
// misses (a trace message's 512 keys: BenchmarkTraceKeysBesideSends). The
// values read are thrown away: the puts read each slot again under the
// index lock, so a put racing with this one, or a newer file, costs only
// the head start. hold keeps the mapping from being unmapped meanwhile.
// The result only keeps the loads from being optimised away.
func (ix *indexService) prefetchSlots(hs []uint32) byte {
	f := ix.newest.Load()
	if f == nil || !f.mf.hold() {
		return 0
	}
	x := f.loadSlots(hs)
	f.mf.release()
	return x
}

// loadSlots reads a byte of each slot of hs, independent loads that the
// CPU overlaps; the result only keeps the compiler from dropping them.
func (f *indexFile) loadSlots(hs []uint32) byte {
	var x byte
	for _, h := range hs {
		x ^= f.mf.data[f.slotPos(h)]
	}
	return x
}

// ixWarmAhead is how far past the next entry a file's entry area is kept
// pre-faulted, in warmChunk steps.
const ixWarmAhead = warmChunk

// warmEntries is called under the append lock after entries up to end of
// file m were written. Entries are written in order, so like the commit
// log their area can be populated ahead in the background: the first write
// into a part of the fallocated file not yet in the page cache faults, and
// the fault allocates and zeroes the page-cache folio (large folios on
// this project's kernel: ~190 faults per 3 M entries in
// BenchmarkAppendTraceKeys before this), all under the append lock. A
// trace message's 512 keys are 10 KiB of entries. It returns the request
// to post, if one is due, and takes note of it once accepted via
// warmPosted.
func (ix *indexService) warmEntries(m *mappedFile, end int64) (warmReq, bool) {
	if m != ix.warmFile {
		// A new file: its slot table was asked for when it was created;
		// the entry area starts after it.
		ix.warmFile, ix.warmTo = m, int64(idxHeaderLen+ix.slots*idxSlotLen)
	}
	to := min((end/warmChunk+1)*warmChunk+ixWarmAhead, m.size)
	if ix.warmTo >= to {
		return warmReq{}, false
	}
	return warmReq{m: m, from: max(ix.warmTo, end), to: to}, true
}

// warmPosted records that the request warmEntries returned was queued.
func (ix *indexService) warmPosted(r warmReq) { ix.warmTo = r.to }

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
	ix.setNewest()
	if len(ix.files) > 0 {
		ix.files[len(ix.files)-1].flushed = -1 // rolled back: flush again
	}
}

// flush makes new entries durable in every file that has some (the newest,
// and a file that filled up since the last flush). Slots are written at
// random, so the header, the slot table and every entry written or cleared
// since the last flush are synced in one range; the kernel writes only
// dirty pages. The range stops there: syncing the rest of the mapping would
// write back the pre-faulted pages past the last entry and make each one
// fault again, to be made writable, when its first entry arrives.
//
// The msync runs without mu. It takes milliseconds to tens of them (the
// dirty slot-table and entry pages of a second of appends, more with
// tracing's two index entries per message), and mu is what the appender
// takes, under the commit-log append lock, for every put and for the
// no-wait append's room check: holding it here stalled every send, the
// event loop's inline ones included, once per checkpoint (15–80 ms in a
// traced load test). Entries the appender writes meanwhile lie past the
// count taken here and are left to the next flush; the checkpoint's safe
// offset is read before this runs, so none of them is claimed. Whether a
// page goes to disk before, during or after the msync makes no
// difference to a crash: the kernel writes dirty pages back on its own
// schedule anyway, and recovery re-creates every entry from the safe
// offset on. Nothing removes entries or files meanwhile: undoFrom and
// deleteBelow run under the store's maintenance lock, as the checkpoint
// that calls this does.
func (ix *indexService) flush() error {
	type job struct {
		f     *indexFile
		count int   // entries covered
		to    int64 // end of the synced range
	}
	var buf [2]job
	jobs := buf[:0]
	ix.mu.Lock()
	for _, f := range ix.files {
		if c := f.count(); c != f.flushed && f.mf.hold() {
			jobs = append(jobs, job{f: f, count: c, to: int64(f.entryPos(max(c, f.touched) + 1))})
		}
	}
	ix.mu.Unlock()
	if ix.syncing != nil {
		ix.syncing()
	}
	var err error
	for _, j := range jobs {
		if err == nil {
			if err = j.f.mf.sync(0, j.to); err == nil {
				ix.mu.Lock()
				// Entries written during the sync are above count (and
				// touched only grows past count by an undo, excluded here),
				// so the next flush covers them through count.
				j.f.flushed, j.f.touched = j.count, j.count
				ix.mu.Unlock()
			}
		}
		j.f.mf.release()
	}
	return err
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
	ix.setNewest()
}
