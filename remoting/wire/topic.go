package wire

import "errors"

// Sentinel errors of the body decoders; match them with errors.Is.
var (
	// ErrMalformedBody reports a body (register body, route, cluster info)
	// that cannot be decoded.
	ErrMalformedBody = errors.New("wire: malformed body")
	// ErrCRCMismatch reports a register body whose CRC-32 differs from the
	// bodyCrc32 header field.
	ErrCRCMismatch = errors.New("wire: crc32 not match")
)

// DataVersion is a broker's table version stamp (topics, groups, offsets).
// It changes whenever the table changes, so name servers and slaves can tell
// a refresh from a change; name servers compare it for equality only.
type DataVersion struct {
	Timestamp    int64 `json:"timestamp"`
	Counter      int64 `json:"counter"`
	StateVersion int64 `json:"stateVersion"`
}

// TopicConfig is one topic's configuration; its JSON form is the one
// upstream brokers persist, register with name servers and hand to slaves.
type TopicConfig struct {
	TopicName       string            `json:"topicName"`
	ReadQueueNums   int32             `json:"readQueueNums"`
	WriteQueueNums  int32             `json:"writeQueueNums"`
	Perm            int32             `json:"perm"`
	TopicFilterType string            `json:"topicFilterType"` // "SINGLE_TAG" when empty
	TopicSysFlag    int32             `json:"topicSysFlag"`
	Order           bool              `json:"order"`
	Attributes      map[string]string `json:"attributes"`
}

// Readable and Writable check the permission bits.
func (t TopicConfig) Readable() bool { return t.Perm&PermRead != 0 }
func (t TopicConfig) Writable() bool { return t.Perm&PermWrite != 0 }

// QueueNums is the number of queues a producer or consumer may address.
func (t TopicConfig) QueueNums() int32 { return max(t.ReadQueueNums, t.WriteQueueNums) }
