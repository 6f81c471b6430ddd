package broker

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"time"

	"github.com/rocketgo/rocketgo/remoting"
	"github.com/rocketgo/rocketgo/remoting/wire"
	"github.com/rocketgo/rocketgo/server/controller"
	"github.com/rocketgo/rocketgo/server/replicas"
	"github.com/rocketgo/rocketgo/server/transport"
)

// Controller mode (enableControllerMode=true) lets a controller
// (server/controller) decide which broker of the set is master; package
// replicas talks to it and drives this broker through replicaNode. A role
// change happens without a restart:
//
//   - To master: stop replicating, drop a partial record received last,
//     record <epoch, log end> in the epoch file, take slaves (HA in its
//     controller-mode protocol, ha_switch.go) and writes, start the
//     delay, timer and transaction services, re-register with the name
//     servers as brokerId 0 with the epoch as the data version's state
//     version (so a name server ignores a demoted master that keeps
//     registering), and tell connected clients.
//   - To slave: refuse writes, stop those services, drop the slaves and
//     answer their pending sends FLUSH_SLAVE_TIMEOUT, follow the new
//     master (whose HA address the name server reports), truncating in
//     the handshake what the new master never had, and re-register with
//     the controller-assigned id.
//
// Until the first role is known the broker is fenced: it refuses writes,
// hides every record from readers and does not register with name servers.

// brokerRole is the broker's replication role. In controller mode it
// changes at run time; readers load it atomically.
type brokerRole struct {
	name   string // RoleAsyncMaster, RoleSyncMaster or RoleSlave
	id     int64  // the brokerId registered with name servers
	fenced bool   // controller mode, before the controller named a role
	epoch  int32  // controller mode: the master epoch of this role
}

func (b *Broker) currentRole() *brokerRole { return b.role.Load() }

// controllerMode is the broker's controller-mode machinery; nil otherwise.
type controllerMode struct {
	epochs  *replicas.EpochFile
	manager *replicas.Manager
	selfID  int64 // controller-assigned id, under Broker.roleMu

	// masterAddr is the remoting address of the master a slave follows,
	// to recognise it in name-server answers.
	mu         sync.Mutex
	masterAddr string

	fenceMoved chan struct{} // buffered 1: the read fence advanced
}

func (cm *controllerMode) expectedMaster() string {
	cm.mu.Lock()
	defer cm.mu.Unlock()
	return cm.masterAddr
}

// openControllerMode prepares the epoch file and the controller-mode
// replication state before the store opens.
func (b *Broker) openControllerMode() error {
	epochs, err := replicas.OpenEpochFile(filepath.Join(b.cfg.StorePathRootDir, "epochFileCheckpoint"))
	if err != nil {
		return err
	}
	b.ctl = &controllerMode{epochs: epochs, fenceMoved: make(chan struct{}, 1)}
	b.epochs = epochs
	b.ha.sw = &haSwitch{
		allAck:  b.cfg.AllAckInSyncStateSet,
		inSync:  b.cfg.InSyncReplicas,
		maxLag:  b.cfg.HAMaxTimeSlaveNotCatchup,
		epochs:  epochs,
		propose: func(members []int64) { b.ctl.manager.Propose(members) },
	}
	b.ha.onConfirm = b.setReadFence
	b.haClient.sw = true
	b.role.Store(&brokerRole{name: RoleSlave, fenced: true})
	return nil
}

// startControllerMode starts the manager once the broker serves requests.
func (b *Broker) startControllerMode(loopCtx context.Context) error {
	b.store.SetReadFence(0) // nothing is known confirmed until a role is
	if err := b.adoptClassicLog(); err != nil {
		return err
	}
	m, err := replicas.New(replicas.Config{
		ClusterName:              b.cfg.BrokerClusterName,
		BrokerName:               b.cfg.BrokerName,
		Addr:                     b.addr,
		ControllerAddr:           b.cfg.ControllerAddr,
		IdentityDir:              filepath.Join(b.cfg.StorePathRootDir, "config"),
		HeartbeatInterval:        b.cfg.BrokerHeartbeatInterval,
		HeartbeatTimeout:         b.cfg.ControllerHeartBeatTimeout,
		SyncBrokerMetadataPeriod: b.cfg.SyncBrokerMetadataPeriod,
		CheckSyncStateSetPeriod:  b.cfg.CheckSyncStateSetPeriod,
		ElectionPriority:         int32(b.cfg.BrokerElectionPriority),
		RetryInterval:            min(time.Second, b.cfg.SyncBrokerMetadataPeriod),
	}, replicaNode{b}, b.rpc, replicas.WithLogger(b.log))
	if err != nil {
		return err
	}
	b.ctl.manager = m
	b.server.Handle(remoting.NotifyBrokerRoleChanged, b.processNotifyRoleChanged)
	b.server.Handle(remoting.GetBrokerEpochCache, b.processGetEpochCache)
	b.ha.serve(loopCtx)
	b.goLoop(loopCtx, b.fenceLoop)
	m.Start()
	return nil
}

