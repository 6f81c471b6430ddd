package remoting

// Headers of the administration requests admin tools send to brokers
// (codes 25, 26, 202, 204, 208, 300, 314, 317, 321). Field names follow
// the Java header classes; Java leaves primitive fields that are absent at
// their zero value, and so do these decoders unless the field is @CFNotNull.

// TopicHeader is the header of requests naming one topic:
// GET_TOPIC_STATS_INFO (202) and QUERY_TOPIC_CONSUME_BY_WHO (300).
type TopicHeader struct {
	Topic string
}

func (h *TopicHeader) EncodeExt(e *ExtFields) { e.Set("topic", h.Topic) }

func (h *TopicHeader) DecodeExt(e *ExtFields) error {
	r := extReader{e: e}
	h.Topic = r.str("topic")
	return r.err
}

// ProducerGroupHeader is GET_PRODUCER_CONNECTION_LIST (204).
type ProducerGroupHeader struct {
	ProducerGroup string
}

func (h *ProducerGroupHeader) EncodeExt(e *ExtFields) { e.Set("producerGroup", h.ProducerGroup) }

func (h *ProducerGroupHeader) DecodeExt(e *ExtFields) error {
	r := extReader{e: e}
	h.ProducerGroup = r.str("producerGroup")
	return r.err
}

// GetConsumeStatsRequestHeader is GET_CONSUME_STATS (208). TopicList, when
// set, names several topics separated by ';' and wins over Topic.
type GetConsumeStatsRequestHeader struct {
	ConsumerGroup string
	Topic         string // optional
	TopicList     string // optional
}

func (h *GetConsumeStatsRequestHeader) EncodeExt(e *ExtFields) {
	e.Set("consumerGroup", h.ConsumerGroup)
	setOpt(e, "topic", h.Topic)
	setOpt(e, "topicList", h.TopicList)
}

func (h *GetConsumeStatsRequestHeader) DecodeExt(e *ExtFields) error {
	r := extReader{e: e}
	h.ConsumerGroup = r.str("consumerGroup")
	h.Topic = r.optStr("topic")
	h.TopicList = r.optStr("topicList")
	return r.err
}

// GetConsumeStatsInBrokerHeader is GET_BROKER_CONSUME_STATS (317).
type GetConsumeStatsInBrokerHeader struct {
	IsOrder bool
}

func (h *GetConsumeStatsInBrokerHeader) EncodeExt(e *ExtFields) { e.SetBool("isOrder", h.IsOrder) }

func (h *GetConsumeStatsInBrokerHeader) DecodeExt(e *ExtFields) error {
	r := extReader{e: e}
	h.IsOrder = r.reqBool("isOrder")
	return r.err
}

// CloneGroupOffsetRequestHeader is CLONE_GROUP_OFFSET (314). An empty
// Topic clones every topic the source group has offsets on; Offline skips
// the check that the source group subscribes to the topic.
type CloneGroupOffsetRequestHeader struct {
	SrcGroup  string
	DestGroup string
	Topic     string // optional
	Offline   bool
}

func (h *CloneGroupOffsetRequestHeader) EncodeExt(e *ExtFields) {
	e.Set("srcGroup", h.SrcGroup)
	e.Set("destGroup", h.DestGroup)
	setOpt(e, "topic", h.Topic)
	e.SetBool("offline", h.Offline)
}

func (h *CloneGroupOffsetRequestHeader) DecodeExt(e *ExtFields) error {
	r := extReader{e: e}
	h.SrcGroup = r.str("srcGroup")
	h.DestGroup = r.str("destGroup")
	h.Topic = r.optStr("topic")
	h.Offline = r.boolean("offline", false)
	return r.err
}

// QueryConsumeQueueRequestHeader is QUERY_CONSUME_QUEUE (321): Count
// entries of a queue from Index on, evaluated for ConsumerGroup's
// subscription when it is set.
type QueryConsumeQueueRequestHeader struct {
	Topic         string
	QueueID       int32
	Index         int64
	Count         int32
	ConsumerGroup string // optional
}

func (h *QueryConsumeQueueRequestHeader) EncodeExt(e *ExtFields) {
	e.Set("topic", h.Topic)
	setInt32(e, "queueId", h.QueueID)
	e.SetInt("index", h.Index)
	setInt32(e, "count", h.Count)
	setOpt(e, "consumerGroup", h.ConsumerGroup)
}

func (h *QueryConsumeQueueRequestHeader) DecodeExt(e *ExtFields) error {
	r := extReader{e: e}
	h.Topic = r.str("topic")
	h.QueueID = r.optI32("queueId", 0)
	h.Index = r.optI64("index", 0)
	h.Count = r.optI32("count", 0)
	h.ConsumerGroup = r.optStr("consumerGroup")
	return r.err
}

// GetBrokerConfigResponseHeader answers GET_BROKER_CONFIG (26): the
// configuration's data version as JSON.
type GetBrokerConfigResponseHeader struct {
	Version string
}

func (h *GetBrokerConfigResponseHeader) EncodeExt(e *ExtFields) { e.Set("version", h.Version) }

func (h *GetBrokerConfigResponseHeader) DecodeExt(e *ExtFields) error {
	r := extReader{e: e}
	h.Version = r.str("version")
	return r.err
}
