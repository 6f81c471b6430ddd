package producer_test

import (
	"context"
	"fmt"
	"log"
	"strings"
	"time"

	"github.com/rocketgo/rocketgo/client"
	"github.com/rocketgo/rocketgo/consumer"
	"github.com/rocketgo/rocketgo/loadtest"

	"github.com/rocketgo/rocketgo/message"
	"github.com/rocketgo/rocketgo/producer"
	"github.com/rocketgo/rocketgo/selector"
)

// nameServers is the examples' cluster: an embedded server on a free
// loopback port that the test binary starts. In an application it is your
// name server list, for example "127.0.0.1:9876" under `rocketgo serve`.
func nameServers() string { return producer.ExampleNameServer }

func ExampleProducer_SendSync() {
	p, err := producer.New(
		producer.WithNameServers(nameServers()),
		producer.WithGroup("orders-producer"),
	)
	if err != nil {
		log.Fatal(err)
	}
	defer p.Shutdown(context.Background())

	msg := message.New("Orders", []byte(`{"id":42}`)).
		WithTags("created").
		WithKeys("order-42").
		WithProperty("source", "web")
	res, err := p.SendSync(context.Background(), msg)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(res.Status, res.Queue.Topic) // also res.MsgID, res.Queue.QueueID, res.QueueOffset
	// Output: SEND_OK Orders
}

func ExampleProducer_SendSync_batch() {
	p, err := producer.New(producer.WithNameServers(nameServers()))
	if err != nil {
		log.Fatal(err)
	}
	defer p.Shutdown(context.Background())

	// One request, three stored messages; MsgID lists their unique keys.
	res, err := p.SendSync(context.Background(),
		message.New("Events", []byte("a")),
		message.New("Events", []byte("b")),
		message.New("Events", []byte("c")),
	)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(len(strings.Split(res.MsgID, ",")), "messages stored")
	// Output: 3 messages stored
}

func ExampleProducer_SendSync_delay() {
	p, err := producer.New(producer.WithNameServers(nameServers()))
	if err != nil {
		log.Fatal(err)
	}
	defer p.Shutdown(context.Background())

	// Level 3 is 10 s with the default messageDelayLevel table.
	res, err := p.SendSync(context.Background(), message.New("Reminders", []byte("ping")).WithDelayLevel(3))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(res.Status)
	// Output: SEND_OK
}

func ExampleProducer_RecallMessage() {
	p, err := producer.New(producer.WithNameServers(nameServers()))
	if err != nil {
		log.Fatal(err)
	}
	defer p.Shutdown(context.Background())

	// A timer message can be recalled until it is due.
	res, err := p.SendSync(context.Background(), message.New("Reminders", []byte("call back")).WithDelay(time.Hour))
	if err != nil {
		log.Fatal(err)
	}
	id, err := p.RecallMessage(context.Background(), "Reminders", res.RecallHandle)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("recalled:", id == res.MsgID)
	// Output: recalled: true
}

func ExampleProducer_SendAsync() {
	p, err := producer.New(producer.WithNameServers(nameServers()))
	if err != nil {
		log.Fatal(err)
	}
	// Shutdown waits for the callback of every async send.
	defer p.Shutdown(context.Background())

	err = p.SendAsync(context.Background(), func(res *producer.SendResult, err error) {
		if err != nil {
			log.Println("send failed:", err)
			return
		}
		fmt.Println("stored in", res.Queue.Topic)
	}, message.New("Metrics", []byte("cpu=0.93")))
	if err != nil {
		log.Fatal(err) // invalid message or closed producer; the callback will not run
	}
	// Output: stored in Metrics
}

func ExampleProducer_SendOneway() {
	p, err := producer.New(producer.WithNameServers(nameServers()))
	if err != nil {
		log.Fatal(err)
	}
	defer p.Shutdown(context.Background())

	// Fire and forget: no result, no retry.
	if err := p.SendOneway(context.Background(), message.New("Logs", []byte("GET /index.html 200"))); err != nil {
		log.Println(err)
	}
	fmt.Println("sent")
	// Output: sent
}

func ExampleProducer_SendOrderly() {
	p, err := producer.New(producer.WithNameServers(nameServers()))
	if err != nil {
		log.Fatal(err)
	}
	defer p.Shutdown(context.Background())

	// Every event of order 42 lands on the same queue, in send order.
	queues := map[int]bool{}
	for _, step := range []string{"created", "paid", "shipped"} {
		res, err := p.SendOrderly(context.Background(), "order-42", message.New("OrderSteps", []byte(step)))
		if err != nil {
			log.Fatal(err)
		}
		queues[res.Queue.QueueID] = true
	}
	fmt.Println(len(queues), "queue")
	// Output: 1 queue
}

func ExampleWithSelector() {
	// Route by the message's sharding key for every send mode.
	p, err := producer.New(
		producer.WithNameServers(nameServers()),
		producer.WithSelector(selector.Hash{}),
	)
	if err != nil {
		log.Fatal(err)
	}
	defer p.Shutdown(context.Background())
	a, err := p.SendSync(context.Background(), message.New("Accounts", []byte("debit 10")).WithShardingKey("acct-7"))
	if err != nil {
		log.Fatal(err)
	}
	b, err := p.SendSync(context.Background(), message.New("Accounts", []byte("credit 5")).WithShardingKey("acct-7"))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("same queue:", a.Queue == b.Queue)
	// Output: same queue: true
}

// bankTransfer is a local transaction: it debits an account in the
// application's database and answers check-backs from that database.
type bankTransfer struct{}

