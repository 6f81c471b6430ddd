package message

import (
	"slices"
	"strings"
)

// EncodeProperties encodes a property map as a property string (key 0x01 value 0x02 pairs). Keys are sorted so
// that equal maps encode to equal bytes. Pairs with an empty key or with
// separator characters are skipped, because they could not be decoded back.
func EncodeProperties(props map[string]string) string {
	if len(props) == 0 {
		return ""
	}
	keys := make([]string, 0, len(props))
	n := 0
	for k, v := range props {
		if k == "" || !validText(k) || !validText(v) {
			continue
		}
		keys = append(keys, k)
		n += len(k) + len(v) + 2
	}
	slices.Sort(keys)
	var b strings.Builder
	b.Grow(n)
	for _, k := range keys {
		b.WriteString(k)
		b.WriteByte(NameValueSeparator)
		b.WriteString(props[k])
		b.WriteByte(PropertySeparator)
	}
	return b.String()
}

// DecodeProperties parses a property string into a map. Like rocketmq-client-go it
// keeps only segments holding exactly one name/value separator, and it also
// drops empty keys; a trailing pair without its final 0x02 is accepted. A
// repeated key keeps its last value, as Java and Go maps do.
func DecodeProperties(s string) map[string]string {
	m := make(map[string]string, strings.Count(s, string(PropertySeparator))+1)
	forEachProperty(s, func(k, v string) bool {
		m[k] = v
		return true
	})
	return m
}

// forEachProperty calls fn for every well-formed pair of s, in order, until
// fn returns false. Keys and values are substrings of s.
func forEachProperty(s string, fn func(k, v string) bool) {
	for len(s) > 0 {
		seg := s
		if end := strings.IndexByte(s, PropertySeparator); end >= 0 {
			seg, s = s[:end], s[end+1:]
		} else {
			s = ""
		}
		sep := strings.IndexByte(seg, NameValueSeparator)
		if sep <= 0 || strings.IndexByte(seg[sep+1:], NameValueSeparator) >= 0 {
			continue
		}
		if !fn(seg[:sep], seg[sep+1:]) {
			return
		}
	}
}

// LookupPropertyString is LookupProperty for a string: it returns the value
// of the first pair whose key is key, as a substring of props, without
// allocating.
func LookupPropertyString(props, key string) (string, bool) {
	if key == "" {
		return "", false
	}
	if len(props) > longProperties && strings.IndexByte(key, PropertySeparator) < 0 {
		return lookupByPairs(props, key)
	}
	return lookupBySearch(props, key)
}

// lookupBySearch is LookupPropertyString by searching for key.
func lookupBySearch(props, key string) (string, bool) {
	from := 0
	for {
		i := strings.Index(props[from:], key)
		if i < 0 {
			return "", false
		}
		i += from
		end := i + len(key)
		// A match counts only at the start of a pair and directly before the
		// name/value separator; values cannot contain 0x01, so such a match
		// is always a key.
		if (i == 0 || props[i-1] == PropertySeparator) && end < len(props) && props[end] == NameValueSeparator {
			v := props[end+1:]
			if j := strings.IndexByte(v, PropertySeparator); j >= 0 {
				v = v[:j]
			}
			return v, true
		}
		from = i + 1
	}
}

// longProperties is the property string length from which a lookup walks
// the pairs instead of searching for the key. A trace message's KEYS
// holds some hundreds of message ids (~17 KB of hex digits), and a
// search for a name that is absent, such as CLUSTER, met its first
// letter every sixteen bytes or so there; the walk steps over each value
// with one IndexByte. Short strings are searched: one call finds the key.
const longProperties = 512

// lookupByPairs is LookupPropertyString by walking the pairs: a match
// must start a pair (position 0 or after a PropertySeparator) and be
// followed by NameValueSeparator, which are the search's conditions too.
func lookupByPairs(props, key string) (string, bool) {
	for s := props; ; {
		if len(s) > len(key) && s[len(key)] == NameValueSeparator && s[:len(key)] == key {
			v := s[len(key)+1:]
			if j := strings.IndexByte(v, PropertySeparator); j >= 0 {
				v = v[:j]
			}
			return v, true
		}
		j := strings.IndexByte(s, PropertySeparator)
		if j < 0 {
			return "", false
		}
		s = s[j+1:]
	}
}
