package remoting

// Typed headers. Each struct converts to and from ext fields in exactly one
// EncodeExt/DecodeExt pair. Field types follow the Java header classes: ints
// are int32, longs int64, booleans bool. DecodeExt reports the first missing
// required field (ErrMissingField) or unparsable value (ErrInvalidField);
// optional fields keep their documented defaults when absent.

// extReader reads typed values and remembers the first error, so header
// decoders read top to bottom without an if after every field.
type extReader struct {
	e   *ExtFields
	err error
}

func (r *extReader) fail(key, val string, sentinel error) {
	if r.err == nil {
		r.err = &FieldError{Key: key, Value: val, Err: sentinel}
	}
}

// str returns a required string.
func (r *extReader) str(key string) string {
	v, ok := r.e.Get(key)
	if !ok {
		r.fail(key, "", ErrMissingField)
	}
	return v
}

// optStr returns an optional string ("" when absent).
func (r *extReader) optStr(key string) string {
	v, _ := r.e.Get(key)
	return v
}

func (r *extReader) parse(key, v string, bits int) int64 {
	n, err := parseInt(v, bits)
	if err != nil {
		r.fail(key, v, ErrInvalidField)
	}
	return n
}

// i64 and i32 return required integers.
func (r *extReader) i64(key string) int64 {
	v, ok := r.e.Get(key)
	if !ok {
		r.fail(key, "", ErrMissingField)
		return 0
	}
	return r.parse(key, v, 64)
}

func (r *extReader) i32(key string) int32 {
	v, ok := r.e.Get(key)
	if !ok {
		r.fail(key, "", ErrMissingField)
		return 0
	}
	return int32(r.parse(key, v, 32))
}

// optI64 and optI32 return def when the key is absent (or empty, which the
// binary header cannot tell apart from absent).
func (r *extReader) optI64(key string, def int64) int64 {
	v, ok := r.e.Get(key)
	if !ok || v == "" {
		return def
	}
	return r.parse(key, v, 64)
}

func (r *extReader) optI32(key string, def int32) int32 {
	v, ok := r.e.Get(key)
	if !ok || v == "" {
		return def
	}
	return int32(r.parse(key, v, 32))
}

// boolean follows Java's Boolean.parseBoolean; absent ⇒ def.
func (r *extReader) boolean(key string, def bool) bool {
	v, ok := r.e.Get(key)
	if !ok || v == "" {
		return def
	}
	return parseBool(v)
}

// reqBool is a required boolean (Java @CFNotNull Boolean).
func (r *extReader) reqBool(key string) bool {
	v, ok := r.e.Get(key)
	if !ok {
		r.fail(key, "", ErrMissingField)
	}
	return parseBool(v)
}

// setOpt writes a string only when it is non-empty, as Java omits nulls.
func setOpt(e *ExtFields, key, v string) {
	if v != "" {
		e.Set(key, v)
	}
}

func setInt32(e *ExtFields, key string, v int32) { e.SetInt(key, int64(v)) }

// ---------------------------------------------------------------------------
// Offsets and queue queries (codes 14, 15, 29, 30, 31, 32)

// QueryConsumerOffsetRequestHeader is QUERY_CONSUMER_OFFSET (14).
type QueryConsumerOffsetRequestHeader struct {
	ConsumerGroup string
	Topic         string
	QueueID       int32
	// SetZeroIfNotFound defaults to true when absent: Java treats a null as
	// "answer offset 0 for a young queue" (upstream
	// QueryConsumerOffsetRequestHeader.setZeroIfNotFound).
	SetZeroIfNotFound bool
	BrokerName        string // bname, optional (5.x)
}

func (h *QueryConsumerOffsetRequestHeader) EncodeExt(e *ExtFields) {
	e.Set("consumerGroup", h.ConsumerGroup)
	e.Set("topic", h.Topic)
	setInt32(e, "queueId", h.QueueID)
	e.SetBool("setZeroIfNotFound", h.SetZeroIfNotFound)
	setOpt(e, "bname", h.BrokerName)
}

func (h *QueryConsumerOffsetRequestHeader) DecodeExt(e *ExtFields) error {
	r := extReader{e: e}
	h.ConsumerGroup = r.str("consumerGroup")
	h.Topic = r.str("topic")
	h.QueueID = r.i32("queueId")
	h.SetZeroIfNotFound = r.boolean("setZeroIfNotFound", true)
	h.BrokerName = r.optStr("bname")
	return r.err
}

// OffsetResponseHeader carries ext "offset"; it answers QUERY_CONSUMER_OFFSET,
// SEARCH_OFFSET_BY_TIMESTAMP, GET_MAX_OFFSET and GET_MIN_OFFSET.
type OffsetResponseHeader struct {
	Offset int64
}

