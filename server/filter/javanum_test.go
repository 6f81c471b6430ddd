package filter

import (
	"math"
	"testing"
	"unicode"
)

// The expectations below are what Java 17's Integer.parseInt, Long.parseLong
// and Double.valueOf return for the same strings.

func TestParseJavaInt(t *testing.T) {
	cases := []struct {
		s        string
		int32    bool
		want     int64
		ok       bool
		describe string
	}{
		{"5", true, 5, true, ""},
		{"+5", true, 5, true, "leading plus"},
		{"-5", true, -5, true, ""},
		{"007", true, 7, true, "leading zeros"},
		{"2147483647", true, math.MaxInt32, true, ""},
		{"-2147483648", true, math.MinInt32, true, ""},
		{"2147483648", true, 0, false, "int overflow"},
		{"-2147483649", true, 0, false, ""},
		{"2147483648", false, 2147483648, true, "fits a long"},
		{"9223372036854775807", false, math.MaxInt64, true, ""},
		{"-9223372036854775808", false, math.MinInt64, true, ""},
		{"9223372036854775808", false, 0, false, "long overflow"},
		{"99999999999999999999", false, 0, false, ""},
		{"", true, 0, false, "empty"},
		{"+", true, 0, false, "sign alone"},
		{"-", true, 0, false, ""},
		{"+-5", true, 0, false, ""},
		{" 5", true, 0, false, "no trimming"},
		{"5 ", true, 0, false, ""},
		{"5.0", true, 0, false, "no fraction"},
		{"1e3", true, 0, false, ""},
		{"0x10", true, 0, false, ""},
		{"5L", false, 0, false, "no suffix"},
		{"\u0664\u0662", true, 42, true, "Arabic-Indic digits"},
		{"\uff11\uff12", true, 12, true, "fullwidth digits"},
		{"\u09e9", true, 3, true, "Bengali three"},
		{"\U0001D7CF", true, 0, false, "outside the BMP: a surrogate pair in Java"},
		{"\u00bd", true, 0, false, "a number, not a decimal digit"},
		{"\xff", true, 0, false, "invalid UTF-8"},
	}
	for _, c := range cases {
		got, ok := parseJavaInt(c.s, c.int32)
		if ok != c.ok || (ok && got != c.want) {
			t.Errorf("parseJavaInt(%q, %v) = %d, %v; want %d, %v (%s)", c.s, c.int32, got, ok, c.want, c.ok, c.describe)
		}
	}
}

func TestParseJavaDouble(t *testing.T) {
	cases := []struct {
		s    string
		want float64
		ok   bool
	}{
		{"1.5", 1.5, true},
		{"  1.5\t\n", 1.5, true}, // trimmed
		{"\x001.5\x1f", 1.5, true},
		{"\u00a01.5", 0, false}, // only characters up to U+0020 are trimmed
		{"+1.5", 1.5, true},
		{"-1.5", -1.5, true},
		{"1.", 1, true},
		{".5", 0.5, true},
		{"+.5", 0.5, true},
		{".", 0, false},
		{"1..5", 0, false},
		{"1e3", 1000, true},
		{"1E+3", 1000, true},
		{"1.e-3", 0.001, true},
		{"1e", 0, false},
		{"1e+", 0, false},
		{"e3", 0, false},
		{"1.5f", 1.5, true},
		{"1.5D", 1.5, true},
		{"1d", 1, true},
		{"1.5ff", 0, false},
		{"1.5L", 0, false},
		{"1_000", 0, false},
		{"1,5", 0, false},
		{"0x1p3", 8, true},
		{"0X1.8P1", 3, true},
		{"-0x.8p1", -1, true},
		{"0x1.p1", 2, true},
		{"0x1p3d", 8, true},
		{"0x1", 0, false}, // the exponent is required
		{"0xp1", 0, false},
		{"0x1p", 0, false},
		{"0x1_0p0", 0, false},
		{"Infinity", math.Inf(1), true},
		{"-Infinity", math.Inf(-1), true},
		{"+Infinity", math.Inf(1), true},
		{"infinity", 0, false},
		{"Inf", 0, false},
		{"Infinityf", 0, false},
		{"1e400", math.Inf(1), true},
		{"-1e400", math.Inf(-1), true},
		{"1e-400", 0, true},
		{"4.9e-324", math.SmallestNonzeroFloat64, true},
		{"", 0, false},
		{"   ", 0, false},
		{"abc", 0, false},
		{"\u0663", 0, false}, // unlike the integer parsers, ASCII digits only
	}
	for _, c := range cases {
		got, ok := parseJavaDouble(c.s)
		if ok != c.ok || (ok && got != c.want) {
			t.Errorf("parseJavaDouble(%q) = %v, %v; want %v, %v", c.s, got, ok, c.want, c.ok)
		}
	}
	for _, s := range []string{"NaN", "+NaN", "-NaN", " NaN "} {
		if f, ok := parseJavaDouble(s); !ok || !math.IsNaN(f) {
			t.Errorf("parseJavaDouble(%q) = %v, %v; want NaN", s, f, ok)
		}
	}
	for _, s := range []string{"nan", "NaNd", "NaN1"} {
		if _, ok := parseJavaDouble(s); ok {
			t.Errorf("parseJavaDouble(%q) succeeded", s)
		}
	}
}

func TestCompareDouble(t *testing.T) {
	nan, inf := math.NaN(), math.Inf(1)
	negZero := math.Copysign(0, -1)
	cases := []struct {
		a, b float64
		want int
	}{
		{1, 2, -1}, {2, 1, 1}, {1, 1, 0},
		{nan, inf, 1}, {inf, nan, -1}, {nan, nan, 0},
		{negZero, 0, -1}, {0, negZero, 1}, {negZero, negZero, 0},
		{math.Inf(-1), -math.MaxFloat64, -1},
	}
	for _, c := range cases {
		if got := compareDouble(c.a, c.b); got != c.want {
			t.Errorf("compareDouble(%v, %v) = %d, want %d", c.a, c.b, got, c.want)
		}
	}
}

func TestJavaBooleanValueOf(t *testing.T) {
	for s, want := range map[string]bool{"true": true, "TRUE": true, "tRuE": true, "true ": false, "yes": false, "1": false, "": false, "tru\u00e9": false} {
		if got := javaBooleanValueOf(s); got != want {
			t.Errorf("javaBooleanValueOf(%q) = %v", s, got)
		}
	}
}

// TestDigitTable checks the layout javaDigit relies on: decimal digits come
// as stride-1 ranges of whole runs of ten, each starting at a zero.
func TestDigitTable(t *testing.T) {
	for _, r := range unicode.Nd.R16 {
		if r.Stride != 1 || (int(r.Hi)-int(r.Lo)+1)%10 != 0 {
			t.Errorf("unicode.Nd range %+v is not whole runs of ten", r)
		}
		for c := rune(r.Lo); c <= rune(r.Hi); c++ {
			if d, _ := javaDigit(string(c)); d != int(c-rune(r.Lo))%10 {
				t.Errorf("javaDigit(%U) = %d", c, d)
			}
		}
	}
}
