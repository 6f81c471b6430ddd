package acl

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rocketgo/rocketgo/auth"
	"github.com/rocketgo/rocketgo/remoting"
	"github.com/rocketgo/rocketgo/remoting/wire"
)

const testYAML = `
globalWhiteRemoteAddresses:
  - 10.10.103.*
  - 192.168.0.{1,2}
accounts:
  - accessKey: RocketMQ
    secretKey: 12345678
    whiteRemoteAddress: 192.168.9.1-10
    admin: false
    defaultTopicPerm: DENY
    defaultGroupPerm: SUB
    topicPerms:
      - topicA=DENY
      - topicB=PUB|SUB
      - topicC=SUB
    groupPerms:
      - groupA=DENY
      - groupB=PUB|SUB
  - accessKey: rocketmq2
    secretKey: 12345678
    admin: true
`

var (
	user  = auth.Credentials{AccessKey: "RocketMQ", SecretKey: "12345678"}
	admin = auth.Credentials{AccessKey: "rocketmq2", SecretKey: "12345678"}
)

func mustRules(t testing.TB) *Rules {
	t.Helper()
	r, err := Parse([]byte(testYAML))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func send(topic string) *remoting.Command {
	req := &remoting.Command{Code: remoting.SendMessageV2, Body: []byte("hello")}
	(&remoting.SendMessageRequestHeader{ProducerGroup: "PG", Topic: topic, DefaultTopic: "TBW102", DefaultTopicQueueNums: 4, QueueID: 1, BornTimestamp: 1}).V2().EncodeExt(&req.Ext)
	return req
}

func pull(topic, group string) *remoting.Command {
	req := &remoting.Command{Code: remoting.PullMessage}
	req.Ext.Set("topic", topic)
	req.Ext.Set("consumerGroup", group)
	req.Ext.Set("queueId", "0")
	return req
}

func recallReq(topic string) *remoting.Command {
	req := &remoting.Command{Code: remoting.RecallMessage}
	(&remoting.RecallMessageRequestHeader{ProducerGroup: "PG", Topic: topic, RecallHandle: "h"}).EncodeExt(&req.Ext)
	return req
}

func signed(req *remoting.Command, c auth.Credentials) *remoting.Command {
	auth.Sign(req, c)
	return req
}

func TestCheck(t *testing.T) {
	r := NewStatic(mustRules(t))
	const outside = "172.16.0.5:4000"
	hb := &remoting.Command{Code: remoting.HeartBeat}
	hb.Body, _ = json.Marshal(&wire.HeartbeatData{ClientID: "c", ConsumerDataSet: []wire.ConsumerData{{GroupName: "groupB", SubscriptionDataSet: []wire.SubscriptionData{{Topic: "topicC", SubString: "*"}}}}})
	hbDenied := &remoting.Command{Code: remoting.HeartBeat}
	hbDenied.Body, _ = json.Marshal(&wire.HeartbeatData{ClientID: "c", ConsumerDataSet: []wire.ConsumerData{{GroupName: "groupA"}}})
	wrong := user
	wrong.SecretKey = "wrong-secret"
	tampered := signed(send("topicB"), user)
	tampered.Body = []byte("changed")

	for _, tc := range []struct {
		name   string
		remote string
		req    *remoting.Command
		remark string // "" = allowed
	}{
		{"global white list, unsigned", "10.10.103.7:1", send("topicA"), ""},
		{"global set pattern", "192.168.0.2:1", send("topicA"), ""},
		{"global set pattern miss", "192.168.0.3:1", send("topicB"), "No accessKey is configured"},
		{"no credentials", outside, send("topicB"), "No accessKey is configured"},
		{"unknown key", outside, signed(send("topicB"), auth.Credentials{AccessKey: "nobody123", SecretKey: "12345678"}), "No acl config for nobody123"},
		{"wrong secret", outside, signed(send("topicB"), wrong), "Check signature failed for accessKey=RocketMQ"},
		{"tampered body", outside, tampered, "Check signature failed for accessKey=RocketMQ"},
		{"pub allowed", outside, signed(send("topicB"), user), ""},
		{"topic denied", outside, signed(send("topicA"), user), "No permission for topicA"},
		{"sub-only topic send", outside, signed(send("topicC"), user), "No permission for topicC"},
		{"default topic perm", outside, signed(send("other"), user), "No default permission for other"},
		{"account white list skips signature", "192.168.9.3:1", withAK(send("topicA"), "RocketMQ"), ""},
		{"pull allowed", outside, signed(pull("topicC", "groupB"), user), ""},
		{"pull group denied", outside, signed(pull("topicC", "groupA"), user), "No permission for %RETRY%groupA"},
		{"pull group default SUB", outside, signed(pull("topicC", "groupZ"), user), ""},
		{"retry topic send is the group's", outside, signed(send("%RETRY%groupA"), user), "No permission for %RETRY%groupA"},
		{"pop allowed", outside, signed(popReq(remoting.PopMessage, "topicC", "groupB"), user), ""},
		{"pop topic denied", outside, signed(popReq(remoting.PopMessage, "topicA", "groupB"), user), "No permission for topicA"},
		{"pop group denied", outside, signed(popReq(remoting.PopMessage, "topicC", "groupA"), user), "No permission for %RETRY%groupA"},
		{"ack of a redelivery checks the inner topic", outside, signed(popReq(remoting.AckMessage, "%RETRY%groupB_topicA", "groupB"), user), "No permission for topicA"},
		{"ack of a redelivery allowed", outside, signed(popReq(remoting.AckMessage, "%RETRY%groupB_topicC", "groupB"), user), ""},
		{"change invisible time denied", outside, signed(popReq(remoting.ChangeMessageInvisibleTime, "topicA", "groupB"), user), "No permission for topicA"},
		{"peek allowed", outside, signed(popReq(remoting.PeekMessage, "topicC", "groupB"), user), ""},
		{"peek topic denied", outside, signed(popReq(remoting.PeekMessage, "topicA", "groupB"), user), "No permission for topicA"},
		{"notification group denied", outside, signed(popReq(remoting.Notification, "topicC", "groupA"), user), "No permission for %RETRY%groupA"},
		{"notification topic denied", outside, signed(popReq(remoting.Notification, "topicA", "groupB"), user), "No permission for topicA"},
		{"polling info topic denied", outside, signed(popReq(remoting.PollingInfo, "topicA", "groupB"), user), "No permission for topicA"},
		{"batch ack denied", outside, signed(batchAckReq(`{"acks":[{"c":"groupB","t":"topicA"}]}`), user), "No permission for topicA"},
		{"batch ack bad body", outside, signed(batchAckReq(`{`), user), "Bad batch ack body: unexpected end of JSON input"},
		{"heartbeat allowed", outside, signed(hb, user), ""},
		{"heartbeat denied group", outside, signed(hbDenied, user), "No permission for %RETRY%groupA"},
		{"non-admin delete topic", outside, signed(admReq(remoting.DeleteTopicInBroker), user), "Need admin permission for request code=215, but accessKey=RocketMQ is not admin"},
		{"admin delete topic", outside, signed(admReq(remoting.DeleteTopicInBroker), admin), ""},
		{"admin sends anywhere", outside, signed(send("topicA"), admin), ""},
		{"recall is a publish", outside, signed(recallReq("topicB"), user), ""},
		{"recall topic denied", outside, signed(recallReq("topicA"), user), "No permission for topicA"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := r.Check(tc.remote, tc.req)
			if tc.remark == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			var de *DeniedError
			if !errors.As(err, &de) || !errors.Is(err, ErrDenied) || de.Reason != tc.remark {
				t.Fatalf("got %v, want %q", err, tc.remark)
			}
		})
	}
}

