package controller

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/rocketgo/rocketgo/remoting/wire"
)

// The controller's replicated state is, per broker set (one brokerName),
// who its members are (controller-assigned ids, addresses, the check code
// each registered with), who the master is, the master epoch, the
// SyncStateSet and its epoch. Every change is an event that goes through
// the Raft log and is applied here by every controller node in the same
// order; apply is deterministic and checks each event's preconditions
// again, so an event decided on stale state (two elections racing, a
// leader change between decision and commit) is refused instead of
// applied twice.

// eventKind names a state change.
type eventKind string

const (
	evApplyBrokerID eventKind = "applyBrokerId"
	evUpdateAddress eventKind = "updateBrokerAddress"
	evElectMaster   eventKind = "electMaster"
	evAlterSSS      eventKind = "alterSyncStateSet"
	evCleanBroker   eventKind = "cleanBrokerData"
)

// event is one log entry. Fields unused by a kind are left zero.
type event struct {
	Kind      eventKind `json:"kind"`
	Cluster   string    `json:"cluster,omitempty"`
	Broker    string    `json:"broker"`
	ID        int64     `json:"id,omitempty"`
	Addr      string    `json:"addr,omitempty"`
	CheckCode string    `json:"checkCode,omitempty"`

	// electMaster: the new master (NoMaster: the old one is gone and nobody
	// qualified). electMaster and alterSyncStateSet carry the epochs they
	// were decided on.
	Master      int64   `json:"master,omitempty"`
	MasterEpoch int32   `json:"masterEpoch,omitempty"`
	SSSEpoch    int32   `json:"sssEpoch,omitempty"`
	Members     []int64 `json:"members,omitempty"`
}

// errStale reports an event whose preconditions no longer hold.
var errStale = errors.New("controller: state changed since the request was decided")

// replica is one registered broker of a set.
type replica struct {
	Addr      string `json:"addr"`
	CheckCode string `json:"checkCode"`
}

// brokerSet is one broker set's record.
type brokerSet struct {
	Cluster  string            `json:"cluster"`
	Name     string            `json:"name"`
	Replicas map[int64]replica `json:"replicas"`
	NextID   int64             `json:"nextId"`

	Master      int64   `json:"master"` // NoMaster = none
	MasterEpoch int32   `json:"masterEpoch"`
	SyncState   []int64 `json:"syncStateSet"` // sorted
	SSSEpoch    int32   `json:"syncStateSetEpoch"`
}

func (b *brokerSet) clone() *brokerSet {
	c := *b
	c.Replicas = maps.Clone(b.Replicas)
	c.SyncState = slices.Clone(b.SyncState)
	return &c
}

// ids lists the registered broker ids in order.
func (b *brokerSet) ids() []int64 {
	return slices.Sorted(maps.Keys(b.Replicas))
}

func (b *brokerSet) addr(id int64) string { return b.Replicas[id].Addr }

// firstElection reports that the set never had a master.
func (b *brokerSet) firstElection() bool { return b.MasterEpoch == 0 }

// memberGroup is the set's BrokerMemberGroup.
func (b *brokerSet) memberGroup() *wire.BrokerMemberGroup {
	g := &wire.BrokerMemberGroup{Cluster: b.Cluster, BrokerName: b.Name, BrokerAddrs: make(map[int64]string, len(b.Replicas))}
	for id, r := range b.Replicas {
		g.BrokerAddrs[id] = r.Addr
	}
	return g
}

// state is the whole replicated state. It is not safe for concurrent use;
// the FSM guards it.
type state struct {
	Sets map[string]*brokerSet `json:"sets"`
}

func newState() *state { return &state{Sets: map[string]*brokerSet{}} }

