package trace

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Separators of the trace encoding (upstream TraceConstants): a field ends
// with FieldSeparator except the last of a record, which ends with
// RecordSeparator.
const (
	FieldSeparator  = '\x01' // CONTENT_SPLITOR
	RecordSeparator = '\x02' // FIELD_SPLITOR
)

// DefaultTopic is the trace topic clients write to unless configured
// otherwise (RMQ_SYS_TRACE_TOPIC); brokers create it with traceTopicEnable.
const DefaultTopic = "RMQ_SYS_TRACE_TOPIC"

// Type is a record's kind, spelled as on the wire.
type Type string

// Record types.
const (
	// Pub: a producer's send, after the broker answered.
	Pub Type = "Pub"
	// SubBefore: a consumer hands the message to its listener.
	SubBefore Type = "SubBefore"
	// SubAfter: the listener returned.
	SubAfter Type = "SubAfter"
	// EndTransaction: a transactional producer committed or rolled back a
	// half message (also after a broker's check).
	EndTransaction Type = "EndTransaction"
)

// MessageType is upstream's MessageType, written as its ordinal.
type MessageType int

// Message types, in upstream's order.
const (
	NormalMsg MessageType = iota
	TransMsgHalf
	TransMsgCommit
	DelayMsg
	OrderMsg
)

// ContextCode values of a SubAfter record: how the listener returned
// (upstream ConsumeReturnType ordinals).
const (
	ConsumeSuccess   = 0
	ConsumeTimeout   = 1
	ConsumeException = 2
	ConsumeNull      = 3
	ConsumeFailed    = 4
)

// Transaction states of an EndTransaction record, spelled as upstream's
// LocalTransactionState names.
const (
	TxCommit   = "COMMIT_MESSAGE"
	TxRollback = "ROLLBACK_MESSAGE"
	TxUnknown  = "UNKNOW"
)

// Record is one trace record: one message seen at one point. Which fields
// a type carries on the wire is listed at AppendRecord; the others are
// zero after Decode.
type Record struct {
	Type      Type
	Timestamp int64  // ms since the epoch: when the event was recorded
	RegionID  string // the broker's region (MSG_REGION of the send answer)
	Group     string // producer or consumer group, without namespace
	RequestID string // pairs a SubBefore with its SubAfter

	Topic       string
	MsgID       string // the client's unique id (UNIQ_KEY)
	OffsetMsgID string // the broker's offset message id (Pub only)
	Tags        string
	Keys        string // the message's KEYS, space separated
	StoreHost   string // broker address ("ip:port")
	ClientHost  string // the tracing client's IP
	BodyLength  int
	CostTime    int64 // ms: send latency (Pub) or listener time (SubAfter)
	MsgType     MessageType
	Success     bool
	RetryTimes  int // the message's reconsume count (SubBefore)
	ContextCode int // ConsumeSuccess… (SubAfter)

	TransactionID        string
	TransactionState     string // TxCommit, TxRollback or TxUnknown
	FromTransactionCheck bool
}

// ErrMalformed is wrapped by Decode's error for every record it could not
// read.
var ErrMalformed = errors.New("trace: malformed record")

// nullable is how upstream writes an absent key list in consumer records
// (Java's String.valueOf(null)); Decode reads it back as "".
const nullable = "null"

