package rebalance

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// The expected assignments below were derived from the Java strategies'
// source and cross-checked with a throwaway Java program that runs the same
// arithmetic, TreeMap ring and MessageDigest MD5 on the JVM.

// qs builds queues of topic "T" on broker b with the given ids.
func qs(b string, ids ...int) []Queue {
	out := make([]Queue, len(ids))
	for i, id := range ids {
		out[i] = Queue{Topic: "T", BrokerName: b, QueueID: id}
	}
	return out
}

func cat(lists ...[]Queue) []Queue {
	var out []Queue
	for _, l := range lists {
		out = append(out, l...)
	}
	return out
}

func seq(n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = i
	}
	return out
}

func cids(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("c%d", i+1)
	}
	return out
}

// shuffled returns a shuffled copy, to show input order is irrelevant.
func shuffled[T any](s []T, seed uint64) []T {
	out := slices.Clone(s)
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	r.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	return out
}

type allocCase struct {
	name string
	mqs  []Queue
	cids []string
	want map[string][]Queue // per client id; missing ⇒ nothing
}

func runCases(t *testing.T, s Strategy, cases []allocCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for seed := uint64(0); seed < 3; seed++ {
				mqs, ids := shuffled(tc.mqs, seed), shuffled(tc.cids, seed+7)
				for _, cid := range tc.cids {
					got, err := s.Allocate("G", cid, mqs, ids)
					if err != nil {
						t.Fatalf("%s: %v", cid, err)
					}
					if want := tc.want[cid]; !slices.Equal(got, want) {
						t.Errorf("seed %d %s: got %v, want %v", seed, cid, got, want)
					}
				}
			}
		})
	}
}

func TestAveragely(t *testing.T) {
	runCases(t, Averagely{}, []allocCase{
		{"8q/3c", qs("b", seq(8)...), cids(3), map[string][]Queue{
			"c1": qs("b", 0, 1, 2), "c2": qs("b", 3, 4, 5), "c3": qs("b", 6, 7),
		}},
		{"3q/5c", qs("b", seq(3)...), cids(5), map[string][]Queue{
			"c1": qs("b", 0), "c2": qs("b", 1), "c3": qs("b", 2),
		}},
		{"2x4q/3c", cat(qs("broker-a", seq(4)...), qs("broker-b", seq(4)...)), cids(3), map[string][]Queue{
			"c1": qs("broker-a", 0, 1, 2),
			"c2": cat(qs("broker-a", 3), qs("broker-b", 0, 1)),
			"c3": qs("broker-b", 2, 3),
		}},
		{"10q/4c", qs("b", seq(10)...), cids(4), map[string][]Queue{
			"c1": qs("b", 0, 1, 2), "c2": qs("b", 3, 4, 5), "c3": qs("b", 6, 7), "c4": qs("b", 8, 9),
		}},
		{"4q/4c", qs("b", seq(4)...), cids(4), map[string][]Queue{
			"c1": qs("b", 0), "c2": qs("b", 1), "c3": qs("b", 2), "c4": qs("b", 3),
		}},
		{"1q/1c", qs("b", 0), cids(1), map[string][]Queue{"c1": qs("b", 0)}},
	})
}

func TestAveragelyByCircle(t *testing.T) {
	runCases(t, AveragelyByCircle{}, []allocCase{
		{"8q/3c", qs("b", seq(8)...), cids(3), map[string][]Queue{
			"c1": qs("b", 0, 3, 6), "c2": qs("b", 1, 4, 7), "c3": qs("b", 2, 5),
		}},
		{"3q/5c", qs("b", seq(3)...), cids(5), map[string][]Queue{
			"c1": qs("b", 0), "c2": qs("b", 1), "c3": qs("b", 2),
		}},
		{"2x4q/3c", cat(qs("broker-a", seq(4)...), qs("broker-b", seq(4)...)), cids(3), map[string][]Queue{
			"c1": cat(qs("broker-a", 0, 3), qs("broker-b", 2)),
			"c2": cat(qs("broker-a", 1), qs("broker-b", 0, 3)),
			"c3": cat(qs("broker-a", 2), qs("broker-b", 1)),
		}},
		{"10q/4c", qs("b", seq(10)...), cids(4), map[string][]Queue{
			"c1": qs("b", 0, 4, 8), "c2": qs("b", 1, 5, 9), "c3": qs("b", 2, 6), "c4": qs("b", 3, 7),
		}},
	})
}

