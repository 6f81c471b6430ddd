package store

import (
	"bytes"
	"context"
	"syscall"
	"testing"
	"time"
	"unsafe"
)

// The commit log is pre-faulted ahead of the write position: once appends
// enter a new chunk, the chunks after it become resident in the page cache
// without anyone writing them (a fallocated file has no cached pages until
// touched). Without the warmer they would stay absent until the appender
// faulted them in under the append lock.
func TestCommitLogPrefaultedAhead(t *testing.T) {
	cfg := smallConfig(t.TempDir())
	cfg.CommitLogSegmentSize = 16 * warmChunk
	cfg.MaxMessageSize = 256 << 10
	s := mustOpen(t, cfg)
	defer mustClose(t, s)
	body := make([]byte, 2<<10) // below pwriteMin: written through the warmed mapping
	for s.wrote.Load() < warmChunk+warmChunk/2 {
		if _, err := s.Append(context.Background(), newMsg("T", 0, body, "", "")); err != nil {
			t.Fatal(err)
		}
	}
	seg := s.cl.load().last()
	from, to := int64(2*warmChunk), int64(2*warmChunk+warmAhead)
	deadline := time.Now().Add(10 * time.Second)
	for {
		absent := absentPages(t, seg.data[from:to])
		if absent == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d pages of [%d, %d) still not resident, %d bytes written", absent, from, to, s.wrote.Load())
		}
		time.Sleep(5 * time.Millisecond)
	}
	// Far beyond the window nothing was touched.
	if absent := absentPages(t, seg.data[12*warmChunk:13*warmChunk]); absent == 0 {
		t.Errorf("chunk 12 resident although nothing asked for it")
	}
}

// absentPages counts the pages of b that mincore reports not resident.
func absentPages(t *testing.T, b []byte) int {
	t.Helper()
	page := syscall.Getpagesize()
	vec := make([]byte, (len(b)+page-1)/page)
	_, _, errno := syscall.Syscall(syscall.SYS_MINCORE, uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)), uintptr(unsafe.Pointer(&vec[0])))
	if errno != 0 {
		t.Skipf("mincore: %v", errno)
	}
	n := 0
	for _, v := range vec {
		if v&1 == 0 {
			n++
		}
	}
	return n
}

// The warm requests posted while a segment is appended to are disjoint and
// leave no gap: each crossing into a new chunk asks only for the chunk that
// enters the window, and a request dropped because the warmer was behind is
// asked for again at the next crossing.
func TestWarmRequestsDisjoint(t *testing.T) {
	s := &Store{warm: make(chan warmReq, 64)}
	m := &mappedFile{size: 64 * warmChunk}
	drain := func() []warmReq {
		var out []warmReq
		for {
			select {
			case r := <-s.warm:
				out = append(out, r)
			default:
				return out
			}
		}
	}
	const rec = 300 << 10
	var got []warmReq
	for pos := int64(0); pos+rec <= 20*warmChunk; pos += rec {
		if pos/warmChunk == 10 && len(s.warm) < cap(s.warm) {
			got = append(got, drain()...)
			for len(s.warm) < cap(s.warm) { // the warmer stalls: posts are dropped
				s.warm <- warmReq{m: &mappedFile{}, from: 0, to: 1}
			}
		}
		if pos/warmChunk == 12 && len(s.warm) == cap(s.warm) {
			drain() // the stall's fillers; the warmer is back
		}
		s.warmAfterAppend(m, pos, pos+rec)
	}
	got = append(got, drain()...)
	next := int64(rec) // the first request starts where the first record ended
	for i, r := range got {
		if r.m != m || r.from != next || r.to <= r.from {
			t.Fatalf("request %d [%d, %d), want it to start at %d (all: %v)", i, r.from, r.to, next, got)
		}
		next = r.to
	}
	if want := int64(20*warmChunk/rec*rec/warmChunk+1)*warmChunk + warmAhead; next != want {
		t.Errorf("populated window ends at %d, want %d", next, want)
	}
}

