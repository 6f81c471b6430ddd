package filter

import (
	"fmt"
	"strings"
)

// This file turns an expression into tokens. The token set and every rule
// below follow the TOKEN/SKIP sections of upstream's SelectorParser.jj
// (filter/src/main/java/org/apache/rocketmq/filter/parser/SelectorParser.jj):
// JavaCC picks the longest match and, on a tie, the earlier declaration, so a
// keyword beats an identifier of the same length ("in") but not a longer one
// ("index").

type tokKind uint8

const (
	tEOF tokKind = iota
	// Keywords, case-insensitive.
	tNot
	tAnd
	tOr
	tBetween
	tIn
	tTrue
	tFalse
	tNull
	tIs
	tContains
	tStartsWith
	tEndsWith
	// Literals and names.
	tDecimal // 0 | [1-9][0-9]*[lL]?
	tFloat   // digits with a point and/or an exponent
	tString  // '...' with '' standing for one quote
	tIdent   // [A-Za-z_$][A-Za-z0-9_$]*
	// Punctuation.
	tEq
	tNe
	tGt
	tGe
	tLt
	tLe
	tLParen
	tComma
	tRParen
	tPlus
	tMinus
)

// keywords maps upper-cased words to their token kinds. It is read-only.
var keywords = map[string]tokKind{
	"NOT": tNot, "AND": tAnd, "OR": tOr, "BETWEEN": tBetween, "IN": tIn,
	"TRUE": tTrue, "FALSE": tFalse, "NULL": tNull, "IS": tIs,
	"CONTAINS": tContains, "STARTSWITH": tStartsWith, "ENDSWITH": tEndsWith,
}

// longestKeyword bounds the upper-casing buffer in ident.
const longestKeyword = len("STARTSWITH")

func (k tokKind) String() string {
	switch {
	case k == tEOF:
		return "end of expression"
	case k >= tNot && k <= tEndsWith:
		for w, kk := range keywords {
			if kk == k {
				return w
			}
		}
	case k == tDecimal || k == tFloat:
		return "number"
	case k == tString:
		return "string"
	case k == tIdent:
		return "property name"
	}
	return [...]string{"=", "<>", ">", ">=", "<", "<=", "(", ",", ")", "+", "-"}[k-tEq]
}

type token struct {
	kind tokKind
	pos  int    // byte offset of the token's first byte
	text string // the token's source text
}

// describe names a token for error messages, shortened: a token can be as
// long as the expression.
func (t token) describe() string {
	const limit = 24
	switch {
	case t.kind == tEOF:
		return "end of expression"
	case t.kind == tString && len(t.text) > limit:
		return "string " + t.text[:limit-4] + "...'"
	case t.kind == tString:
		return "string " + t.text
	case len(t.text) > limit:
		return fmt.Sprintf("%q...", t.text[:limit-3])
	}
	return fmt.Sprintf("%q", t.text)
}

type lexer struct {
	src string
	pos int
}

// next returns the next token. Lexing is lazy, as in JavaCC, because the
// parser accepts a trailing "--" comment that upstream would not lex as one
// (see parser.go) and must not trip over what follows it.
func (lx *lexer) next() (token, error) {
	if err := lx.skip(); err != nil {
		return token{}, err
	}
	s, start := lx.src, lx.pos
	if start >= len(s) {
		return token{kind: tEOF, pos: start}, nil
	}
	c := s[start]
	switch {
	case isIdentStart(c):
		return lx.ident(), nil
	case isDigit(c) || (c == '.' && start+1 < len(s) && isDigit(s[start+1])):
		return lx.number(), nil
	case c == '\'':
		return lx.str()
	}
	kind, n := tEOF, 1
	switch c {
	case '=':
		kind = tEq
	case '>':
		kind = tGt
		if start+1 < len(s) && s[start+1] == '=' {
			kind, n = tGe, 2
		}
	case '<':
		kind = tLt
		if start+1 < len(s) {
			switch s[start+1] {
			case '=':
				kind, n = tLe, 2
			case '>':
				kind, n = tNe, 2
			}
		}
	case '(':
		kind = tLParen
	case ',':
		kind = tComma
	case ')':
		kind = tRParen
	case '+':
		kind = tPlus
	case '-':
		kind = tMinus
	default:
		// Upstream has no "!=", "==", "*", "/", "%", "||" or LIKE; they
		// all end up here.
		return token{}, lx.errorf(start, "unexpected character %s", quoteRune(s[start:]))
	}
	lx.pos += n
	return token{kind: kind, pos: start, text: s[start : start+n]}, nil
}

