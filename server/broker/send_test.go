package broker

import (
	"fmt"
	"github.com/rocketgo/rocketgo/internal/cputime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rocketgo/rocketgo/message"
	"github.com/rocketgo/rocketgo/remoting"
)

// traceLikeProperties is the property string of a trace message as clients
// send it: a KEYS list of n message ids (32 hex digits each, space
// separated), its own UNIQ_KEY and WAIT.
func traceLikeProperties(n int) string {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("7F00000100002A9F0000%012X", i*7919)
	}
	props := message.AppendProperty(nil, message.PropertyKeys, strings.Join(ids, " "))
	props = message.AppendProperty(props, message.PropertyUniqKey, "7F00000100002A9F00000000000000FF")
	props = message.AppendProperty(props, message.PropertyWaitStoreMsgOK, "true")
	return string(props)
}

// TestPrepareOneStoredProperties checks what a single send stores: the
// client's properties unchanged followed by what the broker adds, and the
// rewrites of delayed and half messages, for a trace-sized property string.
func TestPrepareOneStoredProperties(t *testing.T) {
	b, _ := testBroker(t, nil)
	trace := traceLikeProperties(400)
	cluster := string(message.AppendProperty(nil, message.PropertyCluster, b.cfg.BrokerClusterName))

	prepare := func(props string, sysFlag int32) (message.StoredMessage, int16) {
		t.Helper()
		m := message.StoredMessage{Topic: "T", QueueID: 1, SysFlag: sysFlag}
		code, remark := b.prepareOne(sendHeader("T", 1, props), &m)
		if code != remoting.Success && remark == "" {
			t.Errorf("code %d without a remark", code)
		}
		return m, code
	}

	if m, code := prepare(trace, 0); code != remoting.Success || m.Properties != trace+cluster || m.Topic != "T" || m.QueueID != 1 {
		t.Fatalf("trace message: code %d topic %s/%d, properties kept %v", code, m.Topic, m.QueueID, m.Properties == trace+cluster)
	}

	// No UNIQ_KEY and no final separator: the broker ends the client's
	// last pair and adds one.
	m, code := prepare("KEYS\x01a b", 0)
	uniq, ok := message.LookupPropertyString(m.Properties, message.PropertyUniqKey)
	if code != remoting.Success || !ok || len(uniq) != 32 || m.Properties != "KEYS\x01a b\x02UNIQ_KEY\x01"+uniq+"\x02"+cluster {
		t.Fatalf("added UNIQ_KEY: code %d, %q", code, m.Properties)
	}

	m, code = prepare(trace+"DELAY\x013\x02", 0)
	if code != remoting.Success || m.Topic != TopicSchedule || m.QueueID != 2 {
		t.Fatalf("delayed: code %d, %s/%d", code, m.Topic, m.QueueID)
	}
	for key, want := range map[string]string{message.PropertyRealTopic: "T", message.PropertyRealQueueID: "1", message.PropertyDelayLevel: "3"} {
		if v, _ := message.LookupPropertyString(m.Properties, key); v != want {
			t.Errorf("delayed: %s = %q, want %q", key, v, want)
		}
	}
	if keys, _ := message.LookupPropertyString(m.Properties, message.PropertyKeys); !strings.HasPrefix(trace, "KEYS\x01"+keys+"\x02") {
		t.Error("delayed: KEYS changed")
	}

	if _, code := prepare("DELAY\x01soon\x02", 0); code != remoting.MessageIllegal {
		t.Fatalf("bad delay level: code %d", code)
	}
	if _, code := prepare("TIMER_DELAY_SEC\x01-1\x02", 0); code != remoting.MessageIllegal {
		t.Fatalf("bad timer: code %d", code)
	}
	m, code = prepare("TIMER_DELAY_SEC\x01600\x02", 0)
	if _, ok := message.LookupPropertyString(m.Properties, message.PropertyTimerOutMS); code != remoting.Success || m.Topic != TopicTimer || !ok {
		t.Fatalf("timed: code %d, %s, %q", code, m.Topic, m.Properties)
	}
	m, code = prepare(trace, message.SysFlagTxPrepared)
	if rt, _ := message.LookupPropertyString(m.Properties, message.PropertyRealTopic); code != remoting.Success || m.Topic != TopicTransHalf || rt != "T" {
		t.Fatalf("half: code %d, %s, REAL_TOPIC %q", code, m.Topic, rt)
	}
}

