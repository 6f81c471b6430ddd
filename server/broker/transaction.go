package broker

import (
	"context"
	"net/netip"
	"strconv"
	"sync"
	"time"

	"github.com/rocketgo/rocketgo/server/transport"

	"github.com/rocketgo/rocketgo/message"
	"github.com/rocketgo/rocketgo/remoting"
	"github.com/rocketgo/rocketgo/server/store"
)

// Transaction values of END_TRANSACTION's commitOrRollback (they are the
// SysFlag transaction types).
const (
	txUnknown  = 0
	txCommit   = 8
	txRollback = 12
)

// opTag marks op-log records ("d" for delete, as upstream).
const opTag = "d"

// processEndTransaction resolves a half message: commit stores it into its
// real topic (where consumers see it), rollback drops it. Either way an op
// record in RMQ_SYS_TRANS_OP_HALF_TOPIC tells the check service it is done.
func (b *Broker) processEndTransaction(rc *transport.RequestContext, req *remoting.Command) {
	if b.isSlave() {
		// Upstream's answer: the store of a slave takes no writes.
		reply(rc, req, remoting.SlaveNotAvailable, "broker["+b.cfg.BrokerName+"] is a slave; end transaction is forbidden")
		return
	}
	var h remoting.EndTransactionRequestHeader
	if !decodeHeader(rc, req, &h) {
		return
	}
	if h.CommitOrRollback == txUnknown {
		reply(rc, req, remoting.Success, "") // the producer does not know yet; the check service will ask
		return
	}
	if h.CommitOrRollback != txCommit && h.CommitOrRollback != txRollback {
		reply(rc, req, remoting.InvalidParameter, "commitOrRollback must be 0, 8 or 12")
		return
	}
	half, code, remark := b.loadHalf(h.CommitLogOffset)
	if code != remoting.Success {
		reply(rc, req, code, remark)
		return
	}
	if pg, _ := message.LookupProperty([]byte(half.Properties), message.PropertyProducerGroup); string(pg) != h.ProducerGroup {
		reply(rc, req, remoting.SystemError, "the producer group wrong")
		return
	}
	if half.QueueOffset != h.TranStateTableOffset {
		reply(rc, req, remoting.SystemError, "the transaction state table offset wrong")
		return
	}
	if h.CommitOrRollback == txRollback {
		b.tx.resolve(rc.Context(), half.QueueOffset)
		reply(rc, req, remoting.Success, "")
		return
	}
	m, ok := unpark(half, b.storeHost)
	if !ok {
		reply(rc, req, remoting.SystemError, "half message has no real topic")
		return
	}
	m.SysFlag = m.SysFlag&^message.SysFlagTxMask | message.SysFlagTxCommit
	m.PreparedTransactionOffset = h.CommitLogOffset
	if code, remark := b.rewriteSpecial(m); code != remoting.Success {
		reply(rc, req, code, remark)
		return
	}
	start := time.Now()
	b.store.AppendAsync(m, func(res store.AppendResult, err error) {
		if err != nil {
			b.stats.putFailure()
			code, remark := appendErrorCode(err)
			reply(rc, req, code, remark)
			return
		}
		b.stats.put(m.Topic, 1, int(res.WroteBytes), time.Since(start))
		b.tx.resolve(context.Background(), half.QueueOffset)
		reply(rc, req, appendStatusCode(res.Status), "")
	})
}

// loadHalf reads the half message at a commit-log offset, as a
// self-contained copy (it outlives the store's read pin).
func (b *Broker) loadHalf(phy int64) (*message.StoredMessage, int16, string) {
	res, err := b.store.MessageAt(phy)
	if err != nil || res.MsgCount == 0 {
		if res != nil {
			res.Release()
		}
		return nil, remoting.SystemError, "find prepared transaction message failed"
	}
	defer res.Release()
	rec, err := message.ParseStored(res.Buffers[0], false)
	if err != nil || string(rec.Topic) != TopicTransHalf {
		return nil, remoting.SystemError, "find prepared transaction message failed"
	}
	return storedCopy(&rec), remoting.Success, ""
}

// storedCopy turns a record view into an owned StoredMessage.
func storedCopy(rec *message.StoredRecord) *message.StoredMessage {
	return &message.StoredMessage{
		QueueID: rec.QueueID, Flag: rec.Flag, QueueOffset: rec.QueueOffset, PhysicalOffset: rec.PhysicalOffset,
		SysFlag: rec.SysFlag, BornTimestamp: rec.BornTimestamp, BornHost: rec.BornHost,
		StoreTimestamp: rec.StoreTimestamp, StoreHost: rec.StoreHost, ReconsumeTimes: rec.ReconsumeTimes,
		PreparedTransactionOffset: rec.PreparedTransactionOffset,
		Body:                      append([]byte(nil), rec.Body...), Topic: string(rec.Topic), Properties: string(rec.Properties),
	}
}

