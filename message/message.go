// Package message is rocketgo's message model and codec: what a producer
// sends (Message), what a consumer receives (MessageExt), the stored-record
// and batch wire layouts, property strings, message ids and body
// compression. Everything here is pure computation over bytes; nothing does
// I/O, so no function takes a context.
package message

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"
)

// Property keys (upstream MessageConst). The values are the wire strings used by the
// Java broker and clients; the Go client differs only for the sharding key.
const (
	PropertyKeys                       = "KEYS"
	PropertyTags                       = "TAGS"
	PropertyWaitStoreMsgOK             = "WAIT"
	PropertyDelayLevel                 = "DELAY"
	PropertyRetryTopic                 = "RETRY_TOPIC"
	PropertyRealTopic                  = "REAL_TOPIC"
	PropertyRealQueueID                = "REAL_QID"
	PropertyTransactionPrepared        = "TRAN_MSG"
	PropertyProducerGroup              = "PGROUP"
	PropertyMinOffset                  = "MIN_OFFSET"
	PropertyMaxOffset                  = "MAX_OFFSET"
	PropertyBuyerID                    = "BUYER_ID"
	PropertyOriginMessageID            = "ORIGIN_MESSAGE_ID"
	PropertyTransferFlag               = "TRANSFER_FLAG"
	PropertyCorrectionFlag             = "CORRECTION_FLAG"
	PropertyMQ2Flag                    = "MQ2_FLAG"
	PropertyReconsumeTime              = "RECONSUME_TIME"
	PropertyMaxReconsumeTimes          = "MAX_RECONSUME_TIMES"
	PropertyMsgRegion                  = "MSG_REGION"
	PropertyTraceSwitch                = "TRACE_ON"
	PropertyUniqKey                    = "UNIQ_KEY"
	PropertyExtendUniqInfo             = "EXTEND_UNIQ_INFO"
	PropertyConsumeStartTime           = "CONSUME_START_TIME"
	PropertyInnerNum                   = "INNER_NUM"
	PropertyInnerBase                  = "INNER_BASE"
	PropertyDupInfo                    = "DUP_INFO"
	PropertyCheckImmunityTimeInSeconds = "CHECK_IMMUNITY_TIME_IN_SECONDS"
	PropertyTransactionPreparedOffset  = "TRAN_PREPARED_QUEUE_OFFSET"
	PropertyTransactionID              = "__transactionId__"
	PropertyTransactionCheckTimes      = "TRANSACTION_CHECK_TIMES"
	PropertyInstanceID                 = "INSTANCE_ID"
	PropertyCorrelationID              = "CORRELATION_ID"
	PropertyReplyToClient              = "REPLY_TO_CLIENT"
	PropertyMessageTTL                 = "TTL"
	PropertyReplyArriveTime            = "ARRIVE_TIME"
	PropertyPushReplyTime              = "PUSH_REPLY_TIME"
	PropertyMsgType                    = "MSG_TYPE"
	PropertyCluster                    = "CLUSTER"
	PropertyPopCK                      = "POP_CK"
	PropertyPopCKOffset                = "POP_CK_OFFSET"
	PropertyFirstPopTime               = "1ST_POP_TIME"
	PropertyShardingKey                = "__SHARDINGKEY" // Java spelling
	PropertyShardingKeyGo              = "SHARDING_KEY"  // rocketmq-client-go spelling
	PropertyForwardQueueID             = "PROPERTY_FORWARD_QUEUE_ID"
	PropertyRedirect                   = "REDIRECT"
	PropertyInnerMultiDispatch         = "INNER_MULTI_DISPATCH"
	PropertyInnerMultiQueueOffset      = "INNER_MULTI_QUEUE_OFFSET"
	PropertyTraceContext               = "TRACE_CONTEXT"
	PropertyTimerDelaySec              = "TIMER_DELAY_SEC"
	PropertyTimerDeliverMS             = "TIMER_DELIVER_MS"
	PropertyTimerDelayMS               = "TIMER_DELAY_MS"
	PropertyTimerEnqueueMS             = "TIMER_ENQUEUE_MS"
	PropertyTimerDequeueMS             = "TIMER_DEQUEUE_MS"
	PropertyTimerRollTimes             = "TIMER_ROLL_TIMES"
	PropertyTimerOutMS                 = "TIMER_OUT_MS"
	PropertyTimerDelUniqKey            = "TIMER_DEL_UNIQKEY"
	PropertyTimerDelayLevel            = "TIMER_DELAY_LEVEL"
	PropertyBornHost                   = "__BORNHOST"
	PropertyBornTimestamp              = "BORN_TIMESTAMP"
	PropertyCRC32                      = "__CRC32#"
	PropertyDLQOriginTopic             = "DLQ_ORIGIN_TOPIC"
	PropertyDLQOriginMessageID         = "DLQ_ORIGIN_MESSAGE_ID"
	// PropertyTransientPrefix marks keys that are never persisted.
	PropertyTransientPrefix = "__RMQ.TRANSIENT."
)