// skip passes white space and comments. White space is exactly the five
// characters upstream lists (no vertical tab, no Unicode spaces).
func (lx *lexer) skip() error {
	s := lx.src
	for lx.pos < len(s) {
		switch c := s[lx.pos]; {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f':
			lx.pos++
		case c == '-' && lx.pos+1 < len(s) && s[lx.pos+1] == '-':
			// Upstream's LINE_COMMENT must end in a line break; without
			// one, "--" is two minus signs ("a > --5" is a > 5).
			end := lx.pos + 2
			for end < len(s) && s[end] != '\n' && s[end] != '\r' {
				end++
			}
			if end == len(s) {
				return nil
			}
			lx.pos = end + 1
		case c == '/' && lx.pos+1 < len(s) && s[lx.pos+1] == '*':
			end := indexFrom(s, lx.pos+2, "*/")
			if end < 0 {
				return lx.errorf(lx.pos, "unterminated /* comment")
			}
			lx.pos = end + 2
		default:
			return nil
		}
	}
	return nil
}

func (lx *lexer) ident() token {
	s, start := lx.src, lx.pos
	end := start + 1
	for end < len(s) && isIdentPart(s[end]) {
		end++
	}
	lx.pos = end
	text := s[start:end]
	if len(text) <= longestKeyword {
		var up [longestKeyword]byte
		for i := 0; i < len(text); i++ {
			c := text[i]
			if 'a' <= c && c <= 'z' {
				c -= 'a' - 'A'
			}
			up[i] = c
		}
		if k, ok := keywords[string(up[:len(text)])]; ok {
			return token{kind: k, pos: start, text: text}
		}
	}
	return token{kind: tIdent, pos: start, text: text}
}

// number scans DECIMAL_LITERAL or FLOATING_POINT_LITERAL by longest match:
// "1e5" and "1." are floats, "1e" is the integer 1 followed by the name e,
// and "007" is three integer tokens 0, 0 and 7 (only "0" may start with 0).
func (lx *lexer) number() token {
	s, start := lx.src, lx.pos
	i := start
	for i < len(s) && isDigit(s[i]) {
		i++
	}
	isFloat := false
	if i < len(s) && s[i] == '.' {
		isFloat = true
		i++
		for i < len(s) && isDigit(s[i]) {
			i++
		}
	}
	if n := exponentLen(s, i); n > 0 {
		isFloat = true
		i += n
	}
	if !isFloat {
		i = start + 1
		if s[start] != '0' {
			for i < len(s) && isDigit(s[i]) {
				i++
			}
			if i < len(s) && (s[i] == 'l' || s[i] == 'L') {
				i++
			}
		}
	}
	lx.pos = i
	kind := tDecimal
	if isFloat {
		kind = tFloat
	}
	return token{kind: kind, pos: start, text: s[start:i]}
}

// exponentLen is the length of a complete exponent ("e", optional sign,
// digits) at s[i:], or 0 when there is none.
func exponentLen(s string, i int) int {
	if i >= len(s) || (s[i] != 'e' && s[i] != 'E') {
		return 0
	}
	j := i + 1
	if j < len(s) && (s[j] == '+' || s[j] == '-') {
		j++
	}
	k := j
	for k < len(s) && isDigit(s[k]) {
		k++
	}
	if k == j {
		return 0
	}
	return k - i
}

// str scans a string literal; text keeps the quotes and the doubled quotes,
// which decodeString removes. Any character, line breaks included, may
// appear inside. Like JavaCC's longest match, a doubled quote that no
// closing quote follows ends the literal at its first quote, so this input
// is the string a and then a stray quote:
//
//	'a''
func (lx *lexer) str() (token, error) {
	s, start := lx.src, lx.pos
	end := -1 // just past the last quote that could close the literal
	for i := start + 1; ; {
		q := indexFrom(s, i, "'")
		if q < 0 {
			break
		}
		end = q + 1
		if q+1 == len(s) || s[q+1] != '\'' {
			break
		}
		i = q + 2
	}
	if end < 0 {
		return token{}, lx.errorf(start, "unterminated string literal")
	}
	lx.pos = end
	return token{kind: tString, pos: start, text: s[start:end]}, nil
}

func (lx *lexer) errorf(pos int, format string, args ...any) error {
	return &SyntaxError{Offset: pos, Msg: fmt.Sprintf(format, args...)}
}

// decodeString turns a string literal's text into its value.
func decodeString(text string) string {
	body := text[1 : len(text)-1]
	if !strings.Contains(body, "''") {
		return body
	}
	out := make([]byte, 0, len(body))
	for i := 0; i < len(body); i++ {
		out = append(out, body[i])
		if body[i] == '\'' {
			i++ // the second quote of a pair
		}
	}
	return string(out)
}

func isDigit(c byte) bool      { return '0' <= c && c <= '9' }
func isIdentStart(c byte) bool { return c == '_' || c == '$' || ('a' <= c|0x20 && c|0x20 <= 'z') }
func isIdentPart(c byte) bool  { return isIdentStart(c) || isDigit(c) }

func indexFrom(s string, from int, sub string) int {
	if i := strings.Index(s[from:], sub); i >= 0 {
		return from + i
	}
	return -1
}

// quoteRune quotes the first character of s for an error message, whole
// even when it is a multi-byte UTF-8 sequence.
func quoteRune(s string) string {
	for _, r := range s {
		return fmt.Sprintf("%q", r)
	}
	return `""`
}
