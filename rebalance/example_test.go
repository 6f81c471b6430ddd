package rebalance_test

import (
	"fmt"

	"github.com/rocketgo/rocketgo/rebalance"
)

func ExampleAveragely() {
	var mqs []rebalance.Queue
	for id := 0; id < 8; id++ {
		mqs = append(mqs, rebalance.Queue{Topic: "T", BrokerName: "broker-a", QueueID: id})
	}
	cids := []string{"c3", "c1", "c2"} // order does not matter
	for _, cid := range []string{"c1", "c2", "c3"} {
		mine, err := rebalance.Averagely{}.Allocate("group", cid, mqs, cids)
		if err != nil {
			fmt.Println(err)
			return
		}
		var ids []int
		for _, q := range mine {
			ids = append(ids, q.QueueID)
		}
		fmt.Println(cid, ids)
	}
	// Output:
	// c1 [0 1 2]
	// c2 [3 4 5]
	// c3 [6 7]
}
