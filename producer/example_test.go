package producer_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/rocketgo/rocketgo/client"

	"github.com/rocketgo/rocketgo/message"
	"github.com/rocketgo/rocketgo/producer"
	"github.com/rocketgo/rocketgo/selector"
)

func ExampleProducer_SendSync() {
	p, err := producer.New(
		producer.WithNameServers("127.0.0.1:9876"),
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
	fmt.Println(res.Status, res.MsgID, res.Queue, res.QueueOffset)
}

func ExampleProducer_SendSync_batch() {
	p, err := producer.New(producer.WithNameServers("127.0.0.1:9876"))
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
	fmt.Println(res.MsgID)
}

func ExampleProducer_SendSync_delay() {
	p, err := producer.New(producer.WithNameServers("127.0.0.1:9876"))
	if err != nil {
		log.Fatal(err)
	}
	defer p.Shutdown(context.Background())

	// Level 3 is 10 s with the default messageDelayLevel table.
	if _, err := p.SendSync(context.Background(), message.New("Reminders", []byte("ping")).WithDelayLevel(3)); err != nil {
		log.Fatal(err)
	}
}

func ExampleProducer_SendAsync() {
	p, err := producer.New(producer.WithNameServers("127.0.0.1:9876"))
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
		fmt.Println("stored at", res.Queue, res.QueueOffset)
	}, message.New("Metrics", []byte("cpu=0.93")))
	if err != nil {
		log.Fatal(err) // invalid message or closed producer; the callback will not run
	}
}

func ExampleProducer_SendOneway() {
	p, err := producer.New(producer.WithNameServers("127.0.0.1:9876"))
	if err != nil {
		log.Fatal(err)
	}
	defer p.Shutdown(context.Background())

	// Fire and forget: no result, no retry.
	if err := p.SendOneway(context.Background(), message.New("Logs", []byte("GET /index.html 200"))); err != nil {
		log.Println(err)
	}
}

func ExampleProducer_SendOrderly() {
	p, err := producer.New(producer.WithNameServers("127.0.0.1:9876"))
	if err != nil {
		log.Fatal(err)
	}
	defer p.Shutdown(context.Background())

	// Every event of order 42 lands on the same queue, in send order.
	for _, step := range []string{"created", "paid", "shipped"} {
		if _, err := p.SendOrderly(context.Background(), "order-42", message.New("OrderSteps", []byte(step))); err != nil {
			log.Fatal(err)
		}
	}
}

func ExampleWithSelector() {
	// Route by the message's sharding key for every send mode.
	p, err := producer.New(
		producer.WithNameServers("127.0.0.1:9876"),
		producer.WithSelector(selector.Hash{}),
	)
	if err != nil {
		log.Fatal(err)
	}
	defer p.Shutdown(context.Background())
	_ = p.SendOneway(context.Background(), message.New("Accounts", []byte("debit 10")).WithShardingKey("acct-7"))
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
		producer.WithNameServers("127.0.0.1:9876"),
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
	fmt.Println(res.State, res.MsgID)
}

func ExampleWithClient() {
	// One client (connections, heartbeats, routes) shared by two producers
	// with different settings. Deferred calls run last-first: the
	// producers shut down before the Client closes.
	cl, err := client.New(client.WithNameServers("127.0.0.1:9876"), client.WithInstanceName("billing"))
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
}

func ExampleWithInterceptors() {
	metrics := producer.InterceptorFuncs{
		Before: func(ctx context.Context, info *producer.SendInfo) context.Context {
			return context.WithValue(ctx, startKey{}, time.Now())
		},
		After: func(ctx context.Context, info *producer.SendInfo, res *producer.SendResult, err error) {
			start, _ := ctx.Value(startKey{}).(time.Time)
			log.Printf("send to %s took %s (err=%v)", info.Topic, time.Since(start), err)
		},
	}
	p, err := producer.New(producer.WithNameServers("127.0.0.1:9876"), producer.WithInterceptors(metrics))
	if err != nil {
		log.Fatal(err)
	}
	defer p.Shutdown(context.Background())
}

type startKey struct{}

// A request waits for the reply a consumer sends back with message.NewReply
// (RocketMQ's request/reply). The replying side, in its listener, would do:
//
//	reply, err := message.NewReply(req, []byte(`{"price":9.5}`))
//	if err == nil {
//		_, err = replier.SendSync(ctx, reply)
//	}
func ExampleProducer_Request() {
	p, err := producer.New(producer.WithNameServers("127.0.0.1:9876"), producer.WithGroup("quotes-requester"))
	if err != nil {
		log.Fatal(err)
	}
	defer p.Shutdown(context.Background())

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	reply, err := p.Request(ctx, message.New("Quotes", []byte(`{"symbol":"RMQ"}`)))
	if err != nil {
		log.Fatal(err) // errors.Is(err, producer.ErrRequestTimeout) when no reply came
	}
	fmt.Println(string(reply.Body))
}
