package remoting

import (
	"fmt"
	"strconv"
	"strings"
)

// ExtFields is the "custom header" of a command: an ordered list of string
// pairs. RocketMQ headers hold a dozen keys at most, so a flat slice searched
// linearly beats a map on both lookups and construction, keeps the wire order
// stable (useful for tests and for byte-identical re-encoding) and lets the
// decoder hand out substrings of one header string instead of copying.
//
// The zero value is empty and ready to use. ExtFields is not safe for
// concurrent mutation.
type ExtFields struct {
	kv []string // key0, value0, key1, value1, ...
}

// Len reports the number of pairs.
func (e *ExtFields) Len() int { return len(e.kv) / 2 }

// Reset empties e and keeps its storage for reuse.
func (e *ExtFields) Reset() {
	clear(e.kv) // drop references so substrings of old frames can be collected
	e.kv = e.kv[:0]
}

// Set stores value under key, replacing an existing entry in place so the
// order of first insertion is kept.
func (e *ExtFields) Set(key, value string) {
	for i := 0; i < len(e.kv); i += 2 {
		if e.kv[i] == key {
			e.kv[i+1] = value
			return
		}
	}
	e.kv = append(e.kv, key, value)
}

// add appends without looking for an existing key. Decoders use it to skip
// Set's scan; a key repeated on the wire stays repeated, and Get's last-wins
// lookup gives the same answer a JSON map would.
func (e *ExtFields) add(key, value string) { e.kv = append(e.kv, key, value) }

// SetInt stores v in decimal, the way Java and Go clients send numbers.
func (e *ExtFields) SetInt(key string, v int64) { e.Set(key, strconv.FormatInt(v, 10)) }

// SetBool stores "true" or "false".
func (e *ExtFields) SetBool(key string, v bool) {
	if v {
		e.Set(key, "true")
	} else {
		e.Set(key, "false")
	}
}

// Get returns the value stored under key. When a (malformed) wire header
// repeats a key, the last occurrence wins, as it would in a JSON map.
func (e *ExtFields) Get(key string) (string, bool) {
	for i := len(e.kv) - 2; i >= 0; i -= 2 {
		if e.kv[i] == key {
			return e.kv[i+1], true
		}
	}
	return "", false
}

// Int parses the value under key as a decimal int64. A missing key yields an
// error wrapping ErrMissingField, an unparsable one ErrInvalidField.
func (e *ExtFields) Int(key string) (int64, error) {
	s, ok := e.Get(key)
	if !ok {
		return 0, &FieldError{Key: key, Err: ErrMissingField}
	}
	v, err := parseInt(s, 64)
	if err != nil {
		return 0, &FieldError{Key: key, Value: s, Err: ErrInvalidField}
	}
	return v, nil
}

// Bool reports whether the value under key is "true" in any letter case,
// mirroring Java's Boolean.parseBoolean; a missing key is false.
func (e *ExtFields) Bool(key string) bool {
	s, _ := e.Get(key)
	return parseBool(s)
}

// Range calls fn for each pair in order until fn returns false.
func (e *ExtFields) Range(fn func(k, v string) bool) {
	for i := 0; i+1 < len(e.kv); i += 2 {
		if !fn(e.kv[i], e.kv[i+1]) {
			return
		}
	}
}

// Clone returns a deep-enough copy: the slice is new, strings are immutable.
func (e *ExtFields) Clone() ExtFields {
	if len(e.kv) == 0 {
		return ExtFields{}
	}
	return ExtFields{kv: append([]string(nil), e.kv...)}
}

// Equal reports whether both hold the same pairs regardless of order. It is
// meant for tests and diagnostics, not the hot path.
func (e *ExtFields) Equal(o *ExtFields) bool {
	if e.Len() != o.Len() {
		return false
	}
	for i := 0; i < len(e.kv); i += 2 {
		v, ok := o.Get(e.kv[i])
		if !ok || v != e.kv[i+1] {
			return false
		}
	}
	return true
}

// String renders the pairs for logs.
func (e *ExtFields) String() string {
	var b strings.Builder
	b.WriteByte('{')
	for i := 0; i+1 < len(e.kv); i += 2 {
		if i > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "%s=%q", e.kv[i], e.kv[i+1])
	}
	b.WriteByte('}')
	return b.String()
}

// parseInt accepts what Java's Long.parseLong accepts: an optional sign and
// decimal digits.
func parseInt(s string, bits int) (int64, error) {
	return strconv.ParseInt(s, 10, bits)
}

// parseBool mirrors Java's Boolean.parseBoolean: only "true", case-insensitive.
func parseBool(s string) bool {
	return len(s) == 4 && (s[0]|0x20) == 't' && (s[1]|0x20) == 'r' && (s[2]|0x20) == 'u' && (s[3]|0x20) == 'e'
}
