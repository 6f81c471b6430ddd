package filter

import (
	"errors"
	"strings"
	"testing"
)

type syntaxCase struct {
	expr   string
	offset int // where the error must point; -1 to skip the check
	// upstreamAccepts marks the one deliberate difference: upstream ignores
	// input after a complete expression (JmsSelector has no <EOF>,
	// SelectorParser.jj:200-212), Compile rejects it.
	upstreamAccepts bool
}

var syntaxErrorCases = []syntaxCase{
	// Nothing to parse.
	{"", 0, false},
	{"   \t\n", 5, false},
	{"-- only a comment\n", 18, false},
	{"/* only a comment */", 20, false},
	// Broken tokens.
	{"'abc", 0, false},
	{"a = 'abc", 4, false},
	{"a = 'it''s", 8, false}, // 'it' then an unterminated 's
	{"/* unterminated", 0, false},
	{"a = 1 /* unterminated", 6, false},
	{"a > --5\n", 8, false}, // here "--5" is a comment, leaving "a >"
	// Characters that are no token: no !=, ==, &&, arithmetic, dots or
	// double quotes (the token list, SelectorParserConstants.java).
	{"a != 1", 2, false},
	{"a == 1", 3, false},
	{"a = 1 && b = 2", 6, false},
	{"a # 1", 2, false},
	{"a.b = 1", 1, false},
	{"\u00e9 = 1", 0, false},
	{"a = \"x\"", 4, false},
	{"a * 2 > 1", 2, false},
	{"a / 2 > 1", 2, false},
	{"a % 2 = 1", 2, false},
	{"a = 1 ; b = 2", 6, false},
	{"a = 1\v", 5, false}, // vertical tab is not white space upstream
	// Dangling or misplaced operators.
	{"a =", 3, false},
	{"a = 1 AND", 9, false},
	{"AND a = 1", 0, false},
	{"a = 1 OR OR b = 2", 9, false},
	{"a >", 3, false},
	{"= 1", 0, false},
	{"a BETWEEN 1", 11, false},
	{"a BETWEEN 1 AND", 15, false},
	{"a BETWEEN 1 OR 2", 12, false},
	{"a IN", 4, false},
	{"a IN ()", 6, false},
	{"a IN (1)", 6, false},
	{"a IN ('x',)", 10, false},
	{"a IN ('x' 'y')", 10, false},
	{"a IN 'x'", 5, false},
	{"a IS", 4, false},
	{"a IS NOT", 8, false},
	{"a IS 5", 5, false},
	{"a NOT", 5, false},
	{"a NOT LIKE 'x%'", 6, false},
	{"a NOT = 1", 6, false},
	{"a CONTAINS", 10, false},
	{"a CONTAINS b", 11, false},
	{"a CONTAINS 5", 11, false},     // ExpressionTest.java:224-234
	{"a NOT CONTAINS x", 15, false}, // ExpressionTest.java:212-222
	{"(a = 1", 6, false},
	{"((a = 1)", 8, false},
	{"()", 1, false},
	{"a and between 2 and 10", 6, false}, // ParserTest.java:44
	{"NOT", 3, false},
	{"-", 1, false},
	{"+", 1, false},
	// Trailing input: rejected here, ignored upstream.
	{"a = 1 b", 6, true},
	{"a = 1 )", 6, true},
	{"a = 1 b = 2", 6, true},
	{"a - 2 > 5", 2, true}, // upstream reads this as "a"
	{"a = b + 1", 6, true}, // upstream reads this as "a = b"
	{"a LIKE 'x%'", 2, true},
	{"a = 007", 5, true},      // "0" then "07": only 0 may start with 0
	{"a = 0L", 5, true},       // "0" then the name L
	{"a = 1 'x'", 6, true},    // a complete string literal after the end
	{"a = 'b' 'c''", 8, true}, // 'c' then a stray quote, never lexed upstream
	// Type checks upstream makes while parsing.
	{"5", 0, false}, // asBooleanExpression
	{"'x'", 0, false},
	{"-a", 0, false},
	{"5 AND TRUE", 0, false},
	{"TRUE OR 'x'", 8, false},
	{"NOT 5", 4, false},
	{"a > 'x'", 4, false},  // checkLessThanOperand, ComparisonExpression.java:459-472
	{"a > +'x'", 5, false}, // unary plus keeps the literal a literal
	{"a > TRUE", 4, false}, //
	{"a > NULL", 4, false}, //
	{"'x' < a", 0, false},  //
	{"a > (b > 1)", 5, false},
	{"NOT a > 5", 0, false}, // (NOT a) > 5: NOT binds tighter
	{"NOT a BETWEEN 1 AND 2", 0, false},
	{"a BETWEEN 'a' AND 'b'", 10, false},
	{"a BETWEEN TRUE AND TRUE", 10, false},
	{"a = NULL", 2, false}, // checkEqualOperand, ComparisonExpression.java:478-485
	{"NULL = a", 5, false},
	{"a <> NULL", 2, false},
	{"TRUE = 'x'", 5, false}, // checkEqualOperandCompatability, ComparisonExpression.java:491-497
	{"TRUE = 5", 5, false},
	{"FALSE <> 1.5", 6, false},
	{"a BETWEEN 10 AND 0", 2, false}, // ParserTest.java:45; createBetween, ComparisonExpression.java:48-63
	{"a BETWEEN 1.5 AND 1", 2, false},
	{"a BETWEEN NULL AND 5", 2, false},
	{"'x' IN ('x')", 4, false}, // createInFilter wants a property, ComparisonExpression.java:325-342
	{"NOT a IN ('x')", 6, false},
	{"-a IN ('x')", 3, false},
	// Literal ranges: ConstantExpression.java:39-65.
	{"a > 9223372036854775808", 4, false}, // ParserTest.java:62-72
	{"a > 100000000000000000000000", 4, false},
	{"a > 1e400", 4, false},
	{"a > 0.0", 4, false}, // below Double.MIN_VALUE
	{"a > 0e5", 4, false},
	{"a > 1e-400", 4, false},
	{"a > 2e-324", 4, false},
}

