package broker

import (
	"errors"
	"fmt"
	"maps"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rocketgo/rocketgo/remoting/wire"
)

// ErrGroupNotExist reports a subscription group the broker does not know
// while auto-creation is off (SUBSCRIPTION_GROUP_NOT_EXIST on the wire).
var ErrGroupNotExist = errors.New("broker: subscription group does not exist")

// GroupConfig is a subscription group's configuration, in upstream's JSON
// form (GET_ALL_SUBSCRIPTIONGROUP_CONFIG returns it).
type GroupConfig struct {
	GroupName                      string `json:"groupName"`
	ConsumeEnable                  bool   `json:"consumeEnable"`
	ConsumeFromMinEnable           bool   `json:"consumeFromMinEnable"`
	ConsumeBroadcastEnable         bool   `json:"consumeBroadcastEnable"`
	ConsumeMessageOrderly          bool   `json:"consumeMessageOrderly"`
	RetryQueueNums                 int    `json:"retryQueueNums"`
	RetryMaxTimes                  int    `json:"retryMaxTimes"`
	BrokerID                       int64  `json:"brokerId"`
	WhichBrokerWhenConsumeSlowly   int64  `json:"whichBrokerWhenConsumeSlowly"`
	NotifyConsumerIdsChangedEnable bool   `json:"notifyConsumerIdsChangedEnable"`
}

// DefaultGroupConfig returns upstream's defaults for a new group: one retry
// queue and 16 retries before the dead-letter queue.
func DefaultGroupConfig(group string) GroupConfig {
	return GroupConfig{
		GroupName:                      group,
		ConsumeEnable:                  true,
		ConsumeFromMinEnable:           true,
		ConsumeBroadcastEnable:         true,
		RetryQueueNums:                 1,
		RetryMaxTimes:                  16,
		WhichBrokerWhenConsumeSlowly:   1,
		NotifyConsumerIdsChangedEnable: true,
	}
}

type groupsFile struct {
	SubscriptionGroupTable map[string]GroupConfig `json:"subscriptionGroupTable"`
	DataVersion            wire.DataVersion       `json:"dataVersion"`
}

// GroupManager owns the subscription-group table.
type GroupManager struct {
	autoCreate *atomic.Bool // autoCreateSubscriptionGroup, which may change at run time
	file       *jsonFile
	clock      func() time.Time

	mu      sync.RWMutex
	groups  map[string]GroupConfig
	version wire.DataVersion
}

func newGroupManager(autoCreate *atomic.Bool, file *jsonFile, clock func() time.Time) (*GroupManager, error) {
	m := &GroupManager{autoCreate: autoCreate, file: file, clock: clock, groups: map[string]GroupConfig{}}
	var persisted groupsFile
	found, err := file.load(&persisted)
	if err != nil {
		return nil, err
	}
	if found {
		maps.Copy(m.groups, persisted.SubscriptionGroupTable)
		m.version = persisted.DataVersion
	}
	return m, nil
}

// Get returns the group's configuration without creating it.
func (m *GroupManager) Get(group string) (GroupConfig, bool) {
	m.mu.RLock()
	g, ok := m.groups[group]
	m.mu.RUnlock()
	return g, ok
}

// Find returns the group's configuration, creating it with defaults when
// auto-creation is on. It fails with ErrGroupNotExist otherwise.
func (m *GroupManager) Find(group string) (GroupConfig, error) {
	m.mu.RLock()
	g, ok := m.groups[group]
	m.mu.RUnlock()
	if ok {
		return g, nil
	}
	if !m.autoCreate.Load() {
		return GroupConfig{}, fmt.Errorf("%w: %s", ErrGroupNotExist, group)
	}
	if group == "" {
		return GroupConfig{}, fmt.Errorf("%w: empty group name", ErrGroupNotExist)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if g, ok := m.groups[group]; ok {
		return g, nil
	}
	g = DefaultGroupConfig(group)
	m.groups[group] = g
	bumpVersion(&m.version, m.clock())
	return g, m.persistLocked()
}

// Update creates or replaces a group's configuration.
func (m *GroupManager) Update(g GroupConfig) error {
	if g.GroupName == "" {
		return fmt.Errorf("%w: empty group name", ErrGroupNotExist)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.groups[g.GroupName] = g
	bumpVersion(&m.version, m.clock())
	return m.persistLocked()
}

// Delete removes a group's configuration.
func (m *GroupManager) Delete(group string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.groups[group]; !ok {
		return nil
	}
	delete(m.groups, group)
	bumpVersion(&m.version, m.clock())
	return m.persistLocked()
}

// Snapshot returns a copy of the table with its data version.
func (m *GroupManager) Snapshot() (map[string]GroupConfig, wire.DataVersion) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return maps.Clone(m.groups), m.version
}

// replaceFromMaster makes a slave's table a copy of its master's, unless
// the data versions already match. changed reports whether it was replaced.
func (m *GroupManager) replaceFromMaster(groups map[string]GroupConfig, version wire.DataVersion) (changed bool, err error) {
	table := make(map[string]GroupConfig, len(groups))
	for name, g := range groups {
		if name == "" {
			continue
		}
		g.GroupName = name
		table[name] = g
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if version == m.version {
		return false, nil
	}
	m.groups, m.version = table, version
	return true, m.persistLocked()
}

func (m *GroupManager) persistLocked() error {
	return m.file.store(groupsFile{SubscriptionGroupTable: m.groups, DataVersion: m.version})
}
