package remoting

import (
	"fmt"
	"strconv"
	"strings"
)

// Headers of 5.x POP consumption (upstream PopMessageRequestHeader,
// PopMessageResponseHeader, AckMessageRequestHeader,
// ChangeInvisibleTimeRequestHeader/ResponseHeader), with upstream's field
// names. Times are milliseconds, as on the wire.

// Consume init modes of a POP request: where a group that never consumed a
// queue starts (upstream ConsumeInitMode).
const (
	PopInitModeMin int32 = 0 // from the queue's first message
	PopInitModeMax int32 = 1 // from the queue's end: only new messages
)

// PopOrderReviveQueue is the revive queue id upstream reports for orderly
// (FIFO) POP; other pops name revive queues from 0.
const PopOrderReviveQueue = 999

// PopMessageRequestHeader is POP_MESSAGE (200050). QueueID -1 pops from any
// queue of the topic.
type PopMessageRequestHeader struct {
	ConsumerGroup string
	Topic         string
	QueueID       int32
	MaxMsgNums    int32
	InvisibleTime int64 // ms the popped messages stay invisible to others
	PollTime      int64 // ms the broker may hold the request when nothing is there
	BornTime      int64 // client ms clock at send
	InitMode      int32
	ExpType       string // optional: TAG (default) or SQL92
	Exp           string // optional: subscription expression, "*" when empty
	Order         bool   // optional: orderly (FIFO) pop
	AttemptID     string // optional
	BrokerName    string // bname, optional
}

func (h *PopMessageRequestHeader) EncodeExt(e *ExtFields) {
	e.Set("consumerGroup", h.ConsumerGroup)
	e.Set("topic", h.Topic)
	setInt32(e, "queueId", h.QueueID)
	setInt32(e, "maxMsgNums", h.MaxMsgNums)
	e.SetInt("invisibleTime", h.InvisibleTime)
	e.SetInt("pollTime", h.PollTime)
	e.SetInt("bornTime", h.BornTime)
	setInt32(e, "initMode", h.InitMode)
	setOpt(e, "expType", h.ExpType)
	setOpt(e, "exp", h.Exp)
	if h.Order {
		e.SetBool("order", true)
	}
	setOpt(e, "attemptId", h.AttemptID)
	setOpt(e, "bname", h.BrokerName)
}

const popAllRequired = 1<<8 - 1

func (h *PopMessageRequestHeader) DecodeExt(e *ExtFields) error {
	*h = PopMessageRequestHeader{}
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
		case "invisibleTime":
			seen |= d.i64(&h.InvisibleTime, k, v) << 4
		case "pollTime":
			seen |= d.i64(&h.PollTime, k, v) << 5
		case "bornTime":
			seen |= d.i64(&h.BornTime, k, v) << 6
		case "initMode":
			seen |= d.i32(&h.InitMode, k, v) << 7
		case "expType":
			h.ExpType = v
		case "exp":
			h.Exp = v
		case "order":
			h.Order = parseBool(v)
		case "attemptId":
			h.AttemptID = v
		case "bname":
			h.BrokerName = v
		}
	}
	if d.err != nil {
		return d.err
	}
	return missingRequired(seen, popAllRequired,
		"consumerGroup", "topic", "queueId", "maxMsgNums",
		"invisibleTime", "pollTime", "bornTime", "initMode")
}

// PopMessageResponseHeader answers POP_MESSAGE. StartOffsetInfo,
// MsgOffsetInfo and OrderCountInfo are ExtraInfo lists (see
// ParsePopOffsetInfo) from which a client builds each message's receipt
// handle.
type PopMessageResponseHeader struct {
	PopTime         int64
	InvisibleTime   int64
	ReviveQid       int32
	RestNum         int64
	StartOffsetInfo string
	MsgOffsetInfo   string
	OrderCountInfo  string
}

func (h *PopMessageResponseHeader) EncodeExt(e *ExtFields) {
	e.SetInt("popTime", h.PopTime)
	e.SetInt("invisibleTime", h.InvisibleTime)
	setInt32(e, "reviveQid", h.ReviveQid)
	e.SetInt("restNum", h.RestNum)
	setOpt(e, "startOffsetInfo", h.StartOffsetInfo)
	setOpt(e, "msgOffsetInfo", h.MsgOffsetInfo)
	setOpt(e, "orderCountInfo", h.OrderCountInfo)
}

