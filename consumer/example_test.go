package consumer_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/rocketgo/rocketgo/consumer"
	"github.com/rocketgo/rocketgo/loadtest"
	"github.com/rocketgo/rocketgo/message"
	"github.com/rocketgo/rocketgo/producer"
	"github.com/rocketgo/rocketgo/server/embedded"
)

// nameServer is the examples' cluster: an embedded server on a free
// loopback port, started by TestMain. In an application it is your name
// server list, "host:9876;host2:9876".
var nameServer string

func TestMain(m *testing.M) {
	os.Exit(runWithServer(m))
}

func runWithServer(m *testing.M) int {
	dir, err := os.MkdirTemp("", "consumer-examples")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	cfg := embedded.SmallConfig(dir)
	cfg.EnablePropertyFilter = true // for ExamplePushConsumer_SubscribeSQL92
	srv, err := embedded.StartLocal(ctx, cfg)
	cancel()
	if err != nil {
		log.Fatal(err)
	}
	nameServer = srv.NamesrvAddr()
	code := m.Run()
	// The tests take longer than any start deadline: the stop has its own.
	sctx, scancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer scancel()
	if err := srv.Shutdown(sctx); err != nil {
		log.Print(err)
		return 1
	}
	return code
}

// send stores bodies on topic (the broker creates it on first use) and
// returns the last result.
func send(topic string, bodies ...string) *producer.SendResult {
	p, err := producer.New(producer.WithNameServers(nameServer))
	if err != nil {
		log.Fatal(err)
	}
	defer p.Shutdown(context.Background())
	var res *producer.SendResult
	for _, b := range bodies {
		// One sharding key: one queue, in send order.
		if res, err = p.SendOrderly(context.Background(), "key", message.New(topic, []byte(b)).WithTags("TagA")); err != nil {
			log.Fatal(err)
		}
	}
	awaitRoute(topic)
	return res
}

// awaitRoute waits until the name server routes topic. The broker reports a
// topic it created on first use a moment after answering the send, and a
// consumer started inside that moment would find no route.
func awaitRoute(topic string) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := loadtest.WaitRoute(ctx, nameServer, topic); err != nil {
		log.Fatal(err)
	}
}

func ExamplePushConsumer_Subscribe() {
	send("ExamplePush", "a", "b", "c")

	c, err := consumer.NewPush(
		consumer.WithNameServers(nameServer),
		consumer.WithGroup("example-push"),
		consumer.WithConsumeFrom(consumer.ConsumeFromFirstOffset),
	)
	if err != nil {
		log.Fatal(err)
	}
	got := make(chan string, 16)
	// A plain function is a listener. Batches may run concurrently, in any
	// order; ConsumeRetryLater would redeliver the batch later.
	err = c.Subscribe("ExamplePush", "TagA || TagB", func(ctx context.Context, cc *consumer.ConcurrentContext, msgs []*message.MessageExt) consumer.ConsumeResult {
		for _, m := range msgs {
			got <- string(m.Body)
		}
		return consumer.ConsumeSuccess
	})
	if err != nil {
		log.Fatal(err)
	}
	if err := c.Start(context.Background()); err != nil {
		log.Fatal(err)
	}
	defer c.Shutdown(context.Background())

	var bodies []string
	for len(bodies) < 3 {
		bodies = append(bodies, <-got)
	}
	slices.Sort(bodies)
	fmt.Println(bodies)
	// Output: [a b c]
}

func ExamplePushConsumer_SubscribeSQL92() {
	p, err := producer.New(producer.WithNameServers(nameServer))
	if err != nil {
		log.Fatal(err)
	}
	for i, region := range []string{"eu", "us", "eu"} {
		m := message.New("ExampleSQL", []byte(fmt.Sprintf("order-%d", i))).WithProperty("region", region)
		if _, err := p.SendSync(context.Background(), m); err != nil {
			log.Fatal(err)
		}
	}
	p.Shutdown(context.Background())

	c, err := consumer.NewPush(
		consumer.WithNameServers(nameServer),
		consumer.WithGroup("example-sql"),
		consumer.WithConsumeFrom(consumer.ConsumeFromFirstOffset),
	)
	if err != nil {
		log.Fatal(err)
	}
	got := make(chan string, 16)
	// The broker evaluates the expression (it needs enablePropertyFilter=true);
	// the listener is a plain function, as with Subscribe.
	err = c.SubscribeSQL92("ExampleSQL", "region = 'eu'", func(ctx context.Context, cc *consumer.ConcurrentContext, msgs []*message.MessageExt) consumer.ConsumeResult {
		for _, m := range msgs {
			got <- string(m.Body)
		}
		return consumer.ConsumeSuccess
	})
	if err != nil {
		log.Fatal(err)
	}
	if err := c.Start(context.Background()); err != nil {
		log.Fatal(err)
	}
	defer c.Shutdown(context.Background())

	bodies := []string{<-got, <-got}
	slices.Sort(bodies)
	fmt.Println(bodies)
	// Output: [order-0 order-2]
}

func ExamplePushConsumer_SubscribeOrderly() {
	send("ExampleOrderly", "created", "paid", "shipped")

	c, err := consumer.NewPush(
		consumer.WithNameServers(nameServer),
		consumer.WithGroup("example-orderly"),
		consumer.WithConsumeFrom(consumer.ConsumeFromFirstOffset),
	)
	if err != nil {
		log.Fatal(err)
	}
	got := make(chan string, 16)
	// One batch per queue at a time, in queue order, while this consumer
	// holds the queue's lock on the broker.
	err = c.SubscribeOrderly("ExampleOrderly", "*", func(ctx context.Context, oc *consumer.OrderlyContext, msgs []*message.MessageExt) consumer.OrderlyResult {
		for _, m := range msgs {
			got <- string(m.Body)
		}
		return consumer.OrderlySuccess
	})
	if err != nil {
		log.Fatal(err)
	}
	if err := c.Start(context.Background()); err != nil {
		log.Fatal(err)
	}
	defer c.Shutdown(context.Background())

	for range 3 {
		fmt.Println(<-got)
	}
	// Output:
	// created
	// paid
	// shipped
}

