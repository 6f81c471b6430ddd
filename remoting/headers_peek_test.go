package remoting

import (
	"errors"
	"reflect"
	"testing"
)

func TestPeekNotificationHeadersRoundTrip(t *testing.T) {
	type header interface {
		EncodeExt(*ExtFields)
		DecodeExt(*ExtFields) error
	}
	cases := []struct{ in, out header }{
		{&PeekMessageRequestHeader{ConsumerGroup: "g", Topic: "T", QueueID: -1, MaxMsgNums: 32}, &PeekMessageRequestHeader{}},
		{&NotificationRequestHeader{ConsumerGroup: "g", Topic: "T", QueueID: 3, PollTime: 15000, BornTime: 1733400000000,
			Order: true, AttemptID: "a-1"}, &NotificationRequestHeader{}},
		{&NotificationResponseHeader{HasMsg: true}, &NotificationResponseHeader{}},
		{&PollingInfoRequestHeader{ConsumerGroup: "g", Topic: "T", QueueID: 2}, &PollingInfoRequestHeader{}},
		{&PollingInfoResponseHeader{PollingNum: 7}, &PollingInfoResponseHeader{}},
	}
	for _, tc := range cases {
		var e ExtFields
		tc.in.EncodeExt(&e)
		if err := tc.out.DecodeExt(&e); err != nil || !reflect.DeepEqual(tc.in, tc.out) {
			t.Errorf("%T: %+v → %+v (%v)", tc.in, tc.in, tc.out, err)
		}
	}
}

func TestPeekNotificationHeadersRejectBadFields(t *testing.T) {
	var e ExtFields
	e.Set("consumerGroup", "g")
	e.Set("topic", "T")
	e.Set("queueId", "0")
	e.Set("pollTime", "1000")
	if err := new(NotificationRequestHeader).DecodeExt(&e); !errors.Is(err, ErrMissingField) {
		t.Errorf("notification without bornTime: %v", err)
	}
	if err := new(PeekMessageRequestHeader).DecodeExt(&e); !errors.Is(err, ErrMissingField) {
		t.Errorf("peek without maxMsgNums: %v", err)
	}
	e.Set("queueId", "x")
	if err := new(PollingInfoRequestHeader).DecodeExt(&e); !errors.Is(err, ErrInvalidField) {
		t.Errorf("polling info with queueId x: %v", err)
	}
	var empty ExtFields
	if err := new(PollingInfoRequestHeader).DecodeExt(&empty); !errors.Is(err, ErrMissingField) {
		t.Errorf("empty polling info: %v", err)
	}
}