func popReq(code int32, topic, group string) *remoting.Command {
	req := remoting.NewWideRequest(code, nil, nil)
	req.Ext.Set("consumerGroup", group)
	req.Ext.Set("topic", topic)
	return req
}

func batchAckReq(body string) *remoting.Command {
	return remoting.NewWideRequest(remoting.BatchAckMessage, nil, []byte(body))
}

func withAK(req *remoting.Command, ak string) *remoting.Command {
	req.Ext.Set(auth.FieldAccessKey, ak)
	return req
}

func admReq(code int16) *remoting.Command {
	req := &remoting.Command{Code: code}
	req.Ext.Set("topic", "topicB")
	return req
}

func TestAddrPatterns(t *testing.T) {
	for _, tc := range []struct {
		pat  string
		host string
		want bool
	}{
		{"*", "1.2.3.4", true},
		{"192.168.*.*", "192.168.5.6", true},
		{"192.168.*", "192.168.5.6", true},
		{"192.168.*.*", "192.169.5.6", false},
		{"192.168.1.1-100", "192.168.1.100", true},
		{"192.168.1.1-100", "192.168.1.101", false},
		{"192.168.0.{1,2}", "192.168.0.2", true},
		{"192.168.0.{1,2}", "192.168.0.12", false},
		{"10.0.0.1", "10.0.0.1", true},
		{"10.0.0.1", "10.0.0.10", false},
		{"10.0.0.1", "10.0.0.1.5", false},
		{"10.0.0.1", "", false},
		{"::1", "::1", true},
	} {
		p, err := parseAddrPattern(tc.pat)
		if err != nil {
			t.Fatalf("%q: %v", tc.pat, err)
		}
		if got := p.match(tc.host); got != tc.want {
			t.Errorf("%q ~ %q = %v, want %v", tc.pat, tc.host, got, tc.want)
		}
	}
	for _, bad := range []string{"10.1", "1.2.3.4.5", "300.1.1.1", "1.2.3.{1,x}", "1.2.{1,2}.4", "1.2.3.9-2"} {
		if _, err := parseAddrPattern(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestParseErrors(t *testing.T) {
	for _, bad := range []string{
		"accounts: [{accessKey: short, secretKey: 12345678}]",
		"accounts: [{accessKey: longenough}]",
		"accounts: [{accessKey: longenough, secretKey: 12345678, topicPerms: [nope]}]",
		"globalWhiteRemoteAddresses: [1.2]",
		"accounts: {",
	} {
		if _, err := Parse([]byte(bad)); !errors.Is(err, ErrInvalidFile) {
			t.Errorf("%q: %v", bad, err)
		}
	}
}

func TestReload(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "plain_acl.yml")
	if err := os.WriteFile(path, []byte(testYAML), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Open(path, WithReloadInterval(10*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	req := signed(send("newTopic"), user)
	if c.Check("172.16.0.5:1", req) == nil {
		t.Fatal("newTopic allowed before reload")
	}
	// A bad file keeps the previous rules.
	if err := os.WriteFile(path, []byte("accounts: {"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Reload(); err == nil {
		t.Fatal("bad file accepted")
	}
	if err := c.Check("172.16.0.5:1", signed(send("topicB"), user)); err != nil {
		t.Fatalf("previous rules lost: %v", err)
	}
	if err := os.WriteFile(path, []byte(strings.Replace(testYAML, "topicC=SUB", "newTopic=PUB", 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for c.Check("172.16.0.5:1", req) != nil {
		if time.Now().After(deadline) {
			t.Fatal("change not picked up")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if _, err := Open(filepath.Join(dir, "missing.yml")); !errors.Is(err, ErrInvalidFile) {
		t.Fatalf("missing file: %v", err)
	}
}

func BenchmarkCheckSend(b *testing.B) {
	c := NewStatic(mustRules(b))
	req := send("topicB")
	req.Body = []byte(strings.Repeat("x", 128))
	auth.Sign(req, user)
	b.ReportAllocs()
	for b.Loop() {
		if err := c.Check("172.16.0.5:4000", req); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkCheckPull(b *testing.B) {
	c := NewStatic(mustRules(b))
	req := signed(pull("topicC", "groupB"), user)
	b.ReportAllocs()
	for b.Loop() {
		if err := c.Check("172.16.0.5:4000", req); err != nil {
			b.Fatal(err)
		}
	}
}

func FuzzCheck(f *testing.F) {
	good := signed(send("topicB"), user)
	enc, _ := remoting.AppendFrame(nil, good)
	f.Add(enc[4:])
	f.Add([]byte{0, 0, 0, 2, '{', '}'})
	r := NewStatic(mustRules(f))
	f.Fuzz(func(t *testing.T, frame []byte) {
		cmd, err := remoting.DecodeFrame(frame)
		if err != nil {
			return
		}
		if r.Check("172.16.0.5:4000", cmd) == nil {
			// Only a correctly signed request of the account may pass.
			sig, _ := cmd.Ext.Get(auth.FieldSignature)
			ak, _ := cmd.Ext.Get(auth.FieldAccessKey)
			cp := *cmd
			cp.Ext = cmd.Ext.Clone()
			creds := user
			if ak == admin.AccessKey {
				creds = admin
			}
			auth.Sign(&cp, creds)
			if want, _ := cp.Ext.Get(auth.FieldSignature); want != sig {
				t.Fatalf("allowed with a bad signature: %v", cmd)
			}
		}
	})
}

func TestCheckNameServer(t *testing.T) {
	c := NewStatic(mustRules(t))
	const outside = "172.16.0.5:1"
	reg := func() *remoting.Command { return &remoting.Command{Code: remoting.RegisterBroker, Body: []byte("{}")} }
	route := &remoting.Command{Code: remoting.GetRouteInfoByTopic}
	route.Ext.Set("topic", "T")
	for _, tc := range []struct {
		name   string
		remote string
		req    *remoting.Command
		ok     bool
	}{
		{"route read is open", outside, route, true},
		{"unsigned registration", outside, reg(), false},
		{"non-admin registration", outside, signed(reg(), user), false},
		{"admin registration", outside, signed(reg(), admin), true},
		{"white-listed registration", "10.10.103.1:1", reg(), true},
	} {
		err := c.CheckNameServer(tc.remote, tc.req)
		if (err == nil) != tc.ok {
			t.Errorf("%s: %v", tc.name, err)
		}
	}
}