// TestTraceMessageKeysQueryable sends a trace-sized message to the trace
// topic and finds it by its first, a middle and its last key.
func TestTraceMessageKeysQueryable(t *testing.T) {
	b, rc := testBroker(t, nil)
	topic := b.cfg.MsgTraceTopicName
	props := traceLikeProperties(400)
	if resp := send(t, rc, b.Addr(), topic, 0, props, []byte("traces")); resp.Code != remoting.Success {
		t.Fatalf("send: %d %s", resp.Code, resp.Remark)
	}
	keys, _ := message.LookupPropertyString(props, message.PropertyKeys)
	ids := strings.Fields(keys)
	for _, key := range []string{ids[0], ids[len(ids)/2], ids[len(ids)-1]} {
		r := invoke(t, rc, b.Addr(), remoting.NewRequest(remoting.QueryMessage, &remoting.QueryMessageRequestHeader{
			Topic: topic, Key: key, MaxNum: 32, EndTimestamp: time.Now().Add(time.Minute).UnixMilli(),
		}, nil))
		msgs, err := message.DecodeMessages(r.Body)
		if r.Code != remoting.Success || err != nil || len(msgs) != 1 || string(msgs[0].Body) != "traces" {
			t.Fatalf("query %s: code %d, %v, %d messages", key, r.Code, err, len(msgs))
		}
		if got := strings.Join(msgs[0].Keys(), " "); got != keys {
			t.Fatalf("query %s: stored KEYS differ", key)
		}
	}
}

// BenchmarkPrepareTraceSend is what the broker does to a single send's
// properties before the store encodes the message (prepareOne), for an
// ordinary message and a trace message: its KEYS list of 512 ids makes its
// properties ~17 KB, so every copy or zeroing of them shows.
func BenchmarkPrepareTraceSend(b *testing.B) {
	br, _ := testBroker(b, nil)
	for _, n := range []int{0, 512} {
		props := traceLikeProperties(n)
		h := sendHeader("T", 1, props)
		b.Run("keys="+strconv.Itoa(n), func(b *testing.B) {
			b.SetBytes(int64(len(props)))
			b.ReportAllocs()
			for b.Loop() {
				m := message.StoredMessage{Topic: "T", QueueID: 1}
				if code, remark := br.prepareOne(h, &m); code != remoting.Success {
					b.Fatal(code, remark)
				}
			}
		})
	}
}

// BenchmarkSendTraceMessage sends trace-like messages (512 keys, a 24 KB
// body) one at a time over loopback to the trace topic, with the index at
// its default geometry: the client's share is the same for any broker, so
// differences between brokers are the broker's.
func BenchmarkSendTraceMessage(b *testing.B) {
	br, rc := testBroker(b, func(c *Config) {
		c.MappedFileSizeCommitLog = 256 << 20
		c.MaxHashSlotNum, c.MaxIndexNum = 5_000_000, 20_000_000
	})
	topic := br.cfg.MsgTraceTopicName
	props := traceLikeProperties(512)
	body := make([]byte, 24<<10)
	for i := range body {
		body[i] = byte(i * 7919 >> 3)
	}
	if resp := send(b, rc, br.Addr(), topic, 0, props, body); resp.Code != remoting.Success {
		b.Fatalf("send: %d %s", resp.Code, resp.Remark)
	}
	b.SetBytes(int64(len(props) + len(body)))
	b.ReportAllocs()
	cpu := cputime.Process()
	for b.Loop() {
		if resp := send(b, rc, br.Addr(), topic, 0, props, body); resp.Code != remoting.Success {
			b.Fatalf("send: %d %s", resp.Code, resp.Remark)
		}
	}
	// The process's CPU (client and broker): wall time is mostly the
	// round trip's waits.
	b.ReportMetric(float64(cputime.Process()-cpu)/float64(b.N), "cpu-ns/op")
}

// TestHalfSendAnswersTransactionID: the answer to a half message carries
// its UNIQ_KEY as transactionId, as Java's broker sends it and as
// producers report it in their send result.
func TestHalfSendAnswersTransactionID(t *testing.T) {
	b, rc := testBroker(t, nil)
	const id = "HALF00000000000000000000000000A1"
	props := message.AppendProperty(nil, message.PropertyTransactionPrepared, "true")
	props = message.AppendProperty(props, message.PropertyProducerGroup, "PG")
	props = message.AppendProperty(props, message.PropertyUniqKey, id)
	h := sendHeader("TxAnswer", 0, string(props))
	h.SysFlag = message.SysFlagTxPrepared
	resp := invoke(t, rc, b.Addr(), remoting.NewRequest(remoting.SendMessage, h, []byte("half")))
	if resp.Code != remoting.Success {
		t.Fatalf("half send: %d %s", resp.Code, resp.Remark)
	}
	var rh remoting.SendMessageResponseHeader
	if err := resp.DecodeHeader(&rh); err != nil {
		t.Fatal(err)
	}
	if rh.TransactionID != id {
		t.Fatalf("transactionId %q, want %q", rh.TransactionID, id)
	}

	// An ordinary message's answer has none.
	resp = send(t, rc, b.Addr(), "TxAnswer", 0, string(message.AppendProperty(nil, message.PropertyUniqKey, id+"2")), []byte("plain"))
	rh = remoting.SendMessageResponseHeader{}
	if err := resp.DecodeHeader(&rh); err != nil {
		t.Fatal(err)
	}
	if rh.TransactionID != "" {
		t.Fatalf("plain send answered transactionId %q", rh.TransactionID)
	}
}
