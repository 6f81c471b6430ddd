package rebalance

import (
	"crypto/md5"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/rocketgo/rocketgo/selector"
)

// Averagely is the default strategy (Java AllocateMessageQueueAveragely,
// "AVG"): each consumer gets one contiguous block of queues. With n queues
// and c consumers the first n mod c consumers get ⌈n/c⌉ queues and the rest
// ⌊n/c⌋; with n ≤ c the first n consumers get one queue each.
type Averagely struct{}

// Name implements [Strategy].
func (Averagely) Name() string { return NameAveragely }

// Allocate implements [Strategy].
func (s Averagely) Allocate(group, currentCID string, mqAll []Queue, cidAll []string) ([]Queue, error) {
	p, err := prepare(s.Name(), group, currentCID, mqAll, cidAll)
	if err != nil || p.index < 0 {
		return nil, err
	}
	n, c, i := len(p.mqs), len(p.cids), p.index
	mod := n % c
	size := n / c
	if n <= c {
		size = 1
	} else if mod > 0 && i < mod {
		size++
	}
	start := i*size + mod
	if mod > 0 && i < mod {
		start = i * size
	}
	count := min(size, n-start)
	if count <= 0 {
		return nil, nil
	}
	return slices.Clone(p.mqs[start : start+count]), nil
}

// AveragelyByCircle (Java AllocateMessageQueueAveragelyByCircle,
// "AVG_BY_CIRCLE") deals the queues out like cards: queue k goes to
// consumer k mod c.
type AveragelyByCircle struct{}

// Name implements [Strategy].
func (AveragelyByCircle) Name() string { return NameAveragelyByCircle }

// Allocate implements [Strategy].
func (s AveragelyByCircle) Allocate(group, currentCID string, mqAll []Queue, cidAll []string) ([]Queue, error) {
	p, err := prepare(s.Name(), group, currentCID, mqAll, cidAll)
	if err != nil || p.index < 0 {
		return nil, err
	}
	var out []Queue
	for k := p.index; k < len(p.mqs); k += len(p.cids) {
		out = append(out, p.mqs[k])
	}
	return out, nil
}

// Config (Java AllocateMessageQueueByConfig, "CONFIG") always returns the
// same fixed list, whoever asks and whatever the group looks like; the
// application is responsible for the lists of all consumers fitting
// together. Like Java it does not sort or filter the list; unlike Java it
// still rejects an empty group.
type Config struct {
	queues []Queue
}

// NewConfig returns a Config strategy owning a copy of queues.
func NewConfig(queues []Queue) Config {
	return Config{queues: slices.Clone(queues)}
}

// Name implements [Strategy].
func (Config) Name() string { return NameConfig }

// Allocate implements [Strategy]; it returns a copy of the configured list.
func (s Config) Allocate(group, _ string, _ []Queue, _ []string) ([]Queue, error) {
	if group == "" {
		return nil, &AllocateError{Strategy: s.Name(), Group: group, Err: ErrEmptyGroup}
	}
	return slices.Clone(s.queues), nil
}

// MachineRoom (Java AllocateMessageQueueByMachineRoom, "MACHINE_ROOM")
// consumes only from brokers named "room@name" whose room is one of the
// consumer's rooms, and splits those queues among all consumers: ⌊n/c⌋
// contiguous queues each, then the n mod c leftovers one each to the first
// consumers. A broker name qualifies exactly when Java's
// brokerName.split("@") has two parts, so "a@b@" counts (room "a") while
// "a@" and "a@b@c" do not.
//
// The official Go client takes the contiguous block from the unfiltered
// queue list (a bug); this follows Java.
type MachineRoom struct {
	rooms map[string]struct{}
}

// NewMachineRoom returns a MachineRoom strategy for a consumer deployed in
// the given rooms (Java's consumeridcs).
func NewMachineRoom(rooms ...string) MachineRoom {
	m := make(map[string]struct{}, len(rooms))
	for _, r := range rooms {
		m[r] = struct{}{}
	}
	return MachineRoom{rooms: m}
}

// Name implements [Strategy].
func (MachineRoom) Name() string { return NameMachineRoom }

// Allocate implements [Strategy].
func (s MachineRoom) Allocate(group, currentCID string, mqAll []Queue, cidAll []string) ([]Queue, error) {
	p, err := prepare(s.Name(), group, currentCID, mqAll, cidAll)
	if err != nil || p.index < 0 {
		return nil, err
	}
	var pre []Queue
	for _, q := range p.mqs {
		if room, ok := javaSplitRoom(q.BrokerName); ok {
			if _, mine := s.rooms[room]; mine {
				pre = append(pre, q)
			}
		}
	}
	c, i := len(p.cids), p.index
	per, rem := len(pre)/c, len(pre)%c
	out := slices.Clone(pre[per*i : per*i+per])
	if rem > i {
		out = append(out, pre[i+per*c])
	}
	return out, nil
}

