// Package controller is rocketgo's RocketMQ 5.x controller: the small
// replicated service that, in controller mode, decides which broker of a
// broker set is master.
//
// Per broker set (one brokerName) it keeps the members with the ids it
// assigned them, the master and its epoch, and the SyncStateSet — the
// replicas known to hold everything the master acknowledged — with its
// epoch. That state is replicated with Raft (hashicorp/raft, raft.go) over
// one, three or more nodes; brokers send heartbeats to every node, and the
// leader elects a new master from the SyncStateSet when the master's
// heartbeats stop or its connection closes, then tells the brokers
// (NOTIFY_BROKER_ROLE_CHANGED). The request codes, headers and bodies are
// upstream's (wire.go), so the wire stays familiar to RocketMQ tooling.
//
// A Controller is built with New, started with Start and stopped with
// Shutdown. It runs standalone (rocketgo controller) or inside a name
// server (enableControllerInNamesrv).
package controller

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/raft"

	"github.com/rocketgo/rocketgo/remoting"
	"github.com/rocketgo/rocketgo/remoting/netclient"
	"github.com/rocketgo/rocketgo/remoting/wire"
	"github.com/rocketgo/rocketgo/server/transport"
)

// Option customises a Controller.
type Option func(*options)

type options struct {
	logger *slog.Logger
	clock  func() time.Time
	listen string
	dialer func(ctx context.Context, network, addr string) (net.Conn, error)
}

// WithDialer replaces the dialer of the connections the controller opens
// to brokers (role-change notices), for fault-injection tests.
func WithDialer(d func(ctx context.Context, network, addr string) (net.Conn, error)) Option {
	return func(o *options) { o.dialer = d }
}

// WithLogger sets the logger (default: discard).
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.logger = l } }

// WithClock replaces time.Now for heartbeat ageing, for tests.
func WithClock(now func() time.Time) Option { return func(o *options) { o.clock = now } }

// WithListenAddr binds the remoting server somewhere other than this
// node's peer address (all interfaces, say); peers and brokers still use
// the address in the peer list.
func WithListenAddr(addr string) Option { return func(o *options) { o.listen = addr } }

// Controller is one controller node.
type Controller struct {
	// cfgMu guards cfg's runtime keys (runtimeKeys), which
	// UPDATE_CONTROLLER_CONFIG changes; read them through settings.
	cfgMu sync.RWMutex
	cfg   Config
	o     options
	log   *slog.Logger
	peers []peer
	self  peer

	fsm    *fsm
	node   *raftNode
	server *transport.Server
	rpc    *netclient.Client // role-change notices to brokers
	beats  *heartbeats

	// writeMu serialises "decide on the state, then commit the event" on
	// the leader, as upstream's single event-scheduler thread does; the
	// FSM re-checks each event anyway (state.go).
	writeMu sync.Mutex

	elections chan string // broker sets whose master should be re-elected
	started   time.Time
	// ready is set once this node leads and its state machine has applied
	// everything its predecessors committed (a raft barrier), so that it
	// never answers from a state older than what it acknowledged before.
	ready atomic.Bool

	stop     context.CancelFunc
	wg       sync.WaitGroup
	shutdown sync.Once
}

// New checks cfg and prepares a node. Nothing is opened until Start.
func New(cfg Config, opts ...Option) (*Controller, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	o := options{logger: slog.New(slog.NewTextHandler(io.Discard, nil)), clock: time.Now}
	for _, opt := range opts {
		opt(&o)
	}
	peers, self, _ := cfg.peers()
	return &Controller{
		cfg:       cfg,
		o:         o,
		log:       o.logger.With("component", "controller", "node", self.id),
		peers:     peers,
		self:      self,
		fsm:       &fsm{st: newState()},
		beats:     newHeartbeats(o.clock, cfg.BrokerHeartbeatTimeout),
		elections: make(chan string, 64),
	}, nil
}

