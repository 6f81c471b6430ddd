package remoting

import "strconv"

// Hot-path headers: sending (10, 310, 320, 324, 325) and pulling (11). Their
// decoders walk the ext list once with a switch instead of one lookup per
// field, because a broker decodes one of these per message.

// SendMessageRequestHeader is the header of SEND_MESSAGE (10),
// SEND_MESSAGE_V2 (310), SEND_BATCH_MESSAGE (320) and SEND_REPLY_MESSAGE(_V2)
// (324/325). EncodeExt writes the V1 long names (what code 10 and 324 carry);
// convert to SendMessageRequestHeaderV2 to write the one-letter V2 names that
// 310, 320 and 325 carry. DecodeExt accepts either spelling, and ons's raw
// number/boolean values (already stringified by the JSON decoder).
type SendMessageRequestHeader struct {
	ProducerGroup         string // producerGroup / a
	Topic                 string // topic / b
	DefaultTopic          string // defaultTopic / c ("TBW102")
	DefaultTopicQueueNums int32  // defaultTopicQueueNums / d
	QueueID               int32  // queueId / e; negative ⇒ broker picks
	SysFlag               int32  // sysFlag / f
	BornTimestamp         int64  // bornTimestamp / g, ms
	Flag                  int32  // flag / h, user flag
	Properties            string // properties / i, key 0x01 value 0x02 pairs (optional)
	ReconsumeTimes        int32  // reconsumeTimes / j (optional)
	UnitMode              bool   // unitMode / k (optional)
	MaxReconsumeTimes     int32  // maxReconsumeTimes / l (optional)
	Batch                 bool   // batch / m (optional)
	BrokerName            string // bname / n (optional, 5.x)
}

// SendMessageRequestHeaderV2 is the same header written with V2 letter keys.
type SendMessageRequestHeaderV2 SendMessageRequestHeader

// V2 views h as its letter-keyed encoding without copying.
func (h *SendMessageRequestHeader) V2() *SendMessageRequestHeaderV2 {
	return (*SendMessageRequestHeaderV2)(h)
}

func (h *SendMessageRequestHeader) EncodeExt(e *ExtFields) {
	e.Set("producerGroup", h.ProducerGroup)
	e.Set("topic", h.Topic)
	e.Set("defaultTopic", h.DefaultTopic)
	setInt32(e, "defaultTopicQueueNums", h.DefaultTopicQueueNums)
	setInt32(e, "queueId", h.QueueID)
	setInt32(e, "sysFlag", h.SysFlag)
	e.SetInt("bornTimestamp", h.BornTimestamp)
	setInt32(e, "flag", h.Flag)
	e.Set("properties", h.Properties)
	setInt32(e, "reconsumeTimes", h.ReconsumeTimes)
	e.SetBool("unitMode", h.UnitMode)
	setInt32(e, "maxReconsumeTimes", h.MaxReconsumeTimes)
	e.SetBool("batch", h.Batch)
	setOpt(e, "bname", h.BrokerName)
}

func (h *SendMessageRequestHeaderV2) EncodeExt(e *ExtFields) {
	if e.Len() == 0 {
		// Every send goes through here: into a fresh command, append the
		// pairs into one right-sized slice instead of Set's scan for an
		// existing key and the slice's repeated growth.
		h.appendExt(e)
		return
	}
	e.Set("a", h.ProducerGroup)
	e.Set("b", h.Topic)
	e.Set("c", h.DefaultTopic)
	setInt32(e, "d", h.DefaultTopicQueueNums)
	setInt32(e, "e", h.QueueID)
	setInt32(e, "f", h.SysFlag)
	e.SetInt("g", h.BornTimestamp)
	setInt32(e, "h", h.Flag)
	e.Set("i", h.Properties)
	setInt32(e, "j", h.ReconsumeTimes)
	e.SetBool("k", h.UnitMode)
	setInt32(e, "l", h.MaxReconsumeTimes)
	e.SetBool("m", h.Batch)
	setOpt(e, "n", h.BrokerName)
}

