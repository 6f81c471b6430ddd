package store

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"log/slog"
	"math/rand"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rocketgo/rocketgo/internal/syncbuf"
	"github.com/rocketgo/rocketgo/message"
)

func TestMinRecordLen(t *testing.T) {
	h := netip.MustParseAddrPort("1.2.3.4:5")
	n, err := message.StoredSize(&message.StoredMessage{Topic: "x", BornHost: h, StoreHost: h})
	if err != nil || n != minRecordLen+1 {
		t.Fatalf("a one-byte-topic empty record is %d bytes (%v), want minRecordLen+1 = %d", n, err, minRecordLen+1)
	}
}

// bodyAt is where the body of a record with IPv4 hosts starts.
const bodyAt = 88

// logBuffer collects a store's log output for assertions.
type logBuffer struct{ syncbuf.Buffer }

func (l *logBuffer) count(substr string) int { return strings.Count(l.String(), substr) }

func (l *logBuffer) logger() *slog.Logger { return slog.New(slog.NewTextHandler(l, nil)) }

// integrityFixture is a small store with records of topic "D" over four
// queues, each 300 to 500 bytes, and the model of what was stored.
type integrityFixture struct {
	cfg    Config
	stored []storedAt
	end    int64
}

func newIntegrityFixture(t *testing.T, n int) (*integrityFixture, *Store) {
	t.Helper()
	cfg := smallConfig(t.TempDir())
	cfg.CheckpointInterval = time.Hour // checkpoints happen where a test says
	s := mustOpen(t, cfg)
	fx := &integrityFixture{cfg: cfg}
	for i := 0; i < n; i++ {
		b := []byte(fmt.Sprintf("msg-%04d-%s", i, strings.Repeat("x", 200+i%200)))
		r := mustAppend(t, s, newMsg("D", int32(i%4), b, "tag", fmt.Sprintf("key-%d", i)))
		fx.stored = append(fx.stored, storedAt{int32(i % 4), r.QueueOffset, r.PhysicalOffset, int64(r.WroteBytes), b})
	}
	fx.end = s.MaxPhysicalOffset()
	return fx, s
}

// stopKinds are the ways the store goes down before the damage.
var stopKinds = []struct {
	name string
	stop func(s *Store) error
}{
	{"clean", func(s *Store) error { return s.Close(context.Background()) }},
	// A kill after a checkpoint covered everything: the damage lies
	// below the safe offset, where recovery verifies.
	{"crash-after-checkpoint", func(s *Store) error {
		if err := s.flushLog(s.wrote.Load()); err != nil {
			return err
		}
		if err := s.checkpoint(); err != nil {
			return err
		}
		s.stopForCrashTest()
		return nil
	}},
	// A kill with the last checkpoint at offset 0 (taken at open): the
	// damage lies past it, where recovery re-creates queue entries.
	{"crash-before-checkpoint", func(s *Store) error { s.stopForCrashTest(); return nil }},
}

// damageKind damages a stopped store and says which stored records are
// lost (lost) and whether the log is cut there, so that queue offsets from
// the first lost one on are given again (cut).
type damageKind struct {
	name   string
	damage func(t *testing.T, fx *integrityFixture) (lost []int, cut bool)
}