func ExampleLitePullConsumer_Subscribe() {
	send("ExampleLite", "one", "two", "three")

	c, err := consumer.NewLitePull(
		consumer.WithNameServers(nameServer),
		consumer.WithGroup("example-lite"),
		consumer.WithConsumeFrom(consumer.ConsumeFromFirstOffset),
	)
	if err != nil {
		log.Fatal(err)
	}
	// The group shares the topic's queues among its members.
	if err := c.Subscribe("ExampleLite", "*"); err != nil {
		log.Fatal(err)
	}
	if err := c.Start(context.Background()); err != nil {
		log.Fatal(err)
	}
	defer c.Shutdown(context.Background())

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for n := 0; n < 3; {
		msgs, err := c.Poll(ctx) // offsets are committed automatically every 5 s
		if err != nil {
			log.Fatal(err)
		}
		for _, m := range msgs {
			fmt.Println(string(m.Body))
			n++
		}
	}
	// Output:
	// one
	// two
	// three
}

func ExampleLitePullConsumer_Assign() {
	res := send("ExampleAssign", "x", "y")

	c, err := consumer.NewLitePull(
		consumer.WithNameServers(nameServer),
		consumer.WithGroup("example-assign"),
		consumer.WithConsumeFrom(consumer.ConsumeFromFirstOffset), // where a queue without a committed offset starts
		consumer.WithAutoCommit(false),
	)
	if err != nil {
		log.Fatal(err)
	}
	// Fixed queues, no group rebalancing: here the queue the messages went to.
	if err := c.Assign([]consumer.Queue{res.Queue}); err != nil {
		log.Fatal(err)
	}
	if err := c.Start(context.Background()); err != nil {
		log.Fatal(err)
	}
	defer c.Shutdown(context.Background())

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for n := 0; n < 2; {
		msgs, err := c.Poll(ctx)
		if err != nil {
			log.Fatal(err)
		}
		for _, m := range msgs {
			fmt.Println(m.QueueOffset, string(m.Body))
			n++
		}
	}
	// With auto-commit off, the application says when it is done.
	if err := c.CommitSync(ctx); err != nil {
		log.Fatal(err)
	}
	// Output:
	// 0 x
	// 1 y
}

func ExampleLitePullConsumer_PullFrom() {
	res := send("ExamplePull", "p", "q", "r")

	c, err := consumer.NewLitePull(consumer.WithNameServers(nameServer), consumer.WithGroup("example-pull"))
	if err != nil {
		log.Fatal(err)
	}
	if err := c.Start(context.Background()); err != nil {
		log.Fatal(err)
	}
	defer c.Shutdown(context.Background())

	// The low-level pull: read a queue from an offset, keep no offsets.
	pr, err := c.PullFrom(context.Background(), res.Queue, 1, 32)
	if err != nil {
		log.Fatal(err)
	}
	for _, m := range pr.Messages {
		fmt.Println(m.QueueOffset, string(m.Body))
	}
	fmt.Println("next", pr.NextOffset, "of", pr.MaxOffset)
	// Output:
	// 1 q
	// 2 r
	// next 3 of 3
}

func ExampleNewSimple() {
	send("ExampleSimple", "a", "b")

	// A SimpleConsumer (POP): the broker hands messages out and keeps the
	// group's offsets; each received message stays invisible to the rest of
	// the group until it is acknowledged or its invisible duration ends.
	c, err := consumer.NewSimple("ExampleSimple", "TagA",
		consumer.WithNameServers(nameServer),
		consumer.WithGroup("example-simple"),
		consumer.WithConsumeFrom(consumer.ConsumeFromFirstOffset),
		consumer.WithAwaitDuration(time.Second), // how long an empty Receive waits on the broker
	)
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()

	var msgs []*message.MessageExt
	for len(msgs) < 2 {
		// Up to 16 messages, invisible to the group for 30 s.
		got, err := c.Receive(ctx, 16, 30*time.Second)
		if err != nil {
			log.Fatal(err)
		}
		msgs = append(msgs, got...)
	}
	for _, m := range msgs {
		fmt.Println("received", string(m.Body))
	}
	// "a" is done; "b" needs more time, and then turns out to need a retry:
	// ChangeInvisibleDuration moves its deadline (and renews its receipt
	// handle), 0 hands it back to the group at once.
	if err := c.Ack(ctx, msgs[0]); err != nil {
		log.Fatal(err)
	}
	if err := c.ChangeInvisibleDuration(ctx, msgs[1], time.Minute); err != nil {
		log.Fatal(err)
	}
	if err := c.ChangeInvisibleDuration(ctx, msgs[1], 0); err != nil {
		log.Fatal(err)
	}
	for {
		again, err := c.Receive(ctx, 16, 30*time.Second)
		if err != nil {
			log.Fatal(err)
		}
		if len(again) == 0 {
			continue
		}
		m := again[0]
		fmt.Println("received", string(m.Body), "again, reconsume times", m.ReconsumeTimes)
		if err := c.Ack(ctx, m); err != nil {
			log.Fatal(err)
		}
		break
	}
	// Output:
	// received a
	// received b
	// received b again, reconsume times 1
}
