package filter

import (
	"strings"
	"testing"
)

// decodeLikeBroker is a plain rewrite of the broker's
// MessageDecoder.string2messageProperties
// (common/src/main/java/org/apache/rocketmq/common/message/MessageDecoder.java:638-661),
// the reference that lookupRaw must agree with.
func decodeLikeBroker(raw string) map[string]string {
	m := map[string]string{}
	for _, item := range strings.Split(raw, string(rune(propertySeparator))) {
		k, v, ok := strings.Cut(item, string(rune(nameValueSeparator)))
		if ok && k != "" && v != "" {
			m[k] = v
		}
	}
	return m
}

func TestLookupRaw(t *testing.T) {
	cases := []struct {
		raw, key, want string
		ok             bool
	}{
		{"a\x011\x02", "a", "1", true},
		{"a\x011", "a", "1", true}, // the last separator may be missing
		{"a\x011\x02a\x012\x02", "a", "2", true},
		{"a\x011\x02a\x01\x02", "a", "1", true}, // an empty value is dropped, the earlier one stands
		{"a\x01\x02", "a", "", false},
		{"a\x01", "a", "", false},
		{"a\x01x\x01y\x02", "a", "x\x01y", true}, // the first 0x01 splits
		{"ba\x011\x02", "a", "", false},
		{"b\x01a\x01c\x02", "a", "", false}, // a inside a value
		{"b\x01a\x02a\x012", "a", "2", true},
		{"\x01a\x02a\x012", "a", "2", true},
		{"aa\x011\x02a\x012", "a", "2", true},
		{"a\x012\x02\x02\x02", "a", "2", true},
		{"a\x011\x02ab\x012", "ab", "2", true},
		{"a\x01ab\x01\x02ab\x013", "ab", "3", true},
		{"", "a", "", false},
		{"abc", "abc", "", false},
		{"a", "a", "", false},
		{"TAGS\x01TagA\x02KEYS\x01k1 k2\x02UNIQ_KEY\x01ID\x02", "KEYS", "k1 k2", true},
	}
	for _, c := range cases {
		got, ok := lookupRaw(c.raw, c.key)
		if got != c.want || ok != c.ok {
			t.Errorf("lookupRaw(%q, %q) = %q, %v; want %q, %v", c.raw, c.key, got, ok, c.want, c.ok)
		}
		ref, refOK := decodeLikeBroker(c.raw)[c.key]
		if ref != got || refOK != ok {
			t.Errorf("lookupRaw(%q, %q) = %q, %v; the broker decodes %q, %v", c.raw, c.key, got, ok, ref, refOK)
		}
	}
}

func TestMatchRaw(t *testing.T) {
	e := mustCompile(t, "TAGS = 'TagA' AND a > 5")
	for raw, want := range map[string]bool{
		"TAGS\x01TagA\x02a\x016\x02":                         true,
		"TAGS\x01TagA\x02a\x016":                             true,
		"a\x016\x02TAGS\x01TagA":                             true,
		"TAGS\x01TagB\x02a\x016\x02":                         false,
		"TAGS\x01TagA\x02a\x014\x02a\x016\x02":               true, // the last a wins
		"TAGS\x01TagA\x02a\x016\x02a\x01\x02":                true, // an empty a does not override
		"TAGS\x01TagA\x02a\x01x\x02":                         false,
		"TAGS\x01TagA\x02":                                   false,
		"xTAGS\x01TagA\x02a\x016\x02":                        false,
		"TAGS\x01TagA\x01more\x02a\x016\x02":                 false,
		"b\x01TAGS\x01TagA\x02a\x016\x02":                    false,
		"UNIQ_KEY\x01x\x02TAGS\x01TagA\x02a\x01" + "1" + "0": true,
	} {
		if got := e.MatchRaw([]byte(raw)); got != want {
			t.Errorf("MatchRaw(%q) = %v, want %v", raw, got, want)
		}
		if got := e.Match(Map(decodeLikeBroker(raw))); got != want {
			t.Errorf("Match(decoded %q) = %v, want %v", raw, got, want)
		}
	}
}

// FuzzLookupRaw compares lookupRaw with the broker's decoding on arbitrary
// bytes.
func FuzzLookupRaw(f *testing.F) {
	for _, s := range []string{"a\x011\x02", "a\x01\x02a\x012", "b\x01a\x01c\x02a", "\x02\x02a\x01\x01\x02"} {
		f.Add(s, "a")
	}
	f.Fuzz(func(t *testing.T, raw, key string) {
		if key == "" || strings.ContainsAny(key, "\x01\x02") {
			return // property names in expressions never are
		}
		got, ok := lookupRaw(raw, key)
		ref, refOK := decodeLikeBroker(raw)[key]
		if got != ref || ok != refOK {
			t.Fatalf("lookupRaw(%q, %q) = %q, %v; the broker decodes %q, %v", raw, key, got, ok, ref, refOK)
		}
	})
}
