package store

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"sort"
	"sync"
	"testing"

	"github.com/rocketgo/rocketgo/message"
)

// replicate copies master's log into slave in chunks of random size, so
// records regularly arrive split across transfers, until the slave has it all.
func replicate(t *testing.T, master, slave *Store, rng *rand.Rand) {
	t.Helper()
	buf := make([]byte, 8<<10)
	for {
		from := slave.MaxPhysicalOffset()
		if from == 0 && master.MinPhysicalOffset() > 0 {
			from = master.MinPhysicalOffset()
		}
		n, err := master.ReadLog(from, buf[:1+rng.IntN(len(buf))])
		if err != nil {
			t.Fatalf("ReadLog(%d): %v", from, err)
		}
		if n == 0 {
			return
		}
		if err := slave.AppendLog(from, buf[:n]); err != nil {
			t.Fatalf("AppendLog(%d, %d bytes): %v", from, n, err)
		}
	}
}

// fillMaster appends n messages over three topics and four queues, with
// tags and keys, in sizes that force several segment roll-overs.
func fillMaster(t *testing.T, s *Store, n int, rng *rand.Rand) {
	t.Helper()
	for i := 0; i < n; i++ {
		topic := fmt.Sprintf("T%d", i%3)
		b := bytes.Repeat([]byte{byte('a' + i%26)}, 1+rng.IntN(3000))
		mustAppend(t, s, newMsg(topic, int32(i%4), b, fmt.Sprintf("tag%d", i%5), fmt.Sprintf("key-%d", i)))
	}
}

// sameQueues checks that both stores serve identical records for every queue.
func sameQueues(t *testing.T, master, slave *Store) {
	t.Helper()
	for topic, qids := range master.Topics() {
		for _, q := range qids {
			if a, b := master.MinOffset(topic, q), slave.MinOffset(topic, q); a != b {
				t.Fatalf("%s/%d min offset: master %d, slave %d", topic, q, a, b)
			}
			if a, b := master.MaxOffset(topic, q), slave.MaxOffset(topic, q); a != b {
				t.Fatalf("%s/%d max offset: master %d, slave %d", topic, q, a, b)
			}
			want, got := readAll(t, master, topic, q), readAll(t, slave, topic, q)
			if len(want) != len(got) {
				t.Fatalf("%s/%d: master has %d records, slave %d", topic, q, len(want), len(got))
			}
			for i := range want {
				if want[i].PhysicalOffset != got[i].PhysicalOffset || !bytes.Equal(want[i].Body, got[i].Body) ||
					!bytes.Equal(want[i].Properties, got[i].Properties) || want[i].StoreTimestamp != got[i].StoreTimestamp {
					t.Fatalf("%s/%d record %d differs", topic, q, i)
				}
			}
		}
	}
}

func sameLogBytes(t *testing.T, master, slave *Store) {
	t.Helper()
	if a, b := master.MaxPhysicalOffset(), slave.MaxPhysicalOffset(); a != b {
		t.Fatalf("log end: master %d, slave %d", a, b)
	}
	ba, bb := make([]byte, 4096), make([]byte, 4096)
	for off := slave.MinPhysicalOffset(); off < master.MaxPhysicalOffset(); {
		na, err := master.ReadLog(off, ba)
		if err != nil {
			t.Fatal(err)
		}
		nb, err := slave.ReadLog(off, bb)
		if err != nil {
			t.Fatal(err)
		}
		if na != nb || !bytes.Equal(ba[:na], bb[:nb]) {
			t.Fatalf("log bytes differ at %d", off)
		}
		off += int64(na)
	}
}

func TestReplicaCopiesTheLog(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	master := mustOpen(t, smallConfig(t.TempDir()))
	defer mustClose(t, master)
	var mu sync.Mutex
	arrived := 0
	slave := mustOpen(t, smallConfig(t.TempDir()), WithArrivalListener(func(string, int32, int64, int64) {
		mu.Lock()
		arrived++
		mu.Unlock()
	}))
	defer mustClose(t, slave)

	fillMaster(t, master, 300, rng)
	if segs := len(master.cl.load().files); segs < 3 {
		t.Fatalf("want several segments to cross blank markers, got %d", segs)
	}
	replicate(t, master, slave, rng)
	sameLogBytes(t, master, slave)
	sameQueues(t, master, slave)
	if arrived != 300 {
		t.Fatalf("arrival listener saw %d records, want 300", arrived)
	}
	r, err := slave.QueryByKey("T1", "key-7", 10, 0, 1<<62)
	if err != nil || len(r.PhysicalOffsets) != 1 {
		t.Fatalf("key query on the slave: %v, %+v", err, r)
	}
	r.Release()

	// More traffic later continues where the slave stands.
	fillMaster(t, master, 50, rng)
	replicate(t, master, slave, rng)
	sameLogBytes(t, master, slave)
	sameQueues(t, master, slave)
}

