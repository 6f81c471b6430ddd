package filter

import (
	"errors"
	"testing"
)

// fuzzProps are the property sets every compiled expression is matched
// against; their values hit the conversion paths (ints, longs, doubles,
// booleans, junk) for the names a fuzzer is most likely to produce.
var fuzzProps = []Map{
	{},
	{"a": "10", "b": "x", "c": "p"},
	{"a": "abc", "b": "3000000000", "c": "1.5", "TAGS": "TagA"},
	{"a": "NaN", "b": "true", "c": "-0.0", "x": " 7 ", "A": "0x1p3"},
	{"a": "\u0663", "b": "'", "c": "", "d": "Infinity", "e": "1e400"},
}

func FuzzCompile(f *testing.F) {
	for _, c := range [][]evalCase{literalCases, numericCases, stringBoolCases, logicCases, betweenInCases, keywordCases} {
		for _, x := range c {
			if len(x.expr) < 200 {
				f.Add(x.expr)
			}
		}
	}
	for _, x := range syntaxErrorCases {
		f.Add(x.expr)
	}
	f.Fuzz(func(t *testing.T, expr string) {
		e, err := Compile(expr)
		if err != nil {
			var se *SyntaxError
			if !errors.Is(err, ErrSyntax) || !errors.As(err, &se) {
				t.Fatalf("Compile(%q): %v is not a *SyntaxError wrapping ErrSyntax", expr, err)
			}
			if se.Offset < 0 || se.Offset > len(expr) {
				t.Fatalf("Compile(%q): offset %d outside the expression", expr, se.Offset)
			}
			return
		}
		if e.String() != expr {
			t.Fatalf("String() = %q, want %q", e.String(), expr)
		}
		e.Match(nil)
		for _, props := range fuzzProps {
			e.Match(props)
			// MatchRaw must read the encoded properties as the broker
			// decodes them (which drops empty values).
			raw := encodeRaw(props)
			if got, want := e.MatchRaw(raw), e.Match(Map(decodeLikeBroker(string(raw)))); got != want {
				t.Fatalf("%q: MatchRaw = %v, Match = %v on %q", expr, got, want, raw)
			}
		}
	})
}