// apply performs one event.
func (s *state) apply(e event) error {
	switch e.Kind {
	case evApplyBrokerID:
		return s.applyBrokerID(e)
	case evUpdateAddress:
		set := s.Sets[e.Broker]
		if set == nil {
			return fmt.Errorf("%w: broker set %q is unknown", errStale, e.Broker)
		}
		r, ok := set.Replicas[e.ID]
		if !ok {
			return fmt.Errorf("%w: broker %d of %q is unknown", errStale, e.ID, e.Broker)
		}
		r.Addr = e.Addr
		set.Replicas[e.ID] = r
		return nil
	case evElectMaster:
		return s.electMaster(e)
	case evAlterSSS:
		set := s.Sets[e.Broker]
		if set == nil {
			return fmt.Errorf("%w: broker set %q is unknown", errStale, e.Broker)
		}
		if set.Master != e.Master || set.MasterEpoch != e.MasterEpoch || set.SSSEpoch != e.SSSEpoch {
			return fmt.Errorf("%w: master %d epoch %d/%d, the change expected %d epoch %d/%d",
				errStale, set.Master, set.MasterEpoch, set.SSSEpoch, e.Master, e.MasterEpoch, e.SSSEpoch)
		}
		set.SyncState = wire.NormalizeIDs(e.Members)
		set.SSSEpoch++
		return nil
	case evCleanBroker:
		set := s.Sets[e.Broker]
		if set == nil {
			return nil
		}
		if len(e.Members) == 0 {
			delete(s.Sets, e.Broker)
			return nil
		}
		for _, id := range e.Members {
			delete(set.Replicas, id)
			set.SyncState = slices.DeleteFunc(set.SyncState, func(x int64) bool { return x == id })
			if set.Master == id {
				set.Master = NoMaster
			}
		}
		if len(set.Replicas) == 0 {
			delete(s.Sets, e.Broker)
		}
		return nil
	}
	return fmt.Errorf("controller: unknown event kind %q", e.Kind)
}

// applyBrokerID assigns an id when it is free or already belongs to the
// same check code (a broker re-applying after a crash), as upstream's
// compare-and-set ApplyBrokerIdEvent.
func (s *state) applyBrokerID(e event) error {
	if e.ID < FirstBrokerID {
		return fmt.Errorf("%w: broker id %d is below %d", errStale, e.ID, FirstBrokerID)
	}
	set := s.Sets[e.Broker]
	if set == nil {
		if e.ID != FirstBrokerID {
			return fmt.Errorf("%w: broker set %q is new, its first id is %d, not %d", errStale, e.Broker, FirstBrokerID, e.ID)
		}
		set = &brokerSet{Cluster: e.Cluster, Name: e.Broker, Replicas: map[int64]replica{}, NextID: FirstBrokerID}
		s.Sets[e.Broker] = set
	}
	if r, ok := set.Replicas[e.ID]; ok {
		if r.CheckCode != e.CheckCode {
			return fmt.Errorf("%w: broker id %d of %q belongs to another broker", errStale, e.ID, e.Broker)
		}
		return nil
	}
	set.Replicas[e.ID] = replica{Addr: e.Addr, CheckCode: e.CheckCode}
	set.NextID = max(set.NextID, e.ID+1)
	return nil
}

func (s *state) electMaster(e event) error {
	set := s.Sets[e.Broker]
	if set == nil {
		return fmt.Errorf("%w: broker set %q is unknown", errStale, e.Broker)
	}
	if set.MasterEpoch != e.MasterEpoch {
		return fmt.Errorf("%w: master epoch is %d, the election was decided at %d", errStale, set.MasterEpoch, e.MasterEpoch)
	}
	if e.Master == NoMaster {
		// The master is gone and nobody qualified: forget it, keep the
		// SyncStateSet so its members can be elected once they return.
		set.Master = NoMaster
		set.MasterEpoch++
		return nil
	}
	if _, ok := set.Replicas[e.Master]; !ok {
		return fmt.Errorf("%w: broker %d of %q is not registered", errStale, e.Master, e.Broker)
	}
	set.Master = e.Master
	set.MasterEpoch++
	set.SyncState = []int64{e.Master}
	set.SSSEpoch++
	return nil
}

// get returns a copy of one set, or nil.
func (s *state) get(name string) *brokerSet {
	if set := s.Sets[name]; set != nil {
		return set.clone()
	}
	return nil
}

func (s *state) marshal() ([]byte, error) { return json.Marshal(s) }

func unmarshalState(b []byte) (*state, error) {
	s := newState()
	if err := json.Unmarshal(b, s); err != nil {
		return nil, fmt.Errorf("controller: decoding a state snapshot: %w", err)
	}
	if s.Sets == nil {
		s.Sets = map[string]*brokerSet{}
	}
	for name, set := range s.Sets {
		if set == nil {
			delete(s.Sets, name)
			continue
		}
		if set.Replicas == nil {
			set.Replicas = map[int64]replica{}
		}
	}
	return s, nil
}
