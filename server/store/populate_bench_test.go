package store

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// BenchmarkPopulate is the pre-faulter's cost per MiB of commit log: the
// first MADV_POPULATE_WRITE of a fallocated range (page-cache pages
// allocated, zeroed and mapped), and asking again for a range already
// resident, which is what overlapping warm requests cost.
func BenchmarkPopulate(b *testing.B) {
	const size = 256 << 20
	open := func() (*os.File, *mappedFile) {
		f, err := os.Create(filepath.Join(b.TempDir(), "cl"))
		if err != nil {
			b.Fatal(err)
		}
		if err := syscall.Fallocate(int(f.Fd()), 0, 0, size); err != nil {
			b.Skip("fallocate:", err)
		}
		data, err := syscall.Mmap(int(f.Fd()), 0, size, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_SHARED)
		if err != nil {
			b.Fatal(err)
		}
		return f, &mappedFile{data: data, size: size}
	}
	closeIt := func(f *os.File, m *mappedFile) {
		syscall.Munmap(m.data)
		f.Close()
	}
	b.Run("fresh", func(b *testing.B) {
		f, m := open()
		off := int64(0)
		b.SetBytes(warmChunk)
		for range b.N {
			if off+warmChunk > size {
				b.StopTimer()
				closeIt(f, m)
				f, m = open()
				off = 0
				b.StartTimer()
			}
			if err := m.populate(off, off+warmChunk); err != nil {
				b.Skip("MADV_POPULATE_WRITE:", err)
			}
			off += warmChunk
		}
		b.StopTimer()
		closeIt(f, m)
	})
	b.Run("resident", func(b *testing.B) {
		f, m := open()
		if err := m.populate(0, warmChunk); err != nil {
			b.Skip("MADV_POPULATE_WRITE:", err)
		}
		b.SetBytes(warmChunk)
		for range b.N {
			if err := m.populate(0, warmChunk); err != nil {
				b.Fatal(err)
			}
		}
		b.StopTimer()
		closeIt(f, m)
	})
}
