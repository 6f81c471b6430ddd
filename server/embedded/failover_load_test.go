package embedded_test

import (
	"context"
	"fmt"
	"net/netip"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rocketgo/rocketgo/consumer"
	"github.com/rocketgo/rocketgo/message"
	"github.com/rocketgo/rocketgo/producer"
	"github.com/rocketgo/rocketgo/remoting"
	"github.com/rocketgo/rocketgo/remoting/netclient"
)

// loadRun is the failover acceptance workload: senders send synchronously,
// each retrying its current message (same id) until a SEND_OK, as an
// at-least-once application would; a push consumer group receives
// everything. Every acknowledged id must end up stored and delivered.
type loadRun struct {
	t      *testing.T
	topic  string
	nsAddr string
	p      *producer.Producer
	c      *consumer.PushConsumer

	mu    sync.Mutex
	acked map[string]ack // id → first SEND_OK
	got   map[string]int // id → deliveries

	attempts, notOK atomic.Int64
	lastErr         atomic.Value // string: the latest failure, for diagnosis
	stop            context.CancelFunc
	wg              sync.WaitGroup
}

type ack struct {
	at   time.Time
	host netip.AddrPort // the broker that stored it
}

func startLoad(t *testing.T, nsAddr, topic string, senders int) *loadRun {
	t.Helper()
	l := &loadRun{t: t, topic: topic, nsAddr: nsAddr, acked: map[string]ack{}, got: map[string]int{}}
	var err error
	if l.p, err = producer.New(producer.WithNameServers(nsAddr), producer.WithGroup("failover-pg"),
		producer.WithSendTimeout(5*time.Second)); err != nil {
		t.Fatal(err)
	}
	if l.c, err = consumer.NewPush(consumer.WithNameServers(nsAddr), consumer.WithGroup("failover-cg"),
		consumer.WithConsumeFrom(consumer.ConsumeFromFirstOffset), consumer.WithPullBackoff(200*time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	err = l.c.Subscribe(topic, "*", consumer.ConcurrentListener(func(_ context.Context, _ *consumer.ConcurrentContext, msgs []*message.MessageExt) consumer.ConsumeResult {
		l.mu.Lock()
		for _, m := range msgs {
			l.got[string(m.Body)]++
		}
		l.mu.Unlock()
		return consumer.ConsumeSuccess
	}))
	if err != nil {
		t.Fatal(err)
	}
	// The topic exists before the consumer starts, so it rebalances at once.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := l.p.SendSync(ctx, message.New(topic, []byte("warm-up"))); err != nil {
		t.Fatal(err)
	}
	if err := l.c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	lctx, stop := context.WithCancel(context.Background())
	l.stop = stop
	for g := range senders {
		l.wg.Add(1)
		go l.sender(lctx, g)
	}
	return l
}

func (l *loadRun) sender(ctx context.Context, g int) {
	defer l.wg.Done()
	for n := 0; ctx.Err() == nil; n++ {
		id := fmt.Sprintf("m-%02d-%07d", g, n)
		for ctx.Err() == nil {
			l.attempts.Add(1)
			sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			res, err := l.p.SendSync(sctx, message.New(l.topic, []byte(id)).WithKeys(id))
			cancel()
			if err == nil && res.Status == producer.SendOK {
				host, _, _ := message.ParseOffsetMsgID(res.OffsetMsgID)
				l.mu.Lock()
				l.acked[id] = ack{at: time.Now(), host: host}
				l.mu.Unlock()
				break
			}
			l.notOK.Add(1)
			if err != nil {
				l.lastErr.Store(err.Error())
			} else {
				l.lastErr.Store(res.Status.String())
			}
			select {
			case <-ctx.Done():
			case <-time.After(20 * time.Millisecond):
			}
		}
	}
}

// ackedCount is how many ids are acknowledged.
func (l *loadRun) ackedCount() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.acked)
}

// waitAckFrom waits for the first acknowledgement after since from a broker
// other than old, and returns how long after since it came.
func (l *loadRun) waitAckFrom(since time.Time, old string, d time.Duration) (time.Duration, bool) {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		l.mu.Lock()
		var first time.Time
		for _, a := range l.acked {
			if a.at.After(since) && a.host.String() != old && (first.IsZero() || a.at.Before(first)) {
				first = a.at
			}
		}
		l.mu.Unlock()
		if !first.IsZero() {
			return first.Sub(since), true
		}
		time.Sleep(10 * time.Millisecond)
	}
	l.t.Logf("last send failure: %v", l.lastErr.Load())
	if l.nsAddr != "" {
		rpc := netclient.New()
		defer rpc.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		h := &remoting.ExtFields{}
		req := remoting.NewRequest(remoting.GetRouteInfoByTopic, nil, nil)
		req.Ext.Set("topic", l.topic)
		_ = h
		if resp, err := rpc.InvokeSync(ctx, l.nsAddr, req); err == nil {
			l.t.Logf("route of %s: code %d %s", l.topic, resp.Code, resp.Body)
		}
	}
	return 0, false
}

// finish stops the senders and waits until every acknowledged id was
// delivered (or d passes); it returns the acknowledged ids missing from
// the deliveries and the number of extra deliveries.
func (l *loadRun) finish(d time.Duration) (missing []string, dupDeliveries, acked int) {
	l.stop()
	l.wg.Wait()
	deadline := time.Now().Add(d)
	for {
		l.mu.Lock()
		missing = missing[:0]
		for id := range l.acked {
			if l.got[id] == 0 {
				missing = append(missing, id)
			}
		}
		dupDeliveries = 0
		for _, n := range l.got {
			dupDeliveries += n - 1
		}
		acked = len(l.acked)
		l.mu.Unlock()
		if len(missing) == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	sort.Strings(missing)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	l.c.Shutdown(ctx)
	l.p.Shutdown(ctx)
	return missing, dupDeliveries, acked
}

// storedIDs reads every message of topic from the broker at addr with raw
// pulls and counts each body.
func storedIDs(t *testing.T, addr, topic string, queues int) map[string]int {
	t.Helper()
	rpc := netclient.New()
	defer rpc.Close()
	out := map[string]int{}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for q := range queues {
		for off := int64(0); ; {
			h := &remoting.PullMessageRequestHeader{ConsumerGroup: "verify", Topic: topic, QueueID: int32(q), QueueOffset: off,
				MaxMsgNums: 32, SysFlag: remoting.PullFlagSubscription, CommitOffset: -1, Subscription: "*", ExpressionType: "TAG"}
			resp, err := rpc.InvokeSync(ctx, addr, remoting.NewRequest(remoting.PullMessage, h, nil))
			if err != nil {
				t.Fatalf("pull %s/%d@%d: %v", topic, q, off, err)
			}
			var rh remoting.PullMessageResponseHeader
			if err := resp.DecodeHeader(&rh); err != nil {
				t.Fatal(err)
			}
			if resp.Code != remoting.Success {
				if resp.Code == remoting.PullRetryImmediately && rh.NextBeginOffset > off {
					off = rh.NextBeginOffset
					continue
				}
				break
			}
			msgs, err := message.DecodeMessages(resp.Body)
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range msgs {
				out[string(m.Body)]++
			}
			off = rh.NextBeginOffset
		}
	}
	return out
}
