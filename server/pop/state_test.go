package pop

import (
	"strconv"
	"testing"
	"time"
)

// idle is a Broker on which the revive loop never runs, so a test owns
// the state.
type idle struct{}

func (idle) ReadQueues(string) (int, bool)                      { return 0, false }
func (idle) Group(string) (int, int, bool)                      { return 16, 1, true }
func (idle) EnsureTopic(string, int) error                      { return nil }
func (idle) ConsumerOffset(string, string, int32) (int64, bool) { return 0, false }
func (idle) CommitOffset(string, string, int32, int64)          {}
func (idle) Serving() bool                                      { return false }

type ckState map[ckKey][]int64

func snapshotState(s *Service) (ckState, map[queueKey]int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	cks := ckState{}
	for k, ck := range s.cks {
		for i, o := range ck.offsets {
			if !ck.acked[i] {
				cks[k] = append(cks[k], o)
			}
		}
	}
	offs := map[queueKey]int64{}
	for k, v := range s.offsets {
		offs[k] = v
	}
	return cks, offs
}

// Checkpoints, acks, invisible-time changes and pop offsets come back the
// same after a reopen, and after a compaction and a reopen.
func TestStateSurvivesReopenAndCompaction(t *testing.T) {
	dir := t.TempDir()
	open := func(opts ...Option) *Service {
		s, err := New(Config{Dir: dir, BrokerName: "b"}, nil, idle{}, append([]Option{WithReviveInterval(time.Hour)}, opts...)...)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	s := open()
	q := queueKey{group: "g", topic: "T", queueID: 1}
	s.mu.Lock()
	for i, start := range []int64{0, 3, 6} {
		ck := &checkpoint{ckKey: ckKey{queueKey: q, start: start, popTime: 1000 + int64(i)}, invisible: 60000,
			offsets: []int64{start, start + 1, start + 2}, acked: make([]bool, 3), open: 3}
		ck.due = ck.deadline()
		s.rec.reset(recCheckpoint)
		s.rec.checkpoint(ck)
		s.rec.int(start + 3)
		if _, err := s.jrnl.append(s.rec.b); err != nil {
			t.Fatal(err)
		}
		s.addCk(ck)
		s.offsets[q] = start + 3
	}
	s.mu.Unlock()
	h := func(start, popTime, off int64) *Handle {
		return &Handle{Group: "g", Topic: "T", QueueID: 1, Offset: off,
			ExtraInfo: itoa(start) + " " + itoa(popTime) + " 60000 0 0 b 1 " + itoa(off)}
	}
	s.broker = serving{}
	for _, a := range []*Handle{h(0, 1000, 0), h(0, 1000, 1), h(0, 1000, 2), h(3, 1001, 4)} {
		if err := s.Ack(a); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.ChangeInvisible(h(6, 1002, 7), time.Minute); err != nil {
		t.Fatal(err)
	}
	wantCks, wantOffs := snapshotState(s)
	if len(wantCks) != 3 { // 3@1001 {3,5}, 6@1002 {6,8}, 7@now {7}
		t.Fatalf("state before reopen: %v", wantCks)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	check := func(s *Service, when string) {
		gotCks, gotOffs := snapshotState(s)
		if len(gotCks) != len(wantCks) || gotOffs[q] != wantOffs[q] {
			t.Fatalf("%s: checkpoints %v offsets %v, want %v %v", when, gotCks, gotOffs, wantCks, wantOffs)
		}
		for k, offs := range wantCks {
			if g := gotCks[k]; len(g) != len(offs) || g[0] != offs[0] || g[len(g)-1] != offs[len(offs)-1] {
				t.Fatalf("%s: checkpoint %v holds %v, want %v", when, k, g, offs)
			}
		}
	}
	s = open(WithCompactSize(1))
	check(s, "reopened")
	s.mu.Lock()
	s.compactLocked()
	s.mu.Unlock()
	s.Close()
	s = open()
	defer s.Close()
	check(s, "compacted and reopened")
}

type serving struct{ idle }

func (serving) Serving() bool { return true }

func itoa(v int64) string { return strconv.FormatInt(v, 10) }
