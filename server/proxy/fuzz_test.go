package proxy_test

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/rocketgo/rocketgo/server/embedded/embeddedtest"
	"github.com/rocketgo/rocketgo/server/proxy"
	pb "github.com/rocketgo/rocketgo/server/proxy/v2pb"
)

// fuzzCalls are the unary and server-streaming RPCs FuzzRequests drives,
// each decoding the fuzzer's bytes as its own request type.
var fuzzCalls = []struct {
	name string
	call func(ctx context.Context, c pb.MessagingServiceClient, data []byte) error
}{
	{"SendMessage", func(ctx context.Context, c pb.MessagingServiceClient, data []byte) error {
		return unary(data, &pb.SendMessageRequest{}, func(r *pb.SendMessageRequest) error {
			// Sends land in topics of their own ("Fuzz" + lower-case
			// letters), so fuzzing cannot fill arbitrary topics.
			for _, m := range r.Messages {
				if m.GetTopic() != nil {
					m.Topic.Name = "Fuzz" + strings.Map(func(r rune) rune {
						if r >= 'a' && r <= 'z' {
							return r
						}
						return -1
					}, m.Topic.Name)
				}
			}
			// Every send is answered in its response: any call error fails.
			resp, err := c.SendMessage(ctx, r)
			if err != nil {
				return status.Errorf(codes.Unknown, "call error: %v", err)
			}
			if resp.GetStatus() == nil {
				return status.Errorf(codes.Unknown, "no status for %v", r)
			}
			return nil
		})
	}},
	{"QueryRoute", func(ctx context.Context, c pb.MessagingServiceClient, data []byte) error {
		return unary(data, &pb.QueryRouteRequest{}, func(r *pb.QueryRouteRequest) error { _, err := c.QueryRoute(ctx, r); return err })
	}},
	{"Heartbeat", func(ctx context.Context, c pb.MessagingServiceClient, data []byte) error {
		return unary(data, &pb.HeartbeatRequest{}, func(r *pb.HeartbeatRequest) error { _, err := c.Heartbeat(ctx, r); return err })
	}},
	{"QueryAssignment", func(ctx context.Context, c pb.MessagingServiceClient, data []byte) error {
		return unary(data, &pb.QueryAssignmentRequest{}, func(r *pb.QueryAssignmentRequest) error { _, err := c.QueryAssignment(ctx, r); return err })
	}},
	{"AckMessage", func(ctx context.Context, c pb.MessagingServiceClient, data []byte) error {
		return unary(data, &pb.AckMessageRequest{}, func(r *pb.AckMessageRequest) error { _, err := c.AckMessage(ctx, r); return err })
	}},
	{"ChangeInvisibleDuration", func(ctx context.Context, c pb.MessagingServiceClient, data []byte) error {
		return unary(data, &pb.ChangeInvisibleDurationRequest{}, func(r *pb.ChangeInvisibleDurationRequest) error {
			_, err := c.ChangeInvisibleDuration(ctx, r)
			return err
		})
	}},
	{"ForwardMessageToDeadLetterQueue", func(ctx context.Context, c pb.MessagingServiceClient, data []byte) error {
		return unary(data, &pb.ForwardMessageToDeadLetterQueueRequest{}, func(r *pb.ForwardMessageToDeadLetterQueueRequest) error {
			_, err := c.ForwardMessageToDeadLetterQueue(ctx, r)
			return err
		})
	}},
	{"EndTransaction", func(ctx context.Context, c pb.MessagingServiceClient, data []byte) error {
		return unary(data, &pb.EndTransactionRequest{}, func(r *pb.EndTransactionRequest) error { _, err := c.EndTransaction(ctx, r); return err })
	}},
	{"NotifyClientTermination", func(ctx context.Context, c pb.MessagingServiceClient, data []byte) error {
		return unary(data, &pb.NotifyClientTerminationRequest{}, func(r *pb.NotifyClientTerminationRequest) error {
			_, err := c.NotifyClientTermination(ctx, r)
			return err
		})
	}},
	{"RecallMessage", func(ctx context.Context, c pb.MessagingServiceClient, data []byte) error {
		return unary(data, &pb.RecallMessageRequest{}, func(r *pb.RecallMessageRequest) error { _, err := c.RecallMessage(ctx, r); return err })
	}},
	{"ReceiveMessage", func(ctx context.Context, c pb.MessagingServiceClient, data []byte) error {
		return unary(data, &pb.ReceiveMessageRequest{}, func(r *pb.ReceiveMessageRequest) error {
			// Whatever the bytes asked for, wait briefly: the point is
			// the handler's answer, not a long poll.
			r.LongPollingTimeout = durationpb.New(100 * time.Millisecond)
			stream, err := c.ReceiveMessage(ctx, r)
			if err != nil {
				return err
			}
			for {
				if _, err := stream.Recv(); err != nil {
					if errors.Is(err, io.EOF) {
						return nil
					}
					return err
				}
			}
		})
	}},
}

