package pop

import (
	"container/heap"
	"context"
	"fmt"
	"time"

	"github.com/rocketgo/rocketgo/message"
	"github.com/rocketgo/rocketgo/server/store"
)

// Revive: a checkpoint whose invisible time passed has its unacknowledged
// messages copied to the group's POP retry topic with the reconsume count
// raised (or to %DLQ%<group> once the count reached the group's
// retryMaxTimes), then a revived record closes it. The copy is appended
// first: a crash in between sends it twice, never zero times.

const (
	reviveBatch      = 1024
	reviveRetryDelay = time.Second
	appendTimeout    = 10 * time.Second
)

func (s *Service) reviveLoop() {
	defer s.wg.Done()
	t := time.NewTicker(s.opt.reviveInterval)
	defer t.Stop()
	for {
		select {
		case <-s.quit:
			return
		case <-t.C:
			s.reviveDue()
		}
	}
}

// reviveDue revives every checkpoint due now. Only this goroutine
// revives and compacts, so a checkpoint taken out of the tables for
// reviving is never missing from a compacted journal.
func (s *Service) reviveDue() {
	if !s.broker.Serving() {
		return
	}
	for {
		now := s.nowMs()
		var batch []*checkpoint
		s.mu.Lock()
		for s.due.Len() > 0 && s.due[0].due <= now && len(batch) < reviveBatch {
			ck := heap.Pop(&s.due).(*checkpoint)
			delete(s.cks, ck.ckKey) // acks from here on find the handle expired
			batch = append(batch, ck)
		}
		s.mu.Unlock()
		for _, ck := range batch {
			select {
			case <-s.quit:
				s.putBack(ck, now)
				continue
			default:
			}
			if ck.order {
				s.reviveOrder(ck, now)
			} else {
				s.revive(ck, now)
			}
		}
		if len(batch) < reviveBatch {
			break
		}
	}
	s.mu.Lock()
	s.compactLocked()
	s.mu.Unlock()
}

// putBack returns a checkpoint to the tables, due again later.
func (s *Service) putBack(ck *checkpoint, now int64) {
	s.mu.Lock()
	ck.due = now + reviveRetryDelay.Milliseconds()
	s.addCk(ck)
	s.mu.Unlock()
}

// revive re-sends ck's open offsets and closes it.
func (s *Service) revive(ck *checkpoint, now int64) {
	for i, off := range ck.offsets {
		if ck.acked[i] {
			continue
		}
		if err := s.reviveOne(ck, off, -1); err != nil {
			s.log.Warn("pop revive failed, will retry", "group", ck.group, "topic", ck.topic, "queue", ck.queueID, "offset", off, "err", err)
			// What was re-sent counts as acknowledged, so a retry
			// does not send it again.
			s.mu.Lock()
			var seq uint64
			for j := 0; j < i; j++ {
				if ck.acked[j] {
					continue
				}
				s.rec.reset(recAck)
				s.rec.key(ck.ckKey)
				s.rec.int(ck.offsets[j])
				if sq, err := s.jrnl.append(s.rec.b); err == nil {
					seq = sq
					ck.acked[j] = true
					ck.open--
				}
			}
			s.mu.Unlock()
			if err := s.commit(seq); err != nil {
				s.log.Error("pop journal sync failed", "err", err)
			}
			s.putBack(ck, now)
			return
		}
	}
	s.mu.Lock()
	s.rec.reset(recRevived)
	s.rec.key(ck.ckKey)
	seq, err := s.jrnl.append(s.rec.b)
	s.mu.Unlock()
	if err == nil {
		err = s.commit(seq)
	}
	if err != nil {
		// Without the record a restart revives the checkpoint again:
		// duplicates, not loss.
		s.log.Error("pop journal write failed after revive", "err", err)
	}
}

// reviveOrder ends an expired order checkpoint: messages whose delivery
// count reached the group's retryMaxTimes are copied to the DLQ, the rest
// will be handed out again in place (order.go). The DLQ copies are made
// before the record that settles them: a crash in between copies again,
// never loses.
func (s *Service) reviveOrder(ck *checkpoint, now int64) {
	maxTimes, _, ok := s.broker.Group(ck.group)
	if !ok {
		maxTimes = 16
	}
	type due struct {
		off      int64
		attempts int32
	}
	var dead []due
	s.mu.Lock()
	o := s.orderLocked(ck.queueKey)
	for i, off := range ck.offsets {
		if !ck.acked[i] && int(o.attempts[off]) >= maxTimes {
			dead = append(dead, due{off, o.attempts[off]})
		}
	}
	s.mu.Unlock()
	var dlq []int64
	for _, d := range dead {
		if err := s.reviveOne(ck, d.off, d.attempts); err != nil {
			s.log.Warn("pop order revive: DLQ copy failed, will retry", "group", ck.group, "topic", ck.topic, "queue", ck.queueID, "offset", d.off, "err", err)
			s.putBack(ck, now)
			return
		}
		dlq = append(dlq, d.off)
	}
	s.mu.Lock()
	s.rec.reset(recOrderRevive)
	s.rec.key(ck.ckKey)
	s.rec.int(int64(len(dlq)))
	for _, off := range dlq {
		s.rec.int(off)
	}
	seq, err := s.jrnl.append(s.rec.b)
	if err == nil {
		s.orderReviveLocked(ck, dlq)
	}
	s.mu.Unlock()
	if err != nil {
		s.log.Error("pop journal write failed in order revive, will retry", "err", err)
		s.putBack(ck, now)
		return
	}
	if err := s.commit(seq); err != nil {
		s.log.Error("pop journal sync failed", "err", err)
	}
	s.polls.notify(ck.topic)
}

