package pop

import (
	"fmt"
	"maps"
	"slices"
	"testing"
	"time"
)

// orderSnapshot renders the order state and the pop offsets for comparing.
func orderSnapshot(s *Service) string {
	cks, _ := snapshotState(s)
	s.mu.Lock()
	defer s.mu.Unlock()
	out := ""
	for _, k := range slices.SortedFunc(maps.Keys(s.orders), func(a, b queueKey) int { return int(a.queueID - b.queueID) }) {
		o := s.orders[k]
		out += fmt.Sprintf("%v holds=%d attempts=%v acked=%v; ", k, o.holds, o.attempts, o.acked)
	}
	for _, k := range slices.SortedFunc(maps.Keys(s.offsets), func(a, b queueKey) int { return int(a.queueID - b.queueID) }) {
		out += fmt.Sprintf("offset %v=%d; ", k, s.offsets[k])
	}
	return out + fmt.Sprint(len(cks), " open checkpoints")
}

// The order state (holds, delivery counts, acknowledged offsets past a
// rewind, the rewound pop offset) comes back the same after a reopen, and
// after a compaction and a reopen.
func TestOrderStateSurvivesReopenAndCompaction(t *testing.T) {
	dir := t.TempDir()
	open := func(opts ...Option) *Service {
		s, err := New(Config{Dir: dir, BrokerName: "b"}, nil, idle{}, append([]Option{WithReviveInterval(time.Hour)}, opts...)...)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	s := open()
	q := queueKey{group: "g", topic: "T", queueID: 2}
	q2 := queueKey{group: "g", topic: "T", queueID: 3}
	add := func(k queueKey, start, popTime int64, n int) *checkpoint {
		t.Helper()
		ck := &checkpoint{ckKey: ckKey{queueKey: k, start: start, popTime: popTime}, invisible: 60000, order: true}
		for i := range n {
			ck.offsets = append(ck.offsets, start+int64(i))
		}
		ck.acked, ck.open = make([]bool, n), n
		ck.due = ck.deadline()
		s.rec.reset(ckKind(ck))
		s.rec.checkpoint(ck)
		s.rec.int(start + int64(n))
		if _, err := s.jrnl.append(s.rec.b); err != nil {
			t.Fatal(err)
		}
		s.addCk(ck)
		s.holdLocked(k)
		s.offsets[k] = start + int64(n)
		return ck
	}
	s.mu.Lock()
	ck := add(q, 10, 1000, 4) // offsets 10..13
	add(q2, 0, 1000, 2)       // stays open: q2 blocked
	s.mu.Unlock()
	s.broker = serving{}
	h := func(start, popTime, off int64) *Handle {
		return &Handle{Group: "g", Topic: "T", QueueID: 2, Offset: off,
			ExtraInfo: itoa(start) + " " + itoa(popTime) + " 60000 999 0 b 2 " + itoa(off)}
	}
	for _, off := range []int64{10, 12} {
		if err := s.Ack(h(10, 1000, off)); err != nil {
			t.Fatal(err)
		}
	}
	// 11 and 13 expire; 13 goes to the DLQ.
	s.mu.Lock()
	s.dropCkLocked(ck)
	s.rec.reset(recOrderRevive)
	s.rec.key(ck.ckKey)
	s.rec.int(1)
	s.rec.int(13)
	if _, err := s.jrnl.append(s.rec.b); err != nil {
		t.Fatal(err)
	}
	s.orderReviveLocked(ck, []int64{13})
	bad := s.offsets[q] != 11 || s.orders[q].holds != 0 || s.orders[q].attempts[11] != 1 || !s.orders[q].acked[12] || !s.orders[q].acked[13] ||
		!s.orderBlockedLocked(q2) || s.orderBlockedLocked(q)
	s.mu.Unlock()
	if bad {
		t.Fatalf("after the order revive: %s", orderSnapshot(s))
	}
	want := orderSnapshot(s)
	s.broker = idle{}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = open()
	if got := orderSnapshot(s); got != want {
		t.Fatalf("reopened:\n got %s\nwant %s", got, want)
	}
	s.mu.Lock()
	s.opt.compactSize = 1
	s.compactLocked()
	s.mu.Unlock()
	s.Close()
	s = open()
	defer s.Close()
	if got := orderSnapshot(s); got != want {
		t.Fatalf("compacted and reopened:\n got %s\nwant %s", got, want)
	}
}