// classicEpoch is the epoch recorded for a log written before controller
// mode: the controller's epochs start at 1, so it never names a real term.
const classicEpoch = 0

// adoptClassicLog gives a store written in classic master/slave mode (an
// upgraded broker: log bytes, no epoch file) an epoch entry <0, 0> on its
// first start in controller mode. Without one a slave could not tell which
// of its bytes it shares with its master and would refuse to replicate.
// With it, the brokers of an upgraded pair share epoch 0 from offset 0 (a
// classic slave's log is a prefix of its master's), so they agree up to
// the shorter log and nothing they hold in common is truncated; the first
// controller-mode master then records epoch 1 at its log end as usual.
// The start is 0 even when old files were deleted: entries compare starts
// for identity and ends for agreement, never read at the start.
func (b *Broker) adoptClassicLog() error {
	if len(b.epochs.Entries()) > 0 || b.store.MaxPhysicalOffset() == 0 {
		return nil
	}
	if err := b.epochs.Append(classicEpoch, 0); err != nil {
		return fmt.Errorf("broker: recording the classic log's epoch: %w", err)
	}
	b.log.Info("controller mode: a log from classic mode is recorded as epoch 0", "logEnd", b.store.MaxPhysicalOffset())
	return nil
}

// replicaNode is the broker as package replicas drives it.
type replicaNode struct{ b *Broker }

func (n replicaNode) MaxPhysicalOffset() int64 { return n.b.store.MaxPhysicalOffset() }
func (n replicaNode) LastEpoch() int32         { return n.b.epochs.LastEpoch() }
func (n replicaNode) ConfirmOffset() int64     { return n.b.confirmOffset() }

func (n replicaNode) SetBrokerID(id int64) {
	n.b.roleMu.Lock()
	n.b.ctl.selfID = id
	n.b.roleMu.Unlock()
	n.b.haClient.selfID.Store(id)
}

func (n replicaNode) SetSyncStateSet(sss wire.SyncStateSet) {
	n.b.ha.setSyncStateSet(sss.Members)
}

func (n replicaNode) ShrinkSyncStateSet() []int64 { return n.b.ha.shrink(time.Now()) }

func (n replicaNode) BecomeMaster(ctx context.Context, epoch int32, sss wire.SyncStateSet) error {
	return n.b.becomeMaster(epoch, sss.Members)
}

func (n replicaNode) BecomeSlave(ctx context.Context, masterAddr string, masterID int64, epoch int32) error {
	return n.b.becomeSlave(masterAddr, epoch)
}

// confirmOffset is how far this broker's log is known to be on every
// in-sync replica.
func (b *Broker) confirmOffset() int64 {
	if r := b.currentRole(); r.name != RoleSlave && !r.fenced {
		return b.ha.confirmOffset()
	}
	return b.readFence()
}

// readFence is the store's read fence, or the log end when there is none.
func (b *Broker) readFence() int64 {
	if f, ok := b.store.ReadFence(); ok {
		return f
	}
	return b.store.MaxPhysicalOffset()
}

// setReadFence moves the read fence (-1 removes it) and, when records
// became visible, wakes the long-polling pulls.
func (b *Broker) setReadFence(fence int64) {
	old, had := b.store.ReadFence()
	if had && fence == old {
		return
	}
	b.store.SetReadFence(fence)
	if !had || fence < 0 || fence > old {
		select {
		case b.ctl.fenceMoved <- struct{}{}:
		default:
		}
	}
}

