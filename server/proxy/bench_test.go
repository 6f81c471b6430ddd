package proxy_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/rocketgo/rocketgo/message"
	"github.com/rocketgo/rocketgo/producer"
	"github.com/rocketgo/rocketgo/server/embedded/embeddedtest"
	"github.com/rocketgo/rocketgo/server/proxy"
	pb "github.com/rocketgo/rocketgo/server/proxy/v2pb"
)

// BenchmarkSend compares a synchronous 128-byte send through the gRPC
// endpoint (5.x protocol, plain gRPC over loopback, then remoting from
// the proxy to the broker) with our producer's remoting send straight to
// the broker, against one embedded server in the same run:
//
//	go test -run '^$' -bench BenchmarkSend -benchtime 5000x ./server/proxy/
func BenchmarkSend(b *testing.B) {
	srv := embeddedtest.Start(b)
	p, err := proxy.Start("127.0.0.1:0", proxy.Config{NameServers: srv.NamesrvAddr()})
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close()
	conn, err := grpc.NewClient(p.Addr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	c := pb.NewMessagingServiceClient(conn)
	prod, err := producer.New(producer.WithNameServers(srv.NamesrvAddr()), producer.WithGroup("bench-pg"))
	if err != nil {
		b.Fatal(err)
	}
	defer prod.Shutdown(context.Background())
	body := make([]byte, 128)
	const topic = "BenchSend"
	ctx := metadata.AppendToOutgoingContext(context.Background(), "x-mq-client-id", "bench")
	// Create the topic and warm both paths.
	for i := 0; i < 10; i++ {
		if _, err := prod.SendSync(ctx, message.New(topic, body)); err != nil {
			b.Fatal(err)
		}
	}
	b.Run("grpc", func(b *testing.B) {
		b.SetBytes(int64(len(body)))
		start := time.Now()
		for i := 0; b.Loop(); i++ {
			resp, err := c.SendMessage(ctx, &pb.SendMessageRequest{Messages: []*pb.Message{{
				Topic: &pb.Resource{Name: topic},
				SystemProperties: &pb.SystemProperties{MessageId: fmt.Sprintf("BENCH%012d", i),
					BornTimestamp: timestamppb.Now(), MessageType: pb.MessageType_NORMAL},
				Body: body,
			}}})
			if err != nil || resp.Status.Code != pb.Code_OK {
				b.Fatalf("send: %v %v", resp, err)
			}
		}
		b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "msgs/s")
	})
	b.Run("remoting", func(b *testing.B) {
		b.SetBytes(int64(len(body)))
		start := time.Now()
		for b.Loop() {
			if _, err := prod.SendSync(ctx, message.New(topic, body)); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "msgs/s")
	})
}