// reviveOne copies the message at off of ck's queue to the retry topic or
// the DLQ. orderAttempts >= 0 is the delivery count of an order message
// (order messages only ever go to the DLQ from here); -1 takes the
// stored reconsume count.
func (s *Service) reviveOne(ck *checkpoint, off int64, orderAttempts int32) error {
	got, err := s.store.GetMatching(ck.topic, ck.queueID, off, 1, maxPopBytes, store.Filter{})
	if err != nil {
		return err
	}
	defer got.Release()
	if got.MsgCount == 0 {
		if off < got.MinOffset {
			s.log.Warn("pop revive: message already deleted from the store", "topic", ck.topic, "queue", ck.queueID, "offset", off)
			return nil
		}
		return fmt.Errorf("message at %s/%d@%d not readable (%v)", ck.topic, ck.queueID, off, got.Status)
	}
	rec, err := message.ParseStored(got.Buffers[0], false)
	if err != nil {
		return err
	}
	if rec.QueueOffset != off {
		s.log.Warn("pop revive: offset no longer holds the message", "topic", ck.topic, "queue", ck.queueID, "offset", off)
		return nil
	}
	maxTimes, retryQueues, ok := s.broker.Group(ck.group)
	if !ok {
		maxTimes, retryQueues = 16, 1
	}
	origin := ck.topic
	if isRetry(origin) {
		if v, ok := message.LookupProperty(rec.Properties, message.PropertyRetryTopic); ok && len(v) > 0 {
			origin = string(v)
		}
	}
	props := removeProperty(rec.Properties, message.PropertyPopCK)
	originID := ""
	if v, ok := message.LookupProperty(props, message.PropertyOriginMessageID); ok && len(v) > 0 {
		originID = string(v)
	} else if v, ok := message.LookupProperty(props, message.PropertyUniqKey); ok && len(v) > 0 {
		originID = string(v)
	} else {
		originID = message.OffsetMsgID(rec.StoreHost, rec.PhysicalOffset)
	}
	times := rec.ReconsumeTimes
	if orderAttempts >= 0 {
		times = orderAttempts
	}
	m := message.StoredMessage{
		Flag: rec.Flag, SysFlag: rec.SysFlag, BornTimestamp: rec.BornTimestamp, BornHost: rec.BornHost,
		StoreHost: s.cfg.StoreHost, ReconsumeTimes: times + 1, Body: append([]byte(nil), rec.Body...),
	}
	if int(times) >= maxTimes || orderAttempts >= 0 {
		m.Topic, m.QueueID = "%DLQ%"+ck.group, 0
		props = removeProperty(props, message.PropertyDLQOriginTopic)
		props = removeProperty(props, message.PropertyDLQOriginMessageID)
		props = message.AppendProperty(props, message.PropertyDLQOriginTopic, origin)
		props = message.AppendProperty(props, message.PropertyDLQOriginMessageID, originID)
		if err := s.broker.EnsureTopic(m.Topic, 1); err != nil {
			return err
		}
	} else {
		queues := max(retryQueues, 1)
		m.Topic, m.QueueID = popRetryTopicOf(origin, ck.group), retryQueueFor(queues)
		if err := s.broker.EnsureTopic(m.Topic, queues); err != nil {
			return err
		}
		if _, ok := message.LookupProperty(props, message.PropertyRetryTopic); !ok {
			props = message.AppendProperty(props, message.PropertyRetryTopic, origin)
		}
	}
	props = removeProperty(props, message.PropertyOriginMessageID)
	props = message.AppendProperty(props, message.PropertyOriginMessageID, originID)
	m.Properties = string(props)
	ctx, cancel := context.WithTimeout(context.Background(), appendTimeout)
	defer cancel()
	if _, err := s.store.Append(ctx, &m); err != nil {
		return err
	}
	return nil
}