// Appends of pwriteMin bytes and more go to the file with pwrite, smaller
// ones through the mapping; readers see both through the mapping, in
// order and intact. Only the small ones ask the warmer for anything.
func TestLargeAppendsWrittenWithPwrite(t *testing.T) {
	cfg := smallConfig(t.TempDir())
	cfg.CommitLogSegmentSize = 64 * warmChunk
	cfg.MaxMessageSize = 256 << 10
	s := mustOpen(t, cfg)
	defer mustClose(t, s)
	sizes := []int{100, pwriteMin, 16 << 10, 1 << 10, 200 << 10, 3 << 10}
	var want [][]byte
	for i := range 60 {
		body := make([]byte, sizes[i%len(sizes)])
		for j := range body {
			body[j] = byte(i*7 + j)
		}
		want = append(want, body)
		if _, err := s.Append(context.Background(), newMsg("W", 0, body, "", "")); err != nil {
			t.Fatal(err)
		}
	}
	got := readAll(t, s, "W", 0)
	if len(got) != len(want) {
		t.Fatalf("read %d records, want %d", len(got), len(want))
	}
	for i := range want {
		if !bytes.Equal(got[i].Body, want[i]) {
			t.Fatalf("record %d (%d bytes) differs", i, len(want[i]))
		}
	}

	// The warmer's bookkeeping moves only with appends through the mapping.
	s.appendMu.Lock()
	seg, to := s.warmSeg, s.warmTo
	s.appendMu.Unlock()
	for range 24 { // 1.5 MiB: into the next chunk at least
		if _, err := s.Append(context.Background(), newMsg("W", 0, make([]byte, 64<<10), "", "")); err != nil {
			t.Fatal(err)
		}
	}
	s.appendMu.Lock()
	defer s.appendMu.Unlock()
	if s.warmSeg != seg || s.warmTo != to {
		t.Errorf("64 KiB appends moved the pre-fault window (%p %d -> %p %d)", seg, to, s.warmSeg, s.warmTo)
	}
}

// A large append that falls inside the range the warmer has already
// faulted in is copied through the mapping (the cheaper path there); past
// that range large appends go back to pwrite and do not extend it.
func TestLargeAppendInsidePrefaultedRange(t *testing.T) {
	cfg := smallConfig(t.TempDir())
	cfg.CommitLogSegmentSize = 64 * warmChunk
	cfg.MaxMessageSize = 256 << 10
	s := mustOpen(t, cfg)
	defer mustClose(t, s)
	ctx := context.Background()
	for range 8 { // small appends: the warmer is asked for the window ahead
		if _, err := s.Append(ctx, newMsg("W", 0, make([]byte, 1<<10), "", "")); err != nil {
			t.Fatal(err)
		}
	}
	seg := s.cl.load().last()
	deadline := time.Now().Add(10 * time.Second)
	for seg.populated.Load() < s.wrote.Load()+warmChunk {
		if time.Now().After(deadline) {
			t.Fatalf("warmer populated up to %d, wrote %d", seg.populated.Load(), s.wrote.Load())
		}
		time.Sleep(5 * time.Millisecond)
	}
	big := bytes.Repeat([]byte{0xA5}, 16<<10)
	before := s.pwrites.Load()
	if _, err := s.Append(ctx, newMsg("W", 0, big, "", "")); err != nil {
		t.Fatal(err)
	}
	if n := s.pwrites.Load() - before; n != 0 {
		t.Errorf("a 16 KiB append inside the pre-faulted range took pwrite (%d)", n)
	}
	populated := seg.populated.Load()
	for s.wrote.Load() < populated+(64<<10) {
		if _, err := s.Append(ctx, newMsg("W", 0, big, "", "")); err != nil {
			t.Fatal(err)
		}
	}
	if s.pwrites.Load() == before {
		t.Errorf("16 KiB appends past the pre-faulted range (%d) never took pwrite", populated)
	}
	got := readAll(t, s, "W", 0)
	for i, m := range got[8:] {
		if !bytes.Equal(m.Body, big) {
			t.Fatalf("large record %d differs", i)
		}
	}
}
