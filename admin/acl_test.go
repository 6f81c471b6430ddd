package admin_test

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/rocketgo/rocketgo/admin"
	"github.com/rocketgo/rocketgo/auth"
	"github.com/rocketgo/rocketgo/client"
	"github.com/rocketgo/rocketgo/remoting"
	"github.com/rocketgo/rocketgo/server/broker"
	"github.com/rocketgo/rocketgo/server/embedded"
	"github.com/rocketgo/rocketgo/server/embedded/embeddedtest"
)

// aclAccounts has one ordinary account and one admin; loopback is not
// white-listed, so every request is judged by its signature.
const aclAccounts = `
accounts:
  - accessKey: opsUser001
    secretKey: opsUserSecret
    defaultTopicPerm: PUB|SUB
    defaultGroupPerm: SUB
  - accessKey: opsAdmin01
    secretKey: opsAdminSecret
    admin: true
`

var (
	aclUser  = auth.Credentials{AccessKey: "opsUser001", SecretKey: "opsUserSecret"}
	aclAdmin = auth.Credentials{AccessKey: "opsAdmin01", SecretKey: "opsAdminSecret"}
)

// StartACL starts an embedded server with ACL on for broker and name
// server (the broker registers signed as the admin account).
func startACL(t *testing.T) *embedded.Server {
	t.Helper()
	file := filepath.Join(t.TempDir(), "plain_acl.yml")
	if err := os.WriteFile(file, []byte(aclAccounts), 0o600); err != nil {
		t.Fatal(err)
	}
	return embeddedtest.Start(t, func(c *broker.Config) {
		c.AutoCreateTopicEnable = false
		c.AclEnable, c.AclFile = true, file
		c.AclAccessKey, c.AclSecretKey = aclAdmin.AccessKey, aclAdmin.SecretKey
	})
}

func dialAs(t *testing.T, srv *embedded.Server, opts ...client.Option) *admin.Client {
	t.Helper()
	adm, err := admin.Dial(srv.NamesrvAddr(), opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { adm.Close() })
	return adm
}

// refused asserts err is the server's NO_PERMISSION with its reason.
func refused(t *testing.T, what string, err error) {
	t.Helper()
	var re *remoting.ResponseError
	if !errors.Is(err, remoting.ErrNoPermission) || !errors.As(err, &re) || re.Remark == "" {
		t.Fatalf("%s: got %v, want NO_PERMISSION with a remark", what, err)
	}
}

// TestACLRefusals: against a broker and name server with ACL on, admin
// writes without credentials, with a wrong secret, with an unknown key or
// from a non-admin account fail with remoting.ErrNoPermission and change
// nothing; the admin account's succeed.
func TestACLRefusals(t *testing.T) {
	srv := startACL(t)
	ctx := testCtx(t)
	root := dialAs(t, srv, client.WithCredentials(aclAdmin))
	user := dialAs(t, srv, client.WithCredentials(aclUser))
	wrong := aclAdmin
	wrong.SecretKey = "not-the-secret"
	bad := map[string]*admin.Client{
		"no credentials": dialAs(t, srv),
		"wrong secret":   dialAs(t, srv, client.WithCredentials(wrong)),
		"unknown key":    dialAs(t, srv, client.WithCredentials(auth.Credentials{AccessKey: "nobody0001", SecretKey: "whatever01"})),
		"non-admin":      user,
	}
	spec := admin.TopicSpec{Topic: "AclT", ReadQueues: 2, WriteQueues: 2}
	for name, adm := range bad {
		refused(t, name+" create topic", adm.CreateTopic(ctx, spec, "", ""))
		refused(t, name+" create group", adm.CreateGroup(ctx, admin.GroupConfig{GroupName: "AclG"}, "", ""))
		refused(t, name+" update broker config", adm.UpdateBrokerConfig(ctx, "", srv.BrokerAddr(), map[string]string{"autoCreateTopicEnable": "true"}))
		refused(t, name+" put KV", adm.PutKV(ctx, "ns", "k", "v"))
	}
	cfg, err := root.BrokerConfig(ctx, srv.BrokerAddr())
	if err != nil {
		t.Fatal(err)
	}
	if cfg["autoCreateTopicEnable"] != "false" {
		t.Fatalf("a refused config update went through: autoCreateTopicEnable=%s", cfg["autoCreateTopicEnable"])
	}
	if _, err := root.TopicStatus(ctx, "AclT"); !errors.Is(err, remoting.ErrTopicNotExist) {
		t.Fatalf("a refused create made the topic: %v", err)
	}

	// The admin account creates; the topic routes and an ordinary account
	// may read its status, but not delete it.
	if err := root.CreateTopic(ctx, spec, "", ""); err != nil {
		t.Fatalf("admin create topic: %v", err)
	}
	mustRoute(t, root, "AclT")
	if qs, err := user.TopicStatus(ctx, "AclT"); err != nil || len(qs) != 2 {
		t.Fatalf("non-admin topic status: %v %v", qs, err)
	}
	for name, adm := range bad {
		refused(t, name+" delete topic", adm.DeleteTopic(ctx, "AclT", ""))
		_, err := adm.WipeWritePerm(ctx, srv.Broker().Config().BrokerName)
		refused(t, name+" wipe write permission", err)
	}
	if qs, err := root.TopicStatus(ctx, "AclT"); err != nil || len(qs) != 2 {
		t.Fatalf("topic after refused deletes: %v %v", qs, err)
	}
	if err := root.PutKV(ctx, "ns", "k", "v"); err != nil {
		t.Fatalf("admin put KV: %v", err)
	}
	if err := root.DeleteTopic(ctx, "AclT", ""); err != nil {
		t.Fatalf("admin delete topic: %v", err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		topics, err := root.Topics(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Contains(topics, "AclT") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("deleted topic still listed: %v", topics)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
