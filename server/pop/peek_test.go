package pop_test

import (
	"context"
	"fmt"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/rocketgo/rocketgo/message"
	"github.com/rocketgo/rocketgo/remoting"
	"github.com/rocketgo/rocketgo/remoting/netclient"
	"github.com/rocketgo/rocketgo/server/broker"
)

// popClient drives one broker over the remoting protocol.
type popClient struct {
	t    testing.TB
	b    *broker.Broker
	rc   *netclient.Client
	ctx  context.Context
	stop context.CancelFunc
}

func newPopClient(t testing.TB, b *broker.Broker) *popClient {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	c := &popClient{t: t, b: b, rc: netclient.New(), ctx: ctx, stop: cancel}
	t.Cleanup(func() { c.rc.Close(); cancel() })
	return c
}

func (c *popClient) invoke(req *remoting.Command) *remoting.Command {
	c.t.Helper()
	resp, err := c.rc.InvokeSync(c.ctx, c.b.Addr(), req)
	if err != nil {
		c.t.Fatalf("request %d: %v", req.Code, err)
	}
	return resp
}

// send stores bodies on queue 0 of topic, creating it with one queue.
func (c *popClient) send(topic string, bodies ...string) {
	c.t.Helper()
	for _, body := range bodies {
		h := remoting.SendMessageRequestHeader{ProducerGroup: "pg", Topic: topic, DefaultTopic: "TBW102",
			DefaultTopicQueueNums: 1, QueueID: 0, BornTimestamp: time.Now().UnixMilli()}
		if resp := c.invoke(remoting.NewRequest(remoting.SendMessage, &h, []byte(body))); resp.Code != remoting.Success {
			c.t.Fatalf("send: %d %s", resp.Code, resp.Remark)
		}
	}
}

func (c *popClient) pop(topic string, n int32, order bool) (*remoting.Command, []string) {
	c.t.Helper()
	h := remoting.PopMessageRequestHeader{ConsumerGroup: "g", Topic: topic, QueueID: -1, MaxMsgNums: n,
		InvisibleTime: 60000, BornTime: time.Now().UnixMilli(), InitMode: remoting.PopInitModeMin, Order: order}
	resp := c.invoke(remoting.NewWideRequest(remoting.PopMessage, &h, nil))
	return resp, bodiesOf(c.t, resp)
}

func (c *popClient) peek(topic string, n int32) (*remoting.Command, []string) {
	c.t.Helper()
	h := remoting.PeekMessageRequestHeader{ConsumerGroup: "g", Topic: topic, QueueID: -1, MaxMsgNums: n}
	resp := c.invoke(remoting.NewWideRequest(remoting.PeekMessage, &h, nil))
	return resp, bodiesOf(c.t, resp)
}

func notificationReq(topic string, poll time.Duration, order bool) *remoting.Command {
	h := remoting.NotificationRequestHeader{ConsumerGroup: "g", Topic: topic, QueueID: -1,
		PollTime: poll.Milliseconds(), BornTime: time.Now().UnixMilli(), Order: order}
	return remoting.NewWideRequest(remoting.Notification, &h, nil)
}

// notify sends a NOTIFICATION and returns its hasMsg (failing on anything
// but SUCCESS).
func (c *popClient) notify(topic string, poll time.Duration, order bool) bool {
	c.t.Helper()
	return hasMsg(c.t, c.invoke(notificationReq(topic, poll, order)))
}

func hasMsg(t testing.TB, resp *remoting.Command) bool {
	t.Helper()
	var h remoting.NotificationResponseHeader
	if resp.Code != remoting.Success {
		t.Fatalf("notification: %d %s", resp.Code, resp.Remark)
	}
	if err := resp.DecodeHeader(&h); err != nil {
		t.Fatal(err)
	}
	return h.HasMsg
}

func (c *popClient) polling(topic string, queueID int32) int32 {
	c.t.Helper()
	h := remoting.PollingInfoRequestHeader{ConsumerGroup: "g", Topic: topic, QueueID: queueID}
	resp := c.invoke(remoting.NewWideRequest(remoting.PollingInfo, &h, nil))
	var rh remoting.PollingInfoResponseHeader
	if resp.Code != remoting.Success || resp.DecodeHeader(&rh) != nil {
		c.t.Fatalf("polling info: %d %s", resp.Code, resp.Remark)
	}
	return rh.PollingNum
}

