package message

import "errors"

// Request/reply (RocketMQ 4.6+ "RPC"): a requester sends a message carrying
// CORRELATION_ID, REPLY_TO_CLIENT (its client id) and TTL; the broker adds
// CLUSTER when it stores it. The consumer answers with NewReply, which
// targets "<cluster>_REPLY_TOPIC"; the producer sends messages whose
// MSG_TYPE is "reply" with SEND_REPLY_MESSAGE_V2 and the broker pushes them
// to the requesting client's connection.

const (
	// MsgTypeReply is the MSG_TYPE value of a reply (upstream
	// MixAll.REPLY_MESSAGE_FLAG).
	MsgTypeReply = "reply"
	// ReplyTopicSuffix follows "<cluster>_" in the reply topic (upstream
	// MixAll.REPLY_TOPIC_POSTFIX).
	ReplyTopicSuffix = "REPLY_TOPIC"
)

// ErrNotRequest: NewReply was given a message that is not a request, or
// one that lost what a reply needs (CLUSTER, CORRELATION_ID or
// REPLY_TO_CLIENT).
var ErrNotRequest = errors.New("message: not a request message")

// ReplyTopic returns the reply topic of a cluster: "<cluster>_REPLY_TOPIC".
func ReplyTopic(cluster string) string { return cluster + "_" + ReplyTopicSuffix }

// IsReply reports whether m is a reply (MSG_TYPE is "reply").
func IsReply(m *Message) bool {
	if m == nil {
		return false
	}
	v, ok := m.Property(PropertyMsgType)
	return ok && v == MsgTypeReply
}

// NewReply builds the reply to a received request message, as upstream's
// MessageUtil.createReplyMessage does: topic "<CLUSTER>_REPLY_TOPIC",
// MSG_TYPE "reply", and CORRELATION_ID, REPLY_TO_CLIENT and TTL copied from
// the request. Send it with the producer's SendSync (or SendAsync).
//
// Upstream only requires CLUSTER; NewReply also requires CORRELATION_ID and
// REPLY_TO_CLIENT, without which the broker could not deliver the reply, so
// the mistake surfaces here rather than as a broker error. Failures match
// ErrNotRequest (or ErrNilMessage for a nil request).
func NewReply(request *MessageExt, body []byte) (*Message, error) {
	if request == nil {
		return nil, ErrNilMessage
	}
	cluster, _ := request.Property(PropertyCluster)
	corr, _ := request.Property(PropertyCorrelationID)
	to, _ := request.Property(PropertyReplyToClient)
	switch {
	case cluster == "":
		return nil, errors.Join(ErrNotRequest, errors.New("message: request has no "+PropertyCluster+" property"))
	case corr == "":
		return nil, errors.Join(ErrNotRequest, errors.New("message: request has no "+PropertyCorrelationID+" property"))
	case to == "":
		return nil, errors.Join(ErrNotRequest, errors.New("message: request has no "+PropertyReplyToClient+" property"))
	}
	m := New(ReplyTopic(cluster), body)
	m.SetProperty(PropertyMsgType, MsgTypeReply)
	m.SetProperty(PropertyCorrelationID, corr)
	m.SetProperty(PropertyReplyToClient, to)
	if ttl, ok := request.Property(PropertyMessageTTL); ok {
		m.SetProperty(PropertyMessageTTL, ttl)
	}
	return m, nil
}

// NewMessageExt builds a received message from its parts; properties is the
// wire encoding (key 0x01 value 0x02 ...). Clients use it for messages that
// arrive outside a stored-record body, such as pushed replies.
func NewMessageExt(topic string, body []byte, properties string) *MessageExt {
	m := &MessageExt{Topic: topic, Body: body, props: properties}
	if id, ok := m.Property(PropertyUniqKey); ok {
		m.MsgID = id
	}
	return m
}
