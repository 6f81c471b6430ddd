package broker

import (
	"context"

	"github.com/rocketgo/rocketgo/remoting/wire"

	"github.com/rocketgo/rocketgo/internal/nsclient"
)

// registerOnce sends the topic table to every name server. Failures are
// logged, not fatal: the next period retries, and clients keep using the
// routes they cached.
func (b *Broker) registerOnce(ctx context.Context) {
	if b.names == nil {
		return
	}
	// Taken before the snapshot: every change these callers wait for is in
	// the table this round sends.
	defer runAll(b.takeAfterRegister())
	role := b.currentRole()
	if role.fenced {
		return // controller mode: no role to announce yet
	}
	topics, version := b.topics.Snapshot()
	mask := int(b.live.brokerPermission.Load()) | PermInherit | PermPriority
	if b.ctl != nil {
		// Name servers refuse a registration for the same broker id whose
		// state version is older than the one they hold: a demoted master
		// that keeps registering cannot displace its successor.
		version.StateVersion = int64(role.epoch)
	}
	req := nsclient.RegisterBrokerRequest{
		ClusterName:  b.cfg.BrokerClusterName,
		BrokerName:   b.cfg.BrokerName,
		BrokerAddr:   b.addr,
		HAServerAddr: b.haAdvertisedAddr(),
		BrokerID:     role.id,
		DataVersion:  version,
		Topics:       make([]wire.TopicConfig, 0, len(topics)),
	}
	for _, t := range topics {
		req.Topics = append(req.Topics, wire.TopicConfig{
			TopicName: t.TopicName, ReadQueueNums: t.ReadQueueNums, WriteQueueNums: t.WriteQueueNums,
			Perm: t.Perm & int32(mask), TopicFilterType: t.TopicFilterType,
			TopicSysFlag: t.TopicSysFlag, Order: t.Order, Attributes: t.Attributes,
		})
	}
	results, err := b.names.RegisterBroker(ctx, req)
	if err != nil {
		b.log.Error("building the broker registration failed", "err", err)
		return
	}
	for _, r := range results {
		if r.Err != nil {
			b.log.Warn("registering with name server failed", "namesrv", r.NameServer, "err", r.Err)
		}
	}
	if role.name == RoleSlave {
		b.learnMaster(results)
	}
}

// learnMaster takes the master's addresses from the first name server that
// knows them: its remoting address for the metadata sync and, unless
// haMasterAddress is configured, its HA address. A name server that lost
// the master answers none; the slave then keeps the addresses it has.
func (b *Broker) learnMaster(results []nsclient.RegisterResult) {
	if b.ctl != nil {
		// Controller mode: the controller names the master; a name server
		// only supplies its HA address, and only once it agrees on who the
		// master is.
		want := b.ctl.expectedMaster()
		for _, r := range results {
			if r.Err == nil && r.MasterAddr == want && r.HAServerAddr != "" {
				b.haClient.setMaster(r.HAServerAddr)
				return
			}
		}
		return
	}
	answered := false
	for _, r := range results {
		answered = answered || r.Err == nil
		if r.Err != nil || r.MasterAddr == "" {
			continue
		}
		b.masterOnline.Store(true)
		b.slaveSync.setMaster(r.MasterAddr)
		if b.cfg.HAMasterAddress == "" && r.HAServerAddr != "" {
			b.haClient.setMaster(r.HAServerAddr)
		}
		return
	}
	if answered {
		// Name servers answered and none knows a master: it is gone, and
		// this slave keeps its readers instead of sending them back.
		b.masterOnline.Store(false)
	}
}

// requestRegister asks the register loop to register at once (after a
// topic change) without blocking the caller; requests coalesce.
func (b *Broker) requestRegister() {
	select {
	case b.registerNow <- struct{}{}:
	default:
	}
}

func (b *Broker) registerLoop(ctx context.Context) {
	if b.names == nil {
		return
	}
	// Whoever still waits at shutdown is answered: the change itself is
	// stored, only its announcement is cut short.
	defer func() {
		b.afterRegisterMu.Lock()
		b.afterRegisterClosed = true
		b.afterRegisterMu.Unlock()
		runAll(b.takeAfterRegister())
	}()
	everyOrWhen(ctx, b.cfg.RegisterNameServerPeriod, b.registerNow, func() { b.registerOnce(ctx) })
}

// whenRegistered runs f once a registration that includes every change made
// so far has been sent to the name servers (whatever they answered), as
// upstream answers UPDATE_AND_CREATE_TOPIC only after registering: a client
// that creates a topic and then asks a name server for its route finds it.
// Without name servers, or once the broker is stopping, f runs at once. f
// runs on the register loop and must not block.
func (b *Broker) whenRegistered(f func()) {
	b.afterRegisterMu.Lock()
	if b.names == nil || b.afterRegisterClosed {
		b.afterRegisterMu.Unlock()
		f()
		return
	}
	b.afterRegister = append(b.afterRegister, f)
	b.afterRegisterMu.Unlock()
	b.requestRegister()
}

func (b *Broker) takeAfterRegister() []func() {
	b.afterRegisterMu.Lock()
	defer b.afterRegisterMu.Unlock()
	fs := b.afterRegister
	b.afterRegister = nil
	return fs
}

func runAll(fs []func()) {
	for _, f := range fs {
		f()
	}
}
