package remoting

// Headers of the POP companions (upstream PeekMessageRequestHeader,
// NotificationRequestHeader/ResponseHeader, PollingInfoRequestHeader/
// ResponseHeader), with upstream's field names. PEEK_MESSAGE answers with
// a PopMessageResponseHeader (only RestNum set), as upstream.

// PeekMessageRequestHeader is PEEK_MESSAGE (200052): up to MaxMsgNums
// messages from the group's POP position, without popping them. QueueID
// -1 reads any queue.
type PeekMessageRequestHeader struct {
	ConsumerGroup string
	Topic         string
	QueueID       int32
	MaxMsgNums    int32
}

func (h *PeekMessageRequestHeader) EncodeExt(e *ExtFields) {
	e.Set("consumerGroup", h.ConsumerGroup)
	e.Set("topic", h.Topic)
	setInt32(e, "queueId", h.QueueID)
	setInt32(e, "maxMsgNums", h.MaxMsgNums)
}

func (h *PeekMessageRequestHeader) DecodeExt(e *ExtFields) error {
	*h = PeekMessageRequestHeader{}
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
		case "maxMsgNums":
			seen |= d.i32(&h.MaxMsgNums, k, v) << 3
		}
	}
	if d.err != nil {
		return d.err
	}
	return missingRequired(seen, 1<<4-1, "consumerGroup", "topic", "queueId", "maxMsgNums")
}

// NotificationRequestHeader is NOTIFICATION (200054): wait up to PollTime
// ms until the group has a message it could pop on Topic (QueueID -1: any
// queue). Order asks whether an orderly pop would get one (a queue whose
// handed-out messages are not yet acknowledged has none).
type NotificationRequestHeader struct {
	ConsumerGroup string
	Topic         string
	QueueID       int32
	PollTime      int64
	BornTime      int64
	Order         bool   // optional
	AttemptID     string // optional
}

func (h *NotificationRequestHeader) EncodeExt(e *ExtFields) {
	e.Set("consumerGroup", h.ConsumerGroup)
	e.Set("topic", h.Topic)
	setInt32(e, "queueId", h.QueueID)
	e.SetInt("pollTime", h.PollTime)
	e.SetInt("bornTime", h.BornTime)
	if h.Order {
		e.SetBool("order", true)
	}
	setOpt(e, "attemptId", h.AttemptID)
}

func (h *NotificationRequestHeader) DecodeExt(e *ExtFields) error {
	*h = NotificationRequestHeader{}
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
		case "pollTime":
			seen |= d.i64(&h.PollTime, k, v) << 3
		case "bornTime":
			seen |= d.i64(&h.BornTime, k, v) << 4
		case "order":
			h.Order = parseBool(v)
		case "attemptId":
			h.AttemptID = v
		}
	}
	if d.err != nil {
		return d.err
	}
	return missingRequired(seen, 1<<5-1, "consumerGroup", "topic", "queueId", "pollTime", "bornTime")
}

// NotificationResponseHeader answers NOTIFICATION.
type NotificationResponseHeader struct {
	HasMsg bool
}

func (h *NotificationResponseHeader) EncodeExt(e *ExtFields) { e.SetBool("hasMsg", h.HasMsg) }

func (h *NotificationResponseHeader) DecodeExt(e *ExtFields) error {
	*h = NotificationResponseHeader{}
	if v, ok := e.Get("hasMsg"); ok {
		h.HasMsg = parseBool(v)
	}
	return nil
}

// PollingInfoRequestHeader is POLLING_INFO (200055): how many POP requests
// of the group wait on Topic's queue QueueID (-1: those waiting on any
// queue).
type PollingInfoRequestHeader struct {
	ConsumerGroup string
	Topic         string
	QueueID       int32
}

func (h *PollingInfoRequestHeader) EncodeExt(e *ExtFields) {
	e.Set("consumerGroup", h.ConsumerGroup)
	e.Set("topic", h.Topic)
	setInt32(e, "queueId", h.QueueID)
}

func (h *PollingInfoRequestHeader) DecodeExt(e *ExtFields) error {
	*h = PollingInfoRequestHeader{}
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
			d.i32(&h.QueueID, k, v) // optional, 0 by default as upstream
		}
	}
	if d.err != nil {
		return d.err
	}
	return missingRequired(seen, 1<<2-1, "consumerGroup", "topic")
}

// PollingInfoResponseHeader answers POLLING_INFO.
type PollingInfoResponseHeader struct {
	PollingNum int32
}

func (h *PollingInfoResponseHeader) EncodeExt(e *ExtFields) { setInt32(e, "pollingNum", h.PollingNum) }

func (h *PollingInfoResponseHeader) DecodeExt(e *ExtFields) error {
	*h = PollingInfoResponseHeader{}
	var d intDecoder
	if v, ok := e.Get("pollingNum"); ok {
		d.i32(&h.PollingNum, "pollingNum", v)
	}
	return d.err
}