// Start opens the raft member and begins serving requests.
func (c *Controller) Start(ctx context.Context) (err error) {
	c.started = c.o.clock()
	if c.node, err = startRaft(&c.cfg, c.peers, c.self, c.fsm, c.log); err != nil {
		return err
	}
	listen := c.o.listen
	if listen == "" {
		listen = c.self.addr
	}
	c.server = transport.NewServer(listen, transport.WithLogger(c.log), transport.WithOnClose(c.connClosed))
	c.register()
	if err := c.server.Start(ctx); err != nil {
		c.node.close()
		return fmt.Errorf("controller: listen on %s: %w", listen, err)
	}
	ropts := []netclient.Option{netclient.WithLogger(c.log)}
	if c.o.dialer != nil {
		ropts = append(ropts, netclient.WithDialer(c.o.dialer))
	}
	c.rpc = netclient.New(ropts...)
	loopCtx, cancel := context.WithCancel(context.Background())
	c.stop = cancel
	c.goLoop(loopCtx, c.leadershipLoop)
	c.goLoop(loopCtx, c.expiryLoop)
	c.goLoop(loopCtx, c.masterScanLoop)
	c.goLoop(loopCtx, c.electLoop)
	c.log.Info("controller started", "addr", c.Addr(), "raft", c.self.raftAddr, "peers", len(c.peers))
	return nil
}

// Addr is the bound remoting address.
func (c *Controller) Addr() string {
	if c.server == nil || c.server.Addr() == nil {
		return c.self.addr
	}
	return c.server.Addr().String()
}

// IsLeader reports whether this node leads the controller cluster now and
// serves requests as the leader.
func (c *Controller) IsLeader() bool { return c.node != nil && c.ready.Load() && c.node.isLeader() }

// leadershipLoop follows raft leadership: on gaining it, a barrier makes
// sure every entry committed before is applied before the node answers as
// leader.
func (c *Controller) leadershipLoop(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case leader := <-c.node.r.LeaderCh():
			c.ready.Store(false)
			for leader && ctx.Err() == nil && c.node.isLeader() {
				if err := c.node.r.Barrier(5 * time.Second).Error(); err == nil {
					c.ready.Store(true)
					c.log.Info("controller leadership acquired")
					break
				}
			}
		}
	}
}

// Shutdown stops serving, stops raft and waits for every goroutine up to
// ctx.
func (c *Controller) Shutdown(ctx context.Context) error {
	var errs []error
	c.shutdown.Do(func() {
		if c.stop == nil {
			return
		}
		c.stop()
		if err := c.server.Shutdown(ctx); err != nil {
			errs = append(errs, err)
		}
		done := make(chan struct{})
		go func() { c.wg.Wait(); close(done) }()
		select {
		case <-done:
		case <-ctx.Done():
			errs = append(errs, fmt.Errorf("controller: waiting for loops: %w", ctx.Err()))
		}
		c.rpc.Close()
		if err := c.node.close(); err != nil {
			errs = append(errs, err)
		}
		c.log.Info("controller stopped")
	})
	return errors.Join(errs...)
}

func (c *Controller) goLoop(ctx context.Context, f func(context.Context)) {
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		f(ctx)
	}()
}

func every(ctx context.Context, d time.Duration, f func()) {
	t := time.NewTicker(d)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			f()
		}
	}
}

// register binds the request processors. Every one may wait for a raft
// commit, so all run on the worker pool, never on the event loop.
func (c *Controller) register() {
	c.server.Handle(remoting.BrokerHeartbeat, c.processHeartbeat)
	c.server.Handle(remoting.ControllerGetMetadataInfo, c.processMetadata)
	c.server.Handle(remoting.ControllerGetNextBrokerID, c.leaderOnly(c.processNextBrokerID))
	c.server.Handle(remoting.ControllerApplyBrokerID, c.leaderOnly(c.processApplyBrokerID))
	c.server.Handle(remoting.ControllerRegisterBroker, c.leaderOnly(c.processRegisterBroker))
	c.server.Handle(remoting.ControllerGetReplicaInfo, c.leaderOnly(c.processGetReplicaInfo))
	c.server.Handle(remoting.ControllerElectMaster, c.leaderOnly(c.processElectMaster))
	c.server.Handle(remoting.ControllerAlterSyncStateSet, c.leaderOnly(c.processAlterSyncStateSet))
	c.server.Handle(remoting.ControllerGetSyncStateData, c.leaderOnly(c.processGetSyncStateData))
	c.server.Handle(remoting.CleanBrokerData, c.leaderOnly(c.processCleanBrokerData))
	c.server.Handle(remoting.GetControllerConfig, c.processGetConfig)
	c.server.Handle(remoting.UpdateControllerConfig, c.processUpdateConfig)
}