// Limits and defaults shared by producers and the broker (upstream
// DefaultMQProducer and MessageStoreConfig).
const (
	// DefaultMaxMessageSize is RocketMQ's maxMessageSize: 4 MiB of body.
	DefaultMaxMessageSize = 4 * 1024 * 1024
	// MaxTopicLength is TopicValidator.TOPIC_MAX_LENGTH.
	MaxTopicLength = 127
	// MaxPropertiesLength is the int16 PROPLEN ceiling.
	MaxPropertiesLength = maxPropertiesLen
	// MaxDelayLevel is the number of levels in the default messageDelayLevel
	// table ("1s 5s ... 2h").
	MaxDelayLevel = 18
	// MaxTimerDelay is the 5.x broker's default timerMaxDelaySec (3 days):
	// the furthest ahead a timer message may ask to be delivered. Brokers
	// configured lower refuse sooner times with an error answer.
	MaxTimerDelay = 72 * time.Hour
	// KeySeparator joins several business keys in the KEYS property.
	KeySeparator = " "
)

// Validation errors. The producer checks a message with Validate before it
// does any network work; every error wraps exactly one of these.
var (
	ErrEmptyTopic          = errors.New("message: empty topic")
	ErrInvalidTopic        = errors.New("message: invalid topic")
	ErrEmptyBody           = errors.New("message: empty body")
	ErrBodyTooLarge        = errors.New("message: body too large")
	ErrInvalidProperty     = errors.New("message: invalid property")
	ErrPropertiesTooLarge  = errors.New("message: properties too large")
	ErrInvalidDelayLevel   = errors.New("message: invalid delay level")
	ErrInvalidDeliverTime  = errors.New("message: invalid delivery time")
	ErrNilMessage          = errors.New("message: nil message")
	ErrBadBatch            = errors.New("message: malformed batch body")
	ErrInvalidMsgID        = errors.New("message: invalid message id")
	ErrUnsupportedCompress = errors.New("message: unsupported compression type")
	ErrDecompress          = errors.New("message: cannot inflate body")
	ErrCompressLevel       = errors.New("message: invalid compression level")
)

// Message is what a producer sends. The dedicated fields are encoded as
// their well-known properties by EncodeProperties and take precedence over a
// user property with the same key. A Message is not safe for concurrent
// mutation; the producer only reads it.
type Message struct {
	Topic string
	Body  []byte
	// Flag is the opaque user flag carried in the record's FLAG field.
	Flag int32
	// Tags becomes TAGS; brokers filter on its Java hash (see TagsHashCode).
	Tags string
	// Keys become KEYS, space separated, for index lookups.
	Keys []string
	// DelayLevel becomes DELAY when > 0 (1..MaxDelayLevel).
	DelayLevel int32
	// ShardingKey becomes __SHARDINGKEY, the Java spelling; brokers and our
	// selectors also accept the Go client's SHARDING_KEY.
	ShardingKey string
	// TransactionID becomes __transactionId__ when set.
	TransactionID string

	// props holds user properties in insertion order. A slice beats a map
	// here: messages carry a handful of pairs and the encoding order stays
	// stable, which keeps encoded bytes reproducible.
	props []property
}

