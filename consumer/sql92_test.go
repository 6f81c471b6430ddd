package consumer

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rocketgo/rocketgo/message"
	"github.com/rocketgo/rocketgo/remoting"
	"github.com/rocketgo/rocketgo/server/broker"
)

func TestPushSQL92Subscription(t *testing.T) {
	ts := startServer(t, func(c *broker.Config) { c.EnablePropertyFilter = true })
	s := newSender(t, ts)
	topic := "PushSQL"
	createTopic(t, ts, s, topic) // "init" has no properties: a is NULL, never selected
	want := map[string]bool{}
	for i := range 40 {
		region := []string{"eu", "us"}[i%2]
		body := fmt.Sprintf("m-%d", i)
		s.send(t, topic, i%4, "TagA", []byte(body), "a", strconv.Itoa(i), "region", region)
		if i > 10 && region == "eu" {
			want[body] = true
		}
	}
	rec := newRecorder()
	c, err := NewPush(fastOpts(ts, "cg-sql")...)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.SubscribeSQL92(topic, "a > 10 AND region = 'eu'", rec.listener()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { shutdown(t, c) })
	waitFor(t, 20*time.Second, "the selected messages", func() bool { return rec.distinct() >= len(want) })
	s.send(t, topic, 0, "", []byte("late-match"), "a", "99", "region", "eu")
	s.send(t, topic, 0, "", []byte("late-miss"), "a", "99", "region", "us")
	want["late-match"] = true
	waitFor(t, 20*time.Second, "the late match", func() bool { return rec.distinct() >= len(want) })
	time.Sleep(300 * time.Millisecond)
	total, seen := rec.snapshot()
	if total != len(want) {
		t.Fatalf("got %d deliveries, want exactly the %d selected: %v", total, len(want), seen)
	}
	for body := range seen {
		if !want[body] {
			t.Errorf("delivered %q, which the expression rejects", body)
		}
	}
}

// Without enablePropertyFilter, or with an expression the broker cannot
// parse, Start fails with the broker's reason instead of every pull failing.
func TestPushSQL92RefusedAtStart(t *testing.T) {
	for _, tc := range []struct {
		name   string
		enable bool
		expr   string
		code   int16
		remark string
	}{
		{"filter disabled", false, "a > 1", remoting.SystemError, "does not support"},
		{"bad expression", true, "a > AND", remoting.SubscriptionParseFailed, "parse"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ts := startServer(t, func(c *broker.Config) { c.EnablePropertyFilter = tc.enable })
			s := newSender(t, ts)
			createTopic(t, ts, s, "SQLRefused")
			c, err := NewPush(fastOpts(ts, "cg-sql-refused")...)
			if err != nil {
				t.Fatal(err)
			}
			defer shutdown(t, c)
			if err := c.SubscribeSQL92("SQLRefused", tc.expr, newRecorder().listener()); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			err = c.Start(ctx)
			var be *remoting.ResponseError
			if !errors.Is(err, ErrInvalidOption) || !errors.As(err, &be) || be.Code != tc.code || !strings.Contains(be.Remark, tc.remark) {
				t.Fatalf("Start: want ErrInvalidOption and a %d (%q) broker answer, got %v", tc.code, tc.remark, err)
			}
		})
	}
	if err := (&PushConsumer{}).SubscribeSQL92("T", "a > 1", nil); !errors.Is(err, ErrInvalidOption) {
		t.Fatalf("nil listener: %v", err)
	}
	if err := (&PushConsumer{}).SubscribeOrderlySQL92("T", "  ", func(context.Context, *OrderlyContext, []*message.MessageExt) OrderlyResult { return OrderlySuccess }); !errors.Is(err, ErrInvalidOption) {
		t.Fatalf("empty expression: %v", err)
	}
}