// reply answers req with code and remark.
func reply(rc *transport.RequestContext, req *remoting.Command, code int16, remark string) {
	rc.Reply(remoting.NewResponse(req, code, remark))
}

// answer sends a response with a header and a body.
func answer(rc *transport.RequestContext, req *remoting.Command, code int16, remark string, h remoting.Header, body []byte) {
	resp := remoting.NewResponse(req, code, remark)
	resp.SetHeader(h)
	resp.Body = body
	rc.Reply(resp)
}

// decode reads a request header, answering INVALID_REQUEST when it is bad.
func decode(rc *transport.RequestContext, req *remoting.Command, h remoting.HeaderDecoder) bool {
	if err := req.DecodeHeader(h); err != nil {
		reply(rc, req, remoting.ControllerInvalidRequest, err.Error())
		return false
	}
	return true
}

// leaderOnly refuses requests on a follower, as upstream: brokers find the
// leader with CONTROLLER_GET_METADATA_INFO and retry there.
func (c *Controller) leaderOnly(p transport.Processor) transport.Processor {
	return func(rc *transport.RequestContext, req *remoting.Command) {
		if !c.IsLeader() {
			reply(rc, req, remoting.ControllerNotLeader, "the controller "+c.self.id+" is not the leader; ask "+c.leaderAddr())
			return
		}
		p(rc, req)
	}
}

// leaderAddr is the leader's remoting address, "" when none is known.
func (c *Controller) leaderAddr() string {
	id := c.node.leader()
	for _, p := range c.peers {
		if p.id == id {
			return p.addr
		}
	}
	return ""
}

// commit applies one event through raft, mapping raft's refusals onto
// controller response codes.
func (c *Controller) commit(e event) (int16, string) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := c.node.apply(ctx, e)
	switch {
	case err == nil:
		return remoting.Success, ""
	case errors.Is(err, raft.ErrNotLeader), errors.Is(err, raft.ErrLeadershipLost), errors.Is(err, raft.ErrLeadershipTransferInProgress):
		return remoting.ControllerNotLeader, err.Error()
	case errors.Is(err, errStale):
		return remoting.ControllerInvalidRequest, err.Error()
	}
	return remoting.ControllerJraftInternalError, err.Error()
}

// BROKER_HEARTBEAT: served by every node, leader or not.
func (c *Controller) processHeartbeat(rc *transport.RequestContext, req *remoting.Command) {
	var h BrokerHeartbeatHeader
	if !decode(rc, req, &h) {
		return
	}
	if h.BrokerID < FirstBrokerID {
		reply(rc, req, remoting.ControllerInvalidRequest, "heartbeat without a controller broker id")
		return
	}
	c.beats.beat(h, rc.Conn())
	reply(rc, req, remoting.Success, "Heart beat success")
}

// CONTROLLER_GET_METADATA_INFO: who leads, served by every node.
func (c *Controller) processMetadata(rc *transport.RequestContext, req *remoting.Command) {
	var peers []string
	for _, p := range c.peers {
		peers = append(peers, p.id+":"+p.addr)
	}
	h := &MetadataHeader{Group: c.cfg.Group, IsLeader: c.IsLeader(), Peers: strings.Join(peers, ";")}
	if id := c.node.leader(); id != "" {
		h.LeaderID, h.LeaderAddress = id, c.leaderAddr()
	}
	answer(rc, req, remoting.Success, "", h, nil)
}

// CONTROLLER_GET_NEXT_BROKER_ID.
func (c *Controller) processNextBrokerID(rc *transport.RequestContext, req *remoting.Command) {
	var h GetNextBrokerIDHeader
	if !decode(rc, req, &h) {
		return
	}
	h.NextBrokerID = FirstBrokerID
	if set := c.fsm.set(h.BrokerName); set != nil {
		h.NextBrokerID = set.NextID
	}
	answer(rc, req, remoting.Success, "", &h, nil)
}

