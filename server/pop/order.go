package pop

import (
	"maps"
	"slices"

	"github.com/rocketgo/rocketgo/message"
)

// Orderly (FIFO) POP. A pop that asks for order (the request's order flag,
// or a group configured consumeMessageOrderly) takes a queue's messages
// only while no earlier order checkpoint of the group on that queue is
// open: the queue hands out its next messages once the previous ones are
// all acknowledged, or their invisible time ran out. Expired messages do
// not go to the retry topic (that would break the order): the queue's pop
// offset rewinds to the first of them, so the next pop hands them out
// again, in place, with their delivery count raised — skipping those of
// the batch that were acknowledged meanwhile. A message whose count
// reached the group's retryMaxTimes goes to the DLQ instead, so one poison
// message cannot block its queue for ever.
//
// Upstream keeps the same facts in ConsumerOrderInfoManager (per queue:
// the offsets of the attempt, their consume counts and commit bits, and
// the next visible time); here they are the order checkpoints themselves
// plus orderInfo, and every change is a journal record, so a restarted
// broker keeps blocking, counting and skipping exactly as before.

// orderInfo is the order state of one queue of one group.
type orderInfo struct {
	// holds counts open order checkpoints; the queue is blocked while it
	// is above zero.
	holds int
	// attempts counts, per offset handed out and not yet settled, the
	// deliveries that expired: its next delivery's reconsume count.
	attempts map[int64]int32
	// acked holds offsets at or past a possible rewind point that were
	// acknowledged (or sent to the DLQ): a redelivery skips them.
	acked map[int64]bool
}

func (o *orderInfo) empty() bool { return o.holds == 0 && len(o.attempts) == 0 && len(o.acked) == 0 }

func (s *Service) orderLocked(k queueKey) *orderInfo {
	o := s.orders[k]
	if o == nil {
		o = &orderInfo{attempts: map[int64]int32{}, acked: map[int64]bool{}}
		s.orders[k] = o
	}
	return o
}

// orderBlockedLocked reports whether k has an open order checkpoint.
func (s *Service) orderBlockedLocked(k queueKey) bool {
	o := s.orders[k]
	return o != nil && o.holds > 0
}

// holdLocked counts a new open order checkpoint of k.
func (s *Service) holdLocked(k queueKey) { s.orderLocked(k).holds++ }

// releaseLocked ends one open order checkpoint of k. Once none is open no
// rewind can go below the pop offset, so what lies below it is dropped.
func (s *Service) releaseLocked(k queueKey) {
	o := s.orders[k]
	if o == nil {
		return
	}
	o.holds = max(o.holds-1, 0)
	if o.holds > 0 {
		return
	}
	next := s.offsets[k]
	maps.DeleteFunc(o.acked, func(off int64, _ bool) bool { return off < next })
	maps.DeleteFunc(o.attempts, func(off int64, _ int32) bool { return off < next })
	if o.empty() {
		delete(s.orders, k)
	}
}

// orderAckedLocked records an acknowledged order message.
func (s *Service) orderAckedLocked(k queueKey, off int64) {
	o := s.orderLocked(k)
	o.acked[off] = true
	delete(o.attempts, off)
}

// orderReviveLocked applies the expiry of order checkpoint ck (already out
// of the tables): offsets in dlq were moved to the DLQ and count as
// acknowledged; the other open ones have their delivery count raised and
// the queue's pop offset rewinds to the first of them. Live revive and
// journal replay both go through here, so they agree.
func (s *Service) orderReviveLocked(ck *checkpoint, dlq []int64) {
	o := s.orderLocked(ck.queueKey)
	rewind := int64(-1)
	for i, off := range ck.offsets {
		if ck.acked[i] {
			continue
		}
		if slices.Contains(dlq, off) {
			o.acked[off] = true
			delete(o.attempts, off)
			continue
		}
		o.attempts[off]++
		if rewind < 0 || off < rewind {
			rewind = off
		}
	}
	if rewind >= 0 {
		if cur, ok := s.offsets[ck.queueKey]; !ok || rewind < cur {
			s.offsets[ck.queueKey] = rewind
			if s.broker != nil {
				s.broker.CommitOffset(ck.group, ck.topic, ck.queueID, rewind)
			}
		}
	}
	s.releaseLocked(ck.queueKey)
}

// appendOrderDelivery appends a stored message as an order pop hands it
// out: as stored, with its reconsume count set to the deliveries that
// expired before.
func appendOrderDelivery(dst, buf []byte, attempts int32) ([]byte, error) {
	if attempts == 0 {
		return append(dst, buf...), nil
	}
	rec, err := message.ParseStored(buf, false)
	if err != nil {
		return dst, err
	}
	m := message.StoredMessage{
		Topic: string(rec.Topic), QueueID: rec.QueueID, Flag: rec.Flag, QueueOffset: rec.QueueOffset, PhysicalOffset: rec.PhysicalOffset,
		SysFlag: rec.SysFlag, BornTimestamp: rec.BornTimestamp, BornHost: rec.BornHost,
		StoreTimestamp: rec.StoreTimestamp, StoreHost: rec.StoreHost, ReconsumeTimes: attempts,
		PreparedTransactionOffset: rec.PreparedTransactionOffset, Body: rec.Body, Properties: string(rec.Properties),
	}
	return message.AppendStored(dst, &m)
}

// Journal records of the order state.

// orderInfo writes k's order state for a compacted journal.
func (w *recordWriter) orderInfo(k queueKey, o *orderInfo) {
	w.queue(k)
	w.int(int64(len(o.attempts)))
	for _, off := range slices.Sorted(maps.Keys(o.attempts)) {
		w.int(off)
		w.int(int64(o.attempts[off]))
	}
	w.int(int64(len(o.acked)))
	for _, off := range slices.Sorted(maps.Keys(o.acked)) {
		w.int(off)
	}
}

func (s *Service) applyOrderInfo(r *recordReader) error {
	k := readQueue(r)
	n := r.int()
	if r.err != nil || n < 0 || n > maxRecordLen {
		return errCorruptRecord
	}
	o := s.orderLocked(k)
	for range n {
		off, c := r.int(), r.int()
		o.attempts[off] = int32(c)
	}
	m := r.int()
	if r.err != nil || m < 0 || m > maxRecordLen {
		return errCorruptRecord
	}
	for range m {
		o.acked[r.int()] = true
	}
	return r.err
}

func (s *Service) applyOrderRevive(r *recordReader) error {
	key := readKey(r)
	n := r.int()
	if r.err != nil || n < 0 || n > MaxPopMessages*1024 {
		return errCorruptRecord
	}
	dlq := make([]int64, 0, n)
	for range n {
		dlq = append(dlq, r.int())
	}
	if r.err != nil {
		return r.err
	}
	if ck, ok := s.cks[key]; ok && ck.order {
		s.dropCkLocked(ck)
		s.orderReviveLocked(ck, dlq)
	}
	return nil
}
