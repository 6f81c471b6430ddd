package remoting

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

func TestResponseErrorMatchesItsCodeSentinel(t *testing.T) {
	req := NewRequest(PullMessage, nil, nil)
	resp := NewResponse(req, SystemBusy, "too many requests")
	err := fmt.Errorf("consumer: pull: %w", NewResponseError(PullMessage, "10.0.0.1:10911", resp))
	if !errors.Is(err, ErrSystemBusy) || !errors.Is(err, CodeError(SystemBusy)) {
		t.Fatalf("%v does not match SYSTEM_BUSY", err)
	}
	for _, other := range []error{ErrSystemError, ErrTopicNotExist, CodeError(SubscriptionNotExist), errors.New("x")} {
		if errors.Is(err, other) {
			t.Errorf("%v matches %v", err, other)
		}
	}
	var re *ResponseError
	if !errors.As(err, &re) || re.Code != SystemBusy || re.Op != "PULL_MESSAGE" || re.Addr != "10.0.0.1:10911" || re.Remark != "too many requests" {
		t.Fatalf("As: %+v", re)
	}
	for _, want := range []string{"PULL_MESSAGE", "10.0.0.1:10911", "SYSTEM_BUSY (2)", "too many requests"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("message %q lacks %q", err, want)
		}
	}
	re.Broker = "broker-a"
	if !strings.Contains(re.Error(), "(broker-a)") {
		t.Errorf("message %q lacks the broker name", re)
	}
}

func TestCodeSentinelsCompareByCode(t *testing.T) {
	if !errors.Is(CodeError(TopicNotExist), ErrTopicNotExist) || errors.Is(ErrTopicNotExist, ErrQueryNotFound) {
		t.Fatal("sentinels must match by code and only by code")
	}
	if got := ErrQueryNotFound.Error(); !strings.Contains(got, "QUERY_NOT_FOUND") {
		t.Errorf("sentinel text %q", got)
	}
}