func (h *OffsetResponseHeader) EncodeExt(e *ExtFields) { e.SetInt("offset", h.Offset) }

func (h *OffsetResponseHeader) DecodeExt(e *ExtFields) error {
	r := extReader{e: e}
	h.Offset = r.i64("offset")
	return r.err
}

// Per-command names for the shared offset response, so call sites read like
// the protocol tables.
type (
	QueryConsumerOffsetResponseHeader = OffsetResponseHeader
	SearchOffsetResponseHeader        = OffsetResponseHeader
	GetMaxOffsetResponseHeader        = OffsetResponseHeader
	GetMinOffsetResponseHeader        = OffsetResponseHeader
)

// UpdateConsumerOffsetRequestHeader is UPDATE_CONSUMER_OFFSET (15).
type UpdateConsumerOffsetRequestHeader struct {
	ConsumerGroup string
	Topic         string
	QueueID       int32
	CommitOffset  int64
	BrokerName    string // bname, optional
}

func (h *UpdateConsumerOffsetRequestHeader) EncodeExt(e *ExtFields) {
	e.Set("consumerGroup", h.ConsumerGroup)
	e.Set("topic", h.Topic)
	setInt32(e, "queueId", h.QueueID)
	e.SetInt("commitOffset", h.CommitOffset)
	setOpt(e, "bname", h.BrokerName)
}

func (h *UpdateConsumerOffsetRequestHeader) DecodeExt(e *ExtFields) error {
	r := extReader{e: e}
	h.ConsumerGroup = r.str("consumerGroup")
	h.Topic = r.str("topic")
	h.QueueID = r.i32("queueId")
	h.CommitOffset = r.i64("commitOffset")
	h.BrokerName = r.optStr("bname")
	return r.err
}

// SearchOffsetRequestHeader is SEARCH_OFFSET_BY_TIMESTAMP (29).
type SearchOffsetRequestHeader struct {
	Topic        string
	QueueID      int32
	Timestamp    int64  // ms
	BoundaryType string // optional "lower" (Java default) or "upper"
	BrokerName   string
}

func (h *SearchOffsetRequestHeader) EncodeExt(e *ExtFields) {
	e.Set("topic", h.Topic)
	setInt32(e, "queueId", h.QueueID)
	e.SetInt("timestamp", h.Timestamp)
	setOpt(e, "boundaryType", h.BoundaryType)
	setOpt(e, "bname", h.BrokerName)
}

func (h *SearchOffsetRequestHeader) DecodeExt(e *ExtFields) error {
	r := extReader{e: e}
	h.Topic = r.str("topic")
	h.QueueID = r.i32("queueId")
	h.Timestamp = r.i64("timestamp")
	h.BoundaryType = r.optStr("boundaryType")
	h.BrokerName = r.optStr("bname")
	return r.err
}

// GetMaxOffsetRequestHeader is GET_MAX_OFFSET (30).
type GetMaxOffsetRequestHeader struct {
	Topic   string
	QueueID int32
	// Committed defaults to true when absent (Java's field initialiser).
	Committed  bool
	BrokerName string
}

func (h *GetMaxOffsetRequestHeader) EncodeExt(e *ExtFields) {
	e.Set("topic", h.Topic)
	setInt32(e, "queueId", h.QueueID)
	e.SetBool("committed", h.Committed)
	setOpt(e, "bname", h.BrokerName)
}

func (h *GetMaxOffsetRequestHeader) DecodeExt(e *ExtFields) error {
	r := extReader{e: e}
	h.Topic = r.str("topic")
	h.QueueID = r.i32("queueId")
	h.Committed = r.boolean("committed", true)
	h.BrokerName = r.optStr("bname")
	return r.err
}

// QueueRequestHeader names one queue of a topic: GET_MIN_OFFSET (31) and
// GET_EARLIEST_MSG_STORETIME (32).
type QueueRequestHeader struct {
	Topic      string
	QueueID    int32
	BrokerName string
}

func (h *QueueRequestHeader) EncodeExt(e *ExtFields) {
	e.Set("topic", h.Topic)
	setInt32(e, "queueId", h.QueueID)
	setOpt(e, "bname", h.BrokerName)
}

func (h *QueueRequestHeader) DecodeExt(e *ExtFields) error {
	r := extReader{e: e}
	h.Topic = r.str("topic")
	h.QueueID = r.i32("queueId")
	h.BrokerName = r.optStr("bname")
	return r.err
}

type (
	GetMinOffsetRequestHeader            = QueueRequestHeader
	GetEarliestMsgStoretimeRequestHeader = QueueRequestHeader
)

