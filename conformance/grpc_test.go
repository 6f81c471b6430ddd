package conformance_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/rocketgo/rocketgo/conformance/harness"
	"github.com/rocketgo/rocketgo/message"
	pb "github.com/rocketgo/rocketgo/server/proxy/v2pb"
)

// describeGRPC checks the 5.x gRPC endpoint (MessagingService) against the
// remoting side of the same cluster: what one protocol sends the other
// consumes, properties intact, and POP receive/ack over gRPC. The specs
// speak gRPC through our generated stubs rather than the 5.x client, whose
// copy of the same protobuf names cannot share a process with ours. They
// skip when the cluster has no reachable endpoint (-grpc).
func describeGRPC(env *harness.Env) {
	Describe("5.x gRPC endpoint", Label("grpc"), func() {
		BeforeEach(func() { require(env, harness.FeatureGRPC) })

		It("delivers messages sent over gRPC to remoting consumers, properties intact", func(ctx SpecContext) {
			topic := newTopic(ctx, env, "grpc", 2)
			col := newCollector()
			startPush(ctx, env, env.Name("cf_grpc_g"), topic, "*", col.concurrent())
			g := dialGRPC(env)
			ids := map[string]string{} // body -> message id
			for i, b := range bodies("g2r", 5) {
				id := fmt.Sprintf("CF%s%04d", env.Name("id"), i)
				ids[b] = id
				resp, err := g.SendMessage(g.ctx(ctx), &pb.SendMessageRequest{Messages: []*pb.Message{
					grpcMessage(topic, id, b, "TagG", map[string]string{"color": "blue"}, "k-"+b, "shared")}})
				Expect(err).NotTo(HaveOccurred())
				Expect(resp.GetStatus().GetCode()).To(Equal(pb.Code_OK), resp.GetStatus().GetMessage())
				Expect(resp.GetEntries()).To(HaveLen(1))
				Expect(resp.GetEntries()[0].GetMessageId()).To(Equal(id))
			}
			eventually(ctx, col.distinct).WithTimeout(env.Timeout(short)).Should(Equal(len(ids)))
			for _, m := range col.messages() {
				Expect(m.Topic).To(Equal(topic))
				Expect(m.Tags()).To(Equal("TagG"))
				Expect(m.Keys()).To(ConsistOf("k-"+string(m.Body), "shared"))
				Expect(prop(m, "color")).To(Equal("blue"))
				Expect(prop(m, message.PropertyUniqKey)).To(Equal(ids[string(m.Body)]))
			}
		}, SpecTimeout(env.Timeout(short)))

		It("hands messages sent over remoting to gRPC receivers, and an acknowledged one never again", func(ctx SpecContext) {
			topic := newTopic(ctx, env, "grpc", 1)
			group := env.Name("cf_grpc_pop")
			DeferCleanup(func(ctx SpecContext) { env.DeleteGroup(ctx, group) }, NodeTimeout(env.Timeout(10*time.Second)))
			g := dialGRPC(env)
			route, err := g.QueryRoute(g.ctx(ctx), &pb.QueryRouteRequest{Topic: &pb.Resource{Name: topic}})
			Expect(err).NotTo(HaveOccurred())
			Expect(route.GetStatus().GetCode()).To(Equal(pb.Code_OK), route.GetStatus().GetMessage())
			Expect(route.GetMessageQueues()).NotTo(BeEmpty())
			mq := route.GetMessageQueues()[0]
			// A new POP group starts at the queue's end: receive once first
			// so the group exists before anything is sent.
			g.receive(ctx, group, mq, 30*time.Second)
			p := newProducer(env)
			want := bodies("r2g", 4)
			sendAll(ctx, p, topic, want, func(m *message.Message) {
				m.WithTags("TagR").WithKeys("k-"+string(m.Body)).WithProperty("color", "red")
			})
			// A short invisible time: the one message left unacknowledged
			// comes back in seconds, the acknowledged ones must not.
			const invisible = 2 * time.Second
			var got []*pb.Message
			eventually(ctx, func() int { got = append(got, g.receive(ctx, group, mq, invisible)...); return len(got) }).
				WithTimeout(env.Timeout(short)).Should(BeNumerically(">=", len(want)))
			seen := map[string]bool{}
			for _, m := range got {
				sp := m.GetSystemProperties()
				seen[string(m.GetBody())] = true
				Expect(m.GetTopic().GetName()).To(Equal(topic))
				Expect(sp.GetTag()).To(Equal("TagR"))
				Expect(sp.GetKeys()).To(ConsistOf("k-" + string(m.GetBody())))
				Expect(m.GetUserProperties()).To(HaveKeyWithValue("color", "red"))
				Expect(sp.GetDeliveryAttempt()).To(BeEquivalentTo(1))
				Expect(sp.GetReceiptHandle()).NotTo(BeEmpty())
				Expect(sp.GetMessageId()).NotTo(BeEmpty())
			}
			Expect(seen).To(HaveLen(len(want)), "each message once")
			keep := got[len(got)-1]
			var entries []*pb.AckMessageEntry
			for _, m := range got[:len(got)-1] {
				entries = append(entries, &pb.AckMessageEntry{MessageId: m.GetSystemProperties().GetMessageId(), ReceiptHandle: m.GetSystemProperties().GetReceiptHandle()})
			}
			ack, err := g.AckMessage(g.ctx(ctx), &pb.AckMessageRequest{Group: &pb.Resource{Name: group}, Topic: &pb.Resource{Name: topic}, Entries: entries})
			Expect(err).NotTo(HaveOccurred())
			Expect(ack.GetStatus().GetCode()).To(Equal(pb.Code_OK), ack.GetStatus().GetMessage())
			for _, e := range ack.GetEntries() {
				Expect(e.GetStatus().GetCode()).To(Equal(pb.Code_OK), e.GetStatus().GetMessage())
			}
			var again []*pb.Message
			eventually(ctx, func() int { again = append(again, g.receive(ctx, group, mq, 30*time.Second)...); return len(again) }).
				WithTimeout(env.Timeout(short)).Should(BeNumerically(">=", 1))
			Expect(again).To(HaveLen(1), "only the unacknowledged message comes back")
			Expect(again[0].GetBody()).To(Equal(keep.GetBody()))
			Expect(again[0].GetSystemProperties().GetDeliveryAttempt()).To(BeEquivalentTo(2))
			ack, err = g.AckMessage(g.ctx(ctx), &pb.AckMessageRequest{Group: &pb.Resource{Name: group}, Topic: &pb.Resource{Name: topic},
				Entries: []*pb.AckMessageEntry{{MessageId: again[0].GetSystemProperties().GetMessageId(), ReceiptHandle: again[0].GetSystemProperties().GetReceiptHandle()}}})
			Expect(err).NotTo(HaveOccurred())
			Expect(ack.GetStatus().GetCode()).To(Equal(pb.Code_OK), ack.GetStatus().GetMessage())
		}, SpecTimeout(env.Timeout(long)))

		It("hands out a timer message sent over gRPC once due, with its delivery timestamp", Label("timer"), func(ctx SpecContext) {
			require(env, harness.FeatureTimer)
			topic := newTopic(ctx, env, "grpc", 1)
			group := env.Name("cf_grpc_timer")
			DeferCleanup(func(ctx SpecContext) { env.DeleteGroup(ctx, group) }, NodeTimeout(env.Timeout(10*time.Second)))
			g := dialGRPC(env)
			route, err := g.QueryRoute(g.ctx(ctx), &pb.QueryRouteRequest{Topic: &pb.Resource{Name: topic}})
			Expect(err).NotTo(HaveOccurred())
			Expect(route.GetStatus().GetCode()).To(Equal(pb.Code_OK), route.GetStatus().GetMessage())
			mq := route.GetMessageQueues()[0]
			g.receive(ctx, group, mq, 30*time.Second) // the group starts at the queue's end
			at := time.Now().Add(1500 * time.Millisecond).Truncate(time.Millisecond)
			m := grpcMessage(topic, "CF"+env.Name("timer"), "due", "TagT", nil)
			m.SystemProperties.MessageType = pb.MessageType_DELAY
			m.SystemProperties.DeliveryTimestamp = timestamppb.New(at)
			resp, err := g.SendMessage(g.ctx(ctx), &pb.SendMessageRequest{Messages: []*pb.Message{m}})
			Expect(err).NotTo(HaveOccurred())
			Expect(resp.GetStatus().GetCode()).To(Equal(pb.Code_OK), resp.GetStatus().GetMessage())
			var got []*pb.Message
			eventually(ctx, func() int { got = append(got, g.receive(ctx, group, mq, 30*time.Second)...); return len(got) }).
				WithTimeout(env.Timeout(short)).Should(Equal(1))
			Expect(time.Now()).To(BeTemporally(">=", at), "not before its delivery time")
			sp := got[0].GetSystemProperties()
			Expect(sp.GetMessageType()).To(Equal(pb.MessageType_DELAY))
			Expect(sp.GetDeliveryTimestamp()).NotTo(BeNil(), "delivery timestamp")
			Expect(sp.GetDeliveryTimestamp().AsTime()).To(BeTemporally("==", at))
		}, SpecTimeout(env.Timeout(short)))
	})
}

