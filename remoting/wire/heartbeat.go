package wire

import (
	"encoding/json"
	"fmt"
)

// Consume types, message models and consume-from-where values, spelled as
// the wire carries them.
const (
	ConsumeActively  = "CONSUME_ACTIVELY"
	ConsumePassively = "CONSUME_PASSIVELY"
	ConsumePop       = "CONSUME_POP"

	Clustering   = "CLUSTERING"
	Broadcasting = "BROADCASTING"

	ConsumeFromLastOffset  = "CONSUME_FROM_LAST_OFFSET"
	ConsumeFromFirstOffset = "CONSUME_FROM_FIRST_OFFSET"
	ConsumeFromTimestamp   = "CONSUME_FROM_TIMESTAMP"
)

// HeartbeatData is the HEART_BEAT body (upstream HeartbeatData).
type HeartbeatData struct {
	ClientID        string         `json:"clientID"`
	ProducerDataSet []ProducerData `json:"producerDataSet"`
	ConsumerDataSet []ConsumerData `json:"consumerDataSet"`
}

// ProducerData names a producer group of the client.
type ProducerData struct {
	GroupName string `json:"groupName"`
}

// ConsumerData describes a consumer group member.
type ConsumerData struct {
	GroupName           string             `json:"groupName"`
	ConsumeType         string             `json:"consumeType"`
	MessageModel        string             `json:"messageModel"`
	ConsumeFromWhere    string             `json:"consumeFromWhere"`
	UnitMode            bool               `json:"unitMode"`
	SubscriptionDataSet []SubscriptionData `json:"subscriptionDataSet"`
}

// DecodeHeartbeat parses and checks a heartbeat body.
func DecodeHeartbeat(body []byte) (*HeartbeatData, error) {
	var hb HeartbeatData
	if err := json.Unmarshal(body, &hb); err != nil {
		return nil, fmt.Errorf("wire: heartbeat body: %w", err)
	}
	if hb.ClientID == "" {
		return nil, fmt.Errorf("wire: heartbeat without clientID")
	}
	for i := range hb.ConsumerDataSet {
		cd := &hb.ConsumerDataSet[i]
		if cd.GroupName == "" {
			return nil, fmt.Errorf("wire: heartbeat consumer data without groupName")
		}
		if cd.MessageModel == "" {
			cd.MessageModel = Clustering
		}
		for j := range cd.SubscriptionDataSet {
			cd.SubscriptionDataSet[j].Normalize()
		}
	}
	return &hb, nil
}

// MessageQueue identifies a queue in JSON bodies.
type MessageQueue struct {
	Topic      string `json:"topic"`
	BrokerName string `json:"brokerName"`
	QueueID    int32  `json:"queueId"`
}

// LockBatchRequest is the LOCK_BATCH_MQ / UNLOCK_BATCH_MQ body.
type LockBatchRequest struct {
	ConsumerGroup  string         `json:"consumerGroup"`
	ClientID       string         `json:"clientId"`
	OnlyThisBroker bool           `json:"onlyThisBroker"`
	MQSet          []MessageQueue `json:"mqSet"`
}

// LockBatchResponse is the LOCK_BATCH_MQ reply body.
type LockBatchResponse struct {
	LockOKMQSet []MessageQueue `json:"lockOKMQSet"`
}

// ConsumerListBody is the GET_CONSUMER_LIST_BY_GROUP reply body.
type ConsumerListBody struct {
	ConsumerIDList []string `json:"consumerIdList"`
}