// fenceLoop answers parked pulls that became readable when the fence
// moved; arrivals do not wake pulls while a fence hides them.
func (b *Broker) fenceLoop(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-b.ctl.fenceMoved:
			b.pulls.wakeReadable()
		}
	}
}

// becomeMaster is the promotion described at the top of the file.
func (b *Broker) becomeMaster(epoch int32, sss []int64) error {
	b.roleMu.Lock()
	defer b.roleMu.Unlock()
	cur := b.currentRole()
	wasMaster := !cur.fenced && cur.name != RoleSlave
	if !wasMaster {
		b.stopRoleLoopsLocked()
		b.haClient.setMaster("")
		if end := b.store.LastRecordEnd(); b.store.MaxPhysicalOffset() > end {
			if err := b.store.Truncate(end); err != nil {
				return err
			}
		}
	}
	start := b.store.MaxPhysicalOffset()
	if err := b.epochs.TruncateFromOffset(start + 1); err != nil {
		return err
	}
	if b.epochs.LastEpoch() >= epoch {
		if err := b.epochs.TruncateFromEpoch(epoch); err != nil {
			return err
		}
	}
	if err := b.epochs.Append(epoch, start); err != nil {
		return err
	}
	// Slaves of a previous term reconnect and learn the new epoch in a
	// fresh handshake.
	b.ha.setServing(false)
	b.ha.beginTerm(b.ctl.selfID, sss, start)
	if !wasMaster {
		b.adoptStoreTopics()
	}
	b.role.Store(&brokerRole{name: RoleSyncMaster, id: 0, epoch: epoch})
	if !wasMaster {
		b.startRoleLoopsLocked(true)
	}
	b.log.Info("controller mode: this broker is now master", "epoch", epoch, "logEnd", start, "syncStateSet", sss)
	b.requestRegister()
	b.notifyClientsMaster(b.addr, "")
	return nil
}

// becomeSlave is the demotion (or the first role) described at the top.
func (b *Broker) becomeSlave(masterAddr string, epoch int32) error {
	if masterAddr == "" {
		return fmt.Errorf("broker: the controller named a master without an address")
	}
	b.roleMu.Lock()
	defer b.roleMu.Unlock()
	cur := b.currentRole()
	wasMaster := !cur.fenced && cur.name != RoleSlave
	// Refuse writes before anything else changes.
	b.role.Store(&brokerRole{name: RoleSlave, id: b.ctl.selfID, fenced: cur.fenced, epoch: epoch})
	if wasMaster {
		b.setReadFence(b.ha.confirmOffset())
	}
	b.stopRoleLoopsLocked()
	b.ha.setServing(false)
	b.ctl.mu.Lock()
	b.ctl.masterAddr = masterAddr
	b.ctl.mu.Unlock()
	b.haClient.minEpoch.Store(epoch)
	b.haClient.setMaster("") // learnt from the name servers (learnMasterLoop)
	b.slaveSync.setMaster(masterAddr)
	b.role.Store(&brokerRole{name: RoleSlave, id: b.ctl.selfID, epoch: epoch})
	b.startRoleLoopsLocked(false)
	b.log.Info("controller mode: this broker is now a slave", "master", masterAddr, "epoch", epoch)
	b.requestRegister()
	offline := ""
	if wasMaster {
		offline = b.addr
	}
	b.notifyClientsMaster(masterAddr, offline)
	return nil
}

