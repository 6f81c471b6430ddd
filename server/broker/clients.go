package broker

import (
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/rocketgo/rocketgo/remoting/wire"
)

// clientInfo is what the broker remembers about a registered connection.
type clientInfo struct {
	clientID   string
	lastUpdate time.Time
	language   string
	version    int16
}

// consumerGroup is the live state of one consumer group.
type consumerGroup struct {
	consumeType      string
	messageModel     string
	consumeFromWhere string
	subs             map[string]wire.SubscriptionData
	members          map[any]*clientInfo
}

// ConsumerManager tracks consumer group membership and subscriptions.
// Callers learn from every mutation whether membership changed, so that
// they can send NOTIFY_CONSUMER_IDS_CHANGED to the group.
type ConsumerManager struct {
	mu     sync.RWMutex
	groups map[string]*consumerGroup
}

func newConsumerManager() *ConsumerManager {
	return &ConsumerManager{groups: map[string]*consumerGroup{}}
}

// Register records a heartbeat of one group member on channel ch, with the
// client's language and version for connection lists. It reports whether
// the member set changed (a new client id) and whether the group's
// subscriptions changed.
func (m *ConsumerManager) Register(ch any, clientID, language string, version int16, cd *wire.ConsumerData, now time.Time) (membersChanged, subsChanged bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	g := m.groups[cd.GroupName]
	if g == nil {
		g = &consumerGroup{subs: map[string]wire.SubscriptionData{}, members: map[any]*clientInfo{}}
		m.groups[cd.GroupName] = g
	}
	g.consumeType, g.messageModel, g.consumeFromWhere = cd.ConsumeType, cd.MessageModel, cd.ConsumeFromWhere
	info := g.members[ch]
	if info == nil || info.clientID != clientID {
		membersChanged = true
		g.members[ch] = &clientInfo{clientID: clientID, lastUpdate: now, language: language, version: version}
	} else {
		info.lastUpdate = now
	}
	for _, sd := range cd.SubscriptionDataSet {
		old, ok := g.subs[sd.Topic]
		if !ok || old.SubString != sd.SubString || old.ExpressionType != sd.ExpressionType {
			subsChanged = true
		}
		g.subs[sd.Topic] = sd
	}
	return membersChanged, subsChanged
}

// Unregister removes ch from group (UNREGISTER_CLIENT). It reports whether
// the member set changed.
func (m *ConsumerManager) Unregister(group string, ch any) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.removeLocked(group, ch)
}

func (m *ConsumerManager) removeLocked(group string, ch any) bool {
	g := m.groups[group]
	if g == nil {
		return false
	}
	if _, ok := g.members[ch]; !ok {
		return false
	}
	delete(g.members, ch)
	if len(g.members) == 0 {
		delete(m.groups, group)
	}
	return true
}

// Disconnected removes ch from every group and returns the groups whose
// membership changed.
func (m *ConsumerManager) Disconnected(ch any) []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	var changed []string
	for name := range m.groups {
		if m.removeLocked(name, ch) {
			changed = append(changed, name)
		}
	}
	return changed
}

// Expire removes members silent for longer than timeout. It returns the
// expired channels (the broker closes them) and the groups that changed.
func (m *ConsumerManager) Expire(now time.Time, timeout time.Duration) (expired []any, changed []string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for name, g := range m.groups {
		for ch, info := range g.members {
			if now.Sub(info.lastUpdate) > timeout {
				expired = append(expired, ch)
				m.removeLocked(name, ch)
				if !slices.Contains(changed, name) {
					changed = append(changed, name)
				}
			}
		}
	}
	return expired, changed
}

// ClientIDs returns the sorted client ids of a group's members.
func (m *ConsumerManager) ClientIDs(group string) []string {
	m.mu.RLock()
	defer m.mu.RUnlock()
	g := m.groups[group]
	if g == nil {
		return nil
	}
	ids := make([]string, 0, len(g.members))
	for _, info := range g.members {
		if !slices.Contains(ids, info.clientID) {
			ids = append(ids, info.clientID)
		}
	}
	slices.Sort(ids)
	return ids
}

// Channels returns the connections of a group's members.
func (m *ConsumerManager) Channels(group string) []any {
	m.mu.RLock()
	defer m.mu.RUnlock()
	g := m.groups[group]
	if g == nil {
		return nil
	}
	return slices.Collect(maps.Keys(g.members))
}

