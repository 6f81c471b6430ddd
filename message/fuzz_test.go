package message

import (
	"bytes"
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
)

// The seed corpus lives in testdata/fuzz (official-client batch bodies and
// AppendStored pull bodies; regenerate with ROCKETGO_CAPTURE=1). The targets
// check invariants that hold for every input, not just that nothing panics.

func FuzzDecodeMessages(f *testing.F) {
	one, _ := AppendStored(nil, &StoredMessage{Topic: "T", Body: []byte("b"), Properties: "UNIQ_KEY\x01X\x02",
		StoreHost: netip.MustParseAddrPort("1.2.3.4:5")})
	f.Add(one)
	f.Add(append(append([]byte(nil), one...), one...))
	z, _ := Compress([]byte("zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz"), 0)
	comp, _ := AppendStored(nil, &StoredMessage{Topic: "T", Body: z, SysFlag: SysFlagCompressed | SysFlagCompressZlib})
	f.Add(comp)
	// LZ4 and zstd bodies as Java 5.x flags them: ours, and Java's own.
	for _, ct := range []CompressionType{CompressLZ4, CompressZstd} {
		b, _ := CompressWith(ct, []byte("zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz0123456789"), 0)
		rec, _ := AppendStored(nil, &StoredMessage{Topic: "T", Body: b, SysFlag: ct.SysFlag()})
		f.Add(rec)
		f.Add(append(append([]byte(nil), comp...), rec...))
	}
	for name, ct := range map[string]CompressionType{"text.java.lz4": CompressLZ4, "text.java-5.zst": CompressZstd} {
		b, err := os.ReadFile(filepath.Join("testdata", "compress", name))
		if err != nil {
			f.Fatal(err)
		}
		rec, _ := AppendStored(nil, &StoredMessage{Topic: "T", Body: b, SysFlag: ct.SysFlag()})
		f.Add(rec)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		orig := append([]byte(nil), data...)
		msgs, err := DecodeMessages(data, WithMaxInflateSize(1<<16), WithVerifyCRC(len(data)%2 == 0))
		if !bytes.Equal(data, orig) {
			t.Fatal("decoder modified its input")
		}
		consumed := 0
		for i, m := range msgs {
			r, perr := ParseStored(data[consumed:], false)
			if perr != nil {
				t.Fatalf("msg %d decoded but does not parse: %v", i, perr)
			}
			if m.StoreSize != r.TotalSize || m.Topic != string(r.Topic) || m.RawProperties() != string(r.Properties) ||
				!bytes.Equal(m.StoredBody(), r.Body) || m.QueueOffset != r.QueueOffset || m.StoreHost != r.StoreHost {
				t.Fatalf("msg %d disagrees with ParseStored", i)
			}
			if m.MsgID == "" {
				t.Fatalf("msg %d has no MsgID", i)
			}
			if id, ok := m.Property(PropertyUniqKey); ok && id != "" && id != m.MsgID {
				t.Fatalf("msg %d MsgID %q but UNIQ_KEY %q", i, m.MsgID, id)
			}
			if m.SysFlag&SysFlagCompressed == 0 && (m.Err != nil || !bytes.Equal(m.Body, r.Body)) {
				t.Fatalf("msg %d uncompressed but body differs or err %v", i, m.Err)
			}
			if (m.Err == nil) == (m.Body == nil && m.SysFlag&SysFlagCompressed != 0) {
				t.Fatalf("msg %d: Err %v with body nil=%v", i, m.Err, m.Body == nil)
			}
			if len(m.Body) > 1<<16 {
				t.Fatalf("msg %d inflated past the limit", i)
			}
			_ = m.Properties()
			_ = m.Keys()
			_ = m.TransactionID()
			consumed += int(m.StoreSize)
		}
		if err == nil {
			if consumed != len(data) {
				t.Fatalf("no error but consumed %d of %d bytes", consumed, len(data))
			}
			return
		}
		var de *DecodeError
		if !errors.Is(err, ErrCorrupt) || !errors.As(err, &de) || de.Offset != consumed || de.Index != len(msgs) {
			t.Fatalf("error %v does not locate the bad record (consumed %d, %d msgs)", err, consumed, len(msgs))
		}
	})
}

