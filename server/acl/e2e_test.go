package acl_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/rocketgo/rocketgo/auth"
	"github.com/rocketgo/rocketgo/client"
	"github.com/rocketgo/rocketgo/consumer"
	"github.com/rocketgo/rocketgo/message"
	"github.com/rocketgo/rocketgo/producer"
	"github.com/rocketgo/rocketgo/remoting"
	"github.com/rocketgo/rocketgo/server/broker"
	"github.com/rocketgo/rocketgo/server/embedded"
)

// e2eACL grants user PUB|SUB on aclTopic and SUB on aclGroup, subOnly SUB
// on aclTopic, and makes adminKey an admin. Loopback is not white-listed.
const e2eACL = `
accounts:
  - accessKey: userKey001
    secretKey: userSecret1
    defaultTopicPerm: DENY
    defaultGroupPerm: DENY
    topicPerms: [aclTopic=PUB|SUB]
    groupPerms: [aclGroup=SUB]
  - accessKey: subOnly001
    secretKey: subSecret01
    defaultGroupPerm: SUB
    topicPerms: [aclTopic=SUB]
  - accessKey: adminKey01
    secretKey: adminSecret1
    admin: true
`

var (
	userCreds    = auth.Credentials{AccessKey: "userKey001", SecretKey: "userSecret1"}
	subOnlyCreds = auth.Credentials{AccessKey: "subOnly001", SecretKey: "subSecret01"}
	adminCreds   = auth.Credentials{AccessKey: "adminKey01", SecretKey: "adminSecret1"}
)

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func startACLServer(t *testing.T, extra ...string) *embedded.Server {
	t.Helper()
	dir := t.TempDir()
	aclFile := filepath.Join(dir, "plain_acl.yml")
	if err := os.WriteFile(aclFile, []byte(e2eACL), 0o600); err != nil {
		t.Fatal(err)
	}
	bc := broker.DefaultConfig()
	bc.StorePathRootDir = filepath.Join(dir, "store")
	bc.MappedFileSizeCommitLog = 16 << 20
	bc.MappedFileSizeConsumeQueue = 20 * 10000
	bc.MaxHashSlotNum, bc.MaxIndexNum = 1000, 4000
	bc.AutoCreateTopicEnable = false
	settings := map[string]string{"aclEnable": "true", "aclFile": aclFile}
	for i := 0; i+1 < len(extra); i += 2 {
		settings[extra[i]] = extra[i+1]
	}
	for k, v := range settings {
		if _, err := bc.Set(k, v); err != nil {
			t.Fatal(err)
		}
	}
	srv, err := embedded.Start(ctxT(t), embedded.Config{Host: "127.0.0.1", NamesrvPort: -1, BrokerPort: -1, Broker: bc})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	})
	return srv
}

func newClient(t *testing.T, srv *embedded.Server, opts ...client.Option) *client.Client {
	t.Helper()
	cl, err := client.New(append([]client.Option{client.WithNameServers(srv.NamesrvAddr())}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cl.Close() })
	return cl
}

