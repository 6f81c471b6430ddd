package message

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
)

var allTypes = []CompressionType{CompressZlib, CompressLZ4, CompressZstd}

func TestCompressionTypeFlags(t *testing.T) {
	// Values from MessageSysFlag.COMPRESSION_*_TYPE and what the Java 5.x
	// producer ORs into the flag together with COMPRESSED_FLAG.
	want := map[CompressionType]int32{CompressLZ4: 0x101, CompressZstd: 0x201, CompressZlib: 0x301}
	names := map[CompressionType]string{CompressLZ4: "LZ4", CompressZstd: "ZSTD", CompressZlib: "ZLIB"}
	for ct, flag := range want {
		if ct.SysFlag() != flag || ct.String() != names[ct] || !ct.Valid() {
			t.Errorf("%v: SysFlag %#x String %q", ct, ct.SysFlag(), ct.String())
		}
		got, err := CompressionTypeOf(flag | SysFlagTxPrepared | SysFlagBornHostV6)
		if err != nil || got != ct {
			t.Errorf("CompressionTypeOf(%#x) = %v, %v", flag, got, err)
		}
		p, err := ParseCompressionType(" " + strings.ToLower(names[ct]) + " ")
		if err != nil || p != ct {
			t.Errorf("ParseCompressionType(%q) = %v, %v", names[ct], p, err)
		}
	}
	// Legacy: 0x1 without type bits is zlib (CompressionType.findByValue(0)).
	if got, err := CompressionTypeOf(SysFlagCompressed); err != nil || got != CompressZlib {
		t.Errorf("legacy flag: %v, %v", got, err)
	}
	for _, bits := range []int32{0x400, 0x500, 0x600, 0x700} {
		if _, err := CompressionTypeOf(SysFlagCompressed | bits); !errors.Is(err, ErrUnsupportedCompress) {
			t.Errorf("bits %#x: %v", bits, err)
		}
		if CompressionType(bits).Valid() || CompressionType(bits).ValidLevel(0) {
			t.Errorf("bits %#x reported valid", bits)
		}
	}
	if _, err := ParseCompressionType("snappy"); !errors.Is(err, ErrUnsupportedCompress) {
		t.Errorf("snappy: %v", err)
	}
	levels := []struct {
		t        CompressionType
		ok, fail []int
	}{
		{CompressZlib, []int{0, 1, 5, 9}, []int{-1, 10, 22}},
		{CompressZstd, []int{0, 1, 5, 19, 22}, []int{-1, -5, 23}},
		{CompressLZ4, []int{-1, 0, 1, 5, 17, 99}, nil},
	}
	for _, l := range levels {
		for _, v := range l.ok {
			if !l.t.ValidLevel(v) {
				t.Errorf("%v level %d refused", l.t, v)
			}
		}
		for _, v := range l.fail {
			if l.t.ValidLevel(v) {
				t.Errorf("%v level %d accepted", l.t, v)
			}
			if _, err := CompressWith(l.t, []byte("x"), v); !errors.Is(err, ErrCompressLevel) {
				t.Errorf("%v level %d: %v", l.t, v, err)
			}
		}
	}
}

// testBodies returns bodies of several sizes and kinds: empty, tiny, around
// the 4 KiB threshold, text that compresses well, noise that does not, and
// bodies past LZ4's 4 MiB block and zstd's 128 KiB block.
func testBodies(tb testing.TB, large bool) map[string][]byte {
	tb.Helper()
	r := rand.New(rand.NewPCG(1, 2))
	noise := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(r.Uint32())
		}
		return b
	}
	text := func(n int) []byte {
		var sb strings.Builder
		for i := 0; sb.Len() < n; i++ {
			fmt.Fprintf(&sb, "{\"id\":%d,\"name\":\"item-%d\",\"ok\":%v}\n", i, i%97, i%3 == 0)
		}
		return []byte(sb.String()[:n])
	}
	m := map[string][]byte{
		"empty":      {},
		"one":        {'x'},
		"text-100":   text(100),
		"text-4095":  text(4095),
		"text-4096":  text(4096),
		"noise-5000": noise(5000),
		"text-200k":  text(200 << 10),
		"zeros-300k": make([]byte, 300<<10),
	}
	if large {
		m["text-4m+1000"] = text(4<<20 + 1000) // two LZ4 blocks
		m["mixed-5m"] = append(noise(1<<20), text(4<<20)...)
	}
	return m
}