func TestReplicaResumesAfterReopen(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	master := mustOpen(t, smallConfig(t.TempDir()))
	defer mustClose(t, master)
	fillMaster(t, master, 120, rng)

	cfg := smallConfig(t.TempDir())
	slave := mustOpen(t, cfg)
	// Stop in the middle of a record: copy its first 10 bytes only.
	buf := make([]byte, 64<<10)
	n, err := master.ReadLog(0, buf[:20_000])
	if err != nil {
		t.Fatal(err)
	}
	if err := slave.AppendLog(0, buf[:n]); err != nil {
		t.Fatal(err)
	}
	partial := slave.MaxPhysicalOffset()
	complete := slave.wrote.Load()
	if partial == complete {
		t.Fatal("test wants the slave to hold a partial record")
	}
	mustClose(t, slave)

	slave = mustOpen(t, cfg)
	defer mustClose(t, slave)
	if got := slave.MaxPhysicalOffset(); got != complete {
		t.Fatalf("after reopen the log ends at %d, want the last complete record's end %d", got, complete)
	}
	replicate(t, master, slave, rng)
	sameLogBytes(t, master, slave)
	sameQueues(t, master, slave)
}

func TestReplicaRejectsBadInput(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	master := mustOpen(t, smallConfig(t.TempDir()))
	defer mustClose(t, master)
	fillMaster(t, master, 40, rng)
	slave := mustOpen(t, smallConfig(t.TempDir()))
	defer mustClose(t, slave)

	buf := make([]byte, 4096)
	n, _ := master.ReadLog(0, buf)
	if err := slave.AppendLog(100, buf[:n]); !errors.Is(err, ErrReplicaOffset) {
		t.Fatalf("unaligned start on an empty log: want ErrReplicaOffset, got %v", err)
	}
	if err := slave.AppendLog(0, buf[:n]); err != nil {
		t.Fatal(err)
	}
	end := slave.MaxPhysicalOffset()
	if err := slave.AppendLog(end+1, buf[:10]); !errors.Is(err, ErrReplicaOffset) {
		t.Fatalf("gap: want ErrReplicaOffset, got %v", err)
	}
	replicate(t, master, slave, rng)

	// Garbage where the next record should start is discarded, not kept.
	good := slave.MaxPhysicalOffset()
	if err := slave.AppendLog(good, bytes.Repeat([]byte{0x5a}, 300)); !errors.Is(err, ErrCorruptStore) {
		t.Fatalf("garbage: want ErrCorruptStore, got %v", err)
	}
	if got := slave.MaxPhysicalOffset(); got != good {
		t.Fatalf("after garbage the log should end at the last good record %d, got %d", good, got)
	}
	// A record damaged in transit fails its body CRC once complete.
	mustAppend(t, master, newMsg("T0", 0, bytes.Repeat([]byte("z"), 500), "", ""))
	n, _ = master.ReadLog(good, buf)
	bad := append([]byte(nil), buf[:n]...)
	bad[n-100] ^= 0xff
	if err := slave.AppendLog(good, bad[:n/2]); err != nil {
		t.Fatalf("first half of a record: %v", err)
	}
	if err := slave.AppendLog(good+int64(n/2), bad[n/2:]); !errors.Is(err, ErrCorruptStore) {
		t.Fatalf("damaged record: want ErrCorruptStore, got %v", err)
	}
	if got := slave.MaxPhysicalOffset(); got != good {
		t.Fatalf("after a damaged record the log should end at %d, got %d", good, got)
	}
	// The real bytes are then accepted from there.
	replicate(t, master, slave, rng)
	sameLogBytes(t, master, slave)
	sameQueues(t, master, slave)
}

func TestReplicaStartsAtMastersOldestSegment(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	master := mustOpen(t, smallConfig(t.TempDir()))
	defer mustClose(t, master)
	fillMaster(t, master, 300, rng)
	seg := master.cl.size
	slave := mustOpen(t, smallConfig(t.TempDir()))
	defer mustClose(t, slave)

	// As after retention on the master: the slave's history begins at the
	// second segment, with queues that start late.
	buf := make([]byte, 8<<10)
	n, err := master.ReadLog(seg, buf)
	if err != nil {
		t.Fatal(err)
	}
	if err := slave.AppendLog(seg, buf[:n]); err != nil {
		t.Fatal(err)
	}
	if slave.MinPhysicalOffset() != seg {
		t.Fatalf("slave log starts at %d, want %d", slave.MinPhysicalOffset(), seg)
	}
	replicate(t, master, slave, rng)
	if a, b := master.MaxPhysicalOffset(), slave.MaxPhysicalOffset(); a != b {
		t.Fatalf("log end: master %d, slave %d", a, b)
	}
	for topic, qids := range master.Topics() {
		for _, q := range qids {
			min := slave.MinOffset(topic, q)
			if min == 0 {
				t.Fatalf("%s/%d: the slave's queue should start late", topic, q)
			}
			if slave.MaxOffset(topic, q) != master.MaxOffset(topic, q) {
				t.Fatalf("%s/%d max offsets differ", topic, q)
			}
			r, err := slave.GetMessages(topic, q, min, 32, 1<<20, nil)
			if err != nil || r.Status != Found {
				t.Fatalf("%s/%d read from the slave's first offset: %v %v", topic, q, err, r.Status)
			}
			r.Release()
		}
	}
}

