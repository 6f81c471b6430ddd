package filter

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Limits on what Compile accepts. Upstream has neither; they exist so that a
// hostile subscription cannot exhaust the broker's stack or memory. Both are
// far above anything a real selector needs.
const (
	// MaxLength is the longest expression, in bytes, that Compile accepts.
	MaxLength = 64 << 10
	// MaxDepth bounds nesting: parentheses and the prefix operators NOT, +
	// and - count one level each while parsing, and the compiled tree (where
	// a chain of ANDs or ORs is one level) may be at most MaxDepth high.
	MaxDepth = 128
)

// ErrSyntax is wrapped by every error Compile returns. The concrete error is
// a *SyntaxError, which tells where the problem is.
var ErrSyntax = errors.New("filter: invalid SQL92 expression")

// SyntaxError describes why Compile rejected an expression: upstream
// rejects it too (and says only "Invalid MessageSelector"), or it has input
// after its end, which upstream ignores, or it breaks a limit above.
type SyntaxError struct {
	Offset int    // byte offset in the expression
	Msg    string // what is wrong there
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("filter: invalid SQL92 expression at offset %d: %s", e.Offset, e.Msg)
}

// Unwrap makes errors.Is(err, ErrSyntax) hold.
func (e *SyntaxError) Unwrap() error { return ErrSyntax }

// Expr is a compiled expression. It is immutable, so one Expr may be matched
// from many goroutines at once.
type Expr struct {
	src  string
	root *node
}

// String returns the expression as it was given to Compile.
func (e *Expr) String() string { return e.src }

// Compile parses expr, an expression of RocketMQ's SQL92 filter language
// (see the package documentation), once, so that Match does no parsing.
func Compile(expr string) (*Expr, error) {
	if len(expr) > MaxLength {
		return nil, &SyntaxError{Offset: MaxLength, Msg: fmt.Sprintf("expression longer than %d bytes", MaxLength)}
	}
	p := &parser{lx: lexer{src: expr}}
	n, err := p.parseOr()
	if err != nil {
		return nil, err
	}
	if n, err = p.asBool(n); err != nil {
		return nil, err
	}
	if err := p.end(); err != nil {
		return nil, err
	}
	return &Expr{src: expr, root: n}, nil
}

// op is what a node computes when matched.
type op uint8

const (
	opConst    op = iota // lit
	opProp               // the property called name
	opBoolCast           // a property used as a condition: NULL if absent, else FALSE
	opNot
	opNeg
	opAnd // terms
	opOr  // terms
	opEq
	opIsNull
	opGt
	opGe
	opLt
	opLe
	opIn         // x IN list/set, or NOT IN when negate
	opContains   // search, negated when negate
	opStartsWith // likewise
	opEndsWith   // likewise
)

// class is the Java type that upstream's parser would have built for a node.
// Upstream rejects expressions by these types (ComparisonExpression's
// checkLessThanOperand, checkEqualOperand, checkEqualOperandCompatability and
// SelectorParser.asBooleanExpression), not by values, so -5 (a negation, not
// a constant) passes checks that 5 fails. Constant folding changes op but
// never class.
type class uint8

const (
	clsOther     class = iota // negation: neither a constant nor a boolean
	clsNumber                 // numeric literal (ConstantExpression)
	clsString                 // string literal (ConstantExpression)
	clsBoolConst              // TRUE or FALSE (BooleanConstantExpression)
	clsNullConst              // NULL (BooleanConstantExpression)
	clsProperty               // PropertyExpression
	clsBoolean                // any other BooleanExpression
)

func (c class) constant() bool { return c >= clsNumber && c <= clsNullConst }
func (c class) boolean() bool  { return c == clsBoolConst || c == clsNullConst || c == clsBoolean }