// CONTROLLER_APPLY_BROKER_ID: claim an id with a check code; the same
// code may claim it again (a broker that crashed before saving it).
func (c *Controller) processApplyBrokerID(rc *transport.RequestContext, req *remoting.Command) {
	var h ApplyBrokerIDHeader
	if !decode(rc, req, &h) {
		return
	}
	addr, _, _ := strings.Cut(h.RegisterCheckCode, ";")
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	set := c.fsm.set(h.BrokerName)
	resp := &GetNextBrokerIDHeader{ClusterName: h.ClusterName, BrokerName: h.BrokerName}
	switch {
	case set == nil && h.AppliedBrokerID != FirstBrokerID:
		reply(rc, req, remoting.ControllerBrokerIDInvalid, fmt.Sprintf("broker set %s is not registered; its first id is %d, not %d", h.BrokerName, FirstBrokerID, h.AppliedBrokerID))
		return
	case set != nil:
		if r, ok := set.Replicas[h.AppliedBrokerID]; ok && r.CheckCode != h.RegisterCheckCode {
			reply(rc, req, remoting.ControllerBrokerIDInvalid, fmt.Sprintf("broker id %d of %s is taken", h.AppliedBrokerID, h.BrokerName))
			return
		} else if ok {
			answer(rc, req, remoting.Success, "", resp, nil)
			return
		}
	}
	code, remark := c.commit(event{Kind: evApplyBrokerID, Cluster: h.ClusterName, Broker: h.BrokerName, ID: h.AppliedBrokerID, Addr: addr, CheckCode: h.RegisterCheckCode})
	if code == remoting.ControllerInvalidRequest {
		code = remoting.ControllerBrokerIDInvalid
	}
	if code == remoting.Success {
		c.log.Info("broker id assigned", "broker", h.BrokerName, "id", h.AppliedBrokerID, "addr", addr)
	}
	answer(rc, req, code, remark, resp, nil)
}

// masterOf describes set's master for a response header.
func (c *Controller) masterOf(set *brokerSet, requireAlive bool) MasterHeader {
	h := MasterHeader{ClusterName: set.Cluster, BrokerName: set.Name, MasterEpoch: set.MasterEpoch, SyncStateSetEpoch: set.SSSEpoch}
	if set.Master != NoMaster && (!requireAlive || c.beats.isAlive(set.Cluster, set.Name, set.Master)) {
		h.MasterBrokerID, h.MasterAddress = set.Master, set.addr(set.Master)
	}
	return h
}

func sssBody(set *brokerSet) []byte {
	return mustJSON(wire.SyncStateSet{Members: set.SyncState, Epoch: set.SSSEpoch})
}

// CONTROLLER_REGISTER_BROKER: a broker with an id reports its address and
// learns the master, when one is alive.
func (c *Controller) processRegisterBroker(rc *transport.RequestContext, req *remoting.Command) {
	var h RegisterBrokerHeader
	if !decode(rc, req, &h) {
		return
	}
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	set := c.fsm.set(h.BrokerName)
	if set == nil {
		reply(rc, req, remoting.ControllerBrokerNeedToBeRegistered, "broker set "+h.BrokerName+" is not registered")
		return
	}
	r, ok := set.Replicas[h.BrokerID]
	if !ok {
		reply(rc, req, remoting.ControllerBrokerNeedToBeRegistered, fmt.Sprintf("broker id %d is not registered in %s", h.BrokerID, h.BrokerName))
		return
	}
	if r.Addr != h.BrokerAddress {
		if code, remark := c.commit(event{Kind: evUpdateAddress, Broker: h.BrokerName, ID: h.BrokerID, Addr: h.BrokerAddress}); code != remoting.Success {
			reply(rc, req, code, remark)
			return
		}
		c.log.Info("broker address changed", "broker", h.BrokerName, "id", h.BrokerID, "from", r.Addr, "to", h.BrokerAddress)
		set = c.fsm.set(h.BrokerName)
	}
	mh := c.masterOf(set, true)
	answer(rc, req, remoting.Success, "", &mh, sssBody(set))
}

