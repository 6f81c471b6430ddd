package selector

import (
	"math/rand/v2"
	"sync"
	"sync/atomic"
)

// SelectInput is what a producer knows about the message being sent when it
// asks for a queue.
type SelectInput struct {
	// Topic is the message's topic; round-robin keeps one counter per topic.
	Topic string
	// ShardingKey is the message's ordering key (the SHARDING_KEY property
	// or the key the application passed for an orderly send).
	ShardingKey string
	// Arg is the free-form argument of a "send via selector" call, Java's
	// MessageQueueSelector.select(mqs, msg, arg). When set it takes
	// precedence over ShardingKey for [Hash].
	Arg any
}

// Selector picks the queue for one send attempt.
//
// queues is the topic's writable queue list in route order and is never
// modified. lastBroker is the broker of the previous failed attempt of the
// same send ("" on the first attempt); selectors that keep per-key order
// must ignore it. Select returns the zero Queue only when queues is empty,
// so callers should check the route first.
type Selector interface {
	Select(in SelectInput, queues []Queue, lastBroker string) Queue
}

// Func adapts an ordinary function to [Selector].
type Func func(in SelectInput, queues []Queue, lastBroker string) Queue

// Select calls f.
func (f Func) Select(in SelectInput, queues []Queue, lastBroker string) Queue {
	return f(in, queues, lastBroker)
}

// positiveMask keeps counter values non-negative the way Java's
// ThreadLocalIndex does, so index sequences match Java's after wrap-around.
const positiveMask = 0x7FFFFFFF

// RoundRobin is the default selector. It walks the queue list with one
// counter per topic that starts at a random position, like Java's
// ThreadLocalIndex, but the counter is shared by all goroutines (an atomic)
// instead of per thread, so concurrent senders still spread evenly.
//
// On a retry (lastBroker set) it skips queues of lastBroker as long as
// another broker has a queue, as Java does when fault avoidance is off.
// The zero value is not usable; call [NewRoundRobin].
type RoundRobin struct {
	// counters is copy-on-write: a producer has few topics and adds them
	// rarely, so the per-send lookup is one atomic load and a map read,
	// with no lock word for concurrent senders to fight over.
	counters atomic.Pointer[map[string]*atomic.Uint32]
	mu       sync.Mutex // serialises writers of counters
}

// NewRoundRobin returns a round-robin selector.
func NewRoundRobin() *RoundRobin {
	r := &RoundRobin{}
	m := make(map[string]*atomic.Uint32)
	r.counters.Store(&m)
	return r
}

