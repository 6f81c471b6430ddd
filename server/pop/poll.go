package pop

import (
	"sync"
	"sync/atomic"
)

// Long polling: a pop that found nothing waits (up to its pollTime) for a
// message to arrive on its topic or its POP retry topic. Waiters are
// keyed by topic; Arrived, called on the store's append path, only does a
// non-blocking send to each waiter of the topic. NOTIFICATION requests
// park in the same table (and count against the same limit), as upstream.

// waiter is one parked request; key is the group/topic/queue it asked
// about (queueID -1: any queue), counted for POLLING_INFO.
type waiter struct {
	wake chan struct{}
	key  queueKey
}

type pollers struct {
	max     int
	parked  atomic.Int64
	mu      sync.Mutex
	byTopic map[string]map[*waiter]struct{}
	byKey   map[queueKey]int
}

func newPollers(maxParked int) *pollers {
	return &pollers{max: maxParked, byTopic: make(map[string]map[*waiter]struct{}), byKey: make(map[queueKey]int)}
}

// add registers w for topics; false when the poll table is full.
func (p *pollers) add(w *waiter, topics ...string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if int(p.parked.Load()) >= p.max {
		return false
	}
	p.parked.Add(1)
	p.byKey[w.key]++
	for _, t := range topics {
		m := p.byTopic[t]
		if m == nil {
			m = make(map[*waiter]struct{})
			p.byTopic[t] = m
		}
		m[w] = struct{}{}
	}
	return true
}

func (p *pollers) remove(w *waiter, topics ...string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.parked.Add(-1)
	if p.byKey[w.key]--; p.byKey[w.key] <= 0 {
		delete(p.byKey, w.key)
	}
	for _, t := range topics {
		if m := p.byTopic[t]; m != nil {
			delete(m, w)
			if len(m) == 0 {
				delete(p.byTopic, t)
			}
		}
	}
}

func (p *pollers) notify(topic string) {
	if p.parked.Load() == 0 {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for w := range p.byTopic[topic] {
		select {
		case w.wake <- struct{}{}:
		default:
		}
	}
}

// Arrived tells parked pops of topic that a message arrived. It never
// blocks; the broker calls it from the store's arrival listener.
func (s *Service) Arrived(topic string) { s.polls.notify(topic) }

// Parked is the number of POP requests held for long polling.
func (s *Service) Parked() int { return int(s.polls.parked.Load()) }

// Polling is the number of POP and NOTIFICATION requests of group parked
// on topic's queue queueID (-1: those that asked for any queue), as
// POLLING_INFO reports it.
func (s *Service) Polling(group, topic string, queueID int32) int {
	p := s.polls
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.byKey[queueKey{group: group, topic: topic, queueID: queueID}]
}
