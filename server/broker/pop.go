package broker

import (
	"path/filepath"

	"github.com/rocketgo/rocketgo/server/pop"
)

// POP consumption lives in server/pop; the broker opens it, registers its
// processors and answers its questions through popBroker.

func (b *Broker) openPop() (*pop.Service, error) {
	return pop.New(pop.Config{
		Dir:        filepath.Join(b.cfg.StorePathRootDir, "pop"),
		BrokerName: b.cfg.BrokerName,
		StoreHost:  b.storeHost,
		SyncFlush:  b.cfg.FlushDiskType == SyncFlush,
	}, b.store, popBroker{b}, pop.WithLogger(b.log), pop.WithClock(b.clock))
}

// popBroker is the broker as server/pop sees it.
type popBroker struct{ b *Broker }

func (p popBroker) ReadQueues(topic string) (int, bool) {
	if p.b.live.brokerPermission.Load()&PermRead == 0 {
		return 0, false
	}
	t, ok := p.b.topics.Get(topic)
	if !ok || !t.Readable() {
		return 0, false
	}
	return int(t.ReadQueueNums), true
}

func (p popBroker) Group(group string) (int, int, bool) {
	g, err := p.b.groups.Find(group)
	if err != nil || !g.ConsumeEnable {
		return 0, 0, false
	}
	return g.RetryMaxTimes, g.RetryQueueNums, true
}

func (p popBroker) EnsureTopic(topic string, queues int) error {
	_, created, err := p.b.topics.CreateIfAbsent(topic, queues, PermRead|PermWrite, 0)
	if created {
		p.b.requestRegister()
	}
	return err
}

func (p popBroker) ConsumerOffset(group, topic string, queueID int32) (int64, bool) {
	return p.b.offsets.Query(group, topic, queueID)
}

func (p popBroker) CommitOffset(group, topic string, queueID int32, offset int64) {
	p.b.offsets.Commit(group, topic, queueID, offset)
}

func (p popBroker) Serving() bool { return !p.b.isSlave() }

// GroupOrderly: groups configured consumeMessageOrderly pop in order
// (server/pop.OrderedGroups).
func (p popBroker) GroupOrderly(group string) bool {
	g, err := p.b.groups.Find(group)
	return err == nil && g.ConsumeMessageOrderly
}

// PopParked is the number of POP requests held for long polling (0 before
// Start).
func (b *Broker) PopParked() int {
	if b.pop == nil {
		return 0
	}
	return b.pop.Parked()
}
