package message_test

import (
	"bytes"
	"fmt"
	"maps"
	"net/netip"
	"testing"

	"github.com/apache/rocketmq-client-go/v2/primitive"

	"github.com/rocketgo/rocketgo/message"
)

// officialBatch builds what rocketmq-client-go v2.1.2 sends as a
// SEND_BATCH_MESSAGE body: the concatenation of each message's Marshal().
func officialBatch() ([]*primitive.Message, []byte) {
	var msgs []*primitive.Message
	var body []byte
	for i := range 5 {
		m := primitive.NewMessage("TopicTest", []byte(fmt.Sprintf("hello rocketgo %d", i)))
		m.Flag = int32(i * 3)
		m.WithTag(fmt.Sprintf("Tag%d", i%2))
		m.WithKeys([]string{fmt.Sprintf("k%d", i), "shared"})
		if i%2 == 0 {
			m.WithShardingKey("order-1")
			m.WithProperty("custom", "v")
		}
		if i == 3 {
			m.Body = bytes.Repeat([]byte{0, 1, 2, 0xFF}, 2000) // binary, > 4 KiB: batches are never compressed
		}
		msgs = append(msgs, m)
		body = append(body, m.Marshal()...)
	}
	return msgs, body
}

func TestInteropOfficialBatchDecodes(t *testing.T) {
	msgs, body := officialBatch()
	i := 0
	err := message.DecodeBatch(body, func(flag int32, b, props []byte) error {
		want := msgs[i]
		if flag != want.Flag || !bytes.Equal(b, want.Body) {
			t.Errorf("record %d: flag %d body %d bytes, want %d %d", i, flag, len(b), want.Flag, len(want.Body))
		}
		if got := message.DecodeProperties(string(props)); !maps.Equal(got, want.GetProperties()) {
			t.Errorf("record %d: properties %v want %v", i, got, want.GetProperties())
		}
		if tag, _ := message.LookupProperty(props, message.PropertyTags); string(tag) != want.GetTags() {
			t.Errorf("record %d: tag %q", i, tag)
		}
		i++
		return nil
	})
	if err != nil || i != len(msgs) {
		t.Fatalf("decoded %d of %d: %v", i, len(msgs), err)
	}
}

func TestInteropOfficialDecodesOurBatchRecordsAsMessages(t *testing.T) {
	// The other direction: our producer's properties parse with the official
	// client's UnmarshalProperties into the same map.
	m := message.New("TopicTest", []byte("x")).WithTags("TagA").WithKeys("a", "b").WithDelayLevel(2)
	m.SetProperty(message.PropertyUniqKey, "ABC")
	var om primitive.Message
	om.UnmarshalProperties(m.EncodeProperties(nil))
	want := map[string]string{"TAGS": "TagA", "KEYS": "a b", "DELAY": "2", "UNIQ_KEY": "ABC"}
	if got := om.GetProperties(); !maps.Equal(got, want) {
		t.Errorf("official parse of our properties: %v", got)
	}
}

type pullCase struct {
	stored *message.StoredMessage
	plain  []byte // body the consumer must see
}

func pullCases(t *testing.T) []pullCase {
	t.Helper()
	plain := bytes.Repeat([]byte("compressible payload "), 300)
	z, err := message.Compress(plain, message.DefaultCompressLevel)
	if err != nil {
		t.Fatal(err)
	}
	uniq := message.NewUniqIDGenerator(netip.MustParseAddr("10.1.2.3"), 4242)
	var cases []pullCase
	for i := range 4 {
		props := map[string]string{
			message.PropertyTags:           "TagA",
			message.PropertyKeys:           fmt.Sprintf("key-%d", i),
			message.PropertyWaitStoreMsgOK: "true",
			message.PropertyCluster:        "DefaultCluster",
		}
		if i != 2 { // one message without UNIQ_KEY: MsgID falls back to the offset id
			props[message.PropertyUniqKey] = uniq.Next()
		}
		sm := &message.StoredMessage{
			QueueID:        int32(i % 4),
			Flag:           int32(i),
			QueueOffset:    int64(1000 + i),
			PhysicalOffset: int64(1 << 33 * (i + 1)),
			BornTimestamp:  1_700_000_000_000 + int64(i),
			BornHost:       netip.MustParseAddrPort("192.168.0.10:53012"),
			StoreTimestamp: 1_700_000_000_100 + int64(i),
			StoreHost:      netip.MustParseAddrPort("10.0.0.5:10911"),
			ReconsumeTimes: int32(i),
			Body:           []byte(fmt.Sprintf("body-%d", i)),
			Topic:          "TopicTest",
			Properties:     message.EncodeProperties(props),
		}
		c := pullCase{stored: sm, plain: sm.Body}
		if i == 1 {
			sm.SysFlag = message.SysFlagCompressed
			sm.Body = z
			c.plain = plain
		}
		cases = append(cases, c)
	}
	return cases
}