// unpark returns a copy of a parked message aimed back at its real topic
// and queue.
func unpark(m *message.StoredMessage, storeHost netip.AddrPort) (*message.StoredMessage, bool) {
	props := []byte(m.Properties)
	topic, ok := message.LookupProperty(props, message.PropertyRealTopic)
	qid, _ := message.LookupProperty(props, message.PropertyRealQueueID)
	q, err := strconv.Atoi(string(qid))
	if !ok || len(topic) == 0 || err != nil {
		return nil, false
	}
	out := *m
	out.Topic, out.QueueID, out.StoreHost = string(topic), int32(q), storeHost
	out.QueueOffset, out.PhysicalOffset, out.StoreTimestamp = 0, 0, 0
	return &out, true
}

// txChecker finds half messages nobody resolved and asks their producers.
// Progress is two offsets, persisted after every round in
// config/transactionProgress.json: the first half-queue offset not known to
// be resolved, and an op-queue offset before which every op refers to an
// older half offset (so a restart re-reads only ops that may still matter).
type txChecker struct {
	b    *Broker
	file *jsonFile

	mu       sync.Mutex
	progress txProgress
	opRead   int64
	resolved map[int64]int64 // half queue offset → op queue offset that resolved it
}

type txProgress struct {
	HalfOffset int64 `json:"halfOffset"`
	OpOffset   int64 `json:"opOffset"`
}

func newTxChecker(b *Broker, file *jsonFile) (*txChecker, error) {
	c := &txChecker{b: b, file: file, resolved: map[int64]int64{}}
	if _, err := file.load(&c.progress); err != nil {
		return nil, err
	}
	c.opRead = c.progress.OpOffset
	return c, nil
}

// resolve writes the op record for a half message.
func (c *txChecker) resolve(ctx context.Context, halfOffset int64) {
	b := c.b
	if _, _, err := b.topics.CreateIfAbsent(TopicTransOpHalf, 1, PermRead|PermWrite, 0); err != nil {
		b.log.Error("creating the transaction op topic failed", "err", err)
		return
	}
	op := &message.StoredMessage{
		Topic: TopicTransOpHalf, BornTimestamp: b.clock().UnixMilli(), BornHost: b.storeHost, StoreHost: b.storeHost,
		Body:       []byte(strconv.FormatInt(halfOffset, 10)),
		Properties: string(message.AppendProperty(nil, message.PropertyTags, opTag)),
	}
	if _, err := b.store.Append(ctx, op); err != nil {
		b.log.Error("writing transaction op record failed", "halfOffset", halfOffset, "err", err)
	}
}

func (c *txChecker) loop(ctx context.Context) {
	every(ctx, c.b.cfg.TransactionCheckInterval, func() { c.round(ctx) })
}

// round reads new op records, then walks the half queue from the progress
// offset: resolved halves are skipped, young ones end the walk, and old
// unresolved ones are re-appended with their check count raised (so the
// walk never revisits them) and their producer is asked.
func (c *txChecker) round(ctx context.Context) {
	c.mu.Lock()
	defer c.mu.Unlock()
	b := c.b
	c.readOps()
	now := b.clock().UnixMilli()
	off := max(c.progress.HalfOffset, b.store.MinOffset(TopicTransHalf, 0))
	end := b.store.MaxOffset(TopicTransHalf, 0)
walk:
	for off < end && ctx.Err() == nil {
		res, err := b.store.GetMessages(TopicTransHalf, 0, off, 32, 4<<20, nil)
		if err != nil || res.MsgCount == 0 {
			if res != nil {
				off = max(off, res.NextBeginOffset)
				res.Release()
			}
			break
		}
		var halves []*message.StoredMessage
		for _, buf := range res.Buffers {
			if rec, err := message.ParseStored(buf, false); err == nil {
				halves = append(halves, storedCopy(&rec))
			}
		}
		res.Release()
		for _, half := range halves {
			if _, done := c.resolved[half.QueueOffset]; done {
				off = half.QueueOffset + 1
				continue
			}
			if now-half.BornTimestamp < b.cfg.TransactionTimeOut.Milliseconds() {
				break walk
			}
			c.check(ctx, half)
			off = half.QueueOffset + 1
		}
	}
	c.progress.HalfOffset = off
	for h := range c.resolved {
		if h < off {
			delete(c.resolved, h)
		}
	}
	c.progress.OpOffset = c.opRead
	for _, opOff := range c.resolved {
		c.progress.OpOffset = min(c.progress.OpOffset, opOff)
	}
	if err := c.file.store(c.progress); err != nil {
		b.log.Error("persisting transaction progress failed", "err", err)
	}
}

// readOps records every new op record's half offset.
func (c *txChecker) readOps() {
	c.opRead = c.b.readQueue(TopicTransOpHalf, 0, c.opRead, func(rec *message.StoredRecord) {
		if half, err := strconv.ParseInt(string(rec.Body), 10, 64); err == nil && half >= c.progress.HalfOffset {
			c.resolved[half] = rec.QueueOffset
		}
	})
}

