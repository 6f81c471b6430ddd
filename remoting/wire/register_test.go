package wire

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"testing"
)

// compressedBody builds the zlib register form the way a Java broker does.
func compressedBody(t testing.TB, dv string, lines []string, filter string, extra []byte) []byte {
	t.Helper()
	var raw bytes.Buffer
	put := func(b []byte) {
		_ = binary.Write(&raw, binary.BigEndian, int32(len(b)))
		raw.Write(b)
	}
	put([]byte(dv))
	_ = binary.Write(&raw, binary.BigEndian, int32(len(lines)))
	for _, l := range lines {
		put([]byte(l))
	}
	put([]byte(filter))
	raw.Write(extra)
	var out bytes.Buffer
	zw, err := zlib.NewWriterLevel(&out, zlib.BestCompression)
	if err != nil {
		t.Fatal(err)
	}
	zw.Write(raw.Bytes())
	zw.Close()
	return out.Bytes()
}

const sampleJSONBody = `{"filterServerList":[],"topicConfigSerializeWrapper":{"dataVersion":{"counter":3,"stateVersion":0,"timestamp":1732230000000},
 "topicConfigTable":{"T":{"topicName":"T","readQueueNums":4,"writeQueueNums":4,"perm":6,"topicFilterType":"SINGLE_TAG","topicSysFlag":0,"order":false,"attributes":{}},
 "U":{"readQueueNums":2,"writeQueueNums":1,"perm":7,"topicFilterType":"SINGLE_TAG","topicSysFlag":1}},
 "topicQueueMappingInfoMap":{},"topicQueueMappingDetailMap":{},"mappingDataVersion":{"counter":0,"timestamp":0}}}`

func topicsByName(rb *RegisterBody) map[string]TopicConfig {
	m := make(map[string]TopicConfig)
	for _, tc := range rb.Topics {
		m[tc.TopicName] = tc
	}
	return m
}

func TestDecodeRegisterBodyJSON(t *testing.T) {
	rb, err := DecodeRegisterBody([]byte(sampleJSONBody), false)
	if err != nil {
		t.Fatal(err)
	}
	if want := (DataVersion{Timestamp: 1732230000000, Counter: 3}); rb.DataVersion != want {
		t.Fatalf("data version %+v, want %+v", rb.DataVersion, want)
	}
	m := topicsByName(rb)
	if len(m) != 2 {
		t.Fatalf("topics %v", m)
	}
	if tc := m["T"]; tc.ReadQueueNums != 4 || tc.WriteQueueNums != 4 || tc.Perm != 6 || tc.TopicFilterType != "SINGLE_TAG" {
		t.Fatalf("T = %+v", tc)
	}
	// A missing topicName falls back to the table key.
	if tc := m["U"]; tc.TopicName != "U" || tc.WriteQueueNums != 1 || tc.Perm != 7 || tc.TopicSysFlag != 1 {
		t.Fatalf("U = %+v", tc)
	}
}

func TestDecodeRegisterBodyCompressed(t *testing.T) {
	body := compressedBody(t, `{"counter":9,"stateVersion":2,"timestamp":77}`,
		[]string{"A 8 8 6 SINGLE_TAG", `B 1 2 7 MULTI_TAG {"+queue.type":"Normal", "x":"y z"}`},
		`["10.0.0.9:1"]`, []byte{0, 0, 0, 0})
	rb, err := DecodeRegisterBody(body, true)
	if err != nil {
		t.Fatal(err)
	}
	if want := (DataVersion{Timestamp: 77, Counter: 9, StateVersion: 2}); rb.DataVersion != want {
		t.Fatalf("data version %+v", rb.DataVersion)
	}
	m := topicsByName(rb)
	if a := m["A"]; a.ReadQueueNums != 8 || a.WriteQueueNums != 8 || a.Perm != 6 {
		t.Fatalf("A = %+v", a)
	}
	b := m["B"]
	if b.ReadQueueNums != 1 || b.WriteQueueNums != 2 || b.Perm != 7 || b.TopicFilterType != "MULTI_TAG" || b.Attributes["x"] != "y z" {
		t.Fatalf("B = %+v", b)
	}
	if len(rb.FilterServers) != 1 || rb.FilterServers[0] != "10.0.0.9:1" {
		t.Fatalf("filter servers %v", rb.FilterServers)
	}
}