// unary decodes data as req; bytes that are no such request are no call.
func unary[R proto.Message](data []byte, req R, call func(R) error) error {
	if proto.Unmarshal(data, req) != nil {
		return nil
	}
	return call(req)
}

// FuzzRequests feeds arbitrary bytes, decoded as the request of one of the
// endpoint's RPCs (SendMessage included), to its handler: each answers with
// a status (in its response or as the call's gRPC status) within the
// deadline — never a panic (which would end the process) and never a hang.
func FuzzRequests(f *testing.F) {
	seeds := []proto.Message{
		&pb.SendMessageRequest{Messages: []*pb.Message{newMessage("T", "ID", "b")}},
		&pb.QueryRouteRequest{Topic: &pb.Resource{Name: "T"}},
		&pb.HeartbeatRequest{Group: &pb.Resource{Name: "G"}, ClientType: pb.ClientType_SIMPLE_CONSUMER},
		&pb.QueryAssignmentRequest{Topic: &pb.Resource{Name: "T"}, Group: &pb.Resource{Name: "G"}},
		&pb.AckMessageRequest{Group: &pb.Resource{Name: "G"}, Topic: &pb.Resource{Name: "T"},
			Entries: []*pb.AckMessageEntry{{MessageId: "ID", ReceiptHandle: "not a handle"}}},
		&pb.ChangeInvisibleDurationRequest{Group: &pb.Resource{Name: "G"}, Topic: &pb.Resource{Name: "T"},
			ReceiptHandle: "x", InvisibleDuration: durationpb.New(-time.Second), MessageId: "ID"},
		&pb.ForwardMessageToDeadLetterQueueRequest{Group: &pb.Resource{Name: "G"}, Topic: &pb.Resource{Name: "T"}, ReceiptHandle: "x"},
		&pb.EndTransactionRequest{Topic: &pb.Resource{Name: "T"}, MessageId: "ID", TransactionId: "x"},
		&pb.NotifyClientTerminationRequest{Group: &pb.Resource{Name: "G"}},
		&pb.RecallMessageRequest{Topic: &pb.Resource{Name: "T"}, RecallHandle: "%%%"},
		&pb.ReceiveMessageRequest{Group: &pb.Resource{Name: "G"}, BatchSize: -1, InvisibleDuration: durationpb.New(0)},
	}
	for i, s := range seeds {
		data, err := proto.Marshal(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(uint8(i), data)
	}
	f.Add(uint8(0), []byte{0x0a, 0x02, 0x0a, 0x00})
	f.Add(uint8(4), []byte{0x1a, 0x02, 0x0a, 0x00})
	srv := embeddedtest.Start(f)
	p, err := proxy.Start("127.0.0.1:0", proxy.Config{NameServers: srv.NamesrvAddr()})
	if err != nil {
		f.Fatal(err)
	}
	defer p.Close()
	conn, err := grpc.NewClient(p.Addr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		f.Fatal(err)
	}
	defer conn.Close()
	c := pb.NewMessagingServiceClient(conn)
	f.Fuzz(func(t *testing.T, kind uint8, data []byte) {
		fc := fuzzCalls[int(kind)%len(fuzzCalls)]
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		err := fc.call(ctx, c, data)
		switch status.Code(err) {
		case codes.DeadlineExceeded:
			t.Fatalf("%s hung on %x", fc.name, data)
		case codes.Unavailable, codes.Unknown:
			t.Fatalf("%s: transport error (handler panicked?): %v", fc.name, err)
		}
	})
}