// node is one operator of the compiled tree.
type node struct {
	op     op
	negate bool // opIn, opContains, opStartsWith, opEndsWith: the NOT form
	cls    class
	height int
	pos    int // where the node's text starts, for error messages

	lit    value  // opConst
	name   string // opProp
	x, y   *node  // operands; y only for binary operators
	terms  []*node
	search string              // opContains, opStartsWith, opEndsWith
	list   []string            // opIn, short lists
	set    map[string]struct{} // opIn, long lists
}

// inSetMin is the list length from which IN uses a map; below it a linear
// scan of a few short strings is faster than hashing.
const inSetMin = 8

type parser struct {
	lx    lexer
	la    [2]token // lookahead tokens; n of them are valid
	n     int
	depth int
}

func (p *parser) peekN(i int) (token, error) {
	for p.n <= i {
		t, err := p.lx.next()
		if err != nil {
			return token{}, err
		}
		p.la[p.n] = t
		p.n++
	}
	return p.la[i], nil
}

func (p *parser) peek() (token, error) { return p.peekN(0) }

// take consumes the token that the last peek returned.
func (p *parser) take() token {
	t := p.la[0]
	p.la[0] = p.la[1]
	p.n--
	return t
}

func (p *parser) expect(k tokKind, want string) (token, error) {
	t, err := p.peek()
	if err != nil {
		return token{}, err
	}
	if t.kind != k {
		return token{}, unexpected(t, want)
	}
	return p.take(), nil
}

func unexpected(t token, want string) error {
	return &SyntaxError{Offset: t.pos, Msg: fmt.Sprintf("unexpected %s, expected %s", t.describe(), want)}
}

func errAt(pos int, format string, args ...any) error {
	return &SyntaxError{Offset: pos, Msg: fmt.Sprintf(format, args...)}
}

// end requires the whole input to be used. Upstream's JmsSelector rule has
// no <EOF>, so it silently ignores whatever follows a complete expression
// ("a = 1 b", "a - 2 > 5" read as "a"); this package rejects that instead,
// except for a final "--" comment that upstream does not lex as a comment
// because it lacks a line break.
func (p *parser) end() error {
	t, err := p.peek()
	if err != nil {
		return err
	}
	if t.kind == tEOF || (t.kind == tMinus && strings.HasPrefix(p.lx.src[t.pos:], "--")) {
		return nil
	}
	return errAt(t.pos, "unexpected %s after a complete expression", t.describe())
}

// enter and leave bound the parser's recursion.
func (p *parser) enter(pos int) error {
	if p.depth++; p.depth > MaxDepth {
		return errAt(pos, "expression nests more than %d levels deep", MaxDepth)
	}
	return nil
}

func (p *parser) leave() { p.depth-- }

// The grammar, from the loosest binding to the tightest, as upstream has it:
//
//	or         = and { OR and }
//	and        = equality { AND equality }
//	equality   = comparison { ("=" | "<>") comparison | IS [NOT] NULL }
//	comparison = unary { (">" | ">=" | "<" | "<=") unary
//	             | [NOT] (CONTAINS | STARTSWITH | ENDSWITH) string
//	             | [NOT] BETWEEN unary AND unary
//	             | [NOT] IN "(" string { "," string } ")" }
//	unary      = ("+" | "-" | NOT) unary | primary
//	primary    = literal | property | "(" or ")"
//
// NOT is a prefix operator of the unary level, so it binds tighter than
// comparisons: "NOT a = 1" is "(NOT a) = 1".

func (p *parser) parseOr() (*node, error)  { return p.parseLogic(opOr, tOr, p.parseAnd) }
func (p *parser) parseAnd() (*node, error) { return p.parseLogic(opAnd, tAnd, p.parseEquality) }