func TestMachineRoom(t *testing.T) {
	mqs := cat(qs("hz@b1", seq(4)...), qs("sh@b2", 0, 1, 2),
		// Not eligible: no room, room not ours, empty name after "@", three
		// parts. "hz@b5@" is eligible: Java's split drops the trailing "".
		qs("b3", 0, 1), qs("bj@b4", 0, 1), qs("hz@", 0, 1), qs("hz@x@y", 0, 1), qs("hz@b5@", 0, 1))
	runCases(t, NewMachineRoom("hz", "sh"), []allocCase{
		{"9 eligible/3c", mqs, cids(3), map[string][]Queue{
			"c1": qs("hz@b1", 0, 1, 2),
			"c2": cat(qs("hz@b1", 3), qs("hz@b5@", 0, 1)),
			"c3": qs("sh@b2", 0, 1, 2),
		}},
		// 7 eligible over 3: two each in blocks, leftover to c1.
		{"7 eligible/3c", cat(qs("hz@b1", seq(4)...), qs("sh@b2", 0, 1, 2), qs("bj@b4", 0)), cids(3), map[string][]Queue{
			"c1": cat(qs("hz@b1", 0, 1), qs("sh@b2", 2)),
			"c2": qs("hz@b1", 2, 3),
			"c3": qs("sh@b2", 0, 1),
		}},
		{"2 eligible/3c", cat(qs("hz@b1", 0, 1), qs("bj@b4", 0, 1, 2)), cids(3), map[string][]Queue{
			"c1": qs("hz@b1", 0), "c2": qs("hz@b1", 1),
		}},
	})
}

// roomByPrefix puts "hz-b1", "hz@b1" and "hz-c1" in room "hz".
var roomByPrefix = ResolverFuncs{Broker: func(q Queue) string { return prefix(q.BrokerName) }, Consumer: prefix}

func prefix(s string) string {
	if i := strings.IndexAny(s, "-@"); i >= 0 {
		return s[:i]
	}
	return s
}

func TestMachineRoomNearby(t *testing.T) {
	s, err := NewMachineRoomNearby(Averagely{}, roomByPrefix)
	if err != nil {
		t.Fatal(err)
	}
	if got := s.Name(); got != "MACHINE_ROOM_NEARBY-AVG" {
		t.Errorf("Name = %q", got)
	}
	// hz and sh have consumers; bj and gz have none, so their queues are
	// shared by everybody, room by room in name order (bj, then gz).
	mqs := cat(qs("hz-b1", seq(4)...), qs("sh-b1", 0, 1, 2), qs("bj-b1", seq(4)...), qs("gz-b1", 0, 1))
	runCases(t, s, []allocCase{
		{"4 rooms", mqs, []string{"hz-c1", "hz-c2", "sh-c1"}, map[string][]Queue{
			"hz-c1": cat(qs("hz-b1", 0, 1), qs("bj-b1", 0, 1), qs("gz-b1", 0)),
			"hz-c2": cat(qs("hz-b1", 2, 3), qs("bj-b1", 2), qs("gz-b1", 1)),
			"sh-c1": cat(qs("sh-b1", 0, 1, 2), qs("bj-b1", 3)),
		}},
	})

	circle, err := NewMachineRoomNearby(AveragelyByCircle{}, roomByPrefix)
	if err != nil {
		t.Fatal(err)
	}
	if got := circle.Name(); got != "MACHINE_ROOM_NEARBY-AVG_BY_CIRCLE" {
		t.Errorf("Name = %q", got)
	}

	t.Run("unknown room", func(t *testing.T) {
		bad := ResolverFuncs{Broker: roomByPrefix.Broker} // no consumer resolver
		s, _ := NewMachineRoomNearby(Averagely{}, bad)
		_, err := s.Allocate("G", "hz-c1", mqs, []string{"hz-c1"})
		if !errors.Is(err, ErrNoMachineRoom) {
			t.Fatalf("err = %v, want ErrNoMachineRoom", err)
		}
	})
	t.Run("nil arguments", func(t *testing.T) {
		if _, err := NewMachineRoomNearby(nil, roomByPrefix); !errors.Is(err, ErrNilArgument) {
			t.Errorf("nil inner: %v", err)
		}
		if _, err := NewMachineRoomNearby(Averagely{}, nil); !errors.Is(err, ErrNilArgument) {
			t.Errorf("nil resolver: %v", err)
		}
	})
}