func TestSyntaxErrors(t *testing.T) {
	for _, c := range syntaxErrorCases {
		e, err := Compile(c.expr)
		if err == nil {
			t.Errorf("Compile(%q) = %v, want an error", c.expr, e.root)
			continue
		}
		if !errors.Is(err, ErrSyntax) {
			t.Errorf("Compile(%q): %v does not wrap ErrSyntax", c.expr, err)
		}
		var se *SyntaxError
		if !errors.As(err, &se) {
			t.Errorf("Compile(%q): %T is not a *SyntaxError", c.expr, err)
			continue
		}
		if c.offset >= 0 && se.Offset != c.offset {
			t.Errorf("Compile(%q): offset %d, want %d (%v)", c.expr, se.Offset, c.offset, err)
		}
		if trailing := strings.Contains(se.Msg, "after a complete expression"); trailing != c.upstreamAccepts {
			t.Errorf("Compile(%q): %v; trailing-input error = %v, want %v", c.expr, err, trailing, c.upstreamAccepts)
		}
	}
}

func TestSyntaxErrorMessage(t *testing.T) {
	_, err := Compile("a = 1 b")
	const want = `filter: invalid SQL92 expression at offset 6: unexpected "b" after a complete expression`
	if err == nil || err.Error() != want {
		t.Errorf("error = %v, want %s", err, want)
	}
	_, err = Compile("a > 'x'")
	if err == nil || !strings.Contains(err.Error(), "only numbers and properties") {
		t.Errorf("error = %v", err)
	}
	_, err = Compile("NOT a > 5")
	if err == nil || !strings.Contains(err.Error(), "NOT (a > 1)") {
		t.Errorf("error for NOT precedence should suggest parentheses: %v", err)
	}
}

