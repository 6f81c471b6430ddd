package store

import (
	"bytes"
	"context"
	"encoding/binary"
	"os"
	"sync"
	"testing"
	"time"
)

// The write-back requests posted while the log grows are contiguous, end a
// lag behind the write position, and one dropped because the goroutine was
// behind is covered by the next one accepted.
func TestWritebackRequestsContiguous(t *testing.T) {
	s := &Store{writeback: make(chan writebackReq, 4)}
	// drain empties the queue, leaving out the stall's fillers.
	drain := func() []writebackReq {
		var out []writebackReq
		for {
			select {
			case r := <-s.writeback:
				if r.from >= 0 {
					out = append(out, r)
				}
			default:
				return out
			}
		}
	}
	const rec = 300 << 10
	var got []writebackReq
	end := int64(0)
	for end+rec <= 40*writebackChunk {
		end += rec
		stalled := end/writebackChunk >= 10 && end/writebackChunk < 15
		if stalled && len(s.writeback) < cap(s.writeback) {
			got = append(got, drain()...)
			for len(s.writeback) < cap(s.writeback) { // the goroutine stalls: posts are dropped
				s.writeback <- writebackReq{from: -1, to: -1}
			}
		}
		s.writebackAfterAppend(end)
		if s.wbAsked > max(end-writebackLag, 0) {
			t.Fatalf("asked up to %d with the log at %d: inside the lag of %d", s.wbAsked, end, writebackLag)
		}
		if !stalled {
			got = append(got, drain()...)
		}
	}
	next := int64(0)
	for i, r := range got {
		if r.from != next || r.to <= r.from || r.to%writebackChunk != 0 {
			t.Fatalf("request %d [%d, %d), want it to start at %d and end on a chunk boundary (all: %v)", i, r.from, r.to, next, got)
		}
		next = r.to
	}
	if want := end - end%writebackChunk - writebackLag; next != want {
		t.Errorf("write-back asked up to %d, want %d", next, want)
	}
}

// Behind the appender, an ASYNC_FLUSH log's pages are queued for
// write-back and no longer mapped in this process (so write-back has no
// page-table entry to write-protect page by page), while every byte stays
// readable, through the mapping and in the file, and survives a reopen.
func TestWritebackUnmapsBehindAppender(t *testing.T) {
	cfg := smallConfig(t.TempDir())
	cfg.CommitLogSegmentSize = 8 * writebackChunk
	cfg.MaxMessageSize = 256 << 10
	cfg.FlushInterval = time.Hour // only the write-back goroutine touches the log's pages
	cfg.CheckpointInterval = time.Hour
	var mu sync.Mutex
	started := int64(0)
	s := mustOpen(t, cfg, func(o *options) {
		o.onWriteback = func(from, to int64) {
			mu.Lock()
			started = max(started, to)
			mu.Unlock()
		}
	})
	body := make([]byte, 2<<10) // below pwriteMin: written through the mapping
	n := 0
	for s.wrote.Load() < 5*writebackChunk {
		binary.BigEndian.PutUint64(body, uint64(n))
		if _, err := s.Append(context.Background(), newMsg("T", 0, body, "", "")); err != nil {
			t.Fatal(err)
		}
		n++
	}
	want := int64(3 * writebackChunk)
	deadline := time.Now().Add(10 * time.Second)
	for {
		mu.Lock()
		got := started
		mu.Unlock()
		if got >= want {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("write-back started up to %d, want %d (log at %d)", got, want, s.wrote.Load())
		}
		time.Sleep(5 * time.Millisecond)
	}
	seg := s.cl.load().last()
	if mapped := mappedPages(t, seg.data[:want]); mapped != 0 {
		t.Errorf("%d pages of [0, %d) still mapped after their write-back started", mapped, want)
	}
	// The appender's current chunk was not touched.
	at := s.wrote.Load() - seg.base
	if mapped := mappedPages(t, seg.data[at-at%4096-4096:at-at%4096]); mapped != 1 {
		t.Errorf("the page just written is not mapped: write-back reached into the lag")
	}
	inFile := make([]byte, want)
	if _, err := seg.f.ReadAt(inFile, 0); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(inFile, seg.data[:want]) {
		t.Fatal("the file and the mapping differ after the mapping was dropped")
	}
	check := func(s *Store) {
		t.Helper()
		recs := readAll(t, s, "T", 0)
		if len(recs) != n {
			t.Fatalf("read %d records, appended %d", len(recs), n)
		}
		for i, r := range recs {
			if got := binary.BigEndian.Uint64(r.Body); got != uint64(i) {
				t.Fatalf("record %d carries %d", i, got)
			}
		}
	}
	check(s)
	mustClose(t, s)
	s = mustOpen(t, cfg)
	defer mustClose(t, s)
	check(s)
}

