package broker

import (
	"bytes"
	"context"
	"maps"
	"strconv"
	"sync"
	"time"

	"github.com/rocketgo/rocketgo/message"
	"github.com/rocketgo/rocketgo/remoting"
)

// rewriteSpecial moves a message that must not be visible yet into the
// broker's own topics: a delayed message into SCHEDULE_TOPIC_XXXX (queue =
// level − 1) and a transactional half message into the half topic, each
// with its real topic and queue saved in REAL_TOPIC / REAL_QID.
//
// The common message is none of these and is checked without copying its
// property string (a trace message's is ~17 KB): only a rewrite copies.
func (b *Broker) rewriteSpecial(m *message.StoredMessage) (int16, string) {
	switch m.SysFlag & message.SysFlagTxMask {
	case message.SysFlagTxPrepared:
		if _, _, err := b.topics.CreateIfAbsent(TopicTransHalf, 1, PermRead|PermWrite, 0); err != nil {
			return remoting.SystemError, err.Error()
		}
		b.park(m, []byte(m.Properties), TopicTransHalf, 0)
		m.SysFlag &^= message.SysFlagTxMask // the half copy is an ordinary record of the half topic
		return remoting.Success, ""
	case message.SysFlagTxRollback:
		return remoting.MessageIllegal, "a rollback record cannot be sent"
	}
	if at, ok, err := deliverAt(m.Properties, b.clock); err != nil {
		return remoting.MessageIllegal, err.Error()
	} else if ok {
		if at.After(b.clock()) {
			return b.parkTimed(m, at)
		}
		m.Properties = string(removeProperties([]byte(m.Properties), append(timerRequestProps[:len(timerRequestProps):len(timerRequestProps)], message.PropertyTimerOutMS)...))
		return remoting.Success, ""
	}
	raw, ok := message.LookupPropertyString(m.Properties, message.PropertyDelayLevel)
	if !ok {
		return remoting.Success, ""
	}
	level, err := strconv.Atoi(raw)
	if err != nil {
		return remoting.MessageIllegal, "delay level " + strconv.Quote(raw) + " is not a number"
	}
	if level <= 0 {
		return remoting.Success, "" // upstream ignores level 0 and negatives on a plain send
	}
	level = min(level, len(b.delays))
	m.Properties = string(setProperty([]byte(m.Properties), message.PropertyDelayLevel, strconv.Itoa(level)))
	b.park(m, []byte(m.Properties), TopicSchedule, int32(level-1))
	return remoting.Success, ""
}

// park records m's real destination in its properties and points it at a
// broker-owned topic and queue.
func (b *Broker) park(m *message.StoredMessage, props []byte, topic string, queueID int32) {
	props = setProperty(props, message.PropertyRealTopic, m.Topic)
	props = setProperty(props, message.PropertyRealQueueID, strconv.Itoa(int(m.QueueID)))
	m.Properties = string(props)
	m.Topic, m.QueueID = topic, queueID
}

// setProperty returns props with key set to value (replacing an old value).
func setProperty(props []byte, key, value string) []byte {
	return message.AppendProperty(removeProperties(props, key), key, value)
}

// removeProperties returns a copy of props without the given keys.
func removeProperties(props []byte, keys ...string) []byte {
	out := make([]byte, 0, len(props)+32)
	for len(props) > 0 {
		pair := props
		if i := bytes.IndexByte(props, message.PropertySeparator); i >= 0 {
			pair, props = props[:i], props[i+1:]
		} else {
			props = nil
		}
		if len(pair) == 0 {
			continue
		}
		key := pair
		if i := bytes.IndexByte(pair, message.NameValueSeparator); i >= 0 {
			key = pair[:i]
		}
		drop := false
		for _, k := range keys {
			if string(key) == k {
				drop = true
				break
			}
		}
		if !drop {
			out = append(out, pair...)
			out = append(out, message.PropertySeparator)
		}
	}
	return out
}

// delayScheduler delivers parked delayed messages when they fall due. One
// goroutine per level walks that level's queue of the schedule topic in
// order — within a level, arrival order is due order — sleeping until the
// head is due or a new message arrives. Progress per level is persisted in
// config/delayOffset.json after every delivered batch, so a restart repeats
// at most the batch in flight.
type delayScheduler struct {
	b    *Broker
	file *jsonFile
	wake []chan struct{} // one per level, buffered 1

	mu       sync.Mutex
	progress map[int32]int64 // queue id (level−1) → next offset to deliver
}

type delayOffsetsFile struct {
	OffsetTable map[int32]int64 `json:"offsetTable"`
}

func newDelayScheduler(b *Broker, file *jsonFile) (*delayScheduler, error) {
	d := &delayScheduler{b: b, file: file, progress: map[int32]int64{}, wake: make([]chan struct{}, len(b.delays))}
	for i := range d.wake {
		d.wake[i] = make(chan struct{}, 1)
	}
	var persisted delayOffsetsFile
	if found, err := file.load(&persisted); err != nil {
		return nil, err
	} else if found && persisted.OffsetTable != nil {
		d.progress = persisted.OffsetTable
	}
	return d, nil
}

// arrived is called from the store's arrival listener for the schedule
// topic; it must not block.
func (d *delayScheduler) arrived(queueID int32) {
	if int(queueID) < len(d.wake) {
		select {
		case d.wake[queueID] <- struct{}{}:
		default:
		}
	}
}

// start runs one goroutine per level through spawn.
func (d *delayScheduler) start(ctx context.Context, spawn func(func(context.Context))) {
	for qid := range d.wake {
		spawn(func(ctx context.Context) { d.run(ctx, int32(qid)) })
	}
}

