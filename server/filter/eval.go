package filter

import "strings"

// Properties gives the user properties of one message. Values are strings,
// as on the wire; a property that is absent is NULL in an expression.
type Properties interface {
	Lookup(key string) (value string, ok bool)
}

// Map is a Properties over a Go map. Being a map, it converts to Properties
// without allocating.
type Map map[string]string

// Lookup implements Properties.
func (m Map) Lookup(key string) (string, bool) {
	v, ok := m[key]
	return v, ok
}

// Match reports whether the message with these properties is selected: the
// expression must evaluate to TRUE. NULL (unknown) does not select, and
// neither does an evaluation error, such as "a > 5" on a="abc", which ends
// the whole evaluation even inside an OR whose other side is TRUE — but
// only when reached: "b = 'x' OR a > 5" selects b="x" without looking at a.
// This is upstream's ExpressionMessageFilter.isMatchedByCommitLog.
//
// A nil props has no properties. Pass a pointer-shaped implementation (a
// Map, or a pointer) to keep Match free of allocations.
func (e *Expr) Match(props Properties) bool {
	src := source{props: props}
	return e.root.eval(&src).isTrue()
}

// source is where property lookups go: props, or else the raw encoded
// properties (see raw.go). It is a concrete type so that evaluation is
// plain recursive calls that the compiler can keep on the stack.
type source struct {
	props Properties
	raw   string
}

func (s *source) lookup(key string) (string, bool) {
	if s.props != nil {
		return s.props.Lookup(key)
	}
	return lookupRaw(s.raw, key)
}

// kind is the Java class of a value in upstream's evaluator. Int and Long
// are kept apart because upstream converts a property string with
// Integer.valueOf or Long.valueOf depending on which one it meets.
type kind uint8

const (
	kNull kind = iota
	kBool
	kInt    // java.lang.Integer
	kLong   // java.lang.Long
	kDouble // java.lang.Double (upstream has no Float literals)
	kString
	kErr // upstream threw; the message will not be selected
)

// value is one evaluated operand. It is small and passed by value, so
// evaluation does not allocate.
type value struct {
	k kind
	n int64 // kBool (0 or 1), kInt, kLong
	f float64
	s string
}

var (
	nullValue  = value{}
	falseValue = value{k: kBool}
	trueValue  = value{k: kBool, n: 1}
	errValue   = value{k: kErr}
)

func boolValue(b bool) value {
	if b {
		return trueValue
	}
	return falseValue
}

func (v value) isTrue() bool { return v.k == kBool && v.n != 0 }

// eval computes a node the way upstream's Expression.evaluate does,
// operands left to right, with the same short cuts, because which operands
// are evaluated decides whether an error (which aborts) is met at all.
func (n *node) eval(src *source) value {
	switch n.op {
	case opConst:
		return n.lit
	case opProp:
		if s, ok := src.lookup(n.name); ok {
			return value{k: kString, s: s}
		}
		return nullValue
	case opBoolCast:
		// UnaryExpression.createBooleanCast: NULL stays NULL, anything but
		// a Boolean is FALSE.
		switch v := n.x.eval(src); v.k {
		case kNull, kBool, kErr:
			return v
		}
		return falseValue
	case opNot:
		v := n.x.eval(src)
		if v.k == kBool {
			v.n ^= 1
		}
		return v // NULL and errors pass through
	case opNeg:
		return negate(n.x.eval(src))
	case opAnd, opOr:
		return n.evalLogic(src)
	case opEq:
		return n.evalEqual(src)
	case opIsNull:
		v := n.x.eval(src)
		if v.k == kErr {
			return v
		}
		return boolValue(v.k == kNull)
	case opGt, opGe, opLt, opLe:
		return n.evalOrder(src)
	case opIn:
		v := n.x.eval(src)
		if v.k != kString {
			return nullValue // upstream: absent (or not a string) is NULL
		}
		return boolValue(n.inList(v.s) != n.negate)
	case opContains, opStartsWith, opEndsWith:
		// ComparisonExpression.ContainsExpression and friends: an empty
		// search string is FALSE before the operand is even evaluated, and
		// so is a non-string or absent operand, for the NOT forms too.
		if n.search == "" {
			return falseValue
		}
		v := n.x.eval(src)
		if v.k == kErr {
			return v
		}
		if v.k != kString {
			return falseValue
		}
		var hit bool
		switch n.op {
		case opContains:
			hit = strings.Contains(v.s, n.search)
		case opStartsWith:
			hit = strings.HasPrefix(v.s, n.search)
		default:
			hit = strings.HasSuffix(v.s, n.search)
		}
		return boolValue(hit != n.negate)
	}
	return errValue
}

// evalLogic is LogicExpression's AND and OR over a chain of terms: the first
// FALSE (for AND; TRUE for OR) decides and stops; otherwise any NULL makes
// the result NULL.
func (n *node) evalLogic(src *source) value {
	decisive := n.op == opOr // OR stops at TRUE, AND at FALSE
	sawNull := false
	for _, t := range n.terms {
		v := t.eval(src)
		switch v.k {
		case kBool:
			if (v.n != 0) == decisive {
				return v
			}
		case kNull:
			sawNull = true
		default:
			return errValue // an error, or a non-boolean (a ClassCastException upstream)
		}
	}
	if sawNull {
		return nullValue
	}
	return boolValue(!decisive)
}

