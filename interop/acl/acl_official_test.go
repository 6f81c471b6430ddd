//go:build !race

// The official Go client has data races of its own, so this file is built
// without -race and its tests are named ...Official... (see .ci/run).

package acl_test

// Interop: the unmodified official Go client (rocketmq-client-go v2.1.2)
// with primitive.Credentials against a rocketgo broker with ACL on.

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	rocketmq "github.com/apache/rocketmq-client-go/v2"
	oconsumer "github.com/apache/rocketmq-client-go/v2/consumer"
	"github.com/apache/rocketmq-client-go/v2/primitive"
	oproducer "github.com/apache/rocketmq-client-go/v2/producer"
	"github.com/apache/rocketmq-client-go/v2/rlog"

	"github.com/rocketgo/rocketgo/auth"
	"github.com/rocketgo/rocketgo/client"
	"github.com/rocketgo/rocketgo/remoting"
	"github.com/rocketgo/rocketgo/server/broker"
	"github.com/rocketgo/rocketgo/server/embedded"
	"github.com/rocketgo/rocketgo/server/embedded/embeddedtest"
)

const officialACL = `
accounts:
  - accessKey: officialKey1
    secretKey: officialSecret1
    defaultTopicPerm: DENY
    defaultGroupPerm: DENY
    topicPerms: [OfficialACLTopic=PUB|SUB]
    groupPerms: [official-acl-cg=SUB]
  - accessKey: adminKey01
    secretKey: adminSecret1
    admin: true
`

func startACLServer(t *testing.T) *embedded.Server {
	t.Helper()
	aclFile := filepath.Join(t.TempDir(), "plain_acl.yml")
	if err := os.WriteFile(aclFile, []byte(officialACL), 0o600); err != nil {
		t.Fatal(err)
	}
	return embeddedtest.Start(t, func(bc *broker.Config) {
		bc.AclEnable, bc.AclFile = true, aclFile
		bc.AutoCreateTopicEnable = false
	})
}

func createTopic(t *testing.T, srv *embedded.Server, topic string) {
	t.Helper()
	cl, err := client.New(client.WithNameServers(srv.NamesrvAddr()), client.WithCredentials(auth.Credentials{AccessKey: "adminKey01", SecretKey: "adminSecret1"}))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := cl.Request(ctx, srv.BrokerAddr(), remoting.NewRequest(remoting.UpdateAndCreateTopic, &remoting.CreateTopicRequestHeader{
		Topic: topic, DefaultTopic: "TBW102", ReadQueueNums: 2, WriteQueueNums: 2, Perm: 6, TopicFilterType: "SINGLE_TAG",
	}, nil))
	if err != nil || resp.Code != remoting.Success {
		t.Fatalf("create topic: %v %v", err, resp)
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if _, err := cl.BrokerAddrs(ctx, topic, "broker-a"); err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("no route")
		}
	}
}

func officialProducer(t *testing.T, srv *embedded.Server, group string, creds primitive.Credentials) rocketmq.Producer {
	t.Helper()
	p, err := rocketmq.NewProducer(
		oproducer.WithNsResolver(primitive.NewPassthroughResolver([]string{srv.NamesrvAddr()})),
		oproducer.WithGroupName(group),
		oproducer.WithInstanceName(group),
		oproducer.WithRetry(0),
		oproducer.WithCredentials(creds),
	)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Shutdown() })
	return p
}

func TestOfficialClientWithCredentials(t *testing.T) {
	rlog.SetLogLevel("fatal")
	srv := startACLServer(t)
	const topic = "OfficialACLTopic"
	createTopic(t, srv, topic)
	good := primitive.Credentials{AccessKey: "officialKey1", SecretKey: "officialSecret1"}

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	p := officialProducer(t, srv, "official-acl-pg", good)
	for i := range 4 {
		res, err := p.SendSync(ctx, primitive.NewMessage(topic, []byte("acl-"+string(rune('a'+i)))))
		if err != nil || res.Status != primitive.SendOK {
			t.Fatalf("signed send: %v %v", res, err)
		}
	}

	// Wrong secret: refused, nothing stored.
	bad := officialProducer(t, srv, "official-acl-pg-bad", primitive.Credentials{AccessKey: "officialKey1", SecretKey: "wrong-secret"})
	_, err := bad.SendSync(ctx, primitive.NewMessage(topic, []byte("must-not-arrive")))
	if err == nil || !strings.Contains(err.Error(), "16") {
		t.Fatalf("wrong secret: want a NO_PERMISSION (16) error, got %v", err)
	}
	t.Logf("wrong secret refused: %v", err)

	c, err := rocketmq.NewPushConsumer(
		oconsumer.WithNsResolver(primitive.NewPassthroughResolver([]string{srv.NamesrvAddr()})),
		oconsumer.WithGroupName("official-acl-cg"),
		oconsumer.WithConsumeFromWhere(oconsumer.ConsumeFromFirstOffset),
		oconsumer.WithCredentials(good),
	)
	if err != nil {
		t.Fatal(err)
	}
	var got atomic.Int64
	var stray atomic.Bool
	err = c.Subscribe(topic, oconsumer.MessageSelector{Type: oconsumer.TAG, Expression: "*"}, func(_ context.Context, msgs ...*primitive.MessageExt) (oconsumer.ConsumeResult, error) {
		for _, m := range msgs {
			if string(m.Body) == "must-not-arrive" {
				stray.Store(true)
			}
			got.Add(1)
		}
		return oconsumer.ConsumeSuccess, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	defer c.Shutdown()
	deadline := time.Now().Add(20 * time.Second)
	for got.Load() < 4 {
		if time.Now().After(deadline) {
			t.Fatalf("official consumer received %d of 4", got.Load())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if stray.Load() {
		t.Fatal("a refused message was stored")
	}
	if err := ctx.Err(); errors.Is(err, context.DeadlineExceeded) {
		t.Fatal(err)
	}
}
