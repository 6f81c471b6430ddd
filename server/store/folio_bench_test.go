package store

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// BenchmarkCopyIntoMapping is the commit-log copy on its own: 1,200-byte
// records copied one after another into a shared mapping of a fallocated
// file that was pre-faulted (populate, in warmChunk pieces as warmLoop
// does) under read-ahead off (MADV_RANDOM: 4 KiB folios, what a SYNC_FLUSH
// store appends into) or the default advice (large folios, ASYNC_FLUSH).
// No copy faults in either. The two alternate a MiB at a time inside every
// iteration, so that a shared machine's load hits both alike; the metrics
// are ns per record copied into each and their ratio.
func BenchmarkCopyIntoMapping(b *testing.B) {
	const size, rec = 64 << 20, 1200
	type target struct {
		advice int
		f      *os.File
		data   []byte
		pos    int
		spent  time.Duration
		n      int
	}
	dir := b.TempDir()
	src := make([]byte, rec)
	fresh := func(t *target, name string) {
		if t.data != nil {
			syscall.Munmap(t.data)
			t.f.Close()
		}
		var err error
		if t.f, err = os.Create(filepath.Join(dir, name)); err != nil {
			b.Fatal(err)
		}
		if err := syscall.Fallocate(int(t.f.Fd()), 0, 0, size); err != nil {
			b.Skip("fallocate:", err)
		}
		if t.data, err = syscall.Mmap(int(t.f.Fd()), 0, size, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_SHARED); err != nil {
			b.Fatal(err)
		}
		syscall.Madvise(t.data, t.advice)
		m := &mappedFile{data: t.data, size: size}
		for off := int64(0); off < size; off += warmChunk {
			if err := m.populate(off, off+warmChunk); err != nil {
				b.Skip("MADV_POPULATE_WRITE:", err)
			}
		}
		t.pos = 0
	}
	random, normal := &target{advice: syscall.MADV_RANDOM}, &target{advice: syscall.MADV_NORMAL}
	fresh(random, "random")
	fresh(normal, "default")
	b.SetBytes(2 * warmChunk)
	b.ResetTimer()
	for range b.N {
		for _, t := range []*target{random, normal} {
			if t.pos+warmChunk > size {
				b.StopTimer()
				fresh(t, map[int]string{syscall.MADV_RANDOM: "random", syscall.MADV_NORMAL: "default"}[t.advice])
				b.StartTimer()
			}
			start := time.Now()
			for end := t.pos + warmChunk; t.pos+rec <= end; t.pos += rec {
				copy(t.data[t.pos:], src)
				t.n++
			}
			t.spent += time.Since(start)
			t.pos += warmChunk % rec // the next MiB starts on a fresh page run
		}
	}
	b.StopTimer()
	r := float64(random.spent.Nanoseconds()) / float64(random.n)
	d := float64(normal.spent.Nanoseconds()) / float64(normal.n)
	b.ReportMetric(r, "random-ns/rec")
	b.ReportMetric(d, "default-ns/rec")
	b.ReportMetric(r/d, "random/default")
	for _, t := range []*target{random, normal} {
		syscall.Munmap(t.data)
		t.f.Close()
	}
}
