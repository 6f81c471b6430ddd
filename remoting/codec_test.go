package remoting

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
)

// randString mixes ASCII, JSON specials, control bytes (property separators
// included), multi-byte UTF-8 and invalid UTF-8, all of which must survive
// both header encodings byte for byte.
func randString(r *rand.Rand, maxLen int) string {
	n := r.IntN(maxLen + 1)
	var b strings.Builder
	for b.Len() < n {
		switch r.IntN(8) {
		case 0:
			b.WriteByte(byte(r.IntN(0x20))) // control
		case 1:
			b.WriteByte(`"\/`[r.IntN(3)])
		case 2:
			b.WriteString([]string{"é", "日本", "😀", "\u2028", "\x7f"}[r.IntN(5)])
		case 3:
			b.WriteByte(byte(0x80 + r.IntN(0x80))) // stray continuation / invalid
		default:
			b.WriteByte(byte('a' + r.IntN(26)))
		}
	}
	return b.String()
}

func randCommand(r *rand.Rand) *Command {
	c := &Command{
		Code:          int16(r.Uint32()),
		Language:      LanguageCode(r.IntN(14)),
		Version:       int16(r.Uint32()),
		Opaque:        int32(r.Uint32()),
		Flag:          int32(r.Uint32()),
		SerializeType: SerializeType(r.IntN(2)),
	}
	if r.IntN(3) > 0 {
		c.Remark = randString(r, 40)
	}
	for n := r.IntN(16); n > 0; n-- {
		c.Ext.Set(randString(r, 12), randString(r, 60))
	}
	if r.IntN(4) > 0 {
		c.Body = make([]byte, r.IntN(300))
		for i := range c.Body {
			c.Body[i] = byte(r.Uint32())
		}
	}
	return c
}

func assertSameCommand(t *testing.T, want, got *Command) {
	t.Helper()
	if got.Code != want.Code || got.Language != want.Language || got.Version != want.Version ||
		got.Opaque != want.Opaque || got.Flag != want.Flag || got.Remark != want.Remark ||
		got.SerializeType != want.SerializeType || !bytes.Equal(got.Body, want.Body) {
		t.Fatalf("command mismatch\nwant %v\ngot  %v", want, got)
	}
	if len(got.Ext.kv) != len(want.Ext.kv) {
		t.Fatalf("ext length: want %d got %d\nwant %v\ngot  %v", want.Ext.Len(), got.Ext.Len(), &want.Ext, &got.Ext)
	}
	for i := range want.Ext.kv {
		if got.Ext.kv[i] != want.Ext.kv[i] {
			t.Fatalf("ext entry %d: want %q got %q", i/2, want.Ext.kv[i], got.Ext.kv[i])
		}
	}
}

// TestRoundTripProperty encodes random commands in both serialisations into
// one stream, feeds the stream to SplitFrame in random chunk sizes as a
// socket reader would, and checks every decoded command equals its source.
func TestRoundTripProperty(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for round := 0; round < 200; round++ {
		cmds := make([]*Command, 1+r.IntN(10))
		var stream []byte
		for i := range cmds {
			cmds[i] = randCommand(r)
			var err error
			stream, err = AppendFrame(stream, cmds[i])
			if err != nil {
				t.Fatalf("AppendFrame: %v", err)
			}
		}
		var buf []byte
		next := 0
		for len(stream) > 0 || len(buf) > 0 {
			chunk := min(len(stream), 1+r.IntN(64))
			buf = append(buf, stream[:chunk]...)
			stream = stream[chunk:]
			for {
				frame, n, err := SplitFrame(buf, 0)
				if err != nil {
					t.Fatalf("SplitFrame: %v", err)
				}
				if n == 0 {
					break
				}
				got, err := DecodeFrame(frame)
				if err != nil {
					t.Fatalf("DecodeFrame: %v", err)
				}
				// Body aliases the buffer: copy before the buffer is reused.
				got.Body = bytes.Clone(got.Body)
				assertSameCommand(t, cmds[next], got)
				next++
				buf = buf[n:]
			}
			if len(stream) == 0 && len(buf) > 0 {
				t.Fatalf("%d bytes left over after the last frame", len(buf))
			}
		}
		if next != len(cmds) {
			t.Fatalf("decoded %d of %d frames", next, len(cmds))
		}
	}
}

