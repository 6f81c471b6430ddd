package remoting

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// JSON header codec, hand-written so a frame costs no reflection and ext
// keys/values can be substrings of one header string. The writer emits what
// the Go client emits (remark omitted when empty, which every peer accepts as
// null); the reader accepts what Java (sorted keys, serializeTypeCurrentRPC,
// language names), Go and ons (raw numbers and booleans in extFields) send.

const hexDigits = "0123456789abcdef"

func appendJSONHeader(dst []byte, c *Command) []byte {
	dst = append(dst, `{"code":`...)
	dst = strconv.AppendInt(dst, c.ReceivedCode(), 10)
	dst = append(dst, `,"language":"`...)
	dst = append(dst, c.Language.String()...)
	dst = append(dst, `","version":`...)
	dst = strconv.AppendInt(dst, int64(c.Version), 10)
	dst = append(dst, `,"opaque":`...)
	dst = strconv.AppendInt(dst, int64(c.Opaque), 10)
	dst = append(dst, `,"flag":`...)
	dst = strconv.AppendInt(dst, int64(c.Flag), 10)
	if c.Remark != "" {
		dst = append(dst, `,"remark":`...)
		dst = appendJSONString(dst, c.Remark)
	}
	dst = append(dst, `,"extFields":{`...)
	for i := 0; i+1 < len(c.Ext.kv); i += 2 {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendJSONString(dst, c.Ext.kv[i])
		dst = append(dst, ':')
		dst = appendJSONString(dst, c.Ext.kv[i+1])
	}
	return append(dst, "}}"...)
}

// appendJSONString quotes s, escaping '"', '\\' and every control byte as
// \u00XX (so 0x01/0x02 property separators become \u0001/\u0002). Other bytes,
// including invalid UTF-8, pass through untouched so values round-trip.
func appendJSONString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	last := 0
	for i := 0; i < len(s); i++ {
		b := s[i]
		if b >= 0x20 && b != '"' && b != '\\' {
			continue
		}
		dst = append(dst, s[last:i]...)
		switch b {
		case '"', '\\':
			dst = append(dst, '\\', b)
		default:
			dst = append(dst, '\\', 'u', '0', '0', hexDigits[b>>4], hexDigits[b&0xF])
		}
		last = i + 1
	}
	dst = append(dst, s[last:]...)
	return append(dst, '"')
}

// jsonReader scans a header held in one string.
type jsonReader struct {
	s string
	i int
}

func (r *jsonReader) fail(what string) error {
	return fmt.Errorf("%w: JSON header: %s at offset %d", ErrMalformedFrame, what, r.i)
}

func (r *jsonReader) ws() {
	// Our own and Java's headers are compact: the first byte decides.
	if r.i < len(r.s) && r.s[r.i] > ' ' {
		return
	}
	for r.i < len(r.s) {
		switch r.s[r.i] {
		case ' ', '\t', '\n', '\r':
			r.i++
		default:
			return
		}
	}
}

// peek returns the next non-space byte, 0 at the end.
func (r *jsonReader) peek() byte {
	r.ws()
	if r.i < len(r.s) {
		return r.s[r.i]
	}
	return 0
}

func (r *jsonReader) expect(b byte) error {
	if r.peek() != b {
		return r.fail("expected " + strconv.QuoteRune(rune(b)))
	}
	r.i++
	return nil
}

// str reads a JSON string. Without escapes the result is a substring of the
// header; with escapes it is decoded into a fresh string.
func (r *jsonReader) str() (string, error) {
	if r.peek() != '"' {
		return "", r.fail("expected string")
	}
	r.i++
	start := r.i
	// Most keys and values are short: a plain loop over the first bytes
	// beats a call into the vectorised search, which takes over after.
	end := min(len(r.s), start+16)
	for ; r.i < end; r.i++ {
		switch r.s[r.i] {
		case '"':
			r.i++
			return r.s[start : r.i-1], nil
		case '\\':
			return r.unescape(start)
		}
	}
	q := strings.IndexByte(r.s[r.i:], '"')
	if q < 0 {
		r.i = len(r.s)
		return "", r.fail("unterminated string")
	}
	v := r.s[start : r.i+q]
	if k := strings.IndexByte(v[r.i-start:], '\\'); k >= 0 {
		r.i += k
		return r.unescape(start)
	}
	r.i += q + 1
	return v, nil
}

