package broker

import (
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/rocketgo/rocketgo/server/transport"

	"github.com/rocketgo/rocketgo/message"
	"github.com/rocketgo/rocketgo/remoting"
	"github.com/rocketgo/rocketgo/server/store"
)

// versionV3_4_9 is the first client version whose CONSUMER_SEND_MSG_BACK
// maxReconsumeTimes the broker honours (older clients leave it unset).
const versionV3_4_9 = 121

// processSendBack serves CONSUMER_SEND_MSG_BACK: a consumer failed a
// message, so a copy goes to %RETRY%<group> parked behind delay level
// 3 + reconsumeTimes (or the level the consumer chose) — or, once the
// message used up its retries or the consumer asked for it (level < 0), to
// %DLQ%<group>.
func (b *Broker) processSendBack(rc *transport.RequestContext, req *remoting.Command) {
	if b.isSlave() {
		reply(rc, req, remoting.ServiceNotAvailable, b.slaveRemark())
		return
	}
	var h remoting.ConsumerSendMsgBackRequestHeader
	if !decodeHeader(rc, req, &h) {
		return
	}
	g, err := b.groups.Find(h.Group)
	if err != nil {
		reply(rc, req, remoting.SubscriptionGroupNotExist, "subscription group not exist, "+h.Group)
		return
	}
	res, err := b.store.MessageAt(h.Offset)
	if err != nil || res.MsgCount == 0 {
		if res != nil {
			res.Release()
		}
		reply(rc, req, remoting.SystemError, "look message by offset failed, "+strconv.FormatInt(h.Offset, 10))
		return
	}
	rec, err := message.ParseStored(res.Buffers[0], false)
	if err != nil {
		res.Release()
		reply(rc, req, remoting.SystemError, "stored message at "+strconv.FormatInt(h.Offset, 10)+" is unreadable")
		return
	}
	props := append([]byte(nil), rec.Properties...)
	m := message.StoredMessage{
		Flag: rec.Flag, SysFlag: rec.SysFlag, BornTimestamp: rec.BornTimestamp, BornHost: rec.BornHost,
		StoreHost: b.storeHost, ReconsumeTimes: rec.ReconsumeTimes + 1, Body: append([]byte(nil), rec.Body...),
	}
	originTopic := string(rec.Topic)
	res.Release()

	if _, ok := message.LookupProperty(props, message.PropertyRetryTopic); !ok {
		props = setProperty(props, message.PropertyRetryTopic, originTopic)
	}
	originID := h.OriginMsgID
	if v, ok := message.LookupProperty(props, message.PropertyOriginMessageID); ok && len(v) > 0 {
		originID = string(v)
	}
	if originID == "" {
		if v, ok := message.LookupProperty(props, message.PropertyUniqKey); ok {
			originID = string(v)
		} else {
			originID = message.OffsetMsgID(b.storeHost, h.Offset)
		}
	}
	props = setProperty(props, message.PropertyOriginMessageID, originID)

	maxTimes := int32(g.RetryMaxTimes)
	if req.Version >= versionV3_4_9 && h.HasMaxReconsumeTimes {
		maxTimes = h.MaxReconsumeTimes
	}
	if rec.ReconsumeTimes >= maxTimes || h.DelayLevel < 0 {
		m.Topic, m.QueueID = DLQTopic(h.Group), 0
		props = removeProperties(props, message.PropertyDelayLevel)
		props = setProperty(props, message.PropertyDLQOriginTopic, originTopic)
		props = setProperty(props, message.PropertyDLQOriginMessageID, originID)
		if _, created, err := b.topics.CreateIfAbsent(m.Topic, 1, PermRead|PermWrite, 0); err != nil {
			reply(rc, req, remoting.SystemError, err.Error())
			return
		} else if created {
			b.requestRegister()
		}
	} else {
		level := h.DelayLevel
		if level == 0 {
			level = 3 + rec.ReconsumeTimes
		}
		queues := max(g.RetryQueueNums, 1)
		m.Topic, m.QueueID = RetryTopic(h.Group), rand.Int32N(int32(queues))
		if _, created, err := b.topics.CreateIfAbsent(m.Topic, queues, PermRead|PermWrite, 0); err != nil {
			reply(rc, req, remoting.SystemError, err.Error())
			return
		} else if created {
			b.requestRegister()
		}
		props = setProperty(props, message.PropertyDelayLevel, strconv.Itoa(int(level)))
	}
	m.Properties = string(props)
	if code, remark := b.rewriteSpecial(&m); code != remoting.Success {
		reply(rc, req, code, remark)
		return
	}
	toDLQ := IsDLQTopic(m.Topic)
	start := time.Now()
	b.store.AppendAsync(&m, func(res store.AppendResult, err error) {
		if err != nil {
			b.stats.putFailure()
			code, remark := appendErrorCode(err)
			reply(rc, req, code, remark)
			return
		}
		b.stats.put(m.Topic, 1, int(res.WroteBytes), time.Since(start))
		if toDLQ {
			b.observer.SentToDLQ(h.Group, originTopic)
		}
		reply(rc, req, appendStatusCode(res.Status), "")
	})
}