func TestInteropOfficialDecodesOurPullBody(t *testing.T) {
	cases := pullCases(t)
	var body []byte
	for _, c := range cases {
		var err error
		if body, err = message.AppendStored(body, c.stored); err != nil {
			t.Fatal(err)
		}
	}
	official := primitive.DecodeMessage(body)
	ours, err := message.DecodeMessages(body)
	if err != nil {
		t.Fatal(err)
	}
	if len(official) != len(cases) || len(ours) != len(cases) {
		t.Fatalf("official decoded %d, ours %d, want %d", len(official), len(ours), len(cases))
	}
	for i, c := range cases {
		o, g, s := official[i], ours[i], c.stored
		wantProps := message.DecodeProperties(s.Properties)
		offsetID := message.OffsetMsgID(s.StoreHost, s.PhysicalOffset)
		wantMsgID := wantProps[message.PropertyUniqKey]
		if wantMsgID == "" {
			wantMsgID = offsetID
		}
		if o.Topic != s.Topic || !bytes.Equal(o.Body, c.plain) || o.Flag != s.Flag ||
			o.QueueOffset != s.QueueOffset || o.Queue.QueueId != int(s.QueueID) ||
			o.CommitLogOffset != s.PhysicalOffset || o.BornTimestamp != s.BornTimestamp ||
			o.StoreTimestamp != s.StoreTimestamp || o.ReconsumeTimes != s.ReconsumeTimes ||
			o.StoreHost != s.StoreHost.String() || o.BornHost != s.BornHost.String() ||
			o.SysFlag != s.SysFlag || o.BodyCRC != int32(message.BodyCRC(s.Body)) ||
			int(o.StoreSize) != storedSize(t, s) {
			t.Errorf("official msg %d mismatch: %s", i, o)
		}
		if !maps.Equal(o.GetProperties(), wantProps) {
			t.Errorf("official msg %d properties %v want %v", i, o.GetProperties(), wantProps)
		}
		if o.MsgId != wantMsgID || o.OffsetMsgId != offsetID {
			t.Errorf("official msg %d ids %s/%s want %s/%s", i, o.MsgId, o.OffsetMsgId, wantMsgID, offsetID)
		}
		// Our decoder agrees with the official one field by field.
		if g.Topic != o.Topic || !bytes.Equal(g.Body, o.Body) || g.MsgID != o.MsgId || g.OffsetMsgID() != o.OffsetMsgId ||
			g.QueueOffset != o.QueueOffset || g.StoreHost.String() != o.StoreHost || g.BornHost.String() != o.BornHost ||
			g.StoreSize != o.StoreSize || int32(g.BodyCRC) != o.BodyCRC || !maps.Equal(g.Properties(), o.GetProperties()) ||
			g.Tags() != o.GetTags() || g.Err != nil {
			t.Errorf("ours msg %d differs from official: %+v", i, g)
		}
	}
}

func TestInteropOffsetMsgID(t *testing.T) {
	host := netip.MustParseAddrPort("172.16.5.9:10911")
	const off = int64(0x0123456789)
	a := host.Addr().As4()
	want := primitive.CreateMessageId(a[:], int32(host.Port()), off)
	ours := message.OffsetMsgID(host, off)
	if ours != want {
		t.Errorf("OffsetMsgID %s, official %s", ours, want)
	}
	id, err := primitive.UnmarshalMsgID([]byte(ours))
	if err != nil || id.Addr != "172.16.5.9" || id.Port != 10911 || id.Offset != off {
		t.Errorf("official parse of our id: %+v %v", id, err)
	}
	v6 := netip.MustParseAddrPort("[2001:db8::7]:10911")
	a16 := v6.Addr().As16()
	v6Want := primitive.CreateMessageId(a16[:], 10911, off)
	if got := message.OffsetMsgID(v6, off); got != v6Want {
		t.Errorf("IPv6 OffsetMsgID %s, official %s", got, v6Want)
	}
	// Ids minted by the official client parse with ours.
	h, o, err := message.ParseOffsetMsgID(v6Want)
	if err != nil || h != v6 || o != off {
		t.Errorf("ParseOffsetMsgID(official) = %v %d %v", h, o, err)
	}
}

func storedSize(t *testing.T, s *message.StoredMessage) int {
	t.Helper()
	n, err := message.StoredSize(s)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestInteropOfficialReadsJava5ZlibFlag: our producer now flags zlib bodies
// 0x301 as Java 5.x does; the official Go client, which ignores the type
// bits, must still inflate them.
func TestInteropOfficialReadsJava5ZlibFlag(t *testing.T) {
	plain := bytes.Repeat([]byte("zlib flagged the Java 5.x way "), 300)
	z, err := message.CompressWith(message.CompressZlib, plain, 0)
	if err != nil {
		t.Fatal(err)
	}
	rec, err := message.AppendStored(nil, &message.StoredMessage{
		Topic: "T", Body: z, SysFlag: message.CompressZlib.SysFlag(),
		BornHost: netip.MustParseAddrPort("1.2.3.4:5"), StoreHost: netip.MustParseAddrPort("6.7.8.9:10"),
	})
	if err != nil {
		t.Fatal(err)
	}
	msgs := primitive.DecodeMessage(rec)
	if len(msgs) != 1 {
		t.Fatalf("official client decoded %d messages", len(msgs))
	}
	if !bytes.Equal(msgs[0].Body, plain) {
		t.Fatalf("official client: body %d bytes, want %d inflated", len(msgs[0].Body), len(plain))
	}
}
