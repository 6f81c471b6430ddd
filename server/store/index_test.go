package store

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
	"testing"
	"time"
	"unsafe"
)

// javaHash is String.hashCode over the bytes of s, one step a byte, folded
// to the index's non-negative form: the reference keyHash must match, since
// the index layout (and its files) follow RocketMQ's.
func javaHash(s string) uint32 {
	var h int32
	for i := 0; i < len(s); i++ {
		h = 31*h + int32(s[i])
	}
	if h < 0 {
		h = -h
		if h < 0 {
			h = 0
		}
	}
	return uint32(h)
}

func TestKeyHashMatchesJavaHashCode(t *testing.T) {
	// Values of Java's "...".hashCode(), absolute.
	for _, c := range []struct {
		topic, key string
		want       uint32
	}{
		{"TopicTest", "ORDER_10001", 1765663713},
		{"RMQ_SYS_TRACE_TOPIC", "7F00000100012A9F3B1C18B4AAC20A6B0000", 1289337020},
	} {
		if got := keyHash(c.topic, []byte(c.key)); got != c.want {
			t.Errorf("keyHash(%q, %q) = %d, want %d", c.topic, c.key, got, c.want)
		}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for n := 0; n < 2000; n++ {
		topic := randString(rng, rng.IntN(20))
		key := randString(rng, rng.IntN(70))
		if got, want := keyHash(topic, []byte(key)), javaHash(topic+"#"+key); got != want {
			t.Fatalf("keyHash(%q, %q) = %d, want %d", topic, key, got, want)
		}
	}
}

func randString(rng *rand.Rand, n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(rng.UintN(256))
	}
	return string(b)
}

// putAll must leave a file exactly as one put per key does, including keys
// that share a slot (the second must chain to the first) or repeat.
func TestIndexPutAllSameAsPuts(t *testing.T) {
	mk := func() (*indexService, *indexFile) {
		ix := &indexService{dir: t.TempDir(), slots: 13, entries: 400, alloc: fallocate}
		if err := ix.ensure(1, time.UnixMilli(1_000_000)); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(ix.close)
		return ix, ix.files[0]
	}
	_, fo := mk()
	all, fa := mk()
	rng := rand.New(rand.NewPCG(3, 4))
	for r := 0; r < 20; r++ {
		hs := make([]uint32, rng.IntN(17))
		for i := range hs {
			hs[i] = rng.Uint32N(40) // few distinct values over 13 slots
		}
		// Times go back now and then (before the file's begin time too):
		// the end time must keep the highest.
		phy, ts := int64(r*100), 999_000+int64(rng.IntN(20))*700
		for _, h := range hs {
			fo.put(h, phy, ts) // the one-key put putAll must match
		}
		all.putAll(hs, phy, ts)
	}
	if !bytes.Equal(fo.mf.data, fa.mf.data) {
		t.Fatal("putAll wrote a different file than one put per key")
	}
	if fa.count() == 0 {
		t.Fatal("nothing written")
	}
}

// A flush must cover every entry written or cleared since the previous
// one, and no further: the pages past it are the pre-faulted ones.
func TestIndexFlushRange(t *testing.T) {
	ix := &indexService{dir: t.TempDir(), slots: 7, entries: 500, alloc: fallocate}
	if err := ix.ensure(1, time.UnixMilli(1_000_000)); err != nil {
		t.Fatal(err)
	}
	defer ix.close()
	f := ix.files[0]
	for i := 0; i < 300; i++ {
		ix.put(uint32(i), int64(i*10), 1_000_000)
	}
	if got, want := f.touched, 300; got != want {
		t.Fatalf("after 300 puts the flush would cover %d entries, want %d", got, want)
	}
	if err := ix.flush(); err != nil {
		t.Fatal(err)
	}
	ix.undoFrom(1000) // back to 100 entries: 101..300 cleared, to be synced
	if got, want := f.touched, 300; got != want {
		t.Fatalf("after undo the flush would cover %d entries, want %d (the cleared ones)", got, want)
	}
	if err := ix.flush(); err != nil {
		t.Fatal(err)
	}
	if f.touched != 100 || f.flushed != 100 {
		t.Fatalf("after flush touched %d flushed %d, want 100", f.touched, f.flushed)
	}
}

