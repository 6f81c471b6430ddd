package wire

import (
	"encoding/json"
	"reflect"
	"testing"
)

// goHeartbeat is what rocketmq-client-go v2.1.2 sends: code sets as strings,
// sub versions in nanoseconds.
const goHeartbeat = `{"clientID":"10.0.0.5@4242","producerDataSet":[{"groupName":"PG"}],"consumerDataSet":[{"groupName":"CG","consumeType":"CONSUME_PASSIVELY","messageModel":"CLUSTERING","consumeFromWhere":"CONSUME_FROM_LAST_OFFSET","unitMode":false,"subscriptionDataSet":[{"classFilterMode":false,"topic":"T","subString":"a || b","tagsSet":["a","b"],"codeSet":["97","98"],"subVersion":1732230000000000000,"expressionType":"TAG"}]}]}`

func TestDecodeGoClientHeartbeat(t *testing.T) {
	hb, err := DecodeHeartbeat([]byte(goHeartbeat))
	if err != nil {
		t.Fatal(err)
	}
	if hb.ClientID != "10.0.0.5@4242" || len(hb.ProducerDataSet) != 1 || len(hb.ConsumerDataSet) != 1 {
		t.Fatalf("decoded %+v", hb)
	}
	sub := hb.ConsumerDataSet[0].SubscriptionDataSet[0]
	if len(sub.CodeSet) != 2 || sub.CodeSet[0] != 97 || sub.CodeSet[1] != 98 {
		t.Fatalf("code set %v", sub.CodeSet)
	}
	if !sub.MatchesCode(97) || sub.MatchesCode(99) || !sub.MatchesTag("b") || sub.MatchesTag("c") {
		t.Fatal("matching wrong")
	}
}

