package message

import (
	"errors"
	"maps"
	"math/rand/v2"
	"strings"
	"testing"
)

func TestValidateTopic(t *testing.T) {
	good := []string{"TopicTest", "a", "%RETRY%group_1", "a|b-c", strings.Repeat("x", 127)}
	for _, s := range good {
		if err := ValidateTopic(s); err != nil {
			t.Errorf("ValidateTopic(%q) = %v", s, err)
		}
	}
	if err := ValidateTopic(""); !errors.Is(err, ErrEmptyTopic) {
		t.Errorf("empty topic: %v", err)
	}
	bad := []string{strings.Repeat("x", 128), "a b", "a.b", "a/b", "标签", "a\x00", "a\x01"}
	for _, s := range bad {
		if err := ValidateTopic(s); !errors.Is(err, ErrInvalidTopic) {
			t.Errorf("ValidateTopic(%q) = %v, want ErrInvalidTopic", s, err)
		}
	}
}

func TestMessageValidate(t *testing.T) {
	base := func() *Message { return New("T", []byte("x")) }
	cases := []struct {
		name string
		m    *Message
		max  int
		want error
	}{
		{"ok", base(), 0, nil},
		{"nil", nil, 0, ErrNilMessage},
		{"empty topic", New("", []byte("x")), 0, ErrEmptyTopic},
		{"bad topic", New("a b", []byte("x")), 0, ErrInvalidTopic},
		{"empty body", New("T", nil), 0, ErrEmptyBody},
		{"body at limit", New("T", make([]byte, 10)), 10, nil},
		{"body over limit", New("T", make([]byte, 11)), 10, ErrBodyTooLarge},
		{"body over default", New("T", make([]byte, DefaultMaxMessageSize+1)), 0, ErrBodyTooLarge},
		{"tag separator", base().WithTags("a\x02b"), 0, ErrInvalidProperty},
		{"key NUL", base().WithKeys("k1", "k\x00"), 0, ErrInvalidProperty},
		{"sharding sep", base().WithShardingKey("\x01"), 0, ErrInvalidProperty},
		{"prop key empty", base().WithProperty("", "v"), 0, ErrInvalidProperty},
		{"prop value sep", base().WithProperty("k", "v\x01"), 0, ErrInvalidProperty},
		{"delay 18", base().WithDelayLevel(18), 0, nil},
		{"delay 19", base().WithDelayLevel(19), 0, ErrInvalidDelayLevel},
		{"delay -1", base().WithDelayLevel(-1), 0, ErrInvalidDelayLevel},
		{"props too large", base().WithProperty("k", strings.Repeat("v", MaxPropertiesLength)), 0, ErrPropertiesTooLarge},
	}
	for _, c := range cases {
		err := c.m.Validate(c.max)
		if c.want == nil && err != nil || c.want != nil && !errors.Is(err, c.want) {
			t.Errorf("%s: Validate = %v, want %v", c.name, err, c.want)
		}
	}
}

func TestMessageEncodeProperties(t *testing.T) {
	m := New("T", []byte("b")).WithTags("TagA").WithKeys("k1", "k2").WithDelayLevel(3).WithShardingKey("sk")
	m.TransactionID = "tx"
	m.SetProperty("USER", "1")
	m.SetProperty(PropertyTags, "shadowed")
	m.SetProperty(PropertyUniqKey, "ID")
	m.SetProperty("USER", "2") // replaces, keeps position
	got := string(m.EncodeProperties([]byte("pre")))
	want := "preTAGS\x01TagA\x02KEYS\x01k1 k2\x02DELAY\x013\x02__SHARDINGKEY\x01sk\x02__transactionId__\x01tx\x02USER\x012\x02UNIQ_KEY\x01ID\x02"
	if got != want {
		t.Errorf("EncodeProperties:\n got %q\nwant %q", got, want)
	}
	if n := m.encodedPropertiesLen(); n != len(want)-3 {
		t.Errorf("encodedPropertiesLen = %d, want %d", n, len(want)-3)
	}
	// A user TAGS property is used when the field is empty.
	m2 := New("T", []byte("b")).WithProperty(PropertyTags, "user")
	if got := string(m2.EncodeProperties(nil)); got != "TAGS\x01user\x02" {
		t.Errorf("user TAGS: %q", got)
	}
	if v, ok := m.Property("USER"); !ok || v != "2" {
		t.Errorf("Property = %q %v", v, ok)
	}
	if !m.RemoveProperty("USER") || m.RemoveProperty("USER") {
		t.Error("RemoveProperty should succeed once")
	}
	if _, ok := m.Property("USER"); ok {
		t.Error("removed property still present")
	}
	var keys []string
	m.RangeProperties(func(k, v string) bool { keys = append(keys, k); return true })
	if strings.Join(keys, ",") != "TAGS,UNIQ_KEY" {
		t.Errorf("RangeProperties keys = %v", keys)
	}
	if New("T", nil).EncodeProperties(nil) != nil {
		t.Error("empty message should encode no properties")
	}
}

func TestPropertiesMapRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for i := range 300 {
		want := map[string]string{}
		for range r.IntN(8) {
			want[randText(r, "ABCabc_#.%", 1, 10)] = randText(r, "xyz 019\u00e9", 0, 20)
		}
		s := EncodeProperties(want)
		if s2 := EncodeProperties(want); s2 != s {
			t.Fatalf("case %d: encoding not deterministic", i)
		}
		got := DecodeProperties(s)
		if !maps.Equal(got, want) {
			t.Fatalf("case %d: round trip %v -> %q -> %v", i, want, s, got)
		}
		for k, v := range want {
			if gv, ok := LookupPropertyString(s, k); !ok || gv != v {
				t.Fatalf("case %d: lookup %q = %q %v want %q", i, k, gv, ok, v)
			}
		}
	}
}

func TestDecodePropertiesMalformed(t *testing.T) {
	got := DecodeProperties("A\x011\x02noSep\x02B\x01x\x01y\x02\x01empty\x02\x02C\x013")
	want := map[string]string{"A": "1", "C": "3"}
	if !maps.Equal(got, want) {
		t.Errorf("DecodeProperties = %v, want %v", got, want)
	}
	if s := EncodeProperties(map[string]string{"": "x", "bad\x01": "y", "ok": "v\x02", "K": "V"}); s != "K\x01V\x02" {
		t.Errorf("EncodeProperties kept invalid pairs: %q", s)
	}
	if EncodeProperties(nil) != "" || len(DecodeProperties("")) != 0 {
		t.Error("empty cases")
	}
}
