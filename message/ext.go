package message

import (
	"net/netip"
	"strconv"
	"strings"
)

// MessageExt is a received message: one stored record (layout.go) plus
// what the consumer adds. Topic, MsgID and the raw properties are substrings
// of one string shared by every message of a decoded batch, and Body aliases
// the decoded buffer unless the body was compressed (see DecodeMessages).
type MessageExt struct {
	Topic string
	Body  []byte
	Flag  int32

	// MsgID is UNIQ_KEY when present, else the offset message id.
	MsgID                     string
	QueueID                   int32
	QueueOffset               int64
	CommitLogOffset           int64
	StoreSize                 int32
	SysFlag                   int32
	BodyCRC                   uint32
	BornTimestamp             int64
	BornHost                  netip.AddrPort
	StoreTimestamp            int64
	StoreHost                 netip.AddrPort
	ReconsumeTimes            int32
	PreparedTransactionOffset int64
	// BrokerName is not on the wire; the consumer sets it.
	BrokerName string

	// Err is set when the record parsed but its body could not be
	// delivered: an unsupported compression type, a damaged compressed
	// stream or an inflated size over the limit. Body is then nil; StoredBody still
	// returns the bytes as stored.
	Err error

	props      string     // encoded properties as stored
	extra      []property // set after decoding; shadow props
	storedBody []byte

	// Scratch used only while decoding, cleared before DecodeMessages
	// returns so that nothing keeps the wire buffer alive needlessly.
	rawTopic, rawProps []byte
}

// Property returns a property, looking first at ones set with SetProperty
// and then at the stored property string. It does not allocate.
func (m *MessageExt) Property(key string) (string, bool) {
	for i := len(m.extra) - 1; i >= 0; i-- {
		if m.extra[i].key == key {
			return m.extra[i].value, true
		}
	}
	return LookupPropertyString(m.props, key)
}

// SetProperty sets a property on the received message, as consumers do for
// MIN_OFFSET, MAX_OFFSET and CONSUME_START_TIME. The stored string is left
// alone; the new value shadows it.
func (m *MessageExt) SetProperty(key, value string) {
	for i := range m.extra {
		if m.extra[i].key == key {
			m.extra[i].value = value
			return
		}
	}
	m.extra = append(m.extra, property{key, value})
}

// Properties returns every property in a new map.
func (m *MessageExt) Properties() map[string]string {
	p := DecodeProperties(m.props)
	for _, e := range m.extra {
		p[e.key] = e.value
	}
	return p
}

// RawProperties returns the property string as stored in the record.
func (m *MessageExt) RawProperties() string { return m.props }

// StoredBody returns the body exactly as stored (still compressed when
// SysFlag has 0x1).
func (m *MessageExt) StoredBody() []byte { return m.storedBody }

// Tags returns the TAGS property.
func (m *MessageExt) Tags() string {
	v, _ := m.Property(PropertyTags)
	return v
}

// Keys returns the KEYS property split on spaces (empty entries dropped).
func (m *MessageExt) Keys() []string {
	v, _ := m.Property(PropertyKeys)
	return strings.Fields(v)
}

// ShardingKey returns __SHARDINGKEY, or the Go client's SHARDING_KEY.
func (m *MessageExt) ShardingKey() string {
	if v, ok := m.Property(PropertyShardingKey); ok {
		return v
	}
	v, _ := m.Property(PropertyShardingKeyGo)
	return v
}

// DelayLevel returns the DELAY property, 0 when absent or malformed.
func (m *MessageExt) DelayLevel() int32 {
	v, _ := m.Property(PropertyDelayLevel)
	n, err := strconv.ParseInt(v, 10, 32)
	if err != nil {
		return 0
	}
	return int32(n)
}

// UniqKey returns the UNIQ_KEY property.
func (m *MessageExt) UniqKey() string {
	v, _ := m.Property(PropertyUniqKey)
	return v
}

// TransactionID returns __transactionId__ when present and otherwise, for a
// transactional half message (TRAN_MSG=true), its UNIQ_KEY — what Java and
// Go consumers do.
func (m *MessageExt) TransactionID() string {
	if v, ok := m.Property(PropertyTransactionID); ok {
		return v
	}
	if v, _ := m.Property(PropertyTransactionPrepared); v == "true" {
		return m.UniqKey()
	}
	return ""
}

// OffsetMsgID returns the offset message id of the record (store host and
// commit-log offset). It is computed on each call.
func (m *MessageExt) OffsetMsgID() string {
	return OffsetMsgID(m.StoreHost, m.CommitLogOffset)
}

// TagsCode returns the consume-queue tag hash of the message's TAGS.
func (m *MessageExt) TagsCode() int64 { return TagsHashCode(m.Tags()) }

// ToMessage returns a Message with m's topic, flag, a copy of its body and
// all of its properties as user properties (so they re-encode unchanged).
// Consumers use it to re-send a message, e.g. to a retry topic when
// CONSUMER_SEND_MSG_BACK fails.
func (m *MessageExt) ToMessage() *Message {
	out := New(m.Topic, append([]byte(nil), m.Body...))
	out.Flag = m.Flag
	forEachProperty(m.props, func(k, v string) bool {
		out.SetProperty(k, v)
		return true
	})
	for _, e := range m.extra {
		out.SetProperty(e.key, e.value)
	}
	return out
}
