package broker

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"strings"
	"time"

	"github.com/rocketgo/rocketgo/remoting/wire"

	"github.com/rocketgo/rocketgo/server/transport"

	"github.com/rocketgo/rocketgo/message"
	"github.com/rocketgo/rocketgo/remoting"
	"github.com/rocketgo/rocketgo/server/store"
)

// maxPropertiesLength is the largest property string a record can hold
// (its length is an int16).
const maxPropertiesLength = 32767

// processSend serves SEND_MESSAGE, SEND_MESSAGE_V2 and SEND_BATCH_MESSAGE.
// It runs on the network event loop, which must never wait for the store:
// enqueueSend (fastfailure.go) appends inline only when the append can take
// the commit-log lock at once and needs no new file, and otherwise queues
// the send for a send worker, where a store that stalls slows the workers,
// never the loop, and queued sends can be shed with SYSTEM_BUSY. The append
// itself is asynchronous — under SYNC_FLUSH the store calls back once a
// group commit covers the message — so nothing waits for the disk.
func (b *Broker) processSend(rc *transport.RequestContext, req *remoting.Command) {
	if b.isSlave() {
		// As upstream's store, which refuses puts on a slave; clients retry
		// SERVICE_NOT_AVAILABLE on another broker.
		reply(rc, req, remoting.ServiceNotAvailable, b.slaveRemark())
		return
	}
	h := new(remoting.SendMessageRequestHeader)
	if !decodeHeader(rc, req, h) {
		return
	}
	b.enqueueSend(rc, req, h)
}

// sendDestination checks a send's (or reply's) topic, body size and queue
// id, answering the request itself when one is wrong, and returns the
// topic and the queue to store into (a negative queue id picks one).
func (b *Broker) sendDestination(rc *transport.RequestContext, req *remoting.Command, h *remoting.SendMessageRequestHeader) (wire.TopicConfig, int32, bool) {
	t, code, remark := b.sendTarget(h)
	if code != remoting.Success {
		reply(rc, req, code, remark)
		return t, 0, false
	}
	if limit := b.live.maxMessageSize.Load(); int64(len(req.Body)) > limit {
		reply(rc, req, remoting.MessageIllegal, fmt.Sprintf("message body size %d exceeds maxMessageSize %d", len(req.Body), limit))
		return t, 0, false
	}
	queueID := h.QueueID
	if queueID < 0 {
		queueID = rand.Int32N(int32(max(t.WriteQueueNums, 1)))
	}
	if queueID >= t.QueueNums() {
		reply(rc, req, remoting.InvalidParameter, fmt.Sprintf("queueId %d out of range: topic %s has %d queues", queueID, h.Topic, t.QueueNums()))
		return t, 0, false
	}
	return t, queueID, true
}

// send serves a send on a worker or, with noWait, on the event loop; then it
// reports false, having answered nothing, when the store would have had to
// wait (store.ErrWouldBlock), and the caller queues the send for a worker.
// start is when serving it began (the caller's clock read, reused for the
// put latency).
func (b *Broker) send(rc *transport.RequestContext, req *remoting.Command, h *remoting.SendMessageRequestHeader, noWait bool, start time.Time) bool {
	batch := req.Code == remoting.SendBatchMessage || h.Batch
	t, queueID, ok := b.sendDestination(rc, req, h)
	if !ok {
		return true
	}
	if b.ctl != nil && waitStoreMsgOK(h.Properties) && b.ha.inSyncReplicas() < b.cfg.MinInSyncReplicas {
		// Upstream's IN_SYNC_REPLICAS_NOT_ENOUGH: refused before storing.
		reply(rc, req, remoting.SystemError, "in-sync replicas not enough")
		return true
	}
	if len(req.Body) == 0 {
		reply(rc, req, remoting.MessageIllegal, "message body is empty")
		return true
	}
	template := message.StoredMessage{
		Topic:          t.TopicName,
		QueueID:        queueID,
		Flag:           h.Flag,
		SysFlag:        h.SysFlag,
		BornTimestamp:  h.BornTimestamp,
		BornHost:       remoteAddrPort(rc.Conn().RemoteAddr()),
		StoreHost:      b.storeHost,
		ReconsumeTimes: h.ReconsumeTimes,
	}
	if batch {
		return b.sendBatch(rc, req, h, template, noWait, start)
	}
	return b.sendOne(rc, req, h, template, noWait, start)
}

