package filter

import (
	"slices"
	"strings"
	"sync"
	"testing"
)

// Upstream references are to apache/rocketmq at 8fc57f1468d1 (2025-09-19),
// under filter/src/main/java/org/apache/rocketmq/filter/ unless a path says
// otherwise. Every case below was also checked against upstream's own
// classes run on the same expression and properties.

// outcome evaluates e and names the three-valued result, or ERR where
// upstream throws (and so does not select the message).
func outcome(e *Expr, props Properties) string {
	src := source{props: props}
	switch v := e.root.eval(&src); v.k {
	case kBool:
		if v.n != 0 {
			return "TRUE"
		}
		return "FALSE"
	case kNull:
		return "NULL"
	case kErr:
		return "ERR"
	}
	return "non-boolean result"
}

// encodeRaw encodes props the way a stored message holds them.
func encodeRaw(props Map) []byte {
	keys := make([]string, 0, len(props))
	for k := range props {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var b []byte
	for _, k := range keys {
		b = append(b, k...)
		b = append(b, nameValueSeparator)
		b = append(b, props[k]...)
		b = append(b, propertySeparator)
	}
	return b
}

type evalCase struct {
	expr  string
	props Map
	want  string // TRUE, FALSE, NULL or ERR
}

func runEvalCases(t *testing.T, cases []evalCase) {
	t.Helper()
	for _, c := range cases {
		e, err := Compile(c.expr)
		if err != nil {
			t.Errorf("Compile(%q): %v", c.expr, err)
			continue
		}
		if got := outcome(e, c.props); got != c.want {
			t.Errorf("%q on %v = %s, want %s", c.expr, c.props, got, c.want)
		}
		want := c.want == "TRUE"
		if got := e.Match(c.props); got != want {
			t.Errorf("Match(%q, %v) = %v, want %v", c.expr, c.props, got, want)
		}
		// Empty values do not survive the raw encoding (the broker drops
		// them), so compare MatchRaw only where none occurs.
		if !slices.Contains(mapValues(c.props), "") {
			if got := e.MatchRaw(encodeRaw(c.props)); got != want {
				t.Errorf("MatchRaw(%q, %v) = %v, want %v", c.expr, c.props, got, want)
			}
		}
	}
}

func mapValues(m Map) []string {
	var vs []string
	for _, v := range m {
		vs = append(vs, v)
	}
	return vs
}

var none = Map{}

var literalCases = []evalCase{
	{"TRUE", none, "TRUE"},
	{"FALSE", none, "FALSE"},
	{"NULL", none, "NULL"},
	{"true", none, "TRUE"},
	{"tRuE", none, "TRUE"},
	// ID is [a-z_$][a-z0-9_$]* with IGNORE_CASE (SelectorParser.jj:194).
	{"$x_1 = 'v'", Map{"$x_1": "v"}, "TRUE"},
	{"_a9 = 'v'", Map{"_a9": "v"}, "TRUE"},
	// Keywords ignore case, names do not: A is not a.
	{"A = '1'", Map{"a": "1"}, "NULL"},
	{"TAGS = 'TagA'", Map{"TAGS": "TagA"}, "TRUE"},
	{"now = 'x'", Map{"now": "x"}, "TRUE"}, // ParserTest.java: "a <= now" is a property
	// A quote inside a string is doubled (stringLitteral, SelectorParser.jj:522-541).
	{"a = 'it''s'", Map{"a": "it's"}, "TRUE"},
	{"a = ''''", Map{"a": "'"}, "TRUE"},
	{"a = ''''''", Map{"a": "''"}, "TRUE"},
	{"TAGS = '''''tag'''''", Map{"TAGS": "''tag''"}, "TRUE"}, // ExpressionTest.java:47
	{"a = ''", Map{"a": ""}, "TRUE"},
	{"a = 'x\\y'", Map{"a": `x\y`}, "TRUE"}, // backslash is an ordinary character
	{"a = 'h\u00e9llo\nw\u00f6rld'", Map{"a": "h\u00e9llo\nw\u00f6rld"}, "TRUE"},
	// Comments and white space.
	{"/* c */ a = 'x' /* d */", Map{"a": "x"}, "TRUE"},
	{"-- c\na = 'x'", Map{"a": "x"}, "TRUE"},
	{"a = 'x' -- no line break", Map{"a": "x"}, "TRUE"},
	{"a\t=\r\n'x'\f", Map{"a": "x"}, "TRUE"},
	// Without a line break "--" is two minus signs (LINE_COMMENT,
	// SelectorParser.jj:152): a > -(-5).
	{"a > --5", Map{"a": "6"}, "TRUE"},
}

func TestLiteralsAndNames(t *testing.T) { runEvalCases(t, literalCases) }

var numericCases = []evalCase{
	// A property meeting an int literal is read with Integer.valueOf
	// (ComparisonExpression.__compare, ComparisonExpression.java:621-631).
	{"a > 5", Map{"a": "10"}, "TRUE"},
	{"a > 5", Map{"a": "5"}, "FALSE"},
	{"a > 5", Map{"a": "-7"}, "FALSE"},
	{"a > 5", Map{"a": "+6"}, "TRUE"},
	{"a > 5", Map{"a": "\u0666"}, "TRUE"}, // Arabic-Indic 6: Character.digit accepts it
	{"a > 5", Map{"a": "abc"}, "ERR"},
	{"a > 5", Map{"a": "1.5"}, "ERR"},
	{"a > 5", Map{"a": " 6"}, "ERR"},
	{"a > 5", Map{"a": "3000000000"}, "ERR"}, // beyond Integer
	{"a > 5", none, "NULL"},
	{"a >= 5", Map{"a": "5"}, "TRUE"},
	{"a < 5", Map{"a": "4"}, "TRUE"},
	{"a <= 5", Map{"a": "6"}, "FALSE"},
	{"a = 5", Map{"a": "05"}, "TRUE"},
	{"a = 5", Map{"a": "5.0"}, "ERR"},
	{"a <> 5", Map{"a": "5"}, "FALSE"},
	{"a <> 5", Map{"a": "6"}, "TRUE"},
	{"5 < a", Map{"a": "6"}, "TRUE"},
	// L only strips; a value beyond int makes a Long literal
	// (ConstantExpression.createFromDecimal, ConstantExpression.java:39-54).
	{"a > 5L", Map{"a": "3000000000"}, "ERR"},
	{"a > 3000000000", Map{"a": "3000000001"}, "TRUE"},
	{"a > 3000000000", Map{"a": "1.5"}, "ERR"},
	{"a = 9223372036854775807", Map{"a": "9223372036854775807"}, "TRUE"},
	// A float literal reads the property with Double.valueOf, which
	// trims, takes suffixes, hex, NaN and Infinity.
	{"a > 4.5", Map{"a": "5"}, "TRUE"},
	{"a > 4.5", Map{"a": "1e1"}, "TRUE"},
	{"a > 4.5", Map{"a": " 5 "}, "TRUE"},
	{"a > 4.5", Map{"a": "5d"}, "TRUE"},
	{"a > 4.5", Map{"a": "0x1p3"}, "TRUE"},
	{"a > 4.5", Map{"a": "NaN"}, "TRUE"}, // Double.compareTo puts NaN above all
	{"a < 4.5", Map{"a": "-Infinity"}, "TRUE"},
	{"a > 4.5", Map{"a": "abc"}, "ERR"},
	{"a > 4.5", Map{"a": "1_0"}, "ERR"},
	{"a > 3.1E10", Map{"a": "31415000000"}, "TRUE"}, // ExpressionTest.java:516-524
	{"a < 1e-3", Map{"a": "0.0001"}, "TRUE"},
	{"a = 1.5E0", Map{"a": "1.50"}, "TRUE"},
	{"a = .5", Map{"a": "0.5"}, "TRUE"},
	{"a = 5.", Map{"a": "5"}, "TRUE"},
	// Negative numbers are negations.
	{"a > -5", Map{"a": "-4"}, "TRUE"},
	{"a > -4.5", Map{"a": "-4"}, "TRUE"},
	{"a > +5", Map{"a": "6"}, "TRUE"},
	{"a > -b", Map{"a": "1", "b": "1"}, "NULL"}, // a string negates to NULL (UnaryExpression.java:54-73)
	{"-a IS NULL", Map{"a": "1"}, "TRUE"},
	// Two properties are ordered as doubles (ComparisonExpression.java:509-525).
	{"a > b", Map{"a": "10", "b": "9"}, "TRUE"}, // numerically, not as text
	{"a > b", Map{"a": "10", "b": "20"}, "FALSE"},
	{"a > b", Map{"a": "x", "b": "1"}, "ERR"},
	{"a > b", Map{"a": "0.0", "b": "-0.0"}, "TRUE"}, // Double.compare
	// Literals of different types widen.
	{"5 = 5.0", none, "TRUE"},
	{"5 = 5L", none, "TRUE"},
	{"2147483648 > 5", none, "TRUE"},
	{"'5' = 5", none, "TRUE"}, // a string literal converts like a property
}

func TestNumericComparisons(t *testing.T) { runEvalCases(t, numericCases) }

var stringBoolCases = []evalCase{
	{"a = 'x'", Map{"a": "x"}, "TRUE"},
	{"a = 'x'", Map{"a": "X"}, "FALSE"},
	{"a = '5'", Map{"a": "5.0"}, "FALSE"}, // two strings: no conversion
	{"a <> 'x'", Map{"a": "y"}, "TRUE"},
	{"a = b", Map{"a": "3.14", "b": "3.14"}, "TRUE"}, // ExpressionTest.java:481-490
	{"a <> b", Map{"a": "3.14", "b": "3.141"}, "TRUE"},
	// doCreateEqual's lopsided NULLs (ComparisonExpression.java:371-380).
	{"a = 'x'", none, "NULL"},
	{"a <> 'x'", none, "NULL"},
	{"'x' = a", none, "FALSE"},
	{"'x' <> a", none, "TRUE"},
	{"a = b", none, "TRUE"},
	{"a <> b", none, "FALSE"},
	{"a = b", Map{"b": "1"}, "NULL"},
	{"a = b", Map{"a": "1"}, "FALSE"},
	// Boolean.valueOf: "true" in any case, anything else is false.
	{"a = TRUE", Map{"a": "true"}, "TRUE"},
	{"a = TRUE", Map{"a": "TRUE"}, "TRUE"},
	{"a = TRUE", Map{"a": "yes"}, "FALSE"},
	{"a = FALSE", Map{"a": "yes"}, "TRUE"},
	{"a=TRUE OR b=FALSE", Map{"a": "false", "b": "true"}, "FALSE"}, // ExpressionTest.java:583-599
	// A boolean on the left of a string: upstream casts the wrong
	// operand and throws (ComparisonExpression.java:537-539).
	{"TRUE = a", Map{"a": "true"}, "ERR"},
	{"(a > 1) = 'x'", Map{"a": "2"}, "ERR"},
	{"'x' = TRUE", none, "FALSE"},
	{"'true' = TRUE", none, "TRUE"},
	// Other mixes compare as "less": never equal.
	{"5 = TRUE", none, "FALSE"},
	{"(a > 1) = 5", Map{"a": "2"}, "FALSE"},
	{"(a > 1) = TRUE", Map{"a": "2"}, "TRUE"},
	{"(a > 1) = (b > 1)", Map{"a": "2", "b": "0"}, "FALSE"},
}

func TestStringsAndBooleans(t *testing.T) { runEvalCases(t, stringBoolCases) }

var logicCases = []evalCase{
	{"a IS NULL", none, "TRUE"},
	{"a IS NULL", Map{"a": "2"}, "FALSE"},
	{"a IS NOT NULL", Map{"a": "2"}, "TRUE"},
	{"a IS NOT NULL", none, "FALSE"},
	{"NULL IS NULL", none, "TRUE"},
	{"5 IS NOT NULL", none, "TRUE"},
	{"(a > 5) IS NULL", none, "TRUE"},
	{"a IS NULL IS NULL", none, "FALSE"},
	{"NOT NULL", none, "NULL"},
	// Three-valued AND and OR (LogicExpression.java:36-85).
	{"NULL AND FALSE", none, "FALSE"},
	{"FALSE AND NULL", none, "FALSE"},
	{"NULL AND TRUE", none, "NULL"},
	{"NULL OR TRUE", none, "TRUE"},
	{"TRUE OR NULL", none, "TRUE"},
	{"NULL OR FALSE", none, "NULL"},
	{"a = 'x' OR b = 'y'", Map{"b": "y"}, "TRUE"},
	{"a = 'x' AND b = 'y'", Map{"b": "y"}, "NULL"},
	{"NOT (a = 'x')", none, "NULL"},
	{"a IS NULL OR a='hello'", none, "TRUE"}, // ExpressionTest.java:561-580
	{"a IS NULL OR a='hello'", Map{"a": "abc"}, "FALSE"},
	// A bare property is a condition that is never TRUE
	// (UnaryExpression.createBooleanCast, UnaryExpression.java:172-196).
	{"a", Map{"a": "true"}, "FALSE"},
	{"a", none, "NULL"},
	{"NOT a", Map{"a": "x"}, "TRUE"},
	{"a OR TRUE", none, "TRUE"},
	// Precedence: AND over OR, parentheses over both.
	{"TRUE OR TRUE AND FALSE", none, "TRUE"},
	{"(TRUE OR TRUE) AND FALSE", none, "FALSE"},
	{"FALSE AND FALSE OR TRUE", none, "TRUE"},
	{"a = 'x' OR b = 'y' AND c = 'z'", Map{"a": "x"}, "TRUE"},
	{"(a = 'x' OR b = 'y') AND c = 'z'", Map{"a": "x"}, "NULL"},
	// NOT is a unary operator (SelectorParser.jj:420-446): it binds
	// tighter than AND and than comparisons.
	{"NOT FALSE AND FALSE", none, "FALSE"},
	{"NOT (FALSE AND FALSE)", none, "TRUE"},
	{"NOT NOT TRUE", none, "TRUE"},
	{"NOT a = 'x'", Map{"a": "y"}, "ERR"}, // (NOT a) = 'x': TRUE = 'x' throws
	{"NOT a = 'x'", none, "NULL"},
	{"NOT (a = 'x')", Map{"a": "y"}, "TRUE"},
	// An error aborts the whole evaluation; only short cuts avoid it
	// (ExpressionMessageFilter.java:143-158 in broker/).
	{"a > 5 OR b = 'x'", Map{"a": "abc", "b": "x"}, "ERR"},
	{"b = 'x' OR a > 5", Map{"a": "abc", "b": "x"}, "TRUE"},
	{"b = 'y' AND a > 5", Map{"a": "abc", "b": "x"}, "FALSE"},
	{"a > 5 AND b = 'y'", Map{"a": "abc", "b": "x"}, "ERR"},
	{"NOT (a > 5)", Map{"a": "abc"}, "ERR"},
	{"a > 5 IS NULL", Map{"a": "abc"}, "ERR"},
	// The right side of an ordering is skipped after a NULL on the left.
	{"a > -(b > 5)", Map{"b": "abc"}, "NULL"},
	{"a > -(b > 5)", Map{"a": "1", "b": "abc"}, "ERR"},
	// Long chains are one flat node, same results.
	{strings.Repeat("a = 'x' OR ", 999) + "b = 'y'", Map{"b": "y"}, "TRUE"},
	{strings.Repeat("a IS NULL AND ", 999) + "b = 'y'", Map{"b": "z"}, "FALSE"},
	{"(a = '1' OR (b = '2' OR c = '3')) OR (d = '4')", Map{"c": "3"}, "TRUE"},
	{"(a = '1' OR (b = '2' OR c = '3')) OR (d = '4')", Map{"a": "0"}, "NULL"},
}

func TestNullAndLogic(t *testing.T) { runEvalCases(t, logicCases) }

var betweenInCases = []evalCase{
	// BETWEEN is >= AND <=; NOT BETWEEN is < OR > (ComparisonExpression.java:48-70).
	{"a BETWEEN 2 AND 10", Map{"a": "2"}, "TRUE"},
	{"a BETWEEN 2 AND 10", Map{"a": "10"}, "TRUE"},
	{"a BETWEEN 2 AND 10", Map{"a": "1"}, "FALSE"},
	{"a BETWEEN 2 AND 10", Map{"a": "11"}, "FALSE"},
	{"a BETWEEN 2 AND 10", none, "NULL"},
	{"a between 0 and 100", Map{"a": "abc"}, "ERR"}, // ExpressionTest.java:471-479
	{"a BETWEEN 1.5 AND 2.5", Map{"a": "2"}, "TRUE"},
	{"a BETWEEN b AND c", Map{"a": "2", "b": "1", "c": "3"}, "TRUE"},
	{"a BETWEEN -1 AND -5", Map{"a": "-3"}, "FALSE"}, // compiles: bounds are not literals
	{"a BETWEEN 5 AND 5", Map{"a": "5"}, "TRUE"},
	{"a NOT BETWEEN 2 AND 10", Map{"a": "1"}, "TRUE"},
	{"a NOT BETWEEN 2 AND 10", Map{"a": "5"}, "FALSE"},
	{"a NOT BETWEEN 2 AND 10", none, "NULL"},
	{"a NOT BETWEEN 5 AND 1", Map{"a": "3"}, "TRUE"}, // only BETWEEN checks its bounds
	{"a BETWEEN 1 AND 3 AND b = 'x'", Map{"a": "2", "b": "x"}, "TRUE"},
	// IN lists hold strings and compare as strings (UnaryExpression.java:75-107).
	{"a IN ('3', '4', '5')", Map{"a": "4"}, "TRUE"},
	{"a IN ('3', '4', '5')", Map{"a": "8"}, "FALSE"},
	{"a IN ('3', '4', '5')", Map{"a": "04"}, "FALSE"},
	{"a IN ('3', '4', '5')", none, "NULL"},
	{"a NOT IN ('3', '4', '5')", Map{"a": "8"}, "TRUE"},
	{"a NOT IN ('3', '4', '5')", Map{"a": "3"}, "FALSE"},
	{"a NOT IN ('3', '4', '5')", none, "NULL"},
	{"a IN ('it''s')", Map{"a": "it's"}, "TRUE"},
	{"a IN ('')", Map{"a": ""}, "TRUE"},
	{"(a) IN ('x')", Map{"a": "x"}, "TRUE"},
	{"a IN ('0','1','2','3','4','5','6','7','8','9')", Map{"a": "7"}, "TRUE"}, // the map form
	{"a IN ('0','1','2','3','4','5','6','7','8','9')", Map{"a": "x"}, "FALSE"},
	{"a NOT IN ('0','1','2','3','4','5','6','7','8','9')", Map{"a": "x"}, "TRUE"},
	// CONTAINS and friends are FALSE, in both forms, for an absent or
	// non-string operand and for an empty search (ComparisonExpression.java:72-322).
	{"value contains 'x'", Map{"value": "axb"}, "TRUE"},
	{"value startswith 'ax'", Map{"value": "axb"}, "TRUE"},
	{"value endswith 'xb'", Map{"value": "axb"}, "TRUE"},
	{"value not contains 'x'", Map{"value": "axb"}, "FALSE"},
	{"value not startswith 'x'", Map{"value": "abb"}, "TRUE"},
	{"value not endswith 'x'", Map{"value": "abb"}, "TRUE"},
	{"value contains 'x'", none, "FALSE"},
	{"value not contains 'x'", none, "FALSE"},
	{"value not startswith 'x'", none, "FALSE"},
	{"value not endswith 'x'", none, "FALSE"},
	{"NOT (value NOT CONTAINS 'x')", none, "TRUE"},
	{"NOT (value CONTAINS 'x')", none, "TRUE"},
	{"value contains ''", Map{"value": "axb"}, "FALSE"},
	{"value not contains ''", Map{"value": "axb"}, "FALSE"},
	{"value not endswith ''", Map{"value": "axb"}, "FALSE"},
	{"'axb' contains 'x'", none, "TRUE"}, // ExpressionTest.java:249-256
	{"' ' startswith ' '", none, "TRUE"},
	{"'s' contains '\\'", none, "FALSE"},
	{"5 CONTAINS '5'", none, "FALSE"},
	{"(a > 1) NOT CONTAINS 'x'", Map{"a": "2"}, "FALSE"},
	{"(a > 1) CONTAINS 'x'", Map{"a": "abc"}, "ERR"},
	{"a CONTAINS ''", Map{"a": "abc"}, "FALSE"},
	{"a CONTAINS 'b' CONTAINS 'c'", Map{"a": "abc"}, "FALSE"}, // left is a boolean
	{"a not in ('4', '4', '5') and b between 3 and 10 and c not contains 'axbc'",
		Map{"a": "3", "b": "3", "c": "axbdc"}, "TRUE"}, // ExpressionTest.java:382-391
}

func TestBetweenInAndSubstrings(t *testing.T) { runEvalCases(t, betweenInCases) }

var keywordCases = []evalCase{
	{"a In ('x') aNd b iS nOt NuLl oR FaLsE", Map{"a": "x", "b": "1"}, "TRUE"},
	{"a nOt BeTwEeN 1 aNd 2", Map{"a": "3"}, "TRUE"},
	{"a Contains 'x' AND a StartsWith 'x' AND a EndsWith 'x'", Map{"a": "x"}, "TRUE"},
	{"a=3 and b<>4 And c>5 AND d<=4", Map{"a": "3", "b": "5", "c": "6", "d": "1"}, "TRUE"}, // ExpressionTest.java:617-648
	{"a=3 or b<>4 Or c>5 OR d<=4", Map{"a": "4", "b": "4", "c": "3", "d": "10"}, "FALSE"},
	{"notes = 'x' AND index = 'y' AND isx = 'z'", Map{"notes": "x", "index": "y", "isx": "z"}, "TRUE"}, // longer than a keyword: a name
}

func TestKeywordsIgnoreCase(t *testing.T) { runEvalCases(t, keywordCases) }

func TestMatchNilProperties(t *testing.T) {
	e := mustCompile(t, "a IS NULL AND NOT (b IS NOT NULL)")
	if !e.Match(nil) || !e.MatchRaw(nil) || !e.MatchRaw([]byte{}) {
		t.Error("nil and empty properties must behave as no properties")
	}
	if got := e.String(); got != "a IS NULL AND NOT (b IS NOT NULL)" {
		t.Errorf("String() = %q", got)
	}
}

// TestConcurrentMatch runs one Expr from many goroutines; with -race it
// checks that matching does not write shared state.
func TestConcurrentMatch(t *testing.T) {
	e := mustCompile(t, benchExpr+" OR d IN ('0','1','2','3','4','5','6','7','8','9')")
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 2000 {
				want := (g+i)%2 == 0
				a := "1"
				if want {
					a = "10"
				}
				props := Map{"a": a, "b": "x"}
				if e.Match(props) != want || e.MatchRaw(encodeRaw(props)) != want {
					t.Errorf("wrong result for a=%s", a)
					return
				}
			}
		}()
	}
	wg.Wait()
}
