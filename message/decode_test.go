package message

import (
	"bytes"
	"encoding/binary"
	"errors"
	"maps"
	"math/rand/v2"
	"net/netip"
	"strings"
	"testing"
)

func appendStoredT(t testing.TB, dst []byte, m *StoredMessage) []byte {
	t.Helper()
	b, err := AppendStored(dst, m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestDecodeMessagesRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	for round := range 60 {
		var want []*StoredMessage
		var body []byte
		for range 1 + r.IntN(20) {
			m := randStored(r)
			want = append(want, m)
			body = appendStoredT(t, body, m)
		}
		got, err := DecodeMessages(body, WithVerifyCRC(true))
		if err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		if len(got) != len(want) {
			t.Fatalf("round %d: %d messages, want %d", round, len(got), len(want))
		}
		for i, g := range got {
			w := want[i]
			size, _ := StoredSize(w)
			if g.Topic != w.Topic || !bytes.Equal(g.Body, w.Body) || g.RawProperties() != w.Properties ||
				g.QueueID != w.QueueID || g.Flag != w.Flag || g.QueueOffset != w.QueueOffset ||
				g.CommitLogOffset != w.PhysicalOffset || g.BornTimestamp != w.BornTimestamp ||
				g.StoreTimestamp != w.StoreTimestamp || g.ReconsumeTimes != w.ReconsumeTimes ||
				g.PreparedTransactionOffset != w.PreparedTransactionOffset || g.BornHost != w.BornHost ||
				g.StoreHost != w.StoreHost || g.StoreSize != int32(size) || g.BodyCRC != BodyCRC(w.Body) ||
				g.SysFlag&^sysFlagHostV6Mask != w.SysFlag || g.Err != nil {
				t.Fatalf("round %d msg %d mismatch:\n got %+v\nwant %+v", round, i, g, w)
			}
			wantProps := DecodeProperties(w.Properties)
			if !maps.Equal(g.Properties(), wantProps) {
				t.Fatalf("round %d msg %d: properties %v want %v", round, i, g.Properties(), wantProps)
			}
			wantID := wantProps[PropertyUniqKey]
			if wantID == "" {
				wantID = OffsetMsgID(w.StoreHost, w.PhysicalOffset)
			}
			if g.MsgID != wantID || g.OffsetMsgID() != OffsetMsgID(w.StoreHost, w.PhysicalOffset) {
				t.Fatalf("round %d msg %d: MsgID %s / %s", round, i, g.MsgID, g.OffsetMsgID())
			}
		}
	}
}

func TestDecodeMessagesEmpty(t *testing.T) {
	got, err := DecodeMessages(nil)
	if err != nil || len(got) != 0 {
		t.Errorf("DecodeMessages(nil) = %v, %v", got, err)
	}
}

func TestDecodeMessagesAliasing(t *testing.T) {
	body := appendStoredT(t, nil, &StoredMessage{Topic: "T", Body: []byte("abc")})
	got, err := DecodeMessages(body)
	if err != nil {
		t.Fatal(err)
	}
	if cap(got[0].Body) != 3 {
		t.Errorf("body capacity %d, want capped at 3", cap(got[0].Body))
	}
	body[len(body)-1-2-1-3+0] = 'X' // first body byte sits before topic len+topic+proplen
	if string(got[0].Body) != "Xbc" {
		t.Errorf("body should alias input, got %q", got[0].Body)
	}
	body = appendStoredT(t, nil, &StoredMessage{Topic: "T", Body: []byte("abc")})
	got, _ = DecodeMessages(body, WithCopyInput(true))
	clear(body)
	if string(got[0].Body) != "abc" || got[0].Topic != "T" {
		t.Errorf("WithCopyInput: body %q topic %q", got[0].Body, got[0].Topic)
	}
}

func TestDecodeMessagesCompressed(t *testing.T) {
	plain := bytes.Repeat([]byte("rocketgo compressed body "), 400)
	z, err := Compress(plain, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(z) >= len(plain) {
		t.Fatalf("compression did not shrink: %d", len(z))
	}
	mk := func(sysFlag int32, b []byte) *StoredMessage {
		return &StoredMessage{Topic: "T", Body: b, SysFlag: sysFlag, Properties: "UNIQ_KEY\x01ID1\x02"}
	}
	var body []byte
	body = appendStoredT(t, body, mk(SysFlagCompressed, z))                       // legacy zlib
	body = appendStoredT(t, body, mk(SysFlagCompressed|SysFlagCompressZlib, z))   // Java 5 zlib
	body = appendStoredT(t, body, mk(SysFlagCompressed|SysFlagCompressLZ4, z))    // zlib bytes flagged LZ4: damaged
	body = appendStoredT(t, body, mk(SysFlagCompressed|0x400, z))                 // reserved type: unsupported
	body = appendStoredT(t, body, mk(SysFlagCompressed, []byte("not zlib")))      // damaged
	body = appendStoredT(t, body, mk(SysFlagCompressZlib, []byte("plain bytes"))) // type bits without 0x1
	got, err := DecodeMessages(body)
	if err != nil || len(got) != 6 {
		t.Fatalf("DecodeMessages: %d msgs, %v", len(got), err)
	}
	for i := range 2 {
		if got[i].Err != nil || !bytes.Equal(got[i].Body, plain) || !bytes.Equal(got[i].StoredBody(), z) {
			t.Errorf("msg %d: err %v, body %d bytes", i, got[i].Err, len(got[i].Body))
		}
	}
	if !errors.Is(got[2].Err, ErrDecompress) || got[2].Body != nil || !bytes.Equal(got[2].StoredBody(), z) {
		t.Errorf("zlib bytes flagged LZ4: err %v body %v", got[2].Err, got[2].Body != nil)
	}
	if !errors.Is(got[3].Err, ErrUnsupportedCompress) || got[3].Body != nil || !bytes.Equal(got[3].StoredBody(), z) {
		t.Errorf("reserved type: err %v body %v", got[3].Err, got[3].Body != nil)
	}
	if !errors.Is(got[4].Err, ErrDecompress) || got[4].Body != nil {
		t.Errorf("damaged stream: err %v", got[4].Err)
	}
	if got[5].Err != nil || string(got[5].Body) != "plain bytes" {
		t.Errorf("uncompressed with type bits: %v %q", got[5].Err, got[5].Body)
	}
	if got[0].MsgID != "ID1" || got[4].MsgID != "ID1" {
		t.Errorf("MsgID lost on compressed messages")
	}
}

func TestDecodeMessagesInflateLimit(t *testing.T) {
	bomb, err := Compress(make([]byte, 1<<20), 9) // 1 MiB of zeros in ~1 KiB
	if err != nil {
		t.Fatal(err)
	}
	body := appendStoredT(t, nil, &StoredMessage{Topic: "T", Body: bomb, SysFlag: SysFlagCompressed})
	got, err := DecodeMessages(body, WithMaxInflateSize(1<<20-1))
	if err != nil || !errors.Is(got[0].Err, ErrBodyTooLarge) || got[0].Body != nil {
		t.Fatalf("limit 1MiB-1: err %v msg err %v", err, got[0].Err)
	}
	got, _ = DecodeMessages(body, WithMaxInflateSize(1<<20))
	if got[0].Err != nil || len(got[0].Body) != 1<<20 {
		t.Fatalf("limit exactly 1MiB: err %v len %d", got[0].Err, len(got[0].Body))
	}
}

func TestDecodeMessagesCorruptReturnsPrefix(t *testing.T) {
	var body []byte
	for i := range 3 {
		body = appendStoredT(t, body, &StoredMessage{Topic: "T", Body: []byte{byte(i)}, QueueOffset: int64(i)})
	}
	one, _ := StoredSize(&StoredMessage{Topic: "T", Body: []byte{0}})
	cases := map[string]struct {
		b    []byte
		want int
	}{
		"truncated last":     {body[:len(body)-1], 2},
		"trailing garbage":   {append(append([]byte(nil), body...), 1, 2, 3), 3},
		"bad magic second":   {func() []byte { b := append([]byte(nil), body...); b[one+4] ^= 0xFF; return b }(), 1},
		"size zero first":    {func() []byte { b := append([]byte(nil), body...); binary.BigEndian.PutUint32(b, 0); return b }(), 0},
		"props len mismatch": {func() []byte { b := append([]byte(nil), body...); b[2*one-1]++; return b }(), 1},
	}
	for name, c := range cases {
		got, err := DecodeMessages(c.b)
		var de *DecodeError
		if !errors.Is(err, ErrCorrupt) || !errors.As(err, &de) {
			t.Errorf("%s: err %v, want *DecodeError wrapping ErrCorrupt", name, err)
			continue
		}
		if len(got) != c.want || de.Index != c.want || de.Offset != c.want*one {
			t.Errorf("%s: %d messages, error at index %d offset %d; want %d", name, len(got), de.Index, de.Offset, c.want)
		}
		for i, m := range got {
			if m.QueueOffset != int64(i) || m.Topic != "T" {
				t.Errorf("%s: prefix message %d wrong: %+v", name, i, m)
			}
		}
		if strings.Contains(err.Error(), "%!") {
			t.Errorf("%s: malformed error text %q", name, err)
		}
	}
	crc := append([]byte(nil), body...)
	crc[88] ^= 1 // first body byte (BODYLEN sits at 84)
	if _, err := DecodeMessages(crc, WithVerifyCRC(true)); !errors.Is(err, ErrCorrupt) {
		t.Errorf("crc mismatch with verification: %v", err)
	}
	if _, err := DecodeMessages(crc); err != nil {
		t.Errorf("crc mismatch without verification: %v", err)
	}
}

func TestMessageExtAccessors(t *testing.T) {
	props := EncodeProperties(map[string]string{
		PropertyTags: "TagA", PropertyKeys: "k1  k2", PropertyDelayLevel: "3",
		PropertyShardingKeyGo: "go-sk", PropertyTransactionPrepared: "true", PropertyUniqKey: "U1",
	})
	body := appendStoredT(t, nil, &StoredMessage{Topic: "T", Body: []byte("b"), Properties: props,
		StoreHost: netip.MustParseAddrPort("10.0.0.1:10911"), PhysicalOffset: 0x1234})
	got, err := DecodeMessages(body)
	if err != nil {
		t.Fatal(err)
	}
	m := got[0]
	if m.Tags() != "TagA" || strings.Join(m.Keys(), ",") != "k1,k2" || m.DelayLevel() != 3 ||
		m.ShardingKey() != "go-sk" || m.UniqKey() != "U1" || m.TransactionID() != "U1" || m.MsgID != "U1" {
		t.Errorf("accessors: tags %q keys %v delay %d sk %q uniq %q tx %q", m.Tags(), m.Keys(), m.DelayLevel(), m.ShardingKey(), m.UniqKey(), m.TransactionID())
	}
	if m.OffsetMsgID() != "0A00000100002A9F0000000000001234" {
		t.Errorf("OffsetMsgID %s", m.OffsetMsgID())
	}
	if m.TagsCode() != 2598919 {
		t.Errorf("TagsCode %d", m.TagsCode())
	}
	m.SetProperty(PropertyMinOffset, "5")
	m.SetProperty(PropertyTags, "override")
	m.SetProperty(PropertyMinOffset, "6")
	if v, _ := m.Property(PropertyMinOffset); v != "6" || m.Tags() != "override" {
		t.Errorf("SetProperty not visible: %q %q", v, m.Tags())
	}
	if p := m.Properties(); p[PropertyMinOffset] != "6" || p[PropertyTags] != "override" || p[PropertyUniqKey] != "U1" {
		t.Errorf("Properties() = %v", p)
	}
	m.SetProperty(PropertyTransactionID, "tx9")
	m.SetProperty(PropertyShardingKey, "java-sk")
	m.SetProperty(PropertyDelayLevel, "x")
	if m.TransactionID() != "tx9" || m.ShardingKey() != "java-sk" || m.DelayLevel() != 0 {
		t.Errorf("second accessors: %q %q %d", m.TransactionID(), m.ShardingKey(), m.DelayLevel())
	}
}

func TestMessageExtToMessage(t *testing.T) {
	props := "TAGS\x01A\x02UNIQ_KEY\x01U\x02X\x01y\x02"
	body := appendStoredT(t, nil, &StoredMessage{Topic: "T", Body: []byte("b"), Flag: 9, Properties: props})
	got, err := DecodeMessages(body)
	if err != nil {
		t.Fatal(err)
	}
	got[0].SetProperty(PropertyRetryTopic, "T")
	m := got[0].ToMessage()
	body[88] = 'Z' // the copy must not alias the pull buffer
	if m.Topic != "T" || string(m.Body) != "b" || m.Flag != 9 {
		t.Errorf("ToMessage = %+v", m)
	}
	if enc := string(m.EncodeProperties(nil)); enc != props+"RETRY_TOPIC\x01T\x02" {
		t.Errorf("properties re-encode as %q", enc)
	}
	if err := m.Validate(0); err != nil {
		t.Errorf("Validate: %v", err)
	}
}

func TestInflateBudgetPerCall(t *testing.T) {
	zeros := make([]byte, 1<<20)
	packed, err := Compress(zeros, 5)
	if err != nil {
		t.Fatal(err)
	}
	var body []byte
	for i := range 8 {
		m := &StoredMessage{Topic: "T", QueueOffset: int64(i), SysFlag: SysFlagCompressed, Body: packed}
		if body, err = AppendStored(body, m); err != nil {
			t.Fatal(err)
		}
	}
	msgs, err := DecodeMessages(body, WithMaxInflateSize(1<<20))
	if err != nil || len(msgs) != 8 {
		t.Fatalf("decoded %d, %v", len(msgs), err)
	}
	for i, m := range msgs {
		if i < 4 && (m.Err != nil || len(m.Body) != 1<<20) {
			t.Fatalf("message %d within the budget: err %v, %d bytes", i, m.Err, len(m.Body))
		}
		if i >= 4 && (!errors.Is(m.Err, ErrBodyTooLarge) || m.Body != nil) {
			t.Fatalf("message %d past the budget: err %v, %d bytes", i, m.Err, len(m.Body))
		}
	}
}

func TestDecodeMessagesCompressionTypes(t *testing.T) {
	plain := bytes.Repeat([]byte("rocketgo compressed body "), 400)
	c := NewCodec()
	var body []byte
	var flags []int32
	for _, ct := range []CompressionType{CompressZlib, CompressLZ4, CompressZstd} {
		z, err := c.Compress(ct, plain, 0)
		if err != nil {
			t.Fatal(err)
		}
		// As Java 5.x flags it (0x1 | type bits), plus a transaction bit
		// and an IPv6 host to show the other bits do not interfere.
		for _, f := range []int32{ct.SysFlag(), ct.SysFlag() | SysFlagTxPrepared} {
			body = appendStoredT(t, body, &StoredMessage{Topic: "T", Body: z, SysFlag: f,
				BornHost: netip.MustParseAddrPort("[2001:db8::1]:1")})
			flags = append(flags, f)
		}
	}
	for _, opts := range [][]DecodeOption{nil, {WithCodec(c)}, {WithCodec(c), WithVerifyCRC(true)}} {
		got, err := DecodeMessages(body, opts...)
		if err != nil || len(got) != len(flags) {
			t.Fatalf("DecodeMessages: %d msgs, %v", len(got), err)
		}
		for i, m := range got {
			if m.Err != nil || !bytes.Equal(m.Body, plain) || m.SysFlag&^SysFlagBornHostV6 != flags[i] {
				t.Errorf("msg %d (flag %#x): err %v, %d bytes", i, flags[i], m.Err, len(m.Body))
			}
		}
	}
}

func TestInflateBudgetAllTypes(t *testing.T) {
	zeros := make([]byte, 1<<20)
	for _, ct := range []CompressionType{CompressLZ4, CompressZstd} {
		packed, err := CompressWith(ct, zeros, 0)
		if err != nil {
			t.Fatal(err)
		}
		var body []byte
		for i := range 8 {
			body = appendStoredT(t, body, &StoredMessage{Topic: "T", QueueOffset: int64(i), SysFlag: ct.SysFlag(), Body: packed})
		}
		msgs, err := DecodeMessages(body, WithMaxInflateSize(1<<20))
		if err != nil || len(msgs) != 8 {
			t.Fatalf("%v: decoded %d, %v", ct, len(msgs), err)
		}
		for i, m := range msgs {
			if i < 4 && (m.Err != nil || len(m.Body) != 1<<20) {
				t.Fatalf("%v: message %d within the budget: err %v, %d bytes", ct, i, m.Err, len(m.Body))
			}
			if i >= 4 && (!errors.Is(m.Err, ErrBodyTooLarge) || m.Body != nil) {
				t.Fatalf("%v: message %d past the budget: err %v, %d bytes", ct, i, m.Err, len(m.Body))
			}
		}
		// One byte under the per-body limit: every body is refused.
		msgs, _ = DecodeMessages(body, WithMaxInflateSize(1<<20-1))
		for i, m := range msgs {
			if !errors.Is(m.Err, ErrBodyTooLarge) {
				t.Fatalf("%v: message %d over the per-body limit: %v", ct, i, m.Err)
			}
		}
	}
}