func TestCodecRoundTrip(t *testing.T) {
	c := NewCodec()
	levels := map[CompressionType][]int{
		CompressZlib: {0, 1, 9},
		CompressLZ4:  {0, 7},
		CompressZstd: {0, 1, 3, 5, 7, 19, 22},
	}
	for name, plain := range testBodies(t, !testing.Short()) {
		for _, ct := range allTypes {
			for _, level := range levels[ct] {
				if len(plain) > 1<<20 && level != 0 {
					continue // the large bodies test block boundaries, not levels; -race makes them slow
				}
				z, err := c.Compress(ct, plain, level)
				if err != nil {
					t.Fatalf("%s %v level %d: %v", name, ct, level, err)
				}
				got, err := c.Decompress(ct, z, len(plain))
				if err != nil || !bytes.Equal(got, plain) {
					t.Fatalf("%s %v level %d: round trip: %v (%d bytes, want %d)", name, ct, level, err, len(got), len(plain))
				}
				if len(plain) > 1 { // a limit of 0 means the default
					// The limit is exact: one byte less is refused.
					if _, err := c.Decompress(ct, z, len(plain)-1); !errors.Is(err, ErrBodyTooLarge) {
						t.Fatalf("%s %v level %d: limit len-1: %v", name, ct, level, err)
					}
				}
				if name == "text-200k" && len(z) > len(plain)/3 {
					t.Errorf("%s %v level %d: %d -> %d bytes, barely compressed", name, ct, level, len(plain), len(z))
				}
				checkWithReference(t, ct, z, plain)
			}
		}
	}
	// The package-level helpers build a codec per call and agree with it.
	for _, ct := range allTypes {
		z, err := CompressWith(ct, []byte("helper"), 0)
		if err != nil {
			t.Fatal(err)
		}
		if got, err := DecompressWith(ct, z, 0); err != nil || string(got) != "helper" {
			t.Errorf("%v helpers: %q %v", ct, got, err)
		}
	}
	if _, err := c.Compress(CompressionType(0x400), []byte("x"), 0); !errors.Is(err, ErrUnsupportedCompress) {
		t.Errorf("compress with reserved type: %v", err)
	}
}

// checkWithReference reads what we wrote with the libraries' own stream
// readers, which know nothing of our frame walking.
func checkWithReference(t *testing.T, ct CompressionType, z, plain []byte) {
	t.Helper()
	var got []byte
	var err error
	switch ct {
	case CompressLZ4:
		got, err = io.ReadAll(lz4.NewReader(bytes.NewReader(z)))
	case CompressZstd:
		var d *zstd.Decoder
		if d, err = zstd.NewReader(bytes.NewReader(z)); err == nil {
			got, err = io.ReadAll(d)
			d.Close()
		}
	default:
		got, err = Decompress(z, len(plain)+1)
	}
	if err != nil || !bytes.Equal(got, plain) {
		t.Fatalf("%v: reference reader: %v (%d bytes, want %d)", ct, err, len(got), len(plain))
	}
}