func request(t *testing.T, cl *client.Client, addr string, req *remoting.Command) error {
	t.Helper()
	resp, err := cl.Request(ctxT(t), addr, req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.Code == remoting.Success {
		return nil
	}
	return remoting.NewResponseError(req.Code, addr, resp)
}

func createTopic(topic string) *remoting.Command {
	return remoting.NewRequest(remoting.UpdateAndCreateTopic, &remoting.CreateTopicRequestHeader{
		Topic: topic, DefaultTopic: "TBW102", ReadQueueNums: 1, WriteQueueNums: 1, Perm: 6, TopicFilterType: "SINGLE_TAG",
	}, nil)
}

func maxOffset(t *testing.T, cl *client.Client, addr, topic string) int64 {
	t.Helper()
	resp, err := cl.Request(ctxT(t), addr, remoting.NewRequest(remoting.GetMaxOffset, &remoting.GetMaxOffsetRequestHeader{Topic: topic, QueueID: 0}, nil))
	if err != nil || resp.Code != remoting.Success {
		t.Fatalf("max offset: %v %v", err, resp)
	}
	var h remoting.GetMaxOffsetResponseHeader
	if err := resp.DecodeHeader(&h); err != nil {
		t.Fatal(err)
	}
	return h.Offset
}

func waitRoute(t *testing.T, cl *client.Client, topic string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := cl.BrokerAddrs(ctxT(t), topic, "broker-a"); err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no route for %s", topic)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestACLEndToEnd(t *testing.T) {
	srv := startACLServer(t)
	addr := srv.BrokerAddr()
	admin := newClient(t, srv, client.WithCredentials(adminCreds))
	user := newClient(t, srv, client.WithCredentials(userCreds))

	// Only the admin may create topics.
	if err := request(t, user, addr, createTopic("aclTopic")); !errors.Is(err, remoting.ErrNoPermission) {
		t.Fatalf("non-admin create topic: %v", err)
	}
	if err := request(t, admin, addr, createTopic("aclTopic")); err != nil {
		t.Fatalf("admin create topic: %v", err)
	}
	waitRoute(t, admin, "aclTopic")

	send := func(t *testing.T, opts ...producer.Option) error {
		p, err := producer.New(append([]producer.Option{producer.WithNameServers(srv.NamesrvAddr()), producer.WithGroup("aclPG"), producer.WithRetries(0)}, opts...)...)
		if err != nil {
			t.Fatal(err)
		}
		defer p.Shutdown(context.Background())
		_, err = p.SendSync(ctxT(t), message.New("aclTopic", []byte("secured")))
		return err
	}
	if err := send(t, producer.WithCredentials(userCreds)); err != nil {
		t.Fatalf("valid credentials: %v", err)
	}
	before := maxOffset(t, admin, addr, "aclTopic")

	wrongSecret := userCreds
	wrongSecret.SecretKey = "not-the-secret"
	for name, opts := range map[string][]producer.Option{
		"wrong secret":   {producer.WithCredentials(wrongSecret)},
		"unknown key":    {producer.WithCredentials(auth.Credentials{AccessKey: "nobody0001", SecretKey: "whatever1"})},
		"no credentials": nil,
		"SUB-only key":   {producer.WithCredentials(subOnlyCreds)},
	} {
		t.Run(name, func(t *testing.T) {
			err := send(t, opts...)
			var re *remoting.ResponseError
			if !errors.Is(err, remoting.ErrNoPermission) || !errors.As(err, &re) || re.Remark == "" {
				t.Fatalf("got %v, want NO_PERMISSION with a remark", err)
			}
			t.Logf("refused: %v", err)
		})
	}
	if after := maxOffset(t, admin, addr, "aclTopic"); after != before {
		t.Fatalf("refused sends stored messages: max offset %d -> %d", before, after)
	}

	// A non-admin cannot delete the topic; it stays.
	del := remoting.NewRequest(remoting.DeleteTopicInBroker, &remoting.DeleteTopicRequestHeader{Topic: "aclTopic"}, nil)
	if err := request(t, user, addr, del); !errors.Is(err, remoting.ErrNoPermission) {
		t.Fatalf("non-admin delete: %v", err)
	}
	if got := maxOffset(t, admin, addr, "aclTopic"); got != before {
		t.Fatalf("topic changed after refused delete: %d", got)
	}

	// The user consumes what it sent.
	c, err := consumer.NewLitePull(consumer.WithNameServers(srv.NamesrvAddr()), consumer.WithGroup("aclGroup"),
		consumer.WithConsumeFrom(consumer.ConsumeFromFirstOffset), consumer.WithCredentials(userCreds),
		consumer.WithRebalanceInterval(200*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Subscribe("aclTopic", "*"); err != nil {
		t.Fatal(err)
	}
	if err := c.Start(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	defer c.Shutdown(context.Background())
	ctx := ctxT(t)
	for {
		msgs, err := c.Poll(ctx)
		if err != nil {
			t.Fatalf("poll: %v", err)
		}
		if len(msgs) > 0 {
			if string(msgs[0].Body) != "secured" {
				t.Fatalf("body %q", msgs[0].Body)
			}
			break
		}
	}

	// Pulling with a key that lacks the group is refused.
	sub := newClient(t, srv, client.WithCredentials(auth.Credentials{AccessKey: "userKey001", SecretKey: "userSecret1"}))
	pull := remoting.NewRequest(remoting.PullMessage, &remoting.PullMessageRequestHeader{ConsumerGroup: "otherGroup", Topic: "aclTopic", QueueID: 0, MaxMsgNums: 1, SysFlag: 0, SubVersion: 0, Subscription: "*"}, nil)
	if err := request(t, sub, addr, pull); !errors.Is(err, remoting.ErrNoPermission) {
		t.Fatalf("pull for an ungranted group: %v", err)
	}
}

// TestACLNameServerWrites: with credentials for the broker's own requests,
// the name server refuses unsigned and non-admin writes and keeps serving
// routes, and the broker's signed registration goes through.
func TestACLNameServerWrites(t *testing.T) {
	srv := startACLServer(t, "aclAccessKey", adminCreds.AccessKey, "aclSecretKey", adminCreds.SecretKey)
	admin := newClient(t, srv, client.WithCredentials(adminCreds))
	user := newClient(t, srv, client.WithCredentials(userCreds))
	if err := request(t, admin, srv.BrokerAddr(), createTopic("nsTopic")); err != nil {
		t.Fatal(err)
	}
	waitRoute(t, user, "nsTopic") // the broker's signed registration carried the topic; reads are open

	put := func() *remoting.Command {
		return remoting.NewRequest(remoting.PutKVConfig, &remoting.PutKVConfigRequestHeader{Namespace: "ns", Key: "k", Value: "v"}, nil)
	}
	anon := newClient(t, srv)
	for name, cl := range map[string]*client.Client{"unsigned": anon, "non-admin": user} {
		if err := request(t, cl, srv.NamesrvAddr(), put()); !errors.Is(err, remoting.ErrNoPermission) {
			t.Fatalf("%s KV write: %v", name, err)
		}
	}
	if err := request(t, admin, srv.NamesrvAddr(), put()); err != nil {
		t.Fatalf("admin KV write: %v", err)
	}
}
