package proxy

import (
	"fmt"
	"hash/crc32"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/rocketgo/rocketgo/message"
	"github.com/rocketgo/rocketgo/remoting"
	pb "github.com/rocketgo/rocketgo/server/proxy/v2pb"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// How the 5.x system properties map onto the remoting properties, as
// upstream's proxy maps them, so that either protocol reads what the other
// wrote:
//
//	message_id          UNIQ_KEY
//	tag                 TAGS
//	keys                KEYS (space separated)
//	message_group       __SHARDINGKEY (FIFO); SHARDING_KEY read too
//	delivery_timestamp  TIMER_DELIVER_MS (or DELAY / TIMER_DELAY_SEC read back)
//	trace_context       TRACE_CONTEXT
//	born_host           __BORNHOST (a host name; the record keeps the address)
//	born_timestamp      the record's born timestamp
//	message_type        TRANSACTION ⇔ TRAN_MSG, FIFO ⇔ message group,
//	                    DELAY ⇔ a delivery time
//
// Everything else in user_properties is a user property both ways.

// systemKeys are the remoting properties that never show as 5.x user
// properties.
var systemKeys = map[string]bool{
	message.PropertyKeys: true, message.PropertyTags: true, message.PropertyWaitStoreMsgOK: true,
	message.PropertyDelayLevel: true, message.PropertyRetryTopic: true, message.PropertyRealTopic: true,
	message.PropertyRealQueueID: true, message.PropertyTransactionPrepared: true, message.PropertyProducerGroup: true,
	message.PropertyMinOffset: true, message.PropertyMaxOffset: true, message.PropertyUniqKey: true,
	message.PropertyReconsumeTime: true, message.PropertyMaxReconsumeTimes: true, message.PropertyMsgRegion: true,
	message.PropertyTraceSwitch: true, message.PropertyConsumeStartTime: true, message.PropertyTransactionPreparedOffset: true,
	message.PropertyTransactionID: true, message.PropertyTransactionCheckTimes: true, message.PropertyPopCK: true,
	message.PropertyPopCKOffset: true, message.PropertyFirstPopTime: true, message.PropertyShardingKey: true,
	message.PropertyShardingKeyGo: true, message.PropertyTraceContext: true, message.PropertyTimerDelaySec: true,
	message.PropertyTimerDeliverMS: true, message.PropertyTimerDelayMS: true, message.PropertyTimerEnqueueMS: true,
	message.PropertyTimerDequeueMS: true, message.PropertyTimerRollTimes: true, message.PropertyTimerOutMS: true,
	message.PropertyTimerDelUniqKey: true, message.PropertyTimerDelayLevel: true, message.PropertyBornHost: true,
	message.PropertyBornTimestamp: true, message.PropertyCheckImmunityTimeInSeconds: true, message.PropertyInnerNum: true,
	message.PropertyInnerBase: true, message.PropertyExtendUniqInfo: true, message.PropertyOriginMessageID: true,
	message.PropertyDLQOriginTopic: true, message.PropertyDLQOriginMessageID: true, message.PropertyCluster: true,
	message.PropertyMsgType: true, message.PropertyInstanceID: true,
}

// sysFlagTransactionPrepared marks a half message in SEND_MESSAGE's sysFlag
// (upstream MessageSysFlag.TRANSACTION_PREPARED_TYPE).
const sysFlagTransactionPrepared = 1 << 2

// maxBodySize is the largest body the proxy accepts, as the brokers'
// default maxMessageSize.
const maxBodySize = message.DefaultMaxMessageSize

// errBadMessage is a message the 5.x protocol forbids; its text is the
// status message.
type errBadMessage struct {
	code pb.Code
	msg  string
}

func (e *errBadMessage) Error() string { return e.msg }

func badMessage(code pb.Code, format string, args ...any) error {
	return &errBadMessage{code: code, msg: fmt.Sprintf(format, args...)}
}

// outgoing is a 5.x message turned into a SEND_MESSAGE_V2 request.
type outgoing struct {
	topic       string
	msgID       string
	group       string // message group, FIFO
	transaction bool
	header      remoting.SendMessageRequestHeader
	body        []byte
}

// toRemoting maps m onto the properties and header of a SEND_MESSAGE_V2.
func toRemoting(m *pb.Message, producerGroup func(topic string) string, now time.Time) (*outgoing, error) {
	if m == nil || m.GetTopic() == nil {
		return nil, badMessage(pb.Code_ILLEGAL_TOPIC, "message has no topic")
	}
	topic := m.GetTopic().GetName()
	if err := message.ValidateTopic(topic); err != nil {
		return nil, badMessage(pb.Code_ILLEGAL_TOPIC, "%v", err)
	}
	sp := m.GetSystemProperties()
	if sp == nil {
		return nil, badMessage(pb.Code_BAD_REQUEST, "message has no system properties")
	}
	if len(m.GetBody()) > maxBodySize {
		return nil, badMessage(pb.Code_MESSAGE_BODY_TOO_LARGE, "body of %d bytes over %d", len(m.GetBody()), maxBodySize)
	}
	if sp.GetBodyEncoding() == pb.Encoding_GZIP {
		return nil, badMessage(pb.Code_UNSUPPORTED, "gzip-encoded bodies are not accepted")
	}
	id := sp.GetMessageId()
	if id == "" || !message.ValidPropertyText(id) {
		return nil, badMessage(pb.Code_ILLEGAL_MESSAGE_ID, "illegal message id %q", id)
	}
	props := make([]byte, 0, 128)
	for k, v := range m.GetUserProperties() {
		if k == "" || systemKeys[k] || !message.ValidPropertyText(k) || !message.ValidPropertyText(v) {
			return nil, badMessage(pb.Code_ILLEGAL_MESSAGE_PROPERTY_KEY, "illegal user property %q", k)
		}
		props = message.AppendProperty(props, k, v)
	}
	add := func(k, v string) error {
		if !message.ValidPropertyText(v) {
			return badMessage(pb.Code_BAD_REQUEST, "illegal %s %q", k, v)
		}
		props = message.AppendProperty(props, k, v)
		return nil
	}
	if err := add(message.PropertyUniqKey, id); err != nil {
		return nil, err
	}
	if sp.Tag != nil && *sp.Tag != "" {
		if strings.Contains(*sp.Tag, "||") {
			return nil, badMessage(pb.Code_ILLEGAL_MESSAGE_TAG, "illegal tag %q", *sp.Tag)
		}
		if err := add(message.PropertyTags, *sp.Tag); err != nil {
			return nil, badMessage(pb.Code_ILLEGAL_MESSAGE_TAG, "illegal tag %q", *sp.Tag)
		}
	}
	if keys := sp.GetKeys(); len(keys) > 0 {
		for _, k := range keys {
			if k == "" || strings.ContainsAny(k, " ") {
				return nil, badMessage(pb.Code_ILLEGAL_MESSAGE_KEY, "illegal key %q", k)
			}
		}
		if err := add(message.PropertyKeys, strings.Join(keys, " ")); err != nil {
			return nil, badMessage(pb.Code_ILLEGAL_MESSAGE_KEY, "illegal keys")
		}
	}
	out := &outgoing{topic: topic, msgID: id, body: m.GetBody()}
	if g := sp.GetMessageGroup(); g != "" {
		if err := add(message.PropertyShardingKey, g); err != nil {
			return nil, badMessage(pb.Code_ILLEGAL_MESSAGE_GROUP, "illegal message group %q", g)
		}
		out.group = g
	}
	if ts := sp.GetDeliveryTimestamp(); ts != nil {
		if err := ts.CheckValid(); err != nil {
			return nil, badMessage(pb.Code_ILLEGAL_DELIVERY_TIME, "%v", err)
		}
		if at := ts.AsTime(); at.After(now) {
			if at.Sub(now) > 40*24*time.Hour {
				return nil, badMessage(pb.Code_ILLEGAL_DELIVERY_TIME, "delivery time %v too far ahead", at)
			}
			_ = add(message.PropertyTimerDeliverMS, strconv.FormatInt(at.UnixMilli(), 10))
		}
	}
	if tc := sp.GetTraceContext(); tc != "" {
		if err := add(message.PropertyTraceContext, tc); err != nil {
			return nil, err
		}
	}
	if h := sp.GetBornHost(); h != "" {
		if err := add(message.PropertyBornHost, h); err != nil {
			return nil, err
		}
	}
	born := now
	if bt := sp.GetBornTimestamp(); bt != nil && bt.CheckValid() == nil {
		born = bt.AsTime()
	}
	pg := producerGroup(topic)
	var sysFlag int32
	if sp.GetMessageType() == pb.MessageType_TRANSACTION {
		out.transaction = true
		sysFlag |= sysFlagTransactionPrepared
		_ = add(message.PropertyTransactionPrepared, "true")
		_ = add(message.PropertyProducerGroup, pg)
		if d := sp.GetOrphanedTransactionRecoveryDuration(); d != nil && d.CheckValid() == nil && d.AsDuration() >= time.Second {
			_ = add(message.PropertyCheckImmunityTimeInSeconds, strconv.FormatInt(int64(d.AsDuration()/time.Second), 10))
		}
	}
	out.header = remoting.SendMessageRequestHeader{
		ProducerGroup: pg, Topic: topic, DefaultTopic: defaultTopic, DefaultTopicQueueNums: defaultQueueNums,
		SysFlag: sysFlag, BornTimestamp: born.UnixMilli(), Properties: string(props),
	}
	return out, nil
}

// toProto maps a popped message onto a 5.x message; handle is its
// receipt handle, topic its original topic (retries are stored under the
// group's retry topic).
func toProto(m *message.MessageExt, topic, namespace, handle string, invisible time.Duration) *pb.Message {
	props := m.Properties()
	sp := &pb.SystemProperties{
		MessageId:       m.MsgID,
		BodyEncoding:    pb.Encoding_IDENTITY,
		BodyDigest:      &pb.Digest{Type: pb.DigestType_CRC32, Checksum: strconv.FormatInt(int64(crc32.ChecksumIEEE(m.Body)), 16)},
		BornTimestamp:   timestamppb.New(time.UnixMilli(m.BornTimestamp)),
		StoreTimestamp:  timestamppb.New(time.UnixMilli(m.StoreTimestamp)),
		QueueId:         m.QueueID,
		QueueOffset:     proto(m.QueueOffset),
		DeliveryAttempt: proto(m.ReconsumeTimes + 1),
		MessageType:     pb.MessageType_NORMAL,
	}
	if handle != "" {
		sp.ReceiptHandle = &handle
		sp.InvisibleDuration = durationpb.New(invisible)
	}
	if v := props[message.PropertyUniqKey]; v != "" {
		sp.MessageId = v
	}
	if v, ok := props[message.PropertyTags]; ok && v != "" {
		sp.Tag = &v
	}
	if v := props[message.PropertyKeys]; v != "" {
		sp.Keys = strings.Fields(v)
	}
	group := props[message.PropertyShardingKey]
	if group == "" {
		group = props[message.PropertyShardingKeyGo]
	}
	if group != "" {
		sp.MessageGroup = &group
		sp.MessageType = pb.MessageType_FIFO
	}
	if at := deliveryTime(props, m.BornTimestamp); !at.IsZero() {
		sp.DeliveryTimestamp = timestamppb.New(at)
		sp.MessageType = pb.MessageType_DELAY
	}
	if props[message.PropertyTransactionPrepared] == "true" {
		sp.MessageType = pb.MessageType_TRANSACTION
	}
	if v := props[message.PropertyTraceContext]; v != "" {
		sp.TraceContext = &v
	}
	sp.BornHost = props[message.PropertyBornHost]
	if sp.BornHost == "" && m.BornHost.IsValid() {
		sp.BornHost = m.BornHost.Addr().String()
	}
	if m.StoreHost.IsValid() {
		sp.StoreHost = m.StoreHost.String()
	}
	user := make(map[string]string)
	for k, v := range props {
		if !systemKeys[k] && !strings.HasPrefix(k, message.PropertyTransientPrefix) {
			user[k] = v
		}
	}
	return &pb.Message{
		Topic:            &pb.Resource{Name: topic, ResourceNamespace: namespace},
		UserProperties:   user,
		SystemProperties: sp,
		Body:             m.Body,
	}
}

// deliveryTime reads back when a timer or delay message was due: the due
// time the broker's timer recorded (TIMER_OUT_MS, kept on delivery), else
// what the producer asked for.
func deliveryTime(props map[string]string, born int64) time.Time {
	for _, k := range [...]string{message.PropertyTimerOutMS, message.PropertyTimerDeliverMS} {
		if v := props[k]; v != "" {
			if ms, err := strconv.ParseInt(v, 10, 64); err == nil {
				return time.UnixMilli(ms)
			}
		}
	}
	if v := props[message.PropertyTimerDelaySec]; v != "" {
		if s, err := strconv.ParseInt(v, 10, 64); err == nil {
			return time.UnixMilli(born).Add(time.Duration(s) * time.Second)
		}
	}
	return time.Time{}
}

func proto[T any](v T) *T { return &v }

// endpointsOf builds the 5.x endpoints for "host:port".
func endpointsOf(hostport string) *pb.Endpoints {
	host, port := hostport, 0
	if i := strings.LastIndexByte(hostport, ':'); i >= 0 {
		host = hostport[:i]
		port, _ = strconv.Atoi(hostport[i+1:])
	}
	host = strings.Trim(host, "[]")
	scheme := pb.AddressScheme_DOMAIN_NAME
	if a, err := netip.ParseAddr(host); err == nil {
		scheme = pb.AddressScheme_IPv4
		if a.Is6() && !a.Is4In6() {
			scheme = pb.AddressScheme_IPv6
		}
	}
	return &pb.Endpoints{Scheme: scheme, Addresses: []*pb.Address{{Host: host, Port: int32(port)}}}
}
