package broker

import (
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rocketgo/rocketgo/message"
	"github.com/rocketgo/rocketgo/remoting"
)

// recorder is an Observer that remembers what it was told.
type recorder struct {
	mu      sync.Mutex
	in      map[string]int // "topic/kind" → messages
	inBytes int
	out     map[string]int // "topic/group" → messages
	dlq     map[string]int // "group/topic"
	served  map[int16]int  // request code → answers
	parked  int
	deleted []string
}

func newRecorder() *recorder {
	return &recorder{in: map[string]int{}, out: map[string]int{}, dlq: map[string]int{}, served: map[int16]int{}}
}

func (r *recorder) MessagesIn(topic string, kind MessageKind, msgs, bytes int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.in[topic+"/"+kind.String()] += msgs
	r.inBytes += bytes
}

func (r *recorder) MessagesOut(topic, group string, msgs, _ int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.out[topic+"/"+group] += msgs
}

func (r *recorder) SentToDLQ(group, topic string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.dlq[group+"/"+topic]++
}

func (r *recorder) RequestServed(code, _ int16, _ time.Duration, parked bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.served[code]++
	if parked {
		r.parked++
	}
}

func (r *recorder) TopicDeleted(topic string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.deleted = append(r.deleted, topic)
}

func TestObserverSeesTraffic(t *testing.T) {
	rec := newRecorder()
	b, rc := testBrokerWith(t, nil, WithObserver(rec))
	var firstID string
	for i := range 3 {
		resp := send(t, rc, b.Addr(), "Obs", 0, "", []byte("plain"))
		if i == 0 {
			var sh remoting.SendMessageResponseHeader
			resp.DecodeHeader(&sh)
			firstID = sh.MsgID
		}
	}
	send(t, rc, b.Addr(), "Obs", 0, string(message.AppendProperty(nil, message.PropertyDelayLevel, "1")), []byte("later"))
	send(t, rc, b.Addr(), "Obs", 0, string(message.AppendProperty(nil, message.PropertyShardingKey, "k")), []byte("fifo"))
	var batch []*message.Message
	for range 2 {
		batch = append(batch, message.New("Obs", []byte("b")))
	}
	body, _ := message.AppendBatch(nil, batch)
	h := sendHeader("Obs", 0, "")
	h.Batch = true
	if resp := invoke(t, rc, b.Addr(), remoting.NewRequest(remoting.SendBatchMessage, h.V2(), body)); resp.Code != remoting.Success {
		t.Fatalf("batch: %d %s", resp.Code, resp.Remark)
	}

	heartbeat(t, rc, b.Addr(), "OG", "Obs", "*")
	pr := invoke(t, rc, b.Addr(), pullRequest("OG", "Obs", 0, 0, 0))
	if pr.Code != remoting.Success {
		t.Fatalf("pull: %d %s", pr.Code, pr.Remark)
	}
	// Nothing more to read: the parked pull times out after 50 ms.
	next := pullHeader(t, pr).NextBeginOffset
	invoke(t, rc, b.Addr(), pullRequest("OG", "Obs", 0, next, 50*time.Millisecond))

	_, phy, _ := message.ParseOffsetMsgID(firstID)
	back := &remoting.ConsumerSendMsgBackRequestHeader{Offset: phy, Group: "OG", DelayLevel: -1, OriginTopic: "Obs"}
	if resp := invoke(t, rc, b.Addr(), remoting.NewRequest(remoting.ConsumerSendMsgBack, back, nil)); resp.Code != remoting.Success {
		t.Fatalf("send back: %d %s", resp.Code, resp.Remark)
	}
	invoke(t, rc, b.Addr(), remoting.NewRequest(remoting.DeleteTopicInBroker, &remoting.DeleteTopicRequestHeader{Topic: "Obs"}, nil))

	rec.mu.Lock()
	defer rec.mu.Unlock()
	want := map[string]int{"Obs/normal": 5, "Obs/delay": 1, "Obs/fifo": 1}
	for k, v := range want {
		if rec.in[k] != v {
			t.Errorf("messages in %s = %d, want %d (all: %v)", k, rec.in[k], v, rec.in)
		}
	}
	if len(rec.in) != len(want) || rec.inBytes <= 0 {
		t.Errorf("messages in %v, %d bytes", rec.in, rec.inBytes)
	}
	// The delayed message is still parked in the schedule topic.
	if rec.out["Obs/OG"] != 6 || len(rec.out) != 1 {
		t.Errorf("messages out %v", rec.out)
	}
	if rec.dlq["OG/Obs"] != 1 {
		t.Errorf("dlq %v", rec.dlq)
	}
	if rec.served[remoting.SendMessage] != 5 || rec.served[remoting.PullMessage] != 2 || rec.parked != 1 {
		t.Errorf("served %v, parked %d", rec.served, rec.parked)
	}
	if strings.Join(rec.deleted, ",") != "Obs" {
		t.Errorf("deleted %v", rec.deleted)
	}
}

func TestMessageKindOf(t *testing.T) {
	p := func(kv ...string) string {
		var b []byte
		for i := 0; i < len(kv); i += 2 {
			b = message.AppendProperty(b, kv[i], kv[i+1])
		}
		return string(b)
	}
	for props, want := range map[string]MessageKind{
		"":                                    MessageNormal,
		p("TAGS", "a"):                        MessageNormal,
		p("TRAN_MSG", "true", "DELAY", "3"):   MessageTransaction,
		p("TRAN_MSG", "false"):                MessageNormal,
		p("__SHARDINGKEY", "k", "DELAY", "1"): MessageFIFO,
		p("TIMER_DELIVER_MS", "1"):            MessageDelay,
		p("__STARTDELIVERTIME", "1"):          MessageDelay,
	} {
		if got := messageKindOf(props); got != want {
			t.Errorf("%q: %v, want %v", props, got, want)
		}
	}
	if MessageKind(9).String() != "normal" {
		t.Error("an unknown kind is not labelled normal")
	}
}

// BenchmarkStatsRecording is the broker's own per-send and per-pull
// bookkeeping, from many goroutines: it must stay lock- and allocation-free.
func BenchmarkStatsRecording(b *testing.B) {
	s := newBrokerStats(time.Now())
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			s.put("BenchTopic", 1, 200, time.Millisecond)
			s.pulled("BenchGroup", "BenchTopic", 32, 6400)
		}
	})
}
