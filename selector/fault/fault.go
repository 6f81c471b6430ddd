// Package fault implements RocketMQ's send-latency fault avoidance: after
// each send attempt the producer reports how long the broker took, slow or
// failing brokers are kept out of the rotation for a while, and queue choice
// prefers brokers that are neither banned nor the one that just failed.
//
// It mirrors Java's MQFaultStrategy and LatencyFaultToleranceImpl. As in
// Java, fault avoidance is an opt-in producer feature; this package only
// holds the bookkeeping and the queue choice, with no goroutines and no I/O.
package fault

import (
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rocketgo/rocketgo/selector"
)

// Version selects which upstream latency table is used.
type Version int

const (
	// V5 is the table of Java clients 5.1.4 and later (the default):
	// latency ≥ 50/100/550/1800/3000/5000/15000 ms bans a broker for
	// 0/0/2/5/6/10/30 s, and an isolating failure counts as 10 s of
	// latency, i.e. a 10 s ban.
	V5 Version = iota
	// V4 is the table of Java clients 4.9.x (and 5.x before 5.1.4):
	// latency ≥ 50/100/550/1000/2000/3000/15000 ms bans a broker for
	// 0/0/30/60/120/180/600 s, and an isolating failure counts as 30 s of
	// latency, i.e. a 600 s ban.
	V4
)

// table is one version's thresholds, ascending, with the ban for each.
type table struct {
	latencyMax   [7]time.Duration
	notAvailable [7]time.Duration
	isolation    time.Duration
}

// tableFor returns the constants of v; unknown versions get V5.
func tableFor(v Version) table {
	const ms, s = time.Millisecond, time.Second
	if v == V4 {
		return table{
			latencyMax:   [7]time.Duration{50 * ms, 100 * ms, 550 * ms, 1000 * ms, 2000 * ms, 3000 * ms, 15000 * ms},
			notAvailable: [7]time.Duration{0, 0, 30 * s, 60 * s, 120 * s, 180 * s, 600 * s},
			isolation:    30 * s,
		}
	}
	return table{
		latencyMax:   [7]time.Duration{50 * ms, 100 * ms, 550 * ms, 1800 * ms, 3000 * ms, 5000 * ms, 15000 * ms},
		notAvailable: [7]time.Duration{0, 0, 2 * s, 5 * s, 6 * s, 10 * s, 30 * s},
		isolation:    10 * s,
	}
}

// Option configures a [Table].
type Option func(*config)

type config struct {
	version Version
	clock   func() time.Time
	logger  *slog.Logger
}

// WithVersion selects the latency table; the default is [V5].
func WithVersion(v Version) Option { return func(c *config) { c.version = v } }

// WithClock replaces time.Now, so tests can move time by hand. The clock
// must not go backwards; the default time.Now is monotonic.
func WithClock(now func() time.Time) Option {
	return func(c *config) {
		if now != nil {
			c.clock = now
		}
	}
}

// WithLogger sets where bans are reported (at Info, as Java does). The
// default discards everything.
func WithLogger(l *slog.Logger) Option {
	return func(c *config) {
		if l != nil {
			c.logger = l
		}
	}
}

// Table records, per broker name, until when the broker is banned and
// whether it is reachable. Brokers never reported are available and
// reachable. It is safe for concurrent use and allocates only the first
// time a broker is reported.
type Table struct {
	tab    table
	clock  func() time.Time
	base   time.Time // reference point; times are stored as offsets from it
	logger *slog.Logger

	// items is copy-on-write: brokers are few and appear rarely, so the
	// per-send lookups are an atomic load and a map read without a lock.
	items atomic.Pointer[map[string]*item]
	mu    sync.Mutex // serialises writers of items
}

// item is one broker's state. Fields are atomics so that updates of a known
// broker take no lock.
type item struct {
	// until is the end of the ban as nanoseconds since Table.base.
	until     atomic.Int64
	latency   atomic.Int64 // last reported latency, for Snapshot
	reachable atomic.Bool
}

