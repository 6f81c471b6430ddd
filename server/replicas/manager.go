// Package replicas is the broker side of controller mode (upstream's
// ReplicasManager): it obtains the broker's id from the controller,
// registers, heartbeats to every controller node, follows the master the
// controller names — promoting or demoting the broker without a restart —
// and, on the master, reports SyncStateSet shrinks and expansions. It also
// keeps the broker's epoch file (epoch.go).
//
// The broker is driven through the small Node interface; this package
// knows nothing of its store or replication internals.
package replicas

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/rocketgo/rocketgo/remoting"
	"github.com/rocketgo/rocketgo/remoting/netclient"
	"github.com/rocketgo/rocketgo/remoting/wire"
	"github.com/rocketgo/rocketgo/server/controller"
)

// Node is what the manager needs from its broker. Role changes are called
// one at a time.
type Node interface {
	// MaxPhysicalOffset and ConfirmOffset describe the log for heartbeats
	// (elections prefer the longest log); LastEpoch is the newest epoch of
	// the epoch file, -1 when empty.
	MaxPhysicalOffset() int64
	ConfirmOffset() int64
	LastEpoch() int32
	// SetBrokerID tells the broker the id the controller assigned it.
	SetBrokerID(id int64)
	// BecomeMaster makes the broker the master of epoch with sss.
	BecomeMaster(ctx context.Context, epoch int32, sss wire.SyncStateSet) error
	// BecomeSlave makes the broker follow the master at masterAddr (its
	// remoting address) from epoch on.
	BecomeSlave(ctx context.Context, masterAddr string, masterID int64, epoch int32) error
	// SetSyncStateSet installs a SyncStateSet the controller committed.
	SetSyncStateSet(sss wire.SyncStateSet)
	// ShrinkSyncStateSet returns the current SyncStateSet less the slaves
	// that fell behind or went away (the master included).
	ShrinkSyncStateSet() []int64
}

// Config configures a Manager. Field comments give the broker.conf key and
// upstream's default.
type Config struct {
	ClusterName    string
	BrokerName     string
	Addr           string // the broker's remoting address, where the controller notifies it
	ControllerAddr string // controllerAddr, "host:port;host:port"
	IdentityDir    string // where brokerIdentity.json lives

	HeartbeatInterval        time.Duration // brokerHeartbeatInterval, 1 s
	HeartbeatTimeout         time.Duration // controllerHeartBeatTimeoutMills, 10 s
	SyncBrokerMetadataPeriod time.Duration // syncBrokerMetadataPeriod, 5 s
	CheckSyncStateSetPeriod  time.Duration // checkSyncStateSetPeriod, 5 s
	ElectionPriority         int32         // brokerElectionPriority, MaxInt32 (lowest)
	RetryInterval            time.Duration // pause between failed start-up attempts, 1 s (upstream 5 s)
}

// Option customises a Manager.
type Option func(*Manager)

// WithLogger sets the logger (default: discard).
func WithLogger(l *slog.Logger) Option { return func(m *Manager) { m.log = l } }

// Status is the manager's view, for tools and tests.
type Status struct {
	BrokerID     int64
	Master       bool
	MasterID     int64
	MasterAddr   string
	MasterEpoch  int32
	SyncStateSet wire.SyncStateSet
	Running      bool // the role is known
}

// Manager drives one broker in controller mode.
type Manager struct {
	cfg  Config
	node Node
	ctl  *controller.Client
	log  *slog.Logger
	ids  identityFiles

	// mu guards the fields below and is held across role changes, so the
	// broker sees them one at a time and in epoch order.
	mu          sync.Mutex
	brokerID    int64
	master      bool
	running     bool
	masterID    int64
	masterAddr  string
	masterEpoch int32
	sss         wire.SyncStateSet

	pmu      sync.Mutex // guards proposal
	proposal []int64
	propose  chan struct{} // buffered 1
	syncNow  chan struct{} // buffered 1

	stop context.CancelFunc
	wg   sync.WaitGroup
}

// New builds a manager; rpc is the broker's remoting client (not owned).
func New(cfg Config, node Node, rpc *netclient.Client, opts ...Option) (*Manager, error) {
	ctl, err := controller.NewClient(rpc, cfg.ControllerAddr)
	if err != nil {
		return nil, err
	}
	m := &Manager{cfg: cfg, node: node, ctl: ctl, ids: newIdentityFiles(cfg.IdentityDir),
		log: slog.New(slog.NewTextHandler(io.Discard, nil)), propose: make(chan struct{}, 1), syncNow: make(chan struct{}, 1)}
	for _, o := range opts {
		o(m)
	}
	if m.cfg.RetryInterval <= 0 {
		m.cfg.RetryInterval = time.Second
	}
	return m, nil
}