// CONTROLLER_GET_REPLICA_INFO.
func (c *Controller) processGetReplicaInfo(rc *transport.RequestContext, req *remoting.Command) {
	var h BrokerNameHeader
	if !decode(rc, req, &h) {
		return
	}
	set := c.fsm.set(h.BrokerName)
	if set == nil {
		reply(rc, req, remoting.ControllerBrokerMetadataNotExist, "broker metadata of "+h.BrokerName+" does not exist")
		return
	}
	mh := c.masterOf(set, false)
	mh.ClusterName, mh.BrokerName = "", ""
	answer(rc, req, remoting.Success, "", &mh, sssBody(set))
}

// electResult is the outcome of one election.
type electResult struct {
	code   int16
	remark string
	header MasterHeader
	body   wire.ElectMasterBody
	set    *brokerSet // after the election; nil when the set is unknown
}

// electMaster decides and commits one election, as upstream's
// ReplicasInfoManager.electMaster: the first election of a set takes the
// asking broker; later ones follow the policy (elect.go). A controller
// triggered election (BrokerID < 1) that finds nobody still records that
// the old master is gone, so brokers stop following it.
func (c *Controller) electMaster(h ElectMasterHeader) electResult {
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	set := c.fsm.set(h.BrokerName)
	if set == nil {
		return electResult{code: remoting.ControllerBrokerNeedToBeRegistered, remark: "broker set " + h.BrokerName + " is not registered"}
	}
	newMaster := NoMaster
	if set.firstElection() && h.BrokerID >= FirstBrokerID {
		newMaster = h.BrokerID
	}
	if newMaster == NoMaster {
		in := electInput{
			syncState: set.SyncState,
			oldMaster: set.Master,
			alive:     func(id int64) (liveBroker, bool) { return c.beats.alive(set.Cluster, set.Name, id) },
		}
		if h.DesignateElect {
			in.prefer = h.BrokerID
		}
		if c.settings().EnableElectUncleanMaster {
			in.all = set.ids()
		}
		newMaster = elect(in)
	}
	if newMaster != NoMaster && newMaster == set.Master {
		return electResult{
			code:   remoting.ControllerMasterStillExist,
			remark: fmt.Sprintf("the master %d of %s is still alive", set.Master, set.Name),
			header: c.masterOf(set, false),
			body:   wire.ElectMasterBody{SyncStateSet: set.SyncState},
			set:    set,
		}
	}
	if newMaster == NoMaster {
		if h.BrokerID >= FirstBrokerID {
			return electResult{code: remoting.ControllerElectMasterFailed, remark: "no replica of " + set.Name + " qualifies as master", set: set}
		}
		if set.Master == NoMaster {
			return electResult{code: remoting.ControllerMasterNotAvailable, remark: "no master and no replica qualifies", set: set}
		}
		code, remark := c.commit(event{Kind: evElectMaster, Broker: set.Name, Master: NoMaster, MasterEpoch: set.MasterEpoch})
		if code == remoting.Success {
			c.log.Warn("master is gone and no replica qualifies", "broker", set.Name, "oldMaster", set.Master)
			code, remark = remoting.ControllerMasterNotAvailable, "the old master is gone and no replica qualifies"
		}
		return electResult{code: code, remark: remark, set: c.fsm.set(set.Name)}
	}
	code, remark := c.commit(event{Kind: evElectMaster, Broker: set.Name, Master: newMaster, MasterEpoch: set.MasterEpoch})
	if code != remoting.Success {
		return electResult{code: code, remark: remark, set: set}
	}
	after := c.fsm.set(set.Name)
	c.log.Info("master elected", "broker", set.Name, "master", newMaster, "addr", after.addr(newMaster),
		"masterEpoch", after.MasterEpoch, "oldMaster", set.Master)
	return electResult{
		code:   remoting.Success,
		header: c.masterOf(after, false),
		body:   wire.ElectMasterBody{BrokerMemberGroup: after.memberGroup(), SyncStateSet: after.SyncState},
		set:    after,
	}
}

// CONTROLLER_ELECT_MASTER: from a broker (first election, or no master
// known) or an admin tool.
func (c *Controller) processElectMaster(rc *transport.RequestContext, req *remoting.Command) {
	var h ElectMasterHeader
	if !decode(rc, req, &h) {
		return
	}
	res := c.electMaster(h)
	if res.code == remoting.Success {
		c.notifyRoleChanged(res.set)
	}
	if res.set == nil {
		reply(rc, req, res.code, res.remark)
		return
	}
	hdr := res.header
	hdr.ClusterName, hdr.BrokerName = "", ""
	answer(rc, req, res.code, res.remark, &hdr, mustJSON(res.body))
}

