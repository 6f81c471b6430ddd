package remoting

import "testing"

func TestCodeNames(t *testing.T) {
	for code, want := range map[int16]string{SendMessageV2: "SEND_MESSAGE_V2", PullMessage: "PULL_MESSAGE", GetBrokerConsumeStats: "GET_BROKER_CONSUME_STATS", 12345: ""} {
		if got := RequestCodeName(code); got != want {
			t.Errorf("RequestCodeName(%d) = %q, want %q", code, got, want)
		}
	}
	for code, want := range map[int16]string{Success: "SUCCESS", PullNotFound: "PULL_NOT_FOUND", GoAway: "GO_AWAY", 999: ""} {
		if got := ResponseCodeName(code); got != want {
			t.Errorf("ResponseCodeName(%d) = %q, want %q", code, got, want)
		}
	}
}