// Start begins registration and the periodic jobs. The broker learns its
// role through Node once the controller names a master.
func (m *Manager) Start() {
	ctx, cancel := context.WithCancel(context.Background())
	m.stop = cancel
	m.goLoop(ctx, m.startupLoop)
	m.goLoop(ctx, m.heartbeatLoop)
	m.goLoop(ctx, m.metadataLoop)
	m.goLoop(ctx, m.syncStateSetLoop)
	m.goLoop(ctx, m.reportLoop)
}

// Close stops every goroutine and waits for them.
func (m *Manager) Close() {
	if m.stop != nil {
		m.stop()
	}
	m.wg.Wait()
}

func (m *Manager) goLoop(ctx context.Context, f func(context.Context)) {
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		f(ctx)
	}()
}

func every(ctx context.Context, d time.Duration, now <-chan struct{}, f func()) {
	t := time.NewTicker(d)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-now:
		}
		f()
	}
}

// Status returns the manager's current view.
func (m *Manager) Status() Status {
	m.mu.Lock()
	defer m.mu.Unlock()
	return Status{BrokerID: m.brokerID, Master: m.master, MasterID: m.masterID, MasterAddr: m.masterAddr,
		MasterEpoch: m.masterEpoch, SyncStateSet: m.sss, Running: m.running}
}

func (m *Manager) id() int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.brokerID
}

// startupLoop registers and settles the first role, retrying until it
// succeeds.
func (m *Manager) startupLoop(ctx context.Context) {
	for ctx.Err() == nil {
		err := m.startup(ctx)
		if err == nil {
			return
		}
		m.log.Warn("controller mode: start-up step failed; retrying", "err", err)
		t := time.NewTimer(m.cfg.RetryInterval)
		select {
		case <-ctx.Done():
		case <-t.C:
		}
		t.Stop()
	}
}

func (m *Manager) startup(ctx context.Context) error {
	rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if m.id() == 0 {
		id, err := m.obtainID(rctx)
		if err != nil {
			return err
		}
		m.mu.Lock()
		m.brokerID = id
		m.mu.Unlock()
		m.node.SetBrokerID(id)
		m.log.Info("controller mode: broker id", "id", id)
	}
	r, err := m.ctl.RegisterBroker(rctx, m.cfg.ClusterName, m.cfg.BrokerName, m.id(), m.cfg.Addr)
	if err != nil {
		return fmt.Errorf("register with the controller: %w", err)
	}
	m.beat(rctx)
	if r.MasterBrokerID != controller.NoMaster {
		return m.applyRole(ctx, r)
	}
	return m.electSelf(rctx)
}

// obtainID returns the broker's id: from its identity file, or negotiated
// with the controller (next id, temporary file, apply, final file).
func (m *Manager) obtainID(ctx context.Context) (int64, error) {
	id, ok, err := readIdentity(m.ids.final)
	if err != nil {
		return 0, err
	}
	if ok {
		if id.ClusterName != m.cfg.ClusterName || id.BrokerName != m.cfg.BrokerName {
			return 0, fmt.Errorf("replicas: %s belongs to %s/%s, not %s/%s", m.ids.final, id.ClusterName, id.BrokerName, m.cfg.ClusterName, m.cfg.BrokerName)
		}
		return id.BrokerID, nil
	}
	tmp, ok, err := readIdentity(m.ids.temp)
	if err != nil || !ok || tmp.ClusterName != m.cfg.ClusterName || tmp.BrokerName != m.cfg.BrokerName {
		next, err := m.ctl.NextBrokerID(ctx, m.cfg.ClusterName, m.cfg.BrokerName)
		if err != nil {
			return 0, fmt.Errorf("get the next broker id: %w", err)
		}
		tmp = identity{ClusterName: m.cfg.ClusterName, BrokerName: m.cfg.BrokerName, BrokerID: next,
			RegisterCheckCode: m.cfg.Addr + ";" + strconv.FormatInt(time.Now().UnixMilli(), 10)}
		if err := writeIdentity(m.ids.temp, tmp); err != nil {
			return 0, err
		}
	}
	if err := m.ctl.ApplyBrokerID(ctx, m.cfg.ClusterName, m.cfg.BrokerName, tmp.BrokerID, tmp.RegisterCheckCode); err != nil {
		if controller.IsCode(err, remoting.ControllerBrokerIDInvalid) {
			removeFile(m.ids.temp) // taken meanwhile: start over with a fresh id
		}
		return 0, fmt.Errorf("apply broker id %d: %w", tmp.BrokerID, err)
	}
	if err := writeIdentity(m.ids.final, identity{ClusterName: tmp.ClusterName, BrokerName: tmp.BrokerName, BrokerID: tmp.BrokerID}); err != nil {
		return 0, err
	}
	removeFile(m.ids.temp)
	return tmp.BrokerID, nil
}