type property struct{ key, value string }

// New returns a message for topic with body. It does not validate; call
// Validate (the producer does).
func New(topic string, body []byte) *Message {
	return &Message{Topic: topic, Body: body}
}

// WithTags sets Tags and returns m for chaining.
func (m *Message) WithTags(tags string) *Message {
	m.Tags = tags
	return m
}

// WithKeys sets Keys and returns m for chaining.
func (m *Message) WithKeys(keys ...string) *Message {
	m.Keys = keys
	return m
}

// WithDelayLevel sets DelayLevel and returns m for chaining.
func (m *Message) WithDelayLevel(level int32) *Message {
	m.DelayLevel = level
	return m
}

// WithDeliverTime makes m a 5.x timer message delivered at t (property
// TIMER_DELIVER_MS, milliseconds since the epoch). t may be at most
// MaxTimerDelay ahead when the message is validated; a time already past
// delivers at once. It replaces an earlier WithDelay.
func (m *Message) WithDeliverTime(t time.Time) *Message {
	m.clearTimer()
	m.SetProperty(PropertyTimerDeliverMS, strconv.FormatInt(t.UnixMilli(), 10))
	return m
}

// WithDelay makes m a 5.x timer message delivered d after the broker
// stores it: TIMER_DELAY_SEC for whole seconds, as the Java client's
// setDelayTimeSec, else TIMER_DELAY_MS. d must be in 0..MaxTimerDelay. It
// replaces an earlier WithDeliverTime.
func (m *Message) WithDelay(d time.Duration) *Message {
	m.clearTimer()
	if d%time.Second == 0 {
		m.SetProperty(PropertyTimerDelaySec, strconv.FormatInt(int64(d/time.Second), 10))
	} else {
		m.SetProperty(PropertyTimerDelayMS, strconv.FormatInt(d.Milliseconds(), 10))
	}
	return m
}

func (m *Message) clearTimer() {
	m.props = slices.DeleteFunc(m.props, func(p property) bool {
		return p.key == PropertyTimerDeliverMS || p.key == PropertyTimerDelaySec || p.key == PropertyTimerDelayMS
	})
}

// validateTimer checks the timer properties against now: numbers, not
// negative, at most MaxTimerDelay ahead, and not combined with a delay
// level (the broker would honour only one of them). The clock is read only
// for a deliver time, not for every message sent.
func (m *Message) validateTimer(now func() time.Time) error {
	for _, p := range m.props {
		var ahead time.Duration
		switch p.key {
		case PropertyTimerDeliverMS, PropertyTimerDelaySec, PropertyTimerDelayMS:
		default:
			continue
		}
		n, err := strconv.ParseInt(p.value, 10, 64)
		if err != nil || n < 0 {
			return fmt.Errorf("%w: %s %q is not a non-negative number", ErrInvalidDeliverTime, p.key, p.value)
		}
		switch p.key {
		case PropertyTimerDeliverMS:
			ahead = time.UnixMilli(n).Sub(now())
		case PropertyTimerDelaySec:
			if n > int64(MaxTimerDelay/time.Second) {
				n = int64(MaxTimerDelay/time.Second) + 1
			}
			ahead = time.Duration(n) * time.Second
		case PropertyTimerDelayMS:
			if n > MaxTimerDelay.Milliseconds() {
				n = MaxTimerDelay.Milliseconds() + 1
			}
			ahead = time.Duration(n) * time.Millisecond
		}
		if ahead > MaxTimerDelay {
			return fmt.Errorf("%w: %v ahead exceeds timerMaxDelaySec %v", ErrInvalidDeliverTime, ahead.Round(time.Second), MaxTimerDelay)
		}
		if m.DelayLevel > 0 {
			return fmt.Errorf("%w: %s together with delay level %d", ErrInvalidDeliverTime, p.key, m.DelayLevel)
		}
	}
	return nil
}

