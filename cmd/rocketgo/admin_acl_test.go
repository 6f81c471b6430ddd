package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rocketgo/rocketgo/server/broker"
	"github.com/rocketgo/rocketgo/server/embedded/embeddedtest"
)

// TestAdminACL: against a cluster with ACL on, admin writes without keys,
// with a wrong secret or from a non-admin account fail with one line and
// exit 1; the admin account's keys, from flags or the environment, work;
// half a key pair is a usage error; help never shows a secret.
func TestAdminACL(t *testing.T) {
	file := filepath.Join(t.TempDir(), "plain_acl.yml")
	const accounts = `
accounts:
  - accessKey: cliUser001
    secretKey: cliUserSecret
    defaultTopicPerm: PUB|SUB
  - accessKey: cliAdmin01
    secretKey: cliAdminSecret
    admin: true
`
	if err := os.WriteFile(file, []byte(accounts), 0o600); err != nil {
		t.Fatal(err)
	}
	srv := embeddedtest.Start(t, func(c *broker.Config) {
		c.AutoCreateTopicEnable = false
		c.AclEnable, c.AclFile = true, file
		c.AclAccessKey, c.AclSecretKey = "cliAdmin01", "cliAdminSecret"
	})
	ns, baddr := srv.NamesrvAddr(), srv.BrokerAddr()
	t.Setenv("ROCKETGO_ACCESS_KEY", "")
	t.Setenv("ROCKETGO_SECRET_KEY", "")

	fail := func(code int, want []string, args ...string) {
		t.Helper()
		got, out, errOut := runCLI(t, append(args, "-n", ns)...)
		if got != code || out != "" || strings.Count(strings.TrimSpace(errOut), "\n") > 0 {
			t.Fatalf("%v: exit %d, stdout %q, stderr %q; want exit %d and one line", args, got, out, errOut, code)
		}
		t.Logf("%v: %s", args, strings.TrimSpace(errOut))
		for _, w := range want {
			if !strings.Contains(errOut, w) {
				t.Fatalf("%v: stderr %q lacks %q", args, errOut, w)
			}
		}
	}
	ok := func(want string, args ...string) {
		t.Helper()
		code, out, errOut := runCLI(t, append(args, "-n", ns)...)
		if code != 0 || !strings.Contains(out, want) {
			t.Fatalf("%v: exit %d, stdout %q, stderr %q; want %q", args, code, out, errOut, want)
		}
	}
	create := []string{"updateTopic", "-t", "AclCliT", "-b", baddr, "-r", "2", "-w", "2"}
	user := []string{"-access-key", "cliUser001", "-secret-key", "cliUserSecret"}
	root := []string{"-access-key", "cliAdmin01", "-secret-key", "cliAdminSecret"}

	fail(1, []string{"NO_PERMISSION", "No accessKey", "pass -access-key and -secret-key"}, create...)
	fail(1, []string{"NO_PERMISSION", "Check signature failed"}, append(create, "-access-key", "cliAdmin01", "-secret-key", "wrong")...)
	fail(1, []string{"NO_PERMISSION", "not admin"}, append(create, user...)...)
	fail(2, []string{"-access-key and -secret-key go together"}, append(create, "-access-key", "cliAdmin01")...)
	ok("success", append(create, root...)...)

	deadline := time.Now().Add(10 * time.Second)
	for code, _, _ := runCLI(t, "topicRoute", "-t", "AclCliT", "-n", ns); code != 0; code, _, _ = runCLI(t, "topicRoute", "-t", "AclCliT", "-n", ns) {
		if time.Now().After(deadline) {
			t.Fatal("topic never routed")
		}
		time.Sleep(20 * time.Millisecond)
	}
	// Reads on the broker need a known key, not an admin one.
	fail(1, []string{"NO_PERMISSION"}, "topicStatus", "-t", "AclCliT")
	ok("#Max Offset", append([]string{"topicStatus", "-t", "AclCliT"}, user...)...)
	fail(1, []string{"NO_PERMISSION", "not admin"}, append([]string{"deleteTopic", "-t", "AclCliT", "-c", "DefaultCluster"}, user...)...)
	ok("#Max Offset", append([]string{"topicStatus", "-t", "AclCliT"}, user...)...)

	// Keys from the environment; help shows where they come from, never
	// their values.
	t.Setenv("ROCKETGO_ACCESS_KEY", "cliAdmin01")
	t.Setenv("ROCKETGO_SECRET_KEY", "cliAdminSecret")
	code, help, _ := runCLI(t, "help", "deleteTopic")
	if code != 0 || !strings.Contains(help, "$ROCKETGO_SECRET_KEY") || strings.Contains(help, "cliAdminSecret") {
		t.Fatalf("help: exit %d, %q", code, help)
	}
	fail(1, []string{"NO_PERMISSION", "not admin"}, append([]string{"deleteTopic", "-t", "AclCliT", "-c", "DefaultCluster"}, user...)...)
	ok("success", "deleteTopic", "-t", "AclCliT", "-c", "DefaultCluster")
	fail(1, []string{"TOPIC_NOT_EXIST"}, "topicStatus", "-t", "AclCliT")
}
