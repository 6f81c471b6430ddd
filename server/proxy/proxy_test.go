package proxy_test

import (
	"context"
	"crypto/tls"
	"runtime"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/rocketgo/rocketgo/server/embedded/embeddedtest"
	"github.com/rocketgo/rocketgo/server/proxy"
	pb "github.com/rocketgo/rocketgo/server/proxy/v2pb"
)

func startProxy(t *testing.T) *proxy.Server {
	t.Helper()
	srv := embeddedtest.Start(t)
	p, err := proxy.Start("127.0.0.1:0", proxy.Config{NameServers: srv.NamesrvAddr()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

func dial(t *testing.T, addr string, useTLS bool) pb.MessagingServiceClient {
	t.Helper()
	creds := insecure.NewCredentials()
	if useTLS {
		creds = credentials.NewTLS(&tls.Config{InsecureSkipVerify: true})
	}
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(creds))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return pb.NewMessagingServiceClient(conn)
}

func callCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return metadata.AppendToOutgoingContext(ctx, "x-mq-client-id", "test-client")
}

func newMessage(topic, id, body string) *pb.Message {
	tag := "TagA"
	return &pb.Message{
		Topic:          &pb.Resource{Name: topic},
		UserProperties: map[string]string{"k": "v"},
		SystemProperties: &pb.SystemProperties{
			MessageId: id, Tag: &tag, Keys: []string{"key1"}, BornHost: "host1",
			BornTimestamp: timestamppb.Now(), MessageType: pb.MessageType_NORMAL,
		},
		Body: []byte(body),
	}
}

// receiveWithin calls ReceiveMessage with req until a call's stream
// carries messages or max has passed (max 0: one call), and returns the
// messages of the last call.
func receiveWithin(t *testing.T, ctx context.Context, c pb.MessagingServiceClient, req *pb.ReceiveMessageRequest, max time.Duration) []*pb.Message {
	t.Helper()
	deadline := time.Now().Add(max)
	for {
		stream, err := c.ReceiveMessage(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		var msgs []*pb.Message
		for {
			r, err := stream.Recv()
			if err != nil {
				break
			}
			if m := r.GetMessage(); m != nil {
				msgs = append(msgs, m)
			}
		}
		if len(msgs) > 0 || !time.Now().Before(deadline) {
			return msgs
		}
	}
}

// TestSendReceiveAckPlainAndTLS: one port serves both; a message sent over
// one connection is popped, acked and gone over the other.
func TestSendReceiveAckPlainAndTLS(t *testing.T) {
	p := startProxy(t)
	plain, secure := dial(t, p.Addr(), false), dial(t, p.Addr(), true)
	ctx := callCtx(t)
	const topic, group = "ProxyTopic", "ProxyGroup"

	route, err := secure.QueryRoute(ctx, &pb.QueryRouteRequest{Topic: &pb.Resource{Name: topic}})
	if err != nil || route.Status.Code != pb.Code_OK || len(route.MessageQueues) == 0 {
		t.Fatalf("route: %v %v", route, err)
	}
	// Create the topic, then fix the group's start (POP init mode MAX).
	send := func(id string) {
		resp, err := plain.SendMessage(ctx, &pb.SendMessageRequest{Messages: []*pb.Message{newMessage(topic, id, "body-"+id)}})
		if err != nil || resp.Status.Code != pb.Code_OK || resp.Entries[0].MessageId != id {
			t.Fatalf("send: %v %v", resp, err)
		}
	}
	send("ID0")
	recv := func(max time.Duration) []*pb.Message {
		return receiveWithin(t, ctx, secure, &pb.ReceiveMessageRequest{
			Group: &pb.Resource{Name: group}, MessageQueue: route.MessageQueues[0], BatchSize: 8,
			InvisibleDuration: durationpb.New(30 * time.Second), LongPollingTimeout: durationpb.New(time.Second),
		}, max)
	}
	recv(0)
	send("ID1")
	msgs := recv(10 * time.Second)
	if len(msgs) != 1 {
		t.Fatalf("received %d messages", len(msgs))
	}
	m := msgs[0]
	sp := m.SystemProperties
	if sp.MessageId != "ID1" || string(m.Body) != "body-ID1" || sp.GetTag() != "TagA" || sp.Keys[0] != "key1" ||
		m.UserProperties["k"] != "v" || sp.BornHost != "host1" || sp.GetDeliveryAttempt() != 1 || sp.GetReceiptHandle() == "" {
		t.Fatalf("received %v", m)
	}
	// Forward a second message to the DLQ: it lands in %DLQ%<group> and
	// is not handed out again.
	send("ID2")
	dl := recv(10 * time.Second)
	if len(dl) != 1 || dl[0].SystemProperties.MessageId != "ID2" {
		t.Fatalf("received %v", dl)
	}
	fwd, err := plain.ForwardMessageToDeadLetterQueue(ctx, &pb.ForwardMessageToDeadLetterQueueRequest{
		Group: &pb.Resource{Name: group}, Topic: &pb.Resource{Name: topic},
		ReceiptHandle: dl[0].SystemProperties.GetReceiptHandle(), MessageId: "ID2", DeliveryAttempt: 1, MaxDeliveryAttempts: 16})
	if err != nil || fwd.Status.Code != pb.Code_OK {
		t.Fatalf("forward to DLQ: %v %v", fwd, err)
	}
	dlqRoute, err := plain.QueryRoute(ctx, &pb.QueryRouteRequest{Topic: &pb.Resource{Name: "%DLQ%" + group}})
	if err != nil || dlqRoute.Status.Code != pb.Code_OK {
		t.Fatalf("DLQ route: %v %v", dlqRoute, err)
	}
	ack, err := plain.AckMessage(ctx, &pb.AckMessageRequest{Group: &pb.Resource{Name: group}, Topic: &pb.Resource{Name: topic},
		Entries: []*pb.AckMessageEntry{{MessageId: "ID1", ReceiptHandle: sp.GetReceiptHandle()}}})
	if err != nil || ack.Status.Code != pb.Code_OK {
		t.Fatalf("ack: %v %v", ack, err)
	}
}

// TestMalformedRequests: bad input gets a 5.x error status, never a panic.
func TestMalformedRequests(t *testing.T) {
	p := startProxy(t)
	c := dial(t, p.Addr(), false)
	ctx := callCtx(t)
	cases := []struct {
		name string
		call func() (*pb.Status, error)
		want pb.Code
	}{
		{"send nothing", func() (*pb.Status, error) {
			r, err := c.SendMessage(ctx, &pb.SendMessageRequest{})
			return r.GetStatus(), err
		}, pb.Code_BAD_REQUEST},
		{"send nil message", func() (*pb.Status, error) {
			r, err := c.SendMessage(ctx, &pb.SendMessageRequest{Messages: []*pb.Message{{}}})
			return r.GetStatus(), err
		}, pb.Code_ILLEGAL_TOPIC},
		{"send bad topic", func() (*pb.Status, error) {
			r, err := c.SendMessage(ctx, &pb.SendMessageRequest{Messages: []*pb.Message{newMessage("bad topic!", "X", "b")}})
			return r.GetStatus(), err
		}, pb.Code_ILLEGAL_TOPIC},
		{"send no id", func() (*pb.Status, error) {
			r, err := c.SendMessage(ctx, &pb.SendMessageRequest{Messages: []*pb.Message{newMessage("T", "", "b")}})
			return r.GetStatus(), err
		}, pb.Code_ILLEGAL_MESSAGE_ID},
		{"ack bad handle", func() (*pb.Status, error) {
			r, err := c.AckMessage(ctx, &pb.AckMessageRequest{Group: &pb.Resource{Name: "G"}, Topic: &pb.Resource{Name: "T"},
				Entries: []*pb.AckMessageEntry{{MessageId: "x", ReceiptHandle: "garbage"}}})
			return r.GetStatus(), err
		}, pb.Code_INVALID_RECEIPT_HANDLE},
		{"change invisible no duration", func() (*pb.Status, error) {
			r, err := c.ChangeInvisibleDuration(ctx, &pb.ChangeInvisibleDurationRequest{Group: &pb.Resource{Name: "G"}, Topic: &pb.Resource{Name: "T"}})
			return r.GetStatus(), err
		}, pb.Code_ILLEGAL_INVISIBLE_TIME},
		{"end transaction bad id", func() (*pb.Status, error) {
			r, err := c.EndTransaction(ctx, &pb.EndTransactionRequest{Topic: &pb.Resource{Name: "T"}, TransactionId: "nope"})
			return r.GetStatus(), err
		}, pb.Code_INVALID_TRANSACTION_ID},
		{"route bad topic", func() (*pb.Status, error) {
			r, err := c.QueryRoute(ctx, &pb.QueryRouteRequest{})
			return r.GetStatus(), err
		}, pb.Code_ILLEGAL_TOPIC},
	}
	for _, tc := range cases {
		st, err := tc.call()
		if err != nil {
			t.Errorf("%s: transport error %v", tc.name, err)
			continue
		}
		if st.GetCode() != tc.want {
			t.Errorf("%s: status %v, want %v", tc.name, st, tc.want)
		}
	}
}

// TestCloseStopsGoroutines: Close ends open telemetry streams and waits
// for every handler.
func TestCloseStopsGoroutines(t *testing.T) {
	srv := embeddedtest.Start(t)
	p, err := proxy.Start("127.0.0.1:0", proxy.Config{NameServers: srv.NamesrvAddr()})
	if err != nil {
		t.Fatal(err)
	}
	conn, err := grpc.NewClient(p.Addr(), grpc.WithTransportCredentials(credentials.NewTLS(&tls.Config{InsecureSkipVerify: true})))
	if err != nil {
		t.Fatal(err)
	}
	closeConns := func() { conn.Close() }
	c := pb.NewMessagingServiceClient(conn)
	stream, err := c.Telemetry(callCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := stream.Send(&pb.TelemetryCommand{Command: &pb.TelemetryCommand_Settings{Settings: &pb.Settings{
		ClientType: pb.ClientType_PRODUCER.Enum(), PubSub: &pb.Settings_Publishing{Publishing: &pb.Publishing{}}}}}); err != nil {
		t.Fatal(err)
	}
	reply, err := stream.Recv()
	if err != nil || reply.GetSettings().GetPublishing().GetMaxBodySize() == 0 {
		t.Fatalf("settings reply %v %v", reply, err)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := stream.Recv(); err == nil {
		t.Fatal("telemetry stream still open after Close")
	}
	// The broker runs in this process too (and its own remoting
	// connections): look for goroutines of the proxy, its gRPC server and
	// its cluster client, not at the count.
	closeConns()
	deadline := time.Now().Add(10 * time.Second)
	for {
		buf := make([]byte, 4<<20)
		dump := string(buf[:runtime.Stack(buf, true)])
		var left []string
		for _, g := range strings.Split(dump, "\n\n") {
			if strings.Contains(g, "google.golang.org/grpc") || strings.Contains(g, "rocketgo/server/proxy.") ||
				strings.Contains(g, "rocketgo/internal/client.") {
				if !strings.Contains(g, "TestCloseStopsGoroutines") {
					left = append(left, g)
				}
			}
		}
		if len(left) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d goroutines left after Close:\n%s", len(left), strings.Join(left, "\n\n"))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestDelayMessageKeepsDeliveryTimestamp: a timer message sent over gRPC
// is received, once due, with its delivery timestamp and type DELAY (the
// broker keeps the due time it recorded when the timer delivers).
func TestDelayMessageKeepsDeliveryTimestamp(t *testing.T) {
	p := startProxy(t)
	c := dial(t, p.Addr(), false)
	ctx := callCtx(t)
	const topic, group = "ProxyDelayTopic", "ProxyDelayGroup"
	route, err := c.QueryRoute(ctx, &pb.QueryRouteRequest{Topic: &pb.Resource{Name: topic}})
	if err != nil || route.Status.Code != pb.Code_OK || len(route.MessageQueues) == 0 {
		t.Fatalf("route: %v %v", route, err)
	}
	receive := func() []*pb.Message {
		return receiveWithin(t, ctx, c, &pb.ReceiveMessageRequest{
			Group: &pb.Resource{Name: group}, MessageQueue: route.MessageQueues[0], BatchSize: 8,
			InvisibleDuration: durationpb.New(30 * time.Second), LongPollingTimeout: durationpb.New(time.Second),
		}, 0)
	}
	receive() // the group starts at the queue's end
	at := time.Now().Add(1500 * time.Millisecond).Truncate(time.Millisecond)
	m := newMessage(topic, "DELAY1", "later")
	m.SystemProperties.MessageType = pb.MessageType_DELAY
	m.SystemProperties.DeliveryTimestamp = timestamppb.New(at)
	if resp, err := c.SendMessage(ctx, &pb.SendMessageRequest{Messages: []*pb.Message{m}}); err != nil || resp.Status.Code != pb.Code_OK {
		t.Fatalf("send: %v %v", resp, err)
	}
	var got []*pb.Message
	for deadline := time.Now().Add(15 * time.Second); len(got) == 0 && time.Now().Before(deadline); {
		got = receive()
	}
	if len(got) != 1 {
		t.Fatalf("received %d messages", len(got))
	}
	if now := time.Now(); now.Before(at) {
		t.Fatalf("delivered %v early", at.Sub(now))
	}
	sp := got[0].SystemProperties
	if sp.GetDeliveryTimestamp() == nil || !sp.GetDeliveryTimestamp().AsTime().Equal(at) || sp.MessageType != pb.MessageType_DELAY {
		t.Fatalf("delivery timestamp %v type %v, want %v DELAY", sp.GetDeliveryTimestamp().AsTime(), sp.MessageType, at)
	}
	if _, ok := got[0].UserProperties["TIMER_OUT_MS"]; ok {
		t.Fatal("the broker's timer property leaked into the user properties")
	}
}

// TestRecallMessage: a delay message sent over gRPC comes with a recall
// handle; RecallMessage with it cancels the delivery, while a message due
// later still arrives. Bad handles and retry topics are refused.
func TestRecallMessage(t *testing.T) {
	p := startProxy(t)
	c := dial(t, p.Addr(), false)
	ctx := callCtx(t)
	const topic, group = "ProxyRecallTopic", "ProxyRecallGroup"
	route, err := c.QueryRoute(ctx, &pb.QueryRouteRequest{Topic: &pb.Resource{Name: topic}})
	if err != nil || route.Status.Code != pb.Code_OK || len(route.MessageQueues) == 0 {
		t.Fatalf("route: %v %v", route, err)
	}
	receive := func() []*pb.Message {
		return receiveWithin(t, ctx, c, &pb.ReceiveMessageRequest{
			Group: &pb.Resource{Name: group}, MessageQueue: route.MessageQueues[0], BatchSize: 8,
			InvisibleDuration: durationpb.New(30 * time.Second), LongPollingTimeout: durationpb.New(time.Second),
		}, 0)
	}
	send := func(id string, after time.Duration) *pb.SendResultEntry {
		m := newMessage(topic, id, "body-"+id)
		if after > 0 {
			m.SystemProperties.MessageType = pb.MessageType_DELAY
			m.SystemProperties.DeliveryTimestamp = timestamppb.New(time.Now().Add(after))
		}
		resp, err := c.SendMessage(ctx, &pb.SendMessageRequest{Messages: []*pb.Message{m}})
		if err != nil || resp.Status.Code != pb.Code_OK {
			t.Fatalf("send %s: %v %v", id, resp, err)
		}
		return resp.Entries[0]
	}
	// The first send creates the topic.
	if h := send("NOW", 0).RecallHandle; h != "" {
		t.Fatalf("a normal message got recall handle %q", h)
	}
	receive() // the topic exists now: fix the group's start at its end
	recalled := send("RECALLED", time.Second)
	kept := send("KEPT", 2*time.Second)
	if recalled.RecallHandle == "" || kept.RecallHandle == "" {
		t.Fatalf("delay messages without recall handles: %v %v", recalled, kept)
	}
	bad := []struct {
		name string
		req  *pb.RecallMessageRequest
		want pb.Code
	}{
		{"garbage handle", &pb.RecallMessageRequest{Topic: &pb.Resource{Name: topic}, RecallHandle: "garbage"}, pb.Code_BAD_REQUEST},
		{"retry topic", &pb.RecallMessageRequest{Topic: &pb.Resource{Name: "%RETRY%" + group}, RecallHandle: recalled.RecallHandle}, pb.Code_ILLEGAL_TOPIC},
		{"missing topic", &pb.RecallMessageRequest{Topic: &pb.Resource{Name: "OtherTopic"}, RecallHandle: recalled.RecallHandle}, pb.Code_TOPIC_NOT_FOUND},
	}
	for _, tc := range bad {
		r, err := c.RecallMessage(ctx, tc.req)
		if err != nil || r.Status.Code != tc.want {
			t.Errorf("%s: %v %v, want %v", tc.name, r, err, tc.want)
		}
	}
	r, err := c.RecallMessage(ctx, &pb.RecallMessageRequest{Topic: &pb.Resource{Name: topic}, RecallHandle: recalled.RecallHandle})
	if err != nil || r.Status.Code != pb.Code_OK || r.MessageId != "RECALLED" {
		t.Fatalf("recall: %v %v", r, err)
	}
	// KEPT is due after RECALLED: once it arrives, RECALLED would have too.
	var got []*pb.Message
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); {
		got = append(got, receive()...)
		if len(got) > 0 && got[len(got)-1].SystemProperties.MessageId == "KEPT" {
			break
		}
	}
	if len(got) != 1 || got[0].SystemProperties.MessageId != "KEPT" {
		ids := []string{}
		for _, m := range got {
			ids = append(ids, m.SystemProperties.MessageId)
		}
		t.Fatalf("received %v, want only KEPT", ids)
	}
}