var damageKinds = []damageKind{
	{"garbage-after-tail", func(t *testing.T, fx *integrityFixture) ([]int, bool) {
		junk := make([]byte, 3000)
		rand.New(rand.NewSource(1)).Read(junk)
		writeLogBytes(t, fx.cfg, fx.end, junk)
		return nil, false
	}},
	{"zeroed-half-last-record", func(t *testing.T, fx *integrityFixture) ([]int, bool) {
		i := len(fx.stored) - 1
		a := fx.stored[i]
		writeLogBytes(t, fx.cfg, a.phy+a.size/2, make([]byte, a.size-a.size/2))
		return []int{i}, true
	}},
	{"truncated-last-record", func(t *testing.T, fx *integrityFixture) ([]int, bool) {
		i := len(fx.stored) - 1
		a := fx.stored[i]
		base := a.phy - a.phy%fx.cfg.CommitLogSegmentSize
		if err := os.Truncate(filepath.Join(fx.cfg.Dir, "commitlog", segmentName(base)), a.phy-base+a.size/3); err != nil {
			t.Fatal(err)
		}
		return []int{i}, true
	}},
	{"flipped-body-byte-mid-file", func(t *testing.T, fx *integrityFixture) ([]int, bool) {
		i := len(fx.stored) / 2
		a := fx.stored[i]
		flipByte(t, fx.cfg, a.phy+bodyAt+5)
		return []int{i}, false
	}},
	{"zeroed-half-record-mid-file", func(t *testing.T, fx *integrityFixture) ([]int, bool) {
		i := len(fx.stored)/2 + 1
		a := fx.stored[i]
		writeLogBytes(t, fx.cfg, a.phy+a.size/2, make([]byte, a.size-a.size/2))
		return []int{i}, false
	}},
	{"zeroed-header-mid-file", func(t *testing.T, fx *integrityFixture) ([]int, bool) {
		// The framing is gone: recovery finds the next record by its
		// self-describing header.
		i := len(fx.stored)/3 + 2
		a := fx.stored[i]
		writeLogBytes(t, fx.cfg, a.phy, make([]byte, a.size/2))
		return []int{i}, false
	}},
	{"queue-entry-past-log", func(t *testing.T, fx *integrityFixture) ([]int, bool) {
		// The last entry of queue 1 and one in the middle of queue 2 point
		// past the log. The records are intact: recovery puts the
		// entries back from the log.
		for _, e := range []struct {
			q    int32
			qoff int64
		}{{1, fx.lastQoff(1)}, {2, fx.lastQoff(2) / 2}} {
			writeQueueEntry(t, fx.cfg, "D", e.q, e.qoff, fx.end+4096, 300)
		}
		return nil, false
	}},
}

func (fx *integrityFixture) lastQoff(q int32) int64 {
	var last int64 = -1
	for _, a := range fx.stored {
		if a.q == q {
			last = a.qoff
		}
	}
	return last
}