// GetEarliestMsgStoretimeResponseHeader carries ext "timestamp".
type GetEarliestMsgStoretimeResponseHeader struct {
	Timestamp int64
}

func (h *GetEarliestMsgStoretimeResponseHeader) EncodeExt(e *ExtFields) {
	e.SetInt("timestamp", h.Timestamp)
}

func (h *GetEarliestMsgStoretimeResponseHeader) DecodeExt(e *ExtFields) error {
	r := extReader{e: e}
	h.Timestamp = r.i64("timestamp")
	return r.err
}

// ---------------------------------------------------------------------------
// Message lookup (12, 33)

// QueryMessageRequestHeader is QUERY_MESSAGE (12).
type QueryMessageRequestHeader struct {
	Topic          string
	Key            string
	MaxNum         int32
	BeginTimestamp int64
	EndTimestamp   int64
	// UniqueKeyQuery is ext "_UNIQUE_KEY_QUERY": Java adds it for UNIQ_KEY lookups.
	UniqueKeyQuery bool
}

func (h *QueryMessageRequestHeader) EncodeExt(e *ExtFields) {
	e.Set("topic", h.Topic)
	e.Set("key", h.Key)
	setInt32(e, "maxNum", h.MaxNum)
	e.SetInt("beginTimestamp", h.BeginTimestamp)
	e.SetInt("endTimestamp", h.EndTimestamp)
	if h.UniqueKeyQuery {
		e.SetBool("_UNIQUE_KEY_QUERY", true)
	}
}

func (h *QueryMessageRequestHeader) DecodeExt(e *ExtFields) error {
	r := extReader{e: e}
	h.Topic = r.str("topic")
	h.Key = r.str("key")
	h.MaxNum = r.i32("maxNum")
	h.BeginTimestamp = r.i64("beginTimestamp")
	h.EndTimestamp = r.i64("endTimestamp")
	h.UniqueKeyQuery = r.boolean("_UNIQUE_KEY_QUERY", false)
	return r.err
}

// QueryMessageResponseHeader answers QUERY_MESSAGE.
type QueryMessageResponseHeader struct {
	IndexLastUpdateTimestamp int64
	IndexLastUpdatePhyoffset int64
}

func (h *QueryMessageResponseHeader) EncodeExt(e *ExtFields) {
	e.SetInt("indexLastUpdateTimestamp", h.IndexLastUpdateTimestamp)
	e.SetInt("indexLastUpdatePhyoffset", h.IndexLastUpdatePhyoffset)
}

func (h *QueryMessageResponseHeader) DecodeExt(e *ExtFields) error {
	r := extReader{e: e}
	h.IndexLastUpdateTimestamp = r.i64("indexLastUpdateTimestamp")
	h.IndexLastUpdatePhyoffset = r.i64("indexLastUpdatePhyoffset")
	return r.err
}

// ViewMessageByIDRequestHeader is VIEW_MESSAGE_BY_ID (33).
type ViewMessageByIDRequestHeader struct {
	Offset int64  // commit-log offset
	Topic  string // optional
}

func (h *ViewMessageByIDRequestHeader) EncodeExt(e *ExtFields) {
	e.SetInt("offset", h.Offset)
	setOpt(e, "topic", h.Topic)
}

func (h *ViewMessageByIDRequestHeader) DecodeExt(e *ExtFields) error {
	r := extReader{e: e}
	h.Offset = r.i64("offset")
	h.Topic = r.optStr("topic")
	return r.err
}

// ---------------------------------------------------------------------------
// Consumer management (35, 36, 38, 40, 220/222, 221/223, 307, 309)

// ConsumerSendMsgBackRequestHeader is CONSUMER_SEND_MSG_BACK (36).
type ConsumerSendMsgBackRequestHeader struct {
	Offset      int64 // PHYSICALOFFSET on this broker
	Group       string
	DelayLevel  int32
	OriginMsgID string // optional
	OriginTopic string // optional
	UnitMode    bool
	// MaxReconsumeTimes is honoured only when HasMaxReconsumeTimes: Java
	// sends a nullable Integer and falls back to the group's retryMaxTimes.
	MaxReconsumeTimes    int32
	HasMaxReconsumeTimes bool
	BrokerName           string // bname, optional
}

func (h *ConsumerSendMsgBackRequestHeader) EncodeExt(e *ExtFields) {
	e.SetInt("offset", h.Offset)
	e.Set("group", h.Group)
	setInt32(e, "delayLevel", h.DelayLevel)
	setOpt(e, "originMsgId", h.OriginMsgID)
	setOpt(e, "originTopic", h.OriginTopic)
	e.SetBool("unitMode", h.UnitMode)
	if h.HasMaxReconsumeTimes {
		setInt32(e, "maxReconsumeTimes", h.MaxReconsumeTimes)
	}
	setOpt(e, "bname", h.BrokerName)
}

