package broker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/rocketgo/rocketgo/remoting/wire"

	"github.com/rocketgo/rocketgo/server/transport"

	"github.com/rocketgo/rocketgo/remoting"
)

// The log is replicated byte for byte (ha_master.go, ha_slave.go); the
// broker's own tables are not in the log, so a slave copies them from its
// master's remoting port, as upstream's SlaveSynchronize does:
//
//	GET_ALL_TOPIC_CONFIG (21)              topic table, replaced when its data version differs
//	GET_ALL_SUBSCRIPTIONGROUP_CONFIG (201) group table, likewise
//	GET_ALL_CONSUMER_OFFSET (43)           consumer offsets, merged with the master's winning
//	GET_ALL_DELAY_OFFSET (45)              delay-level progress, replaced
//	GET_TIMER_CHECK_POINT (60)             timer progress (rocketgo's body), replaced
//
// Everything is persisted as usual, so a slave promoted by hand starts
// from its master's last known state.

const (
	defaultSlaveSyncInterval = 10 * time.Second // upstream's period
	slaveSyncTimeout         = 3 * time.Second  // per request

	// controllerOffsetSyncInterval is how often a controller-mode slave
	// copies the consumer offsets alone, between full syncs: a slave may
	// be promoted at any moment, and every second of offset lag is a
	// second of messages its consumers receive again. The request is
	// small and the offsets file is only rewritten when an offset moved.
	controllerOffsetSyncInterval = time.Second
)

// WithSlaveSyncInterval sets how often a slave copies its master's
// metadata (topics, groups, offsets, delay progress). Default 10 s,
// upstream's period; tests shorten it. Values <= 0 keep the default.
func WithSlaveSyncInterval(d time.Duration) Option {
	return func(o *options) {
		if d > 0 {
			o.slaveSyncInterval = d
		}
	}
}

// offsetsBody is upstream's ConsumerOffsetSerializeWrapper, the body of
// GET_ALL_CONSUMER_OFFSET: {"offsetTable":{"topic@group":{"0":12}}}.
type offsetsBody struct {
	OffsetTable map[string]map[int32]int64 `json:"offsetTable"`
	DataVersion *wire.DataVersion          `json:"dataVersion,omitempty"`
}

// delayOffsetsBody is upstream's DelayOffsetSerializeWrapper, the body of
// GET_ALL_DELAY_OFFSET. Its keys are delay levels (1-based), not queue ids.
type delayOffsetsBody struct {
	OffsetTable map[int32]int64 `json:"offsetTable"`
}

// GET_ALL_CONSUMER_OFFSET, served to slaves.
func (b *Broker) processGetAllConsumerOffset(rc *transport.RequestContext, req *remoting.Command) {
	table, version := b.offsets.snapshot(b.clock())
	b.replyJSON(rc, req, offsetsBody{OffsetTable: table, DataVersion: &version})
}

// GET_ALL_DELAY_OFFSET, served to slaves.
func (b *Broker) processGetAllDelayOffset(rc *transport.RequestContext, req *remoting.Command) {
	b.replyJSON(rc, req, delayOffsetsBody{OffsetTable: b.delay.levelOffsets()})
}

// errMasterAnswer reports a master that refused or garbled a sync request.
var errMasterAnswer = errors.New("broker: unusable answer from master")

// slaveSync pulls the master's tables every interval and as soon as the
// master's remoting address becomes known (from the name server's
// registration answer).
type slaveSync struct {
	b        *Broker
	interval time.Duration
	// offsetsEvery, when shorter than interval, copies the consumer
	// offsets alone that often (controller mode).
	offsetsEvery time.Duration
	trigger      chan struct{} // buffered 1: sync now

	mu     sync.Mutex // guards master
	master string     // the master's remoting address; "" = unknown
}

func newSlaveSync(b *Broker, interval time.Duration) *slaveSync {
	return &slaveSync{b: b, interval: interval, trigger: make(chan struct{}, 1)}
}

// setMaster records the master's address and asks for a sync when it is
// new.
func (s *slaveSync) setMaster(addr string) {
	s.mu.Lock()
	changed := addr != s.master
	s.master = addr
	s.mu.Unlock()
	if changed {
		s.b.log.Info("slave: master address set", "master", addr)
		select {
		case s.trigger <- struct{}{}:
		default:
		}
	}
}

func (s *slaveSync) masterAddr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.master
}

func (s *slaveSync) loop(ctx context.Context) {
	if s.offsetsEvery <= 0 || s.offsetsEvery >= s.interval {
		everyOrWhen(ctx, s.interval, s.trigger, func() { s.syncAll(ctx) })
		return
	}
	full := time.NewTicker(s.interval)
	defer full.Stop()
	offsets := time.NewTicker(s.offsetsEvery)
	defer offsets.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-full.C:
			s.syncAll(ctx)
		case <-s.trigger:
			s.syncAll(ctx)
		case <-offsets.C:
			s.syncOffsetsOnly(ctx)
		}
	}
}