// TestUpstreamValid compiles the valid expressions of upstream's
// ParserTest.java:32-43 and the examples of the brief.
func TestUpstreamValid(t *testing.T) {
	for _, expr := range []string{
		"a=3 and b<>4 And c>5 AND d<=4",
		"a=3  and    b<>4 And c>5 AND d<=4",
		"a=3 or b<>4 Or c>5 OR d<=4",
		"a in ('3', '4', '5')",
		"(a not in ('6', '4', '5')) or (b in ('3', '4', '5'))",
		"(a between 2 and 10) AND (b not between 6 and 9)",
		"a is null",
		"a is not null",
		"a <= now",
		"a=3 and b contains 'xxx' and c not contains 'xxx'",
		"a > 5 AND b = 'x' OR c IN ('p','q')",
		"TAGS is not null and TAGS='''''tag'''''",
		"a = 1 -- trailing comment without a line break",
		"a = 1 --",
		"a BETWEEN -5 AND -1",
		"a BETWEEN (1) AND +2",
	} {
		if _, err := Compile(expr); err != nil {
			t.Errorf("Compile(%q): %v", expr, err)
		}
	}
}

func TestLimits(t *testing.T) {
	expectSyntax := func(name, expr string) {
		t.Helper()
		if _, err := Compile(expr); !errors.Is(err, ErrSyntax) {
			t.Errorf("%s: err = %v, want ErrSyntax", name, err)
		}
	}
	expectOK := func(name, expr string) {
		t.Helper()
		if _, err := Compile(expr); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	nest := func(open, core, close string, n int) string {
		return strings.Repeat(open, n) + core + strings.Repeat(close, n)
	}

	long := "a IN (" + strings.Repeat("'x', ", MaxLength/5) + "'y')"
	expectSyntax("too long", long)
	if _, err := Compile(long); err.(*SyntaxError).Offset != MaxLength {
		t.Errorf("too long: %v", err)
	}
	expectOK("at the length limit", "a = '"+strings.Repeat("x", MaxLength-6)+"'")

	expectOK("parentheses below the limit", nest("(", "a = 1", ")", MaxDepth-4))
	expectSyntax("parentheses", nest("(", "a = 1", ")", MaxDepth+1))
	expectSyntax("NOT", strings.Repeat("NOT ", MaxDepth+1)+"a")
	expectSyntax("minus", "a > "+strings.Repeat("- ", MaxDepth+1)+"1")
	expectSyntax("plus", "a > "+strings.Repeat("+", MaxDepth+1)+"1")
	expectSyntax("IS NULL chain", "a"+strings.Repeat(" IS NULL", MaxDepth+1))
	expectSyntax("CONTAINS chain", "a"+strings.Repeat(" CONTAINS 'x'", MaxDepth+1))
	expectSyntax("= chain", "a"+strings.Repeat(" = a", MaxDepth+1))
	expectSyntax("mixed", nest("(NOT ", "a", ")", MaxDepth))
	// Far beyond the limit, still an error and no stack exhaustion.
	expectSyntax("huge nesting", strings.Repeat("(", MaxLength))
	expectSyntax("huge NOT", strings.Repeat("NOT ", MaxLength/4))

	// A flat chain is one level however long it is.
	e := mustCompile(t, "a = '0'"+strings.Repeat(" OR a = '1'", MaxLength/12-1))
	if !e.Match(Map{"a": "1"}) || e.Match(Map{"a": "2"}) {
		t.Error("long OR chain evaluates wrongly")
	}
}

// TestFolding checks that constant subtrees are computed once while keeping
// upstream's type checks, which look at what was written, not its value.
func TestFolding(t *testing.T) {
	e := mustCompile(t, "a > -5")
	if x := e.root.y; x.op != opConst || x.lit.k != kInt || x.lit.n != -5 || x.cls != clsOther {
		t.Errorf("-5 folded to %+v", x)
	}
	e = mustCompile(t, "NOT TRUE = 5") // (NOT TRUE) is no literal, so = 5 is allowed
	if e.root.op != opConst || outcome(e, nil) != "FALSE" {
		t.Errorf("NOT TRUE = 5 folded to %+v", e.root)
	}
	e = mustCompile(t, "'abc' = 5") // compiles upstream, throws when evaluated
	if outcome(e, nil) != "ERR" || e.Match(nil) {
		t.Error("'abc' = 5 must fail at evaluation, every time")
	}
}