// grpcClient is a minimal 5.x client: the generated stubs plus the
// metadata every 5.x client sends (client id, date, signature).
type grpcClient struct {
	pb.MessagingServiceClient
	env *harness.Env
	id  string
}

// dialGRPC connects to the endpoint under test, closed when the spec ends.
// With the suite's TLS on it dials TLS without verifying the certificate,
// as the 5.x clients do by default (proxies serve a self-signed one);
// otherwise plain gRPC (the endpoint serves both on one port).
func dialGRPC(env *harness.Env) *grpcClient {
	tc := insecure.NewCredentials()
	if env.TLS != nil {
		cfg := env.TLS.Clone()
		cfg.InsecureSkipVerify = true
		tc = credentials.NewTLS(cfg)
	}
	conn, err := grpc.NewClient(env.GRPC, grpc.WithTransportCredentials(tc))
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(conn.Close)
	return &grpcClient{MessagingServiceClient: pb.NewMessagingServiceClient(conn), env: env, id: env.Name("cf_grpc_client")}
}

// ctx adds the call metadata, signed with the suite's credentials when it
// has them: HMAC-SHA1 of x-mq-date-time keyed with the secret key.
func (c *grpcClient) ctx(ctx context.Context) context.Context {
	now := time.Now().UTC().Format("20060102T150405Z")
	kv := []string{"x-mq-client-id", c.id, "x-mq-date-time", now, "x-mq-language", "GOLANG", "x-mq-protocol", "v2"}
	if cr := c.env.Credentials; cr.Valid() {
		mac := hmac.New(sha1.New, []byte(cr.SecretKey))
		mac.Write([]byte(now))
		kv = append(kv, "authorization", fmt.Sprintf("MQv2-HMAC-SHA1 Credential=%s, SignedHeaders=x-mq-date-time, Signature=%s",
			cr.AccessKey, hex.EncodeToString(mac.Sum(nil))))
	}
	return metadata.AppendToOutgoingContext(ctx, kv...)
}