// javaSplitRoom mimics `String[] t = name.split("@"); t.length == 2` and
// returns t[0]: Java's split drops trailing empty strings before counting.
func javaSplitRoom(brokerName string) (string, bool) {
	parts := strings.Split(brokerName, "@")
	for len(parts) > 0 && parts[len(parts)-1] == "" {
		parts = parts[:len(parts)-1]
	}
	if len(parts) != 2 {
		return "", false
	}
	return parts[0], true
}

// MachineRoomResolver tells [MachineRoomNearby] where brokers and consumers
// are deployed. Both methods must return a non-empty room.
type MachineRoomResolver interface {
	BrokerRoom(q Queue) string
	ConsumerRoom(clientID string) string
}

// ResolverFuncs adapts two functions to [MachineRoomResolver].
type ResolverFuncs struct {
	Broker   func(q Queue) string
	Consumer func(clientID string) string
}

// BrokerRoom implements [MachineRoomResolver].
func (r ResolverFuncs) BrokerRoom(q Queue) string {
	if r.Broker == nil {
		return ""
	}
	return r.Broker(q)
}

// ConsumerRoom implements [MachineRoomResolver].
func (r ResolverFuncs) ConsumerRoom(clientID string) string {
	if r.Consumer == nil {
		return ""
	}
	return r.Consumer(clientID)
}

// MachineRoomNearby (Java AllocateMachineRoomNearby,
// "MACHINE_ROOM_NEARBY-<inner>") prefers consumers in the broker's own
// machine room: queues of a room with live consumers go, via the inner
// strategy, only to that room's consumers; queues of rooms without any
// consumer are shared by all consumers, again via the inner strategy, room
// by room in Java string order of room names. The official Go client's
// AllocateByMachineNearby ignores rooms and is plain Averagely; this
// follows Java.
type MachineRoomNearby struct {
	inner    Strategy
	resolver MachineRoomResolver
}

// ErrNilArgument is returned by constructors given a nil dependency.
var ErrNilArgument = errors.New("rebalance: nil argument")

// NewMachineRoomNearby wraps inner with room affinity decided by resolver.
func NewMachineRoomNearby(inner Strategy, resolver MachineRoomResolver) (*MachineRoomNearby, error) {
	if inner == nil {
		return nil, fmt.Errorf("%w: inner strategy", ErrNilArgument)
	}
	if resolver == nil {
		return nil, fmt.Errorf("%w: machine room resolver", ErrNilArgument)
	}
	return &MachineRoomNearby{inner: inner, resolver: resolver}, nil
}

// Name implements [Strategy].
func (s *MachineRoomNearby) Name() string {
	return NameMachineRoomNearbyPrefix + "-" + s.inner.Name()
}

// Allocate implements [Strategy].
func (s *MachineRoomNearby) Allocate(group, currentCID string, mqAll []Queue, cidAll []string) ([]Queue, error) {
	p, err := prepare(s.Name(), group, currentCID, mqAll, cidAll)
	if err != nil || p.index < 0 {
		return nil, err
	}
	fail := func(what string) ([]Queue, error) {
		return nil, &AllocateError{Strategy: s.Name(), Group: group, Err: fmt.Errorf("%w for %s", ErrNoMachineRoom, what)}
	}
	roomQueues := make(map[string][]Queue)
	for _, q := range p.mqs {
		r := s.resolver.BrokerRoom(q)
		if r == "" {
			return fail(q.String())
		}
		roomQueues[r] = append(roomQueues[r], q)
	}
	roomConsumers := make(map[string][]string)
	for _, cid := range p.cids {
		r := s.resolver.ConsumerRoom(cid)
		if r == "" {
			return fail("client " + strconv.Quote(cid))
		}
		roomConsumers[r] = append(roomConsumers[r], cid)
	}

	var out []Queue
	mine := s.resolver.ConsumerRoom(currentCID)
	if qs := roomQueues[mine]; len(qs) > 0 {
		got, err := s.inner.Allocate(group, currentCID, qs, roomConsumers[mine])
		if err != nil {
			return nil, err
		}
		out = append(out, got...)
	}
	delete(roomQueues, mine)

	rooms := make([]string, 0, len(roomQueues))
	for r := range roomQueues {
		if _, alive := roomConsumers[r]; !alive {
			rooms = append(rooms, r)
		}
	}
	slices.SortFunc(rooms, selector.JavaCompare)
	for _, r := range rooms {
		got, err := s.inner.Allocate(group, currentCID, roomQueues[r], p.cids)
		if err != nil {
			return nil, err
		}
		out = append(out, got...)
	}
	return out, nil
}

// DefaultVirtualNodes is Java's default number of ring points per consumer.
const DefaultVirtualNodes = 10

// HashFunc maps a key to a ring position. Java's HashFunction returns a
// long and the ring is ordered as signed longs, as here.
type HashFunc func(key string) int64

// MD5Hash is the default ring hash: the first four bytes of the MD5 of the
// UTF-8 key, big-endian, as a non-negative number (Java's MD5Hash).
func MD5Hash(key string) int64 {
	return md5Bytes([]byte(key))
}