func (h *ConsumerSendMsgBackRequestHeader) DecodeExt(e *ExtFields) error {
	r := extReader{e: e}
	h.Offset = r.i64("offset")
	h.Group = r.str("group")
	h.DelayLevel = r.i32("delayLevel")
	h.OriginMsgID = r.optStr("originMsgId")
	h.OriginTopic = r.optStr("originTopic")
	h.UnitMode = r.boolean("unitMode", false)
	v, ok := e.Get("maxReconsumeTimes")
	h.HasMaxReconsumeTimes = ok && v != ""
	h.MaxReconsumeTimes = r.optI32("maxReconsumeTimes", 0)
	h.BrokerName = r.optStr("bname")
	return r.err
}

// ConsumerGroupHeader carries just ext "consumerGroup": GET_CONSUMER_LIST_BY_GROUP
// (38) and NOTIFY_CONSUMER_IDS_CHANGED (40).
type ConsumerGroupHeader struct {
	ConsumerGroup string
}

func (h *ConsumerGroupHeader) EncodeExt(e *ExtFields) { e.Set("consumerGroup", h.ConsumerGroup) }

func (h *ConsumerGroupHeader) DecodeExt(e *ExtFields) error {
	r := extReader{e: e}
	h.ConsumerGroup = r.str("consumerGroup")
	return r.err
}

type (
	GetConsumerListByGroupRequestHeader   = ConsumerGroupHeader
	NotifyConsumerIDsChangedRequestHeader = ConsumerGroupHeader
)

// UnregisterClientRequestHeader is UNREGISTER_CLIENT (35).
type UnregisterClientRequestHeader struct {
	ClientID      string
	ProducerGroup string // optional
	ConsumerGroup string // optional
}

func (h *UnregisterClientRequestHeader) EncodeExt(e *ExtFields) {
	e.Set("clientID", h.ClientID)
	setOpt(e, "producerGroup", h.ProducerGroup)
	setOpt(e, "consumerGroup", h.ConsumerGroup)
}

func (h *UnregisterClientRequestHeader) DecodeExt(e *ExtFields) error {
	r := extReader{e: e}
	h.ClientID = r.str("clientID")
	h.ProducerGroup = r.optStr("producerGroup")
	h.ConsumerGroup = r.optStr("consumerGroup")
	return r.err
}

// ResetOffsetRequestHeader is RESET_CONSUMER_CLIENT_OFFSET (220, broker to
// client) and INVOKE_BROKER_TO_RESET_OFFSET (222, admin to broker).
type ResetOffsetRequestHeader struct {
	Topic     string
	Group     string
	Timestamp int64
	IsForce   bool
	// OneQueue selects the 5.x form that resets a single queue to Offset;
	// without it the whole topic is reset by Timestamp. An explicit flag
	// keeps the zero value from meaning "queue 0, offset 0".
	OneQueue bool
	QueueID  int32 // -1 when decoded without queueId
	Offset   int64 // -1 when decoded without offset
}

func (h *ResetOffsetRequestHeader) EncodeExt(e *ExtFields) {
	e.Set("topic", h.Topic)
	e.Set("group", h.Group)
	e.SetInt("timestamp", h.Timestamp)
	e.SetBool("isForce", h.IsForce)
	if h.OneQueue {
		setInt32(e, "queueId", h.QueueID)
		e.SetInt("offset", h.Offset)
	}
}

func (h *ResetOffsetRequestHeader) DecodeExt(e *ExtFields) error {
	r := extReader{e: e}
	h.Topic = r.str("topic")
	h.Group = r.str("group")
	h.Timestamp = r.i64("timestamp")
	h.IsForce = r.reqBool("isForce")
	h.QueueID = r.optI32("queueId", -1)
	h.Offset = r.optI64("offset", -1)
	h.OneQueue = h.QueueID >= 0
	return r.err
}

// GetConsumerStatusRequestHeader is GET_CONSUMER_STATUS_FROM_CLIENT (221) and
// INVOKE_BROKER_TO_GET_CONSUMER_STATUS (223).
type GetConsumerStatusRequestHeader struct {
	Topic      string
	Group      string
	ClientAddr string // optional
}

func (h *GetConsumerStatusRequestHeader) EncodeExt(e *ExtFields) {
	e.Set("topic", h.Topic)
	e.Set("group", h.Group)
	setOpt(e, "clientAddr", h.ClientAddr)
}

func (h *GetConsumerStatusRequestHeader) DecodeExt(e *ExtFields) error {
	r := extReader{e: e}
	h.Topic = r.str("topic")
	h.Group = r.str("group")
	h.ClientAddr = r.optStr("clientAddr")
	return r.err
}