// receive makes one ReceiveMessage call (long polling one second) and
// returns its messages; a "no new message" answer returns none.
func (c *grpcClient) receive(ctx context.Context, group string, mq *pb.MessageQueue, invisible time.Duration) []*pb.Message {
	stream, err := c.ReceiveMessage(c.ctx(ctx), &pb.ReceiveMessageRequest{
		Group: &pb.Resource{Name: group}, MessageQueue: mq, BatchSize: 16,
		FilterExpression:  &pb.FilterExpression{Type: pb.FilterType_TAG, Expression: "*"},
		InvisibleDuration: durationpb.New(invisible), LongPollingTimeout: durationpb.New(time.Second),
	})
	Expect(err).NotTo(HaveOccurred())
	var out []*pb.Message
	for {
		r, err := stream.Recv()
		if err != nil {
			return out
		}
		switch {
		case r.GetMessage() != nil:
			out = append(out, r.GetMessage())
		case r.GetStatus() != nil:
			code := r.GetStatus().GetCode()
			Expect(code).To(BeElementOf(pb.Code_OK, pb.Code_MESSAGE_NOT_FOUND), r.GetStatus().GetMessage())
		}
	}
}

// grpcMessage is a 5.x normal message with a tag, keys and user properties.
func grpcMessage(topic, id, body, tag string, props map[string]string, keys ...string) *pb.Message {
	return &pb.Message{
		Topic:          &pb.Resource{Name: topic},
		UserProperties: props,
		SystemProperties: &pb.SystemProperties{
			MessageId: id, Tag: &tag, Keys: keys, BornHost: "conformance",
			BornTimestamp: timestamppb.Now(), MessageType: pb.MessageType_NORMAL,
		},
		Body: []byte(body),
	}
}
