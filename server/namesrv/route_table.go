package namesrv

import (
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/rocketgo/rocketgo/remoting/wire"
)

// Permission bits of a topic (upstream common/constant/PermName).
const (
	PermInherit  int32 = 1
	PermWrite    int32 = 2
	PermRead     int32 = 4
	PermPriority int32 = 8
)

// queueData is one broker's share of a topic.
type queueData struct {
	brokerName     string
	readQueueNums  int32
	writeQueueNums int32
	perm           int32
	topicSysFlag   int32
}

// brokerData is a broker group: a master and its slaves under one name.
type brokerData struct {
	cluster            string
	brokerName         string
	addrs              map[int64]string // brokerId → "ip:port"
	enableActingMaster bool
	zoneName           string
}

// liveKey identifies a broker process. Upstream keys liveness by cluster and
// address, so the same address may serve two clusters independently.
type liveKey struct {
	cluster string
	addr    string
}

// liveInfo is what the name server knows about a running broker process.
type liveInfo struct {
	brokerName   string
	brokerID     int64
	lastUpdate   time.Time
	timeout      time.Duration
	dataVersion  wire.DataVersion
	conn         any // transport connection identity; nil if unknown
	haServerAddr string
}

// registerRequest carries the REGISTER_BROKER header fields the tables use.
type registerRequest struct {
	ClusterName        string
	BrokerName         string
	BrokerAddr         string
	BrokerID           int64
	HAServerAddr       string
	ZoneName           string
	EnableActingMaster bool
	// HeartbeatTimeout overrides the server's broker timeout for this broker
	// when positive (header heartbeatTimeoutMillis).
	HeartbeatTimeout time.Duration
}

// registerResult is what a register answers: for slaves, where the master
// and its HA endpoint live.
type registerResult struct {
	MasterAddr   string
	HAServerAddr string
	first        bool // the broker process was not live before
	rejected     bool // a newer broker holds the id (controller-mode state version)
}

// routeTable holds every name-server table behind one RWMutex. Lookups take
// the read lock, mutations the write lock; a mutation that can change any
// route answer also drops the encoded-route cache, so a cached body is
// always what a fresh encode under the same lock would produce.
type routeTable struct {
	mu       sync.RWMutex
	topics   map[string]map[string]*queueData // topic → brokerName → queue data
	brokers  map[string]*brokerData           // brokerName → group
	clusters map[string]map[string]struct{}   // cluster → broker names
	live     map[liveKey]*liveInfo

	// cacheMu guards cache. Readers fill it while holding mu.RLock; writers
	// clear it while holding mu.Lock, so no reader can store a body built
	// from tables that changed after the clear.
	cacheMu sync.Mutex
	cache   map[string][]byte // topic → encoded route body, orderTopicConf included
}

func newRouteTable() *routeTable {
	return &routeTable{
		topics:   make(map[string]map[string]*queueData),
		brokers:  make(map[string]*brokerData),
		clusters: make(map[string]map[string]struct{}),
		live:     make(map[liveKey]*liveInfo),
		cache:    make(map[string][]byte),
	}
}

// invalidateLocked drops cached route bodies; mu must be held for writing.
func (t *routeTable) invalidateLocked() {
	t.cacheMu.Lock()
	clear(t.cache)
	t.cacheMu.Unlock()
}

// invalidate drops cached route bodies after a change outside the tables
// (the ORDER_TOPIC_CONFIG namespace feeds orderTopicConf).
func (t *routeTable) invalidate() {
	t.mu.Lock()
	t.invalidateLocked()
	t.mu.Unlock()
}