func TestLZ4FrameShapeMatchesJava(t *testing.T) {
	c := NewCodec()
	text, _ := os.ReadFile(filepath.Join("testdata", "compress", "text.txt"))
	java, _ := os.ReadFile(filepath.Join("testdata", "compress", "text.java.lz4"))
	ours, err := c.Compress(CompressLZ4, text, 0)
	if err != nil {
		t.Fatal(err)
	}
	// Magic, FLG 0x60 (version 1, independent blocks, nothing else), BD 0x70
	// (4 MiB blocks) and the header checksum: byte for byte LZ4FrameOutputStream's.
	if !bytes.Equal(ours[:7], java[:7]) || !bytes.Equal(ours[:7], []byte{0x04, 0x22, 0x4D, 0x18, 0x60, 0x70, 0x73}) {
		t.Fatalf("header % x, Java's % x", ours[:7], java[:7])
	}
	if !bytes.Equal(ours[len(ours)-4:], []byte{0, 0, 0, 0}) {
		t.Errorf("no end mark (and no content checksum expected): % x", ours[len(ours)-8:])
	}
	// Incompressible data goes in a stored block, as Java does.
	noise, _ := os.ReadFile(filepath.Join("testdata", "compress", "noise.bin"))
	z, _ := c.Compress(CompressLZ4, noise, 0)
	if w := binary.LittleEndian.Uint32(z[7:]); w != uint32(len(noise))|lz4StoredBlock || len(z) != 7+4+len(noise)+4 {
		t.Errorf("noise: block word %#x, %d bytes", w, len(z))
	}
	javaNoise, _ := os.ReadFile(filepath.Join("testdata", "compress", "noise.java.lz4"))
	if !bytes.Equal(z, javaNoise) {
		t.Errorf("stored-block frame differs from Java's")
	}
}

func TestXXH32(t *testing.T) {
	// Reference vectors of xxHash32 with seed 0.
	for in, want := range map[string]uint32{
		"":    0x02CC5D05,
		"a":   0x550D7456,
		"abc": 0x32D153FF,
		"Nobody inspects the spammish repetition": 0xE2293B2F,
	} {
		if got := xxh32([]byte(in)); got != want {
			t.Errorf("xxh32(%q) = %#08x, want %#08x", in, got, want)
		}
	}
}

// TestGoldenVectors decodes bodies made by the Java libraries RocketMQ 5.x
// uses and by the reference C tools. The *.java.* files were written by
// lz4-java 1.8.0 (LZ4FrameOutputStream with its defaults) and zstd-jni
// 1.5.2-5 (ZstdOutputStream at the level in the name), each driven as
// Lz4Compressor and ZstdCompressor drive them: write the body, flush, close.
// The *.cli.* files come from the lz4 1.9.4 and zstd 1.5.4 command-line
// tools and exercise frame features Java leaves off: content and block
// checksums, content sizes, dependent 64 KiB blocks. Plain texts are
// text.txt, noise.bin, the empty body, and longText below.
func TestGoldenVectors(t *testing.T) {
	dir := filepath.Join("testdata", "compress")
	text, err := os.ReadFile(filepath.Join(dir, "text.txt"))
	if err != nil {
		t.Fatal(err)
	}
	noise, _ := os.ReadFile(filepath.Join(dir, "noise.bin"))
	plains := map[string][]byte{"text": text, "noise": noise, "empty": {}, "long": longText(text)}
	files, _ := filepath.Glob(filepath.Join(dir, "*.*.*"))
	if len(files) < 15 {
		t.Fatalf("only %d golden files", len(files))
	}
	c := NewCodec()
	for _, f := range files {
		base := filepath.Base(f)
		plain, ok := plains[strings.SplitN(base, ".", 2)[0]]
		if !ok {
			t.Fatalf("%s: unknown plain text", base)
		}
		ct := CompressZstd
		if strings.HasSuffix(base, ".lz4") {
			ct = CompressLZ4
		}
		z, _ := os.ReadFile(f)
		got, err := c.Decompress(ct, z, 0)
		if err != nil || !bytes.Equal(got, plain) {
			t.Errorf("%s: %v (%d bytes, want %d)", base, err, len(got), len(plain))
			continue
		}
		if len(plain) > 1 {
			if _, err := c.Decompress(ct, z, len(plain)-1); !errors.Is(err, ErrBodyTooLarge) {
				t.Errorf("%s: limit len-1: %v", base, err)
			}
		}
		// Through a pull body, flagged as a Java 5.x producer flags it.
		rec := appendStoredT(t, nil, &StoredMessage{Topic: "T", Body: z, SysFlag: ct.SysFlag()})
		msgs, err := DecodeMessages(rec)
		if err != nil || msgs[0].Err != nil || !bytes.Equal(msgs[0].Body, plain) {
			t.Errorf("%s: DecodeMessages: %v / %v", base, err, msgs[0].Err)
		}
	}
}

