package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/rocketgo/rocketgo/message"
	"github.com/rocketgo/rocketgo/producer"
	"github.com/rocketgo/rocketgo/server/broker"
	"github.com/rocketgo/rocketgo/server/embedded/embeddedtest"
)

// runCLI runs `rocketgo admin args...` and returns exit code, stdout and
// stderr.
func runCLI(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	code := run(ctx, append([]string{"admin"}, args...), &out, &errOut)
	return code, out.String(), errOut.String()
}

// TestAdminCommands runs every admin command against an embedded server,
// in table and JSON form.
func TestAdminCommands(t *testing.T) {
	srv := embeddedtest.Start(t, func(c *broker.Config) { c.AutoCreateTopicEnable = false })
	ns := srv.NamesrvAddr()
	baddr := srv.BrokerAddr()
	bname := srv.Broker().Config().BrokerName
	ok := func(want string, args ...string) string {
		t.Helper()
		code, out, errOut := runCLI(t, append(args, "-n", ns)...)
		if code != 0 || !strings.Contains(out, want) {
			t.Fatalf("%v: exit %d, stdout %q, stderr %q; want %q in stdout", args, code, out, errOut, want)
		}
		code, js, errOut := runCLI(t, append(args, "-n", ns, "-o", "json")...)
		if code != 0 || !json.Valid([]byte(js)) {
			t.Fatalf("%v -o json: exit %d, %q, stderr %q", args, code, js, errOut)
		}
		return out
	}
	ok("success", "updateTopic", "-t", "CliT", "-b", baddr, "-r", "2", "-w", "2")
	// The broker answers updateTopic once the name server has the route.
	ok(bname, "clusterList")
	ok("brokerVersionDesc", "brokerStatus", "-b", baddr)
	ok("CliT", "topicList")
	ok(baddr, "topicRoute", "-t", "CliT")
	send := ok("SEND_OK", "sendMessage", "-t", "CliT", "-p", "hello", "-k", "order-1", "-c", "tagA")
	ok("#Max Offset", "topicStatus", "-t", "CliT")
	ok("success", "updateSubGroup", "-g", "CliG", "-c", "DefaultCluster")
	ok("Diff Total", "consumerProgress", "-g", "CliG", "-t", "CliT")
	ok("1", "resetOffsetByTime", "-g", "CliG", "-t", "CliT", "-s", "now")
	ok("brokerName", "getBrokerConfig", "-b", baddr)
	ok("success", "updateBrokerConfig", "-b", bname, "-k", "autoCreateTopicEnable", "-v", "false")
	ok("#Key", "getNamesrvConfig")
	ok("success", "updateKvConfig", "-s", "ns1", "-k", "k", "-v", "v")
	ok("success", "deleteKvConfig", "-s", "ns1", "-k", "k")

	// The send printed the offset id; look the message up every way.
	fields := strings.Fields(strings.Split(strings.TrimSpace(send), "\n")[1])
	uniq, offID := fields[3], fields[4]
	ok("hello", "queryMsgById", "-i", offID)
	ok("hello", "queryMsgByUniqueKey", "-t", "CliT", "-i", uniq)
	ok("hello", "queryMsgByOffset", "-t", "CliT", "-b", bname, "-i", fields[1], "-offset", "0")
	ok("hello", "printMsg", "-t", "CliT")
	ok("hello", "consumeMessage", "-t", "CliT", "-b", bname, "-i", fields[1])
	deadline := time.Now().Add(10 * time.Second)
	for {
		code, out, _ := runCLI(t, "queryMsgByKey", "-t", "CliT", "-k", "order-1", "-n", ns)
		if code == 0 && strings.Contains(out, "hello") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("queryMsgByKey never found the message: %q", out)
		}
		time.Sleep(20 * time.Millisecond)
	}
	pr, err := producer.New(producer.WithNameServers(ns), producer.WithGroup("CliPG"))
	if err != nil {
		t.Fatal(err)
	}
	defer pr.Shutdown(context.Background())
	if _, err := pr.SendSync(context.Background(), message.New("CliT", []byte("x"))); err != nil {
		t.Fatal(err)
	}
	// The producer's heartbeat to a broker it just found in a route is sent
	// in the background; wait for it, then check both output forms.
	deadline = time.Now().Add(10 * time.Second)
	for code, _, _ := runCLI(t, "producerConnection", "-g", "CliPG", "-t", "CliT", "-n", ns); code != 0; code, _, _ = runCLI(t, "producerConnection", "-g", "CliPG", "-t", "CliT", "-n", ns) {
		if time.Now().After(deadline) {
			t.Fatal("the broker never listed the producer")
		}
		time.Sleep(20 * time.Millisecond)
	}
	ok("GO", "producerConnection", "-g", "CliPG", "-t", "CliT")

	// Error paths: one line, exit 1 for refusals, 2 for usage.
	fail := func(code int, want string, args ...string) {
		t.Helper()
		got, out, errOut := runCLI(t, args...)
		if got != code || !strings.Contains(errOut, want) || strings.Count(strings.TrimSpace(errOut), "\n") > 0 || out != "" {
			t.Fatalf("%v: exit %d, stdout %q, stderr %q; want exit %d and %q", args, got, out, errOut, code, want)
		}
	}
	fail(1, "not exist", "producerConnection", "-g", "NoSuchGroup", "-t", "CliT", "-n", ns)

	ok(ns, "wipeWritePerm", "-b", bname)
	ok(ns, "addWritePerm", "-b", bname)
	ok("success", "deleteSubGroup", "-g", "CliG", "-b", baddr)
	ok("success", "deleteTopic", "-t", "CliT", "-c", "DefaultCluster")

	fail(1, "127.0.0.1:1", "topicList", "-n", "127.0.0.1:1")
	fail(1, "TOPIC_NOT_EXIST", "topicRoute", "-t", "NoSuchTopic", "-n", ns)
	fail(1, "consumer group not found", "consumerProgress", "-g", "NoSuchGroup", "-n", ns)
	fail(1, "CONSUMER_NOT_ONLINE", "consumerConnection", "-g", "NoSuchGroup", "-n", ns)
	fail(1, "listenPort", "updateBrokerConfig", "-b", baddr, "-k", "listenPort", "-v", "1", "-n", ns)
	fail(2, "-t is required", "topicStatus", "-n", ns)
	fail(2, "bad timestamp", "resetOffsetByTime", "-g", "G", "-t", "T", "-s", "yesterday", "-n", ns)
	fail(2, "unknown command", "noSuchCommand")
	fail(2, "-o must be", "topicList", "-o", "xml", "-n", ns)
	if code, _, errOut := runCLI(t, "topicList", "-bogus"); code != 2 || !strings.Contains(errOut, "bogus") {
		t.Fatalf("unknown flag: exit %d, %q", code, errOut)
	}
	if code, out, _ := runCLI(t, "help"); code != 0 || !strings.Contains(out, "queryMsgByUniqueKey") {
		t.Fatalf("help: %d %q", code, out)
	}
}

