package store

import (
	"context"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// waitSpare waits until the allocator goroutine has made the spare for
// base. It bounds a wait for another goroutine's work; nothing is timed.
func waitSpare(t *testing.T, s *Store, base int64) *mappedFile {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if sp := s.cl.spare.Load(); sp != nil && sp.base == base {
			return sp
		}
		if time.Now().After(deadline) {
			t.Fatalf("no spare for %d (spare %v)", base, s.cl.spare.Load())
		}
		time.Sleep(time.Millisecond)
	}
}

// spareNames lists the spare files in the store's commit-log directory.
func spareNames(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(filepath.Join(dir, "commitlog"))
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		if strings.HasSuffix(e.Name(), spareSuffix) {
			out = append(out, e.Name())
		}
	}
	return out
}

// appendPast appends to queue T/0 until the log's end has passed
// fraction num/den of the segment it is in and returns the count.
func appendPast(t *testing.T, s *Store, start int, num, den int64) int {
	t.Helper()
	i := start
	for {
		end := s.MaxPhysicalOffset()
		if end%s.cl.size >= s.cl.size*num/den {
			return i
		}
		mustAppend(t, s, newMsg("T", 0, body(i), "", ""))
		i++
	}
}

func TestSpareTakenAtRoll(t *testing.T) {
	cfg := smallConfig(t.TempDir())
	s := mustOpen(t, cfg)
	i := appendPast(t, s, 0, 1, 8)
	if sp := s.cl.spare.Load(); sp != nil {
		t.Fatalf("spare %s before a quarter of the first segment was written", sp.path)
	}
	for roll := 0; roll < 3; roll++ {
		i = appendPast(t, s, i, 1, 2)
		cur := s.cl.load().last()
		next := cur.base + s.cl.size
		sp := waitSpare(t, s, next)
		if got := spareNames(t, cfg.Dir); len(got) != 1 || got[0] != segmentName(next)+spareSuffix {
			t.Fatalf("spare files %v, want %s%s", got, segmentName(next), spareSuffix)
		}
		for s.cl.load().last() == cur {
			mustAppend(t, s, newMsg("T", 0, body(i), "", ""))
			i++
		}
		if last := s.cl.load().last(); last != sp || last.base != next || last.path != filepath.Join(cfg.Dir, "commitlog", segmentName(next)) {
			t.Fatalf("roll %d: last segment %s at %d, want the spare %p renamed to %s", roll, last.path, last.base, sp, segmentName(next))
		}
		if _, err := os.Stat(filepath.Join(cfg.Dir, "commitlog", segmentName(next)+spareSuffix)); !os.IsNotExist(err) {
			t.Fatalf("spare name still on disk after the roll: %v", err)
		}
	}
	if n := checkQueuesMatchLog(t, s, cfg); n != i {
		t.Fatalf("%d records, appended %d", n, i)
	}
	// Close deletes the spare it may have made meanwhile.
	appendPast(t, s, i, 1, 2)
	waitSpare(t, s, s.cl.load().last().base+s.cl.size)
	mustClose(t, s)
	if got := spareNames(t, cfg.Dir); len(got) != 0 {
		t.Fatalf("spare files after Close: %v", got)
	}
	rep, err := Check(context.Background(), cfg.Dir, CheckOptions{})
	if err != nil || !rep.OK() {
		t.Fatalf("check after close: %v %v", err, rep)
	}
}

// TestTryAppendRollsOntoSpare: with the next segment made ahead, a roll
// creates no file, so a no-wait append takes it instead of refusing.
func TestTryAppendRollsOntoSpare(t *testing.T) {
	cfg := smallConfig(t.TempDir())
	cfg.ConsumeQueueEntriesPerFile = 100_000 // only the commit log rolls
	cfg.IndexEntries = -1
	s := mustOpen(t, cfg)
	defer mustClose(t, s)
	mustAppend(t, s, newMsg("T", 0, body(0), "", "")) // creates the queue and the first segment
	first := s.cl.load().last()
	for i := 1; len(s.cl.load().files) < 4; i++ {
		if end := s.MaxPhysicalOffset(); end%s.cl.size >= s.cl.size/spareAt {
			waitSpare(t, s, end-end%s.cl.size+s.cl.size)
		}
		if _, err := tryAppend(t, s, "T", 0, body(i)); err != nil {
			t.Fatalf("append %d (log end %d, spare %v): %v", i, s.MaxPhysicalOffset(), s.cl.spare.Load() != nil, err)
		}
	}
	if s.cl.load().files[0] != first {
		t.Fatal("first segment replaced")
	}
	checkQueuesMatchLog(t, s, cfg)
}

