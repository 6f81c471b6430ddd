package controller

import (
	"errors"
	"slices"
	"testing"
)

func mustApply(t *testing.T, s *state, e event) {
	t.Helper()
	if err := s.apply(e); err != nil {
		t.Fatalf("apply %+v: %v", e, err)
	}
}

func TestStateBrokerIDsAreCompareAndSet(t *testing.T) {
	s := newState()
	if err := s.apply(event{Kind: evApplyBrokerID, Broker: "b", ID: 2, CheckCode: "x"}); !errors.Is(err, errStale) {
		t.Fatalf("a new set must start at id 1, got %v", err)
	}
	mustApply(t, s, event{Kind: evApplyBrokerID, Cluster: "c", Broker: "b", ID: 1, Addr: "a1", CheckCode: "a1;1"})
	mustApply(t, s, event{Kind: evApplyBrokerID, Broker: "b", ID: 1, Addr: "a1", CheckCode: "a1;1"}) // same code: idempotent
	if err := s.apply(event{Kind: evApplyBrokerID, Broker: "b", ID: 1, Addr: "a2", CheckCode: "a2;1"}); !errors.Is(err, errStale) {
		t.Fatalf("a taken id with another code must be refused, got %v", err)
	}
	mustApply(t, s, event{Kind: evApplyBrokerID, Broker: "b", ID: 2, Addr: "a2", CheckCode: "a2;1"})
	if got := s.Sets["b"].NextID; got != 3 {
		t.Fatalf("next id %d, want 3", got)
	}
}

func TestStateElectionFencesStaleEpochs(t *testing.T) {
	s := newState()
	for id := int64(1); id <= 3; id++ {
		mustApply(t, s, event{Kind: evApplyBrokerID, Cluster: "c", Broker: "b", ID: id, CheckCode: "x"})
	}
	mustApply(t, s, event{Kind: evElectMaster, Broker: "b", Master: 1, MasterEpoch: 0})
	set := s.Sets["b"]
	if set.Master != 1 || set.MasterEpoch != 1 || !slices.Equal(set.SyncState, []int64{1}) || set.SSSEpoch != 1 {
		t.Fatalf("after the first election: %+v", set)
	}
	// A second election decided on epoch 0 lost the race.
	if err := s.apply(event{Kind: evElectMaster, Broker: "b", Master: 2, MasterEpoch: 0}); !errors.Is(err, errStale) {
		t.Fatalf("stale election applied: %v", err)
	}
	mustApply(t, s, event{Kind: evAlterSSS, Broker: "b", Master: 1, MasterEpoch: 1, SSSEpoch: 1, Members: []int64{3, 1, 2}})
	if !slices.Equal(set.SyncState, []int64{1, 2, 3}) || set.SSSEpoch != 2 {
		t.Fatalf("after expand: %+v", set)
	}
	if err := s.apply(event{Kind: evAlterSSS, Broker: "b", Master: 1, MasterEpoch: 1, SSSEpoch: 1, Members: []int64{1}}); !errors.Is(err, errStale) {
		t.Fatalf("alter with a stale SyncStateSet epoch applied: %v", err)
	}
	// The master dies and nobody qualifies: the master is forgotten, the
	// set kept.
	mustApply(t, s, event{Kind: evElectMaster, Broker: "b", Master: NoMaster, MasterEpoch: 1})
	if set.Master != NoMaster || set.MasterEpoch != 2 || !slices.Equal(set.SyncState, []int64{1, 2, 3}) {
		t.Fatalf("after a failed election: %+v", set)
	}
	mustApply(t, s, event{Kind: evElectMaster, Broker: "b", Master: 3, MasterEpoch: 2})
	if set.Master != 3 || set.MasterEpoch != 3 || !slices.Equal(set.SyncState, []int64{3}) || set.SSSEpoch != 3 {
		t.Fatalf("after re-election: %+v", set)
	}
}

func TestStateSnapshotRoundTrip(t *testing.T) {
	s := newState()
	mustApply(t, s, event{Kind: evApplyBrokerID, Cluster: "c", Broker: "b", ID: 1, Addr: "a", CheckCode: "a;1"})
	mustApply(t, s, event{Kind: evElectMaster, Broker: "b", Master: 1})
	b, err := s.marshal()
	if err != nil {
		t.Fatal(err)
	}
	got, err := unmarshalState(b)
	if err != nil {
		t.Fatal(err)
	}
	if g, w := got.Sets["b"], s.Sets["b"]; g.Master != w.Master || g.Replicas[1] != w.Replicas[1] || g.MasterEpoch != w.MasterEpoch {
		t.Fatalf("round trip: %+v vs %+v", g, w)
	}
	if _, err := unmarshalState([]byte("{")); err == nil {
		t.Fatal("a truncated snapshot decoded")
	}
}

func TestElectPolicy(t *testing.T) {
	live := map[int64]liveBroker{
		1: {Epoch: 3, MaxOffset: 100, ElectionPriority: 5},
		2: {Epoch: 3, MaxOffset: 200, ElectionPriority: 9},
		3: {Epoch: 4, MaxOffset: 50, ElectionPriority: 9},
		4: {Epoch: 3, MaxOffset: 200, ElectionPriority: 1},
	}
	alive := func(ids ...int64) func(int64) (liveBroker, bool) {
		return func(id int64) (liveBroker, bool) {
			if !slices.Contains(ids, id) {
				return liveBroker{}, false
			}
			return live[id], true
		}
	}
	cases := []struct {
		name string
		in   electInput
		want int64
	}{
		{"newest epoch wins", electInput{syncState: []int64{1, 2, 3}, alive: alive(1, 2, 3)}, 3},
		{"then the longest log", electInput{syncState: []int64{1, 2}, alive: alive(1, 2)}, 2},
		{"then the lowest priority", electInput{syncState: []int64{2, 4}, alive: alive(2, 4)}, 4},
		{"old master kept while alive", electInput{syncState: []int64{1, 3}, oldMaster: 1, alive: alive(1, 3)}, 1},
		{"dead members never qualify", electInput{syncState: []int64{1, 3}, oldMaster: 1, alive: alive(2)}, NoMaster},
		{"unclean election falls back to all", electInput{syncState: []int64{1}, all: []int64{1, 2}, oldMaster: 1, alive: alive(2)}, 2},
		{"designated broker", electInput{syncState: []int64{1, 2, 3}, oldMaster: 1, prefer: 2, alive: alive(1, 2, 3)}, 2},
		{"designated but dead", electInput{syncState: []int64{1, 2}, prefer: 2, alive: alive(1)}, NoMaster},
	}
	for _, tc := range cases {
		if got := elect(tc.in); got != tc.want {
			t.Errorf("%s: elected %d, want %d", tc.name, got, tc.want)
		}
	}
}