// register applies one REGISTER_BROKER. Queue data change only when the
// registering broker is the master (or the acting master of a group whose
// master is gone) and its data version differs from the last one seen, or
// this is its first registration; otherwise the call only refreshes liveness
// and addresses.
func (t *routeTable) register(req registerRequest, body *wire.RegisterBody, conn any, now time.Time, defaultTimeout time.Duration) registerResult {
	t.mu.Lock()
	defer t.mu.Unlock()
	changed := false

	names := t.clusters[req.ClusterName]
	if names == nil {
		names = make(map[string]struct{})
		t.clusters[req.ClusterName] = names
	}
	names[req.BrokerName] = struct{}{}

	bd := t.brokers[req.BrokerName]
	if bd == nil {
		bd = &brokerData{cluster: req.ClusterName, brokerName: req.BrokerName, addrs: make(map[int64]string)}
		t.brokers[req.BrokerName] = bd
		changed = true
	}
	// Controller mode: a broker id held by another live address with a
	// newer state version (the master epoch) stays with it, as upstream's
	// RouteInfoManager: a demoted master that still registers as id 0
	// must not displace its successor.
	if holder, ok := bd.addrs[req.BrokerID]; ok && holder != req.BrokerAddr {
		if li := t.live[liveKey{req.ClusterName, holder}]; li != nil && li.dataVersion.StateVersion > body.DataVersion.StateVersion {
			delete(t.live, liveKey{req.ClusterName, req.BrokerAddr})
			return registerResult{rejected: true}
		}
	}
	if bd.enableActingMaster != req.EnableActingMaster || (req.ZoneName != "" && bd.zoneName != req.ZoneName) {
		bd.enableActingMaster = req.EnableActingMaster
		if req.ZoneName != "" {
			bd.zoneName = req.ZoneName
		}
		changed = true
	}
	// A slave promoted to master (or the reverse) re-registers the same
	// address under a new id: drop the old id so the address is listed once.
	for id, addr := range bd.addrs {
		if addr == req.BrokerAddr && id != req.BrokerID {
			delete(bd.addrs, id)
			changed = true
		}
	}
	old, existed := bd.addrs[req.BrokerID]
	if old != req.BrokerAddr {
		bd.addrs[req.BrokerID] = req.BrokerAddr
		changed = true
	}
	registerFirst := !existed

	key := liveKey{req.ClusterName, req.BrokerAddr}
	prev := t.live[key]
	versionChanged := prev == nil || prev.dataVersion != body.DataVersion

	isMaster := req.BrokerID == wire.MasterID
	isPrimeSlave := !isMaster && req.EnableActingMaster && req.BrokerID == minID(bd.addrs)
	if (isMaster || isPrimeSlave) && (versionChanged || registerFirst) {
		for i := range body.Topics {
			tc := &body.Topics[i]
			perm := tc.Perm
			if isPrimeSlave {
				// An acting master serves reads only, as upstream.
				perm &^= wire.PermWrite
			}
			if t.putQueueDataLocked(tc, req.BrokerName, perm) {
				changed = true
			}
		}
	}

	timeout := defaultTimeout
	if req.HeartbeatTimeout > 0 {
		timeout = req.HeartbeatTimeout
	}
	t.live[key] = &liveInfo{
		brokerName:   req.BrokerName,
		brokerID:     req.BrokerID,
		lastUpdate:   now,
		timeout:      timeout,
		dataVersion:  body.DataVersion,
		conn:         conn,
		haServerAddr: req.HAServerAddr,
	}
	if changed {
		t.invalidateLocked()
	}

	res := registerResult{first: prev == nil}
	if !isMaster {
		if masterAddr, ok := bd.addrs[wire.MasterID]; ok {
			res.MasterAddr = masterAddr
			if ml := t.live[liveKey{req.ClusterName, masterAddr}]; ml != nil {
				res.HAServerAddr = ml.haServerAddr
			}
		}
	}
	return res
}

func minID(addrs map[int64]string) int64 {
	first := true
	var m int64
	for id := range addrs {
		if first || id < m {
			m, first = id, false
		}
	}
	return m
}

// putQueueDataLocked records brokerName's share of a topic and reports
// whether anything a route shows changed.
func (t *routeTable) putQueueDataLocked(tc *wire.TopicConfig, brokerName string, perm int32) bool {
	qds := t.topics[tc.TopicName]
	if qds == nil {
		qds = make(map[string]*queueData)
		t.topics[tc.TopicName] = qds
	}
	nq := queueData{
		brokerName:     brokerName,
		readQueueNums:  tc.ReadQueueNums,
		writeQueueNums: tc.WriteQueueNums,
		perm:           perm,
		topicSysFlag:   tc.TopicSysFlag,
	}
	if old := qds[brokerName]; old != nil && *old == nq {
		return false
	}
	qds[brokerName] = &nq
	return true
}

// unregister removes one broker process (UNREGISTER_BROKER). It reports
// whether the broker was known.
func (t *routeTable) unregister(cluster, brokerName, addr string, brokerID int64) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	_, known := t.live[liveKey{cluster, addr}]
	if bd := t.brokers[brokerName]; bd != nil && bd.addrs[brokerID] == addr {
		known = true
	}
	if known {
		t.removeLocked(cluster, brokerName, addr)
	}
	return known
}

// removeLocked forgets the broker process at addr. When it was the last
// address of its group, the group leaves its cluster and every topic loses
// that group's queues; topics left without queues disappear. A master that
// leaves behind slaves keeps the group (and its queue data) routable for
// reads, exactly as upstream does.
func (t *routeTable) removeLocked(cluster, brokerName, addr string) {
	delete(t.live, liveKey{cluster, addr})
	bd := t.brokers[brokerName]
	if bd == nil {
		t.invalidateLocked()
		return
	}
	for id, a := range bd.addrs {
		if a == addr {
			delete(bd.addrs, id)
		}
	}
	if len(bd.addrs) == 0 {
		delete(t.brokers, brokerName)
		if names := t.clusters[bd.cluster]; names != nil {
			delete(names, brokerName)
			if len(names) == 0 {
				delete(t.clusters, bd.cluster)
			}
		}
		for topic, qds := range t.topics {
			if _, ok := qds[brokerName]; ok {
				delete(qds, brokerName)
				if len(qds) == 0 {
					delete(t.topics, topic)
				}
			}
		}
	}
	t.invalidateLocked()
}

