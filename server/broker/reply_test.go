package broker

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/rocketgo/rocketgo/remoting/netclient"

	"github.com/rocketgo/rocketgo/message"
	"github.com/rocketgo/rocketgo/remoting"
	"github.com/rocketgo/rocketgo/remoting/wire"
)

// producerHeartbeat registers rc's connection as producer clientID.
func producerHeartbeat(t *testing.T, rc *netclient.Client, addr, clientID string) {
	t.Helper()
	body, _ := json.Marshal(wire.HeartbeatData{ClientID: clientID, ProducerDataSet: []wire.ProducerData{{GroupName: "REQ_PG"}}})
	if resp := invoke(t, rc, addr, remoting.NewRequest(remoting.HeartBeat, nil, body)); resp.Code != remoting.Success {
		t.Fatalf("heartbeat: %d %s", resp.Code, resp.Remark)
	}
}

func replyProps(to, corr string) string {
	var p []byte
	p = message.AppendProperty(p, message.PropertyMsgType, message.MsgTypeReply)
	p = message.AppendProperty(p, message.PropertyCorrelationID, corr)
	if to != "" {
		p = message.AppendProperty(p, message.PropertyReplyToClient, to)
	}
	p = message.AppendProperty(p, message.PropertyMessageTTL, "3000")
	return string(p)
}

// TestReplyPushedToRequesterAndStored: SEND_REPLY_MESSAGE_V2 reaches the
// requester's connection as PUSH_REPLY_MESSAGE_TO_CLIENT with body and
// properties (plus PUSH_REPLY_TIME), is answered SUCCESS with a real msgId,
// and is stored in <cluster>_REPLY_TOPIC.
func TestReplyPushedToRequesterAndStored(t *testing.T) {
	b, replier := testBroker(t, nil)
	requester := netclient.New()
	defer requester.Close()
	pushed := make(chan *remoting.Command, 1)
	requester.RegisterHandler(remoting.PushReplyMessageToClient, func(_ context.Context, _ string, req *remoting.Command) *remoting.Command {
		pushed <- req
		return remoting.NewResponse(req, remoting.Success, "")
	})
	producerHeartbeat(t, requester, b.Addr(), "10.0.0.1@req")

	topic := message.ReplyTopic(b.cfg.BrokerClusterName)
	h := sendHeader(topic, -1, replyProps("10.0.0.1@req", "corr-1"))
	resp := invoke(t, replier, b.Addr(), remoting.NewRequest(remoting.SendReplyMessageV2, h.V2(), []byte("answer")))
	if resp.Code != remoting.Success {
		t.Fatalf("reply: %d %s", resp.Code, resp.Remark)
	}
	var rh remoting.SendMessageResponseHeader
	if err := resp.DecodeHeader(&rh); err != nil || rh.MsgID == "0" || rh.MsgID == "" {
		t.Fatalf("response header %+v %v: want the stored message's id", rh, err)
	}
	select {
	case req := <-pushed:
		var ph remoting.ReplyMessageRequestHeader
		if err := req.DecodeHeader(&ph); err != nil {
			t.Fatal(err)
		}
		if string(req.Body) != "answer" || ph.Topic != topic || ph.StoreHost != b.Addr() || ph.BornHost == "" {
			t.Fatalf("pushed %q %+v", req.Body, ph)
		}
		for _, k := range []string{message.PropertyCorrelationID, message.PropertyPushReplyTime, message.PropertyReplyToClient} {
			if v, ok := message.LookupPropertyString(ph.Properties, k); !ok || v == "" {
				t.Fatalf("pushed properties lack %s: %q", k, ph.Properties)
			}
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no push")
	}
	resp = invoke(t, replier, b.Addr(), remoting.NewRequest(remoting.GetMaxOffset, &remoting.GetMaxOffsetRequestHeader{Topic: topic, QueueID: 0}, nil))
	if v, _ := resp.Ext.Get("offset"); v != "1" {
		t.Fatalf("reply topic max offset %q, want 1", v)
	}
}

// TestReplyToAbsentRequester: upstream's SYSTEM_ERROR and remarks when the
// requester is not connected or REPLY_TO_CLIENT is missing; the V1 code
// (324, what the official Go client sends) is served too.
func TestReplyToAbsentRequester(t *testing.T) {
	b, replier := testBroker(t, nil)
	topic := message.ReplyTopic(b.cfg.BrokerClusterName)
	for _, tc := range []struct{ to, remark string }{
		{"10.9.9.9@gone", "push reply message fail, channel of <10.9.9.9@gone> not found."},
		{"", "reply message properties[REPLY_TO_CLIENT] is null"},
	} {
		h := sendHeader(topic, 0, replyProps(tc.to, "c"))
		resp := invoke(t, replier, b.Addr(), remoting.NewRequest(remoting.SendReplyMessage, h, []byte("x")))
		if resp.Code != remoting.SystemError || resp.Remark != tc.remark {
			t.Fatalf("to %q: %d %q, want SYSTEM_ERROR %q", tc.to, resp.Code, resp.Remark, tc.remark)
		}
	}
	// Validation is the send path's: a bad topic is refused before any push.
	h := sendHeader("bad topic", 0, replyProps("x", "c"))
	if resp := invoke(t, replier, b.Addr(), remoting.NewRequest(remoting.SendReplyMessage, h, []byte("x"))); resp.Code == remoting.Success || !strings.Contains(resp.Remark, "bad topic") {
		t.Fatalf("bad topic: %d %q", resp.Code, resp.Remark)
	}
}
