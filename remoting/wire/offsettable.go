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
	b.WriteString(`":{`)
	for i, mq := range keys {
		if i > 0 {
			b.WriteByte(',')
		}
		k, _ := json.Marshal(struct {
			BrokerName string `json:"brokerName"`
			QueueID    int32  `json:"queueId"`
			Topic      string `json:"topic"`
		}{mq.BrokerName, mq.QueueID, mq.Topic})
		b.Write(k)
		b.WriteByte(':')
		b.WriteString(values[i])
	}
	b.WriteByte('}')
	if extra != "" {
		b.WriteByte(',')
		b.WriteString(extra)
	}
	b.WriteByte('}')
	return b.Bytes()
}

// DecodeOffsetTable parses the fastjson form written by EncodeOffsetTable
// (object keys), and also a standard form whose keys are the JSON text of a
// queue object.
func DecodeOffsetTable(body []byte) (map[MessageQueue]int64, error) {
	s := strings.TrimSpace(string(body))
	i := strings.Index(s, `"offsetTable"`)
	if i < 0 {
		return nil, fmt.Errorf("wire: offset table: no offsetTable key")
	}
	s = strings.TrimSpace(s[i+len(`"offsetTable"`):])
	if !strings.HasPrefix(s, ":") {
		return nil, fmt.Errorf("wire: offset table: malformed")
	}
	s = strings.TrimSpace(s[1:])
	if !strings.HasPrefix(s, "{") {
		return nil, fmt.Errorf("wire: offset table: not an object")
	}
	s = s[1:]
	out := map[MessageQueue]int64{}
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
				return nil, fmt.Errorf("wire: offset table: unterminated key")
			}
			keyText, s = s[:end+1], s[end+1:]
		case strings.HasPrefix(s, `"`):
			var str string
			dec := json.NewDecoder(strings.NewReader(s))
			if err := dec.Decode(&str); err != nil {
				return nil, fmt.Errorf("wire: offset table key: %w", err)
			}
			keyText, s = str, s[dec.InputOffset():]
		default:
			return nil, fmt.Errorf("wire: offset table: unexpected %q", firstN(s, 10))
		}
		var mq MessageQueue
		if err := json.Unmarshal([]byte(keyText), &mq); err != nil {
			return nil, fmt.Errorf("wire: offset table key %q: %w", keyText, err)
		}
		s = strings.TrimSpace(s)
		if !strings.HasPrefix(s, ":") {
			return nil, fmt.Errorf("wire: offset table: missing ':'")
		}
		s = strings.TrimSpace(s[1:])
		end := strings.IndexAny(s, ",}")
		if end < 0 {
			return nil, fmt.Errorf("wire: offset table: unterminated value")
		}
		n, err := strconv.ParseInt(strings.TrimSpace(s[:end]), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("wire: offset table value: %w", err)
		}
		out[mq] = n
		s = s[end:]
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
