package selector

import (
	"slices"
	"strings"
	"testing"
	"unicode/utf16"
)

// utf16Units is the slow, obviously correct reference: Java's view of s.
func utf16Units(s string) []uint16 { return utf16.Encode([]rune(s)) }

func FuzzJavaHashCode(f *testing.F) {
	for _, tc := range javaHashes {
		f.Add(tc.key)
	}
	f.Add("a\xffb\xc0")
	f.Fuzz(func(t *testing.T, s string) {
		var want int32
		for _, u := range utf16Units(s) {
			want = 31*want + int32(u)
		}
		if got := JavaHashCode(s); got != want {
			t.Fatalf("JavaHashCode(%q) = %d, want %d", s, got, want)
		}
	})
}

func FuzzJavaCompare(f *testing.F) {
	f.Add("a", "b")
	f.Add("😀", "\uFFFF")
	f.Add("x\xff", "x\xfe")
	f.Add("é", "e\u0301")
	f.Fuzz(func(t *testing.T, a, b string) {
		want := slices.Compare(utf16Units(a), utf16Units(b))
		if want == 0 {
			want = strings.Compare(a, b) // invalid UTF-8 tie-break
		}
		got := JavaCompare(a, b)
		if sign(got) != want || sign(JavaCompare(b, a)) != -want {
			t.Fatalf("JavaCompare(%q, %q) = %d, want sign %d", a, b, got, want)
		}
	})
}
