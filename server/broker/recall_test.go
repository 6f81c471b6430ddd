package broker

import (
	"slices"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/rocketgo/rocketgo/message"
	"github.com/rocketgo/rocketgo/remoting"
	"github.com/rocketgo/rocketgo/remoting/netclient"
)

// sendTimed sends body to topic due in delay with the unique key uniq and
// returns the recall handle of the answer.
func sendTimed(t *testing.T, rc *netclient.Client, addr, topic string, delay time.Duration, uniq, body string) string {
	t.Helper()
	props := message.AppendProperty(nil, message.PropertyTimerDelayMS, strconv.FormatInt(delay.Milliseconds(), 10))
	props = message.AppendProperty(props, message.PropertyUniqKey, uniq)
	resp := send(t, rc, addr, topic, 0, string(props), []byte(body))
	if resp.Code != remoting.Success {
		t.Fatalf("timed send: %d %s", resp.Code, resp.Remark)
	}
	var h remoting.SendMessageResponseHeader
	if err := resp.DecodeHeader(&h); err != nil {
		t.Fatal(err)
	}
	if h.RecallHandle == "" {
		t.Fatal("a timed send was answered without a recall handle")
	}
	return h.RecallHandle
}

func recall(t *testing.T, rc *netclient.Client, addr, topic, handle string) *remoting.Command {
	t.Helper()
	return invoke(t, rc, addr, remoting.NewRequest(remoting.RecallMessage,
		&remoting.RecallMessageRequestHeader{ProducerGroup: "PG", Topic: topic, RecallHandle: handle}, nil))
}

// pullUntil pulls queue 0 of topic from offset 0 until want bodies arrived
// (or the deadline passed) and returns every body seen.
func pullUntil(t *testing.T, rc *netclient.Client, addr, topic string, want int, within time.Duration) []string {
	t.Helper()
	var got []string
	offset := int64(0)
	for deadline := time.Now().Add(within); len(got) < want && time.Now().Before(deadline); {
		resp := invoke(t, rc, addr, pullRequest("CG", topic, 0, offset, time.Second))
		if resp.Code == remoting.Success {
			msgs, _ := message.DecodeMessages(resp.Body)
			for _, m := range msgs {
				got = append(got, string(m.Body))
			}
		}
		offset = pullHeader(t, resp).NextBeginOffset
	}
	return got
}

func TestRecallHandleOnlyForTimedSends(t *testing.T) {
	b, rc := testBroker(t, nil)
	handle := sendTimed(t, rc, b.Addr(), "RecallT", time.Hour, "UNIQ-A", "a")
	h, err := message.ParseRecallHandle(handle)
	if err != nil {
		t.Fatal(err)
	}
	if h.Topic != "RecallT" || h.BrokerName != b.cfg.BrokerName || h.MsgID != "UNIQ-A" {
		t.Fatalf("handle %+v", h)
	}
	if due := time.Until(h.DeliverTime()); due < 59*time.Minute || due > time.Hour {
		t.Fatalf("handle due in %v, want an hour", due)
	}
	for _, props := range []string{"", string(message.AppendProperty(nil, message.PropertyDelayLevel, "1"))} {
		resp := send(t, rc, b.Addr(), "RecallT", 0, props, []byte("plain"))
		var rh remoting.SendMessageResponseHeader
		if err := resp.DecodeHeader(&rh); err != nil || rh.RecallHandle != "" {
			t.Fatalf("send with %q: handle %q (%v); only timer messages get one, as upstream", props, rh.RecallHandle, err)
		}
	}
}

func TestRecallRefusals(t *testing.T) {
	b, rc := testBroker(t, nil)
	handle := sendTimed(t, rc, b.Addr(), "RecallR", time.Hour, "UNIQ-R", "r")
	h, _ := message.ParseRecallHandle(handle)
	other := h
	other.BrokerName = "elsewhere"
	past := h
	past.Timestamp = time.Now().Add(-time.Second).UnixMilli()
	far := h
	far.Timestamp = time.Now().Add(maxTimerDelay + time.Hour).UnixMilli()
	send(t, rc, b.Addr(), "RecallOther", 0, "", []byte("x"))
	for _, c := range []struct {
		name, topic, handle string
		code                int16
		remark              string
	}{
		{"garbage", "RecallR", "not base64!", remoting.IllegalOperation, "recall handle is invalid"},
		{"v2", "RecallR", message.RecallHandle{}.String(), remoting.IllegalOperation, "recall handle is invalid"},
		{"unknown topic", "NoSuchTopic", handle, remoting.TopicNotExist, "recall failed, the topic[NoSuchTopic] not exist"},
		{"topic mismatch", "RecallOther", handle, remoting.IllegalOperation, "recall failed, topic not match"},
		{"other broker", "RecallR", other.String(), remoting.IllegalOperation, "recall failed, broker service not available"},
		{"time passed", "RecallR", past.String(), remoting.IllegalOperation, "recall failed, timestamp invalid"},
		{"beyond timerMaxDelaySec", "RecallR", far.String(), remoting.IllegalOperation, "recall failed, timestamp invalid"},
	} {
		if resp := recall(t, rc, b.Addr(), c.topic, c.handle); resp.Code != c.code || resp.Remark != c.remark {
			t.Errorf("%s: %d %q, want %d %q", c.name, resp.Code, resp.Remark, c.code, c.remark)
		}
	}

	off, _ := testBroker(t, func(c *Config) { c.RecallMessageEnable = false })
	if resp := recall(t, rc, off.Addr(), "RecallR", handle); resp.Code != remoting.NoPermission {
		t.Errorf("recallMessageEnable=false: %d %s, want NO_PERMISSION", resp.Code, resp.Remark)
	}
}

