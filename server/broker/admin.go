package broker

import (
	"encoding/json"
	"strings"
	"sync/atomic"

	"github.com/rocketgo/rocketgo/server/transport"

	"github.com/rocketgo/rocketgo/remoting"
	"github.com/rocketgo/rocketgo/remoting/wire"
)

// UPDATE_AND_CREATE_TOPIC.
func (b *Broker) processCreateTopic(rc *transport.RequestContext, req *remoting.Command) {
	var h remoting.CreateTopicRequestHeader
	if !decodeHeader(rc, req, &h) {
		return
	}
	if h.Topic == h.DefaultTopic || h.Topic == b.cfg.BrokerClusterName {
		reply(rc, req, remoting.SystemError, "the topic["+h.Topic+"] is conflict with system topic")
		return
	}
	t := wire.TopicConfig{
		TopicName: h.Topic, ReadQueueNums: h.ReadQueueNums, WriteQueueNums: h.WriteQueueNums,
		Perm: h.Perm, TopicFilterType: h.TopicFilterType, TopicSysFlag: h.TopicSysFlag, Order: h.Order,
		Attributes: parseAttributes(h.Attributes),
	}
	if err := b.topics.Update(t); err != nil {
		reply(rc, req, errorCode(err), err.Error())
		return
	}
	b.whenRegistered(func() { reply(rc, req, remoting.Success, "") })
}

// parseAttributes reads upstream's attribute syntax "+k=v,+k2=v2" (a
// leading '-' deletes a key, which means nothing on creation).
func parseAttributes(s string) map[string]string {
	attrs := map[string]string{}
	for _, item := range strings.Split(s, ",") {
		item = strings.TrimSpace(item)
		if !strings.HasPrefix(item, "+") {
			continue
		}
		if k, v, ok := strings.Cut(item[1:], "="); ok && k != "" {
			attrs[k] = v
		}
	}
	return attrs
}

// DELETE_TOPIC_IN_BROKER removes the topic, its queues and its offsets.
func (b *Broker) processDeleteTopic(rc *transport.RequestContext, req *remoting.Command) {
	var h remoting.DeleteTopicRequestHeader
	if !decodeHeader(rc, req, &h) {
		return
	}
	if err := b.topics.Delete(h.Topic); err != nil {
		reply(rc, req, remoting.SystemError, err.Error())
		return
	}
	if err := b.store.DeleteTopic(h.Topic); err != nil {
		b.log.Warn("deleting topic files failed", "topic", h.Topic, "err", err)
	}
	b.offsets.DeleteTopic(h.Topic)
	b.pullOffsets.DeleteFunc(func(k pullKey, _ *atomic.Int64) bool { return k.topic == h.Topic })
	b.stats.forgetTopic(h.Topic)
	b.observer.TopicDeleted(h.Topic)
	b.requestRegister()
	reply(rc, req, remoting.Success, "")
}

// GET_ALL_TOPIC_CONFIG answers upstream's TopicConfigSerializeWrapper.
func (b *Broker) processGetAllTopicConfig(rc *transport.RequestContext, req *remoting.Command) {
	topics, version := b.topics.Snapshot()
	b.replyJSON(rc, req, topicsFile{TopicConfigTable: topics, DataVersion: version})
}

// UPDATE_AND_CREATE_SUBSCRIPTIONGROUP: the body is the group's JSON config.
func (b *Broker) processUpdateGroup(rc *transport.RequestContext, req *remoting.Command) {
	g := DefaultGroupConfig("")
	if err := json.Unmarshal(req.Body, &g); err != nil || g.GroupName == "" {
		reply(rc, req, remoting.InvalidParameter, "bad subscription group body")
		return
	}
	if err := b.groups.Update(g); err != nil {
		reply(rc, req, errorCode(err), err.Error())
		return
	}
	reply(rc, req, remoting.Success, "")
}

func (b *Broker) processGetAllGroups(rc *transport.RequestContext, req *remoting.Command) {
	groups, version := b.groups.Snapshot()
	b.replyJSON(rc, req, groupsFile{SubscriptionGroupTable: groups, DataVersion: version})
}

func (b *Broker) processDeleteGroup(rc *transport.RequestContext, req *remoting.Command) {
	group, _ := req.Ext.Get("groupName")
	if group == "" {
		reply(rc, req, remoting.InvalidParameter, "groupName is required")
		return
	}
	if err := b.groups.Delete(group); err != nil {
		reply(rc, req, remoting.SystemError, err.Error())
		return
	}
	reply(rc, req, remoting.Success, "")
}

// INVOKE_BROKER_TO_RESET_OFFSET moves a group's offsets on a topic to the
// first message stored at or after a timestamp (back-tracking). Without
// isForce an offset only moves backwards. The broker commits the new offsets
// itself, so the reset holds for consumers that start later, and tells live
// members with RESET_CONSUMER_CLIENT_OFFSET.
func (b *Broker) processResetOffset(rc *transport.RequestContext, req *remoting.Command) {
	var h remoting.ResetOffsetRequestHeader
	if !decodeHeader(rc, req, &h) {
		return
	}
	t, ok := b.topics.Get(h.Topic)
	if !ok {
		reply(rc, req, remoting.TopicNotExist, "topic "+h.Topic+" does not exist")
		return
	}
	table := map[wire.MessageQueue]int64{}
	for qid := int32(0); qid < int32(t.ReadQueueNums); qid++ {
		target := b.store.OffsetByTime(h.Topic, qid, h.Timestamp)
		if h.Timestamp < 0 { // -1 means "to the end"
			target = b.store.MaxOffset(h.Topic, qid)
		}
		if cur, ok := b.offsets.Query(h.Group, h.Topic, qid); ok && !h.IsForce && cur < target {
			target = cur
		}
		b.offsets.Commit(h.Group, h.Topic, qid, target)
		table[wire.MessageQueue{Topic: h.Topic, BrokerName: b.cfg.BrokerName, QueueID: qid}] = target
	}
	body := wire.EncodeOffsetTable(table)
	for _, ch := range b.consumers.Channels(h.Group) {
		if c, ok := ch.(*transport.Conn); ok {
			cmd := remoting.NewRequest(remoting.ResetConsumerClientOffset, &h, body)
			if err := c.InvokeOneway(rc.Context(), cmd); err != nil {
				b.log.Debug("reset offset notification failed", "remote", c.String(), "err", err)
			}
		}
	}
	replyHeader(rc, req, nil, body)
}