// TestSpareLeftByCrash: a spare found at open never held a record (taking
// it renames it first), whatever it contains: it is deleted, and recovery
// ends the log where the segments say.
func TestSpareLeftByCrash(t *testing.T) {
	cfg := smallConfig(t.TempDir())
	s := mustOpen(t, cfg)
	i := 0
	for ; len(s.cl.load().files) < 2; i++ {
		mustAppend(t, s, newMsg("T", 0, body(i), "", ""))
	}
	i = appendPast(t, s, i, 1, 2)
	next := s.cl.load().last().base + s.cl.size
	waitSpare(t, s, next)
	end := s.MaxPhysicalOffset()
	mustClose(t, s)
	// What a crash leaves: the spare (made garbage here, so that reading it
	// as a segment would show), and the abort marker.
	junk := make([]byte, cfg.CommitLogSegmentSize)
	for j := range junk {
		junk[j] = byte(j*7 + 1)
	}
	spare := filepath.Join(cfg.Dir, "commitlog", segmentName(next)+spareSuffix)
	if err := os.WriteFile(spare, junk, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(cfg.Dir, "abort"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	s = mustOpen(t, cfg)
	if _, err := os.Stat(spare); !os.IsNotExist(err) {
		t.Fatalf("spare left by a crash survived open: %v", err)
	}
	if got := s.MaxPhysicalOffset(); got != end {
		t.Fatalf("log ends at %d after recovery, want %d", got, end)
	}
	if n := checkQueuesMatchLog(t, s, cfg); n != i {
		t.Fatalf("%d records after recovery, want %d", n, i)
	}
	// The log goes on into the next segment as usual.
	for ; s.cl.load().last().base < next; i++ {
		mustAppend(t, s, newMsg("T", 0, body(i), "", ""))
	}
	if last := s.cl.load().last(); last.base != next {
		t.Fatalf("last segment at %d, want %d", last.base, next)
	}
	mustClose(t, s)
	rep, err := Check(context.Background(), cfg.Dir, CheckOptions{})
	if err != nil || !rep.OK() {
		t.Fatalf("check: %v %v", err, rep)
	}
}

// TestSpareAllocationFailure: a spare that cannot be made fails no append
// that fits the current segment; the roll then creates the segment itself
// and reports the disk as full, and the log resumes once space is back.
func TestSpareAllocationFailure(t *testing.T) {
	cfg := smallConfig(t.TempDir())
	cfg.ConsumeQueueEntriesPerFile = 100_000
	cfg.IndexEntries = -1
	s := mustOpen(t, cfg)
	defer mustClose(t, s)
	var (
		mu          sync.Mutex
		fail        bool
		spareTries  int
		spareFailed = make(chan struct{}, 1)
	)
	s.o.alloc = func(f *os.File, size int64) error {
		mu.Lock()
		defer mu.Unlock()
		if !fail {
			return fallocate(f, size)
		}
		if strings.HasSuffix(f.Name(), spareSuffix) {
			spareTries++
			select {
			case spareFailed <- struct{}{}:
			default:
			}
		}
		return syscall.ENOSPC
	}
	s.cl.alloc = s.o.alloc
	mustAppend(t, s, newMsg("T", 0, body(0), "", ""))
	mu.Lock()
	fail = true
	mu.Unlock()
	i := appendPast(t, s, 1, 1, 2)
	select { // the allocator tried and failed
	case <-spareFailed:
	case <-time.After(10 * time.Second):
		t.Fatal("no spare was attempted")
	}
	if s.cl.spare.Load() != nil || len(spareNames(t, cfg.Dir)) != 0 {
		t.Fatal("a failed spare left a file")
	}
	seg := s.cl.load().last()
	var err error
	for ; s.cl.load().last() == seg; i++ {
		if _, err = s.Append(context.Background(), newMsg("T", 0, body(i), "", "")); err != nil {
			break
		}
	}
	if !errors.Is(err, ErrDiskFull) {
		t.Fatalf("append needing the next segment: %v, want ErrDiskFull", err)
	}
	if s.MaxPhysicalOffset() <= seg.base+s.cl.size/2 || s.MaxPhysicalOffset() > seg.base+s.cl.size {
		t.Fatalf("log end %d: appends that fit segment %d failed", s.MaxPhysicalOffset(), seg.base)
	}
	mu.Lock()
	fail = false
	tries := spareTries
	mu.Unlock()
	mustAppend(t, s, newMsg("T", 0, body(i), "", ""))
	if last := s.cl.load().last(); last.base != seg.base+s.cl.size {
		t.Fatalf("resumed in segment %d, want %d", last.base, seg.base+s.cl.size)
	}
	if n := checkQueuesMatchLog(t, s, cfg); n != i+1 {
		t.Fatalf("%d records, want %d", n, i+1)
	}
	t.Logf("%d failed spare attempts", tries)
}

// TestSpareReadAheadAdvice: under SYNC_FLUSH a spare is advised like a
// segment created in the append path (read-ahead off while it is written,
// on again once the log has rolled past it).
func TestSpareReadAheadAdvice(t *testing.T) {
	if _, err := os.Stat("/proc/self/smaps"); err != nil {
		t.Skip("needs /proc/self/smaps")
	}
	cfg := smallConfig(t.TempDir())
	cfg.FlushDiskType = SyncFlush
	s := mustOpen(t, cfg)
	defer mustClose(t, s)
	i := 0
	for roll := 0; roll < 2; roll++ {
		i = appendPast(t, s, i, 1, 2)
		cur := s.cl.load().last()
		sp := waitSpare(t, s, cur.base+s.cl.size)
		for s.cl.load().last() == cur {
			mustAppend(t, s, newMsg("T", 0, body(i), "", ""))
			i++
		}
		if s.cl.load().last() != sp {
			t.Fatal("the roll did not take the spare")
		}
		if rr, ok := readAheadOff(t, sp.path); ok && !rr {
			t.Errorf("segment %s taken from a spare has read-ahead on", sp.path)
		}
		if rr, _ := readAheadOff(t, cur.path); rr {
			t.Errorf("full segment %s still has read-ahead off", cur.path)
		}
	}
}

// TestReplicaRollsOntoSpare: a slave's AppendLog takes spares too, and
// the copied log stays identical to the master's.
func TestReplicaRollsOntoSpare(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	master := mustOpen(t, smallConfig(t.TempDir()))
	defer mustClose(t, master)
	slave := mustOpen(t, smallConfig(t.TempDir()))
	defer mustClose(t, slave)
	fillMaster(t, master, 300, rng)
	buf := make([]byte, 4<<10)
	rolls, taken := 0, 0
	for {
		from := slave.MaxPhysicalOffset()
		if from%slave.cl.size >= slave.cl.size/spareAt {
			waitSpare(t, slave, from-from%slave.cl.size+slave.cl.size)
		}
		// ReadLog stops at segment ends, so the roll comes with the chunk
		// starting at the next segment's base.
		sp := slave.cl.spare.Load()
		n, err := master.ReadLog(from, buf[:1+rng.IntN(len(buf))])
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			break
		}
		before := slave.cl.load().last()
		if err := slave.AppendLog(from, buf[:n]); err != nil {
			t.Fatal(err)
		}
		if last := slave.cl.load().last(); before != nil && last != before {
			rolls++
			if last == sp {
				taken++
			}
		}
	}
	if rolls < 2 || taken != rolls {
		t.Fatalf("%d of %d rolls took the spare", taken, rolls)
	}
	sameLogBytes(t, master, slave)
	sameQueues(t, master, slave)
}