// GetConsumerRunningInfoRequestHeader is GET_CONSUMER_RUNNING_INFO (307).
type GetConsumerRunningInfoRequestHeader struct {
	ConsumerGroup string
	ClientID      string
	JstackEnable  bool
}

func (h *GetConsumerRunningInfoRequestHeader) EncodeExt(e *ExtFields) {
	e.Set("consumerGroup", h.ConsumerGroup)
	e.Set("clientId", h.ClientID)
	e.SetBool("jstackEnable", h.JstackEnable)
}

func (h *GetConsumerRunningInfoRequestHeader) DecodeExt(e *ExtFields) error {
	r := extReader{e: e}
	h.ConsumerGroup = r.str("consumerGroup")
	h.ClientID = r.str("clientId")
	h.JstackEnable = r.boolean("jstackEnable", false)
	return r.err
}

// ConsumeMessageDirectlyRequestHeader is CONSUME_MESSAGE_DIRECTLY (309).
type ConsumeMessageDirectlyRequestHeader struct {
	ConsumerGroup string
	ClientID      string // optional
	MsgID         string // optional
	BrokerName    string // optional
	Topic         string // optional
	TopicSysFlag  int32  // optional
	GroupSysFlag  int32  // optional
}

func (h *ConsumeMessageDirectlyRequestHeader) EncodeExt(e *ExtFields) {
	e.Set("consumerGroup", h.ConsumerGroup)
	setOpt(e, "clientId", h.ClientID)
	setOpt(e, "msgId", h.MsgID)
	setOpt(e, "brokerName", h.BrokerName)
	setOpt(e, "topic", h.Topic)
	if h.TopicSysFlag != 0 {
		setInt32(e, "topicSysFlag", h.TopicSysFlag)
	}
	if h.GroupSysFlag != 0 {
		setInt32(e, "groupSysFlag", h.GroupSysFlag)
	}
}

func (h *ConsumeMessageDirectlyRequestHeader) DecodeExt(e *ExtFields) error {
	r := extReader{e: e}
	h.ConsumerGroup = r.str("consumerGroup")
	h.ClientID = r.optStr("clientId")
	h.MsgID = r.optStr("msgId")
	h.BrokerName = r.optStr("brokerName")
	h.Topic = r.optStr("topic")
	h.TopicSysFlag = r.optI32("topicSysFlag", 0)
	h.GroupSysFlag = r.optI32("groupSysFlag", 0)
	return r.err
}

// ---------------------------------------------------------------------------
// Transactions (37, 39)

// Transaction states carried in END_TRANSACTION commitOrRollback; they equal
// the sysFlag transaction bits.
const (
	TransactionNotType  int32 = 0
	TransactionPrepared int32 = 0x4
	TransactionCommit   int32 = 0x8
	TransactionRollback int32 = 0xC
)

// EndTransactionRequestHeader is END_TRANSACTION (37).
type EndTransactionRequestHeader struct {
	ProducerGroup        string
	TranStateTableOffset int64
	CommitLogOffset      int64
	CommitOrRollback     int32 // 0 unknown, 8 commit, 12 rollback
	FromTransactionCheck bool
	MsgID                string // UNIQ_KEY
	TransactionID        string // optional
	Topic                string // optional
	BrokerName           string // bname, optional
}

func (h *EndTransactionRequestHeader) EncodeExt(e *ExtFields) {
	e.Set("producerGroup", h.ProducerGroup)
	e.SetInt("tranStateTableOffset", h.TranStateTableOffset)
	e.SetInt("commitLogOffset", h.CommitLogOffset)
	setInt32(e, "commitOrRollback", h.CommitOrRollback)
	e.SetBool("fromTransactionCheck", h.FromTransactionCheck)
	e.Set("msgId", h.MsgID)
	setOpt(e, "transactionId", h.TransactionID)
	setOpt(e, "topic", h.Topic)
	setOpt(e, "bname", h.BrokerName)
}

func (h *EndTransactionRequestHeader) DecodeExt(e *ExtFields) error {
	r := extReader{e: e}
	h.ProducerGroup = r.str("producerGroup")
	h.TranStateTableOffset = r.i64("tranStateTableOffset")
	h.CommitLogOffset = r.i64("commitLogOffset")
	h.CommitOrRollback = r.i32("commitOrRollback")
	h.FromTransactionCheck = r.reqBool("fromTransactionCheck")
	h.MsgID = r.str("msgId")
	h.TransactionID = r.optStr("transactionId")
	h.Topic = r.optStr("topic")
	h.BrokerName = r.optStr("bname")
	return r.err
}

