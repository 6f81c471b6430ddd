package broker

import (
	"context"
	"time"

	"github.com/rocketgo/rocketgo/server/transport"

	"github.com/rocketgo/rocketgo/remoting"
)

// startRoleLoops starts what depends on the broker's replication role. A
// master serves its slaves and runs the services that write to the log on
// their own: delay-level and timer delivery and transaction check-backs. A
// slave's log is a byte copy of its master's, which runs those services,
// so the slave only replicates — the log and the metadata tables.
// Retention runs in the store on both.
func (b *Broker) startRoleLoops(ctx context.Context) {
	b.roleMu.Lock()
	defer b.roleMu.Unlock()
	if !b.isSlave() {
		b.ha.serve(ctx)
	}
	b.startRoleLoopsLocked(!b.isSlave())
}

// startRoleLoopsLocked starts the loops of one role under a context of
// their own, so a controller-mode role change can stop them (and wait for
// them) without stopping the broker. roleMu must be held.
func (b *Broker) startRoleLoopsLocked(master bool) {
	ctx, cancel := context.WithCancel(b.loopCtx)
	b.roleStop = cancel
	spawn := func(f func(context.Context)) {
		b.roleWG.Add(1)
		b.goLoop(ctx, func(ctx context.Context) {
			defer b.roleWG.Done()
			f(ctx)
		})
	}
	if !master {
		spawn(b.haClient.run)
		spawn(b.slaveSync.loop)
		if b.ctl != nil {
			spawn(b.learnMasterLoop)
		}
		return
	}
	b.delay.start(ctx, spawn)
	spawn(b.tx.loop)
	spawn(b.timers.loop)
}

// stopRoleLoopsLocked stops the running role's loops and waits for them.
// roleMu must be held.
func (b *Broker) stopRoleLoopsLocked() {
	if b.roleStop == nil {
		return
	}
	b.roleStop()
	b.roleWG.Wait()
	b.roleStop = nil
}

// connClosed forgets every registration the connection made and tells the
// consumer groups that lost a member, so their survivors rebalance at once
// instead of waiting up to 20 s.
func (b *Broker) connClosed(c *transport.Conn, _ error) {
	b.producers.Disconnected(c)
	for _, group := range b.consumers.Disconnected(c) {
		b.notifyConsumerIDsChanged(group)
	}
}

// clientExpiryLoop drops clients that stopped heartbeating without closing
// their connection (a hung process, a half-open TCP connection).
func (b *Broker) clientExpiryLoop(ctx context.Context) {
	interval := min(10*time.Second, b.cfg.ChannelExpiredTimeout/2)
	every(ctx, interval, func() {
		now := b.clock()
		expired, groups := b.consumers.Expire(now, b.cfg.ChannelExpiredTimeout)
		expired = append(expired, b.producers.Expire(now, b.cfg.ChannelExpiredTimeout)...)
		for _, ch := range expired {
			if c, ok := ch.(*transport.Conn); ok {
				b.log.Info("closing silent client connection", "remote", c.String())
				c.Close()
			}
		}
		for _, g := range groups {
			b.notifyConsumerIDsChanged(g)
		}
	})
}

// notifyConsumerIDsChanged sends NOTIFY_CONSUMER_IDS_CHANGED (oneway) to
// every live member of group.
func (b *Broker) notifyConsumerIDsChanged(group string) {
	// Get, not Find: this also runs on the network event loop (connection
	// close), where creating a group would write its file.
	if cfg, ok := b.groups.Get(group); ok && !cfg.NotifyConsumerIdsChangedEnable {
		return
	}
	for _, ch := range b.consumers.Channels(group) {
		c, ok := ch.(*transport.Conn)
		if !ok {
			continue
		}
		cmd := remoting.NewRequest(remoting.NotifyConsumerIDsChanged, &remoting.ConsumerGroupHeader{ConsumerGroup: group}, nil)
		if err := c.InvokeOneway(context.Background(), cmd); err != nil {
			b.log.Debug("notify consumer ids changed failed", "group", group, "remote", c.String(), "err", err)
		}
	}
}