func (h *PopMessageResponseHeader) DecodeExt(e *ExtFields) error {
	*h = PopMessageResponseHeader{}
	var d intDecoder
	for i := 0; i+1 < len(e.kv); i += 2 {
		k, v := e.kv[i], e.kv[i+1]
		switch k {
		case "popTime":
			d.i64(&h.PopTime, k, v)
		case "invisibleTime":
			d.i64(&h.InvisibleTime, k, v)
		case "reviveQid":
			d.i32(&h.ReviveQid, k, v)
		case "restNum":
			d.i64(&h.RestNum, k, v)
		case "startOffsetInfo":
			h.StartOffsetInfo = v
		case "msgOffsetInfo":
			h.MsgOffsetInfo = v
		case "orderCountInfo":
			h.OrderCountInfo = v
		}
	}
	return d.err
}

// AckMessageRequestHeader is ACK_MESSAGE (200051). Topic is the topic the
// message was stored in (a POP retry topic for a redelivery), Offset its
// queue offset and ExtraInfo its receipt handle (ExtraInfo.String).
type AckMessageRequestHeader struct {
	ConsumerGroup string
	Topic         string
	QueueID       int32
	ExtraInfo     string
	Offset        int64
	BrokerName    string // bname, optional
}

func (h *AckMessageRequestHeader) EncodeExt(e *ExtFields) {
	e.Set("consumerGroup", h.ConsumerGroup)
	e.Set("topic", h.Topic)
	setInt32(e, "queueId", h.QueueID)
	e.Set("extraInfo", h.ExtraInfo)
	e.SetInt("offset", h.Offset)
	setOpt(e, "bname", h.BrokerName)
}

func (h *AckMessageRequestHeader) DecodeExt(e *ExtFields) error {
	*h = AckMessageRequestHeader{}
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
		case "extraInfo":
			h.ExtraInfo, seen = v, seen|1<<3
		case "offset":
			seen |= d.i64(&h.Offset, k, v) << 4
		case "bname":
			h.BrokerName = v
		}
	}
	if d.err != nil {
		return d.err
	}
	return missingRequired(seen, 1<<5-1, "consumerGroup", "topic", "queueId", "extraInfo", "offset")
}

// ChangeInvisibleTimeRequestHeader is CHANGE_MESSAGE_INVISIBLETIME
// (200053): the message becomes visible InvisibleTime ms from now.
type ChangeInvisibleTimeRequestHeader struct {
	ConsumerGroup string
	Topic         string
	QueueID       int32
	ExtraInfo     string
	Offset        int64
	InvisibleTime int64
	BrokerName    string // bname, optional
}

func (h *ChangeInvisibleTimeRequestHeader) EncodeExt(e *ExtFields) {
	e.Set("consumerGroup", h.ConsumerGroup)
	e.Set("topic", h.Topic)
	setInt32(e, "queueId", h.QueueID)
	e.Set("extraInfo", h.ExtraInfo)
	e.SetInt("offset", h.Offset)
	e.SetInt("invisibleTime", h.InvisibleTime)
	setOpt(e, "bname", h.BrokerName)
}

func (h *ChangeInvisibleTimeRequestHeader) DecodeExt(e *ExtFields) error {
	*h = ChangeInvisibleTimeRequestHeader{}
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
		case "extraInfo":
			h.ExtraInfo, seen = v, seen|1<<3
		case "offset":
			seen |= d.i64(&h.Offset, k, v) << 4
		case "invisibleTime":
			seen |= d.i64(&h.InvisibleTime, k, v) << 5
		case "bname":
			h.BrokerName = v
		}
	}
	if d.err != nil {
		return d.err
	}
	return missingRequired(seen, 1<<6-1, "consumerGroup", "topic", "queueId", "extraInfo", "offset", "invisibleTime")
}

// ChangeInvisibleTimeResponseHeader answers CHANGE_MESSAGE_INVISIBLETIME:
// the new pop time and invisible time, from which the client builds the
// message's new receipt handle.
type ChangeInvisibleTimeResponseHeader struct {
	PopTime       int64
	InvisibleTime int64
	ReviveQid     int32
}