// parseLogic collects a whole chain of ANDs (or ORs) into one node: the
// result is the same as upstream's left-nested pairs, and a long chain does
// not become a deep tree.
func (p *parser) parseLogic(o op, sep tokKind, operand func() (*node, error)) (*node, error) {
	first, err := operand()
	if err != nil {
		return nil, err
	}
	var terms []*node
	for {
		t, err := p.peek()
		if err != nil {
			return nil, err
		}
		if t.kind != sep {
			break
		}
		p.take()
		right, err := operand()
		if err != nil {
			return nil, err
		}
		if terms == nil {
			if terms, err = p.appendTerm(terms, o, first); err != nil {
				return nil, err
			}
		}
		if terms, err = p.appendTerm(terms, o, right); err != nil {
			return nil, err
		}
	}
	if terms == nil {
		return first, nil
	}
	return p.mk(&node{op: o, cls: clsBoolean, pos: first.pos, terms: terms})
}

// appendTerm adds an operand of AND (OR), splicing in the terms of a nested
// AND (OR), which evaluates the same: in order, up to the first FALSE (TRUE).
func (p *parser) appendTerm(terms []*node, o op, n *node) ([]*node, error) {
	n, err := p.asBool(n)
	if err != nil {
		return nil, err
	}
	if n.op == o {
		return append(terms, n.terms...), nil
	}
	return append(terms, n), nil
}

func (p *parser) parseEquality() (*node, error) {
	left, err := p.parseComparison()
	if err != nil {
		return nil, err
	}
	for {
		t, err := p.peek()
		if err != nil {
			return nil, err
		}
		switch t.kind {
		case tEq, tNe:
			left, err = p.parseEqual(left, t)
		case tIs:
			left, err = p.parseIsNull(left, t)
		default:
			return left, nil
		}
		if err != nil {
			return nil, err
		}
	}
}

// parseEqual reads the right side of "=" or "<>"; upstream builds "a <> b"
// as NOT (a = b).
func (p *parser) parseEqual(left *node, t token) (*node, error) {
	p.take()
	right, err := p.parseComparison()
	if err != nil {
		return nil, err
	}
	n, err := p.equal(left, right, t.pos)
	if err != nil || t.kind == tEq {
		return n, err
	}
	return p.not(n, t.pos)
}

// parseIsNull reads "IS NULL" or "IS NOT NULL"; the latter is NOT (IS NULL).
func (p *parser) parseIsNull(left *node, t token) (*node, error) {
	t2, err := p.peekN(1)
	if err != nil {
		return nil, err
	}
	if t2.kind != tNull && t2.kind != tNot {
		return nil, unexpected(t2, "NULL or NOT NULL after IS")
	}
	p.take()
	p.take()
	if t2.kind == tNot {
		if _, err := p.expect(tNull, "NULL after IS NOT"); err != nil {
			return nil, err
		}
	}
	n, err := p.mk(&node{op: opIsNull, cls: clsBoolean, pos: left.pos, x: left})
	if err != nil || t2.kind == tNull {
		return n, err
	}
	return p.not(n, t.pos)
}

func (p *parser) parseComparison() (*node, error) {
	left, err := p.parseUnary()
	if err != nil {
		return nil, err
	}
	for {
		t, err := p.peek()
		if err != nil {
			return nil, err
		}
		negate, kind := false, t.kind
		if kind == tNot {
			// Only NOT CONTAINS, NOT BETWEEN and the like may follow an
			// operand; upstream looks two tokens ahead the same way.
			t2, err := p.peekN(1)
			if err != nil {
				return nil, err
			}
			switch t2.kind {
			case tContains, tStartsWith, tEndsWith, tBetween, tIn:
				p.take()
				negate, kind = true, t2.kind
			default:
				return nil, unexpected(t2, "CONTAINS, STARTSWITH, ENDSWITH, BETWEEN or IN after NOT")
			}
		}
		switch kind {
		case tGt, tGe, tLt, tLe:
			left, err = p.parseOrder(left, t)
		case tContains, tStartsWith, tEndsWith:
			left, err = p.parseSubstring(left, kind, negate)
		case tBetween:
			p.take()
			left, err = p.parseBetween(left, negate, t.pos)
		case tIn:
			p.take()
			left, err = p.parseIn(left, negate, t.pos)
		default:
			return left, nil
		}
		if err != nil {
			return nil, err
		}
	}
}

