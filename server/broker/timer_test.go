package broker

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rocketgo/rocketgo/message"
	"github.com/rocketgo/rocketgo/remoting"
)

func TestTimedMessagesArriveInDueOrder(t *testing.T) {
	dir := t.TempDir()
	mutate := func(c *Config) { c.StorePathRootDir = dir }
	b, rc := testBroker(t, mutate)
	heartbeat(t, rc, b.Addr(), "CG", "Timed", "*")
	sentAt := time.Now()
	for _, d := range []int{1500, 500, 1000} {
		props := string(message.AppendProperty(nil, message.PropertyTimerDelayMS, strconv.Itoa(d)))
		if resp := send(t, rc, b.Addr(), "Timed", 0, props, []byte(strconv.Itoa(d))); resp.Code != remoting.Success {
			t.Fatalf("send: %d %s", resp.Code, resp.Remark)
		}
	}
	// Far in the future, to check it survives a restart undelivered.
	far := string(message.AppendProperty(nil, message.PropertyTimerDeliverMS, strconv.FormatInt(time.Now().Add(2500*time.Millisecond).UnixMilli(), 10)))
	send(t, rc, b.Addr(), "Timed", 0, far, []byte("after-restart"))
	if resp := send(t, rc, b.Addr(), "Timed", 0, string(message.AppendProperty(nil, message.PropertyTimerDelaySec, "999999")), []byte("x")); resp.Code != remoting.MessageIllegal {
		t.Fatalf("a delay beyond 3 days was accepted: %d", resp.Code)
	}

	var order []string
	offset := int64(0)
	for len(order) < 3 {
		resp := invoke(t, rc, b.Addr(), pullRequest("CG", "Timed", 0, offset, 5*time.Second))
		if resp.Code == remoting.Success {
			msgs, _ := message.DecodeMessages(resp.Body)
			for _, m := range msgs {
				d, _ := strconv.Atoi(string(m.Body))
				if early := sentAt.Add(time.Duration(d) * time.Millisecond).Sub(time.Now()); early > 0 {
					t.Fatalf("message due in %d ms arrived %v early", d, early)
				}
				if _, ok := m.Property(message.PropertyTimerDelayMS); ok {
					t.Fatal("delivered message still carries its timer property")
				}
				// The due time stays visible (upstream keeps TIMER_OUT_MS).
				due, _ := m.Property(message.PropertyTimerOutMS)
				if ms, err := strconv.ParseInt(due, 10, 64); err != nil || ms-sentAt.UnixMilli() < int64(d) || ms-sentAt.UnixMilli() > int64(d)+2000 {
					t.Fatalf("message due in %d ms carries TIMER_OUT_MS %q (sent at %d)", d, due, sentAt.UnixMilli())
				}
				order = append(order, string(m.Body))
			}
		}
		offset = pullHeader(t, resp).NextBeginOffset
	}
	if order[0] != "500" || order[1] != "1000" || order[2] != "1500" {
		t.Fatalf("delivery order %v, want due order", order)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := b.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	b2, rc2 := testBroker(t, mutate)
	heartbeat(t, rc2, b2.Addr(), "CG", "Timed", "*")
	resp := invoke(t, rc2, b2.Addr(), pullRequest("CG", "Timed", 0, offset, 5*time.Second))
	if resp.Code != remoting.Success {
		t.Fatalf("timed message pending at restart not delivered: %d %s", resp.Code, resp.Remark)
	}
	msgs, _ := message.DecodeMessages(resp.Body)
	if len(msgs) != 1 || string(msgs[0].Body) != "after-restart" {
		t.Fatalf("after restart got %v (earlier deliveries must not repeat)", msgs)
	}
}

// deliverAt skips messages whose properties lack timerPropertyPrefix, so
// every property it reads must start with it.
func TestTimerPropertiesSharePrefix(t *testing.T) {
	for _, p := range timerRequestProps {
		if !strings.HasPrefix(p, timerPropertyPrefix) {
			t.Errorf("%s does not start with %s: deliverAt would never see it", p, timerPropertyPrefix)
		}
	}
	props := "TIMER_DELAY_SEC\x013\x02"
	at, ok, err := deliverAt(props, func() time.Time { return time.Unix(100, 0) })
	if err != nil || !ok || !at.Equal(time.Unix(103, 0)) {
		t.Fatalf("deliverAt = %v %v %v", at, ok, err)
	}
	if _, ok, _ := deliverAt("KEYS\x01k\x02", func() time.Time { t.Fatal("clock read for an untimed message"); return time.Time{} }); ok {
		t.Fatal("untimed message has a delivery time")
	}
}