// syncOffsetsOnly is the frequent offsets copy between full syncs. Its
// failures log at Debug: while a dead master is being replaced they would
// otherwise log every second.
func (s *slaveSync) syncOffsetsOnly(ctx context.Context) {
	addr := s.masterAddr()
	if addr == "" || addr == s.b.addr {
		return
	}
	if err := s.syncOffsets(ctx, addr); err != nil {
		s.b.log.Debug("slave: syncing consumer offsets from master failed", "master", addr, "err", err)
	}
}

// syncAll copies every table; a failing one is logged and retried next
// period without holding up the others.
func (s *slaveSync) syncAll(ctx context.Context) {
	addr := s.masterAddr()
	if addr == "" || addr == s.b.addr {
		return
	}
	for _, step := range []struct {
		what string
		run  func(context.Context, string) error
	}{
		{"topic configs", s.syncTopics},
		{"consumer offsets", s.syncOffsets},
		{"delay offsets", s.syncDelayOffsets},
		{"timer progress", s.syncTimerProgress},
		{"subscription groups", s.syncGroups},
	} {
		if ctx.Err() != nil {
			return
		}
		if err := step.run(ctx, addr); err != nil {
			s.b.log.Warn("slave: syncing from master failed", "what", step.what, "master", addr, "err", err)
		}
	}
}

// fetch sends a header-less request to the master and decodes the body of
// its SUCCESS answer into v.
func (s *slaveSync) fetch(ctx context.Context, addr string, code int16, v any) error {
	ctx, cancel := context.WithTimeout(ctx, slaveSyncTimeout)
	defer cancel()
	resp, err := s.b.rpc.InvokeSync(ctx, addr, remoting.NewRequest(code, nil, nil))
	if err != nil {
		return err
	}
	if resp.Code != remoting.Success {
		return fmt.Errorf("%w: code %d: %s", errMasterAnswer, resp.Code, resp.Remark)
	}
	return decodeMasterBody(resp.Body, v)
}

// decodeMasterBody decodes a master's JSON answer after quoting fastjson's
// bare integer keys: Java masters write {0:12} for a Map<Integer,Long>.
func decodeMasterBody(body []byte, v any) error {
	if err := json.Unmarshal(wire.QuoteBareKeys(body), v); err != nil {
		return fmt.Errorf("%w: %v", errMasterAnswer, err)
	}
	return nil
}

func (s *slaveSync) syncTopics(ctx context.Context, addr string) error {
	var body topicsFile
	if err := s.fetch(ctx, addr, remoting.GetAllTopicConfig, &body); err != nil {
		return err
	}
	changed, err := s.b.topics.replaceFromMaster(body.TopicConfigTable, body.DataVersion)
	if changed {
		s.b.log.Info("slave: topic configs updated from master", "topics", len(body.TopicConfigTable))
		s.b.requestRegister()
	}
	return err
}

func (s *slaveSync) syncGroups(ctx context.Context, addr string) error {
	var body groupsFile
	if err := s.fetch(ctx, addr, remoting.GetAllSubscriptionGroupConfig, &body); err != nil {
		return err
	}
	changed, err := s.b.groups.replaceFromMaster(body.SubscriptionGroupTable, body.DataVersion)
	if changed {
		s.b.log.Info("slave: subscription groups updated from master", "groups", len(body.SubscriptionGroupTable))
	}
	return err
}

func (s *slaveSync) syncOffsets(ctx context.Context, addr string) error {
	var body offsetsBody
	if err := s.fetch(ctx, addr, remoting.GetAllConsumerOffset, &body); err != nil {
		return err
	}
	s.b.offsets.merge(body.OffsetTable)
	return s.b.offsets.Persist()
}

func (s *slaveSync) syncDelayOffsets(ctx context.Context, addr string) error {
	var body delayOffsetsBody
	if err := s.fetch(ctx, addr, remoting.GetAllDelayOffset, &body); err != nil {
		return err
	}
	return s.b.delay.replaceLevels(body.OffsetTable)
}

// GET_TIMER_CHECK_POINT, served to slaves.
func (b *Broker) processGetTimerCheckPoint(rc *transport.RequestContext, req *remoting.Command) {
	b.replyJSON(rc, req, b.timers.snapshot())
}

func (s *slaveSync) syncTimerProgress(ctx context.Context, addr string) error {
	if s.b.ctl == nil {
		return nil // classic slaves may follow a Java master, whose checkpoint body differs
	}
	var body timerProgress
	if err := s.fetch(ctx, addr, remoting.GetTimerCheckPoint, &body); err != nil {
		return err
	}
	return s.b.timers.replace(body)
}
