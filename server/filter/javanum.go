package filter

import (
	"errors"
	"math"
	"strconv"
	"unicode"
	"unicode/utf8"
)

// Property values are strings; upstream turns them into numbers with Java's
// own parsers whenever a comparison meets a number. Go's strconv accepts a
// different language (underscores, "inf", no leading '+' in some places, no
// 'd' suffix), so these functions reproduce the Java rules that decide
// whether a value matches or makes the evaluation fail.

// parseJavaInt is Integer.parseInt (int32 true) or Long.parseLong: an
// optional '+' or '-', then at least one digit and nothing else — no spaces,
// no fraction. Like Java's Character.digit, any Unicode decimal digit of the
// Basic Multilingual Plane counts ("٤٢" is 42); Java sees characters outside
// it as surrogate pairs, which are not digits.
func parseJavaInt(s string, int32Range bool) (int64, bool) {
	if s == "" {
		return 0, false
	}
	neg := false
	i := 0
	switch s[0] {
	case '-':
		neg = true
		i++
	case '+':
		i++
	}
	if i == len(s) {
		return 0, false
	}
	limit := uint64(math.MaxInt64)
	if int32Range {
		limit = math.MaxInt32
	}
	if neg {
		limit++ // the negative range reaches one further
	}
	var mag uint64
	for i < len(s) {
		d, size := javaDigit(s[i:])
		if d < 0 {
			return 0, false
		}
		i += size
		if mag > (limit-uint64(d))/10 {
			return 0, false
		}
		mag = mag*10 + uint64(d)
	}
	if neg {
		return int64(-mag), true // -(1<<63) wraps to itself, which is right
	}
	return int64(mag), true
}

// javaDigit returns the value of the decimal digit that s starts with and
// its length in bytes, or -1.
func javaDigit(s string) (int, int) {
	if c := s[0]; c < utf8.RuneSelf {
		if isDigit(c) {
			return int(c - '0'), 1
		}
		return -1, 1
	}
	r, size := utf8.DecodeRuneInString(s)
	if r > 0xFFFF || !unicode.Is(unicode.Nd, r) {
		return -1, size
	}
	// Unicode lays decimal digits out in runs of ten, zero first, and Go's
	// table holds them as stride-1 ranges made of whole runs (a test checks).
	for _, rg := range unicode.Nd.R16 {
		if rune(rg.Lo) <= r && r <= rune(rg.Hi) {
			return int(r-rune(rg.Lo)) % 10, size
		}
	}
	return -1, size
}

// parseJavaDouble is Double.valueOf(String): surrounding characters up to
// U+0020 are trimmed; then an optional sign and "NaN", "Infinity", a decimal
// number (digits with an optional point, at least one digit, an optional
// exponent) or a hexadecimal one ("0x1.8p3", exponent required), either
// optionally followed by one of f, F, d, D.
func parseJavaDouble(s string) (float64, bool) {
	s = javaTrim(s)
	if s == "" {
		return 0, false
	}
	i := 0
	if s[0] == '+' || s[0] == '-' {
		i++
	}
	switch body := s[i:]; {
	case body == "NaN":
		return math.NaN(), true
	case body == "Infinity":
		if s[0] == '-' {
			return math.Inf(-1), true
		}
		return math.Inf(1), true
	case len(body) > 1 && body[0] == '0' && (body[1] == 'x' || body[1] == 'X'):
		return parseJavaHex(s, i+2)
	}
	j := i
	digits := 0
	for j < len(s) && isDigit(s[j]) {
		j++
		digits++
	}
	if j < len(s) && s[j] == '.' {
		j++
		for j < len(s) && isDigit(s[j]) {
			j++
			digits++
		}
	}
	if digits == 0 {
		return 0, false
	}
	if j < len(s) && (s[j] == 'e' || s[j] == 'E') {
		n := exponentLen(s, j)
		if n == 0 {
			return 0, false
		}
		j += n
	}
	return finishJavaDouble(s, j)
}

// parseJavaHex checks the rest of a hexadecimal double against Java's
// pattern 0[xX](H+\.?|H*\.H+)[pP][+-]?D+[fFdD]?; i is just past the 0x.
func parseJavaHex(s string, i int) (float64, bool) {
	digits := 0
	for i < len(s) && isHex(s[i]) {
		i++
		digits++
	}
	if i < len(s) && s[i] == '.' {
		i++
		for i < len(s) && isHex(s[i]) {
			i++
			digits++
		}
	}
	if digits == 0 || i == len(s) || (s[i] != 'p' && s[i] != 'P') {
		return 0, false
	}
	i++
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		i++
	}
	start := i
	for i < len(s) && isDigit(s[i]) {
		i++
	}
	if i == start {
		return 0, false
	}
	return finishJavaDouble(s, i)
}

// finishJavaDouble accepts one type suffix after s[:end], which is a number
// in a syntax strconv.ParseFloat shares with Java, and converts it. Both
// round correctly; a value out of range is an infinity or zero, as in Java.
func finishJavaDouble(s string, end int) (float64, bool) {
	switch rest := s[end:]; rest {
	case "", "f", "F", "d", "D":
	default:
		return 0, false
	}
	f, err := strconv.ParseFloat(s[:end], 64)
	if err != nil && !errors.Is(err, strconv.ErrRange) {
		return 0, false
	}
	return f, true
}

// javaTrim is String.trim: it drops leading and trailing characters up to
// U+0020, which are all single bytes in UTF-8.
func javaTrim(s string) string {
	for len(s) > 0 && s[0] <= ' ' {
		s = s[1:]
	}
	for len(s) > 0 && s[len(s)-1] <= ' ' {
		s = s[:len(s)-1]
	}
	return s
}

func isHex(c byte) bool { return isDigit(c) || ('a' <= c|0x20 && c|0x20 <= 'f') }

// compareDouble is Double.compare: NaN is above everything, +Inf included,
// and equal to itself; -0.0 is below 0.0.
func compareDouble(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	ab, bb := javaDoubleBits(a), javaDoubleBits(b)
	switch {
	case ab < bb:
		return -1
	case ab > bb:
		return 1
	}
	return 0
}

// javaDoubleBits is Double.doubleToLongBits: the bits, with every NaN made
// the canonical one.
func javaDoubleBits(f float64) int64 {
	if f != f {
		return 0x7ff8000000000000
	}
	return int64(math.Float64bits(f))
}

// javaBooleanValueOf is Boolean.valueOf(String): "true" in any case is
// true, anything else false.
func javaBooleanValueOf(s string) bool {
	if len(s) != 4 {
		return false
	}
	for i := 0; i < 4; i++ {
		if s[i]|0x20 != "true"[i] {
			return false
		}
	}
	return true
}