// unescape continues str once a backslash is seen at r.i. The decoded text
// is never longer than the raw text, so one exactly-sized builder suffices
// and its String() hands the bytes over without a second copy.
func (r *jsonReader) unescape(start int) (string, error) {
	var b strings.Builder
	// Decoded text is never longer than raw text. Sizing by the next quote
	// is exact unless the string holds an escaped quote, in which case the
	// builder simply grows.
	hint := len(r.s) - r.i
	if q := strings.IndexByte(r.s[r.i:], '"'); q >= 0 {
		hint = q
	}
	b.Grow(r.i - start + hint)
	b.WriteString(r.s[start:r.i])
	for r.i < len(r.s) {
		c := r.s[r.i]
		switch {
		case c == '"':
			r.i++
			return b.String(), nil
		case c != '\\':
			j := r.i + 1
			for j < len(r.s) && r.s[j] != '"' && r.s[j] != '\\' {
				j++
			}
			b.WriteString(r.s[r.i:j])
			r.i = j
			continue
		}
		if r.i+1 >= len(r.s) {
			break
		}
		e := r.s[r.i+1]
		r.i += 2
		switch e {
		case '"', '\\', '/':
			b.WriteByte(e)
		case 'b':
			b.WriteByte('\b')
		case 'f':
			b.WriteByte('\f')
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		case 't':
			b.WriteByte('\t')
		case 'u':
			u, ok := r.hex4()
			if !ok {
				return "", r.fail("bad \\u escape")
			}
			switch {
			case u < utf8.RuneSelf:
				b.WriteByte(byte(u)) // \u0001 and \u0002 in every property string
			case utf16.IsSurrogate(u):
				b.WriteRune(r.lowSurrogate(u))
			default:
				b.WriteRune(u)
			}
		default:
			return "", r.fail("bad escape")
		}
	}
	return "", r.fail("unterminated string")
}

// lowSurrogate completes a UTF-16 pair when an escaped low surrogate follows
// the high one; anything else becomes U+FFFD, as encoding/json does. A
// following escape that does not pair is left for the caller to read.
func (r *jsonReader) lowSurrogate(hi rune) rune {
	if r.i+6 > len(r.s) || r.s[r.i] != '\\' || r.s[r.i+1] != 'u' {
		return utf8.RuneError
	}
	save := r.i
	r.i += 2
	lo, ok := r.hex4()
	if ok {
		if c := utf16.DecodeRune(hi, lo); c != utf8.RuneError {
			return c
		}
	}
	r.i = save
	return utf8.RuneError
}

func (r *jsonReader) hex4() (rune, bool) {
	if r.i+4 > len(r.s) {
		return 0, false
	}
	var v rune
	for _, b := range []byte(r.s[r.i : r.i+4]) {
		switch {
		case b >= '0' && b <= '9':
			b -= '0'
		case b >= 'a' && b <= 'f':
			b -= 'a' - 10
		case b >= 'A' && b <= 'F':
			b -= 'A' - 10
		default:
			return 0, false
		}
		v = v<<4 | rune(b)
	}
	r.i += 4
	return v, true
}

// literal reads a bare scalar (number, true, false, null) and returns its text.
func (r *jsonReader) literal() (string, error) {
	r.ws()
	start := r.i
	for r.i < len(r.s) {
		b := r.s[r.i]
		if b == ',' || b == '}' || b == ']' || b == ' ' || b == '\t' || b == '\n' || b == '\r' || b == ':' || b == '"' || b == '{' || b == '[' {
			break
		}
		r.i++
	}
	if r.i == start {
		return "", r.fail("expected value")
	}
	return r.s[start:r.i], nil
}

// skip passes over one value of any type and returns its raw text. Nesting is
// tracked with a counter instead of recursion so hostile input cannot grow
// the stack; bracket kinds are not matched, which only makes us lenient.
func (r *jsonReader) skip() (string, error) {
	switch r.peek() {
	case '"':
		start := r.i
		_, err := r.str()
		return r.s[start:r.i], err
	case '{', '[':
	default:
		return r.literal()
	}
	start := r.i
	depth := 0
	for r.i < len(r.s) {
		switch r.s[r.i] {
		case '{', '[':
			depth++
		case '}', ']':
			depth--
			if depth == 0 {
				r.i++
				return r.s[start:r.i], nil
			}
		case '"':
			if _, err := r.str(); err != nil {
				return "", err
			}
			continue
		}
		r.i++
	}
	return "", r.fail("unterminated value")
}

