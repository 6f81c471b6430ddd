package trace

import (
	"errors"
	"os"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

// officialRecords reads the records the official Go client v2.1.2 wrote
// (captured by the interop module's TestOfficialTraceInterop).
func officialRecords(t testing.TB) []string {
	t.Helper()
	data, err := os.ReadFile("testdata/official_v2.1.2.txt")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, line := range strings.Split(string(data), "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		raw, err := strconv.Unquote(line)
		if err != nil {
			t.Fatalf("%q: %v", line, err)
		}
		out = append(out, raw)
	}
	return out
}

// TestOfficialCapture: every record the official client wrote decodes, and
// encodes again to the same bytes.
func TestOfficialCapture(t *testing.T) {
	seen := map[Type]int{}
	for _, raw := range officialRecords(t) {
		recs, err := Decode([]byte(raw))
		if err != nil || len(recs) != 1 {
			t.Fatalf("decode %q: %v %v", raw, recs, err)
		}
		r := recs[0]
		seen[r.Type]++
		if r.MsgID == "" || r.Group == "" || (r.Type != SubAfter && r.Timestamp == 0) {
			t.Errorf("incomplete %+v", r)
		}
		if again := string(AppendRecord(nil, &r)); again != raw {
			t.Errorf("re-encoded\n got %q\nwant %q", again, raw)
		}
	}
	if seen[Pub] == 0 || seen[SubBefore] == 0 || seen[SubAfter] == 0 {
		t.Fatalf("capture lacks a record type: %v", seen)
	}
}

func sampleRecords() []Record {
	return []Record{
		{Type: Pub, Timestamp: 1733400000123, RegionID: "DefaultRegion", Group: "pg", Topic: "T",
			MsgID: "7F0000010001", OffsetMsgID: "7F00000100002A9F0000000000000000", Tags: "TagA", Keys: "k1 k2",
			StoreHost: "127.0.0.1:10911", ClientHost: "10.0.0.1", BodyLength: 11, CostTime: 3, MsgType: NormalMsg, Success: true},
		{Type: SubBefore, Timestamp: 1733400000200, RegionID: "DefaultRegion", Group: "cg", RequestID: "REQ1",
			MsgID: "7F0000010001", RetryTimes: 2, Keys: "k1 k2", ClientHost: "10.0.0.2"},
		{Type: SubAfter, Timestamp: 1733400000210, Group: "cg", RequestID: "REQ1", MsgID: "7F0000010001",
			CostTime: 10, Success: false, ContextCode: ConsumeFailed},
		{Type: EndTransaction, Timestamp: 1733400000300, RegionID: "DefaultRegion", Group: "tg", Topic: "TX",
			MsgID: "7F0000010002", Tags: "t", StoreHost: "127.0.0.1:10911", MsgType: TransMsgCommit,
			TransactionID: "7F0000010002", TransactionState: TxCommit, FromTransactionCheck: true},
	}
}

func TestRecordRoundTrip(t *testing.T) {
	var body []byte
	want := sampleRecords()
	for i := range want {
		body = AppendRecord(body, &want[i])
	}
	got, err := Decode(body)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("round trip:\n got %+v\nwant %+v", got, want)
	}
}

// TestRecordWireLayout pins the exact bytes, field by field, against the
// layouts both official clients write.
func TestRecordWireLayout(t *testing.T) {
	recs := sampleRecords()
	cases := []struct {
		r    Record
		want []string
	}{
		{recs[0], []string{"Pub", "1733400000123", "DefaultRegion", "pg", "T", "7F0000010001", "TagA", "k1 k2",
			"127.0.0.1:10911", "11", "3", "0", "7F00000100002A9F0000000000000000", "true", "10.0.0.1"}},
		{recs[1], []string{"SubBefore", "1733400000200", "DefaultRegion", "cg", "REQ1", "7F0000010001", "2", "k1 k2", "10.0.0.2"}},
		{recs[2], []string{"SubAfter", "REQ1", "7F0000010001", "10", "false", "null", "4", "1733400000210", "cg"}},
		{recs[3], []string{"EndTransaction", "1733400000300", "DefaultRegion", "tg", "TX", "7F0000010002", "t", "",
			"127.0.0.1:10911", "2", "7F0000010002", "COMMIT_MESSAGE", "true"}},
	}
	for _, c := range cases {
		got := string(AppendRecord(nil, &c.r))
		want := strings.Join(c.want, "\x01") + "\x02"
		if got != want {
			t.Errorf("%s:\n got %q\nwant %q", c.r.Type, got, want)
		}
	}
	if got := AppendRecord([]byte("x"), &Record{Type: "Other"}); string(got) != "x" {
		t.Errorf("unknown type appended %q", got)
	}
}