// CheckTransactionStateRequestHeader is CHECK_TRANSACTION_STATE (39).
type CheckTransactionStateRequestHeader struct {
	Topic                string // optional
	TranStateTableOffset int64
	CommitLogOffset      int64
	MsgID                string // optional, UNIQ_KEY
	TransactionID        string // optional
	OffsetMsgID          string // optional
	BrokerName           string // bname, optional
}

func (h *CheckTransactionStateRequestHeader) EncodeExt(e *ExtFields) {
	setOpt(e, "topic", h.Topic)
	e.SetInt("tranStateTableOffset", h.TranStateTableOffset)
	e.SetInt("commitLogOffset", h.CommitLogOffset)
	setOpt(e, "msgId", h.MsgID)
	setOpt(e, "transactionId", h.TransactionID)
	setOpt(e, "offsetMsgId", h.OffsetMsgID)
	setOpt(e, "bname", h.BrokerName)
}

func (h *CheckTransactionStateRequestHeader) DecodeExt(e *ExtFields) error {
	r := extReader{e: e}
	h.Topic = r.optStr("topic")
	h.TranStateTableOffset = r.i64("tranStateTableOffset")
	h.CommitLogOffset = r.i64("commitLogOffset")
	h.MsgID = r.optStr("msgId")
	h.TransactionID = r.optStr("transactionId")
	h.OffsetMsgID = r.optStr("offsetMsgId")
	h.BrokerName = r.optStr("bname")
	return r.err
}

// ---------------------------------------------------------------------------
// Topic administration (17, 215, 216, 224)

// CreateTopicRequestHeader is UPDATE_AND_CREATE_TOPIC (17).
type CreateTopicRequestHeader struct {
	Topic           string
	DefaultTopic    string
	ReadQueueNums   int32
	WriteQueueNums  int32
	Perm            int32
	TopicFilterType string // "SINGLE_TAG" or "MULTI_TAG"
	TopicSysFlag    int32  // optional
	Order           bool
	Attributes      string // optional, e.g. "+message.type=NORMAL"
	Force           bool   // optional
}

func (h *CreateTopicRequestHeader) EncodeExt(e *ExtFields) {
	e.Set("topic", h.Topic)
	e.Set("defaultTopic", h.DefaultTopic)
	setInt32(e, "readQueueNums", h.ReadQueueNums)
	setInt32(e, "writeQueueNums", h.WriteQueueNums)
	setInt32(e, "perm", h.Perm)
	e.Set("topicFilterType", h.TopicFilterType)
	setInt32(e, "topicSysFlag", h.TopicSysFlag)
	e.SetBool("order", h.Order)
	setOpt(e, "attributes", h.Attributes)
	if h.Force {
		e.SetBool("force", true)
	}
}

func (h *CreateTopicRequestHeader) DecodeExt(e *ExtFields) error {
	r := extReader{e: e}
	h.Topic = r.str("topic")
	h.DefaultTopic = r.str("defaultTopic")
	h.ReadQueueNums = r.i32("readQueueNums")
	h.WriteQueueNums = r.i32("writeQueueNums")
	h.Perm = r.i32("perm")
	h.TopicFilterType = r.str("topicFilterType")
	h.TopicSysFlag = r.optI32("topicSysFlag", 0)
	h.Order = r.reqBool("order")
	h.Attributes = r.optStr("attributes")
	h.Force = r.boolean("force", false)
	return r.err
}

// DeleteTopicRequestHeader is DELETE_TOPIC_IN_BROKER (215).
type DeleteTopicRequestHeader struct {
	Topic string
}

func (h *DeleteTopicRequestHeader) EncodeExt(e *ExtFields) { e.Set("topic", h.Topic) }

func (h *DeleteTopicRequestHeader) DecodeExt(e *ExtFields) error {
	r := extReader{e: e}
	h.Topic = r.str("topic")
	return r.err
}

// DeleteTopicInNamesrvRequestHeader is DELETE_TOPIC_IN_NAMESRV (216).
type DeleteTopicInNamesrvRequestHeader struct {
	Topic       string
	ClusterName string // optional: only this cluster's brokers
}

func (h *DeleteTopicInNamesrvRequestHeader) EncodeExt(e *ExtFields) {
	e.Set("topic", h.Topic)
	setOpt(e, "clusterName", h.ClusterName)
}

func (h *DeleteTopicInNamesrvRequestHeader) DecodeExt(e *ExtFields) error {
	r := extReader{e: e}
	h.Topic = r.str("topic")
	h.ClusterName = r.optStr("clusterName")
	return r.err
}

// GetTopicsByClusterRequestHeader is GET_TOPICS_BY_CLUSTER (224).
type GetTopicsByClusterRequestHeader struct {
	Cluster string
}