// evalEqual is ComparisonExpression.doCreateEqual. Its NULL handling is
// lopsided, and kept: NULL on the left gives NULL, NULL on the right only
// gives FALSE (so "'x' <> a" is TRUE when a is absent), and two NULLs are
// equal ("a = b" is TRUE when both are absent).
func (n *node) evalEqual(src *source) value {
	l := n.x.eval(src)
	if l.k == kErr {
		return l
	}
	r := n.y.eval(src)
	if r.k == kErr {
		return r
	}
	switch {
	case l.k == kNull && r.k == kNull:
		return trueValue
	case l.k == kNull:
		return nullValue
	case r.k == kNull:
		return falseValue
	}
	c, ok := compareValues(l, r)
	if !ok {
		return errValue
	}
	return boolValue(c == 0)
}

// evalOrder is ComparisonExpression.evaluate for >, >=, <, <=: NULL on
// either side gives NULL (the right side is not evaluated after a NULL on
// the left), two strings are both read as doubles (an error if either is
// not a number), and otherwise the values are compared as in compareValues.
func (n *node) evalOrder(src *source) value {
	l := n.x.eval(src)
	if l.k == kNull || l.k == kErr {
		return l
	}
	r := n.y.eval(src)
	if r.k == kNull || r.k == kErr {
		return r
	}
	var c int
	if l.k == kString && r.k == kString {
		lf, ok1 := parseJavaDouble(l.s)
		rf, ok2 := parseJavaDouble(r.s)
		if !ok1 || !ok2 {
			return errValue
		}
		c = compareDouble(lf, rf)
	} else {
		var ok bool
		if c, ok = compareValues(l, r); !ok {
			return errValue
		}
	}
	switch n.op {
	case opGt:
		return boolValue(c > 0)
	case opGe:
		return boolValue(c >= 0)
	case opLt:
		return boolValue(c < 0)
	}
	return boolValue(c <= 0)
}

func (n *node) inList(s string) bool {
	if n.set != nil {
		_, ok := n.set[s]
		return ok
	}
	for _, e := range n.list {
		if e == s {
			return true
		}
	}
	return false
}

// negate is UnaryExpression.createNegate: numbers change sign, NULL and
// errors stay, and anything else (a property's string, a boolean) is NULL.
func negate(v value) value {
	switch v.k {
	case kInt:
		v.n = int64(-int32(v.n)) // Java int arithmetic wraps
	case kLong:
		v.n = -v.n
	case kDouble:
		v.f = -v.f
	case kNull, kErr:
	default:
		return nullValue
	}
	return v
}

// compareValues is ComparisonExpression.__compare with string conversion on
// (upstream's parser always turns it on). Values of one kind compare
// naturally. Otherwise the left or right value is widened or converted:
// int to long, int or long to double, a string to the other side's kind
// with Integer.valueOf, Long.valueOf, Double.valueOf or Boolean.valueOf. A
// string that does not convert is an error (NumberFormatException), as is a
// boolean on the left of a string (upstream casts the wrong operand and gets
// a ClassCastException). Any other mix is "less" (-1): "5 = TRUE" is FALSE
// and so is "TRUE = 5". ok is false on an error.
func compareValues(l, r value) (c int, ok bool) {
	if l.k == r.k {
		switch l.k {
		case kDouble:
			return compareDouble(l.f, r.f), true
		case kString:
			// Only equality reaches here with two strings (ordering reads
			// them as doubles), so the sign need not be Java's UTF-16 one.
			return strings.Compare(l.s, r.s), true
		}
		return compareInt(l.n, r.n), true
	}
	switch l.k {
	case kBool:
		if r.k == kString {
			return 0, false
		}
	case kInt, kLong:
		switch r.k {
		case kInt, kLong:
			return compareInt(l.n, r.n), true
		case kDouble:
			return compareDouble(float64(l.n), r.f), true
		case kString:
			n, ok := parseJavaInt(r.s, l.k == kInt)
			return compareInt(l.n, n), ok
		}
	case kDouble:
		switch r.k {
		case kInt, kLong:
			return compareDouble(l.f, float64(r.n)), true
		case kString:
			f, ok := parseJavaDouble(r.s)
			return compareDouble(l.f, f), ok
		}
	case kString:
		switch r.k {
		case kBool:
			return compareInt(boolInt(javaBooleanValueOf(l.s)), r.n), true
		case kInt, kLong:
			n, ok := parseJavaInt(l.s, r.k == kInt)
			return compareInt(n, r.n), ok
		case kDouble:
			f, ok := parseJavaDouble(l.s)
			return compareDouble(f, r.f), ok
		}
	}
	return -1, true
}

func compareInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func boolInt(b bool) int64 {
	if b {
		return 1
	}
	return 0
}