// flush syncs without the index lock, which the appender takes for every
// put: puts made while the sync runs must go through, and stay unflushed
// until the next flush covers them.
func TestIndexFlushSyncsWithoutLock(t *testing.T) {
	ix := &indexService{dir: t.TempDir(), slots: 7, entries: 500, alloc: fallocate}
	if err := ix.ensure(1, time.UnixMilli(1_000_000)); err != nil {
		t.Fatal(err)
	}
	defer ix.close()
	f := ix.files[0]
	for i := 0; i < 100; i++ {
		ix.put(uint32(i), int64(i*10), 1_000_000)
	}
	ran, held := false, false
	ix.syncing = func() {
		ran = true
		if !ix.mu.TryLock() {
			held = true // puts here would wait for the flush: deadlock
			return
		}
		ix.mu.Unlock()
		for i := 100; i < 150; i++ {
			ix.put(uint32(i), int64(i*10), 1_000_000)
		}
	}
	if err := ix.flush(); err != nil {
		t.Fatal(err)
	}
	if !ran {
		t.Fatal("flush found nothing to sync")
	}
	if held {
		t.Fatal("flush holds the index lock while syncing")
	}
	if f.flushed != 100 || f.count() != 150 {
		t.Fatalf("after a flush with 50 puts during its sync: flushed %d of %d entries, want 100 of 150", f.flushed, f.count())
	}
	ix.syncing = nil
	if err := ix.flush(); err != nil {
		t.Fatal(err)
	}
	if f.flushed != 150 || f.touched != 150 {
		t.Fatalf("the next flush left flushed %d touched %d, want 150", f.flushed, f.touched)
	}
}

// The index's entry area is pre-faulted ahead of the next entry, like the
// commit log: once entries pass into a new MiB, the next MiB is mapped
// before anything is written there. Page-cache residency (mincore) cannot
// tell, since read-ahead fills the cache far ahead of any fault; whether a
// page is in the process's page tables can (/proc/self/pagemap), and
// without the warmer those would be absent until each first write.
func TestIndexEntriesPrefaultedAhead(t *testing.T) {
	cfg := smallConfig(t.TempDir())
	cfg.IndexSlots, cfg.IndexEntries = 1000, 8*warmChunk/idxEntryLen
	cfg.CommitLogSegmentSize = 64 << 20
	cfg.MaxMessageSize = 256 << 10
	cfg.WideIndexTopics = []string{"T"}
	s := mustOpen(t, cfg)
	defer mustClose(t, s)
	keys := make([]string, 500)
	entriesStart := int64(idxHeaderLen + cfg.IndexSlots*idxSlotLen)
	for r := 0; ; r++ {
		for i := range keys {
			keys[i] = string(rune('a'+r%26)) + strings.Repeat("k", i%7) + string(rune('A'+i%26)) + string(rune('0'+r/26%10))
		}
		if _, err := s.Append(context.Background(), newMsg("T", 0, []byte("x"), "", strings.Join(keys, " "))); err != nil {
			t.Fatal(err)
		}
		if int64(s.ix.files[0].count())*idxEntryLen > warmChunk+warmChunk/2-entriesStart {
			break
		}
	}
	m := s.ix.files[0].mf
	from, to := int64(2*warmChunk), int64(2*warmChunk+ixWarmAhead)
	deadline := time.Now().Add(10 * time.Second)
	for {
		absent := unmappedPages(t, m.data[from:to])
		if absent == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d pages of the index's [%d, %d) still not mapped, next entry at %d", absent, from, to, s.ix.files[0].entryPos(s.ix.files[0].count()+1))
		}
		time.Sleep(5 * time.Millisecond)
	}
	if absent := unmappedPages(t, m.data[6*warmChunk:7*warmChunk]); absent == 0 {
		t.Errorf("index MiB 6 mapped although nothing asked for it")
	}
}

