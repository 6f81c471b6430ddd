package broker

import (
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/rocketgo/rocketgo/remoting/wire"
)

// offsetKey is how upstream keys the offset table: "topic@group".
func offsetKey(topic, group string) string { return topic + "@" + group }

type offsetsFile struct {
	OffsetTable map[string]map[int32]int64 `json:"offsetTable"`
}

// OffsetManager keeps the committed consumer offsets of clustering groups.
// Commits only touch memory; Persist writes the table (the broker calls it
// every flushConsumerOffsetInterval and at shutdown), so a crash loses at
// most one interval of commits — consumers then re-read a little, never skip.
type OffsetManager struct {
	file *jsonFile

	mu      sync.RWMutex // guards table, dirty and changes
	table   map[string]map[int32]int64
	dirty   bool
	changes int64      // counts changes; the data version slaves are shown
	saveMu  sync.Mutex // serialises Persist calls so an older snapshot never overwrites a newer one
}

func newOffsetManager(file *jsonFile) (*OffsetManager, error) {
	m := &OffsetManager{file: file, table: map[string]map[int32]int64{}}
	var persisted offsetsFile
	found, err := file.load(&persisted)
	if err != nil {
		return nil, err
	}
	if found && persisted.OffsetTable != nil {
		m.table = persisted.OffsetTable
	}
	return m, nil
}

// Commit records a group's offset for one queue.
func (m *OffsetManager) Commit(group, topic string, queueID int32, offset int64) {
	m.commit(group, topic, queueID, offset, false)
}

// CommitForward is Commit that never moves an offset back: for the commit a
// pull carries. Pulls run on the workers, so one can be served after an
// UPDATE_CONSUMER_OFFSET its client sent later (those run in arrival order
// on the event loop); the offset it carries is then older and, set as it
// is, would move the group back — after a consumer's final commit at
// shutdown, for good, and the next owner would consume those messages
// again. A client's own offset only moves back through an explicit commit
// (a seek, or an administrator's reset, which sets the table itself).
func (m *OffsetManager) CommitForward(group, topic string, queueID int32, offset int64) {
	m.commit(group, topic, queueID, offset, true)
}

func (m *OffsetManager) commit(group, topic string, queueID int32, offset int64, forward bool) {
	key := offsetKey(topic, group)
	m.mu.Lock()
	q := m.table[key]
	if q == nil {
		q = map[int32]int64{}
		m.table[key] = q
	}
	if cur, ok := q[queueID]; !ok || cur < offset || (cur != offset && !forward) {
		q[queueID] = offset
		m.dirty = true
		m.changes++
	}
	m.mu.Unlock()
}

// Query returns the committed offset of a group for one queue.
func (m *OffsetManager) Query(group, topic string, queueID int32) (int64, bool) {
	m.mu.RLock()
	off, ok := m.table[offsetKey(topic, group)][queueID]
	m.mu.RUnlock()
	return off, ok
}

// Queues returns a copy of a group's offsets on a topic.
func (m *OffsetManager) Queues(group, topic string) map[int32]int64 {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return maps.Clone(m.table[offsetKey(topic, group)])
}

// GroupsOf lists the groups that have committed offsets on topic.
func (m *OffsetManager) GroupsOf(topic string) []string {
	m.mu.RLock()
	defer m.mu.RUnlock()
	var groups []string
	for key := range m.table {
		if t, g, ok := strings.Cut(key, "@"); ok && t == topic {
			groups = append(groups, g)
		}
	}
	return groups
}

// TopicsOf lists the topics on which group has committed offsets, sorted
// (upstream's whichTopicByConsumer).
func (m *OffsetManager) TopicsOf(group string) []string {
	m.mu.RLock()
	defer m.mu.RUnlock()
	var topics []string
	for key := range m.table {
		// Topics cannot contain '@'; groups may, so split at the first.
		if t, g, ok := strings.Cut(key, "@"); ok && g == group {
			topics = append(topics, t)
		}
	}
	slices.Sort(topics)
	return topics
}

// Clone copies src's committed offsets on topic to dst, replacing dst's
// (CLONE_GROUP_OFFSET). It reports whether src had any.
func (m *OffsetManager) Clone(src, dst, topic string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	from := m.table[offsetKey(topic, src)]
	if len(from) == 0 {
		return false
	}
	m.table[offsetKey(topic, dst)] = maps.Clone(from)
	m.dirty = true
	m.changes++
	return true
}

// DeleteTopic forgets every group's offsets on a deleted topic.
func (m *OffsetManager) DeleteTopic(topic string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for key := range m.table {
		if t, _, ok := strings.Cut(key, "@"); ok && t == topic {
			delete(m.table, key)
			m.dirty = true
			m.changes++
		}
	}
}

// snapshot returns a deep copy of the table and a data version for
// GET_ALL_CONSUMER_OFFSET (Java 5.x slaves expect one).
func (m *OffsetManager) snapshot(now time.Time) (map[string]map[int32]int64, wire.DataVersion) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	table := make(map[string]map[int32]int64, len(m.table))
	for k, v := range m.table {
		table[k] = maps.Clone(v)
	}
	return table, wire.DataVersion{Timestamp: now.UnixMilli(), Counter: m.changes}
}

// merge takes a master's offsets on a slave: each topic@group the master
// knows replaces the slave's, others stay (upstream's putAll).
func (m *OffsetManager) merge(table map[string]map[int32]int64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for k, v := range table {
		if v == nil {
			continue
		}
		if !maps.Equal(m.table[k], v) {
			m.table[k] = maps.Clone(v)
			m.dirty = true
			m.changes++
		}
	}
}

// Persist writes the table if it changed since the last successful write.
func (m *OffsetManager) Persist() error {
	m.saveMu.Lock()
	defer m.saveMu.Unlock()
	m.mu.Lock()
	if !m.dirty {
		m.mu.Unlock()
		return nil
	}
	snapshot := make(map[string]map[int32]int64, len(m.table))
	for k, v := range m.table {
		snapshot[k] = maps.Clone(v)
	}
	m.dirty = false
	m.mu.Unlock()
	if err := m.file.store(offsetsFile{OffsetTable: snapshot}); err != nil {
		m.mu.Lock()
		m.dirty = true
		m.mu.Unlock()
		return err
	}
	return nil
}
