package broker

import (
	"strconv"
	"time"

	"github.com/rocketgo/rocketgo/message"
	"github.com/rocketgo/rocketgo/remoting"
	"github.com/rocketgo/rocketgo/server/store"
	"github.com/rocketgo/rocketgo/server/transport"
)

// Recall of timer messages, as RocketMQ 5.3.1+ (RECALL_MESSAGE, 370).
//
// A send parked in the timer topic (timer.go) is answered with a recall
// handle naming the message's topic, this broker group, its delivery time
// plus one millisecond, and its unique key (message.RecallHandle). Handing
// the handle back in RECALL_MESSAGE appends a recall marker: a record of the
// timer topic due at the handle's time and carrying TIMER_DEL_UNIQKEY
// "<topic>+<uniq key>". The timer scheduler reads markers like any timed
// record; the message a marker names is skipped when it falls due (one
// millisecond before the marker), so it is never delivered. Markers live
// in the commit log and the scheduler's progress does not pass a marker
// before its own due time, so a recall survives restarts, and reaches a
// slave, exactly as the timed message itself does.
//
// As upstream, the broker answers without looking the message up: a
// well-formed handle whose time is still ahead is SUCCESS (with the
// handle's message id) even when no such message exists, and a handle whose
// time has passed — the message was delivered — is ILLEGAL_OPERATION
// "recall failed, timestamp invalid". A recall arriving within the same
// millisecond as the delivery may come too late; it is then still answered
// SUCCESS, as upstream, whose timer wheel has a coarser grain still.

// recallTag tags recall markers (upstream RecallMessageProcessor's tag).
const recallTag = "_RECALL_TAG_"

// recallKey is what a marker's TIMER_DEL_UNIQKEY holds (upstream
// TimerMessageStore.buildDeleteKey).
func recallKey(topic, uniq string) string { return topic + "+" + uniq }

// recallKeyOf is the key that recalls a parked timed record.
func recallKeyOf(rec *message.StoredRecord) string {
	topic, _ := message.LookupProperty(rec.Properties, message.PropertyRealTopic)
	uniq, _ := message.LookupProperty(rec.Properties, message.PropertyUniqKey)
	return recallKey(string(topic), string(uniq))
}

// recallHandleFor is the handle a send answers with once m was parked for a
// later delivery under topic; "" for every other message. Messages bound
// for a retry topic have none (upstream SendMessageProcessor.attachRecallHandle).
func (b *Broker) recallHandleFor(m *message.StoredMessage, topic string) string {
	if m.Topic != TopicTimer || IsRetryTopic(topic) {
		return ""
	}
	props := []byte(m.Properties)
	due, _ := message.LookupProperty(props, message.PropertyTimerOutMS)
	ms, err := strconv.ParseInt(string(due), 10, 64)
	uniq, _ := message.LookupProperty(props, message.PropertyUniqKey)
	if err != nil || len(uniq) == 0 {
		return ""
	}
	return message.RecallHandle{Topic: topic, BrokerName: b.cfg.BrokerName, Timestamp: ms + 1, MsgID: string(uniq)}.String()
}