// A SYNC_FLUSH log syncs every group commit and starts no write-back of
// its own.
func TestWritebackOffUnderSyncFlush(t *testing.T) {
	cfg := smallConfig(t.TempDir())
	cfg.FlushDiskType = SyncFlush
	cfg.CommitLogSegmentSize = 8 * writebackChunk
	cfg.MaxMessageSize = 256 << 10
	calls := 0
	var mu sync.Mutex
	s := mustOpen(t, cfg, func(o *options) {
		o.onWriteback = func(from, to int64) { mu.Lock(); calls++; mu.Unlock() }
	})
	defer mustClose(t, s)
	if s.writeback != nil {
		t.Fatal("a SYNC_FLUSH store has a write-back queue")
	}
	body := make([]byte, 60<<10)
	for s.wrote.Load() < 4*writebackChunk {
		mustAppend(t, s, newMsg("T", 0, body, "", ""))
	}
	mu.Lock()
	defer mu.Unlock()
	if s.wbAsked != 0 || calls != 0 {
		t.Errorf("write-back asked up to %d, %d ranges started", s.wbAsked, calls)
	}
}

// mappedPages counts the pages of b that have a page-table entry in this
// process (unmappedPages reads /proc/self/pagemap), which mincore cannot
// tell: it reports page-cache residency.
func mappedPages(t *testing.T, b []byte) int {
	t.Helper()
	page := os.Getpagesize()
	return (len(b)+page-1)/page - unmappedPages(t, b)
}

// A truncation moves the write-back position back with the log's end, so
// the records appended after it are written back too, starting at the cut.
func TestWritebackFollowsTruncation(t *testing.T) {
	cfg := smallConfig(t.TempDir())
	cfg.CommitLogSegmentSize = 8 * writebackChunk
	cfg.MaxMessageSize = 256 << 10
	cfg.FlushInterval = time.Hour
	cfg.CheckpointInterval = time.Hour
	var mu sync.Mutex
	var reqs []writebackReq
	s := mustOpen(t, cfg, func(o *options) {
		o.onWriteback = func(from, to int64) {
			mu.Lock()
			reqs = append(reqs, writebackReq{from, to})
			mu.Unlock()
		}
	})
	defer mustClose(t, s)
	body := make([]byte, 60<<10)
	var cut int64
	for s.wrote.Load() < 5*writebackChunk {
		r := mustAppend(t, s, newMsg("T", 0, body, "", ""))
		if cut == 0 && r.PhysicalOffset >= writebackChunk/2 {
			cut = r.PhysicalOffset
		}
	}
	if err := s.Truncate(cut); err != nil {
		t.Fatal(err)
	}
	s.appendMu.Lock()
	asked := s.wbAsked
	s.appendMu.Unlock()
	if asked > cut {
		t.Fatalf("write-back position %d past the cut %d", asked, cut)
	}
	for s.wrote.Load() < 4*writebackChunk {
		mustAppend(t, s, newMsg("T", 0, body, "", ""))
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		mu.Lock()
		seen := append([]writebackReq(nil), reqs...)
		mu.Unlock()
		found := false
		for _, r := range seen {
			found = found || r.from == asked
		}
		if found {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no write-back from the cut %d after the truncation (requests %v)", asked, seen)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// The periodic ASYNC_FLUSH msync also finds the pages it syncs unmapped,
// the last few MiB the write-back goroutine was not handed yet included,
// except the page the appender is filling.
func TestPeriodicFlushUnmapsSyncedPages(t *testing.T) {
	cfg := smallConfig(t.TempDir())
	cfg.CommitLogSegmentSize = 8 * writebackChunk
	cfg.MaxMessageSize = 256 << 10
	cfg.FlushInterval = 5 * time.Millisecond
	s := mustOpen(t, cfg)
	defer mustClose(t, s)
	body := make([]byte, 1000)
	n := 0
	for s.wrote.Load() < writebackChunk/2 { // no write-back request yet
		mustAppend(t, s, newMsg("T", 0, body, "", ""))
		n++
	}
	// Let the warmer finish what it was asked (it maps pages, possibly
	// behind an appender that outran it), then give the flusher one more
	// record to sync.
	deadline := time.Now().Add(10 * time.Second)
	for {
		s.appendMu.Lock()
		asked, seg := s.warmTo, s.warmSeg
		s.appendMu.Unlock()
		if seg.populated.Load() >= asked {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the warmer populated up to %d of %d", seg.populated.Load(), asked)
		}
		time.Sleep(2 * time.Millisecond)
	}
	mustAppend(t, s, newMsg("T", 0, body, "", ""))
	n++
	end := s.wrote.Load()
	for s.FlushedPhysicalOffset() < end {
		if time.Now().After(deadline) {
			t.Fatalf("flushed %d of %d", s.FlushedPhysicalOffset(), end)
		}
		time.Sleep(2 * time.Millisecond)
	}
	seg := s.cl.load().last()
	whole := end - end%4096
	if mapped := mappedPages(t, seg.data[:whole]); mapped != 0 {
		t.Errorf("%d pages of the flushed [0, %d) still mapped", mapped, whole)
	}
	if got := len(readAll(t, s, "T", 0)); got != n {
		t.Fatalf("read %d records back, appended %d", got, n)
	}
}