func TestAppendFrameLayout(t *testing.T) {
	c := NewRequest(GetRouteInfoByTopic, &GetRouteInfoRequestHeader{Topic: "T"}, []byte("xy"))
	c.Opaque = 7
	prefix := []byte("keep")
	out, err := AppendFrame(prefix, c)
	if err != nil {
		t.Fatal(err)
	}
	if string(out[:4]) != "keep" {
		t.Fatalf("dst prefix overwritten: %q", out[:4])
	}
	f := out[4:]
	frameLen := int(binary.BigEndian.Uint32(f))
	if frameLen != len(f)-4 {
		t.Fatalf("frameLen %d, bytes after prefix %d", frameLen, len(f)-4)
	}
	word := binary.BigEndian.Uint32(f[4:])
	if word>>24 != 0 {
		t.Fatalf("serialize type byte %d, want 0", word>>24)
	}
	hdr := string(f[8 : 8+word&0xFFFFFF])
	want := `{"code":105,"language":"GO","version":479,"opaque":7,"flag":0,"extFields":{"topic":"T"}}`
	if hdr != want {
		t.Fatalf("header\n got %s\nwant %s", hdr, want)
	}
	if string(f[8+word&0xFFFFFF:]) != "xy" {
		t.Fatalf("body %q", f[8+word&0xFFFFFF:])
	}
}

func TestAppendFrameNoAllocs(t *testing.T) {
	c := sendV2Command()
	for _, st := range []SerializeType{SerializeJSON, SerializeRocketMQ} {
		c.SerializeType = st
		buf := make([]byte, 0, 4096)
		allocs := testing.AllocsPerRun(100, func() {
			if _, err := AppendFrame(buf[:0], c); err != nil {
				t.Fatal(err)
			}
		})
		if allocs != 0 {
			t.Errorf("%v: AppendFrame allocated %.1f times per call", st, allocs)
		}
	}
}

func TestAppendFrameRejects(t *testing.T) {
	c := &Command{SerializeType: 7}
	out, err := AppendFrame([]byte("ab"), c)
	if !errors.Is(err, ErrMalformedFrame) || string(out) != "ab" {
		t.Fatalf("bad serialize type: out %q err %v", out, err)
	}
	c = &Command{SerializeType: SerializeRocketMQ}
	c.Ext.Set(strings.Repeat("k", 1<<15), "v")
	if _, err := AppendFrame(nil, c); !errors.Is(err, ErrFrameTooLarge) {
		t.Fatalf("oversized binary key: %v", err)
	}
	c = &Command{Remark: strings.Repeat("r", maxHeaderLen)}
	if _, err := AppendFrame(nil, c); !errors.Is(err, ErrFrameTooLarge) {
		t.Fatalf("oversized header: %v", err)
	}
}

func frameWithLen(n int32, rest ...byte) []byte {
	return append(binary.BigEndian.AppendUint32(nil, uint32(n)), rest...)
}

func TestSplitFrame(t *testing.T) {
	for _, tc := range []struct {
		name    string
		buf     []byte
		max     int
		wantN   int
		wantErr error
	}{
		{"empty", nil, 0, 0, nil},
		{"short prefix", []byte{0, 0, 0}, 0, 0, nil},
		{"incomplete", frameWithLen(10, 1, 2, 3), 0, 0, nil},
		{"exact", frameWithLen(4, 0, 0, 0, 0), 0, 8, nil},
		{"with tail", frameWithLen(4, 0, 0, 0, 0, 9, 9), 0, 8, nil},
		{"negative", frameWithLen(-1), 0, 0, ErrMalformedFrame},
		{"below header word", frameWithLen(3, 0, 0, 0), 0, 0, ErrMalformedFrame},
		{"too large", frameWithLen(101), 100, 0, ErrFrameTooLarge},
		{"default cap", frameWithLen(DefaultMaxFrameSize + 1), 0, 0, ErrFrameTooLarge},
		{"at cap", frameWithLen(100), 100, 0, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			frame, n, err := SplitFrame(tc.buf, tc.max)
			if !errors.Is(err, tc.wantErr) || (err == nil) != (tc.wantErr == nil) {
				t.Fatalf("err %v, want %v", err, tc.wantErr)
			}
			if n != tc.wantN {
				t.Fatalf("n %d, want %d", n, tc.wantN)
			}
			if n > 0 && len(frame) != n-4 {
				t.Fatalf("frame len %d for n %d", len(frame), n)
			}
			if n == 0 && frame != nil {
				t.Fatalf("frame %v with n 0", frame)
			}
		})
	}
}

