package wire

// BatchAck is one checkpoint of a BATCH_ACK_MESSAGE body (upstream's
// BatchAck, with its short JSON names). Bit i of BitSet acknowledges offset
// StartOffset+i; the bytes are java.util.BitSet.toByteArray (little-endian
// bits), carried as base64, which is how a []byte travels in JSON.
type BatchAck struct {
	Group       string `json:"c"`
	Topic       string `json:"t"`
	Retry       string `json:"r"`
	StartOffset int64  `json:"so"`
	QueueID     int32  `json:"q"`
	ReviveQid   int32  `json:"rq"`
	PopTime     int64  `json:"pt"`
	Invisible   int64  `json:"it"`
	BitSet      []byte `json:"b"`
}

// BatchAckBody is the body of BATCH_ACK_MESSAGE (upstream's
// BatchAckMessageRequestBody): the acknowledgements for one broker.
type BatchAckBody struct {
	BrokerName string     `json:"brokerName"`
	Acks       []BatchAck `json:"acks"`
}