// appendExt writes the V2 pairs into an empty e with one allocation for
// the pairs, none when e kept storage enough from an earlier use (see
// ExtFields.Reset), and one for bornTimestamp's digits; small numbers and booleans
// come from strconv's and the literals' static strings.
func (h *SendMessageRequestHeaderV2) appendExt(e *ExtFields) {
	kv := e.kv[:0]
	if cap(kv) < 2*14 {
		kv = make([]string, 0, 2*14)
	}
	kv = append(kv,
		"a", h.ProducerGroup,
		"b", h.Topic,
		"c", h.DefaultTopic,
		"d", strconv.FormatInt(int64(h.DefaultTopicQueueNums), 10),
		"e", strconv.FormatInt(int64(h.QueueID), 10),
		"f", strconv.FormatInt(int64(h.SysFlag), 10),
		"g", strconv.FormatInt(h.BornTimestamp, 10),
		"h", strconv.FormatInt(int64(h.Flag), 10),
		"i", h.Properties,
		"j", strconv.FormatInt(int64(h.ReconsumeTimes), 10),
		"k", strconv.FormatBool(h.UnitMode),
		"l", strconv.FormatInt(int64(h.MaxReconsumeTimes), 10),
		"m", strconv.FormatBool(h.Batch),
	)
	if h.BrokerName != "" {
		kv = append(kv, "n", h.BrokerName)
	}
	e.kv = kv
}

// DecodeExt accepts V1 and V2 keys alike.
func (h *SendMessageRequestHeaderV2) DecodeExt(e *ExtFields) error {
	return (*SendMessageRequestHeader)(h).DecodeExt(e)
}

// sendAllRequired has one bit per required send field, in the order of
// SendMessageRequestHeaderV2's short keys "a" to "h".
const sendAllRequired = 1<<8 - 1

// DecodeExt fills h from V1 or V2 keys in one pass.
func (h *SendMessageRequestHeader) DecodeExt(e *ExtFields) error {
	*h = SendMessageRequestHeader{}
	var seen uint
	var d intDecoder
	for i := 0; i+1 < len(e.kv); i += 2 {
		k, v := e.kv[i], e.kv[i+1]
		switch k {
		case "a", "producerGroup":
			h.ProducerGroup, seen = v, seen|1<<0
		case "b", "topic":
			h.Topic, seen = v, seen|1<<1
		case "c", "defaultTopic":
			h.DefaultTopic, seen = v, seen|1<<2
		case "d", "defaultTopicQueueNums":
			seen |= d.i32(&h.DefaultTopicQueueNums, k, v) << 3
		case "e", "queueId":
			seen |= d.i32(&h.QueueID, k, v) << 4
		case "f", "sysFlag":
			seen |= d.i32(&h.SysFlag, k, v) << 5
		case "g", "bornTimestamp":
			seen |= d.i64(&h.BornTimestamp, k, v) << 6
		case "h", "flag":
			seen |= d.i32(&h.Flag, k, v) << 7
		case "i", "properties":
			h.Properties = v
		case "j", "reconsumeTimes":
			d.i32(&h.ReconsumeTimes, k, v)
		case "k", "unitMode":
			h.UnitMode = parseBool(v)
		case "l", "maxReconsumeTimes":
			d.i32(&h.MaxReconsumeTimes, k, v)
		case "m", "batch":
			h.Batch = parseBool(v)
		case "n", "bname":
			h.BrokerName = v
		}
	}
	if d.err != nil {
		return d.err
	}
	return missingRequired(seen, sendAllRequired,
		"producerGroup", "topic", "defaultTopic", "defaultTopicQueueNums",
		"queueId", "sysFlag", "bornTimestamp", "flag")
}

// missingRequired reports the first required field a single-pass decoder
// did not see: bit i of seen stands for names[i]. The names are only
// looked at on the error path.
func missingRequired(seen, all uint, names ...string) error {
	if seen == all {
		return nil
	}
	for bit, name := range names {
		if seen&(1<<bit) == 0 {
			return &FieldError{Key: name, Err: ErrMissingField}
		}
	}
	return nil
}

// intDecoder parses integer ext values for single-pass decoders, keeping the
// first error. Its methods return 1 when a value was present (so callers can
// mark it seen) and 0 for an empty value, which the binary header cannot tell
// from an absent one.
type intDecoder struct{ err error }

func (d *intDecoder) i64(dst *int64, k, v string) uint {
	if v == "" {
		return 0
	}
	n, err := parseInt(v, 64)
	if err != nil {
		if d.err == nil {
			d.err = &FieldError{Key: k, Value: v, Err: ErrInvalidField}
		}
		return 1
	}
	*dst = n
	return 1
}