func (d *delayScheduler) offset(qid int32) int64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.progress[qid]
}

func (d *delayScheduler) advance(qid int32, next int64) {
	d.mu.Lock()
	d.progress[qid] = next
	snapshot := delayOffsetsFile{OffsetTable: make(map[int32]int64, len(d.progress))}
	for k, v := range d.progress {
		snapshot.OffsetTable[k] = v
	}
	d.mu.Unlock()
	if err := d.file.store(snapshot); err != nil {
		d.b.log.Error("persisting delay progress failed", "err", err)
	}
}

// levelOffsets returns the progress keyed by delay level (queue id + 1),
// the form GET_ALL_DELAY_OFFSET answers in.
func (d *delayScheduler) levelOffsets() map[int32]int64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make(map[int32]int64, len(d.progress))
	for qid, off := range d.progress {
		out[qid+1] = off
	}
	return out
}

// replaceLevels takes a master's progress (keyed by delay level) on a
// slave and persists it. The slave's scheduler does not run; the progress
// matters once the slave is promoted.
func (d *delayScheduler) replaceLevels(levels map[int32]int64) error {
	progress := make(map[int32]int64, len(levels))
	for level, off := range levels {
		if level >= 1 {
			progress[level-1] = off
		}
	}
	d.mu.Lock()
	d.progress = maps.Clone(progress) // progress itself is written below, outside the lock
	d.mu.Unlock()
	return d.file.store(delayOffsetsFile{OffsetTable: progress})
}

// idlePoll bounds how long a level sleeps without a wake-up, as a safety net.
const idlePoll = time.Second

func (d *delayScheduler) run(ctx context.Context, qid int32) {
	delay := d.b.delays[qid]
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for sleepOrWake(ctx, timer, d.deliverDue(ctx, qid, delay), d.wake[qid]) {
	}
}

// sleepOrWake waits until wait passes or wake fires. It reports false once
// ctx is done. (With Go 1.23+ timers, Reset needs no draining.)
func sleepOrWake(ctx context.Context, t *time.Timer, wait time.Duration, wake <-chan struct{}) bool {
	t.Reset(wait)
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
	case <-wake:
	}
	return true
}

// deliverDue delivers every due message at the head of a level's queue and
// returns how long to sleep before the next one is due.
func (d *delayScheduler) deliverDue(ctx context.Context, qid int32, delay time.Duration) time.Duration {
	s := d.b.store
	for ctx.Err() == nil {
		off := d.offset(qid)
		if minOff := s.MinOffset(TopicSchedule, qid); off < minOff {
			off = minOff // retention removed what we had not delivered: nothing to do but move on
		}
		res, err := s.GetMessages(TopicSchedule, qid, off, 32, 4<<20, nil)
		if err != nil {
			d.b.log.Error("reading delayed messages failed", "level", qid+1, "err", err)
			return idlePoll
		}
		if res.MsgCount == 0 {
			next := res.NextBeginOffset
			res.Release()
			if next > off {
				d.advance(qid, next)
				continue
			}
			return idlePoll
		}
		delivered := off
		wait := time.Duration(0)
		for _, buf := range res.Buffers {
			rec, err := message.ParseStored(buf, false)
			if err != nil {
				d.b.log.Error("skipping corrupt delayed record", "level", qid+1, "offset", delivered, "err", err)
				delivered++
				continue
			}
			due := time.UnixMilli(rec.StoreTimestamp).Add(delay)
			if now := d.b.clock(); due.After(now) {
				wait = due.Sub(now)
				break
			}
			if err := d.b.unparkRecord(ctx, &rec, message.PropertyDelayLevel); err != nil {
				d.b.log.Warn("delivering delayed message failed; will retry", "level", qid+1, "err", err)
				wait = 100 * time.Millisecond
				break
			}
			delivered = rec.QueueOffset + 1
		}
		res.Release()
		if delivered > off {
			d.advance(qid, delivered)
		}
		if wait > 0 {
			return wait
		}
	}
	return idlePoll
}

// unparkRecord re-stores a parked record (delayed or timed) in its real
// topic and queue without the given properties, so consumers of that topic
// see it now.
func (b *Broker) unparkRecord(ctx context.Context, rec *message.StoredRecord, drop ...string) error {
	realTopic, _ := message.LookupProperty(rec.Properties, message.PropertyRealTopic)
	realQID, _ := message.LookupProperty(rec.Properties, message.PropertyRealQueueID)
	qid, err := strconv.Atoi(string(realQID))
	if len(realTopic) == 0 || err != nil {
		b.log.Error("dropping parked record without its real destination", "offset", rec.PhysicalOffset)
		return nil
	}
	m := message.StoredMessage{
		Topic:          string(realTopic),
		QueueID:        int32(qid),
		Flag:           rec.Flag,
		SysFlag:        rec.SysFlag,
		BornTimestamp:  rec.BornTimestamp,
		BornHost:       rec.BornHost,
		StoreHost:      b.storeHost,
		ReconsumeTimes: rec.ReconsumeTimes,
		Body:           rec.Body,
		Properties:     string(removeProperties(rec.Properties, drop...)),
	}
	if IsRetryTopic(m.Topic) || IsDLQTopic(m.Topic) {
		if _, _, err := b.topics.CreateIfAbsent(m.Topic, 1, PermRead|PermWrite, 0); err != nil {
			return err
		}
	}
	_, err = b.store.Append(ctx, &m)
	return err
}
