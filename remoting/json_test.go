package remoting

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

func decodeJSONText(t *testing.T, hdr string) *Command {
	t.Helper()
	frame := append([]byte{0, byte(len(hdr) >> 16), byte(len(hdr) >> 8), byte(len(hdr))}, hdr...)
	c, err := DecodeFrame(frame)
	if err != nil {
		t.Fatalf("DecodeFrame(%s): %v", hdr, err)
	}
	return c
}

func wantExt(t *testing.T, c *Command, kv ...string) {
	t.Helper()
	if c.Ext.Len() != len(kv)/2 {
		t.Errorf("ext has %d pairs, want %d: %v", c.Ext.Len(), len(kv)/2, &c.Ext)
	}
	for i := 0; i < len(kv); i += 2 {
		if v, ok := c.Ext.Get(kv[i]); !ok || v != kv[i+1] {
			t.Errorf("ext %q = %q (present %v), want %q", kv[i], v, ok, kv[i+1])
		}
	}
}

func TestJSONDecodePeers(t *testing.T) {
	t.Run("java request", func(t *testing.T) {
		c := decodeJSONText(t, `{"code":310,"extFields":{"a":"PG","b":"T","e":"1","k":"false"},"flag":0,"language":"JAVA","opaque":42,"serializeTypeCurrentRPC":"JSON","version":479}`)
		if c.Code != 310 || c.Language != LangJava || c.Opaque != 42 || c.Version != 479 || c.Flag != 0 {
			t.Fatalf("fields: %v", c)
		}
		wantExt(t, c, "a", "PG", "b", "T", "e", "1", "k", "false")
	})
	t.Run("java response", func(t *testing.T) {
		c := decodeJSONText(t, `{"code":0,"extFields":{"msgId":"7F00000100002A9F0000000000000000","queueId":"1","queueOffset":"0"},"flag":1,"language":"JAVA","opaque":42,"serializeTypeCurrentRPC":"JSON","version":479}`)
		if !c.IsResponse() || c.IsOneway() {
			t.Fatalf("flag %d", c.Flag)
		}
		var h SendMessageResponseHeader
		if err := c.DecodeHeader(&h); err != nil {
			t.Fatal(err)
		}
		if h.MsgID != "7F00000100002A9F0000000000000000" || h.QueueID != 1 || h.QueueOffset != 0 {
			t.Fatalf("header %+v", h)
		}
	})
	t.Run("go request", func(t *testing.T) {
		c := decodeJSONText(t, `{"code":10,"language":"GO","version":317,"opaque":7,"flag":0,"remark":"","extFields":{"topic":"T"}}`)
		if c.Language != LangGo || c.Version != 317 || c.Remark != "" {
			t.Fatalf("fields: %v", c)
		}
		wantExt(t, c, "topic", "T")
	})
	t.Run("ons raw values", func(t *testing.T) {
		c := decodeJSONText(t, `{"code":310,"language":"JAVA","opaque":3,"flag":0,"version":121,"extFields":{"a":"PG","b":"T","c":"TBW102","d":4,"e":1,"f":0,"g":1732230000000,"h":0,"i":"","j":0,"k":false,"l":-1.5e3}}`)
		wantExt(t, c, "a", "PG", "b", "T", "c", "TBW102", "d", "4", "e", "1", "f", "0", "g", "1732230000000", "h", "0", "i", "", "j", "0", "k", "false", "l", "-1.5e3")
		var h SendMessageRequestHeader
		c.Ext.Set("l", "16")
		if err := c.DecodeHeader(&h); err != nil {
			t.Fatal(err)
		}
		if h.DefaultTopicQueueNums != 4 || h.QueueID != 1 || h.BornTimestamp != 1732230000000 || h.UnitMode || h.MaxReconsumeTimes != 16 {
			t.Fatalf("header %+v", h)
		}
	})
	t.Run("whitespace nulls and unknown keys", func(t *testing.T) {
		c := decodeJSONText(t, " {\n \"code\" : 11 ,\t\"remark\":null, \"extFields\" : { \"x\" : null , \"y\":\"1\", \"z\": {\"n\":[1,{\"q\":\"}]\"}]}, \"t\":true } ,"+
			"\"future\":[{\"a\":[]},\"]\"], \"language\":\"NODE_JS\", \"opaque\":-5, \"flag\":3 } \r\n")
		if c.Code != 11 || c.Remark != "" || c.Language != LangNodeJS || c.Opaque != -5 || !c.IsOneway() {
			t.Fatalf("fields: %v", c)
		}
		wantExt(t, c, "y", "1", "z", `{"n":[1,{"q":"}]"}]}`, "t", "true")
	})
	t.Run("language variants", func(t *testing.T) {
		for hdr, want := range map[string]LanguageCode{
			`{"language":"RUST"}`:    LangRust,
			`{"language":"unknown"}`: LangOther,
			`{"language":9}`:         LangGo,
			`{"language":null}`:      LangJava,
			`{}`:                     LangJava,
		} {
			if got := decodeJSONText(t, hdr).Language; got != want {
				t.Errorf("%s: language %v, want %v", hdr, got, want)
			}
		}
	})
	t.Run("quoted numbers", func(t *testing.T) {
		c := decodeJSONText(t, `{"code":"105","opaque":"9"}`)
		if c.Code != 105 || c.Opaque != 9 {
			t.Fatalf("fields: %v", c)
		}
	})
}

