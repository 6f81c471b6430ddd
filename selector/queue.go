// Package selector chooses the message queue a producer sends to.
//
// It also owns [Queue], the message-queue identity shared by the producer
// and consumer sides (package rebalance aliases it), together with the two
// Java string primitives that must be reproduced bit for bit so that Go and
// Java clients agree: String.hashCode (hash selector) and String.compareTo
// (queue and client-id ordering before allocation).
//
// The package does no I/O; every selector is safe for concurrent use.
package selector

import (
	"strconv"
	"strings"
	"unicode/utf8"
)

// Queue identifies one message queue: queue QueueID of Topic on the broker
// group BrokerName. Its JSON form is the one RocketMQ uses on the wire,
// {"topic":"T","brokerName":"broker-a","queueId":0}.
type Queue struct {
	Topic      string `json:"topic"`
	BrokerName string `json:"brokerName"`
	QueueID    int    `json:"queueId"`
}

// String renders the queue exactly like Java's MessageQueue.toString. The
// consistent-hash allocation hashes this text, so it must not change.
func (q Queue) String() string {
	return string(q.AppendString(make([]byte, 0, 48+len(q.Topic)+len(q.BrokerName))))
}

// AppendString appends the String form of q to b, for callers that hash or
// log many queues without allocating a string each time.
func (q Queue) AppendString(b []byte) []byte {
	b = append(b, "MessageQueue [topic="...)
	b = append(b, q.Topic...)
	b = append(b, ", brokerName="...)
	b = append(b, q.BrokerName...)
	b = append(b, ", queueId="...)
	b = strconv.AppendInt(b, int64(q.QueueID), 10)
	return append(b, ']')
}

// Compare orders queues the way Java's MessageQueue.compareTo does: by
// topic, then broker name (both with Java string order, see [JavaCompare]),
// then queue id. Java subtracts the ids, which can overflow for extreme
// values; Compare compares them, which agrees for every realistic id.
func (q Queue) Compare(o Queue) int {
	if c := JavaCompare(q.Topic, o.Topic); c != 0 {
		return c
	}
	if c := JavaCompare(q.BrokerName, o.BrokerName); c != 0 {
		return c
	}
	switch {
	case q.QueueID < o.QueueID:
		return -1
	case q.QueueID > o.QueueID:
		return 1
	}
	return 0
}

// JavaCompare orders strings like Java's String.compareTo, which compares
// UTF-16 code units. That differs from Go's byte (code point) order only
// when a character at or above U+10000 meets one in U+E000..U+FFFF: UTF-16
// puts the former first because its surrogates (U+D800..U+DFFF) sort lower.
// Allocation must sort identically to Java consumers of the same group, or
// two clients would claim the same queue. The sign of the result is
// meaningful, not its magnitude.
func JavaCompare(a, b string) int {
	// Fast path: the common prefix is irrelevant, and if the first
	// differing bytes are both ASCII the byte order is the UTF-16 order.
	i := 0
	for i < len(a) && i < len(b) && a[i] == b[i] {
		i++
	}
	switch {
	case i == len(a) && i == len(b):
		return 0
	// A byte prefix is a rune prefix unless the longer string continues
	// a truncated (invalid) sequence; that rare case takes the slow path.
	case i == len(a) && utf8.RuneStart(b[i]):
		return -1
	case i == len(b) && utf8.RuneStart(a[i]):
		return 1
	case i < len(a) && i < len(b) && a[i] < utf8.RuneSelf && b[i] < utf8.RuneSelf:
		return int(a[i]) - int(b[i])
	}
	// Back up to a rune boundary of both strings before the first
	// difference, then compare rune by rune in UTF-16 terms.
	for i > 0 && ((i < len(a) && !utf8.RuneStart(a[i])) || (i < len(b) && !utf8.RuneStart(b[i]))) {
		i--
	}
	a0, b0 := a, b
	a, b = a[i:], b[i:]
	for len(a) > 0 && len(b) > 0 {
		ra, na := utf8.DecodeRuneInString(a)
		rb, nb := utf8.DecodeRuneInString(b)
		if ra != rb {
			ka, kb := utf16Lead(ra), utf16Lead(rb)
			if ka != kb {
				return ka - kb
			}
			// Same high surrogate: low surrogates follow code point order.
			return int(ra) - int(rb)
		}
		a, b = a[na:], b[nb:]
	}
	if d := len(a) - len(b); d != 0 {
		return d
	}
	// Only invalid UTF-8 gets here (different bytes, same U+FFFD runes).
	// Fall back to bytes so that 0 still means equal strings.
	return strings.Compare(a0, b0)
}

// utf16Lead is the first UTF-16 code unit of r.
func utf16Lead(r rune) int {
	if r < 0x10000 {
		return int(r)
	}
	return 0xD800 + int((r-0x10000)>>10)
}

// JavaHashCode is Java's String.hashCode of s: s[0]*31^(n-1) + ... + s[n-1]
// over the UTF-16 code units of s, in wrapping 32-bit arithmetic. Invalid
// UTF-8 bytes count as U+FFFD, as a Java decoder would produce.
func JavaHashCode(s string) int32 {
	var h int32
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < utf8.RuneSelf {
			h = 31*h + int32(c)
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		if r >= 0x10000 {
			r -= 0x10000
			h = 31*h + int32(0xD800+(r>>10))
			h = 31*h + int32(0xDC00+(r&0x3FF))
		} else {
			h = 31*h + int32(r)
		}
		i += n - 1
	}
	return h
}
