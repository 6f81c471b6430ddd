package producer

import "github.com/rocketgo/rocketgo/selector"

// SendStatus is how well a stored message is protected. Anything but
// SendOK means the broker stored the message but a flush or replication
// step did not finish in time.
type SendStatus int

// Send statuses, from response codes 0, 10, 12 and 11.
const (
	SendOK SendStatus = iota
	SendFlushDiskTimeout
	SendFlushSlaveTimeout
	SendSlaveNotAvailable
)

func (s SendStatus) String() string {
	switch s {
	case SendOK:
		return "SEND_OK"
	case SendFlushDiskTimeout:
		return "FLUSH_DISK_TIMEOUT"
	case SendFlushSlaveTimeout:
		return "FLUSH_SLAVE_TIMEOUT"
	case SendSlaveNotAvailable:
		return "SLAVE_NOT_AVAILABLE"
	}
	return "UNKNOWN"
}

// SendResult describes a stored message or batch.
type SendResult struct {
	Status SendStatus
	// MsgID is the client unique key (UNIQ_KEY); for a batch, the inner
	// messages' keys joined with commas.
	MsgID string
	// OffsetMsgID is the broker's offset message id (store host + commit-log
	// offset); for a batch, comma-joined.
	OffsetMsgID string
	// Queue is where the message went (topic as sent on the wire).
	Queue selector.Queue
	// QueueOffset is the consume-queue offset of the (first) message.
	QueueOffset int64
	// TransactionID is the broker's transaction id, when it sends one.
	TransactionID string
	// RegionID is the broker's MSG_REGION ("DefaultRegion" when absent).
	RegionID string
	// TraceOn is the broker's TRACE_ON switch (absent ⇒ true, as Java).
	TraceOn bool
	// RecallHandle cancels the message's delivery with RecallMessage while
	// it is not due yet. Brokers (RocketMQ 5.3.1+, rocketgo) return one
	// for a message sent with message.WithDelay or WithDeliverTime whose
	// time lies ahead; it is "" for every other send.
	RecallHandle string
}