func TestJSONEscapes(t *testing.T) {
	c := decodeJSONText(t, `{"remark":"a\"b\\c\/d\b\f\n\r\t\u0001\u0002\u00e9\u65E5\ud83d\ude00|\ud800x|\udc00|\ud800\u0041","extFields":{"p\u0001":"UNIQ_KEY\u0001X\u0002"}}`)
	want := "a\"b\\c/d\b\f\n\r\t\x01\x02é日😀|\uFFFDx|\uFFFD|\uFFFDA"
	if c.Remark != want {
		t.Fatalf("remark\n got %q\nwant %q", c.Remark, want)
	}
	wantExt(t, c, "p\x01", "UNIQ_KEY\x01X\x02")
}

// TestJSONEncodeIsStandard checks our header text is valid JSON that the
// standard decoder reads back the same, with every ext value a string (the
// Go client drops responses otherwise) and control bytes as \u00XX.
func TestJSONEncodeIsStandard(t *testing.T) {
	c := NewResponse(&Command{Opaque: 9}, TopicNotExist, "topic \"x\"\n not exist")
	c.Ext.Set("props", "TAGS\x01a\x02KEYS\x01b c\x02")
	c.Ext.SetInt("queueOffset", -12)
	c.Ext.SetBool("changed", true)
	frame, err := AppendFrame(nil, c)
	if err != nil {
		t.Fatal(err)
	}
	hdr := frame[8:]
	var std struct {
		Code      int               `json:"code"`
		Language  string            `json:"language"`
		Version   int               `json:"version"`
		Opaque    int32             `json:"opaque"`
		Flag      int               `json:"flag"`
		Remark    string            `json:"remark"`
		ExtFields map[string]string `json:"extFields"`
	}
	if err := json.Unmarshal(hdr, &std); err != nil {
		t.Fatalf("standard JSON rejects %s: %v", hdr, err)
	}
	if std.Code != 17 || std.Language != "GO" || std.Version != 479 || std.Opaque != 9 || std.Flag != 1 ||
		std.Remark != c.Remark || std.ExtFields["props"] != "TAGS\x01a\x02KEYS\x01b c\x02" ||
		std.ExtFields["queueOffset"] != "-12" || std.ExtFields["changed"] != "true" {
		t.Fatalf("standard decode: %+v", std)
	}
	if want := `"TAGS\u0001a\u0002KEYS\u0001b c\u0002"`; !strings.Contains(string(hdr), want) {
		t.Fatalf("header %s lacks %s", hdr, want)
	}
}

func TestNewResponseMirrorsRequest(t *testing.T) {
	req := NewRequest(PullMessage, nil, nil)
	req.Opaque, req.SerializeType = 77, SerializeRocketMQ
	resp := NewResponse(req, PullNotFound, "OFFSET_OVERFLOW_ONE")
	if resp.Opaque != 77 || !resp.IsResponse() || resp.SerializeType != SerializeRocketMQ || resp.Code != PullNotFound {
		t.Fatalf("response %v", resp)
	}
	if req.Language != LangGo || req.Version != 479 || req.SerializeType != SerializeRocketMQ {
		t.Fatalf("request %v", req)
	}
}

