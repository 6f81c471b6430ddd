package broker

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rocketgo/rocketgo/remoting/wire"
)

// Permission bits of a topic or broker (upstream common/constant/PermName).
const (
	PermPriority = 8
	PermRead     = 4
	PermWrite    = 2
	PermInherit  = 1
)

// Names of the topics and prefixes RocketMQ reserves (upstream
// common/topic/TopicValidator and MixAll).
const (
	TopicAutoCreate       = "TBW102"
	TopicSchedule         = "SCHEDULE_TOPIC_XXXX"
	TopicTransHalf        = "RMQ_SYS_TRANS_HALF_TOPIC"
	TopicTransOpHalf      = "RMQ_SYS_TRANS_OP_HALF_TOPIC"
	TopicTransCheckMax    = "TRANS_CHECK_MAX_TIME_TOPIC"
	TopicSelfTest         = "SELF_TEST_TOPIC"
	TopicOffsetMoved      = "OFFSET_MOVED_EVENT"
	TopicBenchmark        = "BenchmarkTest"
	RetryGroupTopicPrefix = "%RETRY%"
	DLQGroupTopicPrefix   = "%DLQ%"
	SystemTopicPrefix     = "rmq_sys_"
	DefaultTraceTopic     = "RMQ_SYS_TRACE_TOPIC" // msgTraceTopicName's default
	replyTopicSuffix      = "_REPLY_TOPIC"

	maxTopicLength      = 127
	maxRetryTopicLength = 255
)

// ErrInvalidTopic is wrapped by topic-name validation errors.
var ErrInvalidTopic = errors.New("broker: invalid topic")

// ErrTopicNotExist reports a topic the broker does not hold.
var ErrTopicNotExist = errors.New("broker: topic does not exist")

// ValidateTopicName applies upstream's rule: characters [A-Za-z0-9%_|-],
// at most 127 bytes, or 255 for retry and DLQ topics (whose names embed a
// group name).
func ValidateTopicName(topic string) error {
	if topic == "" {
		return fmt.Errorf("%w: empty name", ErrInvalidTopic)
	}
	limit := maxTopicLength
	if IsRetryTopic(topic) || IsDLQTopic(topic) {
		limit = maxRetryTopicLength
	}
	if len(topic) > limit {
		return fmt.Errorf("%w: %q is %d bytes, longer than %d", ErrInvalidTopic, topic, len(topic), limit)
	}
	for i := 0; i < len(topic); i++ {
		c := topic[i]
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '%' || c == '_' || c == '|' || c == '-'
		if !ok {
			return fmt.Errorf("%w: %q contains %q; allowed are letters, digits and %%_|-", ErrInvalidTopic, topic, c)
		}
	}
	return nil
}

// IsRetryTopic reports whether topic is a consumer group's retry topic.
func IsRetryTopic(topic string) bool { return strings.HasPrefix(topic, RetryGroupTopicPrefix) }

// IsDLQTopic reports whether topic is a consumer group's dead-letter topic.
func IsDLQTopic(topic string) bool { return strings.HasPrefix(topic, DLQGroupTopicPrefix) }

// RetryTopic and DLQTopic name a group's retry and dead-letter topics.
func RetryTopic(group string) string { return RetryGroupTopicPrefix + group }
func DLQTopic(group string) string   { return DLQGroupTopicPrefix + group }

// IsSendForbidden reports topics producers must not write to directly:
// they belong to the broker's own delay and transaction machinery.
func IsSendForbidden(topic string) bool {
	switch topic {
	case TopicSchedule, TopicTimer, TopicTransHalf, TopicTransOpHalf, TopicTransCheckMax, TopicSelfTest, TopicOffsetMoved:
		return true
	}
	return false
}

func newTopicConfig(name string, queues, perm int) wire.TopicConfig {
	q, p := int32(queues), int32(perm)
	return wire.TopicConfig{TopicName: name, ReadQueueNums: q, WriteQueueNums: q, Perm: p, TopicFilterType: "SINGLE_TAG", Attributes: map[string]string{}}
}

// bumpVersion records a change made at now.
func bumpVersion(d *wire.DataVersion, now time.Time) {
	d.Counter++
	d.Timestamp = now.UnixMilli()
}

