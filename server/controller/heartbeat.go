package controller

import (
	"sync"
	"time"
)

// The heartbeat table is local to each controller node, as upstream's
// DefaultBrokerHeartbeatManager: brokers send BROKER_HEARTBEAT to every
// controller, so a node that becomes leader already knows who is alive
// without replicating a write per heartbeat through Raft.

// brokerKey identifies a broker across the cluster.
type brokerKey struct {
	cluster, name string
	id            int64
}

// liveInfo is one broker's last heartbeat.
type liveInfo struct {
	addr     string
	last     time.Time
	timeout  time.Duration
	conn     any // the connection the heartbeat came on, to notice it closing
	epoch    int32
	maxOff   int64
	confirm  int64
	priority int32
}

type heartbeats struct {
	clock          func() time.Time
	defaultTimeout time.Duration

	mu   sync.Mutex
	live map[brokerKey]*liveInfo
}

func newHeartbeats(clock func() time.Time, defaultTimeout time.Duration) *heartbeats {
	return &heartbeats{clock: clock, defaultTimeout: defaultTimeout, live: map[brokerKey]*liveInfo{}}
}

// beat records a heartbeat. A broker's epoch and offsets only move forward
// (a late, reordered heartbeat cannot make it look behind), as upstream.
func (h *heartbeats) beat(hb BrokerHeartbeatHeader, conn any) {
	k := brokerKey{hb.ClusterName, hb.BrokerName, hb.BrokerID}
	timeout := h.defaultTimeout
	if hb.HeartbeatTimeout > 0 {
		timeout = time.Duration(hb.HeartbeatTimeout) * time.Millisecond
	}
	now := h.clock()
	h.mu.Lock()
	defer h.mu.Unlock()
	li := h.live[k]
	if li == nil {
		h.live[k] = &liveInfo{addr: hb.BrokerAddr, last: now, timeout: timeout, conn: conn,
			epoch: hb.Epoch, maxOff: hb.MaxOffset, confirm: hb.ConfirmOffset, priority: hb.ElectionPriority}
		return
	}
	li.addr, li.last, li.timeout, li.conn, li.priority = hb.BrokerAddr, now, timeout, conn, hb.ElectionPriority
	if hb.Epoch > li.epoch || (hb.Epoch == li.epoch && hb.MaxOffset > li.maxOff) {
		li.epoch, li.maxOff, li.confirm = hb.Epoch, hb.MaxOffset, hb.ConfirmOffset
	}
}

// alive reports a broker whose last heartbeat is within its timeout.
func (h *heartbeats) alive(cluster, name string, id int64) (liveBroker, bool) {
	now := h.clock()
	h.mu.Lock()
	defer h.mu.Unlock()
	li := h.live[brokerKey{cluster, name, id}]
	if li == nil || now.Sub(li.last) > li.timeout {
		return liveBroker{}, false
	}
	return liveBroker{ID: id, Epoch: li.epoch, MaxOffset: li.maxOff, ElectionPriority: li.priority}, true
}

// isAlive is alive without the details.
func (h *heartbeats) isAlive(cluster, name string, id int64) bool {
	_, ok := h.alive(cluster, name, id)
	return ok
}

// expire removes brokers whose heartbeats stopped and returns them.
func (h *heartbeats) expire() []brokerKey {
	now := h.clock()
	h.mu.Lock()
	defer h.mu.Unlock()
	var gone []brokerKey
	for k, li := range h.live {
		if now.Sub(li.last) > li.timeout {
			delete(h.live, k)
			gone = append(gone, k)
		}
	}
	return gone
}

// closed removes every broker whose heartbeats came on conn and returns
// them: a closed connection is a dead broker until it beats again, so a
// killed master is noticed at once rather than after its timeout.
func (h *heartbeats) closed(conn any) []brokerKey {
	h.mu.Lock()
	defer h.mu.Unlock()
	var gone []brokerKey
	for k, li := range h.live {
		if li.conn == conn {
			delete(h.live, k)
			gone = append(gone, k)
		}
	}
	return gone
}