// longText is the plain text of the long.* vectors: text.txt forty times,
// each copy preceded by "#i\n".
func longText(text []byte) []byte {
	var b bytes.Buffer
	for i := range 40 {
		fmt.Fprintf(&b, "#%d\n", i)
		b.Write(text)
	}
	return b.Bytes()
}

// TestLibraryDefaultFrames decodes frames written by the two Go libraries
// with their default settings and with the optional features on.
func TestLibraryDefaultFrames(t *testing.T) {
	text, _ := os.ReadFile(filepath.Join("testdata", "compress", "text.txt"))
	plain := longText(text)
	c := NewCodec()

	lz4Frames := map[string][]lz4.Option{
		"defaults":        nil,
		"64k-blocks":      {lz4.BlockSizeOption(lz4.Block64Kb)},
		"block-checksums": {lz4.BlockSizeOption(lz4.Block256Kb), lz4.BlockChecksumOption(true)},
		"size-no-sum":     {lz4.SizeOption(uint64(len(plain))), lz4.ChecksumOption(false)},
		"level-9":         {lz4.CompressionLevelOption(lz4.Level9)},
		"concurrent":      {lz4.BlockSizeOption(lz4.Block64Kb), lz4.ConcurrencyOption(4)},
	}
	for name, opts := range lz4Frames {
		var buf bytes.Buffer
		w := lz4.NewWriter(&buf)
		if err := w.Apply(opts...); err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(plain); err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		got, err := c.Decompress(CompressLZ4, buf.Bytes(), 0)
		if err != nil || !bytes.Equal(got, plain) {
			t.Errorf("lz4 %s: %v", name, err)
		}
	}

	var stream bytes.Buffer
	zw, _ := zstd.NewWriter(&stream) // streamed: no content size, with CRC
	zw.Write(plain)
	zw.Close()
	enc, _ := zstd.NewWriter(nil)
	zstdFrames := map[string][]byte{
		"stream":     stream.Bytes(),
		"encode-all": enc.EncodeAll(plain, nil), // content size, CRC
		"two-frames": enc.EncodeAll(plain[len(plain)/2:], enc.EncodeAll(plain[:len(plain)/2], nil)),
	}
	for name, z := range zstdFrames {
		got, err := c.Decompress(CompressZstd, z, 0)
		if err != nil || !bytes.Equal(got, plain) {
			t.Errorf("zstd %s: %v", name, err)
		}
	}
}

// lz4Header builds a frame descriptor after the magic, with its checksum.
func lz4Header(flg, bd byte, size uint64) []byte {
	h := binary.LittleEndian.AppendUint32(nil, lz4Magic)
	desc := []byte{flg, bd}
	if flg&lz4FlagSize != 0 {
		desc = binary.LittleEndian.AppendUint64(desc, size)
	}
	h = append(h, desc...)
	return append(h, lz4HeaderChecksum(desc))
}

// zstdRLEBomb is a zstd frame of n RLE blocks of 128 KiB zeros each: 4 bytes
// of input per 128 KiB of output. fcs < 0 leaves the size out of the header
// (as stream writers do) with a 128 MiB window; otherwise the header claims
// fcs bytes.
func zstdRLEBomb(n int, fcs int64) []byte {
	b := []byte{0x28, 0xB5, 0x2F, 0xFD}
	if fcs < 0 {
		b = append(b, 0x00, 17<<3) // no size; window 2^(10+17)
	} else {
		b = append(b, 0xC0, 17<<3) // 8-byte content size; window 2^27
		b = binary.LittleEndian.AppendUint64(b, uint64(fcs))
	}
	for i := range n {
		hdr := uint32(1<<1 | (128<<10)<<3) // RLE, 128 KiB
		if i == n-1 {
			hdr |= 1 // last block
		}
		b = append(b, byte(hdr), byte(hdr>>8), byte(hdr>>16), 0)
	}
	return b
}

