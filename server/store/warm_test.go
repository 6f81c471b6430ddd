package store

import (
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
	body := make([]byte, 200<<10)
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