// counter returns topic's counter, creating it at a random start.
func (r *RoundRobin) counter(topic string) *atomic.Uint32 {
	if c := (*r.counters.Load())[topic]; c != nil {
		return c
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	old := *r.counters.Load()
	if c := old[topic]; c != nil {
		return c
	}
	c := new(atomic.Uint32)
	c.Store(rand.Uint32())
	m := make(map[string]*atomic.Uint32, len(old)+1)
	for k, v := range old {
		m[k] = v
	}
	m[topic] = c
	r.counters.Store(&m)
	return c
}

// Next advances topic's counter and returns its new value, always in
// [0, 2^31) like ThreadLocalIndex.incrementAndGet. Callers reduce it modulo
// their queue count; it is exported for strategies that add their own
// filters, such as the fault-avoidance selector.
func (r *RoundRobin) Next(topic string) int {
	return int(r.counter(topic).Add(1) & positiveMask)
}

// Reset moves topic's counter to a random position, as Java does before a
// retry when fault avoidance is on, so retries do not march in lock step.
func (r *RoundRobin) Reset(topic string) {
	r.counter(topic).Store(rand.Uint32() & positiveMask)
}

// Forget drops topic's counter, for producers that stop using a topic.
func (r *RoundRobin) Forget(topic string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	old := *r.counters.Load()
	if _, ok := old[topic]; !ok {
		return
	}
	m := make(map[string]*atomic.Uint32, len(old))
	for k, v := range old {
		if k != topic {
			m[k] = v
		}
	}
	r.counters.Store(&m)
}

// Select implements [Selector].
func (r *RoundRobin) Select(in SelectInput, queues []Queue, lastBroker string) Queue {
	n := len(queues)
	if n == 0 {
		return Queue{}
	}
	c := r.counter(in.Topic)
	if lastBroker != "" {
		// Up to n steps looking for another broker; with a single broker
		// every step fails and the plain next queue is used.
		for i := 0; i < n; i++ {
			q := queues[int(c.Add(1)&positiveMask)%n]
			if q.BrokerName != lastBroker {
				return q
			}
		}
	}
	return queues[int(c.Add(1)&positiveMask)%n]
}

// Hash keeps every message with the same key on the same queue, which is
// what orderly sends need. The index is abs(hashCode(key) % n) with Java's
// hashCode, matching SelectMessageQueueByHash, so Go and Java producers of
// the same topic put a key on the same queue index.
//
// The key is SelectInput.Arg when set (see [JavaHash] for the supported
// types), otherwise ShardingKey. With neither, there is no order to keep and
// Hash falls back to a random queue, as the official Go client does. Hash
// never skips a queue on retry: moving a key would break its order.
type Hash struct{}

// Select implements [Selector].
func (Hash) Select(in SelectInput, queues []Queue, _ string) Queue {
	n := len(queues)
	if n == 0 {
		return Queue{}
	}
	var h int32
	switch {
	case in.Arg != nil:
		h = JavaHash(in.Arg)
	case in.ShardingKey != "":
		h = JavaHashCode(in.ShardingKey)
	default:
		return queues[rand.IntN(n)]
	}
	return queues[HashIndex(h, n)]
}

// HashIndex is Java's abs(hash % n) for n > 0: the queue index a Java
// SelectMessageQueueByHash picks for an argument whose hashCode is h.
func HashIndex(h int32, n int) int {
	v := int64(h) % int64(n)
	if v < 0 {
		v = -v
	}
	return int(v)
}

// JavaHasher is implemented by argument types that know their Java
// hashCode, so custom keys can still land where a Java producer puts them.
type JavaHasher interface {
	JavaHashCode() int32
}

// JavaHash returns the Java hashCode of a selector argument:
//   - string: String.hashCode; fmt.Stringer: hashCode of its String();
//   - int8, int16, int32, uint8, uint16: Integer.hashCode (the value);
//   - int64, uint32, uint64: Long.hashCode, (int)(v ^ (v >>> 32));
//   - int, uint: Integer.hashCode when the value fits in an int32 (what an
//     autoboxed Java int gives), otherwise Long.hashCode;
//   - bool: Boolean.hashCode (1231 / 1237);
//   - [JavaHasher]: its own value.
//
// Any other type has no Java counterpart and hashes to 0, so all such
// messages share one queue; wrap them in a JavaHasher instead.
func JavaHash(arg any) int32 {
	switch v := arg.(type) {
	case string:
		return JavaHashCode(v)
	case JavaHasher:
		return v.JavaHashCode()
	case int8:
		return int32(v)
	case int16:
		return int32(v)
	case int32:
		return v
	case uint8:
		return int32(v)
	case uint16:
		return int32(v)
	case int64:
		return longHash(v)
	case uint32:
		return longHash(int64(v))
	case uint64:
		return longHash(int64(v))
	case int:
		if int(int32(v)) == v {
			return int32(v)
		}
		return longHash(int64(v))
	case uint:
		if v <= 1<<31-1 {
			return int32(v)
		}
		return longHash(int64(v))
	case bool:
		if v {
			return 1231
		}
		return 1237
	case interface{ String() string }:
		return JavaHashCode(v.String())
	}
	return 0
}

// longHash is Java's Long.hashCode.
func longHash(v int64) int32 {
	return int32(v ^ int64(uint64(v)>>32))
}

// Random picks a uniformly random queue, like SelectMessageQueueByRandom.
// Like Java's, it ignores lastBroker.
type Random struct{}

// Select implements [Selector].
func (Random) Select(_ SelectInput, queues []Queue, _ string) Queue {
	if len(queues) == 0 {
		return Queue{}
	}
	return queues[rand.IntN(len(queues))]
}