// integer reads a JSON number (or a quoted one, which some encoders produce)
// that must be an integer within [lo, hi].
func (r *jsonReader) integer(lo, hi int64) (int64, error) {
	var text string
	var err error
	if r.peek() == '"' {
		text, err = r.str()
	} else {
		text, err = r.literal()
	}
	if err != nil {
		return 0, err
	}
	if text == "null" {
		return 0, nil
	}
	v, perr := strconv.ParseInt(text, 10, 64)
	if perr != nil || v < lo || v > hi {
		return 0, r.fail("bad integer " + strconv.Quote(text))
	}
	return v, nil
}

// object iterates over the members of an object, calling fn with the reader
// positioned at each value; fn must consume it.
func (r *jsonReader) object(fn func(key string) error) error {
	if err := r.expect('{'); err != nil {
		return err
	}
	if r.peek() == '}' {
		r.i++
		return nil
	}
	for {
		key, err := r.str()
		if err != nil {
			return err
		}
		if err := r.expect(':'); err != nil {
			return err
		}
		if err := fn(key); err != nil {
			return err
		}
		switch r.peek() {
		case ',':
			r.i++
		case '}':
			r.i++
			return nil
		default:
			return r.fail("expected ',' or '}'")
		}
	}
}

func decodeJSONHeader(c *Command, s string) error {
	r := jsonReader{s: s}
	err := r.object(func(key string) error {
		var err error
		var v int64
		switch key {
		case "code":
			// 5.x codes past int16 (POP and friends, e.g. 200050) decode
			// as CodeOutOfRange with the real code in WideCode; the server
			// transport dispatches on ReceivedCode, so the codes it serves
			// are served and the rest get REQUEST_CODE_NOT_SUPPORTED.
			v, err = r.integer(math.MinInt32, math.MaxInt32)
			if v < math.MinInt16 || v > math.MaxInt16 {
				c.WideCode = int32(v)
				v = int64(CodeOutOfRange)
			}
			c.Code = int16(v)
		case "version":
			v, err = r.integer(math.MinInt16, math.MaxInt16)
			c.Version = int16(v)
		case "opaque":
			v, err = r.integer(math.MinInt32, math.MaxInt32)
			c.Opaque = int32(v)
		case "flag":
			v, err = r.integer(math.MinInt32, math.MaxInt32)
			c.Flag = int32(v)
		case "language":
			switch r.peek() {
			case '"':
				var name string
				name, err = r.str()
				c.Language = ParseLanguage(name)
			case 'n':
				_, err = r.literal() // null: keep JAVA, the zero value, as Java would
			default:
				// A number is not what Java sends, but it is unambiguous;
				// codes we do not know read as OTHER, like unknown names.
				v, err = r.integer(0, math.MaxUint8)
				c.Language = ParseLanguage(LanguageCode(v).String())
			}
		case "remark":
			if r.peek() == '"' {
				c.Remark, err = r.str()
			} else {
				_, err = r.skip() // null
			}
		case "extFields":
			if r.peek() != '{' {
				_, err = r.skip() // null
				return err
			}
			err = decodeJSONExt(&r, &c.Ext)
		default:
			_, err = r.skip() // serializeTypeCurrentRPC and anything newer
		}
		return err
	})
	if err != nil {
		return err
	}
	if r.ws(); r.i != len(r.s) {
		return r.fail("trailing data")
	}
	return nil
}

// decodeJSONExt reads the extFields object. It is the hot loop of a decode
// (a send header has over a dozen members), so it is written out rather than
// going through object's callback.
func decodeJSONExt(r *jsonReader, e *ExtFields) error {
	if err := r.expect('{'); err != nil {
		return err
	}
	// Presize from a cheap upper bound on the member count (every member has
	// a colon; a single-byte count is a vectorised scan) so the pair slice is
	// allocated once.
	if n := min(strings.Count(r.s[r.i:], ":"), maxExtFields); n > 0 && e.kv == nil {
		e.kv = make([]string, 0, 2*n)
	}
	if r.peek() == '}' {
		r.i++
		return nil
	}
	for {
		if e.Len() >= maxExtFields {
			return r.fail("too many ext fields")
		}
		key, err := r.str()
		if err != nil {
			return err
		}
		if err := r.expect(':'); err != nil {
			return err
		}
		var v string
		isNull := false
		switch r.peek() {
		case '"':
			v, err = r.str()
		case 'n':
			// null: Java omits null fields, so absent is the faithful reading.
			v, err = r.literal()
			isNull = v == "null"
		default:
			// ons sends raw numbers and booleans: keep the literal text.
			v, err = r.skip()
		}
		if err != nil {
			return err
		}
		if !isNull {
			e.add(key, v)
		}
		switch r.peek() {
		case ',':
			r.i++
		case '}':
			r.i++
			return nil
		default:
			return r.fail("expected ',' or '}'")
		}
	}
}
