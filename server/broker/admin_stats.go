package broker

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/rocketgo/rocketgo/server/transport"

	"github.com/rocketgo/rocketgo/message"
	"github.com/rocketgo/rocketgo/remoting"
	"github.com/rocketgo/rocketgo/remoting/wire"
)

// forwardTimeout bounds a broker→client call made for an admin tool
// (upstream waits 5–10 s).
const forwardTimeout = 10 * time.Second

// GET_CONSUMER_CONNECTION_LIST: who is in a consumer group.
func (b *Broker) processConsumerConnections(rc *transport.RequestContext, req *remoting.Command) {
	var h remoting.ConsumerGroupHeader
	if !decodeHeader(rc, req, &h) {
		return
	}
	cc, ok := b.consumers.Connections(h.ConsumerGroup, func(ch any) string {
		if c, ok := ch.(*transport.Conn); ok {
			return c.String()
		}
		return ""
	})
	if !ok {
		reply(rc, req, remoting.ConsumerNotOnline, "the consumer group["+h.ConsumerGroup+"] not online")
		return
	}
	b.replyJSON(rc, req, cc)
}

// GET_CONSUME_STATS: per queue, the broker's max offset, the group's
// committed offset and the store time of the last consumed message, so
// tools can show lag. The body uses fastjson's object-keyed map form.
func (b *Broker) processConsumeStats(rc *transport.RequestContext, req *remoting.Command) {
	group, _ := req.Ext.Get("consumerGroup")
	topicFilter, _ := req.Ext.Get("topic")
	if group == "" {
		reply(rc, req, remoting.InvalidParameter, "consumerGroup is required")
		return
	}
	topics, _ := b.topics.Snapshot()
	var entries []string
	var keys []wire.MessageQueue
	for name, t := range topics {
		if topicFilter != "" && name != topicFilter {
			continue
		}
		committed := b.offsets.Queues(group, name)
		if len(committed) == 0 {
			continue
		}
		for qid := int32(0); qid < int32(t.ReadQueueNums); qid++ {
			consumer, ok := committed[qid]
			if !ok {
				continue
			}
			last := int64(0)
			if consumer > 0 {
				last = b.storeTimeAt(name, qid, consumer-1)
			}
			keys = append(keys, wire.MessageQueue{Topic: name, BrokerName: b.cfg.BrokerName, QueueID: qid})
			entries = append(entries, fmt.Sprintf(`{"brokerOffset":%d,"consumerOffset":%d,"lastTimestamp":%d}`, b.store.MaxOffset(name, qid), consumer, last))
		}
	}
	if len(keys) == 0 {
		reply(rc, req, remoting.ConsumerNotOnline, "no consume offsets for group "+group)
		return
	}
	body := wire.EncodeQueueTable("offsetTable", keys, entries, `"consumeTps":0.0`)
	replyHeader(rc, req, nil, body)
}

// storeTimeAt is the store timestamp of the message at a queue offset, or 0.
func (b *Broker) storeTimeAt(topic string, qid int32, offset int64) int64 {
	res, err := b.store.GetMessages(topic, qid, offset, 1, 1<<20, nil)
	if err != nil {
		return 0
	}
	defer res.Release()
	if res.MsgCount == 0 {
		return 0
	}
	rec, err := message.ParseStored(res.Buffers[0], false)
	if err != nil {
		return 0
	}
	return rec.StoreTimestamp
}

// GET_CONSUMER_RUNNING_INFO and CONSUME_MESSAGE_DIRECTLY sent by an admin
// tool to the broker are relayed to the named client on its own connection,
// and its answer relayed back. CONSUME_MESSAGE_DIRECTLY carries the message
// (found by its offset id) as the body.
func (b *Broker) processForwardToConsumer(rc *transport.RequestContext, req *remoting.Command) {
	group, _ := req.Ext.Get("consumerGroup")
	clientID, _ := req.Ext.Get("clientId")
	ch, ok := b.consumers.ChannelOf(group, clientID)
	conn, isConn := ch.(*transport.Conn)
	if !ok || !isConn {
		reply(rc, req, remoting.SystemError, "the consumer <"+clientID+"> of group <"+group+"> is not online")
		return
	}
	fwd := remoting.NewRequest(req.Code, nil, nil)
	req.Ext.Range(func(k, v string) bool { fwd.Ext.Set(k, v); return true })
	if req.Code == remoting.ConsumeMessageDirectly {
		msgID, _ := req.Ext.Get("msgId")
		_, phy, err := message.ParseOffsetMsgID(msgID)
		if err != nil {
			reply(rc, req, remoting.InvalidParameter, "msgId must be an offset message id: "+err.Error())
			return
		}
		res, err := b.store.MessageAt(phy)
		if err != nil || res.MsgCount == 0 {
			if res != nil {
				res.Release()
			}
			reply(rc, req, remoting.SystemError, "no message at offset "+strconv.FormatInt(phy, 10))
			return
		}
		fwd.Body = append([]byte(nil), res.Buffers[0]...)
		res.Release()
	}
	ctx, cancel := context.WithTimeout(context.Background(), forwardTimeout)
	defer cancel()
	resp, err := conn.Invoke(ctx, fwd)
	if err != nil {
		reply(rc, req, remoting.SystemError, "forwarding to "+clientID+" failed: "+err.Error())
		return
	}
	out := remoting.NewResponse(req, resp.Code, resp.Remark)
	resp.Ext.Range(func(k, v string) bool { out.Ext.Set(k, v); return true })
	out.Body = resp.Body
	rc.Reply(out)
}

// GET_BROKER_RUNTIME_INFO: a KVTable of broker figures admin tools print.
func (b *Broker) processRuntimeInfo(rc *transport.RequestContext, req *remoting.Command) {
	_, version := b.topics.Snapshot()
	table := map[string]string{
		"brokerVersion":            strconv.Itoa(VersionOrdinal),
		"brokerVersionDesc":        "V5_3_3",
		"commitLogMinOffset":       strconv.FormatInt(b.store.MinPhysicalOffset(), 10),
		"commitLogMaxOffset":       strconv.FormatInt(b.store.MaxPhysicalOffset(), 10),
		"msgPutTotalTodayNow":      "0",
		"bootTimestamp":            strconv.FormatInt(b.started.UnixMilli(), 10),
		"runtime":                  time.Since(b.started).Round(time.Second).String(),
		"putMessageDistributeTime": "",
		"topicDataVersion":         strconv.FormatInt(version.Counter, 10),
		"brokerRole":               b.currentRole().name,
		"flushDiskType":            b.cfg.FlushDiskType,
	}
	b.replyJSON(rc, req, struct {
		Table map[string]string `json:"table"`
	}{table})
}