// processRecall serves RECALL_MESSAGE. The checks, their order, codes and
// remarks are upstream RecallMessageProcessor's.
func (b *Broker) processRecall(rc *transport.RequestContext, req *remoting.Command) {
	h := new(remoting.RecallMessageRequestHeader)
	if !decodeHeader(rc, req, h) {
		return
	}
	switch {
	case !b.cfg.RecallMessageEnable:
		reply(rc, req, remoting.NoPermission, "recall failed, operation is forbidden")
		return
	case b.isSlave():
		reply(rc, req, remoting.SlaveNotAvailable, "recall failed, broker service not available")
		return
	case b.live.brokerPermission.Load()&PermWrite == 0 && !b.cfg.AllowRecallWhenBrokerNotWriteable:
		reply(rc, req, remoting.ServiceNotAvailable, "recall failed, broker service not available")
		return
	}
	if _, ok := b.topics.Get(h.Topic); !ok {
		reply(rc, req, remoting.TopicNotExist, "recall failed, the topic["+h.Topic+"] not exist")
		return
	}
	handle, err := message.ParseRecallHandle(h.RecallHandle)
	switch {
	case err != nil:
		reply(rc, req, remoting.IllegalOperation, "recall handle is invalid")
		return
	case handle.Topic != h.Topic:
		reply(rc, req, remoting.IllegalOperation, "recall failed, topic not match")
		return
	case handle.BrokerName != b.cfg.BrokerName:
		reply(rc, req, remoting.IllegalOperation, "recall failed, broker service not available")
		return
	}
	if left := time.UnixMilli(handle.Timestamp).Sub(b.clock()); left <= 0 || left >= maxTimerDelay {
		reply(rc, req, remoting.IllegalOperation, "recall failed, timestamp invalid")
		return
	}
	if _, _, err := b.topics.CreateIfAbsent(TopicTimer, 1, PermRead|PermWrite, 0); err != nil {
		reply(rc, req, remoting.SystemError, "recall failed, execute error: "+err.Error())
		return
	}
	marker := b.recallMarker(rc, h, handle)
	b.store.AppendAsync(&marker, func(res store.AppendResult, err error) {
		if err != nil {
			b.log.Warn("appending a recall marker failed", "topic", handle.Topic, "msgId", handle.MsgID, "err", err)
			reply(rc, req, remoting.SystemError, "recall failed, execute error")
			return
		}
		resp := remoting.NewResponse(req, remoting.Success, "")
		resp.SetHeader(&remoting.RecallMessageResponseHeader{MsgID: handle.MsgID})
		resp.Ext.Set(message.PropertyMsgRegion, "DefaultRegion")
		if b.currentRole().name != RoleSyncMaster {
			rc.Reply(resp)
			return
		}
		// Wait for the slave as a send does, so the marker is as durable
		// as the message; a slave that is late or gone still leaves the
		// marker stored here, which upstream answers SUCCESS as well.
		b.ha.awaitReplica(res.PhysicalOffset+int64(res.WroteBytes), func(int16) { rc.Reply(resp) })
	})
}

// recallMarker is the record that cancels the message handle names.
func (b *Broker) recallMarker(rc *transport.RequestContext, h *remoting.RecallMessageRequestHeader, handle message.RecallHandle) message.StoredMessage {
	now := b.clock().UnixMilli()
	var props []byte
	props = message.AppendProperty(props, message.PropertyTags, recallTag)
	props = message.AppendProperty(props, message.PropertyRealTopic, handle.Topic)
	props = message.AppendProperty(props, message.PropertyRealQueueID, "0")
	props = message.AppendProperty(props, message.PropertyTimerOutMS, strconv.FormatInt(handle.Timestamp, 10))
	props = message.AppendProperty(props, message.PropertyTimerDelUniqKey, recallKey(handle.Topic, handle.MsgID))
	props = message.AppendProperty(props, message.PropertyUniqKey, handle.MsgID)
	props = message.AppendProperty(props, message.PropertyBornTimestamp, strconv.FormatInt(now, 10))
	if h.ProducerGroup != "" {
		props = message.AppendProperty(props, message.PropertyProducerGroup, h.ProducerGroup)
	}
	return message.StoredMessage{
		Topic:         TopicTimer,
		Body:          []byte("0"),
		Properties:    string(props),
		BornTimestamp: now,
		BornHost:      remoteAddrPort(rc.Conn().RemoteAddr()),
		StoreHost:     b.storeHost,
	}
}

// dropMarker forgets a recall marker that fell due: the message it named
// was skipped one millisecond earlier, or never existed.
func (t *timerScheduler) dropMarker(offset int64, key string) {
	delete(t.markers, offset)
	if t.recalled[key]--; t.recalled[key] <= 0 {
		delete(t.recalled, key)
	}
}
