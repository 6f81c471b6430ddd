package trace

import (
	"bytes"
	"compress/zlib"
	"fmt"
	stdadler32 "hash/adler32"
	"io"
	"math/rand/v2"
	"strings"
	"testing"

	kzlib "github.com/klauspost/compress/zlib"
)

// loadBatches returns trace bodies shaped like a traced load test's: a
// producer's batch of Pub records and a consumer's of SubBefore/SubAfter
// pairs, ids counting up, timestamps and latencies wandering.
func loadBatches(records int) (pub, sub []byte) {
	rng := rand.New(rand.NewPCG(1, 2))
	ts := int64(1796587639536)
	for i := range records {
		ts += int64(rng.IntN(3))
		id := fmt.Sprintf("C0000202303F3025E2911E11%08X", 0x22E00000+i*3+rng.IntN(3))
		pub = AppendRecord(pub, &Record{Type: Pub, Timestamp: ts, RegionID: "DefaultRegion",
			Group: "benchmark_producer", Topic: "RocketgoLoadTest", MsgID: id,
			OffsetMsgID: fmt.Sprintf("7F00000100009B3F%016X", i*300), StoreHost: "127.0.0.1:39743",
			ClientHost: "192.0.2.2", BodyLength: 128, CostTime: int64(rng.IntN(30)), Success: true})
		if i%2 == 0 {
			req := fmt.Sprintf("C0000202303F6A294A8C%012X", i/2+1)
			sub = AppendRecord(sub, &Record{Type: SubBefore, Timestamp: ts, Group: "benchmark_consumer",
				RequestID: req, MsgID: id, ClientHost: "192.0.2.2"})
			sub = AppendRecord(sub, &Record{Type: SubAfter, Timestamp: ts, Group: "benchmark_consumer",
				RequestID: req, MsgID: id, CostTime: int64(rng.IntN(2)), Success: true})
		}
	}
	return pub, sub
}

func inflate(t testing.TB, z []byte) []byte {
	t.Helper()
	r, err := zlib.NewReader(bytes.NewReader(z))
	if err != nil {
		t.Fatalf("zlib header: %v", err)
	}
	out, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("inflate: %v", err)
	}
	return out
}

func TestAppendZlibRoundTrip(t *testing.T) {
	pub, sub := loadBatches(512)
	rng := rand.New(rand.NewPCG(3, 4))
	random := make([]byte, 5000)
	for i := range random {
		random[i] = byte(rng.IntN(256))
	}
	// Random records over a small alphabet with separators, so fields
	// differ in length and count from record to record.
	var ragged []byte
	for range 3000 {
		ragged = append(ragged, "ab\x01\x02xyz"[rng.IntN(7)])
	}
	long := strings.Repeat("Pub\x01"+strings.Repeat("x", 1000)+"\x02", 5)
	var many []byte // more record types than are remembered
	for i := range 40 {
		many = append(many, fmt.Sprintf("T%d\x01value\x01%d\x02", i%(maxTypes+3), i)...)
	}
	var far []byte // references beyond deflate's 32 KiB window
	for i := range 3 {
		far = append(far, fmt.Sprintf("A\x01%d\x02B\x01%s\x02", i, strings.Repeat("y", 20000))...)
	}
	cases := map[string][]byte{
		"empty": nil, "one record": AppendRecord(nil, &sampleRecords()[0]),
		"samples": func() (b []byte) {
			for _, r := range sampleRecords() {
				b = AppendRecord(b, &r)
			}
			return b
		}(),
		"pub": pub, "sub": sub, "random": random, "ragged": ragged, "long": []byte(long),
		"many types": many, "far": far, "no separator": []byte("abcabcabcabc"),
		"trailing partial": append(append([]byte{}, sub...), "SubBefore\x0117965876"...),
	}
	for name, body := range cases {
		t.Run(name, func(t *testing.T) {
			z := AppendZlib([]byte("prefix"), body)
			if !bytes.HasPrefix(z, []byte("prefix")) {
				t.Fatal("dst overwritten")
			}
			if got := inflate(t, z[len("prefix"):]); !bytes.Equal(got, body) {
				t.Fatalf("round trip: got %d bytes, want %d", len(got), len(body))
			}
		})
	}
}