// topicsFile is the persisted form of the topic table (config/topics.json).
type topicsFile struct {
	TopicConfigTable map[string]wire.TopicConfig `json:"topicConfigTable"`
	DataVersion      wire.DataVersion            `json:"dataVersion"`
}

// TopicManager owns the topic table. Every change is persisted before it
// is visible to other callers' next read, and bumps the data version.
type TopicManager struct {
	cfg        *Config
	autoCreate *atomic.Bool // autoCreateTopicEnable, which may change at run time
	file       *jsonFile
	clock      func() time.Time

	mu      sync.RWMutex
	topics  map[string]wire.TopicConfig
	version wire.DataVersion
}

func newTopicManager(cfg *Config, autoCreate *atomic.Bool, file *jsonFile, clock func() time.Time) (*TopicManager, error) {
	m := &TopicManager{cfg: cfg, autoCreate: autoCreate, file: file, clock: clock, topics: map[string]wire.TopicConfig{}}
	var persisted topicsFile
	found, err := file.load(&persisted)
	if err != nil {
		return nil, err
	}
	if found {
		maps.Copy(m.topics, persisted.TopicConfigTable)
		m.version = persisted.DataVersion
	}
	m.addSystemTopics()
	bumpVersion(&m.version, clock())
	return m, m.persistLocked()
}

// addSystemTopics creates the topics every upstream broker has, so that
// clients and admin tools find what they expect.
func (m *TopicManager) addSystemTopics() {
	c := m.cfg
	add := func(t wire.TopicConfig) {
		if _, ok := m.topics[t.TopicName]; !ok {
			m.topics[t.TopicName] = t
		}
	}
	add(newTopicConfig(TopicSelfTest, 1, PermRead|PermWrite))
	if c.AutoCreateTopicEnable {
		add(newTopicConfig(TopicAutoCreate, c.DefaultTopicQueueNums, PermInherit|PermRead|PermWrite))
	} else {
		delete(m.topics, TopicAutoCreate)
	}
	add(newTopicConfig(TopicBenchmark, 1024, PermRead|PermWrite))
	clusterPerm := PermInherit
	if c.ClusterTopicEnable {
		clusterPerm |= PermRead | PermWrite
	}
	add(newTopicConfig(c.BrokerClusterName, 16, clusterPerm))
	brokerPerm := PermInherit
	if c.BrokerTopicEnable {
		brokerPerm |= PermRead | PermWrite
	}
	add(newTopicConfig(c.BrokerName, 1, brokerPerm))
	add(newTopicConfig(TopicOffsetMoved, 1, PermRead|PermWrite))
	if levels, err := ParseDelayLevels(c.MessageDelayLevel); err == nil {
		add(newTopicConfig(TopicSchedule, len(levels), PermRead|PermWrite))
	}
	add(newTopicConfig(TopicTimer, 1, PermRead|PermWrite))
	add(newTopicConfig(TopicTransHalf, 1, PermRead|PermWrite))
	add(newTopicConfig(TopicTransOpHalf, 1, PermRead|PermWrite))
	add(newTopicConfig(c.BrokerClusterName+replyTopicSuffix, 1, c.BrokerPermission))
	if c.TraceTopicEnable && c.MsgTraceTopicName != "" {
		add(newTopicConfig(c.MsgTraceTopicName, 1, PermRead|PermWrite))
	}
}

// Get returns a topic's configuration.
func (m *TopicManager) Get(topic string) (wire.TopicConfig, bool) {
	m.mu.RLock()
	t, ok := m.topics[topic]
	m.mu.RUnlock()
	return t, ok
}

// Snapshot returns a copy of the table and its data version, for
// registration with name servers and GET_ALL_TOPIC_CONFIG.
func (m *TopicManager) Snapshot() (map[string]wire.TopicConfig, wire.DataVersion) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return maps.Clone(m.topics), m.version
}

// Names lists the topics in name order.
func (m *TopicManager) Names() []string {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return slices.Sorted(maps.Keys(m.topics))
}