// electSelf asks the controller for an election with this broker's id:
// the first broker of a new set becomes its master; otherwise the policy
// decides.
func (m *Manager) electSelf(ctx context.Context) error {
	r, err := m.ctl.ElectMaster(ctx, controller.ElectMasterHeader{ClusterName: m.cfg.ClusterName, BrokerName: m.cfg.BrokerName, BrokerID: m.id()})
	if err != nil {
		return fmt.Errorf("elect: %w", err)
	}
	if r.MasterBrokerID == controller.NoMaster {
		return errors.New("elect: the controller names no master")
	}
	return m.applyRole(ctx, r)
}

// applyRole follows the controller's answer when its master epoch is newer
// than the one the broker knows; at the same epoch a master takes a newer
// SyncStateSet.
func (m *Manager) applyRole(ctx context.Context, r controller.Replicas) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if r.MasterBrokerID == controller.NoMaster {
		return nil
	}
	if r.MasterEpoch <= m.masterEpoch {
		if r.MasterEpoch == m.masterEpoch && m.master && r.MasterBrokerID == m.brokerID && r.SyncStateSet.Epoch > m.sss.Epoch {
			m.sss = r.SyncStateSet
			m.node.SetSyncStateSet(r.SyncStateSet)
		}
		return nil
	}
	rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if r.MasterBrokerID == m.brokerID {
		sss := r.SyncStateSet
		if sss.Epoch == 0 {
			sss = wire.SyncStateSet{Members: []int64{m.brokerID}, Epoch: r.SyncStateSetEpoch}
		}
		if err := m.node.BecomeMaster(rctx, r.MasterEpoch, sss); err != nil {
			return fmt.Errorf("become master of epoch %d: %w", r.MasterEpoch, err)
		}
		m.master, m.sss = true, sss
	} else {
		if err := m.node.BecomeSlave(rctx, r.MasterAddress, r.MasterBrokerID, r.MasterEpoch); err != nil {
			return fmt.Errorf("become slave of %d in epoch %d: %w", r.MasterBrokerID, r.MasterEpoch, err)
		}
		m.master, m.sss = false, wire.SyncStateSet{}
	}
	m.running = true
	m.masterID, m.masterAddr, m.masterEpoch = r.MasterBrokerID, r.MasterAddress, r.MasterEpoch
	m.log.Info("controller mode: role changed", "master", m.master, "masterId", r.MasterBrokerID, "masterAddr", r.MasterAddress, "epoch", r.MasterEpoch)
	return nil
}

// OnRoleChanged handles NOTIFY_BROKER_ROLE_CHANGED: the change is applied
// on a goroutine of the manager, never on the caller's (a network loop).
func (m *Manager) OnRoleChanged(h controller.MasterHeader, sss wire.SyncStateSet) {
	if m.stop == nil {
		return
	}
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		if sss.Epoch == 0 {
			sss.Epoch = h.SyncStateSetEpoch
		}
		if err := m.applyRole(context.Background(), controller.Replicas{MasterHeader: h, SyncStateSet: sss}); err != nil {
			m.log.Error("controller mode: applying a role change failed", "err", err)
			m.SyncNow()
		}
	}()
}

// SyncNow asks for a metadata sync with the controller at once.
func (m *Manager) SyncNow() {
	select {
	case m.syncNow <- struct{}{}:
	default:
	}
}

// beat sends one heartbeat to every controller node.
func (m *Manager) beat(ctx context.Context) {
	id := m.id()
	if id == 0 {
		return
	}
	h := controller.BrokerHeartbeatHeader{
		ClusterName: m.cfg.ClusterName, BrokerName: m.cfg.BrokerName, BrokerAddr: m.cfg.Addr, BrokerID: id,
		Epoch: m.node.LastEpoch(), MaxOffset: m.node.MaxPhysicalOffset(), ConfirmOffset: m.node.ConfirmOffset(),
		HeartbeatTimeout: m.cfg.HeartbeatTimeout.Milliseconds(), ElectionPriority: m.cfg.ElectionPriority,
	}
	var wg sync.WaitGroup
	for _, addr := range m.ctl.Addrs() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			hctx, cancel := context.WithTimeout(ctx, max(m.cfg.HeartbeatInterval, time.Second))
			defer cancel()
			if err := m.ctl.Heartbeat(hctx, addr, &h); err != nil {
				m.log.Debug("controller mode: heartbeat failed", "controller", addr, "err", err)
			}
		}()
	}
	wg.Wait()
}