// TestAppendZlibRatio: a trace batch must shrink about as much as a
// general compressor shrinks it, or the broker stores the difference.
func TestAppendZlibRatio(t *testing.T) {
	pub, sub := loadBatches(512)
	for name, body := range map[string][]byte{"pub": pub, "sub": sub} {
		z := AppendZlib(nil, body)
		var ref bytes.Buffer
		w, _ := kzlib.NewWriterLevel(&ref, 1)
		w.Write(body)
		w.Close()
		t.Logf("%s: %d bytes, AppendZlib %d (%.1fx), klauspost level 1 %d (%.1fx)", name, len(body),
			len(z), float64(len(body))/float64(len(z)), ref.Len(), float64(len(body))/float64(ref.Len()))
		if len(z) > 2*ref.Len() || len(z)*8 > len(body) {
			t.Errorf("%s: %d bytes compress to %d, level 1 to %d", name, len(body), len(z), ref.Len())
		}
	}
}

func FuzzAppendZlib(f *testing.F) {
	pub, sub := loadBatches(8)
	f.Add(pub)
	f.Add(sub)
	f.Add([]byte("a\x01b\x02a\x01bb\x02a\x01\x02\x02"))
	f.Fuzz(func(t *testing.T, body []byte) {
		if got, want := adler32(body), stdadler32.Checksum(body); got != want {
			t.Fatalf("adler32 %08x, want %08x", got, want)
		}
		if got := inflate(t, AppendZlib(nil, body)); !bytes.Equal(got, body) {
			t.Fatalf("round trip of %q: got %q", body, got)
		}
	})
}

// BenchmarkAppendZlib compares AppendZlib with the general compressor it
// replaces on trace batches of 512 records.
func BenchmarkAppendZlib(b *testing.B) {
	pub, sub := loadBatches(512)
	for _, in := range []struct {
		name string
		body []byte
	}{{"pub", pub}, {"sub", sub}} {
		b.Run(in.name+"/AppendZlib", func(b *testing.B) {
			dst := make([]byte, 0, len(in.body))
			b.SetBytes(int64(len(in.body)))
			b.ReportAllocs()
			for b.Loop() {
				dst = AppendZlib(dst[:0], in.body)
			}
			b.ReportMetric(float64(len(in.body))/float64(len(dst)), "ratio")
		})
		b.Run(in.name+"/klauspost-1", func(b *testing.B) {
			var buf bytes.Buffer
			w, _ := kzlib.NewWriterLevel(&buf, 1)
			b.SetBytes(int64(len(in.body)))
			b.ReportAllocs()
			for b.Loop() {
				buf.Reset()
				w.Reset(&buf)
				w.Write(in.body)
				w.Close()
			}
			b.ReportMetric(float64(len(in.body))/float64(buf.Len()), "ratio")
		})
	}
}

func TestAdler32(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for _, n := range []int{0, 1, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 1000, 1<<16 - 1, 1 << 16, 1<<16 + 9, 300000} {
		for _, fill := range []string{"random", "0xff"} {
			p := make([]byte, n)
			for i := range p {
				if fill == "random" {
					p[i] = byte(rng.IntN(256))
				} else {
					p[i] = 0xff // the largest sums, for overflow
				}
			}
			if got, want := adler32(p), stdadler32.Checksum(p); got != want {
				t.Errorf("%d %s bytes: %08x, want %08x", n, fill, got, want)
			}
		}
	}
}

// BenchmarkAdler32: the checksum of a trace batch, against hash/adler32.
func BenchmarkAdler32(b *testing.B) {
	pub, _ := loadBatches(512)
	b.Run("ours", func(b *testing.B) {
		b.SetBytes(int64(len(pub)))
		for b.Loop() {
			adler32(pub)
		}
	})
	b.Run("hash/adler32", func(b *testing.B) {
		b.SetBytes(int64(len(pub)))
		for b.Loop() {
			stdadler32.Checksum(pub)
		}
	})
}