// TestDecodeOlderLayouts reads the layouts older clients and the Java
// encoder write: Java's Pub without ClientHost, the oldest Pub without an
// offset id, Java's SubBefore and SubAfter without the Go client's extra
// fields, a SubAfter from before ContextCode, and "null" keys.
func TestDecodeOlderLayouts(t *testing.T) {
	rec := func(f ...string) string { return strings.Join(f, "\x01") + "\x02" }
	body := rec("Pub", "5", "R", "g", "T", "ID", "", "null", "h:1", "7", "1", "3", "OFF", "true") +
		rec("Pub", "6", "R", "g", "T", "ID", "", "", "h:1", "7", "1", "0", "TRUE") +
		rec("SubBefore", "7", "R", "c", "REQ", "ID", "0", "null") +
		rec("SubAfter", "REQ", "ID", "4", "true", "k") +
		rec("SubAfter", "REQ", "ID", "4", "true", "k", "1", "8")
	got, err := Decode([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	want := []Record{
		{Type: Pub, Timestamp: 5, RegionID: "R", Group: "g", Topic: "T", MsgID: "ID", StoreHost: "h:1", BodyLength: 7, CostTime: 1, MsgType: DelayMsg, OffsetMsgID: "OFF", Success: true},
		{Type: Pub, Timestamp: 6, RegionID: "R", Group: "g", Topic: "T", MsgID: "ID", StoreHost: "h:1", BodyLength: 7, CostTime: 1, Success: true},
		{Type: SubBefore, Timestamp: 7, RegionID: "R", Group: "c", RequestID: "REQ", MsgID: "ID"},
		{Type: SubAfter, RequestID: "REQ", MsgID: "ID", CostTime: 4, Success: true, Keys: "k"},
		{Type: SubAfter, RequestID: "REQ", MsgID: "ID", CostTime: 4, Success: true, Keys: "k", ContextCode: 1, Timestamp: 8},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("\n got %+v\nwant %+v", got, want)
	}
}

func TestDecodeMalformedKeepsTheRest(t *testing.T) {
	rec := func(f ...string) string { return strings.Join(f, "\x01") + "\x02" }
	good := sampleRecords()[1]
	body := rec("Pub", "x") + // too short
		rec("SubBefore", "notanumber", "R", "c", "REQ", "ID", "0", "k") + // bad timestamp
		rec("Unknown", "1", "2") + // skipped silently, as upstream
		string(AppendRecord(nil, &good)) +
		rec("SubAfter", "REQ", "ID", "1", "true", "k", "99999999999") // context code out of range
	got, err := Decode([]byte(body))
	if !errors.Is(err, ErrMalformed) {
		t.Fatalf("err = %v, want ErrMalformed", err)
	}
	for _, frag := range []string{"record 0", "record 1", "record 4"} {
		if !strings.Contains(err.Error(), frag) {
			t.Errorf("error %q does not name %s", err, frag)
		}
	}
	if len(got) != 1 || !reflect.DeepEqual(got[0], good) {
		t.Fatalf("got %+v, want only %+v", got, good)
	}
	if got, err := Decode(nil); err != nil || len(got) != 0 {
		t.Fatalf("Decode(nil) = %v, %v", got, err)
	}
}

func TestSanitizeAndLookupKeys(t *testing.T) {
	if got := Sanitize("a\x01b\x02c"); got != "abc" {
		t.Fatalf("Sanitize = %q", got)
	}
	if got := Sanitize("plain"); got != "plain" {
		t.Fatalf("Sanitize = %q", got)
	}
	r := Record{MsgID: "ID", Keys: "k1 k2"}
	if got := r.LookupKeys(); !reflect.DeepEqual(got, []string{"ID", "k1 k2"}) {
		t.Fatalf("LookupKeys = %q", got)
	}
	r.Keys = ""
	if got := r.LookupKeys(); !reflect.DeepEqual(got, []string{"ID"}) {
		t.Fatalf("LookupKeys = %q", got)
	}
}

func FuzzDecode(f *testing.F) {
	for _, r := range sampleRecords() {
		f.Add(AppendRecord(nil, &r))
	}
	f.Add([]byte("Pub\x01\x02\x02SubAfter"))
	for _, raw := range officialRecords(f) {
		f.Add([]byte(raw))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		recs, _ := Decode(body)
		for i := range recs {
			// Whatever decodes re-encodes and decodes to the same record,
			// as long as no field holds a separator (Decode never yields one).
			again, err := Decode(AppendRecord(nil, &recs[i]))
			if err != nil || len(again) != 1 {
				t.Fatalf("re-decode of %+v: %v %v", recs[i], again, err)
			}
		}
	})
}

func BenchmarkAppendRecord(b *testing.B) {
	r := sampleRecords()[0]
	buf := make([]byte, 0, 512)
	b.ReportAllocs()
	for b.Loop() {
		buf = AppendRecord(buf[:0], &r)
	}
}

func BenchmarkDecode(b *testing.B) {
	var body []byte
	for _, r := range sampleRecords() {
		body = AppendRecord(body, &r)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Decode(body); err != nil {
			b.Fatal(err)
		}
	}
}