func (m *Manager) heartbeatLoop(ctx context.Context) {
	every(ctx, m.cfg.HeartbeatInterval, nil, func() { m.beat(ctx) })
}

// metadataLoop polls the controller for the set's master, so a broker that
// missed a notification (or was partitioned) still follows.
func (m *Manager) metadataLoop(ctx context.Context) {
	every(ctx, m.cfg.SyncBrokerMetadataPeriod, m.syncNow, func() {
		if m.id() == 0 {
			return
		}
		rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		r, err := m.ctl.ReplicaInfo(rctx, m.cfg.BrokerName)
		switch {
		case controller.IsCode(err, remoting.ControllerBrokerMetadataNotExist):
			if _, err := m.ctl.RegisterBroker(rctx, m.cfg.ClusterName, m.cfg.BrokerName, m.id(), m.cfg.Addr); err != nil {
				m.log.Warn("controller mode: re-registering failed", "err", err)
			}
			return
		case err != nil:
			m.log.Debug("controller mode: metadata sync failed", "err", err)
			return
		}
		if r.MasterBrokerID == controller.NoMaster {
			if err := m.electSelf(rctx); err != nil {
				m.log.Debug("controller mode: no master yet", "err", err)
			}
			return
		}
		if err := m.applyRole(ctx, r); err != nil {
			m.log.Error("controller mode: following the controller failed", "err", err)
		}
	})
}

// syncStateSetLoop lets the master shrink its SyncStateSet when slaves
// fall behind (upstream's checkSyncStateSetPeriod task).
func (m *Manager) syncStateSetLoop(ctx context.Context) {
	every(ctx, m.cfg.CheckSyncStateSetPeriod, nil, func() {
		m.mu.Lock()
		master, cur := m.master, m.sss.Members
		m.mu.Unlock()
		if !master {
			return
		}
		if next := m.node.ShrinkSyncStateSet(); !slices.Equal(normalize(next), cur) {
			m.Propose(next)
		}
	})
}

// Propose asks the controller to make members the SyncStateSet (the
// broker's replication calls it when a slave catches up or goes away).
// Proposals coalesce; the newest wins.
func (m *Manager) Propose(members []int64) {
	m.pmu.Lock()
	m.proposal = normalize(members)
	m.pmu.Unlock()
	select {
	case m.propose <- struct{}{}:
	default:
	}
}

func (m *Manager) reportLoop(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-m.propose:
		}
		m.pmu.Lock()
		want := m.proposal
		m.pmu.Unlock()
		m.report(ctx, want)
	}
}

func (m *Manager) report(ctx context.Context, want []int64) {
	m.mu.Lock()
	master, id, epoch, cur := m.master, m.brokerID, m.masterEpoch, m.sss
	m.mu.Unlock()
	if !master || slices.Equal(want, cur.Members) || !slices.Contains(want, id) {
		return
	}
	rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	got, err := m.ctl.AlterSyncStateSet(rctx, m.cfg.BrokerName, id, epoch, wire.SyncStateSet{Members: want, Epoch: cur.Epoch})
	if err != nil {
		m.log.Warn("controller mode: changing the SyncStateSet failed", "from", cur.Members, "to", want, "err", err)
		if controller.IsCode(err, remoting.ControllerFencedMasterEpoch) || controller.IsCode(err, remoting.ControllerFencedSyncStateSetEpoch) ||
			controller.IsCode(err, remoting.ControllerInvalidMaster) {
			m.SyncNow()
		}
		return
	}
	m.mu.Lock()
	if m.master && m.masterEpoch == epoch && got.Epoch > m.sss.Epoch {
		m.sss = got
		m.node.SetSyncStateSet(got)
		m.log.Info("controller mode: SyncStateSet changed", "members", got.Members, "epoch", got.Epoch)
	}
	m.mu.Unlock()
}

func normalize(ids []int64) []int64 {
	out := slices.Clone(ids)
	slices.Sort(out)
	return slices.Compact(out)
}
