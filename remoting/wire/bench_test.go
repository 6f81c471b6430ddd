package wire

import (
	"testing"
)

// BenchmarkParseTopicRoute measures decoding a route answer; producers and
// consumers do this every 30 s per topic, so it is not hot, but a bare-key
// body must not cost much more than a standard one.
func BenchmarkParseTopicRoute(b *testing.B) {
	for name, body := range map[string][]byte{"standard": []byte(standardRoute), "bare": []byte(bareRoute)} {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(body)))
			for b.Loop() {
				if _, err := ParseTopicRoute(body); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
