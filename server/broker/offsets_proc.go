package broker

import (
	"github.com/rocketgo/rocketgo/remoting"
	"github.com/rocketgo/rocketgo/remoting/wire"
	"github.com/rocketgo/rocketgo/server/transport"
)

// QUERY_CONSUMER_OFFSET: the committed offset, or — for a group that never
// committed on a queue that still holds its first message — 0, so that a
// new group on a young topic reads from the start, as upstream does. A group
// that asked to start from a timestamp is told "not found" instead, so its
// clients search by time as their users intended (upstream would hand them
// offset 0 on a young topic).
func (b *Broker) processQueryConsumerOffset(rc *transport.RequestContext, req *remoting.Command) {
	var h remoting.QueryConsumerOffsetRequestHeader
	if !decodeHeader(rc, req, &h) {
		return
	}
	if off, ok := b.offsets.Query(h.ConsumerGroup, h.Topic, h.QueueID); ok {
		replyHeader(rc, req, &remoting.OffsetResponseHeader{Offset: off}, nil)
		return
	}
	fromTimestamp := b.consumers.ConsumeFromWhere(h.ConsumerGroup) == wire.ConsumeFromTimestamp
	if h.SetZeroIfNotFound && !fromTimestamp && b.store.MinOffset(h.Topic, h.QueueID) <= 0 {
		replyHeader(rc, req, &remoting.OffsetResponseHeader{Offset: 0}, nil)
		return
	}
	resp := remoting.NewResponse(req, remoting.QueryNotFound, "Not found, maybe this group consumer boot first")
	resp.SetHeader(&remoting.OffsetResponseHeader{Offset: -1})
	rc.Reply(resp)
}

func (b *Broker) processUpdateConsumerOffset(rc *transport.RequestContext, req *remoting.Command) {
	var h remoting.UpdateConsumerOffsetRequestHeader
	if !decodeHeader(rc, req, &h) {
		return
	}
	if _, ok := b.topics.Get(h.Topic); !ok {
		reply(rc, req, remoting.TopicNotExist, "topic "+h.Topic+" does not exist")
		return
	}
	b.offsets.Commit(h.ConsumerGroup, h.Topic, h.QueueID, h.CommitOffset)
	reply(rc, req, remoting.Success, "")
}

// The offset queries below always carry ext "offset", even for unknown
// queues: the Go client ignores the response code and parses it.

func (b *Broker) processGetMaxOffset(rc *transport.RequestContext, req *remoting.Command) {
	var h remoting.GetMaxOffsetRequestHeader
	if !decodeHeader(rc, req, &h) {
		return
	}
	replyHeader(rc, req, &remoting.OffsetResponseHeader{Offset: b.store.MaxOffset(h.Topic, h.QueueID)}, nil)
}

func (b *Broker) processGetMinOffset(rc *transport.RequestContext, req *remoting.Command) {
	var h remoting.QueueRequestHeader
	if !decodeHeader(rc, req, &h) {
		return
	}
	replyHeader(rc, req, &remoting.OffsetResponseHeader{Offset: b.store.MinOffset(h.Topic, h.QueueID)}, nil)
}

func (b *Broker) processSearchOffset(rc *transport.RequestContext, req *remoting.Command) {
	var h remoting.SearchOffsetRequestHeader
	if !decodeHeader(rc, req, &h) {
		return
	}
	replyHeader(rc, req, &remoting.OffsetResponseHeader{Offset: b.store.OffsetByTime(h.Topic, h.QueueID, h.Timestamp)}, nil)
}

func (b *Broker) processEarliestStoreTime(rc *transport.RequestContext, req *remoting.Command) {
	var h remoting.QueueRequestHeader
	if !decodeHeader(rc, req, &h) {
		return
	}
	ts, err := b.store.EarliestStoreTime(h.Topic, h.QueueID)
	if err != nil {
		resp := remoting.NewResponse(req, remoting.SystemError, err.Error())
		resp.SetHeader(&remoting.GetEarliestMsgStoretimeResponseHeader{Timestamp: -1})
		rc.Reply(resp)
		return
	}
	replyHeader(rc, req, &remoting.GetEarliestMsgStoretimeResponseHeader{Timestamp: ts}, nil)
}
