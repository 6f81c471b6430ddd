package message

import (
	"bytes"
	"compress/zlib"
	"errors"
	"io"
	"testing"
)

func TestCompressRoundTrip(t *testing.T) {
	plain := bytes.Repeat([]byte("0123456789abcdef"), 1000)
	for _, level := range []int{0, 1, 5, 9} {
		z, err := Compress(plain, level)
		if err != nil {
			t.Fatalf("level %d: %v", level, err)
		}
		// RFC 1950 stream readable by the standard library.
		r, err := zlib.NewReader(bytes.NewReader(z))
		if err != nil {
			t.Fatalf("level %d: not a zlib stream: %v", level, err)
		}
		std, _ := io.ReadAll(r)
		got, err := Decompress(z, 0)
		if err != nil || !bytes.Equal(got, plain) || !bytes.Equal(std, plain) {
			t.Fatalf("level %d: round trip failed: %v", level, err)
		}
	}
	if _, err := Compress(plain, 10); err == nil {
		t.Error("level 10 accepted")
	}
	if _, err := Compress(plain, -1); err == nil {
		t.Error("level -1 accepted")
	}
	empty, err := Compress(nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := Decompress(empty, 0); err != nil || len(got) != 0 {
		t.Errorf("empty: %q %v", got, err)
	}
}

func TestDecompressErrors(t *testing.T) {
	z, _ := Compress(bytes.Repeat([]byte("x"), 5000), 5)
	cases := map[string][]byte{
		"garbage":   []byte("definitely not zlib"),
		"truncated": z[:len(z)-5],
		"bad sum":   append(append([]byte(nil), z[:len(z)-1]...), z[len(z)-1]^0xFF),
		"empty":     nil,
	}
	for name, b := range cases {
		if _, err := Decompress(b, 0); !errors.Is(err, ErrDecompress) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := Decompress(z, 4999); !errors.Is(err, ErrBodyTooLarge) {
		t.Errorf("limit: %v", err)
	}
	if got, err := Decompress(z, 5000); err != nil || len(got) != 5000 {
		t.Errorf("exact limit: %d %v", len(got), err)
	}
}