func (d *intDecoder) i32(dst *int32, k, v string) uint {
	if v == "" {
		return 0
	}
	n, err := parseInt(v, 32)
	if err != nil {
		if d.err == nil {
			d.err = &FieldError{Key: k, Value: v, Err: ErrInvalidField}
		}
		return 1
	}
	*dst = int32(n)
	return 1
}

// SendMessageResponseHeader answers the send codes (upstream
// SendMessageResponseHeader).
type SendMessageResponseHeader struct {
	MsgID         string // offset message id; batches: comma-joined
	QueueID       int32
	QueueOffset   int64
	TransactionID string // optional
	BatchUniqID   string // optional
	RecallHandle  string // optional (5.3+)
	MsgRegion     string // MSG_REGION, optional
	// TraceOn is the raw TRACE_ON value; clients disagree on what absence
	// means (Java: on, Go: off), so it is kept as text.
	TraceOn string
}

func (h *SendMessageResponseHeader) EncodeExt(e *ExtFields) {
	if e.Len() == 0 {
		// A broker answers every send with this header: size the pairs once
		// instead of growing the slice pair by pair.
		n := 3
		for _, v := range [...]string{h.TransactionID, h.BatchUniqID, h.RecallHandle, h.MsgRegion, h.TraceOn} {
			if v != "" {
				n++
			}
		}
		e.kv = make([]string, 0, 2*n)
	}
	e.Set("msgId", h.MsgID)
	setInt32(e, "queueId", h.QueueID)
	e.SetInt("queueOffset", h.QueueOffset)
	setOpt(e, "transactionId", h.TransactionID)
	setOpt(e, "batchUniqId", h.BatchUniqID)
	setOpt(e, "recallHandle", h.RecallHandle)
	setOpt(e, "MSG_REGION", h.MsgRegion)
	setOpt(e, "TRACE_ON", h.TraceOn)
}

func (h *SendMessageResponseHeader) DecodeExt(e *ExtFields) error {
	r := extReader{e: e}
	h.MsgID = r.str("msgId")
	h.QueueID = r.i32("queueId")
	h.QueueOffset = r.i64("queueOffset")
	h.TransactionID = r.optStr("transactionId")
	h.BatchUniqID = r.optStr("batchUniqId")
	h.RecallHandle = r.optStr("recallHandle")
	h.MsgRegion = r.optStr("MSG_REGION")
	h.TraceOn = r.optStr("TRACE_ON")
	return r.err
}

// RecallMessageRequestHeader is RECALL_MESSAGE (370, upstream
// RecallMessageRequestHeader): cancel a timer message not yet delivered,
// named by the recall handle its send result carried.
type RecallMessageRequestHeader struct {
	ProducerGroup string // optional
	Topic         string
	RecallHandle  string
	BrokerName    string // bname: the broker group the handle names
}

func (h *RecallMessageRequestHeader) EncodeExt(e *ExtFields) {
	setOpt(e, "producerGroup", h.ProducerGroup)
	e.Set("topic", h.Topic)
	e.Set("recallHandle", h.RecallHandle)
	setOpt(e, "bname", h.BrokerName)
}

func (h *RecallMessageRequestHeader) DecodeExt(e *ExtFields) error {
	r := extReader{e: e}
	h.ProducerGroup = r.optStr("producerGroup")
	h.Topic = r.str("topic")
	h.RecallHandle = r.str("recallHandle")
	h.BrokerName = r.optStr("bname")
	return r.err
}

// RecallMessageResponseHeader answers RECALL_MESSAGE with the unique key
// of the recalled message.
type RecallMessageResponseHeader struct {
	MsgID string
}

func (h *RecallMessageResponseHeader) EncodeExt(e *ExtFields) { e.Set("msgId", h.MsgID) }

func (h *RecallMessageResponseHeader) DecodeExt(e *ExtFields) error {
	r := extReader{e: e}
	h.MsgID = r.str("msgId")
	return r.err
}

// Pull request sysFlag bits (upstream PullSysFlag).
const (
	PullFlagCommitOffset int32 = 0x1
	PullFlagSuspend      int32 = 0x2
	PullFlagSubscription int32 = 0x4
	PullFlagClassFilter  int32 = 0x8
	PullFlagLitePull     int32 = 0x10
)