func TestConsistentHash(t *testing.T) {
	ids := []string{"10.0.0.1@100", "10.0.0.2@200", "10.0.0.3@300"}
	mqs := cat(qsTopic("TopicTest", "broker-a", 4), qsTopic("TopicTest", "broker-b", 4))
	// Owners per queue, in mqs order, as computed by Java.
	cases := []struct {
		name   string
		vnodes int
		ids    []string
		owners []string
	}{
		{"vnodes=10", 10, ids, []string{
			"10.0.0.1@100", "10.0.0.2@200", "10.0.0.1@100", "10.0.0.3@300",
			"10.0.0.1@100", "10.0.0.3@300", "10.0.0.3@300", "10.0.0.1@100",
		}},
		{"vnodes=3", 3, ids, []string{
			"10.0.0.1@100", "10.0.0.3@300", "10.0.0.3@300", "10.0.0.2@200",
			"10.0.0.1@100", "10.0.0.3@300", "10.0.0.2@200", "10.0.0.3@300",
		}},
		{"vnodes=10 joined", 10, append(slices.Clone(ids), "10.0.0.4@400"), []string{
			"10.0.0.1@100", "10.0.0.4@400", "10.0.0.1@100", "10.0.0.4@400",
			"10.0.0.4@400", "10.0.0.3@300", "10.0.0.3@300", "10.0.0.1@100",
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, err := NewConsistentHash(WithVirtualNodes(tc.vnodes))
			if err != nil {
				t.Fatal(err)
			}
			want := map[string][]Queue{}
			for i, q := range mqs {
				if got := s.Owner(q, tc.ids); got != tc.owners[i] {
					t.Errorf("Owner(%v) = %s, want %s", q, got, tc.owners[i])
				}
				want[tc.owners[i]] = append(want[tc.owners[i]], q)
			}
			runCases(t, s, []allocCase{{"alloc", mqs, tc.ids, want}})
		})
	}

	t.Run("md5", func(t *testing.T) {
		for key, want := range map[string]int64{
			"":               3558706393,
			"abc":            2416005272,
			"10.0.0.1@100-0": 2474991101,
			"MessageQueue [topic=TopicTest, brokerName=broker-a, queueId=0]": 1987926524,
		} {
			if got := MD5Hash(key); got != want {
				t.Errorf("MD5Hash(%q) = %d, want %d", key, got, want)
			}
		}
	})
	t.Run("default and invalid vnodes", func(t *testing.T) {
		s, err := NewConsistentHash()
		if err != nil || s.vnodes != DefaultVirtualNodes || s.Name() != "CONSISTENT_HASH" {
			t.Fatalf("default: %+v %v", s, err)
		}
		for _, n := range []int{0, -1} {
			if _, err := NewConsistentHash(WithVirtualNodes(n)); !errors.Is(err, ErrInvalidVirtualNodes) {
				t.Errorf("vnodes %d: err = %v", n, err)
			}
		}
	})
	t.Run("collision keeps later client", func(t *testing.T) {
		// A constant hash puts every virtual node on one point; Java's
		// TreeMap keeps the last put, i.e. the greatest sorted client id.
		s, err := NewConsistentHash(WithHashFunc(func(string) int64 { return 7 }))
		if err != nil {
			t.Fatal(err)
		}
		if got := s.Owner(mqs[0], []string{"b", "c", "a"}); got != "c" {
			t.Errorf("owner = %q, want c", got)
		}
	})
}

func qsTopic(topic, broker string, n int) []Queue {
	out := make([]Queue, n)
	for i := range out {
		out[i] = Queue{Topic: topic, BrokerName: broker, QueueID: i}
	}
	return out
}

func TestConfig(t *testing.T) {
	list := cat(qs("b", 3, 1), qs("a", 0))
	s := NewConfig(list)
	list[0].QueueID = 99 // the strategy owns its copy
	for _, cid := range []string{"c1", "stranger"} {
		got, err := s.Allocate("G", cid, qs("b", 0), []string{"c1"})
		if err != nil {
			t.Fatal(err)
		}
		if want := cat(qs("b", 3, 1), qs("a", 0)); !slices.Equal(got, want) {
			t.Errorf("%s: got %v, want %v", cid, got, want)
		}
		got[0].QueueID = 42 // callers may not corrupt later results
	}
	if s.Name() != "CONFIG" {
		t.Errorf("Name = %q", s.Name())
	}
	if _, err := s.Allocate("", "c1", nil, nil); !errors.Is(err, ErrEmptyGroup) {
		t.Errorf("empty group: %v", err)
	}
}

func allStrategies(t *testing.T) []Strategy {
	t.Helper()
	ch, err := NewConsistentHash()
	if err != nil {
		t.Fatal(err)
	}
	nearby, err := NewMachineRoomNearby(Averagely{}, roomByPrefix)
	if err != nil {
		t.Fatal(err)
	}
	nearbyCH, err := NewMachineRoomNearby(ch, roomByPrefix)
	if err != nil {
		t.Fatal(err)
	}
	return []Strategy{Averagely{}, AveragelyByCircle{}, ch, NewMachineRoom("hz", "sh", "bj"), nearby, nearbyCH}
}

func TestNames(t *testing.T) {
	want := []string{"AVG", "AVG_BY_CIRCLE", "CONSISTENT_HASH", "MACHINE_ROOM",
		"MACHINE_ROOM_NEARBY-AVG", "MACHINE_ROOM_NEARBY-CONSISTENT_HASH"}
	for i, s := range allStrategies(t) {
		if s.Name() != want[i] {
			t.Errorf("strategy %d: Name = %q, want %q", i, s.Name(), want[i])
		}
	}
}

