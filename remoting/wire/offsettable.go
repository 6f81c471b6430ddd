package wire

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// EncodeOffsetTable writes {"offsetTable":{MQ:offset,...}} the way Java's
// fastjson does for a Map<MessageQueue,Long>: the keys are JSON objects,
// which is not standard JSON but is what RESET_CONSUMER_CLIENT_OFFSET and
// INVOKE_BROKER_TO_RESET_OFFSET carry. Entries are sorted for stable output.
func EncodeOffsetTable(table map[MessageQueue]int64) []byte {
	keys := make([]MessageQueue, 0, len(table))
	for mq := range table {
		keys = append(keys, mq)
	}
	slices.SortFunc(keys, CompareQueues)
	values := make([]string, len(keys))
	for i, mq := range keys {
		values[i] = strconv.FormatInt(table[mq], 10)
	}
	return EncodeQueueTable("offsetTable", keys, values, "")
}

// EncodeQueueTable writes {"<name>":{MQ:value,...}[,extra]} with queue
// objects as keys, fastjson's form of a Map<MessageQueue,V>. values[i] is
// the JSON text for keys[i]; extra, when not empty, is more members
// ("key":value) of the outer object.
func EncodeQueueTable(name string, keys []MessageQueue, values []string, extra string) []byte {
	var b bytes.Buffer
	b.WriteString(`{"`)
	b.WriteString(name)
	b.WriteString(`":`)
	b.Write(AppendQueueMap(nil, keys, values))
	if extra != "" {
		b.WriteByte(',')
		b.WriteString(extra)
	}
	b.WriteByte('}')
	return b.Bytes()
}

// AppendQueueMap appends fastjson's form of a Map<MessageQueue,V>, an
// object whose keys are queue objects: values[i] is the JSON text for
// keys[i].
func AppendQueueMap(dst []byte, keys []MessageQueue, values []string) []byte {
	dst = append(dst, '{')
	for i, mq := range keys {
		if i > 0 {
			dst = append(dst, ',')
		}
		k, _ := json.Marshal(struct {
			BrokerName string `json:"brokerName"`
			QueueID    int32  `json:"queueId"`
			Topic      string `json:"topic"`
		}{mq.BrokerName, mq.QueueID, mq.Topic})
		dst = append(dst, k...)
		dst = append(dst, ':')
		dst = append(dst, values[i]...)
	}
	return append(dst, '}')
}

// DecodeOffsetTable parses the fastjson form written by EncodeOffsetTable
// (object keys), and also a standard form whose keys are the JSON text of a
// queue object.
func DecodeOffsetTable(body []byte) (map[MessageQueue]int64, error) {
	return DecodeQueueLongTable(body, "offsetTable")
}

// DecodeQueueLongTable parses the Map<MessageQueue,Long> member name of a
// fastjson body, such as GET_CONSUMER_STATUS_FROM_CLIENT's
// messageQueueTable.
func DecodeQueueLongTable(body []byte, name string) (map[MessageQueue]int64, error) {
	raw, err := DecodeQueueTable(body, name)
	if err != nil {
		return nil, err
	}
	out := make(map[MessageQueue]int64, len(raw))
	for mq, v := range raw {
		n, err := strconv.ParseInt(strings.TrimSpace(string(v)), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("wire: %s value %q: %w", name, v, err)
		}
		out[mq] = n
	}
	return out, nil
}

// DecodeQueueTable parses the member name of a fastjson body holding a
// Map<MessageQueue,V>, whose keys are queue objects (or, in standard JSON,
// the text of one), returning each value's raw JSON.
func DecodeQueueTable(body []byte, name string) (map[MessageQueue]json.RawMessage, error) {
	s := strings.TrimSpace(string(body))
	i := strings.Index(s, `"`+name+`"`)
	if i < 0 {
		return nil, fmt.Errorf("wire: queue table: no %s key", name)
	}
	s = strings.TrimSpace(s[i+len(name)+2:])
	if !strings.HasPrefix(s, ":") {
		return nil, fmt.Errorf("wire: %s: malformed", name)
	}
	s = strings.TrimSpace(s[1:])
	if !strings.HasPrefix(s, "{") {
		return nil, fmt.Errorf("wire: %s: not an object", name)
	}
	s = s[1:]
	out := map[MessageQueue]json.RawMessage{}
	for {
		s = strings.TrimLeft(s, " \t\r\n,")
		if strings.HasPrefix(s, "}") {
			return out, nil
		}
		var keyText string
		switch {
		case strings.HasPrefix(s, "{"):
			end := strings.IndexByte(s, '}')
			if end < 0 {
				return nil, fmt.Errorf("wire: %s: unterminated key", name)
			}
			keyText, s = s[:end+1], s[end+1:]
		case strings.HasPrefix(s, `"`):
			var str string
			dec := json.NewDecoder(strings.NewReader(s))
			if err := dec.Decode(&str); err != nil {
				return nil, fmt.Errorf("wire: %s key: %w", name, err)
			}
			keyText, s = str, s[dec.InputOffset():]
		default:
			return nil, fmt.Errorf("wire: %s: unexpected %q", name, firstN(s, 10))
		}
		var mq MessageQueue
		if err := json.Unmarshal([]byte(keyText), &mq); err != nil {
			return nil, fmt.Errorf("wire: %s key %q: %w", name, keyText, err)
		}
		s = strings.TrimSpace(s)
		if !strings.HasPrefix(s, ":") {
			return nil, fmt.Errorf("wire: %s: missing ':'", name)
		}
		var v json.RawMessage
		dec := json.NewDecoder(strings.NewReader(s[1:]))
		if err := dec.Decode(&v); err != nil {
			return nil, fmt.Errorf("wire: %s value: %w", name, err)
		}
		out[mq] = v
		s = s[1+dec.InputOffset():]
	}
}

func firstN(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// CompareQueues orders queues by topic, broker name and queue id, the order
// every RocketMQ client sorts queues in before allocating them.
func CompareQueues(a, b MessageQueue) int {
	if c := strings.Compare(a.Topic, b.Topic); c != 0 {
		return c
	}
	if c := strings.Compare(a.BrokerName, b.BrokerName); c != 0 {
		return c
	}
	return int(a.QueueID) - int(b.QueueID)
}