// waitPolling waits until want requests are parked on topic (queue -1).
func (c *popClient) waitPolling(topic string, want int32) {
	c.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for c.polling(topic, -1) != want {
		if time.Now().After(deadline) {
			c.t.Fatalf("polling info of %s: %d parked, want %d", topic, c.polling(topic, -1), want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func bodiesOf(t testing.TB, resp *remoting.Command) []string {
	t.Helper()
	msgs, err := message.DecodeMessages(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, m := range msgs {
		out = append(out, fmt.Sprintf("%s@%d", m.Body, m.QueueOffset))
	}
	return out
}

// A parked NOTIFICATION is answered hasMsg=true when a message arrives,
// well before its poll time ends; POLLING_INFO counts it while it waits.
func TestNotificationWakesOnArrival(t *testing.T) {
	b := startBroker(t)
	c := newPopClient(t, b)
	c.send("NotifyWake", "a")
	if _, got := c.pop("NotifyWake", 32, false); len(got) != 1 {
		t.Fatalf("drain pop: %v", got)
	}
	if c.notify("NotifyWake", 0, false) {
		t.Fatal("hasMsg on a drained topic")
	}
	answer := make(chan *remoting.Command, 1)
	go func() {
		// The poll time exceeds the request's own deadline: only a wake
		// by the arrival answers in time.
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		resp, err := c.rc.InvokeSync(ctx, b.Addr(), notificationReq("NotifyWake", 30*time.Second, false))
		if err != nil {
			t.Errorf("parked notification: %v", err)
		}
		answer <- resp
	}()
	c.waitPolling("NotifyWake", 1)
	if n := c.polling("NotifyWake", 0); n != 0 {
		t.Errorf("polling info of queue 0: %d, want 0 (the request asked for any queue)", n)
	}
	c.send("NotifyWake", "b")
	resp := <-answer
	if resp == nil {
		t.FailNow()
	}
	if !hasMsg(t, resp) {
		t.Fatal("woken notification answered hasMsg=false")
	}
	c.waitPolling("NotifyWake", 0)
	if _, got := c.pop("NotifyWake", 32, false); !slices.Equal(got, []string{"b@1"}) {
		t.Fatalf("pop after the notification: %v", got)
	}
}

// A NOTIFICATION with nothing to pop waits out its poll time and answers
// SUCCESS with hasMsg=false; with a message there it answers at once.
func TestNotificationTimesOut(t *testing.T) {
	b := startBroker(t)
	c := newPopClient(t, b)
	c.send("NotifyIdle", "a")
	if !c.notify("NotifyIdle", 30*time.Second, false) {
		t.Fatal("hasMsg=false with a message waiting")
	}
	c.pop("NotifyIdle", 32, false)
	start := time.Now()
	if c.notify("NotifyIdle", 300*time.Millisecond, false) {
		t.Fatal("hasMsg=true on a drained topic")
	}
	if el := time.Since(start); el < 300*time.Millisecond {
		t.Fatalf("answered after %v, before its poll time", el)
	}
	c.waitPolling("NotifyIdle", 0)
}

// An orderly queue whose popped messages are not acknowledged has nothing
// an orderly pop could get: NOTIFICATION (order) says hasMsg=false, a
// non-orderly one sees the waiting message.
func TestNotificationIgnoresBlockedOrderQueue(t *testing.T) {
	b := startBroker(t)
	c := newPopClient(t, b)
	c.send("NotifyOrder", "a", "b")
	if _, got := c.pop("NotifyOrder", 1, true); !slices.Equal(got, []string{"a@0"}) {
		t.Fatalf("order pop: %v", got)
	}
	if c.notify("NotifyOrder", 0, true) {
		t.Fatal("order notification: hasMsg=true on a blocked queue")
	}
	if !c.notify("NotifyOrder", 0, false) {
		t.Fatal("plain notification: hasMsg=false with b waiting")
	}
	// Parked, an arrival on the blocked queue wakes it but does not make
	// it true: it waits out its poll time.
	answer := make(chan *remoting.Command, 1)
	go func() {
		resp, err := c.rc.InvokeSync(c.ctx, b.Addr(), notificationReq("NotifyOrder", 500*time.Millisecond, true))
		if err != nil {
			t.Errorf("parked order notification: %v", err)
		}
		answer <- resp
	}()
	c.waitPolling("NotifyOrder", 1)
	c.send("NotifyOrder", "c")
	if resp := <-answer; resp == nil || hasMsg(t, resp) {
		t.Fatalf("order notification on a blocked queue after an arrival: %v", resp)
	}
}

// PEEK_MESSAGE changes nothing: peeking twice reads the same messages and
// a pop afterwards gets them too; once popped, a peek finds none.
func TestPeekLeavesStateUntouched(t *testing.T) {
	b := startBroker(t)
	c := newPopClient(t, b)
	if resp, _ := c.peek("PeekSame", 32); resp.Code != remoting.TopicNotExist {
		t.Fatalf("peek of a missing topic: %d %s", resp.Code, resp.Remark)
	}
	c.send("PeekSame", "a", "b", "c")
	want := []string{"a@0", "b@1", "c@2"}
	for range 2 {
		resp, got := c.peek("PeekSame", 32)
		var h remoting.PopMessageResponseHeader
		if resp.Code != remoting.Success || !slices.Equal(got, want) || resp.DecodeHeader(&h) != nil || h.RestNum != 3 {
			t.Fatalf("peek: %d %v restNum %d, want %v", resp.Code, got, h.RestNum, want)
		}
	}
	if _, got := c.peek("PeekSame", 2); !slices.Equal(got, want[:2]) {
		t.Fatalf("peek of 2: %v", got)
	}
	if n := b.PopParked(); n != 0 {
		t.Fatalf("%d parked", n)
	}
	if resp, got := c.pop("PeekSame", 32, false); resp.Code != remoting.Success || !slices.Equal(got, want) {
		t.Fatalf("pop after the peeks: %d %v, want %v", resp.Code, got, want)
	}
	if resp, got := c.peek("PeekSame", 32); resp.Code != remoting.PullNotFound || len(got) != 0 {
		t.Fatalf("peek after the pop: %d %v", resp.Code, got)
	}
}

// Malformed PEEK/NOTIFICATION/POLLING_INFO requests get error responses.
func TestMalformedPeekNotificationRequests(t *testing.T) {
	b := startBroker(t)
	c := newPopClient(t, b)
	c.send("PeekBad", "x")
	raw := func(code int32, kv ...string) *remoting.Command {
		req := remoting.NewWideRequest(code, nil, nil)
		for i := 0; i+1 < len(kv); i += 2 {
			req.Ext.Set(kv[i], kv[i+1])
		}
		return req
	}
	peek := func(qid, n string) *remoting.Command {
		return raw(remoting.PeekMessage, "consumerGroup", "g", "topic", "PeekBad", "queueId", qid, "maxMsgNums", n)
	}
	notif := func(qid, poll string) *remoting.Command {
		return raw(remoting.Notification, "consumerGroup", "g", "topic", "PeekBad", "queueId", qid, "pollTime", poll, "bornTime", "0")
	}
	cases := []struct {
		name string
		req  *remoting.Command
		want int16
	}{
		{"peek without header", raw(remoting.PeekMessage), remoting.InvalidParameter},
		{"peek 0 messages", peek("0", "0"), remoting.InvalidParameter},
		{"peek 1000 messages", peek("0", "1000"), remoting.InvalidParameter},
		{"peek queue out of range", peek("7", "1"), remoting.InvalidParameter},
		{"peek queue not a number", peek("q", "1"), remoting.InvalidParameter},
		{"notification without header", raw(remoting.Notification), remoting.InvalidParameter},
		{"notification negative poll", notif("-1", "-5"), remoting.InvalidParameter},
		{"notification poll of hours", notif("-1", "3600000"), remoting.InvalidParameter},
		{"notification queue out of range", notif("-2", "0"), remoting.InvalidParameter},
		{"notification unknown topic", raw(remoting.Notification, "consumerGroup", "g", "topic", "Nope", "queueId", "-1",
			"pollTime", "0", "bornTime", "0"), remoting.TopicNotExist},
		{"polling info without header", raw(remoting.PollingInfo), remoting.InvalidParameter},
		{"polling info unknown topic", raw(remoting.PollingInfo, "consumerGroup", "g", "topic", "Nope"), remoting.TopicNotExist},
	}
	for _, tc := range cases {
		if resp := c.invoke(tc.req); resp.Code != tc.want {
			t.Errorf("%s: code %d (%s), want %d", tc.name, resp.Code, resp.Remark, tc.want)
		}
	}
	if _, got := c.peek("PeekBad", 1); !slices.Equal(got, []string{"x@0"}) {
		t.Fatalf("peek after the bad requests: %v", got)
	}
}

// Closing the broker answers parked notifications (SUCCESS, hasMsg=false)
// and leaves no goroutine behind.
func TestNotificationShutdownLeavesNoGoroutines(t *testing.T) {
	base := runtime.NumGoroutine()
	b := startBroker(t)
	c := newPopClient(t, b)
	c.send("NotifyLeak", "a")
	c.pop("NotifyLeak", 32, false)
	answered := make(chan *remoting.Command, 3)
	for range 3 {
		go func() {
			resp, err := c.rc.InvokeSync(c.ctx, b.Addr(), notificationReq("NotifyLeak", 30*time.Second, false))
			if err != nil {
				t.Errorf("parked notification: %v", err)
			}
			answered <- resp
		}()
	}
	c.waitPolling("NotifyLeak", 3)
	sctx, scancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer scancel()
	if err := b.Shutdown(sctx); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		select {
		case resp := <-answered:
			if resp == nil || hasMsg(t, resp) {
				t.Fatalf("notification answered at shutdown: %v", resp)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("a parked notification was not answered at shutdown")
		}
	}
	c.rc.Close()
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > base && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > base {
		buf := make([]byte, 1<<20)
		t.Fatalf("%d goroutines after shutdown, %d before\n%s", n, base, buf[:runtime.Stack(buf, true)])
	}
}