func TestDecodeRegisterBodyEmpty(t *testing.T) {
	rb, err := DecodeRegisterBody(nil, false)
	if err != nil || len(rb.Topics) != 0 || rb.DataVersion != (DataVersion{}) {
		t.Fatalf("empty body: %+v, %v", rb, err)
	}
}

func TestDecodeRegisterBodyMalformed(t *testing.T) {
	good := compressedBody(t, `{"counter":1}`, []string{"A 1 1 6 SINGLE_TAG"}, `[]`, nil)
	cases := map[string]struct {
		body       []byte
		compressed bool
	}{
		"not json":           {[]byte(`{"topicConfigSerializeWrapper":`), false},
		"wrong type":         {[]byte(`{"topicConfigSerializeWrapper":{"topicConfigTable":{"T":{"readQueueNums":"x"}}}}`), false},
		"negative queues":    {[]byte(`{"topicConfigSerializeWrapper":{"topicConfigTable":{"T":{"readQueueNums":-1}}}}`), false},
		"not zlib":           {[]byte("plain text"), true},
		"truncated zlib":     {good[:len(good)/2], true},
		"short topic line":   {compressedBody(t, `{}`, []string{"A 1 1"}, `[]`, nil), true},
		"bad number":         {compressedBody(t, `{}`, []string{"A x 1 6 SINGLE_TAG"}, `[]`, nil), true},
		"bad attributes":     {compressedBody(t, `{}`, []string{"A 1 1 6 SINGLE_TAG {nope"}, `[]`, nil), true},
		"bad data version":   {compressedBody(t, `{"counter":`, nil, `[]`, nil), true},
		"huge topic count":   {zlibOf(t, []byte{0, 0, 0, 0, 0x7f, 0xff, 0xff, 0xff}), true},
		"length past end":    {zlibOf(t, []byte{0, 0, 0, 50, '{', '}'}), true},
		"negative length":    {zlibOf(t, []byte{0xff, 0xff, 0xff, 0xff}), true},
		"missing topic data": {zlibOf(t, []byte{0, 0, 0, 0, 0, 0, 0, 2}), true},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			rb, err := DecodeRegisterBody(c.body, c.compressed)
			if !errors.Is(err, ErrMalformedBody) {
				t.Fatalf("got %+v, %v; want ErrMalformedBody", rb, err)
			}
		})
	}
}

func zlibOf(t testing.TB, raw []byte) []byte {
	t.Helper()
	var out bytes.Buffer
	zw := zlib.NewWriter(&out)
	zw.Write(raw)
	zw.Close()
	return out.Bytes()
}

func TestCheckBodyCRC(t *testing.T) {
	body := []byte(sampleJSONBody)
	sum := int32(crc32.ChecksumIEEE(body) & 0x7FFFFFFF)
	if err := CheckBodyCRC(body, sum); err != nil {
		t.Fatal(err)
	}
	if err := CheckBodyCRC(body, 0); err != nil {
		t.Fatalf("zero must skip the check: %v", err)
	}
	if err := CheckBodyCRC(body, sum^1); !errors.Is(err, ErrCRCMismatch) {
		t.Fatalf("got %v, want ErrCRCMismatch", err)
	}
}

func FuzzDecodeRegisterBody(f *testing.F) {
	f.Add([]byte(sampleJSONBody), false)
	f.Add(compressedBody(f, `{"counter":1}`, []string{"A 1 1 6 SINGLE_TAG"}, `[]`, nil), true)
	f.Fuzz(func(t *testing.T, body []byte, compressed bool) {
		rb, err := DecodeRegisterBody(body, compressed)
		if err == nil {
			for _, tc := range rb.Topics {
				if tc.TopicName == "" || tc.ReadQueueNums < 0 || tc.WriteQueueNums < 0 {
					t.Fatalf("accepted invalid topic %+v", tc)
				}
			}
		} else if !errors.Is(err, ErrMalformedBody) {
			t.Fatalf("error %v does not wrap ErrMalformedBody", err)
		}
	})
}
