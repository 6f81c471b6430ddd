package message

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"strings"
	"testing"
)

// randAddrPort returns an IPv4 or IPv6 host at random.
func randAddrPort(r *rand.Rand) netip.AddrPort {
	port := uint16(r.IntN(65536))
	if r.IntN(3) == 0 {
		var a [16]byte
		for i := range a {
			a[i] = byte(r.IntN(256))
		}
		a[0] = 0x20 // keep it a real IPv6 address, never v4-mapped
		return netip.AddrPortFrom(netip.AddrFrom16(a), port)
	}
	return netip.AddrPortFrom(netip.AddrFrom4([4]byte{byte(r.IntN(256)), byte(r.IntN(256)), byte(r.IntN(256)), byte(r.IntN(256))}), port)
}

func randText(r *rand.Rand, alphabet string, min, max int) string {
	n := min + r.IntN(max-min+1)
	var b strings.Builder
	for range n {
		b.WriteByte(alphabet[r.IntN(len(alphabet))])
	}
	return b.String()
}

const topicAlphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789%_|-"

func randStored(r *rand.Rand) *StoredMessage {
	body := make([]byte, r.IntN(300))
	for i := range body {
		body[i] = byte(r.IntN(256))
	}
	props := map[string]string{}
	for range r.IntN(6) {
		props[randText(r, "ABCDEFGHIJKLMNOPQRSTUVWXYZ_", 1, 12)] = randText(r, "abc xyz0123456789-:=", 0, 40)
	}
	if r.IntN(2) == 0 {
		props[PropertyUniqKey] = randText(r, "0123456789ABCDEF", 32, 32)
	}
	topicMax := 127
	if r.IntN(8) == 0 {
		topicMax = 300 // MAGIC v2
	}
	return &StoredMessage{
		QueueID:                   r.Int32(),
		Flag:                      r.Int32(),
		QueueOffset:               r.Int64(),
		PhysicalOffset:            r.Int64(),
		SysFlag:                   r.Int32N(0x100) &^ (SysFlagCompressed | sysFlagHostV6Mask),
		BornTimestamp:             r.Int64(),
		BornHost:                  randAddrPort(r),
		StoreTimestamp:            r.Int64(),
		StoreHost:                 randAddrPort(r),
		ReconsumeTimes:            r.Int32(),
		PreparedTransactionOffset: r.Int64(),
		Body:                      body,
		Topic:                     randText(r, topicAlphabet, 1, topicMax),
		Properties:                EncodeProperties(props),
	}
}

func TestAppendParseStoredRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 500 {
		m := randStored(r)
		prefix := []byte("prefix")
		b, err := AppendStored(prefix, m)
		if err != nil {
			t.Fatalf("case %d: AppendStored: %v", i, err)
		}
		if !bytes.Equal(b[:6], prefix) {
			t.Fatalf("case %d: prefix clobbered", i)
		}
		rec := b[6:]
		size, _ := StoredSize(m)
		if len(rec) != size {
			t.Fatalf("case %d: encoded %d bytes, StoredSize says %d", i, len(rec), size)
		}
		got, err := ParseStored(rec, true)
		if err != nil {
			t.Fatalf("case %d: ParseStored: %v", i, err)
		}
		wantMagic := MagicV1
		if len(m.Topic) > 127 {
			wantMagic = MagicV2
		}
		if got.Magic != wantMagic {
			t.Errorf("case %d: magic %#x want %#x", i, got.Magic, wantMagic)
		}
		if got.QueueID != m.QueueID || got.Flag != m.Flag || got.QueueOffset != m.QueueOffset ||
			got.PhysicalOffset != m.PhysicalOffset || got.BornTimestamp != m.BornTimestamp ||
			got.StoreTimestamp != m.StoreTimestamp || got.ReconsumeTimes != m.ReconsumeTimes ||
			got.PreparedTransactionOffset != m.PreparedTransactionOffset {
			t.Errorf("case %d: numeric field mismatch: %+v vs %+v", i, got, m)
		}
		if got.BornHost != m.BornHost || got.StoreHost != m.StoreHost {
			t.Errorf("case %d: hosts %v %v want %v %v", i, got.BornHost, got.StoreHost, m.BornHost, m.StoreHost)
		}
		if got.SysFlag&^sysFlagHostV6Mask != m.SysFlag {
			t.Errorf("case %d: sysflag %#x want %#x", i, got.SysFlag, m.SysFlag)
		}
		if (got.SysFlag&SysFlagBornHostV6 != 0) != m.BornHost.Addr().Is6() {
			t.Errorf("case %d: born v6 bit wrong", i)
		}
		if !bytes.Equal(got.Body, m.Body) || string(got.Topic) != m.Topic || string(got.Properties) != m.Properties {
			t.Errorf("case %d: variable fields mismatch", i)
		}
		if got.BodyCRC != BodyCRC(m.Body) {
			t.Errorf("case %d: crc", i)
		}
		if off := StoreTimestampOffset(got.SysFlag); int64(binary.BigEndian.Uint64(rec[off:])) != m.StoreTimestamp {
			t.Errorf("case %d: StoreTimestampOffset points elsewhere", i)
		}
	}
}