func md5Bytes(key []byte) int64 {
	sum := md5.Sum(key)
	return int64(binary.BigEndian.Uint32(sum[:4]))
}

// HashOption configures [NewConsistentHash].
type HashOption func(*ConsistentHash)

// WithVirtualNodes sets the ring points per consumer (default
// [DefaultVirtualNodes]). Values below 1 make NewConsistentHash fail: Java
// accepts 0 but then assigns no queue to anybody.
func WithVirtualNodes(n int) HashOption { return func(c *ConsistentHash) { c.vnodes = n } }

// WithHashFunc replaces the ring hash (default [MD5Hash]). Every consumer
// of the group must use the same function.
func WithHashFunc(h HashFunc) HashOption {
	return func(c *ConsistentHash) {
		if h != nil {
			c.hash = h
		}
	}
}

// ErrInvalidVirtualNodes is returned for a virtual node count below 1.
var ErrInvalidVirtualNodes = errors.New("rebalance: virtual node count must be at least 1")

// ConsistentHash (Java AllocateMessageQueueConsistentHash,
// "CONSISTENT_HASH") places every consumer on a hash ring at the points
// hash("<clientID>-<i>") for i < virtual nodes; a queue belongs to the first
// point at or after hash(queue.String()), wrapping around. Consumers are
// placed in sorted order, so on a hash collision the later client id wins
// the point, as in Java's TreeMap. Joins and leaves move few queues.
//
// The official Go client uses a different ring (stathat.com/c/consistent,
// CRC32) and therefore disagrees with Java; this matches Java.
type ConsistentHash struct {
	vnodes int
	hash   HashFunc // nil means MD5, hashed from bytes without copies
}

// NewConsistentHash returns a consistent-hash strategy.
func NewConsistentHash(opts ...HashOption) (*ConsistentHash, error) {
	c := &ConsistentHash{vnodes: DefaultVirtualNodes}
	for _, o := range opts {
		o(c)
	}
	if c.vnodes < 1 {
		return nil, fmt.Errorf("%w: got %d", ErrInvalidVirtualNodes, c.vnodes)
	}
	return c, nil
}

// Name implements [Strategy].
func (c *ConsistentHash) Name() string { return NameConsistentHash }

// point is one virtual node on the ring.
type point struct {
	pos   int64
	owner string
}

// Allocate implements [Strategy].
func (c *ConsistentHash) Allocate(group, currentCID string, mqAll []Queue, cidAll []string) ([]Queue, error) {
	p, err := prepare(c.Name(), group, currentCID, mqAll, cidAll)
	if err != nil || p.index < 0 {
		return nil, err
	}
	ring := c.ring(p.cids)
	var out []Queue
	buf := make([]byte, 0, 128)
	for _, q := range p.mqs {
		buf = q.AppendString(buf[:0])
		if ownerOf(ring, c.hashKey(buf)) == currentCID {
			out = append(out, q)
		}
	}
	return out, nil
}

// hashKey hashes key with the configured function.
func (c *ConsistentHash) hashKey(key []byte) int64 {
	if c.hash == nil {
		return md5Bytes(key)
	}
	return c.hash(string(key))
}

// Owner returns the client id that owns q among cidAll, or "" when cidAll
// is empty. It exists for diagnostics and tests.
func (c *ConsistentHash) Owner(q Queue, cidAll []string) string {
	if len(cidAll) == 0 {
		return ""
	}
	return ownerOf(c.ring(sortedIDs(cidAll)), c.hashKey(q.AppendString(nil)))
}

// ring builds the sorted ring for sorted, distinct cids.
func (c *ConsistentHash) ring(cids []string) []point {
	ring := make([]point, 0, len(cids)*c.vnodes)
	var key []byte
	for _, cid := range cids {
		// Java's VirtualNode key: "<clientID>-<replica index>".
		key = append(append(key[:0], cid...), '-')
		n := len(key)
		for i := 0; i < c.vnodes; i++ {
			key = strconv.AppendInt(key[:n], int64(i), 10)
			ring = append(ring, point{pos: c.hashKey(key), owner: cid})
		}
	}
	// Stable sort keeps insertion order among equal positions, so the last
	// one inserted — the one a Java TreeMap.put would keep — is last.
	slices.SortStableFunc(ring, func(a, b point) int {
		switch {
		case a.pos < b.pos:
			return -1
		case a.pos > b.pos:
			return 1
		}
		return 0
	})
	dedup := ring[:0]
	for _, pt := range ring {
		if n := len(dedup); n > 0 && dedup[n-1].pos == pt.pos {
			dedup[n-1] = pt
			continue
		}
		dedup = append(dedup, pt)
	}
	return dedup
}

// ownerOf finds the first point at or after h, wrapping to the first point.
func ownerOf(ring []point, h int64) string {
	i, _ := slices.BinarySearchFunc(ring, h, func(pt point, h int64) int {
		switch {
		case pt.pos < h:
			return -1
		case pt.pos > h:
			return 1
		}
		return 0
	})
	if i == len(ring) {
		i = 0
	}
	return ring[i].owner
}