func TestNamesAndCodes(t *testing.T) {
	for name, want := range map[string]LanguageCode{"JAVA": 0, "GO": 9, "NODE_JS": 13, "OTHER": 7, "PERL": 7} {
		if got := ParseLanguage(name); got != want {
			t.Errorf("ParseLanguage(%q) = %d, want %d", name, got, want)
		}
	}
	for l := LanguageCode(0); l < 14; l++ {
		if ParseLanguage(l.String()) != l {
			t.Errorf("language %d does not round-trip via %q", l, l.String())
		}
	}
	if LanguageCode(200).String() != "OTHER" {
		t.Errorf("unknown language string %q", LanguageCode(200).String())
	}
	for _, tc := range []struct {
		code int16
		resp bool
		want string
	}{
		{SendMessage, false, "SEND_MESSAGE"}, {SendMessageV2, false, "SEND_MESSAGE_V2"},
		{SendBatchMessage, false, "SEND_BATCH_MESSAGE"}, {GetRouteInfoByTopic, false, "GET_ROUTEINFO_BY_TOPIC"},
		{BrokerHeartbeat, false, "BROKER_HEARTBEAT"}, {QueryDataVersion, false, "QUERY_DATA_VERSION"},
		{Success, true, "SUCCESS"}, {TopicNotExist, true, "TOPIC_NOT_EXIST"}, {PullOffsetMoved, true, "PULL_OFFSET_MOVED"},
		{QueryNotFound, true, "QUERY_NOT_FOUND"}, {17, false, "UPDATE_AND_CREATE_TOPIC"}, {17, true, "TOPIC_NOT_EXIST"},
		{9999, false, "UNKNOWN"}, {9999, true, "UNKNOWN"},
	} {
		if got := CodeName(tc.code, tc.resp); got != tc.want {
			t.Errorf("CodeName(%d, %v) = %q, want %q", tc.code, tc.resp, got, tc.want)
		}
	}
}

func TestExtFields(t *testing.T) {
	var e ExtFields
	e.Set("a", "1")
	e.SetInt("b", -42)
	e.SetBool("c", true)
	e.Set("a", "2") // replaces in place
	if e.Len() != 3 {
		t.Fatalf("len %d", e.Len())
	}
	var order []string
	e.Range(func(k, v string) bool { order = append(order, k+"="+v); return true })
	if len(order) != 3 || order[0] != "a=2" || order[1] != "b=-42" || order[2] != "c=true" {
		t.Fatalf("order %v", order)
	}
	if n, err := e.Int("b"); err != nil || n != -42 {
		t.Fatalf("Int b: %d %v", n, err)
	}
	if _, err := e.Int("zz"); !errors.Is(err, ErrMissingField) {
		t.Fatalf("Int missing: %v", err)
	}
	e.Set("bad", "12x")
	if _, err := e.Int("bad"); !errors.Is(err, ErrInvalidField) {
		t.Fatalf("Int invalid: %v", err)
	}
	if !e.Bool("c") || e.Bool("a") || e.Bool("missing") {
		t.Fatal("Bool")
	}
	e.Set("c", "TRUE")
	if !e.Bool("c") {
		t.Fatal("Bool is case-insensitive like Java")
	}
	stopped := 0
	e.Range(func(k, v string) bool { stopped++; return false })
	if stopped != 1 {
		t.Fatalf("Range did not stop: %d", stopped)
	}
	e.Reset()
	if e.Len() != 0 {
		t.Fatal("Reset")
	}
	if _, ok := e.Get("a"); ok {
		t.Fatal("Get after Reset")
	}
}

func TestJSONNumericLanguage(t *testing.T) {
	if got := decodeJSONText(t, `{"language":200}`).Language; got != LangOther {
		t.Fatalf("language 200 decoded as %d, want OTHER", got)
	}
	if got := decodeJSONText(t, `{"language":13}`).Language; got != LangNodeJS {
		t.Fatalf("language 13 decoded as %d", got)
	}
}

func TestJSONCodeBeyondInt16DecodesAsOutOfRange(t *testing.T) {
	header := `{"code":200050,"language":"JAVA","version":479,"opaque":9,"flag":0}`
	frame := make([]byte, 4+len(header))
	binary.BigEndian.PutUint32(frame, uint32(len(header)))
	copy(frame[4:], header)
	cmd, err := DecodeFrame(frame)
	if err != nil {
		t.Fatalf("DecodeFrame: %v", err)
	}
	if cmd.Code != CodeOutOfRange || cmd.Opaque != 9 {
		t.Fatalf("decoded code %d opaque %d", cmd.Code, cmd.Opaque)
	}
	if cmd.WideCode != 200050 || cmd.ReceivedCode() != 200050 {
		t.Fatalf("wide code %d, received code %d, want 200050", cmd.WideCode, cmd.ReceivedCode())
	}
	if small := (&Command{Code: 4242}); small.ReceivedCode() != 4242 {
		t.Fatalf("received code %d, want 4242", small.ReceivedCode())
	}
}