func (h *GetTopicsByClusterRequestHeader) EncodeExt(e *ExtFields) { e.Set("cluster", h.Cluster) }

func (h *GetTopicsByClusterRequestHeader) DecodeExt(e *ExtFields) error {
	r := extReader{e: e}
	h.Cluster = r.str("cluster")
	return r.err
}

// ---------------------------------------------------------------------------
// Name server (100-105, 322, 904)

// GetRouteInfoRequestHeader is GET_ROUTEINFO_BY_TOPIC (105).
type GetRouteInfoRequestHeader struct {
	Topic string
	// AcceptStandardJSONOnly asks for quoted numeric brokerAddrs keys; our
	// name server always emits those, but sending it helps real namesrvs.
	AcceptStandardJSONOnly bool
}

func (h *GetRouteInfoRequestHeader) EncodeExt(e *ExtFields) {
	e.Set("topic", h.Topic)
	if h.AcceptStandardJSONOnly {
		e.SetBool("acceptStandardJsonOnly", true)
	}
}

func (h *GetRouteInfoRequestHeader) DecodeExt(e *ExtFields) error {
	r := extReader{e: e}
	h.Topic = r.str("topic")
	h.AcceptStandardJSONOnly = r.boolean("acceptStandardJsonOnly", false)
	return r.err
}

// RegisterBrokerRequestHeader is REGISTER_BROKER (103).
type RegisterBrokerRequestHeader struct {
	BrokerName             string
	BrokerAddr             string // "ip:port"
	ClusterName            string
	HaServerAddr           string // "ip:haPort"
	BrokerID               int64  // 0 = master
	HeartbeatTimeoutMillis int64  // optional; 0 ⇒ the name server's default
	EnableActingMaster     bool   // optional
	Compressed             bool
	BodyCrc32              int32  // 0 ⇒ not checked
	ZoneName               string // __ZONE_NAME, optional
}

func (h *RegisterBrokerRequestHeader) EncodeExt(e *ExtFields) {
	e.Set("brokerName", h.BrokerName)
	e.Set("brokerAddr", h.BrokerAddr)
	e.Set("clusterName", h.ClusterName)
	e.Set("haServerAddr", h.HaServerAddr)
	e.SetInt("brokerId", h.BrokerID)
	if h.HeartbeatTimeoutMillis != 0 {
		e.SetInt("heartbeatTimeoutMillis", h.HeartbeatTimeoutMillis)
	}
	if h.EnableActingMaster {
		e.SetBool("enableActingMaster", true)
	}
	e.SetBool("compressed", h.Compressed)
	setInt32(e, "bodyCrc32", h.BodyCrc32)
	setOpt(e, "__ZONE_NAME", h.ZoneName)
}

func (h *RegisterBrokerRequestHeader) DecodeExt(e *ExtFields) error {
	r := extReader{e: e}
	h.BrokerName = r.str("brokerName")
	h.BrokerAddr = r.str("brokerAddr")
	h.ClusterName = r.str("clusterName")
	h.HaServerAddr = r.str("haServerAddr")
	h.BrokerID = r.i64("brokerId")
	h.HeartbeatTimeoutMillis = r.optI64("heartbeatTimeoutMillis", 0)
	h.EnableActingMaster = r.boolean("enableActingMaster", false)
	h.Compressed = r.boolean("compressed", false)
	h.BodyCrc32 = r.optI32("bodyCrc32", 0)
	h.ZoneName = r.optStr("__ZONE_NAME")
	return r.err
}

// RegisterBrokerResponseHeader answers REGISTER_BROKER; both are empty for a master.
type RegisterBrokerResponseHeader struct {
	HaServerAddr string
	MasterAddr   string
}

func (h *RegisterBrokerResponseHeader) EncodeExt(e *ExtFields) {
	setOpt(e, "haServerAddr", h.HaServerAddr)
	setOpt(e, "masterAddr", h.MasterAddr)
}

func (h *RegisterBrokerResponseHeader) DecodeExt(e *ExtFields) error {
	h.HaServerAddr, _ = e.Get("haServerAddr")
	h.MasterAddr, _ = e.Get("masterAddr")
	return nil
}

// BrokerIdentityHeader names one broker instance: UNREGISTER_BROKER (104) and
// QUERY_DATA_VERSION (322).
type BrokerIdentityHeader struct {
	BrokerName  string
	BrokerAddr  string
	ClusterName string
	BrokerID    int64
}

func (h *BrokerIdentityHeader) EncodeExt(e *ExtFields) {
	e.Set("brokerName", h.BrokerName)
	e.Set("brokerAddr", h.BrokerAddr)
	e.Set("clusterName", h.ClusterName)
	e.SetInt("brokerId", h.BrokerID)
}