// WithShardingKey sets ShardingKey and returns m for chaining.
func (m *Message) WithShardingKey(key string) *Message {
	m.ShardingKey = key
	return m
}

// WithProperty sets a user property and returns m for chaining.
func (m *Message) WithProperty(key, value string) *Message {
	m.SetProperty(key, value)
	return m
}

// SetProperty sets or replaces a user property. Invalid text is reported by
// Validate rather than here so that building a message never fails midway.
func (m *Message) SetProperty(key, value string) {
	for i := range m.props {
		if m.props[i].key == key {
			m.props[i].value = value
			return
		}
	}
	m.props = append(m.props, property{key, value})
}

// Property returns a user property. Dedicated fields (Tags, Keys, ...) are
// not visible here; read the fields instead.
func (m *Message) Property(key string) (string, bool) {
	for i := range m.props {
		if m.props[i].key == key {
			return m.props[i].value, true
		}
	}
	return "", false
}

// RemoveProperty deletes a user property and reports whether it existed.
func (m *Message) RemoveProperty(key string) bool {
	for i := range m.props {
		if m.props[i].key == key {
			m.props = append(m.props[:i], m.props[i+1:]...)
			return true
		}
	}
	return false
}

// RangeProperties calls fn for each user property in insertion order until
// fn returns false.
func (m *Message) RangeProperties(fn func(key, value string) bool) {
	for _, p := range m.props {
		if !fn(p.key, p.value) {
			return
		}
	}
}

// shadowed reports whether a user property is overridden by a dedicated
// field that is set.
func (m *Message) shadowed(key string) bool {
	switch key {
	case PropertyTags:
		return m.Tags != ""
	case PropertyKeys:
		return len(m.Keys) > 0
	case PropertyDelayLevel:
		return m.DelayLevel > 0
	case PropertyShardingKey:
		return m.ShardingKey != ""
	case PropertyTransactionID:
		return m.TransactionID != ""
	}
	return false
}

// EncodeProperties appends m's property string to dst: dedicated fields
// first, then user properties in insertion order. It does no validation.
func (m *Message) EncodeProperties(dst []byte) []byte {
	if m.Tags != "" {
		dst = AppendProperty(dst, PropertyTags, m.Tags)
	}
	if len(m.Keys) > 0 {
		dst = append(dst, PropertyKeys...)
		dst = append(dst, NameValueSeparator)
		for i, k := range m.Keys {
			if i > 0 {
				dst = append(dst, KeySeparator...)
			}
			dst = append(dst, k...)
		}
		dst = append(dst, PropertySeparator)
	}
	if m.DelayLevel > 0 {
		dst = append(dst, PropertyDelayLevel...)
		dst = append(dst, NameValueSeparator)
		dst = strconv.AppendInt(dst, int64(m.DelayLevel), 10)
		dst = append(dst, PropertySeparator)
	}
	if m.ShardingKey != "" {
		dst = AppendProperty(dst, PropertyShardingKey, m.ShardingKey)
	}
	if m.TransactionID != "" {
		dst = AppendProperty(dst, PropertyTransactionID, m.TransactionID)
	}
	for _, p := range m.props {
		if !m.shadowed(p.key) {
			dst = AppendProperty(dst, p.key, p.value)
		}
	}
	return dst
}