func (p *parser) parseOrder(left *node, t token) (*node, error) {
	p.take()
	right, err := p.parseUnary()
	if err != nil {
		return nil, err
	}
	o := opGt
	switch t.kind {
	case tGe:
		o = opGe
	case tLt:
		o = opLt
	case tLe:
		o = opLe
	}
	return p.order(o, left, right, t.pos)
}

// parseSubstring reads the string literal after CONTAINS, STARTSWITH or
// ENDSWITH. Upstream checks nothing about the left operand: anything that
// is not a string at run time simply does not match.
func (p *parser) parseSubstring(left *node, kind tokKind, negate bool) (*node, error) {
	p.take()
	s, err := p.expect(tString, "a string literal after "+kind.String())
	if err != nil {
		return nil, err
	}
	o := opContains
	switch kind {
	case tStartsWith:
		o = opStartsWith
	case tEndsWith:
		o = opEndsWith
	}
	return p.mk(&node{op: o, negate: negate, cls: clsBoolean, pos: left.pos, x: left, search: decodeString(s.text)})
}

// parseBetween builds "v BETWEEN lo AND hi" as "v >= lo AND v <= hi" and the
// NOT form as "v < lo OR v > hi", as upstream's ComparisonExpression does.
// Only the plain form checks its bounds when both are literals.
func (p *parser) parseBetween(v *node, negate bool, pos int) (*node, error) {
	lo, err := p.parseUnary()
	if err != nil {
		return nil, err
	}
	if _, err := p.expect(tAnd, "AND between the bounds of BETWEEN"); err != nil {
		return nil, err
	}
	hi, err := p.parseUnary()
	if err != nil {
		return nil, err
	}
	if negate {
		below, err := p.order(opLt, v, lo, pos)
		if err != nil {
			return nil, err
		}
		above, err := p.order(opGt, v, hi, pos)
		if err != nil {
			return nil, err
		}
		return p.mk(&node{op: opOr, cls: clsBoolean, pos: v.pos, terms: []*node{below, above}})
	}
	if lo.cls.constant() && hi.cls.constant() {
		if lo.cls == clsNullConst || hi.cls == clsNullConst {
			return nil, errAt(pos, "the bounds of BETWEEN must not be NULL")
		}
		c, ok := compareValues(hi.lit, lo.lit)
		if !ok {
			return nil, errAt(pos, "the bounds of BETWEEN cannot be compared with each other")
		}
		if c < 0 {
			return nil, errAt(pos, "the lower bound of BETWEEN is greater than the upper bound")
		}
	}
	atLeast, err := p.order(opGe, v, lo, pos)
	if err != nil {
		return nil, err
	}
	atMost, err := p.order(opLe, v, hi, pos)
	if err != nil {
		return nil, err
	}
	return p.mk(&node{op: opAnd, cls: clsBoolean, pos: v.pos, terms: []*node{atLeast, atMost}})
}

// parseIn reads the list of "v IN (...)": upstream allows only string
// literals there, at least one, and only a property name on the left.
func (p *parser) parseIn(v *node, negate bool, pos int) (*node, error) {
	if _, err := p.expect(tLParen, "( after IN"); err != nil {
		return nil, err
	}
	var list []string
	for {
		s, err := p.expect(tString, "a string literal in the IN list")
		if err != nil {
			return nil, err
		}
		list = append(list, decodeString(s.text))
		t, err := p.peek()
		if err != nil {
			return nil, err
		}
		if t.kind == tRParen {
			p.take()
			break
		}
		if _, err := p.expect(tComma, ", or ) in the IN list"); err != nil {
			return nil, err
		}
	}
	if v.cls != clsProperty {
		return nil, errAt(pos, "IN needs a property name on its left")
	}
	n := &node{op: opIn, negate: negate, cls: clsBoolean, pos: v.pos, x: v}
	if len(list) >= inSetMin {
		n.set = make(map[string]struct{}, len(list))
		for _, s := range list {
			n.set[s] = struct{}{}
		}
	} else {
		n.list = list
	}
	return p.mk(n)
}