// sendTarget validates the topic of a send and finds (or auto-creates) its
// configuration. Messages for a retry topic that exhausted their retries
// are redirected to the group's dead-letter topic.
func (b *Broker) sendTarget(h *remoting.SendMessageRequestHeader) (wire.TopicConfig, int16, string) {
	if b.live.brokerPermission.Load()&PermWrite == 0 {
		return wire.TopicConfig{}, remoting.NoPermission, "the broker[" + b.cfg.BrokerName + "] sending message is forbidden"
	}
	if err := ValidateTopicName(h.Topic); err != nil {
		return wire.TopicConfig{}, remoting.InvalidParameter, err.Error()
	}
	if IsSendForbidden(h.Topic) || h.Topic == TopicAutoCreate {
		return wire.TopicConfig{}, remoting.NoPermission, "sending message to topic[" + h.Topic + "] is forbidden"
	}
	if IsRetryTopic(h.Topic) {
		return b.retryTarget(h)
	}
	t, ok := b.topics.Get(h.Topic)
	if !ok {
		var created bool
		var err error
		t, created, err = b.topics.CreateOnSend(h.Topic, h.DefaultTopic, int(h.DefaultTopicQueueNums))
		if err != nil {
			return wire.TopicConfig{}, errorCode(err), fmt.Sprintf("topic[%s] not exist, apply first please! (%v)", h.Topic, err)
		}
		if created {
			b.log.Info("auto-created topic on send", "topic", h.Topic, "queues", t.WriteQueueNums)
			b.requestRegister()
		}
	}
	if !t.Writable() {
		return wire.TopicConfig{}, remoting.NoPermission, "the topic[" + h.Topic + "] sending message is forbidden"
	}
	return t, remoting.Success, ""
}

// retryTarget handles a message a client re-sends to %RETRY%<group> itself
// (what Java does when CONSUMER_SEND_MSG_BACK fails): past the group's
// maximum reconsume count it belongs in %DLQ%<group>.
func (b *Broker) retryTarget(h *remoting.SendMessageRequestHeader) (wire.TopicConfig, int16, string) {
	group := strings.TrimPrefix(h.Topic, RetryGroupTopicPrefix)
	gcfg, err := b.groups.Find(group)
	if err != nil {
		return wire.TopicConfig{}, remoting.SubscriptionGroupNotExist, err.Error()
	}
	maxTimes := int32(gcfg.RetryMaxTimes)
	if h.MaxReconsumeTimes > 0 {
		maxTimes = h.MaxReconsumeTimes
	}
	topic, queues := h.Topic, max(gcfg.RetryQueueNums, 1)
	if h.ReconsumeTimes > maxTimes {
		topic, queues = DLQTopic(group), 1
		h.QueueID = 0
	}
	t, created, err := b.topics.CreateIfAbsent(topic, queues, PermRead|PermWrite, 0)
	if err != nil {
		return wire.TopicConfig{}, errorCode(err), err.Error()
	}
	if created {
		b.requestRegister()
	}
	h.Topic = topic
	return t, remoting.Success, ""
}

// storedProperties completes a message's properties as the broker stores
// them: a UNIQ_KEY when the client sent none (ons and batch inner messages
// carry none) and the CLUSTER name.
func (b *Broker) storedProperties(props []byte) (string, error) {
	if len(props) > maxPropertiesLength {
		return "", fmt.Errorf("properties length %d exceeds %d", len(props), maxPropertiesLength)
	}
	var sb strings.Builder
	b.growProperties(&sb, len(props))
	sb.Write(props)
	return b.completeProperties(&sb)
}

// storedPropertiesOf is storedProperties for the header's string, copied
// once into the buffer that becomes the stored string.
func (b *Broker) storedPropertiesOf(props string) (string, error) {
	if len(props) > maxPropertiesLength {
		return "", fmt.Errorf("properties length %d exceeds %d", len(props), maxPropertiesLength)
	}
	var sb strings.Builder
	b.growProperties(&sb, len(props))
	sb.WriteString(props)
	return b.completeProperties(&sb)
}

// growProperties sizes sb for n bytes of the client's properties and what
// completeProperties appends. A strings.Builder, not make([]byte, 0, n):
// its buffer is not zeroed before the copy overwrites it, and a trace
// message's properties (a KEYS list of hundreds of ids) are ~17 KB.
//
// At most completeProperties adds a separator, a UNIQ_KEY pair (8 + 32 + 2
// bytes) and the CLUSTER pair (7 + the name + 2): 52 bytes and the name.
func (b *Broker) growProperties(sb *strings.Builder, n int) {
	sb.Grow(n + len(b.cfg.BrokerClusterName) + 52)
}

