package wire

import (
	"encoding/json"
	"testing"
)

func TestSQL92SubscriptionLeavesFilteringToTheBroker(t *testing.T) {
	sd := ParseSQL92Subscription("T", "  a > 5  ", 7)
	if sd.ExpressionType != ExpressionSQL92 || sd.SubString != "a > 5" || sd.SubVersion != 7 {
		t.Fatalf("parsed %+v", sd)
	}
	if sd.MatchAll() {
		t.Fatal("a SQL92 subscription is not match-all: the broker must evaluate it")
	}
	// The tag-code pass and the client's tag re-check must not drop what
	// the broker's property filter selected.
	if !sd.MatchesCode(12345) || !sd.MatchesTag("anything") || !sd.MatchesTag("") {
		t.Fatal("tag filters must pass every message of a SQL92 subscription")
	}
	b, err := json.Marshal(sd)
	var back map[string]any
	if err == nil {
		err = json.Unmarshal(b, &back)
	}
	if err != nil || back["expressionType"] != "SQL92" || back["subString"] != "a > 5" {
		t.Fatalf("heartbeat JSON %s, %v", b, err)
	}
}