func (p *parser) parseUnary() (*node, error) {
	t, err := p.peek()
	if err != nil {
		return nil, err
	}
	switch t.kind {
	case tPlus, tMinus, tNot:
		p.take()
		if err := p.enter(t.pos); err != nil {
			return nil, err
		}
		x, err := p.parseUnary()
		p.leave()
		if err != nil {
			return nil, err
		}
		switch t.kind {
		case tMinus:
			return p.mk(&node{op: opNeg, cls: clsOther, pos: t.pos, x: x})
		case tNot:
			if x, err = p.asBool(x); err != nil {
				return nil, err
			}
			return p.not(x, t.pos)
		}
		return x, nil // unary plus changes nothing, not even the class
	}
	return p.parsePrimary()
}

func (p *parser) parsePrimary() (*node, error) {
	t, err := p.peek()
	if err != nil {
		return nil, err
	}
	const want = "a literal, a property name or ("
	switch t.kind {
	case tString:
		p.take()
		return constNode(t.pos, clsString, value{k: kString, s: decodeString(t.text)}), nil
	case tDecimal:
		p.take()
		return decimalLiteral(t)
	case tFloat:
		p.take()
		return floatLiteral(t)
	case tTrue, tFalse:
		p.take()
		return constNode(t.pos, clsBoolConst, boolValue(t.kind == tTrue)), nil
	case tNull:
		p.take()
		return constNode(t.pos, clsNullConst, value{}), nil
	case tIdent:
		p.take()
		return &node{op: opProp, cls: clsProperty, pos: t.pos, height: 1, name: t.text}, nil
	case tLParen:
		p.take()
		if err := p.enter(t.pos); err != nil {
			return nil, err
		}
		x, err := p.parseOr()
		p.leave()
		if err != nil {
			return nil, err
		}
		if _, err := p.expect(tRParen, ")"); err != nil {
			return nil, err
		}
		return x, nil
	}
	return nil, unexpected(t, want)
}

func constNode(pos int, c class, v value) *node {
	return &node{op: opConst, cls: c, pos: pos, height: 1, lit: v}
}

// decimalLiteral follows ConstantExpression.createFromDecimal: an optional
// L suffix is dropped, the value must fit a Java long, and it is a Java int
// whenever it fits one. The distinction matters: a property compared with an
// int literal is converted with Integer.valueOf, so "a > 5" fails on
// a=3000000000 where "a > 5000000000" works.
func decimalLiteral(t token) (*node, error) {
	text := strings.TrimRight(t.text, "lL")
	n, err := strconv.ParseInt(text, 10, 64)
	if err != nil {
		return nil, errAt(t.pos, "integer %s does not fit in 64 bits", t.text)
	}
	if n >= math.MinInt32 && n <= math.MaxInt32 {
		return constNode(t.pos, clsNumber, value{k: kInt, n: n}), nil
	}
	return constNode(t.pos, clsNumber, value{k: kLong, n: n}), nil
}

// floatLiteral follows ConstantExpression.createFloat, which refuses values
// above Double.MAX_VALUE and below Double.MIN_VALUE, the smallest positive
// double: so 0.0 is refused too (write 0), and literals are never negative
// (-1.5 is a negation).
func floatLiteral(t token) (*node, error) {
	f, err := strconv.ParseFloat(t.text, 64)
	if err != nil && !errors.Is(err, strconv.ErrRange) {
		return nil, errAt(t.pos, "malformed number %s", t.text)
	}
	if math.IsInf(f, 0) {
		return nil, errAt(t.pos, "number %s is larger than the largest double", t.text)
	}
	if f < math.SmallestNonzeroFloat64 {
		return nil, errAt(t.pos, "number %s is below the smallest positive double (upstream refuses 0.0; write 0)", t.text)
	}
	return constNode(t.pos, clsNumber, value{k: kDouble, f: f}), nil
}