// Update creates or replaces a topic (UPDATE_AND_CREATE_TOPIC).
func (m *TopicManager) Update(t wire.TopicConfig) error {
	if err := ValidateTopicName(t.TopicName); err != nil {
		return err
	}
	if t.ReadQueueNums < 0 || t.WriteQueueNums < 0 || t.QueueNums() == 0 || t.QueueNums() > 1024 {
		return fmt.Errorf("%w: queue counts read=%d write=%d must be 0..1024 and not both 0", ErrInvalidTopic, t.ReadQueueNums, t.WriteQueueNums)
	}
	if t.Perm < 0 || t.Perm > PermPriority|PermRead|PermWrite|PermInherit {
		return fmt.Errorf("%w: perm %d", ErrInvalidTopic, t.Perm)
	}
	if t.TopicFilterType == "" {
		t.TopicFilterType = "SINGLE_TAG"
	}
	if t.Attributes == nil {
		t.Attributes = map[string]string{}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.topics[t.TopicName] = t
	bumpVersion(&m.version, m.clock())
	return m.persistLocked()
}

// touch bumps the data version without changing a topic, so name servers
// take the next registration in full (after a broker permission change).
func (m *TopicManager) touch() {
	m.mu.Lock()
	defer m.mu.Unlock()
	bumpVersion(&m.version, m.clock())
}

// Delete removes a topic (DELETE_TOPIC_IN_BROKER). Deleting an unknown
// topic is not an error, as upstream.
func (m *TopicManager) Delete(topic string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.topics[topic]; !ok {
		return nil
	}
	delete(m.topics, topic)
	bumpVersion(&m.version, m.clock())
	return m.persistLocked()
}

// CreateOnSend implements auto-creation when a producer sends to an unknown
// topic: the template (the request's defaultTopic, normally TBW102) must
// exist and carry PERM_INHERIT; the new topic gets min(client's queue count,
// template's write queues) queues and the template's permission without the
// inherit bit. created reports whether the table changed, in which case the
// broker re-registers with name servers at once.
func (m *TopicManager) CreateOnSend(topic, template string, clientQueueNums int) (t wire.TopicConfig, created bool, err error) {
	if err := ValidateTopicName(topic); err != nil {
		return wire.TopicConfig{}, false, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if t, ok := m.topics[topic]; ok {
		return t, false, nil
	}
	tmpl, ok := m.topics[template]
	if !ok || tmpl.Perm&PermInherit == 0 || (template == TopicAutoCreate && !m.autoCreate.Load()) {
		return wire.TopicConfig{}, false, fmt.Errorf("%w: %s (auto-creation from %q not allowed)", ErrTopicNotExist, topic, template)
	}
	queues := min(max(clientQueueNums, 1), int(tmpl.WriteQueueNums))
	t = newTopicConfig(topic, queues, int(tmpl.Perm&^PermInherit))
	m.topics[topic] = t
	bumpVersion(&m.version, m.clock())
	return t, true, m.persistLocked()
}

// CreateIfAbsent creates a broker-owned topic (retry, DLQ, half topics) with
// the given shape when it does not exist yet.
func (m *TopicManager) CreateIfAbsent(topic string, queues, perm, sysFlag int) (t wire.TopicConfig, created bool, err error) {
	if err := ValidateTopicName(topic); err != nil {
		return wire.TopicConfig{}, false, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if t, ok := m.topics[topic]; ok {
		return t, false, nil
	}
	t = newTopicConfig(topic, queues, perm)
	t.TopicSysFlag = int32(sysFlag)
	m.topics[topic] = t
	bumpVersion(&m.version, m.clock())
	return t, true, m.persistLocked()
}

// replaceFromMaster makes a slave's table a copy of its master's, unless
// the data versions already match (upstream's SlaveSynchronize). changed
// reports whether the table was replaced.
func (m *TopicManager) replaceFromMaster(topics map[string]wire.TopicConfig, version wire.DataVersion) (changed bool, err error) {
	table := make(map[string]wire.TopicConfig, len(topics))
	for name, t := range topics {
		if name == "" {
			continue
		}
		t.TopicName = name
		if t.TopicFilterType == "" {
			t.TopicFilterType = "SINGLE_TAG"
		}
		if t.Attributes == nil {
			t.Attributes = map[string]string{}
		}
		table[name] = t
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if version == m.version {
		return false, nil
	}
	m.topics, m.version = table, version
	return true, m.persistLocked()
}

func (m *TopicManager) persistLocked() error {
	return m.file.store(topicsFile{TopicConfigTable: m.topics, DataVersion: m.version})
}
