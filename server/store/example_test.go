package store_test

import (
	"context"
	"fmt"
	"net/netip"
	"os"

	"github.com/rocketgo/rocketgo/message"
	"github.com/rocketgo/rocketgo/server/store"
)

func Example() {
	dir, _ := os.MkdirTemp("", "store-example")
	defer os.RemoveAll(dir)
	s, err := store.Open(store.Config{Dir: dir, CommitLogSegmentSize: 1 << 20, IndexSlots: 1000, IndexEntries: 4000})
	if err != nil {
		panic(err)
	}
	defer s.Close(context.Background())

	host := netip.MustParseAddrPort("127.0.0.1:10911")
	for i := 0; i < 3; i++ {
		props := message.AppendProperty(nil, "TAGS", "created")
		m := &message.StoredMessage{Topic: "orders", QueueID: 0, Body: []byte(fmt.Sprintf("order-%d", i)),
			BornHost: host, StoreHost: host, Properties: string(props)}
		r, err := s.Append(context.Background(), m)
		if err != nil {
			panic(err)
		}
		fmt.Println("queue offset", r.QueueOffset)
	}

	// A pull: consume-queue entries → zero-copy commit-log slices.
	created := message.TagsHashCode("created")
	res, err := s.GetMessages("orders", 0, 1, 32, 1<<20, func(code int64) bool { return code == created })
	if err != nil {
		panic(err)
	}
	defer res.Release() // the slices alias the mapped log until then
	fmt.Println(res.Status, res.MsgCount, "next", res.NextBeginOffset)
	for _, b := range res.Buffers {
		rec, _ := message.ParseStored(b, true)
		fmt.Println(string(rec.Body))
	}
	// Output:
	// queue offset 0
	// queue offset 1
	// queue offset 2
	// FOUND 2 next 3
	// order-1
	// order-2
}