func TestDecodeFrameMalformed(t *testing.T) {
	word := func(st byte, hl int) []byte { return []byte{st, byte(hl >> 16), byte(hl >> 8), byte(hl)} }
	jf := func(s string) []byte { return append(word(0, len(s)), s...) }
	binHdr := func(mut func(b []byte) []byte) []byte {
		c := &Command{SerializeType: SerializeRocketMQ, Remark: "rr"}
		c.Ext.Set("k", "v")
		f, err := AppendFrame(nil, c)
		if err != nil {
			t.Fatal(err)
		}
		return mut(f[4:])
	}
	for _, tc := range []struct {
		name  string
		frame []byte
	}{
		{"empty", nil},
		{"three bytes", []byte{0, 0, 0}},
		{"header past end", append(word(0, 10), "{}"...)},
		{"bad type", append(word(2, 2), "{}"...)},
		{"json garbage", append(word(0, 3), "abc"...)},
		{"json unterminated", jf(`{"code":1`)},
		{"json trailing", jf(`{}{}`)},
		{"json trailing nul", jf("{} \x00")},
		{"json code overflow", jf(`{"code":99999999999}`)}, // past int32; past int16 only is CodeOutOfRange
		{"json bad escape", jf(`{"remark":"\x","code":1}  `)},
		{"json bad unicode", jf(`{"remark":"\u12"}`)},
		{"json ext not string key", jf(`{"extFields":{1}}`)},
		{"binary truncated fixed", append(word(1, 5), 0, 1, 2, 3, 4)},
		{"binary remark too long", binHdr(func(b []byte) []byte { b[4+13+3] = 200; return b })},
		{"binary negative remark", binHdr(func(b []byte) []byte { b[4+13] = 0x80; return b })},
		{"binary ext too long", binHdr(func(b []byte) []byte { b[4+13+4+2+3] = 200; return b })},
		{"binary key too long", binHdr(func(b []byte) []byte { b[4+13+4+2+4+1] = 100; return b })},
		{"binary value too long", binHdr(func(b []byte) []byte { b[4+13+4+2+4+2+1+3] = 100; return b })},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := DecodeFrame(tc.frame)
			if !errors.Is(err, ErrMalformedFrame) {
				t.Fatalf("want ErrMalformedFrame, got %v (cmd %v)", err, c)
			}
		})
	}
}

func TestDecodeFrameBinaryEmptyValue(t *testing.T) {
	c := &Command{SerializeType: SerializeRocketMQ, Code: 11}
	c.Ext.Set("empty", "")
	c.Ext.Set("k", "v")
	f, err := AppendFrame(nil, c)
	if err != nil {
		t.Fatal(err)
	}
	got, err := DecodeFrame(f[4:])
	if err != nil {
		t.Fatal(err)
	}
	if v, ok := got.Ext.Get("empty"); !ok || v != "" {
		t.Fatalf("empty value: %q %v", v, ok)
	}
	if v, _ := got.Ext.Get("k"); v != "v" {
		t.Fatalf("k = %q", v)
	}
}

func TestDecodeFrameExtFieldCap(t *testing.T) {
	for _, st := range []SerializeType{SerializeJSON, SerializeRocketMQ} {
		c := &Command{SerializeType: st}
		for i := 0; i < maxExtFields; i++ {
			c.Ext.add(strconv.Itoa(i), "")
		}
		f, err := AppendFrame(nil, c)
		if err != nil {
			t.Fatal(err)
		}
		if got, err := DecodeFrame(f[4:]); err != nil || got.Ext.Len() != maxExtFields {
			t.Fatalf("%v at the cap: %v", st, err)
		}
		c.Ext.add("one-more", "")
		f, _ = AppendFrame(nil, c)
		if _, err := DecodeFrame(f[4:]); !errors.Is(err, ErrMalformedFrame) {
			t.Fatalf("%v above the cap: %v", st, err)
		}
	}
}

func TestAppendFrameHeaderPlusBody(t *testing.T) {
	c := sendV2Command()
	whole, err := AppendFrame(nil, c)
	if err != nil {
		t.Fatal(err)
	}
	head, err := AppendFrameHeader(nil, c)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(append(head, c.Body...), whole) {
		t.Fatal("header + body differs from the whole frame")
	}
}