// Readers run against a replica while it applies the stream (run with -race).
func TestReplicaConcurrentReaders(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	master := mustOpen(t, smallConfig(t.TempDir()))
	defer mustClose(t, master)
	fillMaster(t, master, 200, rng)
	slave := mustOpen(t, smallConfig(t.TempDir()))
	defer mustClose(t, slave)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for g := 0; g < 2; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			topic := fmt.Sprintf("T%d", g)
			for {
				select {
				case <-stop:
					return
				default:
				}
				for q := int32(0); q < 4; q++ {
					r, err := slave.GetMessages(topic, q, slave.MinOffset(topic, q), 32, 1<<20, nil)
					if err != nil {
						t.Error(err)
						return
					}
					for _, b := range r.Buffers {
						if _, err := message.ParseStored(b, true); err != nil {
							t.Errorf("reader saw a bad record: %v", err)
						}
					}
					r.Release()
				}
			}
		}(g)
	}
	replicate(t, master, slave, rng)
	close(stop)
	wg.Wait()
	sameQueues(t, master, slave)
}

// FuzzReplicaAppend feeds arbitrary bytes, split at an arbitrary point, to
// one long-lived replica: no panic, and whatever is accepted stays readable.
func FuzzReplicaAppend(f *testing.F) {
	rng := rand.New(rand.NewPCG(11, 12))
	master := mustOpen(f, smallConfig(f.TempDir()))
	defer mustClose(f, master)
	for i := 0; i < 30; i++ {
		mustAppend(f, master, newMsg("F", int32(i%2), bytes.Repeat([]byte("b"), 1+rng.IntN(500)), "t", "k"))
	}
	buf := make([]byte, 64<<10)
	n, _ := master.ReadLog(0, buf)
	f.Add(buf[:n], uint16(n/2))
	f.Add(buf[:200], uint16(7))
	f.Add([]byte{0, 0, 0, 20, 0xbb, 0x20, 0x7d, 0xb1}, uint16(4))
	slave := mustOpen(f, smallConfig(f.TempDir()))
	defer mustClose(f, slave)
	f.Fuzz(func(t *testing.T, data []byte, split uint16) {
		at := int(split) % (len(data) + 1)
		if err := slave.AppendLog(slave.MaxPhysicalOffset(), data[:at]); err == nil {
			_ = slave.AppendLog(slave.MaxPhysicalOffset(), data[at:])
		}
		for topic, qids := range slave.Topics() {
			for _, q := range qids {
				r, err := slave.GetMessages(topic, q, max(slave.MinOffset(topic, q), slave.MaxOffset(topic, q)-4), 4, 1<<20, nil)
				if err != nil {
					t.Fatal(err)
				}
				for _, b := range r.Buffers {
					if _, err := message.ParseStored(b, true); err != nil {
						t.Fatalf("replica serves a bad record: %v", err)
					}
				}
				r.Release()
			}
		}
	})
}

// Every record that ends at or before a replica's AppliedOffset is
// readable, whenever it is read: a slave acknowledges that offset, and
// SEND_OK from a SYNC_MASTER promises the slave serves the message.
func TestReplicaAppliedOffsetIsReadable(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	master := mustOpen(t, smallConfig(t.TempDir()))
	defer mustClose(t, master)
	var starts, ends []int64
	for i := range 400 {
		r := mustAppend(t, master, newMsg("A", int32(i%4), bytes.Repeat([]byte{'a'}, 1+rng.IntN(2000)), "", ""))
		starts = append(starts, r.PhysicalOffset)
		ends = append(ends, r.PhysicalOffset+int64(r.WroteBytes))
	}
	slave := mustOpen(t, smallConfig(t.TempDir()))
	defer mustClose(t, slave)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			applied := slave.AppliedOffset()
			// The last record the offset covers (ends ascend).
			i := sort.Search(len(ends), func(i int) bool { return ends[i] > applied }) - 1
			if i < 0 {
				continue
			}
			r, err := slave.MessageAt(starts[i])
			if err != nil {
				t.Errorf("applied offset %d covers the record at %d, which is not readable: %v", applied, starts[i], err)
				return
			}
			r.Release()
		}
	}()
	replicate(t, master, slave, rng)
	close(stop)
	wg.Wait()
}