// completeProperties appends what storedProperties adds to sb, which holds
// the client's properties, and returns the whole string. The builder's
// String shares its bytes (no copy), and the appends fit in the room
// growProperties made, so the client's part read below stays in place.
func (b *Broker) completeProperties(sb *strings.Builder) (string, error) {
	props := sb.String() // the client's part, for the lookups
	if len(props) > 0 && props[len(props)-1] != message.PropertySeparator {
		sb.WriteByte(message.PropertySeparator)
	}
	if _, ok := message.LookupPropertyString(props, message.PropertyUniqKey); !ok {
		writeProperty(sb, message.PropertyUniqKey, b.uniq.Next())
	}
	if _, ok := message.LookupPropertyString(props, message.PropertyCluster); !ok {
		writeProperty(sb, message.PropertyCluster, b.cfg.BrokerClusterName)
	}
	if sb.Len() > maxPropertiesLength {
		return "", fmt.Errorf("properties length %d exceeds %d", sb.Len(), maxPropertiesLength)
	}
	return sb.String(), nil
}

// writeProperty is message.AppendProperty for a strings.Builder.
func writeProperty(sb *strings.Builder, key, value string) {
	sb.WriteString(key)
	sb.WriteByte(message.NameValueSeparator)
	sb.WriteString(value)
	sb.WriteByte(message.PropertySeparator)
}

// prepareOne sets m's properties to those stored for a single send and
// moves a delayed, timed or half message to its broker-owned topic: all a
// send does to the message before the store encodes it.
func (b *Broker) prepareOne(h *remoting.SendMessageRequestHeader, m *message.StoredMessage) (int16, string) {
	props, err := b.storedPropertiesOf(h.Properties)
	if err != nil {
		return remoting.MessageIllegal, err.Error()
	}
	m.Properties = props
	return b.rewriteSpecial(m)
}

func (b *Broker) sendOne(rc *transport.RequestContext, req *remoting.Command, h *remoting.SendMessageRequestHeader, m message.StoredMessage, noWait bool, start time.Time) bool {
	m.Body = req.Body
	kind := MessageNormal
	if b.observing {
		// The client's properties: what the broker adds names no kind.
		kind = messageKindOf(h.Properties)
	}
	topic := m.Topic
	// Read before prepareOne: it moves a half message to the half topic and
	// clears its transaction bits there.
	prepared := m.SysFlag&message.SysFlagTxMask == message.SysFlagTxPrepared
	if code, remark := b.prepareOne(h, &m); code != remoting.Success {
		reply(rc, req, code, remark)
		return true
	}
	var uniq string // the transaction id of a half message
	if prepared {
		// A substring of the stored properties: no copy of them.
		uniq, _ = message.LookupPropertyString(m.Properties, message.PropertyUniqKey)
	}
	done := func(res store.AppendResult, err error) {
		if err != nil {
			b.stats.putFailure()
			code, remark := appendErrorCode(err)
			reply(rc, req, code, remark)
			return
		}
		b.storedSent(topic, kind, 1, res, start)
		resp := remoting.NewResponse(req, appendStatusCode(res.Status), "")
		rh := remoting.SendMessageResponseHeader{
			MsgID:       message.OffsetMsgID(b.storeHost, res.PhysicalOffset),
			QueueID:     m.QueueID,
			QueueOffset: res.QueueOffset,
			MsgRegion:   "DefaultRegion",
			TraceOn:     "true",
		}
		rh.RecallHandle = b.recallHandleFor(&m, topic)
		if prepared {
			rh.TransactionID = uniq
		}
		if m.Topic != h.Topic {
			rh.QueueID = h.QueueID // a delayed or half message answers with the queue the producer chose
		}
		resp.SetHeader(&rh)
		b.replyStored(rc, resp, res.PhysicalOffset+int64(res.WroteBytes), m.Properties)
	}
	if noWait {
		// The event loop: nothing stored when the store would have waited.
		return b.store.TryAppendAsync(&m, done) == nil
	}
	b.store.AppendAsync(&m, done)
	return true
}

