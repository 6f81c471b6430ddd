// Package filter compiles and evaluates RocketMQ's SQL92 message filters:
// the expressions that consumers subscribe with through
// MessageSelector.bySql (expression type "SQL92") and that a broker with
// enablePropertyFilter=true evaluates against each message's properties.
//
//	e, err := filter.Compile("a > 5 AND b = 'x' OR c IN ('p', 'q')")
//	...
//	if e.MatchRaw(rec.Properties) { deliver }
//
// The language and its results are those of Apache RocketMQ's filter module
// (SelectorParser.jj and the classes in
// org.apache.rocketmq.filter.expression), quirks included, so that a
// subscription selects the same messages here as on an Apache broker.
// Comments in this package name the upstream class behind each rule.
//
// # Language
//
// Literals: strings in single quotes, where a quote inside is written
// twice and nothing else is escaped; integers (decimal, optional L suffix,
// up to the long range); floats (1.5, 1., .5, 1e5, 1.5E-3); TRUE, FALSE
// and NULL. There are no negative literals: -5 is the negation of 5.
//
// Property names: a letter, _ or $, then letters, digits, _ or $ (no dots,
// no non-ASCII letters). Names are case-sensitive; keywords are not.
// Every property of the message is visible, system ones such as TAGS, KEYS
// and UNIQ_KEY included, because the broker evaluates over the whole
// decoded property map.
//
// Operators, loosest first: OR; AND; = and <> and IS [NOT] NULL; the
// comparisons >, >=, <, <=, [NOT] BETWEEN x AND y, [NOT] IN ('s', ...),
// [NOT] CONTAINS 's', [NOT] STARTSWITH 's', [NOT] ENDSWITH 's'; then the
// prefix operators NOT, unary - and +. Parentheses group. Comments are
// "-- to end of line" and "/* ... */". There is no arithmetic, no LIKE, no
// != and no ==.
//
// # Results that may surprise
//
// Evaluation uses three-valued logic: an absent property is NULL, and a
// message is selected only when the expression is TRUE. Upstream also has
// rules that a reader of SQL would not guess; this package keeps them:
//
//   - NOT binds tighter than comparisons: "NOT a = 'x'" is "(NOT a) = 'x'",
//     which never selects anything, and "NOT a > 5" does not compile.
//     Write NOT (a = 'x').
//   - A property is converted to the type of the literal it meets, with
//     Java's parsers: "a > 5" reads a with Integer.valueOf, "a > 5.0" with
//     Double.valueOf, "a = TRUE" with Boolean.valueOf. A value that does not
//     convert (a="abc", or a="3000000000" against an int literal, or
//     a="1.5" against 5) is an evaluation error, and an error deselects the
//     message even if another branch of an OR would be TRUE, when that
//     branch comes later.
//   - Two properties ordered with >, <, ... are both read as doubles;
//     strings cannot be ordered otherwise, and "a > 'x'" does not compile.
//   - With = and <>, NULL on the left gives NULL but NULL on the right gives
//     FALSE: "'x' <> a" and "NOT (a CONTAINS 'x')" select a message without
//     a. "a = b" is TRUE when both are absent.
//   - [NOT] CONTAINS, STARTSWITH and ENDSWITH are FALSE for an absent
//     property and for an empty search string, in both forms.
//   - A bare property used as a condition ("a AND b = 1") is never TRUE.
//   - A float literal must be positive: 0.0 does not compile (write 0).
//   - "a BETWEEN 5 AND 1" does not compile; "a BETWEEN -1 AND -5" does
//     (negative bounds are not literals) and selects nothing.
//
// One deliberate difference: upstream ignores anything after a complete
// expression ("a = 1 b = 2" is "a = 1", "a - 2 > 5" is "a"); Compile
// rejects it, apart from a final "--" comment.
//
// Expressions are limited to MaxLength bytes and MaxDepth levels of nesting,
// which upstream does not limit.
package filter
