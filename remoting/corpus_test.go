package remoting

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// officialDir holds frames captured from rocketmq-client-go v2.1.2 by
// TestCaptureOfficialFrames in the interop module (interop/remoting).
const officialDir = "testdata/official"

// officialFrames loads the frames captured from rocketmq-client-go v2.1.2
// (see officialDir). Each file holds one wire frame including
// its 4-byte length prefix.
func officialFrames(tb testing.TB) map[string][]byte {
	tb.Helper()
	names, err := filepath.Glob(filepath.Join(officialDir, "*.bin"))
	if err != nil {
		tb.Fatal(err)
	}
	if len(names) == 0 {
		tb.Fatalf("no captured frames in %s", officialDir)
	}
	out := make(map[string][]byte, len(names))
	for _, n := range names {
		b, err := os.ReadFile(n)
		if err != nil {
			tb.Fatal(err)
		}
		out[filepath.Base(n)] = b
	}
	return out
}

// TestOfficialCorpus decodes every captured official frame with our codec and
// checks what we rely on about the Go client's requests.
func TestOfficialCorpus(t *testing.T) {
	seen := map[int16]int{}
	for name, raw := range officialFrames(t) {
		frame, n, err := SplitFrame(raw, 0)
		if err != nil || n != len(raw) {
			t.Fatalf("%s: split n=%d of %d, err %v", name, n, len(raw), err)
		}
		c, err := DecodeFrame(frame)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		seen[c.Code]++
		if c.Language != LangGo || c.Version != VersionV4_5_2 || c.SerializeType != SerializeJSON || c.IsResponse() || c.IsOneway() {
			t.Errorf("%s: envelope %v", name, c)
		}
		// Re-encoding what we decoded must decode to the same command.
		again, err := AppendFrame(nil, c)
		if err != nil {
			t.Fatalf("%s: re-encode: %v", name, err)
		}
		back, err := DecodeFrame(again[4:])
		if err != nil {
			t.Fatalf("%s: decode re-encoded: %v", name, err)
		}
		assertSameCommand(t, c, back)

		switch c.Code {
		case GetRouteInfoByTopic:
			var h GetRouteInfoRequestHeader
			if err := c.DecodeHeader(&h); err != nil || h.Topic == "" {
				t.Errorf("%s: route header %+v %v", name, h, err)
			}
		case SendMessage:
			for _, k := range []string{"producerGroup", "topic", "defaultTopic", "defaultTopicQueueNums", "queueId", "sysFlag", "bornTimestamp", "flag", "properties"} {
				if _, ok := c.Ext.Get(k); !ok {
					t.Errorf("%s: V1 key %q missing from %v", name, k, &c.Ext)
				}
			}
			var h SendMessageRequestHeader
			if err := c.DecodeHeader(&h); err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			if h.Topic != "CaptureTopic" || h.ProducerGroup != "capture_producer" || h.DefaultTopic != "TBW102" ||
				h.DefaultTopicQueueNums != 4 || h.BornTimestamp == 0 || h.Batch {
				t.Errorf("%s: header %+v", name, h)
			}
			wantProps := "TAGS\x01TagA\x02KEYS\x01order-1 order-2\x02custom\x01v\"al\\ue\x02"
			if !strings.Contains(h.Properties, wantProps) || !strings.Contains(h.Properties, "UNIQ_KEY\x01") {
				t.Errorf("%s: properties %q", name, h.Properties)
			}
			if string(c.Body) != "hello rocketgo" {
				t.Errorf("%s: body %q", name, c.Body)
			}
		case SendBatchMessage:
			for _, k := range []string{"a", "b", "c", "d", "e", "f", "g", "h", "m"} {
				if _, ok := c.Ext.Get(k); !ok {
					t.Errorf("%s: V2 key %q missing from %v", name, k, &c.Ext)
				}
			}
			if _, ok := c.Ext.Get("topic"); ok {
				t.Errorf("%s: batch carries a V1 key: %v", name, &c.Ext)
			}
			var h SendMessageRequestHeader
			if err := c.DecodeHeader(&h); err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			if !h.Batch || h.Topic != "CaptureTopic" || h.ProducerGroup != "capture_producer" {
				t.Errorf("%s: header %+v", name, h)
			}
		case PullMessage:
			var h PullMessageRequestHeader
			if err := c.DecodeHeader(&h); err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			if h.ConsumerGroup != "capture_consumer" || h.SuspendTimeoutMillis != 20000 || h.MaxMsgNums != 32 ||
				h.SysFlag&PullFlagSuspend == 0 || h.SubVersion != 0 || h.ExpressionType != "TAG" {
				t.Errorf("%s: header %+v", name, h)
			}
		case QueryConsumerOffset:
			var h QueryConsumerOffsetRequestHeader
			if err := c.DecodeHeader(&h); err != nil || h.ConsumerGroup != "capture_consumer" || !h.SetZeroIfNotFound {
				t.Errorf("%s: header %+v %v", name, h, err)
			}
		case GetConsumerListByGroup:
			var h GetConsumerListByGroupRequestHeader
			if err := c.DecodeHeader(&h); err != nil || h.ConsumerGroup != "capture_consumer" {
				t.Errorf("%s: header %+v %v", name, h, err)
			}
		case HeartBeat:
			if c.Ext.Len() != 0 || !strings.Contains(string(c.Body), `"clientID"`) {
				t.Errorf("%s: heartbeat ext %v body %q", name, &c.Ext, c.Body)
			}
		}
	}
	for _, code := range []int16{GetRouteInfoByTopic, SendMessage, SendBatchMessage, HeartBeat, PullMessage} {
		if seen[code] == 0 {
			t.Errorf("corpus has no %s frame", CodeName(code, false))
		}
	}
}
