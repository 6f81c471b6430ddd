// Command quickstart sends ten messages to a rocketgo (or Apache RocketMQ)
// cluster and receives them back with a push consumer.
//
//	go run ./cmd/rocketgo serve        # terminal 1: a development server on 127.0.0.1
//	go run ./examples/quickstart       # terminal 2 (-namesrv host:9876 for another cluster)
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"os/signal"
	"strconv"
	"time"

	"github.com/rocketgo/rocketgo/consumer"
	"github.com/rocketgo/rocketgo/message"
	"github.com/rocketgo/rocketgo/producer"
)

const topic = "QuickstartTopic"

func main() {
	namesrv := flag.String("namesrv", "127.0.0.1:9876", "name server address, host:port")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := run(ctx, *namesrv, 10, os.Stdout); err != nil {
		log.Fatal(err)
	}
}

func run(ctx context.Context, namesrv string, n int, out io.Writer) error {
	// A producer needs only the name server; the broker creates the topic
	// on its first message (autoCreateTopicEnable, on under `rocketgo serve`).
	p, err := producer.New(producer.WithNameServers(namesrv), producer.WithGroup("quickstart-producer"))
	if err != nil {
		return err
	}
	defer p.Shutdown(context.Background())

	runID := strconv.FormatInt(time.Now().UnixNano(), 36) // tells this run's messages from earlier runs'
	for i := range n {
		msg := message.New(topic, fmt.Appendf(nil, "hello %d", i)).
			WithTags("greeting").
			WithKeys("greeting-"+strconv.Itoa(i)). // indexed: findable by key
			WithProperty("run", runID)
		res, err := p.SendSync(ctx, msg)
		if err != nil {
			return fmt.Errorf("send %d: %w", i, err)
		}
		fmt.Fprintf(out, "sent %q to queue %d at offset %d\n", msg.Body, res.Queue.QueueID, res.QueueOffset)
	}

	// A push consumer calls the listener with batches of messages; returning
	// ConsumeSuccess acknowledges them, ConsumeRetryLater redelivers them later.
	received := make(chan string, 64)
	c, err := consumer.NewPush(
		consumer.WithNameServers(namesrv),
		consumer.WithGroup("quickstart-consumer"),
		consumer.WithConsumeFrom(consumer.ConsumeFromFirstOffset), // a new group starts at the oldest message
	)
	if err != nil {
		return err
	}
	err = c.Subscribe(topic, "greeting", func(ctx context.Context, cc *consumer.ConcurrentContext, msgs []*message.MessageExt) consumer.ConsumeResult {
		for _, m := range msgs {
			if run, _ := m.Property("run"); run == runID {
				select {
				case received <- string(m.Body):
				case <-ctx.Done():
					return consumer.ConsumeRetryLater
				}
			}
		}
		return consumer.ConsumeSuccess
	})
	if err != nil {
		return err
	}
	if err := c.Start(ctx); err != nil {
		return err
	}
	defer c.Shutdown(context.Background())

	seen := map[string]bool{}
	for len(seen) < n {
		select {
		case body := <-received:
			if !seen[body] {
				seen[body] = true
				fmt.Fprintf(out, "received %q\n", body)
			}
		case <-ctx.Done():
			return fmt.Errorf("received %d of %d messages: %w", len(seen), n, ctx.Err())
		}
	}
	fmt.Fprintf(out, "done: %d sent, %d received\n", n, len(seen))
	return nil
}
