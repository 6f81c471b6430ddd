package loadtest

import (
	"context"
	"encoding/binary"
	"errors"
	"strconv"
	"testing"
	"time"
)

// TestMessageShape: -keys, -property-size, -delay-level and -tag-count put
// on every message what RocketMQ's benchmark producer's -k, -p, -d/-e and
// -l do.
func TestMessageShape(t *testing.T) {
	cfg, err := Config{Keys: true, PropertySize: 100, DelayLevel: 3, TagCount: 3}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	r := &run{cfg: cfg, shape: newMessageShape(cfg)}
	before := time.Now().Unix()
	msgs, _ := r.newMessages(6)
	for i, m := range msgs {
		if want := "tag" + strconv.Itoa(i%3); m.Tags != want {
			t.Errorf("message %d tag %q, want %q", i, m.Tags, want)
		}
		keys := m.Keys
		if len(keys) != 1 {
			t.Fatalf("keys %v", keys)
		}
		if sec, err := strconv.ParseInt(keys[0], 10, 64); err != nil || sec < before || sec > time.Now().Unix() {
			t.Errorf("key %q is not the send time in seconds", keys[0])
		}
		if m.DelayLevel != 3 {
			t.Errorf("delay level %d", m.DelayLevel)
		}
		n := 0
		m.RangeProperties(func(k, v string) bool {
			if len(k) > 4 && k[:4] == "prop" {
				n += len(k) + len(v)
			}
			return true
		})
		if n <= 100 || n > 130 {
			t.Errorf("user properties of %d characters for -property-size 100", n)
		}
		if err := m.Validate(4 << 20); err != nil {
			t.Errorf("message %d invalid: %v", i, err)
		}
	}
	plain := &run{cfg: Config{MessageSize: 128, Topic: "T"}}
	pm, _ := plain.newMessages(1)
	m := pm[0]
	if m.Tags != "" || len(m.Keys) != 0 || m.DelayLevel != 0 {
		t.Errorf("default message carries tag %q keys %v delay %d", m.Tags, m.Keys, m.DelayLevel)
	}
	if n := len(userProperties(0)); n != 0 {
		t.Errorf("%d properties for size 0", n)
	}
}

func TestMessageShapeValidation(t *testing.T) {
	for name, c := range map[string]Config{
		"delay 19":            {DelayLevel: 19},
		"delay -1":            {DelayLevel: -1},
		"delay with batches":  {DelayLevel: 1, BatchSize: 4},
		"tag count with tags": {TagCount: 2, Tags: "a"},
		"negative props":      {PropertySize: -1},
		"negative tag count":  {TagCount: -1},
	} {
		if _, err := c.withDefaults(); !errors.Is(err, ErrConfig) {
			t.Errorf("%s: err %v, want ErrConfig", name, err)
		}
	}
}

// TestRunMessageShapeEndToEnd: an embedded broker takes keyed, tagged,
// delayed messages with user properties, the consumers get all of them
// (subscribed to every tag), and end-to-end latency shows the 1 s delay of
// level 1.
func TestRunMessageShapeEndToEnd(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	res, err := Run(ctx, Config{Messages: 60, Senders: 4, Keys: true, PropertySize: 64, DelayLevel: 1, TagCount: 3,
		ReportInterval: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if res.Failed || !res.Drained || res.Received != 60 {
		t.Fatalf("failed=%v (%s) drained %v received %d", res.Failed, res.FailReason, res.Drained, res.Received)
	}
	if res.EndToEnd.P50 < 900 {
		t.Errorf("end-to-end p50 %.1f ms with delay level 1 (1 s)", res.EndToEnd.P50)
	}
	if !res.Keys || res.PropertySize != 64 || res.DelayLevel != 1 || res.TagCount != 3 {
		t.Errorf("result does not record the message shape: %+v", res)
	}
}

// Sync senders reuse their bodies: the second batch is written into the
// first one's memory, with fresh stamps.
func TestNewMessagesInReusesBodies(t *testing.T) {
	r := &run{cfg: Config{MessageSize: 64, Topic: "T"}}
	var bodies [][]byte
	a, _ := r.newMessagesIn(2, &bodies)
	seqA := binary.BigEndian.Uint64(a[1].Body[16:])
	b, _ := r.newMessagesIn(3, &bodies)
	if len(bodies) != 3 || &b[0].Body[0] != &bodies[0][0] || &b[1].Body[0] != &a[1].Body[0] {
		t.Fatalf("bodies not reused: %d kept", len(bodies))
	}
	if seq := binary.BigEndian.Uint64(b[1].Body[16:]); seq != seqA+2 {
		t.Errorf("reused body stamped with sequence %d, want %d", seq, seqA+2)
	}
	if c, _ := r.newMessages(1); &c[0].Body[0] == &bodies[0][0] {
		t.Error("newMessages reused a body")
	}
}