// CONTROLLER_ALTER_SYNC_STATE_SET: the master shrinks or expands its set.
func (c *Controller) processAlterSyncStateSet(rc *transport.RequestContext, req *remoting.Command) {
	var h AlterSyncStateSetHeader
	if !decode(rc, req, &h) {
		return
	}
	proposed, err := wire.DecodeSyncStateSet(req.Body)
	if err != nil {
		reply(rc, req, remoting.ControllerInvalidRequest, err.Error())
		return
	}
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	set := c.fsm.set(h.BrokerName)
	fail := func(code int16, format string, args ...any) {
		reply(rc, req, code, fmt.Sprintf(format, args...))
	}
	switch {
	case set == nil:
		fail(remoting.ControllerAlterSyncStateSetFailed, "broker set %s does not exist", h.BrokerName)
		return
	case slices.Equal(set.SyncState, proposed.Members):
		fail(remoting.ControllerAlterSyncStateSetFailed, "the proposed SyncStateSet equals the current one")
		return
	case set.Master == NoMaster || set.Master != h.MasterBrokerID:
		fail(remoting.ControllerInvalidMaster, "the master of %s is %d, not %d", set.Name, set.Master, h.MasterBrokerID)
		return
	case h.MasterEpoch != set.MasterEpoch:
		fail(remoting.ControllerFencedMasterEpoch, "the master epoch is %d, not %d", set.MasterEpoch, h.MasterEpoch)
		return
	case proposed.Epoch != set.SSSEpoch:
		fail(remoting.ControllerFencedSyncStateSetEpoch, "the SyncStateSet epoch is %d, not %d", set.SSSEpoch, proposed.Epoch)
		return
	case !proposed.Contains(set.Master):
		fail(remoting.ControllerAlterSyncStateSetFailed, "the proposed SyncStateSet lacks the master %d", set.Master)
		return
	}
	for _, id := range proposed.Members {
		if _, ok := set.Replicas[id]; !ok {
			fail(remoting.ControllerInvalidReplicas, "replica %d of %s does not exist", id, set.Name)
			return
		}
		if !c.beats.isAlive(set.Cluster, set.Name, id) {
			fail(remoting.ControllerBrokerNotAlive, "replica %d of %s is not alive", id, set.Name)
			return
		}
	}
	code, remark := c.commit(event{Kind: evAlterSSS, Broker: set.Name, Master: set.Master, MasterEpoch: set.MasterEpoch, SSSEpoch: set.SSSEpoch, Members: proposed.Members})
	if code != remoting.Success {
		fail(code, "%s", remark)
		return
	}
	after := c.fsm.set(set.Name)
	c.log.Info("SyncStateSet changed", "broker", set.Name, "from", set.SyncState, "to", after.SyncState, "epoch", after.SSSEpoch)
	resp := remoting.NewResponse(req, remoting.Success, "")
	resp.Ext.SetInt("newSyncStateSetEpoch", int64(after.SSSEpoch))
	resp.Body = sssBody(after)
	rc.Reply(resp)
}

// CONTROLLER_GET_SYNC_STATE_DATA: admin view of several sets.
func (c *Controller) processGetSyncStateData(rc *transport.RequestContext, req *remoting.Command) {
	var names []string
	if err := decodeBody(req.Body, &names); err != nil {
		reply(rc, req, remoting.ControllerInvalidRequest, err.Error())
		return
	}
	info := wire.BrokerReplicasInfo{ReplicasInfoTable: map[string]wire.ReplicasInfo{}}
	for _, name := range names {
		set := c.fsm.set(name)
		if set == nil {
			continue
		}
		ri := wire.ReplicasInfo{MasterBrokerID: set.Master, MasterAddress: set.addr(set.Master), MasterEpoch: set.MasterEpoch, SyncStateSetEpoch: set.SSSEpoch,
			InSyncReplicas: []wire.ReplicaIdentity{}, NotInSyncReplicas: []wire.ReplicaIdentity{}}
		for _, id := range set.ids() {
			r := wire.ReplicaIdentity{BrokerName: name, BrokerID: id, BrokerAddress: set.addr(id), Alive: c.beats.isAlive(set.Cluster, name, id)}
			if slices.Contains(set.SyncState, id) {
				ri.InSyncReplicas = append(ri.InSyncReplicas, r)
			} else {
				ri.NotInSyncReplicas = append(ri.NotInSyncReplicas, r)
			}
		}
		info.ReplicasInfoTable[name] = ri
	}
	resp := remoting.NewResponse(req, remoting.Success, "")
	resp.Body = mustJSON(info)
	rc.Reply(resp)
}