// New returns an empty table.
func New(opts ...Option) *Table {
	cfg := config{version: V5, clock: time.Now, logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	for _, o := range opts {
		o(&cfg)
	}
	t := &Table{
		tab:    tableFor(cfg.version),
		clock:  cfg.clock,
		base:   cfg.clock(),
		logger: cfg.logger,
	}
	m := make(map[string]*item)
	t.items.Store(&m)
	return t
}

// NotAvailableDuration is the ban earned by a send that took latency: the
// entry of the largest threshold that latency reaches, 0 below 50 ms.
func (t *Table) NotAvailableDuration(latency time.Duration) time.Duration {
	for i := len(t.tab.latencyMax) - 1; i >= 0; i-- {
		if latency >= t.tab.latencyMax[i] {
			return t.tab.notAvailable[i]
		}
	}
	return 0
}

// IsolationLatency is the latency an isolating failure is charged with
// (10 s for V5, 30 s for V4).
func (t *Table) IsolationLatency() time.Duration { return t.tab.isolation }

// Update records a send attempt to broker that took latency. isolation
// marks failures that should ban the broker regardless of the time taken
// (Java passes true for remoting and broker errors): the ban is then the one
// for [Table.IsolationLatency]. Update also marks the broker reachable, as
// every Java update carries reachable=true unless it says otherwise; use
// [Table.SetReachable] after it to record an unreachable broker.
//
// A ban is only ever extended, never shortened: a fast success right after
// a failure does not lift the failure's ban. That is the 5.x rule (4.9
// overwrote the ban on every update) and it applies to both tables here.
func (t *Table) Update(broker string, latency time.Duration, isolation bool) {
	d := latency
	if isolation {
		d = t.tab.isolation
	}
	ban := t.NotAvailableDuration(d)
	it := t.item(broker)
	it.latency.Store(int64(latency))
	it.reachable.Store(true)
	if ban <= 0 {
		return
	}
	until := int64(t.clock().Sub(t.base) + ban)
	for {
		old := it.until.Load()
		if until <= old {
			return
		}
		if it.until.CompareAndSwap(old, until) {
			t.logger.Info("broker isolated", "broker", broker, "for", ban, "latency", latency, "isolation", isolation)
			return
		}
	}
}

// SetReachable records whether broker answers at all. Java sets it false
// after remoting or broker errors when its detector runs, and a detector
// probe sets it back to true. Unreachable brokers are the last choice.
func (t *Table) SetReachable(broker string, reachable bool) {
	t.item(broker).reachable.Store(reachable)
}

// item returns broker's state, creating it on first use.
func (t *Table) item(broker string) *item {
	if it := t.lookup(broker); it != nil {
		return it
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	old := *t.items.Load()
	if it := old[broker]; it != nil {
		return it
	}
	it := new(item)
	it.reachable.Store(true)
	m := make(map[string]*item, len(old)+1)
	for k, v := range old {
		m[k] = v
	}
	m[broker] = it
	t.items.Store(&m)
	return it
}

// lookup returns broker's state or nil, without creating it.
func (t *Table) lookup(broker string) *item {
	return (*t.items.Load())[broker]
}

// Available reports whether broker's ban, if any, is over.
func (t *Table) Available(broker string) bool {
	it := t.lookup(broker)
	if it == nil {
		return true
	}
	// A broker never banned (until is 0; a ban always ends after base)
	// needs no clock read, and every send asks.
	u := it.until.Load()
	return u == 0 || int64(t.clock().Sub(t.base)) >= u
}

// Reachable reports whether broker was last seen reachable.
func (t *Table) Reachable(broker string) bool {
	it := t.lookup(broker)
	return it == nil || it.reachable.Load()
}

// Remove forgets broker, e.g. once it has left the route.
func (t *Table) Remove(broker string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	old := *t.items.Load()
	if _, ok := old[broker]; !ok {
		return
	}
	m := make(map[string]*item, len(old))
	for k, v := range old {
		if k != broker {
			m[k] = v
		}
	}
	t.items.Store(&m)
}

// BrokerState is a point-in-time view of one broker, for diagnostics.
type BrokerState struct {
	Broker      string
	LastLatency time.Duration
	BannedUntil time.Time // zero if never banned
	Available   bool
	Reachable   bool
}

// Snapshot returns the state of every broker reported so far, in no
// particular order.
func (t *Table) Snapshot() []BrokerState {
	now := t.clock().Sub(t.base)
	items := *t.items.Load()
	out := make([]BrokerState, 0, len(items))
	for name, it := range items {
		s := BrokerState{
			Broker:      name,
			LastLatency: time.Duration(it.latency.Load()),
			Available:   int64(now) >= it.until.Load(),
			Reachable:   it.reachable.Load(),
		}
		if u := it.until.Load(); u > 0 {
			s.BannedUntil = t.base.Add(time.Duration(u))
		}
		out = append(out, s)
	}
	return out
}

// Selector is the round-robin selector with fault avoidance, Java 5.x's
// MQFaultStrategy.selectOneMessageQueue with sendLatencyFaultEnable on.
// Walking the topic's round-robin counter, it returns the first queue whose
// broker is available and is not lastBroker; failing that, the first whose
// broker is reachable and not lastBroker; failing that, simply the next
// queue, so a send is attempted even when every broker is banned. On a retry
// (lastBroker set) the counter first jumps to a random position, as Java
// resets its index.
//
// Use it only for unordered sends: it moves messages between queues.
type Selector struct {
	table *Table
	rr    *selector.RoundRobin
}

// NewSelector returns a fault-avoiding selector over table. rr supplies the
// per-topic counters; nil means a fresh [selector.RoundRobin].
func NewSelector(table *Table, rr *selector.RoundRobin) *Selector {
	if rr == nil {
		rr = selector.NewRoundRobin()
	}
	return &Selector{table: table, rr: rr}
}

// Table returns the table the selector consults.
func (s *Selector) Table() *Table { return s.table }

// filter names the three passes of Select.
type filter int

const (
	availableNotLast filter = iota
	reachableNotLast
)

// Select implements [selector.Selector].
func (s *Selector) Select(in selector.SelectInput, queues []selector.Queue, lastBroker string) selector.Queue {
	n := len(queues)
	if n == 0 {
		return selector.Queue{}
	}
	if lastBroker != "" {
		s.rr.Reset(in.Topic)
	}
	for _, f := range [...]filter{availableNotLast, reachableNotLast} {
		for i := 0; i < n; i++ {
			q := queues[s.rr.Next(in.Topic)%n]
			if q.BrokerName == lastBroker && lastBroker != "" {
				continue
			}
			if s.pass(f, q.BrokerName) {
				return q
			}
		}
	}
	return queues[s.rr.Next(in.Topic)%n]
}

func (s *Selector) pass(f filter, broker string) bool {
	if f == availableNotLast {
		return s.table.Available(broker)
	}
	return s.table.Reachable(broker)
}