func TestAppendStoredRejects(t *testing.T) {
	cases := map[string]*StoredMessage{
		"empty topic":    {Topic: ""},
		"topic too long": {Topic: strings.Repeat("a", 0x8000)},
		"props too long": {Topic: "t", Properties: strings.Repeat("a", 0x8000)},
	}
	for name, m := range cases {
		if b, err := AppendStored([]byte{1}, m); err == nil || len(b) != 1 {
			t.Errorf("%s: err=%v len=%d, want error and untouched dst", name, err, len(b))
		}
	}
	ok := &StoredMessage{Topic: "t", Properties: strings.Repeat("a", 0x7FFF)}
	if _, err := AppendStored(nil, ok); err != nil {
		t.Errorf("32767-byte properties rejected: %v", err)
	}
}

func TestParseStoredCorrupt(t *testing.T) {
	m := &StoredMessage{Topic: "TopicA", Body: []byte("hello"), Properties: "A\x01b\x02",
		BornHost: netip.MustParseAddrPort("10.0.0.1:1"), StoreHost: netip.MustParseAddrPort("10.0.0.2:2")}
	good, err := AppendStored(nil, m)
	if err != nil {
		t.Fatal(err)
	}
	mutate := func(f func(b []byte) []byte) []byte {
		return f(append([]byte(nil), good...))
	}
	bodyLenOff := 84
	cases := map[string][]byte{
		"empty":          nil,
		"truncated":      good[:len(good)-1],
		"short":          good[:50],
		"bad magic":      mutate(func(b []byte) []byte { b[4] = 0; return b }),
		"blank magic":    mutate(func(b []byte) []byte { binary.BigEndian.PutUint32(b[4:], BlankMagic); return b }),
		"size too big":   mutate(func(b []byte) []byte { binary.BigEndian.PutUint32(b, uint32(len(b)+1)); return b }),
		"size negative":  mutate(func(b []byte) []byte { binary.BigEndian.PutUint32(b, 0xFFFFFFF0); return b }),
		"body len big":   mutate(func(b []byte) []byte { binary.BigEndian.PutUint32(b[bodyLenOff:], 1000); return b }),
		"body len neg":   mutate(func(b []byte) []byte { binary.BigEndian.PutUint32(b[bodyLenOff:], 0xFFFFFFFF); return b }),
		"topic len big":  mutate(func(b []byte) []byte { b[bodyLenOff+4+5] = 200; return b }),
		"props len off":  mutate(func(b []byte) []byte { b[len(b)-len(m.Properties)-1]++; return b }),
		"v6 flag on v4":  mutate(func(b []byte) []byte { b[OffSysFlag+3] |= byte(SysFlagStoreHostV6); return b }),
		"crc mismatch":   mutate(func(b []byte) []byte { b[bodyLenOff+4] ^= 1; return b }),
		"garbage suffix": mutate(func(b []byte) []byte { binary.BigEndian.PutUint32(b, uint32(len(b)-1)); return b }),
	}
	for name, b := range cases {
		if _, err := ParseStored(b, true); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: err=%v, want ErrCorrupt", name, err)
		}
	}
	if _, err := ParseStored(good, true); err != nil {
		t.Fatalf("good record: %v", err)
	}
	// Trailing bytes after a record are the next record's business.
	if _, err := ParseStored(append(append([]byte(nil), good...), 9, 9, 9), true); err != nil {
		t.Errorf("record followed by more bytes: %v", err)
	}
}

func TestIsBlank(t *testing.T) {
	b := make([]byte, 8)
	binary.BigEndian.PutUint32(b[4:], BlankMagic)
	if !IsBlank(b) || IsBlank(b[:7]) || IsBlank(make([]byte, 8)) {
		t.Error("IsBlank misreports")
	}
}

func TestBodyCRC(t *testing.T) {
	// IEEE CRC-32 of "123456789" is 0xCBF43926; RocketMQ clears the sign bit.
	if got := BodyCRC([]byte("123456789")); got != 0x4BF43926 {
		t.Errorf("BodyCRC = %#x, want 0x4BF43926", got)
	}
}

