package filter

import (
	"strings"
	"unsafe"
)

// Stored messages keep their properties encoded as
// key 0x01 value 0x02 key 0x01 value 0x02 ... (the last 0x02 may be
// missing). MatchRaw evaluates straight on those bytes, so the pull path
// needs no map per message.

const (
	nameValueSeparator = '\x01' // MessageDecoder.NAME_VALUE_SEPARATOR
	propertySeparator  = '\x02' // MessageDecoder.PROPERTY_SEPARATOR
)

// MatchRaw is Match on a message's encoded properties. It reads them as the
// broker's MessageDecoder.string2messageProperties does: a pair is kept only
// with a non-empty key and a non-empty value, the value runs from the first
// 0x01 to the next 0x02 (so it may hold further 0x01 bytes), and when a key
// repeats the last kept pair wins. It neither allocates nor keeps props, and
// props must not change while it runs.
//
// One difference remains: the broker decodes the bytes as UTF-8 first, so
// two values differing only in malformed sequences compare equal there;
// here they differ.
func (e *Expr) MatchRaw(props []byte) bool {
	src := source{raw: bytesView(props)}
	return e.root.eval(&src).isTrue()
}

// bytesView returns b as a string without copying, so that lookups can hand
// out substrings of it. That is safe only because no such string outlives
// MatchRaw (values are compared and parsed, never stored) and MatchRaw's
// contract forbids changing b meanwhile.
func bytesView(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(unsafe.SliceData(b), len(b))
}

// lookupRaw finds the value of key in encoded properties. Property names in
// expressions never contain the separators, so a key matches where it
// starts a pair and is followed by 0x01; the scan goes on after a match
// because a later pair of the same key wins.
func lookupRaw(raw, key string) (value string, found bool) {
	for from := 0; from < len(raw); {
		i := strings.Index(raw[from:], key)
		if i < 0 {
			break
		}
		i += from
		end := i + len(key)
		from = i + 1
		if (i > 0 && raw[i-1] != propertySeparator) || end >= len(raw) || raw[end] != nameValueSeparator {
			continue
		}
		v := raw[end+1:]
		if j := strings.IndexByte(v, propertySeparator); j >= 0 {
			v = v[:j]
		}
		if v != "" { // an empty value is dropped, so an earlier one stands
			value, found = v, true
		}
		from = end + 1 + len(v)
	}
	return value, found
}