func (h *BrokerIdentityHeader) DecodeExt(e *ExtFields) error {
	r := extReader{e: e}
	h.BrokerName = r.str("brokerName")
	h.BrokerAddr = r.str("brokerAddr")
	h.ClusterName = r.str("clusterName")
	h.BrokerID = r.i64("brokerId")
	return r.err
}

type (
	UnregisterBrokerRequestHeader = BrokerIdentityHeader
	QueryDataVersionRequestHeader = BrokerIdentityHeader
)

// QueryDataVersionResponseHeader answers QUERY_DATA_VERSION.
type QueryDataVersionResponseHeader struct {
	Changed bool
}

func (h *QueryDataVersionResponseHeader) EncodeExt(e *ExtFields) { e.SetBool("changed", h.Changed) }

func (h *QueryDataVersionResponseHeader) DecodeExt(e *ExtFields) error {
	r := extReader{e: e}
	h.Changed = r.reqBool("changed")
	return r.err
}

// BrokerHeartbeatRequestHeader is BROKER_HEARTBEAT (904). Only the first three
// fields are required; the rest default to 0.
type BrokerHeartbeatRequestHeader struct {
	ClusterName           string
	BrokerAddr            string
	BrokerName            string
	BrokerID              int64
	Epoch                 int32
	MaxOffset             int64
	ConfirmOffset         int64
	HeartbeatTimeoutMills int64 // sic: Java's spelling of the key
	ElectionPriority      int32
}

func (h *BrokerHeartbeatRequestHeader) EncodeExt(e *ExtFields) {
	e.Set("clusterName", h.ClusterName)
	e.Set("brokerAddr", h.BrokerAddr)
	e.Set("brokerName", h.BrokerName)
	e.SetInt("brokerId", h.BrokerID)
	setInt32(e, "epoch", h.Epoch)
	e.SetInt("maxOffset", h.MaxOffset)
	e.SetInt("confirmOffset", h.ConfirmOffset)
	e.SetInt("heartbeatTimeoutMills", h.HeartbeatTimeoutMills)
	setInt32(e, "electionPriority", h.ElectionPriority)
}

func (h *BrokerHeartbeatRequestHeader) DecodeExt(e *ExtFields) error {
	r := extReader{e: e}
	h.ClusterName = r.str("clusterName")
	h.BrokerAddr = r.str("brokerAddr")
	h.BrokerName = r.str("brokerName")
	h.BrokerID = r.optI64("brokerId", 0)
	h.Epoch = r.optI32("epoch", 0)
	h.MaxOffset = r.optI64("maxOffset", 0)
	h.ConfirmOffset = r.optI64("confirmOffset", 0)
	h.HeartbeatTimeoutMills = r.optI64("heartbeatTimeoutMills", 0)
	h.ElectionPriority = r.optI32("electionPriority", 0)
	return r.err
}

// PutKVConfigRequestHeader is PUT_KV_CONFIG (100).
type PutKVConfigRequestHeader struct {
	Namespace string
	Key       string
	Value     string
}

func (h *PutKVConfigRequestHeader) EncodeExt(e *ExtFields) {
	e.Set("namespace", h.Namespace)
	e.Set("key", h.Key)
	e.Set("value", h.Value)
}

func (h *PutKVConfigRequestHeader) DecodeExt(e *ExtFields) error {
	r := extReader{e: e}
	h.Namespace = r.str("namespace")
	h.Key = r.str("key")
	h.Value = r.str("value")
	return r.err
}

// KVConfigKeyHeader names one KV entry: GET_KV_CONFIG (101) and DELETE_KV_CONFIG (102).
type KVConfigKeyHeader struct {
	Namespace string
	Key       string
}

func (h *KVConfigKeyHeader) EncodeExt(e *ExtFields) {
	e.Set("namespace", h.Namespace)
	e.Set("key", h.Key)
}

func (h *KVConfigKeyHeader) DecodeExt(e *ExtFields) error {
	r := extReader{e: e}
	h.Namespace = r.str("namespace")
	h.Key = r.str("key")
	return r.err
}

type (
	GetKVConfigRequestHeader    = KVConfigKeyHeader
	DeleteKVConfigRequestHeader = KVConfigKeyHeader
)

// GetKVConfigResponseHeader answers GET_KV_CONFIG with ext "value".
type GetKVConfigResponseHeader struct {
	Value string
}

func (h *GetKVConfigResponseHeader) EncodeExt(e *ExtFields) { e.Set("value", h.Value) }

func (h *GetKVConfigResponseHeader) DecodeExt(e *ExtFields) error {
	r := extReader{e: e}
	h.Value = r.str("value")
	return r.err
}