func flipByte(t *testing.T, cfg Config, off int64) {
	t.Helper()
	base := off - off%cfg.CommitLogSegmentSize
	p := filepath.Join(cfg.Dir, "commitlog", segmentName(base))
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	b[off-base] ^= 0x5A
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// writeQueueEntry overwrites consume-queue entry qoff of topic/q.
func writeQueueEntry(t *testing.T, cfg Config, topic string, q int32, qoff, phy int64, size int32) {
	t.Helper()
	per := int64(cfg.ConsumeQueueEntriesPerFile) * cqEntrySize
	pos := qoff * cqEntrySize
	var b [12]byte
	binary.BigEndian.PutUint64(b[:], uint64(phy))
	binary.BigEndian.PutUint32(b[8:], uint32(size))
	writeFileAt(t, filepath.Join(cfg.Dir, "consumequeue", topic, fmt.Sprint(q), segmentName(pos-pos%per)), pos%per, b[:])
}

// TestDamageKinds damages a stopped store in each way under each kind of
// stop and restarts it: it must open, serve every intact record at its
// queue offset and no damaged one, log and count each damage once, keep
// queue offsets where the damage is in place, and accept new appends.
func TestDamageKinds(t *testing.T) {
	for _, stop := range stopKinds {
		for _, dk := range damageKinds {
			t.Run(stop.name+"/"+dk.name, func(t *testing.T) {
				fx, s := newIntegrityFixture(t, 240)
				maxBefore := [4]int64{}
				for q := range maxBefore {
					maxBefore[q] = s.MaxOffset("D", int32(q))
				}
				if err := stop.stop(s); err != nil {
					t.Fatal(err)
				}
				lostIdx, cut := dk.damage(t, fx)
				lost := map[int]bool{}
				for _, i := range lostIdx {
					lost[i] = true
				}
				var logs logBuffer
				s = mustOpen(t, fx.cfg, WithLogger(logs.logger()))
				defer mustClose(t, s)
				checkServedD(t, s, fx.stored, lost)
				// Read everything a second time: damage is logged and
				// counted once per record, not per read.
				checkServedD(t, s, fx.stored, lost)
				damagedLogs := logs.count("damaged record")
				st := s.Stats()
				switch {
				case len(lost) > 0 && (!cut || stop.name == "clean"):
					if st.DamagedRecords != 1 || damagedLogs != 1 {
						t.Errorf("damage counted %d times, logged %d times; want 1 and 1\n%s", st.DamagedRecords, damagedLogs, logs.String())
					}
				case dk.name == "garbage-after-tail" && stop.name == "clean":
					if st.DamagedRecords != 1 {
						t.Errorf("garbage after a clean end counted %d times, want 1", st.DamagedRecords)
					}
				case len(lost) == 0 && st.DamagedRecords != 0:
					t.Errorf("no record lost, yet %d counted as damaged\n%s", st.DamagedRecords, logs.String())
				}
				for q := int32(0); q < 4; q++ {
					want := maxBefore[q]
					for i := range lost {
						if cut && fx.stored[i].q == q {
							want = min(want, fx.stored[i].qoff)
						}
					}
					if got := s.MaxOffset("D", q); got != want {
						t.Errorf("queue %d max offset %d after recovery, want %d", q, got, want)
					}
					r := mustAppend(t, s, newMsg("D", q, []byte("after"), "", ""))
					if r.QueueOffset != want {
						t.Errorf("queue %d: new append got offset %d, want %d", q, r.QueueOffset, want)
					}
				}
				// And again after a clean restart, with the new records.
				mustClose(t, s)
				s = mustOpen(t, fx.cfg)
				checkServedD(t, s, fx.stored, lost)
				for q := int32(0); q < 4; q++ {
					recs := readAll(t, s, "D", q)
					if len(recs) == 0 || string(recs[len(recs)-1].Body) != "after" {
						t.Fatalf("queue %d lost the record appended after recovery", q)
					}
				}
			})
		}
	}
}

// checkServedD reads queues D/0..3: every record served is intact and was
// stored at that queue offset; every stored record not in lost is served.
func checkServedD(t *testing.T, s *Store, stored []storedAt, lost map[int]bool) {
	t.Helper()
	byKey := map[[2]int64]int{}
	for i, a := range stored {
		byKey[[2]int64{int64(a.q), a.qoff}] = i
	}
	served := map[int]bool{}
	for q := int32(0); q < 4; q++ {
		for _, rec := range readAll(t, s, "D", q) {
			if string(rec.Body) == "after" {
				continue // appended after recovery
			}
			i := byKey[[2]int64{int64(q), rec.QueueOffset}]
			if lost[i] || !bytes.Equal(rec.Body, stored[i].body) || rec.PhysicalOffset != stored[i].phy {
				t.Fatalf("queue %d offset %d: served %.20q at %d (stored %.20q at %d, lost %v)", q, rec.QueueOffset, rec.Body, rec.PhysicalOffset, stored[i].body, stored[i].phy, lost[i])
			}
			served[i] = true
		}
	}
	for i := range stored {
		if !lost[i] && !served[i] {
			t.Fatalf("intact record %d (queue %d offset %d) not served", i, stored[i].q, stored[i].qoff)
		}
	}
}

// TestPullSkipsDamagedRecord damages records and a queue entry while the
// store runs (as bit rot would under the page cache being re-read): a pull
// across them returns the good records around them, skips the damaged ones,
// logs each once and counts it.
func TestPullSkipsDamagedRecord(t *testing.T) {
	fx, s := newIntegrityFixture(t, 40)
	mustClose(t, s) // records written by this process are trusted; reopen
	var logs logBuffer
	s = mustOpen(t, fx.cfg, WithLogger(logs.logger()))
	defer mustClose(t, s)
	var q0 []storedAt
	for _, a := range fx.stored {
		if a.q == 0 {
			q0 = append(q0, a)
		}
	}
	seg := s.cl.load().find(q0[3].phy, s.cl.size)
	seg.data[q0[3].phy-seg.base+bodyAt+1] ^= 0xFF // body byte: CRC fails
	cq := s.queue("D", 0)
	cq.put(6, s.MaxPhysicalOffset()+1000, 300, 0) // entry past the log
	cq.put(8, q0[2].phy, int32(q0[2].size), 0)    // entry at another offset's record
	for round := 0; round < 3; round++ {
		r, err := s.GetMessages("D", 0, 0, 32, 1<<20, nil)
		if err != nil || r.Status != Found {
			t.Fatalf("pull: %v %v", err, r.Status)
		}
		var got []int64
		for _, b := range r.Buffers {
			rec, err := message.ParseStored(b, true)
			if err != nil {
				t.Fatalf("served a damaged record: %v", err)
			}
			got = append(got, rec.QueueOffset)
		}
		if r.NextBeginOffset != 10 || fmt.Sprint(got) != "[0 1 2 4 5 7 9]" {
			t.Fatalf("pull returned offsets %v, next %d; want [0 1 2 4 5 7 9], 10", got, r.NextBeginOffset)
		}
		r.Release()
	}
	if n := s.Stats().DamagedRecords; n != 3 {
		t.Fatalf("DamagedRecords %d, want 3", n)
	}
	if n := logs.count("damaged record skipped"); n != 3 {
		t.Fatalf("%d log lines for 3 damaged records read 3 times:\n%s", n, logs.String())
	}
	for _, pos := range []string{fmt.Sprint("offset=", q0[3].phy), "queueOffset=6", "queueOffset=8"} {
		if logs.count(pos) == 0 {
			t.Errorf("no log line names %s:\n%s", pos, logs.String())
		}
	}
	// A pull that starts on the damaged record moves past it.
	r, err := s.GetMessages("D", 0, 3, 1, 1<<20, nil)
	if err != nil || r.Status != Found || r.MsgCount != 1 || r.NextBeginOffset != 5 {
		t.Fatalf("pull at the damaged offset: %v %v count %d next %d", err, r.Status, r.MsgCount, r.NextBeginOffset)
	}
	r.Release()
	// Lookups by offset and by key refuse it too.
	if _, err := s.MessageAt(q0[3].phy); err == nil {
		t.Fatal("MessageAt served the damaged record")
	}
	q, err := s.QueryByKey("D", "key-12", 5, 0, 1<<62)
	if err != nil || q.MsgCount != 0 {
		t.Fatalf("QueryByKey served the damaged record: %v %d", err, q.MsgCount)
	}
	q.Release()
}

// TestRecoveryTellsRecreatedTopicFromDamagedOffset re-dispatches a log in
// which a topic was deleted and created again (its queue restarts at 0) and
// one in which a record's queue-offset field was damaged to 0: the first
// must start the queue over, the second must not touch the queue.
func TestRecoveryTellsRecreatedTopicFromDamagedOffset(t *testing.T) {
	t.Run("recreated", func(t *testing.T) {
		cfg := smallConfig(t.TempDir())
		cfg.CheckpointInterval = time.Hour
		s := mustOpen(t, cfg)
		for i := 0; i < 5; i++ {
			mustAppend(t, s, newMsg("R", 0, []byte(fmt.Sprint("old-", i)), "", ""))
		}
		if err := s.DeleteTopic("R"); err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 3; i++ {
			mustAppend(t, s, newMsg("R", 0, []byte(fmt.Sprint("new-", i)), "", ""))
		}
		s.stopForCrashTest() // the checkpoint says 0: everything is re-dispatched
		s = mustOpen(t, cfg)
		defer mustClose(t, s)
		recs := readAll(t, s, "R", 0)
		if len(recs) != 3 || string(recs[0].Body) != "new-0" || string(recs[2].Body) != "new-2" {
			t.Fatalf("recreated topic reads %d records", len(recs))
		}
	})
	t.Run("damaged-offset", func(t *testing.T) {
		fx, s := newIntegrityFixture(t, 80)
		s.stopForCrashTest()
		a := fx.stored[41] // queue 1, offset 10
		writeLogBytes(t, fx.cfg, a.phy+message.OffQueueOffset, make([]byte, 8))
		s = mustOpen(t, fx.cfg)
		defer mustClose(t, s)
		checkServedD(t, s, fx.stored, map[int]bool{41: true})
	})
	// A queue-offset field damaged one ahead (10 to 11) looks like a
	// record of the queue lost before it, except that the queue's next
	// record claims 11 as well: the damaged record must not take 11 and
	// push the intact one out (found by FuzzRecoverCorruptLog).
	t.Run("damaged-offset-ahead", func(t *testing.T) {
		fx, s := newIntegrityFixture(t, 80)
		s.stopForCrashTest()
		a := fx.stored[41] // queue 1, offset 10; record 45 is queue 1, offset 11
		b := make([]byte, 8)
		binary.BigEndian.PutUint64(b, uint64(a.qoff+1))
		writeLogBytes(t, fx.cfg, a.phy+message.OffQueueOffset, b)
		s = mustOpen(t, fx.cfg)
		defer mustClose(t, s)
		checkServedD(t, s, fx.stored, map[int]bool{41: true})
	})
}

// TestRecoveryDistrustsLengthOverRecords: a damaged length field whose
// record seems to end where a torn write would (past the log's end) or
// exactly at a later record must not make recovery skip the intact
// records it covers (the first found by FuzzRecoverCorruptLog: one byte
// of a length, 151 to 22,679, lost every record after it).
func TestRecoveryDistrustsLengthOverRecords(t *testing.T) {
	setLength := func(t *testing.T, cfg Config, a storedAt, n int64) {
		t.Helper()
		b := make([]byte, 4)
		binary.BigEndian.PutUint32(b, uint32(n))
		writeLogBytes(t, cfg, a.phy+message.OffTotalSize, b)
	}
	t.Run("past-the-end", func(t *testing.T) {
		fx, s := newIntegrityFixture(t, 80) // one segment: the last
		s.stopForCrashTest()
		a := fx.stored[70]
		n := fx.end - a.phy + 2000
		if a.phy%fx.cfg.CommitLogSegmentSize+n+blankLen > fx.cfg.CommitLogSegmentSize {
			t.Fatalf("fixture: a length of %d leaves the segment", n)
		}
		setLength(t, fx.cfg, a, n)
		s = mustOpen(t, fx.cfg)
		defer mustClose(t, s)
		checkServedD(t, s, fx.stored, map[int]bool{70: true})
	})
	t.Run("onto-a-later-record", func(t *testing.T) {
		fx, s := newIntegrityFixture(t, 300) // several segments
		s.stopForCrashTest()
		a, b := fx.stored[41], fx.stored[42]
		if a.phy/fx.cfg.CommitLogSegmentSize != fx.stored[43].phy/fx.cfg.CommitLogSegmentSize ||
			fx.stored[43].phy/fx.cfg.CommitLogSegmentSize == fx.end/fx.cfg.CommitLogSegmentSize {
			t.Fatal("fixture: records 41–43 must share a segment before the last")
		}
		setLength(t, fx.cfg, a, a.size+b.size) // ends where record 43 starts
		s = mustOpen(t, fx.cfg)
		defer mustClose(t, s)
		checkServedD(t, s, fx.stored, map[int]bool{41: true})
	})
}