// expired lists the brokers silent for longer than their timeout. It runs
// under the read lock so a scan does not stall route queries when nothing
// expired, which is the common case.
func (t *routeTable) expired(now time.Time) []liveKey {
	t.mu.RLock()
	defer t.mu.RUnlock()
	var out []liveKey
	for k, li := range t.live {
		if now.Sub(li.lastUpdate) > li.timeout {
			out = append(out, k)
		}
	}
	return out
}

// scan drops every broker whose last registration or heartbeat is older
// than its timeout and returns the addresses removed.
func (t *routeTable) scan(now time.Time) []string {
	keys := t.expired(now)
	if len(keys) == 0 {
		return nil
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	var removed []string
	for _, k := range keys {
		// Re-check: the broker may have re-registered between the locks.
		li := t.live[k]
		if li == nil || now.Sub(li.lastUpdate) <= li.timeout {
			continue
		}
		t.removeLocked(k.cluster, li.brokerName, k.addr)
		removed = append(removed, k.addr)
	}
	return removed
}

// connClosed drops every broker that registered over conn and returns their
// addresses: a closed broker connection means the broker is gone.
func (t *routeTable) connClosed(conn any) []string {
	if conn == nil || !t.hasConn(conn) {
		// Most closing connections are clients that never registered;
		// they should not stall route queries behind the write lock.
		return nil
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	var removed []string
	for k, li := range t.live {
		if li.conn == conn {
			t.removeLocked(k.cluster, li.brokerName, k.addr)
			removed = append(removed, k.addr)
		}
	}
	return removed
}

func (t *routeTable) hasConn(conn any) bool {
	t.mu.RLock()
	defer t.mu.RUnlock()
	for _, li := range t.live {
		if li.conn == conn {
			return true
		}
	}
	return false
}

// touch refreshes a broker's liveness (BROKER_HEARTBEAT, QUERY_DATA_VERSION).
// It reports whether the broker is known.
func (t *routeTable) touch(cluster, addr string, now time.Time) bool {
	// The write lock is needed because lastUpdate is read by scans; the
	// critical section is a map lookup and a store.
	t.mu.Lock()
	defer t.mu.Unlock()
	li := t.live[liveKey{cluster, addr}]
	if li == nil {
		return false
	}
	li.lastUpdate = now
	return true
}

// versionChanged reports whether dv differs from the data version last
// registered by the broker (true for an unknown broker, so it registers),
// refreshes its liveness, and returns the stored version if any.
func (t *routeTable) queryDataVersion(cluster, addr string, dv wire.DataVersion, now time.Time) (changed bool, stored *wire.DataVersion) {
	t.mu.Lock()
	defer t.mu.Unlock()
	li := t.live[liveKey{cluster, addr}]
	if li == nil {
		return true, nil
	}
	li.lastUpdate = now
	v := li.dataVersion
	return v != dv, &v
}

// deleteTopic removes a topic everywhere, or only the queues of the given
// cluster's brokers when cluster is not empty. It reports whether anything
// was removed.
func (t *routeTable) deleteTopic(topic, cluster string) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	qds := t.topics[topic]
	if qds == nil {
		return false
	}
	if cluster == "" {
		delete(t.topics, topic)
		t.invalidateLocked()
		return true
	}
	removed := false
	for name := range t.clusters[cluster] {
		if _, ok := qds[name]; ok {
			delete(qds, name)
			removed = true
		}
	}
	if len(qds) == 0 {
		delete(t.topics, topic)
	}
	if removed {
		t.invalidateLocked()
	}
	return removed
}

// setWritePerm clears (wipe) or sets the write bit on every topic served by
// brokerName and returns how many topics it touched
// (WIPE_WRITE_PERM_OF_BROKER / ADD_WRITE_PERM_OF_BROKER).
func (t *routeTable) setWritePerm(brokerName string, writable bool) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := 0
	for _, qds := range t.topics {
		qd := qds[brokerName]
		if qd == nil {
			continue
		}
		if writable {
			qd.perm |= wire.PermWrite | wire.PermRead
		} else {
			qd.perm &^= wire.PermWrite
		}
		n++
	}
	if n > 0 {
		t.invalidateLocked()
	}
	return n
}