func (h *ChangeInvisibleTimeResponseHeader) EncodeExt(e *ExtFields) {
	e.SetInt("popTime", h.PopTime)
	e.SetInt("invisibleTime", h.InvisibleTime)
	setInt32(e, "reviveQid", h.ReviveQid)
}

func (h *ChangeInvisibleTimeResponseHeader) DecodeExt(e *ExtFields) error {
	*h = ChangeInvisibleTimeResponseHeader{}
	var d intDecoder
	for i := 0; i+1 < len(e.kv); i += 2 {
		k, v := e.kv[i], e.kv[i+1]
		switch k {
		case "popTime":
			d.i64(&h.PopTime, k, v)
		case "invisibleTime":
			d.i64(&h.InvisibleTime, k, v)
		case "reviveQid":
			d.i32(&h.ReviveQid, k, v)
		}
	}
	return d.err
}

// Retry marks of an ExtraInfo: which topic the message was stored in
// (upstream ExtraInfoUtil).
const (
	PopRetryNone = "0" // the topic itself
	PopRetryV1   = "1" // %RETRY%<group>_<topic>
	PopRetryV2   = "2" // %RETRY%<group>+<topic>
)

// PopRetryMark is the retry mark of a stored topic name.
func PopRetryMark(storedTopic string) string {
	switch {
	case strings.HasPrefix(storedTopic, "%RETRY%") && strings.Contains(storedTopic, "+"):
		return PopRetryV2
	case strings.HasPrefix(storedTopic, "%RETRY%"):
		return PopRetryV1
	}
	return PopRetryNone
}

// PopRetryTopic is the topic POP redeliveries of group's messages of topic
// go to (upstream KeyBuilder.buildPopRetryTopicV1).
func PopRetryTopic(topic, group string) string { return "%RETRY%" + group + "_" + topic }

// PopRealTopic resolves an ack's topic from the original topic and a retry
// mark (upstream ExtraInfoUtil.getRealTopic).
func PopRealTopic(topic, group, mark string) (string, error) {
	switch mark {
	case PopRetryNone:
		return topic, nil
	case PopRetryV1:
		return PopRetryTopic(topic, group), nil
	case PopRetryV2:
		return "%RETRY%" + group + "+" + topic, nil
	}
	return "", fmt.Errorf("remoting: bad POP retry mark %q", mark)
}

// ExtraInfo is a POP receipt handle ("ck"): space-separated
//
//	ckQueueOffset popTime invisibleTime reviveQid retryMark brokerName queueId [queueOffset]
//
// as upstream ExtraInfoUtil builds it. CkQueueOffset is where the pop that
// handed the message out started in its queue; together with PopTime it
// names the broker's checkpoint.
type ExtraInfo struct {
	CkQueueOffset int64
	PopTime       int64
	InvisibleTime int64
	ReviveQid     int32
	RetryMark     string
	BrokerName    string
	QueueID       int32
	QueueOffset   int64 // -1 when the handle has no eighth field
}

// String renders e in upstream's order; the queue offset only when known.
func (e ExtraInfo) String() string {
	b := make([]byte, 0, 64)
	b = strconv.AppendInt(b, e.CkQueueOffset, 10)
	b = append(b, ' ')
	b = strconv.AppendInt(b, e.PopTime, 10)
	b = append(b, ' ')
	b = strconv.AppendInt(b, e.InvisibleTime, 10)
	b = append(b, ' ')
	b = strconv.AppendInt(b, int64(e.ReviveQid), 10)
	b = append(b, ' ')
	b = append(b, e.RetryMark...)
	b = append(b, ' ')
	b = append(b, e.BrokerName...)
	b = append(b, ' ')
	b = strconv.AppendInt(b, int64(e.QueueID), 10)
	if e.QueueOffset >= 0 {
		b = append(b, ' ')
		b = strconv.AppendInt(b, e.QueueOffset, 10)
	}
	return string(b)
}

// maxExtraInfoLen bounds a receipt handle: a handle longer than any broker
// name allows is hostile input, not a handle.
const maxExtraInfoLen = 512

