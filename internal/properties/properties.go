// Package properties reads and writes Java .properties text, the format of
// RocketMQ's broker.conf and of the configuration bodies the broker and the
// name server exchange with admin tools (GET_BROKER_CONFIG,
// UPDATE_BROKER_CONFIG, GET_NAMESRV_CONFIG). It follows
// java.util.Properties.load: "key=value", "key:value" and "key value"
// lines, '#' and '!' comments, a backslash at the end of a line continuing
// it on the next (whose leading blanks are dropped), and the escapes \t \n
// \r \f \uXXXX and backslash-anything. Text is read as UTF-8; Java reads
// files as ISO-8859-1, which agrees for the ASCII every upstream key and
// almost every value uses.
package properties

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"unicode/utf16"
)

// ErrSyntax is wrapped by every parse error.
var ErrSyntax = errors.New("properties: syntax error")

// Entry is one key and value, with the line its logical line starts on.
type Entry struct {
	Key, Value string
	Line       int
}

// Parse reads every entry in file order. A key given twice appears twice;
// Map keeps the last, as Java does.
func Parse(r io.Reader) ([]Entry, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 16<<20)
	var (
		entries []Entry
		logical strings.Builder
		start   int  // line number the logical line started on
		cont    bool // the previous natural line ended in a continuation
		n       int
	)
	for sc.Scan() {
		n++
		line := strings.TrimRight(sc.Text(), "\r")
		if cont {
			line = strings.TrimLeft(line, " \t\f")
		} else {
			line = strings.TrimLeft(line, " \t\f")
			if line == "" || line[0] == '#' || line[0] == '!' {
				continue // comments are never continued
			}
			start = n
			logical.Reset()
		}
		body, more := splitContinuation(line)
		logical.WriteString(body)
		cont = more
		if !cont {
			e, err := parseLogical(logical.String(), start)
			if err != nil {
				return entries, err
			}
			entries = append(entries, e)
		}
	}
	if err := sc.Err(); err != nil {
		return entries, fmt.Errorf("properties: %w", err)
	}
	if cont { // a continuation on the last line continues into nothing
		e, err := parseLogical(logical.String(), start)
		if err != nil {
			return entries, err
		}
		entries = append(entries, e)
	}
	return entries, nil
}

// splitContinuation strips a continuation backslash: a line ending in an
// odd number of backslashes continues, an even number is escaped
// backslashes.
func splitContinuation(line string) (string, bool) {
	k := 0
	for k < len(line) && line[len(line)-1-k] == '\\' {
		k++
	}
	if k%2 == 1 {
		return line[:len(line)-1], true
	}
	return line, false
}

// parseLogical splits one logical line into key and value and unescapes
// both.
func parseLogical(s string, line int) (Entry, error) {
	end := len(s) // end of the key
	sepEnd := len(s)
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '\\' {
			i++ // the escaped character is part of the key
			continue
		}
		if c == '=' || c == ':' || c == ' ' || c == '\t' || c == '\f' {
			end = i
			// Blanks, then at most one '=' or ':', then blanks.
			j := i
			for j < len(s) && (s[j] == ' ' || s[j] == '\t' || s[j] == '\f') {
				j++
			}
			if j < len(s) && (s[j] == '=' || s[j] == ':') {
				j++
			}
			for j < len(s) && (s[j] == ' ' || s[j] == '\t' || s[j] == '\f') {
				j++
			}
			sepEnd = j
			break
		}
	}
	key, err := unescape(s[:end])
	if err != nil {
		return Entry{}, fmt.Errorf("%w: line %d: key: %v", ErrSyntax, line, err)
	}
	value, err := unescape(s[sepEnd:])
	if err != nil {
		return Entry{}, fmt.Errorf("%w: line %d: value of %q: %v", ErrSyntax, line, key, err)
	}
	return Entry{Key: key, Value: value, Line: line}, nil
}

func unescape(s string) (string, error) {
	if !strings.Contains(s, `\`) {
		return s, nil
	}
	var b strings.Builder
	var units []uint16 // pending \u escapes, so surrogate pairs join
	flush := func() {
		if len(units) > 0 {
			b.WriteString(string(utf16.Decode(units)))
			units = units[:0]
		}
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' {
			flush()
			b.WriteByte(c)
			continue
		}
		i++
		if i == len(s) {
			break // a lone trailing backslash stands for nothing
		}
		c = s[i]
		if c == 'u' {
			if i+5 > len(s) {
				return "", fmt.Errorf(`malformed \uxxxx escape %q`, s[i-1:])
			}
			var v uint16
			for _, h := range []byte(s[i+1 : i+5]) {
				d, ok := hexDigit(h)
				if !ok {
					return "", fmt.Errorf(`malformed \uxxxx escape %q`, s[i-1:i+5])
				}
				v = v<<4 | uint16(d)
			}
			units = append(units, v)
			i += 4
			continue
		}
		flush()
		switch c {
		case 't':
			b.WriteByte('\t')
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		case 'f':
			b.WriteByte('\f')
		default:
			b.WriteByte(c)
		}
	}
	flush()
	return b.String(), nil
}

func hexDigit(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// Map parses r into a map; a repeated key keeps its last value.
func Map(r io.Reader) (map[string]string, error) {
	entries, err := Parse(r)
	if err != nil {
		return nil, err
	}
	m := make(map[string]string, len(entries))
	for _, e := range entries {
		m[e.Key] = e.Value
	}
	return m, nil
}

// Format writes m as "key=value" lines sorted by key, escaped so that Parse
// (and Java's Properties.load) reads back exactly m.
func Format(m map[string]string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		escape(&b, k, true)
		b.WriteByte('=')
		escape(&b, m[k], false)
		b.WriteByte('\n')
	}
	return b.String()
}

// escape writes s so that it reads back unchanged: backslashes and control
// characters always, separators and comment marks in keys, and a value's
// leading blanks (which the reader would skip).
func escape(b *strings.Builder, s string, key bool) {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch c {
		case '\\':
			b.WriteString(`\\`)
		case '\t':
			b.WriteString(`\t`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\f':
			b.WriteString(`\f`)
		case ' ':
			if key || i == 0 {
				b.WriteString(`\ `)
			} else {
				b.WriteByte(c)
			}
		case '=', ':', '#', '!':
			if key {
				b.WriteByte('\\')
			}
			b.WriteByte(c)
		default:
			b.WriteByte(c)
		}
	}
}