func (bankTransfer) ExecuteLocalTransaction(ctx context.Context, msg *message.Message, arg any) producer.LocalTransactionState {
	// ... run the database transaction identified by arg ...
	return producer.CommitMessage
}

func (bankTransfer) CheckLocalTransaction(ctx context.Context, msg *message.MessageExt) producer.LocalTransactionState {
	// ... look up whether the transaction for msg.UniqKey() committed ...
	return producer.CommitMessage
}

func ExampleProducer_SendMessageInTransaction() {
	p, err := producer.New(
		producer.WithNameServers(nameServers()),
		producer.WithGroup("transfers"),
		producer.WithTransactionListener(bankTransfer{}),
	)
	if err != nil {
		log.Fatal(err)
	}
	defer p.Shutdown(context.Background())

	res, err := p.SendMessageInTransaction(context.Background(), message.New("Transfers", []byte("a->b 10")), "tx-1001")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(res.State) // the message is now visible to consumers; res.MsgID identifies it
	// Output: COMMIT_MESSAGE
}

func ExampleWithClient() {
	// One client (connections, heartbeats, routes) shared by two producers
	// with different settings. Deferred calls run last-first: the
	// producers shut down before the Client closes.
	cl, err := client.New(client.WithNameServers(nameServers()), client.WithInstanceName("billing"))
	if err != nil {
		log.Fatal(err)
	}
	defer cl.Close()
	fast, err := producer.New(producer.WithClient(cl), producer.WithGroup("billing-fast"), producer.WithSendTimeout(500*time.Millisecond), producer.WithRetries(0))
	if err != nil {
		log.Fatal(err)
	}
	defer fast.Shutdown(context.Background())
	safe, err := producer.New(producer.WithClient(cl), producer.WithGroup("billing-safe"))
	if err != nil {
		log.Fatal(err)
	}
	defer safe.Shutdown(context.Background())
	for _, p := range []*producer.Producer{fast, safe} {
		res, err := p.SendSync(context.Background(), message.New("Invoices", []byte("#1")))
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(res.Status)
	}
	// Output:
	// SEND_OK
	// SEND_OK
}

func ExampleWithInterceptors() {
	metrics := producer.InterceptorFuncs{
		Before: func(ctx context.Context, info *producer.SendInfo) context.Context {
			return context.WithValue(ctx, startKey{}, time.Now())
		},
		After: func(ctx context.Context, info *producer.SendInfo, res *producer.SendResult, err error) {
			start, _ := ctx.Value(startKey{}).(time.Time)
			took := time.Since(start) // export it to your metrics system
			fmt.Printf("send to %s: err=%v, took>0 %v\n", info.Topic, err, took > 0)
		},
	}
	p, err := producer.New(producer.WithNameServers(nameServers()), producer.WithInterceptors(metrics))
	if err != nil {
		log.Fatal(err)
	}
	defer p.Shutdown(context.Background())
	if _, err := p.SendSync(context.Background(), message.New("Payments", []byte("9.50"))); err != nil {
		log.Fatal(err)
	}
	// Output: send to Payments: err=<nil>, took>0 true
}

type startKey struct{}

// A request waits for the reply a consumer sends back with message.NewReply
// (RocketMQ's request/reply). Here the replying side runs in the same
// program; usually it is another service.
func ExampleProducer_Request() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	// The replying side: a consumer of Quotes that answers each request
	// through its own producer.
	replier, err := producer.New(producer.WithNameServers(nameServers()), producer.WithGroup("quotes-replier"))
	if err != nil {
		log.Fatal(err)
	}
	defer replier.Shutdown(context.Background())
	if _, err := replier.SendSync(ctx, message.New("Quotes", []byte("setup")).WithTags("setup")); err != nil {
		log.Fatal(err) // creates the topic: a consumer starts only on an existing topic
	}
	// The broker reports a topic it created on first use a moment after
	// answering the send; the consumer needs its route.
	if err := loadtest.WaitRoute(ctx, nameServers(), "Quotes"); err != nil {
		log.Fatal(err)
	}
	c, err := consumer.NewPush(consumer.WithNameServers(nameServers()), consumer.WithGroup("quotes-service"))
	if err != nil {
		log.Fatal(err)
	}
	err = c.Subscribe("Quotes", "quote", func(ctx context.Context, _ *consumer.ConcurrentContext, msgs []*message.MessageExt) consumer.ConsumeResult {
		for _, req := range msgs {
			reply, err := message.NewReply(req, []byte(`{"price":9.5}`))
			if err == nil {
				_, err = replier.SendSync(ctx, reply)
			}
			if err != nil {
				log.Println("reply:", err)
			}
		}
		return consumer.ConsumeSuccess
	})
	if err != nil {
		log.Fatal(err)
	}
	if err := c.Start(ctx); err != nil {
		log.Fatal(err)
	}
	defer c.Shutdown(context.Background())

	// The requesting side.
	p, err := producer.New(producer.WithNameServers(nameServers()), producer.WithGroup("quotes-requester"))
	if err != nil {
		log.Fatal(err)
	}
	defer p.Shutdown(context.Background())
	reply, err := p.Request(ctx, message.New("Quotes", []byte(`{"symbol":"RMQ"}`)).WithTags("quote"))
	if err != nil {
		log.Fatal(err) // errors.Is(err, producer.ErrRequestTimeout) when no reply came
	}
	fmt.Println(string(reply.Body))
	// Output: {"price":9.5}
}
