package metrics_test

import (
	"context"
	"io"
	"testing"
	"time"

	"github.com/rocketgo/rocketgo/loadtest"
)

// TestMetricsMatchLoadtestTotals scrapes /metrics while `rocketgo loadtest`
// runs against the broker: rocketmq_messages_in_total never goes back, and
// once the run is over it equals the messages the load test saw
// acknowledged, while rocketmq_messages_out_total covers every message it
// received.
func TestMetricsMatchLoadtestTotals(t *testing.T) {
	srv := server(t)
	const topic = "MetricsLoadT"
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	type outcome struct {
		res *loadtest.Result
		err error
	}
	done := make(chan outcome, 1)
	go func() {
		res, err := loadtest.Run(ctx, loadtest.Config{
			NameServer: srv.NamesrvAddr(), CreateTopic: true, Topic: topic, Queues: 4,
			Senders: 4, Messages: 3000, Consumers: 1, Out: io.Discard, ReportInterval: time.Hour,
		})
		done <- outcome{res, err}
	}()
	in := map[string]string{"topic": topic}
	last, scrapes := 0.0, 0
	var o outcome
wait:
	for {
		select {
		case o = <-done:
			break wait
		case <-time.After(20 * time.Millisecond):
			v, _ := value(scrape(t, srv.MetricsAddr()), "rocketmq_messages_in_total", in)
			if v < last {
				t.Fatalf("messages_in went back from %v to %v", last, v)
			}
			last, scrapes = v, scrapes+1
		}
	}
	if o.err != nil {
		t.Fatal(o.err)
	}
	mfs := scrape(t, srv.MetricsAddr())
	msgsIn, _ := value(mfs, "rocketmq_messages_in_total", in)
	msgsOut, _ := value(mfs, "rocketmq_messages_out_total", in)
	t.Logf("loadtest sent %d, received %d; metrics in %v, out %v; %d scrapes during the run", o.res.Sent, o.res.Received, msgsIn, msgsOut, scrapes)
	if o.res.Sent == 0 || int64(msgsIn) != o.res.Sent {
		t.Fatalf("messages_in %v, loadtest acknowledged %d (failed %d)", msgsIn, o.res.Sent, o.res.SendFailed)
	}
	if int64(msgsOut) < o.res.Received {
		t.Fatalf("messages_out %v < loadtest received %d", msgsOut, o.res.Received)
	}
}
