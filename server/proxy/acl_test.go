package proxy_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/rocketgo/rocketgo/auth"
	"github.com/rocketgo/rocketgo/server/broker"
	"github.com/rocketgo/rocketgo/server/embedded/embeddedtest"
	"github.com/rocketgo/rocketgo/server/proxy"
	pb "github.com/rocketgo/rocketgo/server/proxy/v2pb"
)

// aclAccounts: the proxy's admin account and a user who may only publish
// and subscribe.
const aclAccounts = `accounts:
  - accessKey: proxyAdminKey
    secretKey: proxyAdminSecret
    admin: true
  - accessKey: txUserKey
    secretKey: txUserSecret
    defaultTopicPerm: PUB|SUB
    defaultGroupPerm: PUB|SUB
`

// signedCtx is a call context signed as a 5.x client signs: HMAC-SHA1 of
// x-mq-date-time keyed with the secret key.
func signedCtx(ctx context.Context, client, ak, sk string) context.Context {
	now := time.Now().UTC().Format("20060102T150405Z")
	mac := hmac.New(sha1.New, []byte(sk))
	mac.Write([]byte(now))
	return metadata.AppendToOutgoingContext(ctx, "x-mq-client-id", client, "x-mq-date-time", now,
		"authorization", fmt.Sprintf("MQv2-HMAC-SHA1 Credential=%s, SignedHeaders=x-mq-date-time, Signature=%s", ak, hex.EncodeToString(mac.Sum(nil))))
}

// TestTransactionCheckBackWithACL: with ACL on the broker, a transaction
// producer's half message left open is checked back through the
// producer's telemetry stream, because the proxy signs its own heartbeat
// (which registers the producer group) with its own account; the user's
// EndTransaction then commits it. Without Config.Credentials the broker
// refuses that heartbeat and no check-back ever comes.
func TestTransactionCheckBackWithACL(t *testing.T) {
	file := filepath.Join(t.TempDir(), "plain_acl.yml")
	if err := os.WriteFile(file, []byte(aclAccounts), 0o600); err != nil {
		t.Fatal(err)
	}
	srv := embeddedtest.Start(t, func(c *broker.Config) {
		c.AclEnable, c.AclFile = true, file
		c.TransactionCheckInterval, c.TransactionTimeOut = 500*time.Millisecond, 500*time.Millisecond
	})
	secrets := map[string]string{"proxyAdminKey": "proxyAdminSecret", "txUserKey": "txUserSecret"}
	p, err := proxy.Start("127.0.0.1:0", proxy.Config{
		NameServers:   srv.NamesrvAddr(),
		Authenticator: proxy.HMACAuthenticator(func(ak string) (string, bool) { s, ok := secrets[ak]; return s, ok }),
		Credentials:   auth.Static{AccessKey: "proxyAdminKey", SecretKey: "proxyAdminSecret"},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	c := dial(t, p.Addr(), false)
	base, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ctx := func() context.Context { return signedCtx(base, "tx-client", "txUserKey", "txUserSecret") }
	const topic = "ProxyTxAclTopic"

	stream, err := c.Telemetry(ctx())
	if err != nil {
		t.Fatal(err)
	}
	if err := stream.Send(&pb.TelemetryCommand{Command: &pb.TelemetryCommand_Settings{Settings: &pb.Settings{
		ClientType: pb.ClientType_PRODUCER.Enum(),
		PubSub:     &pb.Settings_Publishing{Publishing: &pb.Publishing{Topics: []*pb.Resource{{Name: topic}}}},
	}}}); err != nil {
		t.Fatal(err)
	}
	if r, err := stream.Recv(); err != nil || r.GetStatus().GetCode() != pb.Code_OK {
		t.Fatalf("settings: %v %v", r, err)
	}
	m := newMessage(topic, "TX1", "half")
	m.SystemProperties.MessageType = pb.MessageType_TRANSACTION
	m.SystemProperties.BornTimestamp = timestamppb.Now()
	sent, err := c.SendMessage(ctx(), &pb.SendMessageRequest{Messages: []*pb.Message{m}})
	if err != nil || sent.GetStatus().GetCode() != pb.Code_OK || sent.Entries[0].TransactionId == "" {
		t.Fatalf("send half: %v %v", sent, err)
	}
	// Wait for the broker's check-back, relayed on the telemetry stream.
	var check *pb.RecoverOrphanedTransactionCommand
	for check == nil {
		r, err := stream.Recv()
		if err != nil {
			t.Fatalf("no check-back before %v", err)
		}
		check = r.GetRecoverOrphanedTransactionCommand()
	}
	if check.GetMessage().GetSystemProperties().GetMessageId() != "TX1" {
		t.Fatalf("check-back for %v", check.GetMessage())
	}
	end, err := c.EndTransaction(ctx(), &pb.EndTransactionRequest{Topic: &pb.Resource{Name: topic}, MessageId: "TX1",
		TransactionId: check.GetTransactionId(), Resolution: pb.TransactionResolution_COMMIT, Source: pb.TransactionSource_SOURCE_SERVER_CHECK})
	if err != nil || end.GetStatus().GetCode() != pb.Code_OK {
		t.Fatalf("end transaction: %v %v", end, err)
	}
}

// TestOwnCredentialsSignOnlyOwnRequests: the proxy's account never lends
// its rights to a call — without an Authenticator a caller's send reaches
// the ACL broker unsigned and is refused.
func TestOwnCredentialsSignOnlyOwnRequests(t *testing.T) {
	file := filepath.Join(t.TempDir(), "plain_acl.yml")
	if err := os.WriteFile(file, []byte(aclAccounts), 0o600); err != nil {
		t.Fatal(err)
	}
	srv := embeddedtest.Start(t, func(c *broker.Config) { c.AclEnable, c.AclFile = true, file })
	p, err := proxy.Start("127.0.0.1:0", proxy.Config{NameServers: srv.NamesrvAddr(),
		Credentials: auth.Static{AccessKey: "proxyAdminKey", SecretKey: "proxyAdminSecret"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	c := dial(t, p.Addr(), false)
	resp, err := c.SendMessage(callCtx(t), &pb.SendMessageRequest{Messages: []*pb.Message{newMessage("ProxyAclTopic", "ANON1", "x")}})
	if err != nil {
		t.Fatal(err)
	}
	if code := resp.GetEntries()[0].GetStatus().GetCode(); code != pb.Code_FORBIDDEN {
		t.Fatalf("anonymous send through a proxy with an admin account: %v, want FORBIDDEN", resp)
	}
}