// learnMasterLoop registers with the name servers every few hundred
// milliseconds until one reports the controller-named master's HA
// address; registerOnce passes it to the HA client.
func (b *Broker) learnMasterLoop(ctx context.Context) {
	t := time.NewTicker(300 * time.Millisecond)
	defer t.Stop()
	for b.haClient.currentMaster() == "" {
		b.registerOnce(ctx)
		if b.haClient.currentMaster() != "" {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// notifyClientsMaster tells every connected producer and consumer that
// masterAddr now masters this broker name (NOTIFY_MIN_BROKER_ID_CHANGE,
// oneway), so they refresh their routes instead of waiting for their
// 30 s poll or a failed send.
func (b *Broker) notifyClientsMaster(masterAddr, offline string) {
	h := &remoting.NotifyMinBrokerIDChangeHeader{MinBrokerID: 0, BrokerName: b.cfg.BrokerName, MinBrokerAddr: masterAddr, OfflineBrokerAddr: offline}
	seen := map[any]struct{}{}
	chans := b.producers.AllChannels()
	for _, g := range b.consumers.Groups() {
		chans = append(chans, b.consumers.Channels(g)...)
	}
	for _, ch := range chans {
		if _, dup := seen[ch]; dup {
			continue
		}
		seen[ch] = struct{}{}
		if c, ok := ch.(*transport.Conn); ok {
			if err := c.InvokeOneway(context.Background(), remoting.NewRequest(remoting.NotifyMinBrokerIDChange, h, nil)); err != nil {
				b.log.Debug("notifying a client of the new master failed", "remote", c.String(), "err", err)
			}
		}
	}
}

// NOTIFY_BROKER_ROLE_CHANGED, from the controller leader.
func (b *Broker) processNotifyRoleChanged(rc *transport.RequestContext, req *remoting.Command) {
	var h controller.MasterHeader
	if err := req.DecodeHeader(&h); err != nil {
		reply(rc, req, remoting.InvalidParameter, err.Error())
		return
	}
	var sss wire.SyncStateSet
	if len(req.Body) > 0 {
		var err error
		if sss, err = wire.DecodeSyncStateSet(req.Body); err != nil {
			reply(rc, req, remoting.InvalidParameter, err.Error())
			return
		}
	}
	b.ctl.manager.OnRoleChanged(h, sss)
	reply(rc, req, remoting.Success, "")
}

// GET_BROKER_EPOCH_CACHE: the epoch file, for admin tools.
func (b *Broker) processGetEpochCache(rc *transport.RequestContext, req *remoting.Command) {
	body := wire.EpochEntryCache{ClusterName: b.cfg.BrokerClusterName, BrokerName: b.cfg.BrokerName,
		BrokerID: b.ctl.manager.Status().BrokerID, MaxOffset: b.store.MaxPhysicalOffset()}
	for _, e := range b.epochs.Entries() {
		end := e.End
		if end > body.MaxOffset {
			end = body.MaxOffset
		}
		body.EpochList = append(body.EpochList, wire.EpochEntry{Epoch: e.Epoch, StartOffset: e.Start, EndOffset: end})
	}
	b.replyJSON(rc, req, body)
}

// ReplicaStatus reports the controller-mode view (zero in classic mode).
func (b *Broker) ReplicaStatus() replicas.Status {
	if b.ctl == nil || b.ctl.manager == nil {
		return replicas.Status{}
	}
	return b.ctl.manager.Status()
}

// IsMaster reports whether the broker takes writes now.
func (b *Broker) IsMaster() bool {
	r := b.currentRole()
	return !r.fenced && r.name != RoleSlave
}

// HAAddr is the address slaves replicate from (the HA listener), as
// registered with name servers.
func (b *Broker) HAAddr() string { return b.haAdvertisedAddr() }

// LogEnd is the end of the broker's commit log (for tools and tests).
func (b *Broker) LogEnd() int64 { return b.store.MaxPhysicalOffset() }

// adoptStoreTopics gives a promoted slave a configuration for every topic
// its replicated log holds but its copied topic table lacks: the table is
// synced every few seconds, so a topic created just before the failover
// would otherwise vanish from the routes. Such a topic gets its highest
// queue id + 1 queues, and at least as many as auto-creation gives.
func (b *Broker) adoptStoreTopics() {
	for topic, qids := range b.store.Topics() {
		if _, ok := b.topics.Get(topic); ok {
			continue
		}
		n := 0
		for _, q := range qids {
			n = max(n, int(q)+1)
		}
		if !IsRetryTopic(topic) && !IsDLQTopic(topic) {
			n = max(n, min(4, b.cfg.DefaultTopicQueueNums))
		}
		if _, created, err := b.topics.CreateIfAbsent(topic, n, PermRead|PermWrite, 0); err != nil {
			b.log.Warn("controller mode: adopting a topic of the log failed", "topic", topic, "err", err)
		} else if created {
			b.log.Info("controller mode: adopted a topic the slave had not synced yet", "topic", topic, "queues", n)
		}
	}
}