// AppendRecord appends r's encoding to dst and returns the extended slice.
// Field order per type (the order both official clients write):
//
//	Pub:            Type Timestamp RegionID Group Topic MsgID Tags Keys StoreHost BodyLength CostTime MsgType OffsetMsgID Success ClientHost
//	SubBefore:      Type Timestamp RegionID Group RequestID MsgID RetryTimes Keys ClientHost
//	SubAfter:       Type RequestID MsgID CostTime Success Keys ContextCode Timestamp Group
//	EndTransaction: Type Timestamp RegionID Group Topic MsgID Tags Keys StoreHost MsgType TransactionID TransactionState FromTransactionCheck
//
// Java's decoder reads the fields it knows and ignores trailing ones, so
// the Go client's extra fields (ClientHost, the SubAfter group) are safe
// to write. Consumer records write empty Keys as "null", as both clients
// do. A record of unknown Type appends nothing. Field values must not
// contain the separator bytes; Sanitize strips them.
func AppendRecord(dst []byte, r *Record) []byte {
	f := func(s string) { dst = append(dst, s...); dst = append(dst, FieldSeparator) }
	i := func(n int64) { dst = strconv.AppendInt(dst, n, 10); dst = append(dst, FieldSeparator) }
	b := func(v bool) { dst = strconv.AppendBool(dst, v); dst = append(dst, FieldSeparator) }
	end := func() { dst[len(dst)-1] = RecordSeparator }
	switch r.Type {
	case Pub:
		f(string(r.Type))
		i(r.Timestamp)
		f(r.RegionID)
		f(r.Group)
		f(r.Topic)
		f(r.MsgID)
		f(r.Tags)
		f(r.Keys)
		f(r.StoreHost)
		i(int64(r.BodyLength))
		i(r.CostTime)
		i(int64(r.MsgType))
		f(r.OffsetMsgID)
		b(r.Success)
		f(r.ClientHost)
		end()
	case SubBefore:
		f(string(r.Type))
		i(r.Timestamp)
		f(r.RegionID)
		f(r.Group)
		f(r.RequestID)
		f(r.MsgID)
		i(int64(r.RetryTimes))
		f(orNull(r.Keys))
		f(r.ClientHost)
		end()
	case SubAfter:
		f(string(r.Type))
		f(r.RequestID)
		f(r.MsgID)
		i(r.CostTime)
		b(r.Success)
		f(orNull(r.Keys))
		i(int64(r.ContextCode))
		i(r.Timestamp)
		f(r.Group)
		end()
	case EndTransaction:
		f(string(r.Type))
		i(r.Timestamp)
		f(r.RegionID)
		f(r.Group)
		f(r.Topic)
		f(r.MsgID)
		f(r.Tags)
		f(r.Keys)
		f(r.StoreHost)
		i(int64(r.MsgType))
		f(r.TransactionID)
		f(r.TransactionState)
		b(r.FromTransactionCheck)
		end()
	}
	return dst
}

func orNull(s string) string {
	if s == "" {
		return nullable
	}
	return s
}

func fromNull(s string) string {
	if s == nullable {
		return ""
	}
	return s
}

// Sanitize returns s without the two separator bytes, so that a value
// taken from a message (tags, keys) cannot break the record apart.
func Sanitize(s string) string {
	if strings.IndexByte(s, FieldSeparator) < 0 && strings.IndexByte(s, RecordSeparator) < 0 {
		return s
	}
	return strings.Map(func(r rune) rune {
		if r == FieldSeparator || r == RecordSeparator {
			return -1
		}
		return r
	}, s)
}

// LookupKeys returns the keys a trace message must carry so that r is found
// by the message's id or keys: the message id, then the key list as one
// value (upstream's choice; brokers index each space-separated token).
func (r *Record) LookupKeys() []string {
	out := make([]string, 0, 2)
	if r.MsgID != "" {
		out = append(out, r.MsgID)
	}
	if r.Keys != "" {
		out = append(out, r.Keys)
	}
	return out
}

// Decode reads every record of a trace message body. Records of unknown
// type are skipped, as upstream's decoder does; a record of known type
// that cannot be read is skipped too and reported in the error (wrapping
// ErrMalformed), so one bad record does not hide the others. Older
// layouts are accepted: a Pub without OffsetMsgID or ClientHost, a
// SubBefore without ClientHost, a SubAfter without ContextCode, Timestamp
// or Group.
func Decode(body []byte) ([]Record, error) {
	var (
		out  []Record
		errs []error
	)
	data := string(body)
	for n := 0; len(data) > 0; n++ {
		line := data
		if i := strings.IndexByte(data, RecordSeparator); i >= 0 {
			line, data = data[:i], data[i+1:]
		} else {
			data = ""
		}
		if line == "" {
			continue
		}
		r, known, err := decodeRecord(strings.Split(line, string(FieldSeparator)))
		switch {
		case err != nil:
			errs = append(errs, fmt.Errorf("%w: record %d: %w", ErrMalformed, n, err))
		case known:
			out = append(out, r)
		}
	}
	return out, errors.Join(errs...)
}