func FuzzDecodeBatch(f *testing.F) {
	b, _ := AppendBatch(nil, []*Message{New("T", []byte("a")).WithTags("x"), New("T", nil)})
	f.Add(b)
	f.Fuzz(func(t *testing.T, data []byte) {
		orig := append([]byte(nil), data...)
		consumed, n := 0, 0
		var rebuilt []byte
		err := DecodeBatch(data, func(flag int32, body, props []byte) error {
			// Re-encode what we were given; it must reproduce the input
			// apart from MAGIC and BODYCRC, which clients leave zero.
			m := New("T", body)
			m.Flag = flag
			rec, aerr := AppendBatch(nil, []*Message{m})
			if aerr != nil {
				t.Fatalf("re-encode: %v", aerr)
			}
			rec = append(rec[:len(rec)-2], byte(len(props)>>8), byte(len(props)))
			rec = append(rec, props...)
			rec[3] = byte(len(rec)) // patch TOTALSIZE for the appended props
			rec[2] = byte(len(rec) >> 8)
			rec[1] = byte(len(rec) >> 16)
			rec[0] = byte(len(rec) >> 24)
			rebuilt = append(rebuilt, rec...)
			consumed += len(rec)
			n++
			return nil
		})
		if !bytes.Equal(data, orig) {
			t.Fatal("decoder modified its input")
		}
		for i := 0; i+20 <= len(rebuilt) && i < consumed; {
			size := int(rebuilt[i])<<24 | int(rebuilt[i+1])<<16 | int(rebuilt[i+2])<<8 | int(rebuilt[i+3])
			copy(rebuilt[i+4:i+12], data[i+4:i+12]) // MAGIC and BODYCRC as received
			i += size
		}
		if !bytes.Equal(rebuilt, data[:consumed]) {
			t.Fatalf("re-encoded records differ from input")
		}
		if err == nil {
			if consumed != len(data) {
				t.Fatalf("no error but consumed %d of %d", consumed, len(data))
			}
			return
		}
		var de *DecodeError
		if !errors.Is(err, ErrBadBatch) || !errors.Is(err, ErrCorrupt) || !errors.As(err, &de) || de.Index != n || de.Offset != consumed {
			t.Fatalf("error %v at wrong place (n=%d consumed=%d)", err, n, consumed)
		}
	})
}

// FuzzInflate feeds arbitrary bodies to each decoder. Whatever the input,
// the result is a body within the limit or an error wrapping ErrDecompress
// or ErrBodyTooLarge; and whatever the input, compressing it and inflating
// the result gives it back.
func FuzzInflate(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "compress", "*.*.*"))
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, uint8(0))
	}
	for i, ct := range []CompressionType{CompressZlib, CompressLZ4, CompressZstd} {
		b, _ := CompressWith(ct, bytes.Repeat([]byte("fuzz me "), 64), 0)
		f.Add(b, uint8(i))
	}
	const limit = 1 << 16
	c := NewCodec()
	f.Fuzz(func(t *testing.T, data []byte, sel uint8) {
		types := []CompressionType{CompressZlib, CompressLZ4, CompressZstd}
		ct := types[int(sel)%len(types)]
		// Golden files carry their type in their name, which the fuzzer does
		// not see: try the magic's type first.
		if len(data) >= 4 && string(data[:4]) == "\x04\x22\x4d\x18" {
			ct = CompressLZ4
		} else if len(data) >= 4 && string(data[:4]) == "\x28\xb5\x2f\xfd" {
			ct = CompressZstd
		}
		orig := bytes.Clone(data)
		out, err := c.Decompress(ct, data, limit)
		if !bytes.Equal(data, orig) {
			t.Fatal("decoder modified its input")
		}
		switch {
		case err == nil:
			if len(out) > limit || out == nil {
				t.Fatalf("%v: %d bytes (nil %v) past the %d limit", ct, len(out), out == nil, limit)
			}
		case errors.Is(err, ErrDecompress), errors.Is(err, ErrBodyTooLarge):
			if out != nil {
				t.Fatalf("%v: error %v with a body", ct, err)
			}
		default:
			t.Fatalf("%v: unexpected error %v", ct, err)
		}
		z, err := c.Compress(ct, data, 1+int(sel)%9)
		if err != nil {
			t.Fatalf("%v: compress: %v", ct, err)
		}
		back, err := c.Decompress(ct, z, len(data)+1)
		if err != nil || !bytes.Equal(back, data) {
			t.Fatalf("%v: round trip: %v", ct, err)
		}
	})
}