func (b *Broker) sendBatch(rc *transport.RequestContext, req *remoting.Command, h *remoting.SendMessageRequestHeader, tmpl message.StoredMessage, noWait bool, start time.Time) bool {
	if IsRetryTopic(tmpl.Topic) || IsDLQTopic(tmpl.Topic) {
		reply(rc, req, remoting.MessageIllegal, "batch message is not supported for retry topics")
		return true
	}
	var msgs []*message.StoredMessage
	err := message.DecodeBatch(req.Body, func(flag int32, body []byte, props []byte) error {
		if _, ok := message.LookupProperty(props, message.PropertyDelayLevel); ok {
			return errors.New("batch messages cannot carry a delay level")
		}
		p, err := b.storedProperties(props)
		if err != nil {
			return err
		}
		m := tmpl
		m.Flag, m.Body, m.Properties = flag, body, p
		msgs = append(msgs, &m)
		return nil
	})
	if err != nil || len(msgs) == 0 {
		reply(rc, req, remoting.MessageIllegal, fmt.Sprintf("bad batch body: %v", err))
		return true
	}
	kind := MessageNormal
	if b.observing {
		kind = messageKindOf(h.Properties)
	}
	done := func(res store.AppendResult, err error) {
		if err != nil {
			b.stats.putFailure()
			code, remark := appendErrorCode(err)
			reply(rc, req, code, remark)
			return
		}
		b.storedSent(tmpl.Topic, kind, len(msgs), res, start)
		// Records of a batch lie back to back in the log, so each one's
		// offset id follows from the first offset and the record sizes.
		ids := make([]byte, 0, len(msgs)*33)
		phy := res.PhysicalOffset
		for i, m := range msgs {
			if i > 0 {
				ids = append(ids, ',')
			}
			ids = message.AppendOffsetMsgID(ids, b.storeHost, phy)
			size, _ := message.StoredSize(m)
			phy += int64(size)
		}
		resp := remoting.NewResponse(req, appendStatusCode(res.Status), "")
		resp.SetHeader(&remoting.SendMessageResponseHeader{
			MsgID: string(ids), QueueID: tmpl.QueueID, QueueOffset: res.QueueOffset,
			MsgRegion: "DefaultRegion", TraceOn: "true",
		})
		b.replyStored(rc, resp, res.PhysicalOffset+int64(res.WroteBytes), h.Properties)
	}
	if noWait {
		return b.store.TryAppendBatchAsync(msgs, done) == nil
	}
	b.store.AppendBatchAsync(msgs, done)
	return true
}

// replyStored answers a send whose message is stored. A SYNC_MASTER first
// waits until a slave acknowledged the bytes up to end — parked in the HA
// master, never blocking the caller, which may be the network event loop —
// unless the producer set WAIT=false. A slave that times out or is missing
// turns the answer into FLUSH_SLAVE_TIMEOUT or SLAVE_NOT_AVAILABLE: still
// "stored" for the client, as upstream, with msgId and offsets.
func (b *Broker) replyStored(rc *transport.RequestContext, resp *remoting.Command, end int64, props string) {
	if b.currentRole().name != RoleSyncMaster || !waitStoreMsgOK(props) {
		rc.Reply(resp)
		return
	}
	b.ha.awaitReplica(end, func(code int16) {
		if code != remoting.Success {
			resp.Code = code
		}
		rc.Reply(resp)
	})
}

// waitStoreMsgOK reads the WAIT property as Java's isWaitStoreMsgOK does:
// absent means true.
func waitStoreMsgOK(props string) bool {
	v, ok := message.LookupPropertyString(props, message.PropertyWaitStoreMsgOK)
	return !ok || strings.EqualFold(v, "true")
}

func appendStatusCode(s store.AppendStatus) int16 {
	if s == store.FlushDiskTimeout {
		return remoting.FlushDiskTimeout
	}
	return remoting.Success
}

func appendErrorCode(err error) (int16, string) {
	switch {
	case errors.Is(err, store.ErrMessageTooBig), errors.Is(err, store.ErrInvalidMessage):
		return remoting.MessageIllegal, err.Error()
	case errors.Is(err, store.ErrDiskFull):
		return remoting.ServiceNotAvailable, "service not available now: disk full, " + err.Error()
	case errors.Is(err, store.ErrClosed):
		return remoting.ServiceNotAvailable, "service not available now: broker is shutting down"
	}
	return remoting.SystemError, err.Error()
}

// remoteAddrPort converts a connection's peer address for the BORNHOST field.
func remoteAddrPort(a net.Addr) netip.AddrPort {
	if tcp, ok := a.(*net.TCPAddr); ok {
		ap := tcp.AddrPort()
		return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
	}
	return netip.AddrPortFrom(netip.AddrFrom4([4]byte{}), 0)
}