// CLEAN_BROKER_DATA: forget a dead broker set, or some of its ids.
func (c *Controller) processCleanBrokerData(rc *transport.RequestContext, req *remoting.Command) {
	var h CleanBrokerDataHeader
	if !decode(rc, req, &h) {
		return
	}
	var ids []int64
	for _, s := range strings.Split(h.BrokerIDsToClean, ";") {
		if s = strings.TrimSpace(s); s == "" {
			continue
		}
		id, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			reply(rc, req, remoting.ControllerInvalidCleanBrokerMetadata, "brokerControllerIdsToClean must be ids separated by ';'")
			return
		}
		ids = append(ids, id)
	}
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	set := c.fsm.set(h.BrokerName)
	if set == nil {
		reply(rc, req, remoting.ControllerInvalidCleanBrokerMetadata, "broker set "+h.BrokerName+" does not exist")
		return
	}
	if !h.CleanLivingBroker {
		if len(ids) == 0 && set.Master != NoMaster {
			reply(rc, req, remoting.ControllerInvalidCleanBrokerMetadata, "broker set "+h.BrokerName+" still has a master")
			return
		}
		for _, id := range ids {
			if c.beats.isAlive(set.Cluster, set.Name, id) {
				reply(rc, req, remoting.ControllerInvalidCleanBrokerMetadata, fmt.Sprintf("broker %d of %s is alive", id, set.Name))
				return
			}
		}
	}
	code, remark := c.commit(event{Kind: evCleanBroker, Broker: set.Name, Members: ids})
	reply(rc, req, code, remark)
}

// settings is a copy of the configuration with its runtime keys current.
func (c *Controller) settings() Config {
	c.cfgMu.RLock()
	defer c.cfgMu.RUnlock()
	return c.cfg
}

// GET_CONTROLLER_CONFIG: the configuration as properties text.
func (c *Controller) processGetConfig(rc *transport.RequestContext, req *remoting.Command) {
	cfg := c.settings()
	resp := remoting.NewResponse(req, remoting.Success, "")
	resp.Body = []byte(cfg.properties())
	rc.Reply(resp)
}

// UPDATE_CONTROLLER_CONFIG: properties text in the body. As upstream, it
// changes this node only (send it to every node); keys outside
// runtimeKeys are refused with NO_PERMISSION, unknown keys and bad values
// with INVALID_PARAMETER, and nothing is applied unless everything is.
func (c *Controller) processUpdateConfig(rc *transport.RequestContext, req *remoting.Command) {
	c.cfgMu.Lock()
	next, keys, err := c.cfg.applyUpdate(req.Body)
	if err == nil {
		// Only the runtime keys: other fields are read without cfgMu.
		c.cfg.EnableElectUncleanMaster = next.EnableElectUncleanMaster
		c.cfg.NotifyBrokerRoleChanged = next.NotifyBrokerRoleChanged
		c.cfg.ElectMasterMaxRetryCount = next.ElectMasterMaxRetryCount
	}
	c.cfgMu.Unlock()
	switch {
	case errors.Is(err, ErrNotRuntime):
		reply(rc, req, remoting.NoPermission, err.Error())
	case err != nil:
		reply(rc, req, remoting.InvalidParameter, err.Error())
	default:
		c.log.Info("configuration updated", "keys", keys)
		reply(rc, req, remoting.Success, "")
	}
}