func TestDecodeJavaCodeSetAndRecompute(t *testing.T) {
	// A client that hashes differently (UTF-8 bytes) sends a wrong code for a
	// non-ASCII tag; Normalize replaces it with the Java hash.
	body := `{"clientID":"c","consumerDataSet":[{"groupName":"G","subscriptionDataSet":[{"topic":"T","subString":"标签","tagsSet":["标签"],"codeSet":[12345]}]}]}`
	hb, err := DecodeHeartbeat([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	cd := hb.ConsumerDataSet[0]
	if cd.MessageModel != Clustering {
		t.Fatalf("default message model %q", cd.MessageModel)
	}
	sub := cd.SubscriptionDataSet[0]
	// Java: "标签".hashCode() = 0x6807*31 + 0x7B7E = 26631*31 + 31614 = 857175.
	if len(sub.CodeSet) != 1 || sub.CodeSet[0] != 857175 {
		t.Fatalf("code set %v, want [857175]", sub.CodeSet)
	}
}

func TestDecodeHeartbeatRejectsBadBodies(t *testing.T) {
	for _, body := range []string{``, `{`, `{"clientID":""}`, `{"clientID":"c","consumerDataSet":[{"groupName":""}]}`, `{"clientID":"c","consumerDataSet":[{"groupName":"g","subscriptionDataSet":[{"codeSet":["x"]}]}]}`} {
		if _, err := DecodeHeartbeat([]byte(body)); err == nil {
			t.Errorf("accepted %q", body)
		}
	}
}

func TestParseSubscription(t *testing.T) {
	sd := ParseSubscription("T", " TagA || TagB ||  ", 7)
	if len(sd.TagsSet) != 2 || sd.TagsSet[0] != "TagA" || sd.TagsSet[1] != "TagB" {
		t.Fatalf("tags %v", sd.TagsSet)
	}
	if sd.CodeSet[0] != 2598919 { // Java "TagA".hashCode()
		t.Fatalf("code %d", sd.CodeSet[0])
	}
	all := ParseSubscription("T", "", 0)
	if !all.MatchAll() || all.SubString != "*" || !all.MatchesTag("") {
		t.Fatalf("empty expression should match all: %+v", all)
	}
	if sd.MatchesTag("") {
		t.Fatal("untagged message matched a tag subscription")
	}
	// Encoded code sets are JSON numbers, which every broker accepts.
	b, _ := json.Marshal(sd)
	var back struct {
		CodeSet []int64 `json:"codeSet"`
	}
	if err := json.Unmarshal(b, &back); err != nil || len(back.CodeSet) != 2 {
		t.Fatalf("encoded %s: %v", b, err)
	}
}

func TestOffsetTableRoundTrip(t *testing.T) {
	in := map[MessageQueue]int64{
		{Topic: "T", BrokerName: "b", QueueID: 1}: 7,
		{Topic: "T", BrokerName: "b", QueueID: 0}: 42,
	}
	body := EncodeOffsetTable(in)
	want := `{"offsetTable":{{"brokerName":"b","queueId":0,"topic":"T"}:42,{"brokerName":"b","queueId":1,"topic":"T"}:7}}`
	if string(body) != want {
		t.Fatalf("encoded\n%s\nwant\n%s", body, want)
	}
	out, err := DecodeOffsetTable(body)
	if err != nil || len(out) != 2 || out[MessageQueue{Topic: "T", BrokerName: "b", QueueID: 1}] != 7 {
		t.Fatalf("decoded %v, %v", out, err)
	}
	std := `{"offsetTable": {"{\"topic\":\"T\",\"brokerName\":\"b\",\"queueId\":3}": 9}}`
	out, err = DecodeOffsetTable([]byte(std))
	if err != nil || out[MessageQueue{Topic: "T", BrokerName: "b", QueueID: 3}] != 9 {
		t.Fatalf("standard form decoded %v, %v", out, err)
	}
	for _, bad := range []string{``, `{}`, `{"offsetTable":{{"topic":"T"}}}`, `{"offsetTable":{{"topic":"T"}:x}}`} {
		if _, err := DecodeOffsetTable([]byte(bad)); err == nil {
			t.Errorf("accepted %q", bad)
		}
	}
}

// TestQueueTableWithObjectValues reads a ConsumeStats-style body, whose
// values are objects and which has members after the table.
func TestQueueTableWithObjectValues(t *testing.T) {
	keys := []MessageQueue{{Topic: "T", BrokerName: "b", QueueID: 0}, {Topic: "T", BrokerName: "b", QueueID: 1}}
	body := EncodeQueueTable("offsetTable", keys, []string{`{"brokerOffset":5,"nested":{"a":[1,2]}}`, `{"brokerOffset":7}`}, `"consumeTps":1.5`)
	raw, err := DecodeQueueTable(body, "offsetTable")
	if err != nil || len(raw) != 2 {
		t.Fatalf("decoded %v, %v", raw, err)
	}
	var v struct{ BrokerOffset int64 }
	if err := json.Unmarshal(raw[keys[1]], &v); err != nil || v.BrokerOffset != 7 {
		t.Fatalf("value %s: %+v %v", raw[keys[1]], v, err)
	}
	if _, err := DecodeQueueTable([]byte(`{"offsetTable":{{"topic":"T"}:{"a":}}}`), "offsetTable"); err == nil {
		t.Fatal("accepted a malformed value")
	}
}

// FuzzDecodeOffsetTable: the hand-written queue-table parser takes any
// body without panicking, and a table it accepts encodes and decodes back
// to itself.
func FuzzDecodeOffsetTable(f *testing.F) {
	f.Add([]byte(`{"offsetTable":{{"brokerName":"b","queueId":0,"topic":"T"}:42,{"brokerName":"b","queueId":1,"topic":"T"}:7}}`))
	f.Add([]byte(`{"offsetTable": {"{\"topic\":\"T\",\"brokerName\":\"b\",\"queueId\":3}": 9}}`))
	f.Add(EncodeQueueTable("offsetTable", []MessageQueue{{Topic: "T", BrokerName: "b"}}, []string{`{"brokerOffset":5}`}, `"consumeTps":1.5`))
	f.Fuzz(func(t *testing.T, body []byte) {
		table, err := DecodeOffsetTable(body)
		if err != nil {
			return
		}
		back, err := DecodeOffsetTable(EncodeOffsetTable(table))
		if err != nil || !reflect.DeepEqual(back, table) {
			t.Fatalf("table %v encodes and decodes to %v, %v", table, back, err)
		}
	})
}