// lz4ZeroBomb is an LZ4 frame of n 4 MiB blocks of zeros (about 16 KiB each).
func lz4ZeroBomb(tb testing.TB, n int) []byte {
	tb.Helper()
	zeros := make([]byte, 4<<20)
	blk := make([]byte, lz4.CompressBlockBound(len(zeros)))
	var c lz4.Compressor
	k, err := c.CompressBlock(zeros, blk)
	if err != nil || k == 0 {
		tb.Fatal(k, err)
	}
	b := lz4Header(lz4JavaFLG, lz4JavaBD, 0)
	for range n {
		b = binary.LittleEndian.AppendUint32(b, uint32(k))
		b = append(b, blk[:k]...)
	}
	return binary.LittleEndian.AppendUint32(b, 0)
}

// allocDuring reports the bytes allocated while f runs.
func allocDuring(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

func TestZipBombs(t *testing.T) {
	const limit = 16 << 20 // DefaultMaxInflateSize
	bombs := []struct {
		name     string
		t        CompressionType
		body     []byte
		maxAlloc uint64 // what refusing may allocate in all
	}{
		// Frames that state a huge size are refused from the header alone.
		{"lz4 claims 1 TiB", CompressLZ4, append(lz4Header(lz4JavaFLG|lz4FlagSize, lz4JavaBD, 1<<40), 0, 0, 0, 0), 64 << 10},
		{"zstd claims 1 TiB", CompressZstd, zstdRLEBomb(8, 1<<40), 1 << 20},
		// Frames that state nothing: 160 MiB of LZ4 zeros in 40 blocks, all
		// sized before anything is allocated; 256 MiB of zstd RLE blocks,
		// decoded into buffers that grow up to the limit and no further
		// (the attempts and the decoder's last append, garbage included,
		// add up to about three times the limit).
		{"lz4 160 MiB", CompressLZ4, lz4ZeroBomb(t, 40), 64 << 10},
		{"zstd 256 MiB", CompressZstd, zstdRLEBomb(2048, -1), 4 * limit},
	}
	// Refusing is bounded by what it may allocate, not by a time limit (a
	// timed check failed under -race on a loaded machine); the time is only
	// logged, and a decoder that never stopped would hit the test timeout.
	c := NewCodec()
	for _, b := range bombs {
		start := time.Now()
		var err error
		alloc := allocDuring(func() { _, err = c.Decompress(b.t, b.body, limit) })
		took := time.Since(start)
		if !errors.Is(err, ErrBodyTooLarge) {
			t.Errorf("%s: %v", b.name, err)
		}
		if alloc > b.maxAlloc {
			t.Errorf("%s: allocated %d bytes refusing a %d-byte body (max %d)", b.name, alloc, len(b.body), b.maxAlloc)
		}
		t.Logf("%s: %d input bytes refused in %v, %d bytes allocated", b.name, len(b.body), took, alloc)
	}

	// Just under and at the limit, the same constructions decode.
	if got, err := c.Decompress(CompressZstd, zstdRLEBomb(128, -1), limit); err != nil || len(got) != limit {
		t.Errorf("zstd at the limit: %d bytes, %v", len(got), err)
	}
	if got, err := c.Decompress(CompressLZ4, lz4ZeroBomb(t, 4), limit); err != nil || len(got) != limit {
		t.Errorf("lz4 at the limit: %d bytes, %v", len(got), err)
	}
	if _, err := c.Decompress(CompressLZ4, lz4ZeroBomb(t, 5), limit); !errors.Is(err, ErrBodyTooLarge) {
		t.Errorf("lz4 one block over: %v", err)
	}
}

func TestDamagedStreams(t *testing.T) {
	read := func(name string) []byte {
		b, err := os.ReadFile(filepath.Join("testdata", "compress", name))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	flip := func(b []byte, i int) []byte {
		b = bytes.Clone(b)
		b[i] ^= 0x40
		return b
	}
	lz4Java := read("text.java.lz4")
	lz4Sums := read("long.cli-b4-bd-bx-size.lz4") // block and content checksums, content size
	zstdCRC := read("long.cli-stream-check.zst")
	zstdJava := read("text.java-5.zst")
	ours, _ := CompressWith(CompressLZ4, bytes.Repeat([]byte("abcd"), 1000), 0)
	stored, _ := CompressWith(CompressLZ4, read("noise.bin"), 0)

	cases := []struct {
		name string
		t    CompressionType
		body []byte
	}{
		{"lz4 empty", CompressLZ4, nil},
		{"lz4 garbage", CompressLZ4, []byte("definitely not an lz4 frame")},
		{"lz4 truncated header", CompressLZ4, lz4Java[:6]},
		{"lz4 truncated block", CompressLZ4, lz4Java[:len(lz4Java)/2]},
		{"lz4 no end mark", CompressLZ4, lz4Java[:len(lz4Java)-4]},
		{"lz4 header checksum", CompressLZ4, flip(lz4Java, 6)},
		{"lz4 version", CompressLZ4, flip(lz4Java, 4)},
		{"lz4 block size over max", CompressLZ4, append(lz4Header(lz4JavaFLG, 4<<4, 0), 0x01, 0x00, 0x01, 0x00)},
		{"lz4 trailing garbage", CompressLZ4, append(bytes.Clone(ours), 1, 2, 3, 4, 5)},
		{"lz4 skippable frame cut", CompressLZ4, []byte{0x50, 0x2A, 0x4D, 0x18, 2, 0, 0, 0, 9}},
		{"lz4 block checksum", CompressLZ4, flip(lz4Sums, 40)},
		{"lz4 content checksum", CompressLZ4, flip(lz4Sums, len(lz4Sums)-2)},
		{"lz4 offset before the block", CompressLZ4, lz4FarOffset(t, ours)},
		{"lz4 garbage block", CompressLZ4, append(append(lz4Header(lz4JavaFLG, lz4JavaBD, 0), 10, 0, 0, 0), bytes.Repeat([]byte{0xFF}, 10)...)},
		{"lz4 stored block cut", CompressLZ4, stored[:len(stored)-10]},
		{"zstd empty", CompressZstd, nil},
		{"zstd garbage", CompressZstd, []byte("definitely not a zstd frame")},
		{"zstd truncated", CompressZstd, zstdJava[:len(zstdJava)/2]},
		{"zstd no last block", CompressZstd, zstdJava[:len(zstdJava)-3]},
		{"zstd trailing garbage", CompressZstd, append(bytes.Clone(zstdJava), 1, 2, 3, 4, 5)},
		{"zstd checksum", CompressZstd, flip(zstdCRC, len(zstdCRC)-1)},
		{"zstd content", CompressZstd, flip(zstdCRC, len(zstdCRC)/2)},
		{"zstd reserved block type", CompressZstd, []byte{0x28, 0xB5, 0x2F, 0xFD, 0x00, 0x50, 0x07, 0x00, 0x00}},
		{"zstd window over 128 MiB", CompressZstd, []byte{0x28, 0xB5, 0x2F, 0xFD, 0x00, 18 << 3, 0x01, 0x00, 0x00}},
	}
	c := NewCodec()
	for _, tc := range cases {
		if got, err := c.Decompress(tc.t, tc.body, 0); !errors.Is(err, ErrDecompress) || got != nil {
			t.Errorf("%s: %v (%d bytes)", tc.name, err, len(got))
		}
	}
	// Skippable frames are skipped, and alone they make an empty body, in
	// both formats (as Java's readers do).
	skip := []byte{0x5F, 0x2A, 0x4D, 0x18, 1, 0, 0, 0, 9}
	if got, err := c.Decompress(CompressLZ4, append(bytes.Clone(skip), ours...), 0); err != nil || !bytes.Equal(got, bytes.Repeat([]byte("abcd"), 1000)) {
		t.Errorf("lz4 after a skippable frame: %v", err)
	}
	for _, ct := range []CompressionType{CompressLZ4, CompressZstd} {
		if got, err := c.Decompress(ct, skip, 0); err != nil || got == nil || len(got) != 0 {
			t.Errorf("%v skippable only: %q %v", ct, got, err)
		}
	}
	if _, err := c.Decompress(CompressionType(0x500), ours, 0); !errors.Is(err, ErrUnsupportedCompress) {
		t.Errorf("reserved type: %v", err)
	}
}

// lz4FarOffset points the first match of our single-frame z at 65535 bytes
// back, before the start of the block.
func lz4FarOffset(t *testing.T, z []byte) []byte {
	t.Helper()
	z = bytes.Clone(z)
	const first = 7 + 4 // header, block size
	lit := int(z[first] >> 4)
	if lit == 15 || len(z) < first+lit+3 {
		t.Fatalf("first token %#x: pick another text", z[first])
	}
	binary.LittleEndian.PutUint16(z[first+1+lit:], 0xFFFF)
	return z
}

// TestLZ4DependentBlocks checks the history window of dependent blocks,
// which Java never writes but lz4 -BD does: a block may copy from the end
// of the previous one.
func TestLZ4DependentBlocks(t *testing.T) {
	first := []byte("0123456789abcdef0123456789abcdef")
	// Block 2: no literals, a 32-byte match at offset 32 (into block 1),
	// then a last sequence of 1 literal.
	blk2 := []byte{0x0F, 32, 0, 32 - 4 - 15, 0x10, 'z'}
	flg := byte(lz4FlagVersion) // dependent
	f := lz4Header(flg, 4<<4, 0)
	f = binary.LittleEndian.AppendUint32(f, uint32(len(first))|lz4StoredBlock)
	f = append(f, first...)
	f = binary.LittleEndian.AppendUint32(f, uint32(len(blk2)))
	f = append(f, blk2...)
	f = binary.LittleEndian.AppendUint32(f, 0)
	want := append(append(bytes.Clone(first), first...), 'z')
	got, err := DecompressWith(CompressLZ4, f, 0)
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("dependent: %q %v", got, err)
	}
	// The same block in an independent frame reaches before its start.
	f[4] |= lz4FlagIndep
	f[6] = lz4HeaderChecksum(f[4:6])
	if _, err := DecompressWith(CompressLZ4, f, 0); !errors.Is(err, ErrDecompress) {
		t.Fatalf("independent: %v", err)
	}
}

// TestCodecConcurrent shares one codec between goroutines (run with -race).
func TestCodecConcurrent(t *testing.T) {
	c := NewCodec()
	text, _ := os.ReadFile(filepath.Join("testdata", "compress", "text.txt"))
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for g := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ct := allTypes[g%3]
			for i := range 20 {
				plain := append(bytes.Clone(text), byte(g), byte(i))
				z, err := c.Compress(ct, plain, 1+i%9)
				if err != nil {
					errs <- err
					return
				}
				got, err := c.Decompress(ct, z, 0)
				if err != nil || !bytes.Equal(got, plain) {
					errs <- fmt.Errorf("%v: %w", ct, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// TestCodecKeepsZlibWriterAcrossGC: a Codec compressing less often than the
// collector runs (a trace producer) still reuses its zlib writer instead
// of building hundreds of KiB of deflate state per body.
func TestCodecKeepsZlibWriterAcrossGC(t *testing.T) {
	c := NewCodec()
	body := bytes.Repeat([]byte("Pub\x011765000000000\x01DefaultRegion\x01group\x01topic\x02"), 300)
	if _, err := c.Compress(CompressZlib, body, 1); err != nil {
		t.Fatal(err)
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.GC() // sync.Pool is empty after two collections
	runtime.ReadMemStats(&before)
	z, err := c.Compress(CompressZlib, body, 1)
	runtime.ReadMemStats(&after)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := c.Decompress(CompressZlib, z, 0); !bytes.Equal(got, body) {
		t.Fatal("round trip differs")
	}
	if n := after.TotalAlloc - before.TotalAlloc; n > 64<<10 {
		t.Fatalf("compressing %d bytes after two collections allocated %d bytes: the writer was rebuilt", len(body), n)
	}
}