// snapshotRoute copies what a route answer for topic needs, sorted by broker
// name so answers are deterministic. ok is false when the topic is unknown
// or none of its brokers is registered. mu must be held.
func (t *routeTable) snapshotRouteLocked(topic string) (qds []*queueData, bds []*brokerData, ok bool) {
	m := t.topics[topic]
	if len(m) == 0 {
		return nil, nil, false
	}
	qds = make([]*queueData, 0, len(m))
	for _, qd := range m {
		qds = append(qds, qd)
	}
	slices.SortFunc(qds, func(a, b *queueData) int { return strings.Compare(a.brokerName, b.brokerName) })
	bds = make([]*brokerData, 0, len(qds))
	for _, qd := range qds {
		if bd := t.brokers[qd.brokerName]; bd != nil {
			bds = append(bds, bd)
		}
	}
	if len(bds) == 0 {
		return nil, nil, false
	}
	return qds, bds, true
}

// route returns the encoded GET_ROUTEINFO_BY_TOPIC body for topic. orderConf
// supplies the ORDER_TOPIC_CONFIG value (may be nil). The returned slice is
// shared with the cache and must not be modified.
func (t *routeTable) route(topic string, orderConf func(topic string) string) ([]byte, bool) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	t.cacheMu.Lock()
	body, ok := t.cache[topic]
	t.cacheMu.Unlock()
	if ok {
		return body, true
	}
	qds, bds, ok := t.snapshotRouteLocked(topic)
	if !ok {
		return nil, false
	}
	conf := ""
	if orderConf != nil {
		conf = orderConf(topic)
	}
	body = appendRouteJSON(make([]byte, 0, 256), conf, qds, bds)
	t.cacheMu.Lock()
	// Bound the cache: a client scanning random topic names must not grow
	// it without limit. Dropping everything is crude but rare and cheap.
	if len(t.cache) >= maxCachedRoutes {
		clear(t.cache)
	}
	t.cache[topic] = body
	t.cacheMu.Unlock()
	return body, true
}

const maxCachedRoutes = 1 << 16

// encodeRoute builds a route body without touching the cache (benchmarks
// and tests compare it with the cached path).
func (t *routeTable) encodeRoute(dst []byte, topic, orderConf string) ([]byte, bool) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	qds, bds, ok := t.snapshotRouteLocked(topic)
	if !ok {
		return dst, false
	}
	return appendRouteJSON(dst, orderConf, qds, bds), true
}

// clusterInfo encodes the GET_BROKER_CLUSTER_INFO body.
func (t *routeTable) clusterInfo() []byte {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return appendClusterInfoJSON(make([]byte, 0, 256), t.brokers, t.clusters)
}

// topicList returns every topic name, sorted.
func (t *routeTable) topicList() []string {
	t.mu.RLock()
	defer t.mu.RUnlock()
	out := make([]string, 0, len(t.topics))
	for topic := range t.topics {
		out = append(out, topic)
	}
	slices.Sort(out)
	return out
}

// topicsByCluster returns the topics with queues on any broker of cluster.
func (t *routeTable) topicsByCluster(cluster string) []string {
	t.mu.RLock()
	defer t.mu.RUnlock()
	names := t.clusters[cluster]
	var out []string
	for topic, qds := range t.topics {
		for name := range qds {
			if _, ok := names[name]; ok {
				out = append(out, topic)
				break
			}
		}
	}
	slices.Sort(out)
	return out
}

// systemTopics lists what upstream calls the system topic list: every
// cluster name and every broker name (each doubles as a topic name for
// cluster- and broker-addressed sends), plus any master address.
func (t *routeTable) systemTopics() (topics []string, brokerAddr string) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	for cluster, names := range t.clusters {
		topics = append(topics, cluster)
		for name := range names {
			topics = append(topics, name)
		}
	}
	slices.Sort(topics)
	topics = slices.Compact(topics)
	for _, name := range slices.Sorted(maps.Keys(t.brokers)) {
		if a, ok := t.brokers[name].addrs[wire.MasterID]; ok {
			brokerAddr = a
			break
		}
	}
	return topics, brokerAddr
}

// topicsWithSysFlag returns the topics for which match accepts the
// topicSysFlag of any of their queue data (unit-topic queries).
func (t *routeTable) topicsWithSysFlag(match func(flag int32) bool) []string {
	t.mu.RLock()
	defer t.mu.RUnlock()
	var out []string
	for topic, qds := range t.topics {
		for _, qd := range qds {
			if match(qd.topicSysFlag) {
				out = append(out, topic)
				break
			}
		}
	}
	slices.Sort(out)
	return out
}

// brokerCount reports how many broker processes are live (tests, metrics).
func (t *routeTable) brokerCount() int {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return len(t.live)
}
