package remoting

import (
	"testing"
)

func TestExtraInfoRoundTrip(t *testing.T) {
	e := ExtraInfo{CkQueueOffset: 12, PopTime: 1733400000000, InvisibleTime: 60000, ReviveQid: 0,
		RetryMark: PopRetryV1, BrokerName: "broker-a", QueueID: 3, QueueOffset: 15}
	s := e.String()
	if s != "12 1733400000000 60000 0 1 broker-a 3 15" {
		t.Fatalf("rendered %q", s)
	}
	got, err := ParseExtraInfo(s)
	if err != nil || got != e {
		t.Fatalf("parsed %+v, %v", got, err)
	}
	e.QueueOffset = -1
	if got, err := ParseExtraInfo(e.String()); err != nil || got != e {
		t.Fatalf("seven fields: %+v, %v", got, err)
	}
	for _, bad := range []string{"", "1 2 3", "a 1 1 0 0 b 0", "1 1 1 0 7 b 0", "1 1 1 0 0 b 0 1 2"} {
		if _, err := ParseExtraInfo(bad); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}

func TestPopOffsetInfo(t *testing.T) {
	b := AppendPopStartOffset(nil, "T", 0, 5)
	b = AppendPopStartOffset(b, "%RETRY%g_T", 0, 7)
	m, err := ParsePopOffsetInfo(string(b))
	if err != nil || m[PopQueueKey{"0", 0}][0] != 5 || m[PopQueueKey{"1", 0}][0] != 7 {
		t.Fatalf("%q → %v %v", b, m, err)
	}
	o := AppendPopMsgOffsets(nil, "T", 2, []int64{5, 6, 9})
	m, err = ParsePopOffsetInfo(string(o))
	if err != nil || len(m[PopQueueKey{"0", 2}]) != 3 {
		t.Fatalf("%q → %v %v", o, m, err)
	}
	for _, bad := range []string{"0 1", "0 1 2;0 1 3", "0 x 1", "0 1 a,b"} {
		if _, err := ParsePopOffsetInfo(bad); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}

// The POP parsers take client- and broker-supplied strings: no input may
// panic them.
func FuzzPopParsers(f *testing.F) {
	f.Add("12 1733400000000 60000 0 1 broker-a 3 15")
	f.Add("0 1 5;1 0 7")
	f.Add("0 2 5,6,9")
	f.Fuzz(func(t *testing.T, s string) {
		if e, err := ParseExtraInfo(s); err == nil {
			if _, err := ParseExtraInfo(e.String()); err != nil {
				t.Fatalf("%q parsed but its rendering %q does not", s, e.String())
			}
		}
		ParsePopOffsetInfo(s)
		var ext ExtFields
		ext.Set("extraInfo", s)
		ext.Set("queueId", s)
		ext.Set("invisibleTime", s)
		var h PopMessageRequestHeader
		h.DecodeExt(&ext)
		var a AckMessageRequestHeader
		a.DecodeExt(&ext)
		var c ChangeInvisibleTimeRequestHeader
		c.DecodeExt(&ext)
	})
}