// Member is one connection of a group and the client id it registered.
type Member struct {
	Channel  any
	ClientID string
}

// Members lists a group's connections, sorted by client id.
func (m *ConsumerManager) Members(group string) []Member {
	m.mu.RLock()
	defer m.mu.RUnlock()
	g := m.groups[group]
	if g == nil {
		return nil
	}
	out := make([]Member, 0, len(g.members))
	for ch, info := range g.members {
		out = append(out, Member{ch, info.clientID})
	}
	slices.SortFunc(out, func(a, b Member) int { return strings.Compare(a.ClientID, b.ClientID) })
	return out
}

// ChannelOf finds the connection a client id registered from.
func (m *ConsumerManager) ChannelOf(group, clientID string) (any, bool) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if g := m.groups[group]; g != nil {
		for ch, info := range g.members {
			if info.clientID == clientID {
				return ch, true
			}
		}
	}
	return nil, false
}

// Subscription returns a group's subscription to topic.
func (m *ConsumerManager) Subscription(group, topic string) (wire.SubscriptionData, bool) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	g := m.groups[group]
	if g == nil {
		return wire.SubscriptionData{}, false
	}
	sd, ok := g.subs[topic]
	return sd, ok
}

// MessageModel returns the group's message model ("" when unknown).
func (m *ConsumerManager) MessageModel(group string) string {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if g := m.groups[group]; g != nil {
		return g.messageModel
	}
	return ""
}

// ConsumerConnection is upstream's ConsumerConnection body
// (GET_CONSUMER_CONNECTION_LIST).
type ConsumerConnection struct {
	ConnectionSet     []Connection                     `json:"connectionSet"`
	SubscriptionTable map[string]wire.SubscriptionData `json:"subscriptionTable"`
	ConsumeType       string                           `json:"consumeType"`
	MessageModel      string                           `json:"messageModel"`
	ConsumeFromWhere  string                           `json:"consumeFromWhere"`
}

// Connection describes one client connection.
type Connection struct {
	ClientID   string `json:"clientId"`
	ClientAddr string `json:"clientAddr"`
	Language   string `json:"language"`
	Version    int16  `json:"version"`
}

// Connections describes a group's members, or reports false when the group
// has none.
func (m *ConsumerManager) Connections(group string, addr func(ch any) string) (ConsumerConnection, bool) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	g := m.groups[group]
	if g == nil {
		return ConsumerConnection{}, false
	}
	cc := ConsumerConnection{SubscriptionTable: maps.Clone(g.subs), ConsumeType: g.consumeType, MessageModel: g.messageModel, ConsumeFromWhere: g.consumeFromWhere}
	for ch, info := range g.members {
		cc.ConnectionSet = append(cc.ConnectionSet, Connection{ClientID: info.clientID, ClientAddr: addr(ch), Language: info.language, Version: info.version})
	}
	slices.SortFunc(cc.ConnectionSet, func(a, b Connection) int { return strings.Compare(a.ClientID, b.ClientID) })
	return cc, true
}

// ConsumeFromWhere returns where the group's members start without a
// committed offset ("" when unknown).
func (m *ConsumerManager) ConsumeFromWhere(group string) string {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if g := m.groups[group]; g != nil {
		return g.consumeFromWhere
	}
	return ""
}

// ClientConn is one registered client connection as metrics see it.
type ClientConn struct {
	Group, ClientID, Language string
	Version                   int16
	ConsumeType               string // consumers only: CONSUME_ACTIVELY or CONSUME_PASSIVELY
}

// All lists every consumer connection, for metrics.
func (m *ConsumerManager) All() []ClientConn {
	m.mu.RLock()
	defer m.mu.RUnlock()
	var out []ClientConn
	for group, g := range m.groups {
		for _, info := range g.members {
			out = append(out, ClientConn{Group: group, ClientID: info.clientID, Language: info.language, Version: info.version, ConsumeType: g.consumeType})
		}
	}
	return out
}

// Topics lists the topics a group's members subscribe to.
func (m *ConsumerManager) Topics(group string) []string {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if g := m.groups[group]; g != nil {
		return slices.Sorted(maps.Keys(g.subs))
	}
	return nil
}

