package broker

import (
	"context"
	"net/netip"
	"strconv"
	"time"

	"github.com/rocketgo/rocketgo/server/transport"

	"github.com/rocketgo/rocketgo/message"
	"github.com/rocketgo/rocketgo/remoting"
	"github.com/rocketgo/rocketgo/server/store"
)

// replyPushTimeout bounds the PUSH_REPLY_MESSAGE_TO_CLIENT call to the
// requester, as upstream's Broker2Client.callClient (10 s).
const replyPushTimeout = 10 * time.Second

// processReply serves SEND_REPLY_MESSAGE (324) and SEND_REPLY_MESSAGE_V2
// (325), following upstream's ReplyMessageProcessor: the reply is pushed to
// the requesting client (REPLY_TO_CLIENT names its client id) over that
// client's own connection, and stored in the reply topic as well (upstream's
// storeReplyMessageEnable, default true). The answer's code is the push's
// outcome: SYSTEM_ERROR when the requester is not connected here or did not
// accept the reply; the store only adds the msgId and offset.
//
// It is registered with Handle, not HandleInline, and the push additionally
// runs on its own goroutine: it waits for the requester's answer, which
// must never hold up a network event loop or a worker.
func (b *Broker) processReply(rc *transport.RequestContext, req *remoting.Command) {
	if b.isSlave() {
		reply(rc, req, remoting.ServiceNotAvailable, b.slaveRemark())
		return
	}
	h := new(remoting.SendMessageRequestHeader)
	if !decodeHeader(rc, req, h) {
		return
	}
	b.goRequest(func() { b.sendReply(rc, req, h) })
}

func (b *Broker) sendReply(rc *transport.RequestContext, req *remoting.Command, h *remoting.SendMessageRequestHeader) {
	t, queueID, ok := b.sendDestination(rc, req, h)
	if !ok {
		return
	}
	props, err := b.storedPropertiesOf(h.Properties)
	if err != nil {
		reply(rc, req, remoting.MessageIllegal, err.Error())
		return
	}
	bornHost := remoteAddrPort(rc.Conn().RemoteAddr())

	resp := remoting.NewResponse(req, remoting.Success, "")
	rh := remoting.SendMessageResponseHeader{
		MsgID:   "0", // upstream answers "0" when the reply is not stored
		QueueID: queueID, MsgRegion: "DefaultRegion", TraceOn: "true",
	}
	if ok, why := b.pushReply(h, req.Body, bornHost); !ok {
		resp.Code, resp.Remark = remoting.SystemError, why
	}

	// Store the reply whatever the push gave, as upstream does: the reply
	// topic is where a late or restarted requester can still look for it.
	// An empty body cannot be stored (and is only a push then); the
	// official Go client's CreateReplyMessage sends such replies.
	if len(req.Body) == 0 || !b.live.storeReply.Load() {
		resp.SetHeader(&rh)
		rc.Reply(resp)
		return
	}
	m := message.StoredMessage{
		Topic: t.TopicName, QueueID: queueID, Flag: h.Flag, SysFlag: h.SysFlag,
		BornTimestamp: h.BornTimestamp, BornHost: bornHost, StoreHost: b.storeHost,
		ReconsumeTimes: h.ReconsumeTimes, Properties: props, Body: req.Body,
	}
	start := time.Now()
	b.store.AppendAsync(&m, func(res store.AppendResult, err error) {
		if err != nil {
			b.stats.putFailure()
			b.log.Warn("storing a reply message failed", "topic", m.Topic, "err", err)
		} else {
			b.storedSent(m.Topic, MessageNormal, 1, res, start)
			rh.MsgID = message.OffsetMsgID(b.storeHost, res.PhysicalOffset)
			rh.QueueOffset = res.QueueOffset
		}
		resp.SetHeader(&rh)
		rc.Reply(resp)
	})
}

// pushReply sends the reply to the client named by REPLY_TO_CLIENT and
// reports whether it accepted it, with upstream's remark when not.
func (b *Broker) pushReply(h *remoting.SendMessageRequestHeader, body []byte, bornHost netip.AddrPort) (bool, string) {
	props := []byte(h.Properties)
	to, ok := message.LookupProperty(props, message.PropertyReplyToClient)
	if !ok || len(to) == 0 {
		return false, "reply message properties[" + message.PropertyReplyToClient + "] is null"
	}
	clientID := string(to)
	ch, ok := b.producers.FindChannel(clientID)
	conn, isConn := ch.(*transport.Conn)
	if !ok || !isConn {
		b.log.Debug("reply for a client not connected here", "client", clientID)
		return false, "push reply message fail, channel of <" + clientID + "> not found."
	}
	ph := &remoting.ReplyMessageRequestHeader{
		ProducerGroup: h.ProducerGroup, Topic: h.Topic, DefaultTopic: h.DefaultTopic,
		DefaultTopicQueueNums: h.DefaultTopicQueueNums, QueueID: h.QueueID, SysFlag: h.SysFlag,
		BornTimestamp: h.BornTimestamp, Flag: h.Flag, ReconsumeTimes: h.ReconsumeTimes, UnitMode: h.UnitMode,
		BornHost: bornHost.String(), StoreHost: b.addr, StoreTimestamp: time.Now().UnixMilli(),
	}
	pushProps := make([]byte, 0, len(props)+40)
	pushProps = append(pushProps, props...)
	if len(pushProps) > 0 && pushProps[len(pushProps)-1] != message.PropertySeparator {
		pushProps = append(pushProps, message.PropertySeparator)
	}
	ph.Properties = string(message.AppendProperty(pushProps, message.PropertyPushReplyTime, strconv.FormatInt(ph.StoreTimestamp, 10)))
	ctx, cancel := context.WithTimeout(context.Background(), replyPushTimeout)
	defer cancel()
	resp, err := conn.Invoke(ctx, remoting.NewRequest(remoting.PushReplyMessageToClient, ph, body))
	if err != nil {
		b.log.Debug("pushing a reply failed", "client", clientID, "remote", conn.String(), "err", err)
		return false, "push reply message to " + clientID + " fail."
	}
	if resp.Code != remoting.Success {
		b.log.Debug("client refused a reply", "client", clientID, "code", resp.Code, "remark", resp.Remark)
		return false, "push reply message to " + clientID + " fail."
	}
	return true, ""
}
