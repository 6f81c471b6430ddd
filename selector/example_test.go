package selector_test

import (
	"fmt"

	"github.com/rocketgo/rocketgo/selector"
)

func ExampleHash() {
	var queues []selector.Queue
	for id := 0; id < 8; id++ {
		queues = append(queues, selector.Queue{Topic: "Orders", BrokerName: "broker-a", QueueID: id})
	}
	// The same key always lands on the queue a Java producer using
	// SelectMessageQueueByHash would pick: abs("order-1".hashCode() % 8).
	q := selector.Hash{}.Select(selector.SelectInput{Topic: "Orders", ShardingKey: "order-1"}, queues, "")
	fmt.Println(q)
	// Output: MessageQueue [topic=Orders, brokerName=broker-a, queueId=6]
}
