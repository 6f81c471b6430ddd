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
	everyOrWhen(ctx, b.cfg.RegisterNameServerPeriod, b.registerNow, func() { b.registerOnce(ctx) })
}