// PullMessageRequestHeader is PULL_MESSAGE (11).
type PullMessageRequestHeader struct {
	ConsumerGroup        string
	Topic                string
	QueueID              int32
	QueueOffset          int64
	MaxMsgNums           int32
	SysFlag              int32
	CommitOffset         int64
	SuspendTimeoutMillis int64
	Subscription         string // optional; used when SysFlag has PullFlagSubscription
	SubVersion           int64
	ExpressionType       string // optional; "TAG" (default) or "SQL92"
	MaxMsgBytes          int32  // optional (5.x); 0 ⇒ broker default
	BrokerName           string // bname, optional
}

func (h *PullMessageRequestHeader) EncodeExt(e *ExtFields) {
	e.Set("consumerGroup", h.ConsumerGroup)
	e.Set("topic", h.Topic)
	setInt32(e, "queueId", h.QueueID)
	e.SetInt("queueOffset", h.QueueOffset)
	setInt32(e, "maxMsgNums", h.MaxMsgNums)
	setInt32(e, "sysFlag", h.SysFlag)
	e.SetInt("commitOffset", h.CommitOffset)
	e.SetInt("suspendTimeoutMillis", h.SuspendTimeoutMillis)
	e.Set("subscription", h.Subscription)
	e.SetInt("subVersion", h.SubVersion)
	setOpt(e, "expressionType", h.ExpressionType)
	if h.MaxMsgBytes != 0 {
		setInt32(e, "maxMsgBytes", h.MaxMsgBytes)
	}
	setOpt(e, "bname", h.BrokerName)
}

const pullAllRequired = 1<<8 - 1

// DecodeExt fills h in one pass. subVersion is required by Java but some
// clients leave it empty, so it defaults to 0 here.
func (h *PullMessageRequestHeader) DecodeExt(e *ExtFields) error {
	*h = PullMessageRequestHeader{}
	var seen uint
	var d intDecoder
	for i := 0; i+1 < len(e.kv); i += 2 {
		k, v := e.kv[i], e.kv[i+1]
		switch k {
		case "consumerGroup":
			h.ConsumerGroup, seen = v, seen|1<<0
		case "topic":
			h.Topic, seen = v, seen|1<<1
		case "queueId":
			seen |= d.i32(&h.QueueID, k, v) << 2
		case "queueOffset":
			seen |= d.i64(&h.QueueOffset, k, v) << 3
		case "maxMsgNums":
			seen |= d.i32(&h.MaxMsgNums, k, v) << 4
		case "sysFlag":
			seen |= d.i32(&h.SysFlag, k, v) << 5
		case "commitOffset":
			seen |= d.i64(&h.CommitOffset, k, v) << 6
		case "suspendTimeoutMillis":
			seen |= d.i64(&h.SuspendTimeoutMillis, k, v) << 7
		case "subscription":
			h.Subscription = v
		case "subVersion":
			d.i64(&h.SubVersion, k, v)
		case "expressionType":
			h.ExpressionType = v
		case "maxMsgBytes":
			d.i32(&h.MaxMsgBytes, k, v)
		case "bname":
			h.BrokerName = v
		}
	}
	if d.err != nil {
		return d.err
	}
	return missingRequired(seen, pullAllRequired,
		"consumerGroup", "topic", "queueId", "queueOffset",
		"maxMsgNums", "sysFlag", "commitOffset", "suspendTimeoutMillis")
}

// PullMessageResponseHeader answers PULL_MESSAGE. The four offsets are
// mandatory on codes 0/19/20/21 (upstream PullMessageResponseHeader marks
// them @CFNotNull; the Java client fails to decode an answer without them).
type PullMessageResponseHeader struct {
	SuggestWhichBrokerID int64
	NextBeginOffset      int64
	MinOffset            int64
	MaxOffset            int64
	OffsetDelta          int64 // optional
	TopicSysFlag         int32 // optional
	GroupSysFlag         int32 // optional
	ForbiddenType        int32 // optional
}