// asBool is SelectorParser.asBooleanExpression: operands of AND, OR and NOT
// and the whole expression must be boolean; a bare property is accepted and
// then is never TRUE (it is NULL when absent and FALSE otherwise, since
// property values are strings).
func (p *parser) asBool(n *node) (*node, error) {
	switch {
	case n.cls.boolean():
		return n, nil
	case n.cls == clsProperty:
		return p.mk(&node{op: opBoolCast, cls: clsBoolean, pos: n.pos, x: n})
	}
	return nil, errAt(n.pos, "this operand is not a condition (a comparison, TRUE, FALSE or a property name)")
}

func (p *parser) not(x *node, pos int) (*node, error) {
	return p.mk(&node{op: opNot, cls: clsBoolean, pos: pos, x: x})
}

// equal applies ComparisonExpression.createEqual's checks: NULL may not be
// an operand of = or <> (IS NULL exists for that), and TRUE or FALSE on the
// left may not meet a number or string literal on the right.
func (p *parser) equal(l, r *node, pos int) (*node, error) {
	if l.cls == clsNullConst || r.cls == clsNullConst {
		return nil, errAt(pos, "NULL cannot be compared with = or <>; use IS NULL or IS NOT NULL")
	}
	if l.cls == clsBoolConst && (r.cls == clsNumber || r.cls == clsString) {
		return nil, errAt(pos, "TRUE or FALSE cannot be compared with a number or string literal")
	}
	return p.mk(&node{op: opEq, cls: clsBoolean, pos: l.pos, x: l, y: r})
}

// order applies ComparisonExpression.checkLessThanOperand to both operands
// of >, >=, <, <=: literals must be numbers, and conditions are refused.
func (p *parser) order(o op, l, r *node, pos int) (*node, error) {
	for _, n := range [2]*node{l, r} {
		switch {
		case n.cls == clsString || n.cls == clsBoolConst || n.cls == clsNullConst:
			return nil, errAt(n.pos, "only numbers and properties can be compared with >, >=, <, <= or BETWEEN")
		case n.cls == clsBoolean:
			return nil, errAt(n.pos, "a condition cannot be compared with >, >=, <, <= or BETWEEN (NOT binds tighter than comparisons: write NOT (a > 1), not NOT a > 1)")
		}
	}
	return p.mk(&node{op: o, cls: clsBoolean, pos: l.pos, x: l, y: r})
}

// mk finishes a node: it checks the tree's height and folds a node whose
// operands are all constants into a constant, so that Match never evaluates
// the same constant twice ("a > -5" compares with a ready -5). Folding keeps
// the node's class, so later checks see what upstream would see.
func (p *parser) mk(n *node) (*node, error) {
	h, allConst := 0, true
	for _, c := range n.children() {
		h = max(h, c.height)
		allConst = allConst && c.op == opConst
	}
	n.height = h + 1
	if n.height > MaxDepth {
		return nil, errAt(n.pos, "expression nests more than %d levels deep", MaxDepth)
	}
	if allConst && len(n.children()) > 0 {
		var src source // constant operands never look properties up
		return &node{op: opConst, cls: n.cls, pos: n.pos, height: 1, lit: n.eval(&src)}, nil
	}
	return n, nil
}

func (n *node) children() []*node {
	switch {
	case n.terms != nil:
		return n.terms
	case n.y != nil:
		return []*node{n.x, n.y}
	case n.x != nil:
		return []*node{n.x}
	}
	return nil
}
