package properties

import (
	"errors"
	"maps"
	"strings"
	"testing"
)

func TestParseJavaSyntax(t *testing.T) {
	in := "# comment\n" +
		"! another comment\n" +
		"   \n" +
		"brokerClusterName = DefaultCluster\n" +
		"brokerName:broker-a\n" +
		"brokerId 0\n" +
		"\t  deleteWhen=04\n" +
		"messageDelayLevel=1s 5s \\\n" +
		"    10s 30s\n" +
		"path=C:\\\\store\\\\commitlog\n" +
		"tab=a\\tb\n" +
		"unicode=caf\\u00e9 \\ud83d\\ude00\n" +
		"key\\ with\\ spaces = v\n" +
		"key\\=eq=v2\n" +
		"empty=\n" +
		"justakey\n" +
		"colon\\:key:value: with colon\n" +
		"trailing=even\\\\\n" +
		"# a comment ending in a backslash does not continue \\\n" +
		"after=comment\n" +
		"windows=crlf\r\n" +
		"brokerName=broker-b\n"
	entries, err := Parse(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]string{}
	for _, e := range entries {
		m[e.Key] = e.Value
	}
	want := map[string]string{
		"brokerClusterName": "DefaultCluster",
		"brokerName":        "broker-b", // the last one wins
		"brokerId":          "0",
		"deleteWhen":        "04",
		"messageDelayLevel": "1s 5s 10s 30s",
		"path":              `C:\store\commitlog`,
		"tab":               "a\tb",
		"unicode":           "café 😀",
		"key with spaces":   "v",
		"key=eq":            "v2",
		"empty":             "",
		"justakey":          "",
		"colon:key":         "value: with colon",
		"trailing":          `even\`,
		"after":             "comment",
		"windows":           "crlf",
	}
	if !maps.Equal(m, want) {
		t.Fatalf("parsed\n%v\nwant\n%v", m, want)
	}
	if entries[0].Line != 4 || entries[4].Key != "messageDelayLevel" || entries[4].Line != 8 {
		t.Fatalf("line numbers wrong: %+v", entries[:5])
	}
}

func TestParseContinuationAtEOF(t *testing.T) {
	m, err := Map(strings.NewReader("a=1\\"))
	if err != nil || m["a"] != "1" {
		t.Fatalf("m=%v err=%v", m, err)
	}
}

func TestParseRejectsMalformedUnicode(t *testing.T) {
	for _, in := range []string{`a=\u12`, `a=\uzzzz`, `k\u00=v`} {
		if _, err := Parse(strings.NewReader(in)); !errors.Is(err, ErrSyntax) {
			t.Errorf("%q: err = %v, want ErrSyntax", in, err)
		}
	}
}

func TestFormatRoundTrips(t *testing.T) {
	m := map[string]string{
		"plain":         "value",
		"spaces":        "  leading and inner",
		"key with = :":  "v",
		"#hash":         "!bang",
		`back\slash`:    `C:\dir\`,
		"ctl":           "a\tb\nc\rd\fe",
		"empty":         "",
		"unicode":       "日本",
		"equals in val": "a=b:c",
	}
	text := Format(m)
	got, err := Map(strings.NewReader(text))
	if err != nil {
		t.Fatal(err)
	}
	if !maps.Equal(got, m) {
		t.Fatalf("round trip through\n%s\ngave %v", text, got)
	}
	if !strings.HasPrefix(text, `\#hash=!bang`) {
		t.Fatalf("keys not sorted or escaped: %q", text)
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"a=b", "a b\\\n c", `\u0041=\t`, "#x\n!y\nk:v", `a=\`, "=\\u"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		m, err := Map(strings.NewReader(s))
		if err != nil {
			return
		}
		back, err := Map(strings.NewReader(Format(m)))
		if err != nil {
			t.Fatalf("formatted output does not parse: %v", err)
		}
		if !maps.Equal(m, back) {
			t.Fatalf("round trip changed %v into %v", m, back)
		}
	})
}