// fields reads the numeric and boolean fields of one record, remembering
// the first parse error.
type fields struct {
	v   []string
	err error
}

func (f *fields) str(i int) string { return f.v[i] }

func (f *fields) int64(i int) int64 {
	n, err := strconv.ParseInt(strings.TrimSpace(f.v[i]), 10, 64)
	if err != nil && f.err == nil {
		f.err = fmt.Errorf("field %d: %w", i, err)
	}
	return n
}

func (f *fields) int(i int) int {
	n := f.int64(i)
	if n != int64(int32(n)) && f.err == nil {
		f.err = fmt.Errorf("field %d: %d out of range", i, n)
	}
	return int(n)
}

// bool reads as Java's Boolean.parseBoolean: "true" in any case is true,
// anything else false.
func (f *fields) bool(i int) bool { return strings.EqualFold(f.v[i], "true") }

// minFields is the fewest fields upstream's decoder needs for type t;
// known is false for a type it does not read.
func minFields(t Type) (n int, known bool) {
	switch t {
	case Pub:
		return 12, true
	case SubBefore:
		return 8, true
	case SubAfter:
		return 6, true
	case EndTransaction:
		return 13, true
	}
	return 0, false
}

func decodeRecord(v []string) (r Record, known bool, err error) {
	r.Type = Type(v[0])
	need, known := minFields(r.Type)
	if !known {
		return r, false, nil
	}
	if len(v) < need {
		return r, true, fmt.Errorf("%s has %d fields, want at least %d", r.Type, len(v), need)
	}
	f := fields{v: v}
	switch r.Type {
	case Pub:
		r.Timestamp = f.int64(1)
		r.RegionID, r.Group, r.Topic, r.MsgID = f.str(2), f.str(3), f.str(4), f.str(5)
		r.Tags, r.Keys, r.StoreHost = f.str(6), fromNull(f.str(7)), f.str(8)
		r.BodyLength = f.int(9)
		r.CostTime = f.int64(10)
		r.MsgType = MessageType(f.int(11))
		switch {
		case len(v) == 13: // the oldest layout: no offset id
			r.Success = f.bool(12)
		case len(v) >= 14:
			r.OffsetMsgID, r.Success = f.str(12), f.bool(13)
		}
		if len(v) >= 15 {
			r.ClientHost = f.str(14)
		}
	case SubBefore:
		r.Timestamp = f.int64(1)
		r.RegionID, r.Group, r.RequestID, r.MsgID = f.str(2), f.str(3), f.str(4), f.str(5)
		r.RetryTimes = f.int(6)
		r.Keys = fromNull(f.str(7))
		if len(v) >= 9 {
			r.ClientHost = f.str(8)
		}
	case SubAfter:
		r.RequestID, r.MsgID = f.str(1), f.str(2)
		r.CostTime = f.int64(3)
		r.Success = f.bool(4)
		r.Keys = fromNull(f.str(5))
		if len(v) >= 7 {
			r.ContextCode = f.int(6)
		}
		if len(v) >= 8 {
			r.Timestamp = f.int64(7)
		}
		if len(v) >= 9 {
			r.Group = f.str(8)
		}
	case EndTransaction:
		r.Timestamp = f.int64(1)
		r.RegionID, r.Group, r.Topic, r.MsgID = f.str(2), f.str(3), f.str(4), f.str(5)
		r.Tags, r.Keys, r.StoreHost = f.str(6), fromNull(f.str(7)), f.str(8)
		r.MsgType = MessageType(f.int(9))
		r.TransactionID, r.TransactionState = f.str(10), f.str(11)
		r.FromTransactionCheck = f.bool(12)
	}
	if f.err != nil {
		return r, true, fmt.Errorf("%s: %w", r.Type, f.err)
	}
	return r, true, nil
}

// StripNamespace returns name without a "namespace%" prefix: records name
// groups and topics without their namespace, as upstream writes them.
// Retry and DLQ topics ("%RETRY%group") keep their prefix.
func StripNamespace(name string) string {
	if i := strings.IndexByte(name, '%'); i >= 0 && strings.Count(name, "%") == 1 {
		return name[i+1:]
	}
	return name
}