// TestAdminQueryMsgTrace: queryMsgTraceById prints a traced send's Pub
// record (table and JSON) and fails with exit 1 for an untraced id.
func TestAdminQueryMsgTrace(t *testing.T) {
	srv := embeddedtest.Start(t, func(c *broker.Config) { c.TraceTopicEnable = true })
	ns := srv.NamesrvAddr()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	p, err := producer.New(producer.WithNameServers(ns), producer.WithGroup("CliTracePG"),
		producer.WithTrace(producer.TraceConfig{FlushInterval: 20 * time.Millisecond}))
	if err != nil {
		t.Fatal(err)
	}
	res, err := p.SendSync(ctx, message.New("CliTraceT", []byte("traced")))
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		code, out, errOut := runCLI(t, "queryMsgTraceById", "-i", res.MsgID, "-n", ns)
		if code == 0 {
			if !strings.Contains(out, "#Type") || !strings.Contains(out, "Pub") || !strings.Contains(out, "CliTracePG") || !strings.Contains(out, "success") {
				t.Fatalf("trace table %q", out)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no trace of %s: exit %d, %q", res.MsgID, code, errOut)
		}
		time.Sleep(20 * time.Millisecond)
	}
	code, js, _ := runCLI(t, "queryMsgTraceById", "-i", res.MsgID, "-n", ns, "-o", "json")
	var recs []map[string]any
	if code != 0 || json.Unmarshal([]byte(js), &recs) != nil || len(recs) != 1 || recs[0]["Type"] != "Pub" {
		t.Fatalf("-o json: exit %d, %q", code, js)
	}
	if code, _, errOut := runCLI(t, "queryMsgTraceById", "-i", "0A0000000000000000000000000000FF", "-n", ns); code != 1 || !strings.Contains(errOut, "not found") {
		t.Fatalf("untraced id: exit %d, %q", code, errOut)
	}
	if code, _, _ := runCLI(t, "queryMsgTraceById", "-n", ns); code != 2 {
		t.Fatalf("missing -i: exit %d", code)
	}
}
