package store

import (
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// BenchmarkCommitLogWrite is the cost of putting records into a fresh
// fallocated commit-log file, all of it, wherever it is paid: "mmap" is the
// store's write through the shared mapping after the warmer populated the
// chunk (MADV_POPULATE_WRITE, normally on another goroutine; timed here),
// "pwrite" a write(2) at the record's offset, with nothing populated. The
// kernel's copy into a page-cache page it just allocated needs neither the
// zeroing nor the page-table work of the mapped path; the syscall is the
// price, paid once per record.
func BenchmarkCommitLogWrite(b *testing.B) {
	const size = 128 << 20
	for _, rec := range []int{1 << 10, 4 << 10, 8 << 10, 16 << 10} {
		for _, mode := range []string{"mmap", "pwrite"} {
			b.Run(fmt.Sprintf("%s/%dKiB", mode, rec>>10), func(b *testing.B) {
				dir := b.TempDir()
				var m *mappedFile
				n := 0
				fresh := func() {
					if m != nil {
						m.release()
					}
					var err error
					m, err = createMapped(filepath.Join(dir, fmt.Sprint(n)), 0, size, fallocate)
					if err != nil {
						b.Fatal(err)
					}
					n++
				}
				fresh()
				src := make([]byte, rec)
				b.SetBytes(int64(rec))
				pos, warmed := int64(0), int64(0)
				for range b.N {
					if pos+int64(rec) > size {
						b.StopTimer()
						fresh()
						pos, warmed = 0, 0
						b.StartTimer()
					}
					if mode == "pwrite" {
						if _, err := m.f.WriteAt(src, pos); err != nil {
							b.Fatal(err)
						}
					} else {
						for warmed < pos+int64(rec) {
							if err := m.populate(warmed, warmed+warmChunk); err != nil {
								b.Skip("MADV_POPULATE_WRITE:", err)
							}
							warmed += warmChunk
						}
						copy(m.data[pos:], src)
					}
					pos += int64(rec)
				}
				b.StopTimer()
				m.release()
				os.RemoveAll(dir)
				_ = syscall.Getpagesize
			})
		}
	}
}
