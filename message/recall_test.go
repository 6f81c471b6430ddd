package message

import (
	"encoding/base64"
	"errors"
	"testing"
)

func TestRecallHandleRoundTrip(t *testing.T) {
	h := RecallHandle{Topic: "orders", BrokerName: "broker-a", Timestamp: 1888825600001, MsgID: "7F00000100002A9F0000000000000001"}
	s := h.String()
	// The wire form is upstream's: URL-safe base64 of the space-joined fields.
	raw, err := base64.URLEncoding.DecodeString(s)
	if err != nil || string(raw) != "v1 orders broker-a 1888825600001 7F00000100002A9F0000000000000001" {
		t.Fatalf("encoded %q (%v)", raw, err)
	}
	got, err := ParseRecallHandle(s)
	if err != nil || got != h {
		t.Fatalf("parsed %+v, %v", got, err)
	}
	if got.DeliverTime().UnixMilli() != 1888825600000 {
		t.Fatalf("deliver time %v", got.DeliverTime())
	}
	unpadded := base64.RawURLEncoding.EncodeToString(raw)
	if got, err := ParseRecallHandle(unpadded); err != nil || got != h {
		t.Fatalf("unpadded: %+v, %v", got, err)
	}
}

func TestParseRecallHandleRejects(t *testing.T) {
	for _, s := range []string{
		"",
		"%%%",
		base64.URLEncoding.EncodeToString([]byte("v2 t b 1 id")),
		base64.URLEncoding.EncodeToString([]byte("v1 t b 1")),
		base64.URLEncoding.EncodeToString([]byte("v1 t b soon id")),
		base64.URLEncoding.EncodeToString([]byte("v1  b 1 id")),
	} {
		if _, err := ParseRecallHandle(s); !errors.Is(err, ErrInvalidRecallHandle) {
			t.Errorf("ParseRecallHandle(%q) = %v, want ErrInvalidRecallHandle", s, err)
		}
	}
}