func TestInvalidInput(t *testing.T) {
	mqs, ids := qs("b", 0, 1), cids(2)
	for _, s := range allStrategies(t) {
		for _, tc := range []struct {
			group, cid string
			mqs        []Queue
			ids        []string
			want       error
		}{
			{"", "c1", mqs, ids, ErrEmptyGroup},
			{"G", "", mqs, ids, ErrEmptyConsumerID},
			{"G", "c1", nil, ids, ErrNoQueues},
			{"G", "c1", mqs, nil, ErrNoConsumers},
		} {
			got, err := s.Allocate(tc.group, tc.cid, tc.mqs, tc.ids)
			var ae *AllocateError
			if !errors.Is(err, tc.want) || !errors.As(err, &ae) || ae.Strategy != s.Name() || got != nil {
				t.Errorf("%s %+v: got %v, %v; want %v", s.Name(), tc, got, err, tc.want)
			}
		}
		// A client the broker does not list yet gets nothing, silently.
		got, err := s.Allocate("G", "c9", mqs, ids)
		if err != nil || len(got) != 0 {
			t.Errorf("%s: unknown client: %v, %v", s.Name(), got, err)
		}
	}
}

// TestPartition checks, for random topologies, that every strategy but
// Config hands each queue to exactly one consumer, whatever the input order
// and even with duplicated input entries.
func TestPartition(t *testing.T) {
	rooms := []string{"hz", "sh", "bj"}
	r := rand.New(rand.NewPCG(1, 2))
	for iter := 0; iter < 200; iter++ {
		var mqs []Queue
		for b, nb := 0, 1+r.IntN(4); b < nb; b++ {
			broker := fmt.Sprintf("%s@b%d", rooms[r.IntN(len(rooms))], b)
			for q, nq := 0, 1+r.IntN(8); q < nq; q++ {
				mqs = append(mqs, Queue{Topic: "T", BrokerName: broker, QueueID: q})
			}
		}
		var ids []string
		for c, nc := 0, 1+r.IntN(7); c < nc; c++ {
			ids = append(ids, fmt.Sprintf("%s-10.0.0.%d@%d", rooms[r.IntN(len(rooms))], c, r.IntN(1000)))
		}
		// Duplicates must not cause double assignment.
		mqs = append(mqs, mqs[0])
		ids = append(ids, ids[0])
		for _, s := range allStrategies(t) {
			owner := map[Queue]string{}
			for _, cid := range ids {
				got, err := s.Allocate("G", cid, shuffled(mqs, uint64(iter)), shuffled(ids, uint64(iter+1)))
				if err != nil {
					t.Fatalf("%s: %v", s.Name(), err)
				}
				seen := map[Queue]bool{}
				for _, q := range got {
					if seen[q] {
						t.Fatalf("%s: %v given twice to %s", s.Name(), q, cid)
					}
					seen[q] = true
					// The duplicated id asks twice and may meet itself.
					if prev, dup := owner[q]; dup && prev != cid {
						t.Fatalf("%s: %v given to %s and %s", s.Name(), q, prev, cid)
					}
					owner[q] = cid
				}
			}
			// Every broker's room is configured for MachineRoom, so all
			// strategies must cover every queue.
			for _, q := range mqs {
				if _, ok := owner[q]; !ok {
					t.Fatalf("%s: %v not assigned (ids %v)", s.Name(), q, ids)
				}
			}
		}
	}
}

func TestFromFunc(t *testing.T) {
	s := FromFunc("FIRST", func(group, cid string, mqs []Queue, ids []string) ([]Queue, error) {
		return mqs[:1], nil
	})
	got, err := s.Allocate("G", "c1", qs("b", 5, 6), cids(1))
	if err != nil || s.Name() != "FIRST" || !slices.Equal(got, qs("b", 5)) {
		t.Errorf("got %v %v %q", got, err, s.Name())
	}
	if got, err := FromFunc("NIL", nil).Allocate("G", "c1", nil, nil); got != nil || err != nil {
		t.Errorf("nil func: %v %v", got, err)
	}
}

func TestInputNotModified(t *testing.T) {
	mqs := cat(qs("b", 2, 1), qs("a", 0))
	ids := []string{"c2", "c1"}
	for _, s := range allStrategies(t) {
		if _, err := s.Allocate("G", "c1", mqs, ids); err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(mqs, cat(qs("b", 2, 1), qs("a", 0))) || !slices.Equal(ids, []string{"c2", "c1"}) {
			t.Fatalf("%s modified its input", s.Name())
		}
	}
}
