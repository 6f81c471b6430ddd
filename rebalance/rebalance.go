// Package rebalance decides which message queues each consumer of a group
// owns. Every consumer runs the same strategy over the same inputs (all
// queues of the topic, all client ids of the group) and keeps only its own
// share, so the strategies must be deterministic and must agree exactly with
// Java consumers in a mixed group. Each strategy here reproduces the Java
// class of the same name in org.apache.rocketmq.client.consumer.rebalance;
// where the official Go client differs from Java, Java wins and the
// difference is noted on the strategy.
//
// Input order does not matter: Allocate sorts copies of mqAll (by topic,
// broker name, queue id) and cidAll the way Java's RebalanceImpl sorts them
// before allocating, using Java's string order, and drops duplicates. The
// caller's slices are never modified.
//
// The package does no I/O and keeps no state between calls.
package rebalance

import (
	"errors"
	"fmt"
	"slices"

	"github.com/rocketgo/rocketgo/selector"
)

// Queue is the shared message-queue identity; it lives in package selector
// so that producer and consumer code use one type.
type Queue = selector.Queue

// Strategy allocates queues among the consumers of a group.
//
// Allocate returns the queues currentCID owns, in queue order. When
// currentCID is not in cidAll (the broker's view of the group is stale) the
// result is empty with a nil error, as in Java, and the caller should simply
// retry at the next rebalance. Invalid input yields an *[AllocateError].
type Strategy interface {
	Name() string
	Allocate(group, currentCID string, mqAll []Queue, cidAll []string) ([]Queue, error)
}

// Strategy names, as Java's getName returns them. The consumer reports
// them to the broker in its running info.
const (
	NameAveragely         = "AVG"
	NameAveragelyByCircle = "AVG_BY_CIRCLE"
	NameConsistentHash    = "CONSISTENT_HASH"
	NameConfig            = "CONFIG"
	NameMachineRoom       = "MACHINE_ROOM"
	// NameMachineRoomNearbyPrefix is followed by "-" and the inner
	// strategy's name.
	NameMachineRoomNearbyPrefix = "MACHINE_ROOM_NEARBY"
)

// Sentinel errors, wrapped in *AllocateError.
var (
	ErrEmptyGroup      = errors.New("rebalance: consumer group is empty")
	ErrEmptyConsumerID = errors.New("rebalance: current client id is empty")
	ErrNoQueues        = errors.New("rebalance: no message queues to allocate")
	ErrNoConsumers     = errors.New("rebalance: no client ids to allocate to")
	// ErrNoMachineRoom means a MachineRoomResolver returned "" for a queue
	// or a client id; Java rejects that too.
	ErrNoMachineRoom = errors.New("rebalance: machine room unknown")
)

// AllocateError reports why a strategy rejected its input.
type AllocateError struct {
	Strategy string // Name() of the failing strategy
	Group    string
	Err      error // one of the sentinels above, possibly wrapped
}

func (e *AllocateError) Error() string {
	return fmt.Sprintf("rebalance %s for group %q: %v", e.Strategy, e.Group, e.Err)
}

func (e *AllocateError) Unwrap() error { return e.Err }

// AllocateFunc is the signature of Strategy.Allocate.
type AllocateFunc func(group, currentCID string, mqAll []Queue, cidAll []string) ([]Queue, error)

// FromFunc adapts a function to [Strategy] under the given name. The
// function receives the caller's slices as they are, unsorted and unchecked.
func FromFunc(name string, fn AllocateFunc) Strategy {
	return funcStrategy{name: name, fn: fn}
}

type funcStrategy struct {
	name string
	fn   AllocateFunc
}

func (f funcStrategy) Name() string { return f.name }

func (f funcStrategy) Allocate(group, currentCID string, mqAll []Queue, cidAll []string) ([]Queue, error) {
	if f.fn == nil {
		return nil, nil
	}
	return f.fn(group, currentCID, mqAll, cidAll)
}

// prepared is validated, sorted, de-duplicated input.
type prepared struct {
	mqs   []Queue
	cids  []string
	index int // position of currentCID in cids, -1 if absent
}

// prepare performs Java's AbstractAllocateMessageQueueStrategy.check plus
// the caller-side sort. An absent currentCID is not an error.
func prepare(name, group, currentCID string, mqAll []Queue, cidAll []string) (prepared, error) {
	fail := func(err error) (prepared, error) {
		return prepared{}, &AllocateError{Strategy: name, Group: group, Err: err}
	}
	switch {
	case group == "":
		return fail(ErrEmptyGroup)
	case currentCID == "":
		return fail(ErrEmptyConsumerID)
	case len(mqAll) == 0:
		return fail(ErrNoQueues)
	case len(cidAll) == 0:
		return fail(ErrNoConsumers)
	}
	p := prepared{mqs: sortedQueues(mqAll), cids: sortedIDs(cidAll), index: -1}
	if i, ok := slices.BinarySearchFunc(p.cids, currentCID, selector.JavaCompare); ok {
		p.index = i
	}
	return p, nil
}

// sortedQueues returns a sorted, duplicate-free copy of mqs.
func sortedQueues(mqs []Queue) []Queue {
	out := slices.Clone(mqs)
	slices.SortFunc(out, Queue.Compare)
	return slices.Compact(out)
}

// sortedIDs returns a sorted, duplicate-free copy of ids.
func sortedIDs(ids []string) []string {
	out := slices.Clone(ids)
	slices.SortFunc(out, selector.JavaCompare)
	return slices.Compact(out)
}