// unmappedPages counts the pages of b that are not present in the
// process's page tables, from /proc/self/pagemap (bit 63 of each page's
// 64-bit entry).
func unmappedPages(t *testing.T, b []byte) int {
	t.Helper()
	f, err := os.Open("/proc/self/pagemap")
	if err != nil {
		t.Skipf("pagemap: %v", err)
	}
	defer f.Close()
	page := uintptr(os.Getpagesize())
	first := uintptr(unsafe.Pointer(&b[0])) / page
	n := (len(b) + int(page) - 1) / int(page)
	buf := make([]byte, 8*n)
	if _, err := f.ReadAt(buf, int64(first*8)); err != nil {
		t.Skipf("pagemap: %v", err)
	}
	absent := 0
	for i := 0; i < n; i++ {
		if binary.LittleEndian.Uint64(buf[8*i:])>>63 == 0 {
			absent++
		}
	}
	return absent
}

// prefetchSlots reads the newest file without the index lock, through
// newest, which must follow every change of the file list: a stale
// pointer would read a file that undo or close unmapped.
func TestIndexNewestFollowsFiles(t *testing.T) {
	ix := &indexService{dir: t.TempDir(), slots: 7, entries: 10, alloc: fallocate}
	check := func(when string) {
		t.Helper()
		var want *indexFile
		if len(ix.files) > 0 {
			want = ix.files[len(ix.files)-1]
		}
		if got := ix.newest.Load(); got != want {
			t.Fatalf("%s: newest %p, want %p (of %d files)", when, got, want, len(ix.files))
		}
	}
	check("empty")
	now := time.UnixMilli(1_000_000)
	for i := 0; i < 25; i++ { // three files
		if err := ix.ensure(1, now.Add(time.Duration(i)*time.Second)); err != nil {
			t.Fatal(err)
		}
		ix.put(uint32(i), int64(i*100), now.UnixMilli()+int64(i)*1000)
		check("after a put")
	}
	if len(ix.files) != 3 {
		t.Fatalf("%d files, want 3", len(ix.files))
	}
	hs := []uint32{1, 2, 3}
	ix.prefetchSlots(hs)
	ix.undoFrom(1500) // drops the third file
	check("after undo")
	ix.prefetchSlots(hs)
	ix.close()
	check("after close")
	ix.prefetchSlots(hs) // nothing to read: must not touch an unmapped file
	ix2 := &indexService{dir: ix.dir, slots: 7, entries: 10, alloc: fallocate}
	if err := ix2.open(); err != nil {
		t.Fatal(err)
	}
	defer ix2.close()
	if ix2.newest.Load() == nil || ix2.newest.Load() != ix2.files[len(ix2.files)-1] {
		t.Fatal("open: newest not the last file")
	}
}

// Appends of many-key records from several goroutines, with queries,
// while their slots are read ahead of the lock (run with -race).
func TestManyKeyAppendsConcurrent(t *testing.T) {
	cfg := smallConfig(t.TempDir())
	cfg.IndexSlots, cfg.IndexEntries = 101, 5000
	cfg.CommitLogSegmentSize = 1 << 20
	cfg.MaxMessageSize = 64 << 10
	cfg.WideIndexTopics = []string{"T"}
	s := mustOpen(t, cfg)
	defer mustClose(t, s)
	done := make(chan error, 4)
	for g := 0; g < 4; g++ {
		go func() {
			for r := 0; r < 30; r++ {
				keys := make([]string, 100)
				for i := range keys {
					keys[i] = string(rune('a'+g)) + string(rune('A'+r%26)) + strings.Repeat("x", i%5) + string(rune('0'+i%10))
				}
				if _, err := s.Append(context.Background(), newMsg("T", int32(g), []byte("x"), "", strings.Join(keys, " "))); err != nil {
					done <- err
					return
				}
				q, err := s.QueryByKey("T", keys[r%100], 4, 0, 1<<62)
				if err != nil {
					done <- err
					return
				}
				n := q.MsgCount
				q.Release()
				if n == 0 {
					done <- fmt.Errorf("goroutine %d round %d: key %q not found after its append", g, r, keys[r%100])
					return
				}
			}
			done <- nil
		}()
	}
	for g := 0; g < 4; g++ {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
}

// put is the one-key put putAll replaced, kept as the reference putAll
// must match byte for byte: the entry and the count before the slot, then
// the slots used and the end time and offset.
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
	secs := max((ts-f.hdr64(hdrBeginTs))/1000, 0)
	f.setEntry(n, h, phy, secs, prev)
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
