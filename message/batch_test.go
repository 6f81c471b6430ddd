package message

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"testing"
)

func randMessage(r *rand.Rand) *Message {
	body := make([]byte, r.IntN(200))
	for i := range body {
		body[i] = byte(r.IntN(256))
	}
	m := New("TopicA", body)
	m.Flag = r.Int32()
	if r.IntN(2) == 0 {
		m.WithTags(randText(r, "abcXYZ_", 1, 8))
	}
	if r.IntN(2) == 0 {
		m.WithKeys(randText(r, "k0123", 1, 5), randText(r, "k0123", 1, 5))
	}
	for range r.IntN(4) {
		m.SetProperty(randText(r, "ABCDEF", 1, 6), randText(r, "v 12", 0, 10))
	}
	return m
}

func TestBatchRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	for round := range 200 {
		msgs := make([]*Message, 1+r.IntN(10))
		for i := range msgs {
			msgs[i] = randMessage(r)
		}
		body, err := AppendBatch([]byte("hdr"), msgs)
		if err != nil {
			t.Fatal(err)
		}
		if string(body[:3]) != "hdr" {
			t.Fatal("prefix clobbered")
		}
		body = body[3:]
		i := 0
		err = DecodeBatch(body, func(flag int32, b, props []byte) error {
			m := msgs[i]
			if flag != m.Flag || !bytes.Equal(b, m.Body) || string(props) != string(m.EncodeProperties(nil)) {
				t.Fatalf("round %d record %d mismatch", round, i)
			}
			i++
			return nil
		})
		if err != nil || i != len(msgs) {
			t.Fatalf("round %d: decoded %d of %d: %v", round, i, len(msgs), err)
		}
	}
}

func TestBatchRecordLayout(t *testing.T) {
	m := New("T", []byte("xy")).WithTags("A")
	m.Flag = 7
	b, err := AppendBatch(nil, []*Message{m})
	if err != nil {
		t.Fatal(err)
	}
	props := "TAGS\x01A\x02"
	want := 20 + 2 + 2 + len(props)
	if len(b) != want || int(binary.BigEndian.Uint32(b)) != want ||
		binary.BigEndian.Uint32(b[4:]) != 0 || binary.BigEndian.Uint32(b[8:]) != 0 ||
		binary.BigEndian.Uint32(b[12:]) != 7 || binary.BigEndian.Uint32(b[16:]) != 2 ||
		string(b[20:22]) != "xy" || binary.BigEndian.Uint16(b[22:]) != uint16(len(props)) || string(b[24:]) != props {
		t.Errorf("layout % x", b)
	}
}

func TestAppendBatchErrors(t *testing.T) {
	if b, err := AppendBatch([]byte("x"), []*Message{New("T", []byte("a")), nil}); !errors.Is(err, ErrNilMessage) || string(b) != "x" {
		t.Errorf("nil message: %v %q", err, b)
	}
	big := New("T", []byte("a")).WithProperty("K", string(make([]byte, MaxPropertiesLength)))
	if b, err := AppendBatch([]byte("x"), []*Message{New("T", []byte("a")), big}); !errors.Is(err, ErrPropertiesTooLarge) || string(b) != "x" {
		t.Errorf("big properties: %v len %d", err, len(b))
	}
}

func TestDecodeBatchCorrupt(t *testing.T) {
	good, _ := AppendBatch(nil, []*Message{New("T", []byte("abc")).WithTags("A"), New("T", []byte("d"))})
	first := int(binary.BigEndian.Uint32(good))
	mut := func(f func(b []byte)) []byte { b := append([]byte(nil), good...); f(b); return b }
	cases := map[string]struct {
		b     []byte
		index int
	}{
		"truncated":         {good[:len(good)-1], 1},
		"short tail":        {append(append([]byte(nil), good...), 0, 0, 0, 30), 2},
		"size small":        {mut(func(b []byte) { binary.BigEndian.PutUint32(b, 21) }), 0},
		"size negative":     {mut(func(b []byte) { binary.BigEndian.PutUint32(b, 0x80000000) }), 0},
		"body len big":      {mut(func(b []byte) { binary.BigEndian.PutUint32(b[16:], 1000) }), 0},
		"body len neg":      {mut(func(b []byte) { binary.BigEndian.PutUint32(b[16:], 0xFFFFFFFF) }), 0},
		"prop len mismatch": {mut(func(b []byte) { b[first+20+1+1]++ }), 1},
	}
	for name, c := range cases {
		n := 0
		err := DecodeBatch(c.b, func(int32, []byte, []byte) error { n++; return nil })
		var de *DecodeError
		if !errors.Is(err, ErrCorrupt) || !errors.Is(err, ErrBadBatch) || !errors.As(err, &de) {
			t.Errorf("%s: err %v", name, err)
			continue
		}
		if de.Index != c.index || n != c.index {
			t.Errorf("%s: failed at %d after %d callbacks, want %d", name, de.Index, n, c.index)
		}
	}
	stop := errors.New("stop")
	n := 0
	err := DecodeBatch(good, func(int32, []byte, []byte) error { n++; return stop })
	if !errors.Is(err, stop) || n != 1 {
		t.Errorf("callback error: %v after %d", err, n)
	}
	if err := DecodeBatch(nil, func(int32, []byte, []byte) error { t.Error("called"); return nil }); err != nil {
		t.Errorf("empty body: %v", err)
	}
}

func TestDecodeBatchCapsSlices(t *testing.T) {
	good, _ := AppendBatch(nil, []*Message{New("T", []byte("abc")).WithTags("A"), New("T", []byte("d"))})
	orig := append([]byte(nil), good...)
	_ = DecodeBatch(good, func(_ int32, b, p []byte) error {
		_ = append(b, 'Z', 'Z', 'Z')
		_ = append(p, 'Z', 'Z', 'Z')
		return nil
	})
	if !bytes.Equal(good, orig) {
		t.Error("appending to callback slices overwrote the body")
	}
}