// readQueue calls fn for every readable record of a broker-owned queue
// from offset `from` (clamped to the queue's minimum) to its end and
// returns the offset after the last one. Unreadable records are skipped.
func (b *Broker) readQueue(topic string, qid int32, from int64, fn func(*message.StoredRecord)) int64 {
	next := max(from, b.store.MinOffset(topic, qid))
	for {
		res, err := b.store.GetMessages(topic, qid, next, 32, 4<<20, nil)
		if err != nil || res.MsgCount == 0 {
			if res != nil {
				next = max(next, res.NextBeginOffset)
				res.Release()
			}
			return next
		}
		for _, buf := range res.Buffers {
			rec, err := message.ParseStored(buf, false)
			if err != nil {
				continue
			}
			fn(&rec)
			next = rec.QueueOffset + 1
		}
		next = max(next, res.NextBeginOffset) // also past unreadable records
		res.Release()
	}
}

// check re-appends an unresolved half message with its check count raised,
// resolves the old copy, and sends CHECK_TRANSACTION_STATE for the new one
// to a live producer of its group. Past transactionCheckMax checks the
// message is given up (logged and kept in TRANS_CHECK_MAX_TIME_TOPIC).
func (c *txChecker) check(ctx context.Context, half *message.StoredMessage) {
	b := c.b
	props := []byte(half.Properties)
	times := 0
	if v, ok := message.LookupProperty(props, message.PropertyTransactionCheckTimes); ok {
		times, _ = strconv.Atoi(string(v))
	}
	if times >= b.cfg.TransactionCheckMax {
		b.log.Warn("transaction unresolved after the maximum checks; giving up", "halfOffset", half.QueueOffset, "checks", times)
		if _, _, err := b.topics.CreateIfAbsent(TopicTransCheckMax, 1, PermRead|PermWrite, 0); err == nil {
			gaveUp := *half
			gaveUp.Topic, gaveUp.QueueID = TopicTransCheckMax, 0
			if _, err := b.store.Append(ctx, &gaveUp); err != nil {
				b.log.Error("keeping the abandoned half message failed", "err", err)
			}
		}
		c.resolve(ctx, half.QueueOffset)
		return
	}
	again := *half
	again.Properties = string(setProperty(props, message.PropertyTransactionCheckTimes, strconv.Itoa(times+1)))
	res, err := b.store.Append(ctx, &again)
	if err != nil {
		b.log.Error("re-queuing a half message for its check failed", "err", err)
		return
	}
	c.resolve(ctx, half.QueueOffset)
	again.QueueOffset, again.PhysicalOffset, again.StoreTimestamp = res.QueueOffset, res.PhysicalOffset, res.StoreTimestamp
	c.ask(ctx, &again)
}

// ask sends CHECK_TRANSACTION_STATE (oneway) to one live producer of the
// half message's group. The body is the half message with its real topic
// and queue, carrying UNIQ_KEY, PGROUP and __transactionId__ (the Go
// client needs all three).
func (c *txChecker) ask(ctx context.Context, half *message.StoredMessage) {
	b := c.b
	props := []byte(half.Properties)
	group, _ := message.LookupProperty(props, message.PropertyProducerGroup)
	chans := b.producers.Channels(string(group))
	if len(chans) == 0 {
		b.log.Debug("no live producer for a transaction check", "group", string(group))
		return
	}
	conn, ok := chans[0].(*transport.Conn)
	if !ok {
		return
	}
	uniq, _ := message.LookupProperty(props, message.PropertyUniqKey)
	view, ok := unpark(half, b.storeHost)
	if !ok {
		return
	}
	if _, ok := message.LookupProperty(props, message.PropertyTransactionID); !ok {
		view.Properties = string(message.AppendProperty([]byte(view.Properties), message.PropertyTransactionID, string(uniq)))
	}
	view.QueueOffset, view.PhysicalOffset, view.StoreTimestamp = half.QueueOffset, half.PhysicalOffset, half.StoreTimestamp
	body, err := message.AppendStored(nil, view)
	if err != nil {
		b.log.Error("encoding a transaction check failed", "err", err)
		return
	}
	offsetID := message.OffsetMsgID(b.storeHost, half.PhysicalOffset)
	cmd := remoting.NewRequest(remoting.CheckTransactionState, &remoting.CheckTransactionStateRequestHeader{
		Topic: view.Topic, TranStateTableOffset: half.QueueOffset, CommitLogOffset: half.PhysicalOffset,
		MsgID: string(uniq), TransactionID: string(uniq), OffsetMsgID: offsetID,
	}, body)
	if err := conn.InvokeOneway(ctx, cmd); err != nil {
		b.log.Debug("sending a transaction check failed", "remote", conn.String(), "err", err)
	}
}