// GroupsOf lists the online groups subscribing to topic.
func (m *ConsumerManager) GroupsOf(topic string) []string {
	m.mu.RLock()
	defer m.mu.RUnlock()
	var out []string
	for name, g := range m.groups {
		if _, ok := g.subs[topic]; ok {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out
}

// Groups lists the groups with at least one live member.
func (m *ConsumerManager) Groups() []string {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return slices.Sorted(maps.Keys(m.groups))
}

// ProducerManager tracks which connections belong to which producer group,
// so that transaction checks reach a live producer of the right group.
type ProducerManager struct {
	mu     sync.RWMutex
	groups map[string]map[any]*clientInfo
}

func newProducerManager() *ProducerManager {
	return &ProducerManager{groups: map[string]map[any]*clientInfo{}}
}

// Register records a producer heartbeat, with the client's language and
// version for connection lists.
func (m *ProducerManager) Register(group string, ch any, clientID, language string, version int16, now time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	members := m.groups[group]
	if members == nil {
		members = map[any]*clientInfo{}
		m.groups[group] = members
	}
	if info := members[ch]; info != nil && info.clientID == clientID {
		info.lastUpdate = now
		return
	}
	members[ch] = &clientInfo{clientID: clientID, lastUpdate: now, language: language, version: version}
}

// Connections describes a producer group's connections, or reports false
// when the group has none (GET_PRODUCER_CONNECTION_LIST).
func (m *ProducerManager) Connections(group string, addr func(ch any) string) ([]Connection, bool) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	members := m.groups[group]
	if len(members) == 0 {
		return nil, false
	}
	conns := make([]Connection, 0, len(members))
	for ch, info := range members {
		conns = append(conns, Connection{ClientID: info.clientID, ClientAddr: addr(ch), Language: info.language, Version: info.version})
	}
	slices.SortFunc(conns, func(a, b Connection) int { return strings.Compare(a.ClientID, b.ClientID) })
	return conns, true
}

// All lists every producer connection, for metrics.
func (m *ProducerManager) All() []ClientConn {
	m.mu.RLock()
	defer m.mu.RUnlock()
	var out []ClientConn
	for group, members := range m.groups {
		for _, info := range members {
			out = append(out, ClientConn{Group: group, ClientID: info.clientID, Language: info.language, Version: info.version})
		}
	}
	return out
}

// Unregister removes ch from group.
func (m *ProducerManager) Unregister(group string, ch any) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.removeLocked(group, ch)
}

func (m *ProducerManager) removeLocked(group string, ch any) {
	if members := m.groups[group]; members != nil {
		delete(members, ch)
		if len(members) == 0 {
			delete(m.groups, group)
		}
	}
}

// Disconnected removes ch from every group.
func (m *ProducerManager) Disconnected(ch any) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for name := range m.groups {
		m.removeLocked(name, ch)
	}
}

// Expire removes producers silent for longer than timeout and returns their
// channels.
func (m *ProducerManager) Expire(now time.Time, timeout time.Duration) (expired []any) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for name, members := range m.groups {
		for ch, info := range members {
			if now.Sub(info.lastUpdate) > timeout {
				expired = append(expired, ch)
				m.removeLocked(name, ch)
			}
		}
	}
	return expired
}

// Channels returns the live connections of a producer group, most recently
// heard from first, so a transaction check goes to the freshest producer.
func (m *ProducerManager) Channels(group string) []any {
	m.mu.RLock()
	defer m.mu.RUnlock()
	members := m.groups[group]
	chs := slices.Collect(maps.Keys(members))
	slices.SortFunc(chs, func(a, b any) int { return members[b].lastUpdate.Compare(members[a].lastUpdate) })
	return chs
}

// FindChannel returns the connection of the producer client with clientID
// (any group; the most recently heard from when it has several), as
// upstream's ProducerManager.findChannel does for request/reply. A linear
// scan: replies are rare next to sends, and the table is small.
func (m *ProducerManager) FindChannel(clientID string) (any, bool) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	var (
		found  any
		latest time.Time
	)
	for _, members := range m.groups {
		for ch, info := range members {
			if info.clientID == clientID && (found == nil || info.lastUpdate.After(latest)) {
				found, latest = ch, info.lastUpdate
			}
		}
	}
	return found, found != nil
}

// AllChannels returns every producer connection, each once.
func (m *ProducerManager) AllChannels() []any {
	m.mu.RLock()
	defer m.mu.RUnlock()
	seen := map[any]struct{}{}
	for _, members := range m.groups {
		for ch := range members {
			seen[ch] = struct{}{}
		}
	}
	return slices.Collect(maps.Keys(seen))
}
