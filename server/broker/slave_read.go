package broker

import (
	"github.com/rocketgo/rocketgo/remoting"
	"github.com/rocketgo/rocketgo/remoting/wire"
	"github.com/rocketgo/rocketgo/server/store"
)

// Slave reads. Every pull answer names the broker id the consumer should
// pull that queue from next (suggestWhichBrokerId); the consumer looks the
// id up in the route and falls back to any address of the group when the
// id has none. The rules are upstream's (PullMessageProcessor, 5.x):
//
//   - With slaveReadEnable, a consumer that trails the commit log's end by
//     more than the in-memory share (accessMessageInMemoryMaxRatio percent
//     of physical memory; DefaultMessageStore.getMessage) reads cold data
//     from disk; it is sent to the group's whichBrokerWhenConsumeSlowly so
//     that it does not evict the page cache the master's writers and
//     up-to-date readers need. Otherwise it is sent to the group's brokerId
//     (0, the master, unless an operator changed it).
//   - Without slaveReadEnable every answer names the master.
//   - A slave whose master is alive sends a consumer that has caught up
//     back to the master; it answers PULL_RETRY_IMMEDIATELY instead of
//     parking the pull when it has nothing, so the consumer moves at once
//     rather than after a long poll on the wrong broker. With the master
//     gone the slave keeps serving (the consumer's route holds only it).

// inMemoryLimit is the backlog in bytes beyond which a reader counts as
// slow, or 0 when the machine's memory is unknown (never slow then).
func inMemoryLimit(cfg *Config) int64 {
	mem := cfg.PhysicalMemorySize
	if mem == 0 {
		mem = physicalMemory()
	}
	return int64(float64(mem) * float64(cfg.AccessMessageInMemoryMaxRatio) / 100)
}

// readsSlowly reports whether a read that reached res.ReachedPhyOffset
// trails the commit log's end by more than the in-memory share.
func (b *Broker) readsSlowly(res *store.GetResult) bool {
	if b.memLimit <= 0 || res.ReachedPhyOffset < 0 {
		return false
	}
	return b.store.MaxPhysicalOffset()-res.ReachedPhyOffset > b.memLimit
}

// suggestBroker fills in the broker id a pull answer suggests and may turn
// a slave's empty answer into PULL_RETRY_IMMEDIATELY (see above). It
// reports the code to answer with.
func (b *Broker) suggestBroker(g *GroupConfig, res *store.GetResult, code int16, rh *remoting.PullMessageResponseHeader) int16 {
	slow := b.readsSlowly(res)
	switch {
	case !b.live.slaveRead.Load():
		rh.SuggestWhichBrokerID = wire.MasterID
	case slow:
		rh.SuggestWhichBrokerID = g.WhichBrokerWhenConsumeSlowly
	default:
		rh.SuggestWhichBrokerID = g.BrokerID
	}
	if b.isSlave() && !slow && b.masterOnline.Load() {
		rh.SuggestWhichBrokerID = wire.MasterID
		if res.Status != store.Found {
			code = remoting.PullRetryImmediately
		}
	}
	return code
}
