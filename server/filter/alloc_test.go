//go:build !race

// The race detector adds allocations of its own, so this runs without it.

package filter

import "testing"

func TestMatchDoesNotAllocate(t *testing.T) {
	for _, expr := range []string{
		benchExpr,
		"a BETWEEN 1 AND 100 AND TAGS NOT IN ('0','1','2','3','4','5','6','7','8','9')",
		"a > 4.5 OR b = TRUE OR c CONTAINS 'x' OR d IS NULL OR a > b",
		"a > 5 OR b = 'x'", // ends in an evaluation error on a="abc"
	} {
		e := mustCompile(t, expr)
		for _, props := range []Map{benchMap, {"a": "abc", "b": "y"}} {
			raw := encodeRaw(props)
			if n := testing.AllocsPerRun(100, func() { e.Match(props) }); n != 0 {
				t.Errorf("Match(%q) allocates %.0f times", expr, n)
			}
			if n := testing.AllocsPerRun(100, func() { e.MatchRaw(raw) }); n != 0 {
				t.Errorf("MatchRaw(%q) allocates %.0f times", expr, n)
			}
		}
	}
}