// encodedPropertiesLen is len(m.EncodeProperties(nil)) without building it.
func (m *Message) encodedPropertiesLen() int {
	n := 0
	if m.Tags != "" {
		n += len(PropertyTags) + len(m.Tags) + 2
	}
	if len(m.Keys) > 0 {
		n += len(PropertyKeys) + 2 + len(m.Keys) - 1
		for _, k := range m.Keys {
			n += len(k)
		}
	}
	if m.DelayLevel > 0 {
		var buf [12]byte
		n += len(PropertyDelayLevel) + 2 + len(strconv.AppendInt(buf[:0], int64(m.DelayLevel), 10))
	}
	if m.ShardingKey != "" {
		n += len(PropertyShardingKey) + len(m.ShardingKey) + 2
	}
	if m.TransactionID != "" {
		n += len(PropertyTransactionID) + len(m.TransactionID) + 2
	}
	for _, p := range m.props {
		if !m.shadowed(p.key) {
			n += len(p.key) + len(p.value) + 2
		}
	}
	return n
}

// ValidateTopic applies RocketMQ's topic rule: 1..127 characters from
// [A-Za-z0-9%_|-].
func ValidateTopic(topic string) error {
	if topic == "" {
		return ErrEmptyTopic
	}
	if len(topic) > MaxTopicLength {
		return fmt.Errorf("%w: length %d exceeds %d", ErrInvalidTopic, len(topic), MaxTopicLength)
	}
	for i := 0; i < len(topic); i++ {
		if !validTopicByte(topic[i]) {
			return fmt.Errorf("%w: %q has illegal character %q", ErrInvalidTopic, topic, topic[i])
		}
	}
	return nil
}

func validTopicByte(c byte) bool {
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		return true
	case c == '%', c == '_', c == '|', c == '-':
		return true
	}
	return false
}

// validText reports whether s may appear in a property key or value: the
// two separators would split the pair and NUL breaks C-based readers.
func validText(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c == NameValueSeparator || c == PropertySeparator || c == 0 {
			return false
		}
	}
	return true
}

// Validate checks m before it is sent: topic rule, a non-empty body of at
// most maxBodySize bytes (DefaultMaxMessageSize when maxBodySize <= 0),
// property text free of separators and NUL, a delay level in
// 0..MaxDelayLevel, timer properties at most MaxTimerDelay ahead and an encoded property string that fits PROPLEN.
func (m *Message) Validate(maxBodySize int) error {
	if m == nil {
		return ErrNilMessage
	}
	if err := ValidateTopic(m.Topic); err != nil {
		return err
	}
	if len(m.Body) == 0 {
		return ErrEmptyBody
	}
	if maxBodySize <= 0 {
		maxBodySize = DefaultMaxMessageSize
	}
	if len(m.Body) > maxBodySize {
		return fmt.Errorf("%w: %d bytes exceeds %d", ErrBodyTooLarge, len(m.Body), maxBodySize)
	}
	if m.DelayLevel < 0 || m.DelayLevel > MaxDelayLevel {
		return fmt.Errorf("%w: %d not in 0..%d", ErrInvalidDelayLevel, m.DelayLevel, MaxDelayLevel)
	}
	if err := m.validateTimer(time.Now); err != nil {
		return err
	}
	fields := [...]struct{ key, value string }{
		{PropertyTags, m.Tags},
		{PropertyShardingKey, m.ShardingKey},
		{PropertyTransactionID, m.TransactionID},
	}
	for _, f := range fields {
		if !validText(f.value) {
			return fmt.Errorf("%w: %s value contains a separator or NUL", ErrInvalidProperty, f.key)
		}
	}
	for _, k := range m.Keys {
		if !validText(k) {
			return fmt.Errorf("%w: KEYS entry contains a separator or NUL", ErrInvalidProperty)
		}
	}
	for _, p := range m.props {
		if p.key == "" {
			return fmt.Errorf("%w: empty key", ErrInvalidProperty)
		}
		if !validText(p.key) || !validText(p.value) {
			return fmt.Errorf("%w: %q contains a separator or NUL", ErrInvalidProperty, p.key)
		}
	}
	if n := m.encodedPropertiesLen(); n > MaxPropertiesLength {
		return fmt.Errorf("%w: %d bytes exceeds %d", ErrPropertiesTooLarge, n, MaxPropertiesLength)
	}
	return nil
}