func TestRecalledTimedMessageIsNeverDelivered(t *testing.T) {
	b, rc := testBroker(t, nil)
	heartbeat(t, rc, b.Addr(), "CG", "Recall", "*")
	gone := sendTimed(t, rc, b.Addr(), "Recall", 800*time.Millisecond, "UNIQ-GONE", "recalled")
	kept := sendTimed(t, rc, b.Addr(), "Recall", 1200*time.Millisecond, "UNIQ-KEPT", "kept")
	resp := recall(t, rc, b.Addr(), "Recall", gone)
	if resp.Code != remoting.Success {
		t.Fatalf("recall: %d %s", resp.Code, resp.Remark)
	}
	var rh remoting.RecallMessageResponseHeader
	if err := resp.DecodeHeader(&rh); err != nil || rh.MsgID != "UNIQ-GONE" {
		t.Fatalf("recall answered msgId %q (%v)", rh.MsgID, err)
	}
	// A second recall of the same handle is answered alike and changes nothing.
	if resp := recall(t, rc, b.Addr(), "Recall", gone); resp.Code != remoting.Success {
		t.Fatalf("second recall: %d %s", resp.Code, resp.Remark)
	}
	// The kept message is due after the recalled one: once it arrived, the
	// recalled one would have too.
	if got := pullUntil(t, rc, b.Addr(), "Recall", 1, 10*time.Second); !slices.Equal(got, []string{"kept"}) {
		t.Fatalf("delivered %v, want only the message not recalled", got)
	}
	for name, h := range map[string]string{"recalled": gone, "delivered": kept} {
		if resp := recall(t, rc, b.Addr(), "Recall", h); resp.Code != remoting.IllegalOperation || resp.Remark != "recall failed, timestamp invalid" {
			t.Errorf("recall of the %s message after its time: %d %q, want ILLEGAL_OPERATION", name, resp.Code, resp.Remark)
		}
	}
	b.timers.mu.Lock()
	defer b.timers.mu.Unlock()
	if len(b.timers.markers) != 0 || len(b.timers.recalled) != 0 {
		t.Fatalf("markers left after their time: %v %v", b.timers.markers, b.timers.recalled)
	}
}

func TestRecallOnSlaveIsRefused(t *testing.T) {
	b, rc := testBroker(t, func(c *Config) { c.BrokerRole, c.BrokerID = RoleSlave, 1 })
	h := message.RecallHandle{Topic: "T", BrokerName: b.cfg.BrokerName, Timestamp: time.Now().Add(time.Hour).UnixMilli(), MsgID: "U"}
	if resp := recall(t, rc, b.Addr(), "T", h.String()); resp.Code != remoting.SlaveNotAvailable {
		t.Fatalf("recall on a slave: %d %s, want SLAVE_NOT_AVAILABLE", resp.Code, resp.Remark)
	}
}

func TestRecallSurvivesSIGKILL(t *testing.T) { testRecallSurvivesRestart(t, syscall.SIGKILL) }

func TestRecallSurvivesCleanRestart(t *testing.T) { testRecallSurvivesRestart(t, syscall.SIGTERM) }

// testRecallSurvivesRestart recalls one of two timed messages, stops the
// broker before either is due, and checks the restarted broker delivers
// only the other one.
func testRecallSurvivesRestart(t *testing.T, stop syscall.Signal) {
	if testing.Short() {
		t.Skip("crash test")
	}
	dir := t.TempDir()
	child := startChild(t, dir)
	rc := netclient.New()
	defer rc.Close()
	gone := sendTimed(t, rc, child.addr, "RecallKill", 1500*time.Millisecond, "UNIQ-GONE", "recalled")
	sendTimed(t, rc, child.addr, "RecallKill", 2000*time.Millisecond, "UNIQ-KEPT", "kept")
	if resp := recall(t, rc, child.addr, "RecallKill", gone); resp.Code != remoting.Success {
		t.Fatalf("recall: %d %s", resp.Code, resp.Remark)
	}
	child.stop(t, stop)

	child = startChild(t, dir)
	defer child.kill(t)
	deadline := time.Now().Add(10 * time.Second)
	for {
		bodies := drain(t, rc, child.addr, "CG", "RecallKill", 0)
		if slices.Contains(bodies, "recalled") || len(bodies) > 1 {
			t.Fatalf("after %s the recalled message was delivered: %v", stop, bodies)
		}
		if len(bodies) == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the message not recalled was not delivered after the restart")
		}
		time.Sleep(100 * time.Millisecond)
	}
}
