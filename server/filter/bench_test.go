package filter

import "testing"

const benchExpr = "a > 5 AND b = 'x' OR c IN ('p','q')"

// benchRaw looks like a real stored message: system properties first, the
// user's properties last, so lookups scan the whole string.
var benchRaw = []byte("TAGS\x01TagA\x02KEYS\x01order-000001\x02UNIQ_KEY\x010A0102030000000000000000000000AB\x02" +
	"WAIT\x01true\x02CLUSTER\x01DefaultCluster\x02a\x0110\x02b\x01y\x02c\x01q\x02")

var benchMap = Map{"TAGS": "TagA", "KEYS": "order-000001", "UNIQ_KEY": "0A0102030000000000000000000000AB",
	"WAIT": "true", "CLUSTER": "DefaultCluster", "a": "10", "b": "y", "c": "q"}

func BenchmarkCompile(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Compile(benchExpr); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkMatch(b *testing.B) {
	e := mustCompile(b, benchExpr)
	if !e.Match(benchMap) {
		b.Fatal("want a match")
	}
	b.ReportAllocs()
	for b.Loop() {
		e.Match(benchMap)
	}
}

func BenchmarkMatchRaw(b *testing.B) {
	e := mustCompile(b, benchExpr)
	if !e.MatchRaw(benchRaw) {
		b.Fatal("want a match")
	}
	b.ReportAllocs()
	for b.Loop() {
		e.MatchRaw(benchRaw)
	}
}

// BenchmarkMatchRawTags is the most common real selector: one system
// property against a handful of values.
func BenchmarkMatchRawTags(b *testing.B) {
	e := mustCompile(b, "TAGS IN ('TagA', 'TagB', 'TagC') AND a BETWEEN 1 AND 100")
	if !e.MatchRaw(benchRaw) {
		b.Fatal("want a match")
	}
	b.ReportAllocs()
	for b.Loop() {
		e.MatchRaw(benchRaw)
	}
}

// BenchmarkPull32 is one pull's worth of work: 32 messages.
func BenchmarkPull32(b *testing.B) {
	e := mustCompile(b, benchExpr)
	b.ReportAllocs()
	for b.Loop() {
		for range 32 {
			e.MatchRaw(benchRaw)
		}
	}
}

func mustCompile(tb testing.TB, expr string) *Expr {
	tb.Helper()
	e, err := Compile(expr)
	if err != nil {
		tb.Fatalf("Compile(%q): %v", expr, err)
	}
	return e
}
