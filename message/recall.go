package message

import (
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// ErrInvalidRecallHandle means a string is not a recall handle (empty, not
// URL-safe base64, or not a "v1" handle with all its fields).
var ErrInvalidRecallHandle = errors.New("message: recall handle is invalid")

// RecallHandle identifies a timer message that can still be recalled (the
// RECALL_MESSAGE of RocketMQ 5.3.1+). A broker returns one, encoded, in the
// send result of every message it parked for a later delivery time; the
// producer hands it back to cancel the delivery.
//
// On the wire (upstream RecallMessageHandle.HandleV1) it is the five fields
// "v1 <topic> <brokerName> <timestamp ms> <uniq key>", joined by single
// spaces and encoded with URL-safe base64 with padding. The timestamp is
// one millisecond after the delivery time (the broker adds it so that the
// cancel marker sorts after the message it cancels); a handle whose time
// has passed can no longer recall anything.
type RecallHandle struct {
	Topic      string // the message's topic, as stored (with any namespace)
	BrokerName string // the broker group that holds it
	Timestamp  int64  // ms since the epoch: delivery time + 1
	MsgID      string // the message's unique key (UNIQ_KEY)
}

const recallHandleV1 = "v1"

// String encodes h as a broker does.
func (h RecallHandle) String() string {
	raw := strings.Join([]string{recallHandleV1, h.Topic, h.BrokerName, strconv.FormatInt(h.Timestamp, 10), h.MsgID}, " ")
	return base64.URLEncoding.EncodeToString([]byte(raw))
}

// DeliverTime is when the message is due (the handle's timestamp − 1 ms).
func (h RecallHandle) DeliverTime() time.Time { return time.UnixMilli(h.Timestamp - 1) }

// ParseRecallHandle decodes a handle from a send result. Errors wrap
// ErrInvalidRecallHandle.
func ParseRecallHandle(s string) (RecallHandle, error) {
	if s == "" {
		return RecallHandle{}, fmt.Errorf("%w: empty", ErrInvalidRecallHandle)
	}
	raw, err := base64.URLEncoding.DecodeString(s)
	if err != nil {
		// Java's URL decoder also takes handles whose padding was dropped.
		if raw, err = base64.RawURLEncoding.DecodeString(strings.TrimRight(s, "=")); err != nil {
			return RecallHandle{}, fmt.Errorf("%w: %v", ErrInvalidRecallHandle, err)
		}
	}
	f := strings.Split(string(raw), " ")
	if len(f) < 5 || f[0] != recallHandleV1 {
		return RecallHandle{}, fmt.Errorf("%w: want %q and four fields", ErrInvalidRecallHandle, recallHandleV1)
	}
	ts, err := strconv.ParseInt(f[3], 10, 64)
	if err != nil {
		// Upstream decodes such a handle and rejects it later as a
		// timestamp it cannot read; either way nothing is recalled.
		return RecallHandle{}, fmt.Errorf("%w: timestamp %q", ErrInvalidRecallHandle, f[3])
	}
	if f[1] == "" || f[2] == "" || f[4] == "" {
		return RecallHandle{}, fmt.Errorf("%w: empty field", ErrInvalidRecallHandle)
	}
	return RecallHandle{Topic: f[1], BrokerName: f[2], Timestamp: ts, MsgID: f[4]}, nil
}