func TestTagsHashCode(t *testing.T) {
	// Expected values are Java's String.hashCode, computed by hand over
	// UTF-16 code units.
	cases := []struct {
		tag  string
		want int64
	}{
		{"TagA", 2598919},
		{"", 0},
		{"标签", 857175},              // U+6807, U+7B7E: 26631*31 + 31614
		{"😀", 1772899},              // surrogates D83D DE00: 55357*31 + 56832
		{"Hello World", -862545276}, // int32 wrap-around, sign-extended
		{"a😀b标", 1793367145},
	}
	for _, c := range cases {
		if got := TagsHashCode(c.tag); got != c.want {
			t.Errorf("TagsHashCode(%q) = %d, want %d", c.tag, got, c.want)
		}
	}
}

func TestLookupProperty(t *testing.T) {
	props := []byte("A\x011\x02BB\x01\x02junk\x02C\x013")
	cases := []struct {
		key, want string
		ok        bool
	}{
		{"A", "1", true}, {"BB", "", true}, {"C", "3", true}, {"junk", "", false}, {"B", "", false}, {"", "", false},
	}
	for _, c := range cases {
		v, ok := LookupProperty(props, c.key)
		if ok != c.ok || string(v) != c.want {
			t.Errorf("LookupProperty(%q) = %q,%v want %q,%v", c.key, v, ok, c.want, c.ok)
		}
		sv, sok := LookupPropertyString(string(props), c.key)
		if sok != c.ok || sv != c.want {
			t.Errorf("LookupPropertyString(%q) = %q,%v want %q,%v", c.key, sv, sok, c.want, c.ok)
		}
	}
	// Past longProperties the lookup walks the pairs; same answers.
	long := string(props) + "\x02KEYS\x01" + strings.Repeat("C0A8000100002A9F0000000000C", 40) + "\x02A\x01late"
	for _, c := range cases {
		if sv, sok := LookupPropertyString(long, c.key); sok != c.ok || sv != c.want {
			t.Errorf("long: LookupPropertyString(%q) = %q,%v want %q,%v", c.key, sv, sok, c.want, c.ok)
		}
	}
	if v, ok := LookupPropertyString(long, "CLUSTER"); ok {
		t.Errorf("long: CLUSTER = %q", v)
	}
	if got := AppendProperty([]byte("x"), "K", "V"); string(got) != "xK\x01V\x02" {
		t.Errorf("AppendProperty = %q", got)
	}
	if ValidPropertyText("a\x01") || ValidPropertyText("\x02") || !ValidPropertyText("ok value") {
		t.Error("ValidPropertyText misreports")
	}
}

// TestLookupByPairsMatchesSearch: the two ways of looking a property up
// agree on every string of a small alphabet, separators included.
func TestLookupByPairsMatchesSearch(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	alphabet := "AB\x01\x02"
	for range 20000 {
		b := make([]byte, rng.IntN(24))
		for i := range b {
			b[i] = alphabet[rng.IntN(len(alphabet))]
		}
		key := []string{"A", "B", "AB", "BA", "AA"}[rng.IntN(5)]
		v1, ok1 := lookupBySearch(string(b), key)
		v2, ok2 := lookupByPairs(string(b), key)
		if v1 != v2 || ok1 != ok2 {
			t.Fatalf("props %q key %q: search %q,%v pairs %q,%v", b, key, v1, ok1, v2, ok2)
		}
	}
}

// BenchmarkLookupTraceProperties: the broker's lookups of absent
// properties (CLUSTER) and present ones in a trace message's property
// string, whose KEYS carries 512 message ids.
func BenchmarkLookupTraceProperties(b *testing.B) {
	var sb strings.Builder
	sb.WriteString("KEYS\x01")
	for i := range 512 {
		fmt.Fprintf(&sb, "7F00000100002A9F00000%011X ", i*7919)
	}
	sb.WriteString("\x02UNIQ_KEY\x017F00000100002A9F0000000000C80001\x02WAIT\x01true\x02")
	props := sb.String()
	for _, f := range []struct {
		name string
		fn   func(string, string) (string, bool)
	}{{"search", lookupBySearch}, {"pairs", lookupByPairs}} {
		for _, key := range []string{PropertyCluster, PropertyUniqKey} {
			b.Run(f.name+"/"+key, func(b *testing.B) {
				for b.Loop() {
					f.fn(props, key)
				}
			})
		}
	}
}