// ParseExtraInfo parses a receipt handle. Seven fields are required (the
// eighth, the message's queue offset, is optional as upstream).
func ParseExtraInfo(s string) (ExtraInfo, error) {
	if len(s) > maxExtraInfoLen {
		return ExtraInfo{}, fmt.Errorf("remoting: extraInfo of %d bytes: %w", len(s), ErrInvalidField)
	}
	f := strings.Split(s, " ")
	if len(f) < 7 || len(f) > 8 {
		return ExtraInfo{}, fmt.Errorf("remoting: extraInfo has %d fields, want 7 or 8: %w", len(f), ErrInvalidField)
	}
	e := ExtraInfo{RetryMark: f[4], BrokerName: f[5], QueueOffset: -1}
	var err error
	num := func(i int, bits int) int64 {
		if err != nil {
			return 0
		}
		var v int64
		v, err = strconv.ParseInt(f[i], 10, bits)
		return v
	}
	e.CkQueueOffset = num(0, 64)
	e.PopTime = num(1, 64)
	e.InvisibleTime = num(2, 64)
	e.ReviveQid = int32(num(3, 32))
	e.QueueID = int32(num(6, 32))
	if len(f) == 8 {
		e.QueueOffset = num(7, 64)
	}
	if err != nil {
		return ExtraInfo{}, fmt.Errorf("remoting: extraInfo %q: %w", s, ErrInvalidField)
	}
	switch e.RetryMark {
	case PopRetryNone, PopRetryV1, PopRetryV2:
	default:
		return ExtraInfo{}, fmt.Errorf("remoting: extraInfo retry mark %q: %w", e.RetryMark, ErrInvalidField)
	}
	return e, nil
}

// PopQueueKey names one queue in the offset infos of a POP response:
// the retry mark and the queue id.
type PopQueueKey struct {
	RetryMark string
	QueueID   int32
}

// AppendPopStartOffset adds "mark queueId startOffset" to a
// startOffsetInfo list (";"-separated), as upstream buildStartOffsetInfo.
func AppendPopStartOffset(b []byte, storedTopic string, queueID int32, start int64) []byte {
	if len(b) > 0 {
		b = append(b, ';')
	}
	b = append(b, PopRetryMark(storedTopic)...)
	b = append(b, ' ')
	b = strconv.AppendInt(b, int64(queueID), 10)
	b = append(b, ' ')
	return strconv.AppendInt(b, start, 10)
}

// AppendPopMsgOffsets adds "mark queueId off1,off2,…" to a msgOffsetInfo
// list, as upstream buildMsgOffsetInfo.
func AppendPopMsgOffsets(b []byte, storedTopic string, queueID int32, offsets []int64) []byte {
	if len(b) > 0 {
		b = append(b, ';')
	}
	b = append(b, PopRetryMark(storedTopic)...)
	b = append(b, ' ')
	b = strconv.AppendInt(b, int64(queueID), 10)
	b = append(b, ' ')
	for i, o := range offsets {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendInt(b, o, 10)
	}
	return b
}

// ParsePopOffsetInfo parses a startOffsetInfo, msgOffsetInfo or
// orderCountInfo list into queue → numbers (one number each for start
// offsets and order counts). Duplicate queues and malformed entries are
// errors, as upstream.
func ParsePopOffsetInfo(s string) (map[PopQueueKey][]int64, error) {
	if s == "" {
		return nil, nil
	}
	out := make(map[PopQueueKey][]int64, 2)
	for one := range strings.SplitSeq(s, ";") {
		f := strings.Split(one, " ")
		if len(f) != 3 {
			return nil, fmt.Errorf("remoting: offset info entry %q: %w", one, ErrInvalidField)
		}
		qid, err := strconv.ParseInt(f[1], 10, 32)
		if err != nil {
			return nil, fmt.Errorf("remoting: offset info entry %q: %w", one, ErrInvalidField)
		}
		k := PopQueueKey{RetryMark: f[0], QueueID: int32(qid)}
		if _, dup := out[k]; dup {
			return nil, fmt.Errorf("remoting: offset info repeats queue %q: %w", f[0]+" "+f[1], ErrInvalidField)
		}
		var nums []int64
		for n := range strings.SplitSeq(f[2], ",") {
			v, err := strconv.ParseInt(n, 10, 64)
			if err != nil {
				return nil, fmt.Errorf("remoting: offset info entry %q: %w", one, ErrInvalidField)
			}
			nums = append(nums, v)
		}
		out[k] = nums
	}
	return out, nil
}