func (h *PullMessageResponseHeader) EncodeExt(e *ExtFields) {
	e.SetInt("suggestWhichBrokerId", h.SuggestWhichBrokerID)
	e.SetInt("nextBeginOffset", h.NextBeginOffset)
	e.SetInt("minOffset", h.MinOffset)
	e.SetInt("maxOffset", h.MaxOffset)
	if h.OffsetDelta != 0 {
		e.SetInt("offsetDelta", h.OffsetDelta)
	}
	if h.TopicSysFlag != 0 {
		setInt32(e, "topicSysFlag", h.TopicSysFlag)
	}
	if h.GroupSysFlag != 0 {
		setInt32(e, "groupSysFlag", h.GroupSysFlag)
	}
	if h.ForbiddenType != 0 {
		setInt32(e, "forbiddenType", h.ForbiddenType)
	}
}

func (h *PullMessageResponseHeader) DecodeExt(e *ExtFields) error {
	r := extReader{e: e}
	h.SuggestWhichBrokerID = r.i64("suggestWhichBrokerId")
	h.NextBeginOffset = r.i64("nextBeginOffset")
	h.MinOffset = r.i64("minOffset")
	h.MaxOffset = r.i64("maxOffset")
	h.OffsetDelta = r.optI64("offsetDelta", 0)
	h.TopicSysFlag = r.optI32("topicSysFlag", 0)
	h.GroupSysFlag = r.optI32("groupSysFlag", 0)
	h.ForbiddenType = r.optI32("forbiddenType", 0)
	return r.err
}

// ReplyMessageRequestHeader is PUSH_REPLY_MESSAGE_TO_CLIENT (326): the
// broker forwards a SEND_REPLY_MESSAGE(_V2) header to the requesting client,
// adding where the reply came from and when the broker saw it. Always long
// key names (upstream has no V2 form of this header).
type ReplyMessageRequestHeader struct {
	ProducerGroup         string
	Topic                 string
	DefaultTopic          string
	DefaultTopicQueueNums int32
	QueueID               int32
	SysFlag               int32
	BornTimestamp         int64
	Flag                  int32
	Properties            string // optional
	ReconsumeTimes        int32  // optional
	UnitMode              bool   // optional
	BornHost              string // the replier's address, "ip:port"
	StoreHost             string // the broker's address, "ip:port"
	StoreTimestamp        int64
}

func (h *ReplyMessageRequestHeader) EncodeExt(e *ExtFields) {
	e.Set("producerGroup", h.ProducerGroup)
	e.Set("topic", h.Topic)
	e.Set("defaultTopic", h.DefaultTopic)
	setInt32(e, "defaultTopicQueueNums", h.DefaultTopicQueueNums)
	setInt32(e, "queueId", h.QueueID)
	setInt32(e, "sysFlag", h.SysFlag)
	e.SetInt("bornTimestamp", h.BornTimestamp)
	setInt32(e, "flag", h.Flag)
	setOpt(e, "properties", h.Properties)
	setInt32(e, "reconsumeTimes", h.ReconsumeTimes)
	e.SetBool("unitMode", h.UnitMode)
	e.Set("bornHost", h.BornHost)
	e.Set("storeHost", h.StoreHost)
	e.SetInt("storeTimestamp", h.StoreTimestamp)
}

// DecodeExt is lenient: a client receiving a reply needs only the topic,
// body and properties, so every other field is optional here even though
// upstream marks most of them required.
func (h *ReplyMessageRequestHeader) DecodeExt(e *ExtFields) error {
	r := extReader{e: e}
	h.ProducerGroup = r.optStr("producerGroup")
	h.Topic = r.str("topic")
	h.DefaultTopic = r.optStr("defaultTopic")
	h.DefaultTopicQueueNums = r.optI32("defaultTopicQueueNums", 0)
	h.QueueID = r.optI32("queueId", 0)
	h.SysFlag = r.optI32("sysFlag", 0)
	h.BornTimestamp = r.optI64("bornTimestamp", 0)
	h.Flag = r.optI32("flag", 0)
	h.Properties = r.optStr("properties")
	h.ReconsumeTimes = r.optI32("reconsumeTimes", 0)
	h.UnitMode = r.boolean("unitMode", false)
	h.BornHost = r.optStr("bornHost")
	h.StoreHost = r.optStr("storeHost")
	h.StoreTimestamp = r.optI64("storeTimestamp", 0)
	return r.err
}