// connClosed runs on the network event loop: it only updates the table
// and queues elections.
func (c *Controller) connClosed(conn *transport.Conn, _ error) {
	for _, k := range c.beats.closed(conn) {
		c.brokerInactive(k, "connection closed")
	}
}

// expiryLoop drops brokers whose heartbeats stopped.
func (c *Controller) expiryLoop(ctx context.Context) {
	every(ctx, c.cfg.ScanNotActiveBrokerInterval, func() {
		for _, k := range c.beats.expire() {
			c.brokerInactive(k, "heartbeat timed out")
		}
	})
}

// brokerInactive queues a re-election when the broker that went away is
// its set's master and this node leads.
func (c *Controller) brokerInactive(k brokerKey, why string) {
	if !c.IsLeader() {
		c.log.Debug("broker inactive", "broker", k.name, "id", k.id, "why", why)
		return
	}
	set := c.fsm.set(k.name)
	if set == nil || set.Master != k.id {
		c.log.Info("replica inactive", "broker", k.name, "id", k.id, "why", why)
		return
	}
	c.log.Warn("master inactive; electing a new one", "broker", k.name, "id", k.id, "why", why)
	c.queueElection(k.name)
}

func (c *Controller) queueElection(name string) {
	select {
	case c.elections <- name:
	default: // full: the master scan will find this set again
	}
}

// masterScanLoop re-elects, on the leader, for every set whose master is
// not alive while another member is (upstream's
// scanInactiveMasterAndTriggerReelect). It waits one heartbeat timeout
// after this node started before trusting its own table: a node that just
// started has not heard from every broker yet.
func (c *Controller) masterScanLoop(ctx context.Context) {
	every(ctx, c.cfg.ScanInactiveMasterInterval, func() {
		if !c.IsLeader() || c.o.clock().Sub(c.started) < c.cfg.BrokerHeartbeatTimeout {
			return
		}
		var need []string
		c.fsm.read(func(s *state) {
			for name, set := range s.Sets {
				if set.Master == NoMaster || c.beats.isAlive(set.Cluster, name, set.Master) {
					continue
				}
				for id := range set.Replicas {
					if c.beats.isAlive(set.Cluster, name, id) {
						need = append(need, name)
						break
					}
				}
			}
		})
		for _, name := range need {
			c.log.Warn("master not alive; electing a new one", "broker", name)
			c.queueElection(name)
		}
	})
}

// electLoop runs queued elections one at a time, retrying up to
// electMasterMaxRetryCount, and notifies the brokers of the result.
func (c *Controller) electLoop(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case name := <-c.elections:
			for try := 0; try < c.settings().ElectMasterMaxRetryCount && ctx.Err() == nil && c.IsLeader(); try++ {
				res := c.electMaster(ElectMasterHeader{BrokerName: name, BrokerID: -1})
				if res.code == remoting.Success {
					c.notifyRoleChanged(res.set)
				}
				if res.code != remoting.ControllerNotLeader && res.code != remoting.ControllerJraftInternalError && res.code != remoting.ControllerInvalidRequest {
					break
				}
			}
		}
	}
}

// notifyRoleChanged tells every alive member of set about its master
// (NOTIFY_BROKER_ROLE_CHANGED, oneway), so the new master takes writes at
// once instead of at its next metadata poll.
func (c *Controller) notifyRoleChanged(set *brokerSet) {
	if !c.settings().NotifyBrokerRoleChanged || set == nil || set.Master == NoMaster {
		return
	}
	h := MasterHeader{MasterBrokerID: set.Master, MasterAddress: set.addr(set.Master), MasterEpoch: set.MasterEpoch, SyncStateSetEpoch: set.SSSEpoch}
	body := sssBody(set)
	for _, id := range set.ids() {
		if !c.beats.isAlive(set.Cluster, set.Name, id) {
			continue
		}
		addr := set.addr(id)
		c.wg.Add(1)
		go func() {
			defer c.wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
			defer cancel()
			cmd := remoting.NewRequest(remoting.NotifyBrokerRoleChanged, &h, body)
			if err := c.rpc.InvokeOneway(ctx, addr, cmd); err != nil {
				c.log.Warn("notifying a broker of its role failed", "broker", set.Name, "id", id, "addr", addr, "err", err)
			}
		}()
	}
}
