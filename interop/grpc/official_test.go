//go:build !race

// Package grpc_test drives the official 5.x Go client
// (github.com/apache/rocketmq-clients/golang/v5 v5.1.2), which speaks gRPC,
// against an embedded server's gRPC endpoint (server/proxy), and checks
// that messages cross between it and the official 4.x client
// (rocketmq-client-go v2.1.2, remoting). Both official clients have data
// races of their own, hence the build tag.
package grpc_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	rocketmq "github.com/apache/rocketmq-client-go/v2"
	o4consumer "github.com/apache/rocketmq-client-go/v2/consumer"
	"github.com/apache/rocketmq-client-go/v2/primitive"
	o4producer "github.com/apache/rocketmq-client-go/v2/producer"
	"github.com/apache/rocketmq-client-go/v2/rlog"
	rmq "github.com/apache/rocketmq-clients/golang/v5"
	"github.com/apache/rocketmq-clients/golang/v5/credentials"
	v2 "github.com/apache/rocketmq-clients/golang/v5/protocol/v2"
)

// rocketgoBin is `rocketgo` built for this run. The server runs in its own
// process: our protocol types and the 5.x client's register the same
// protobuf names, which one process refuses.
var rocketgoBin string

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	dir, err := os.MkdirTemp("", "grpc-official")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	// Both official clients log to files under $HOME by default.
	os.Setenv(rmq.CLIENT_LOG_ROOT, dir)
	os.Setenv(rmq.CLIENT_LOG_LEVEL, "error")
	rmq.ResetLogger()
	rlog.SetLogLevel("error")
	rocketgoBin = filepath.Join(dir, "rocketgo")
	build := exec.Command("go", "build", "-C", "../..", "-o", rocketgoBin, "./cmd/rocketgo")
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "building rocketgo: %v\n%s", err, out)
		return 1
	}
	return m.Run()
}

// server is a `rocketgo serve` child process.
type server struct {
	namesrv, grpc string
}

func (s *server) GRPCAddr() string    { return s.grpc }
func (s *server) NamesrvAddr() string { return s.namesrv }

// startServer runs `rocketgo serve` on free loopback ports with a quick
// transaction check-back and returns once it is ready.
func startServer(t *testing.T, settings ...string) *server {
	t.Helper()
	args := []string{"serve", "-host", "127.0.0.1", "-namesrv-port", "0", "-broker-port", "0", "-grpc-port", "0",
		"-data", t.TempDir(), "-set", "transactionCheckInterval=500", "-set", "transactionTimeOut=1000"}
	for _, kv := range settings {
		args = append(args, "-set", kv)
	}
	cmd := exec.Command(rocketgoBin, args...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			cmd.Process.Kill()
			<-done
			t.Error("rocketgo serve did not stop within 15s")
		}
	})
	s := &server{}
	lines := bufio.NewScanner(stdout)
	ready := make(chan error, 1)
	go func() {
		// serve prints the gRPC line and the ready line, in whichever
		// order; both are needed.
		for lines.Scan() {
			l := lines.Text()
			if rest, ok := strings.CutPrefix(l, "rocketgo: gRPC endpoint for 5.x clients on "); ok {
				s.grpc, _, _ = strings.Cut(rest, " ")
			}
			if _, rest, ok := strings.Cut(l, "name server "); ok && strings.HasPrefix(l, "rocketgo serve: ready") {
				s.namesrv, _, _ = strings.Cut(rest, ",")
			}
			if s.grpc != "" && s.namesrv != "" {
				ready <- nil
				break
			}
		}
		ready <- errors.New("rocketgo serve exited before it was ready")
		io.Copy(io.Discard, stdout)
	}()
	select {
	case err := <-ready:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("rocketgo serve not ready within 30s")
	}
	if s.namesrv == "" {
		t.Fatal("no name server address in rocketgo serve's output")
	}
	return s
}

func config5(srv *server, group string) *rmq.Config {
	return &rmq.Config{Endpoint: srv.GRPCAddr(), ConsumerGroup: group,
		Credentials: &credentials.SessionCredentials{AccessKey: "", AccessSecret: ""}}
}

func newProducer5(t *testing.T, srv *server, opts ...rmq.ProducerOption) rmq.Producer {
	t.Helper()
	p, err := rmq.NewProducer(config5(srv, ""), opts...)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.GracefulStop() })
	return p
}

func newSimpleConsumer5(t *testing.T, srv *server, group, topic, tag string) rmq.SimpleConsumer {
	t.Helper()
	sc, err := rmq.NewSimpleConsumer(config5(srv, group), rmq.WithAwaitDuration(2*time.Second),
		rmq.WithSubscriptionExpressions(map[string]*rmq.FilterExpression{topic: rmq.NewFilterExpression(tag)}))
	if err != nil {
		t.Fatal(err)
	}
	if err := sc.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sc.GracefulStop() })
	// A group that never consumed starts at the end of the queues (POP
	// init mode MAX, as upstream's proxy): the first Receive fixes that
	// point, so only messages sent afterwards are expected.
	sc.Receive(context.Background(), 1, time.Second)
	return sc
}

// receive polls until n messages came or the deadline passed.
func receive(t *testing.T, sc rmq.SimpleConsumer, n int, invisible, within time.Duration) []*rmq.MessageView {
	t.Helper()
	var got []*rmq.MessageView
	deadline := time.Now().Add(within)
	for len(got) < n && time.Now().Before(deadline) {
		mvs, err := sc.Receive(context.Background(), 16, invisible)
		if err != nil {
			var st *rmq.ErrRpcStatus
			if errors.As(err, &st) && st.GetCode() == int32(v2.Code_MESSAGE_NOT_FOUND) {
				continue
			}
			t.Fatalf("receive: %v", err)
		}
		got = append(got, mvs...)
	}
	if len(got) < n {
		t.Fatalf("received %d of %d messages within %v", len(got), n, within)
	}
	return got
}

// createTopic makes topic exist by sending through the 5.x producer
// (auto-creation), so consumers started afterwards find its route.
func sendN(t *testing.T, p rmq.Producer, topic string, n int, tag string) map[string]string {
	t.Helper()
	ids := make(map[string]string)
	for i := 0; i < n; i++ {
		m := &rmq.Message{Topic: topic, Body: []byte(fmt.Sprintf("body-%d", i))}
		m.SetTag(tag)
		m.SetKeys(fmt.Sprintf("k%d", i), "shared")
		m.AddProperty("seq", fmt.Sprint(i))
		rs, err := p.Send(context.Background(), m)
		if err != nil {
			t.Fatalf("send %d: %v", i, err)
		}
		if len(rs) != 1 || rs[0].MessageID == "" {
			t.Fatalf("send %d: receipts %+v", i, rs)
		}
		ids[rs[0].MessageID] = fmt.Sprintf("body-%d", i)
	}
	return ids
}

func TestOfficialGRPCSendReceiveAck(t *testing.T) {
	srv := startServer(t)
	const topic = "GrpcNormal"
	p := newProducer5(t, srv, rmq.WithTopics(topic))
	ids := sendN(t, p, topic, 5, "TagA")
	sc := newSimpleConsumer5(t, srv, "GrpcNormalGroup", topic, "TagA")
	// The group starts at the end of the queues (POP init mode MAX) unless
	// it consumed before: send after the consumer exists.
	ids = sendN(t, p, topic, 5, "TagA")
	got := receive(t, sc, 5, 30*time.Second, 20*time.Second)
	for _, mv := range got {
		body, ok := ids[mv.GetMessageId()]
		if !ok {
			t.Fatalf("unexpected message id %s", mv.GetMessageId())
		}
		if string(mv.GetBody()) != body {
			t.Errorf("%s: body %q, want %q", mv.GetMessageId(), mv.GetBody(), body)
		}
		if mv.GetTag() == nil || *mv.GetTag() != "TagA" {
			t.Errorf("%s: tag %v", mv.GetMessageId(), mv.GetTag())
		}
		if keys := mv.GetKeys(); len(keys) != 2 || keys[1] != "shared" {
			t.Errorf("%s: keys %v", mv.GetMessageId(), keys)
		}
		if want := strings.TrimPrefix(body, "body-"); mv.GetProperties()["seq"] != want {
			t.Errorf("%s: properties %v", mv.GetMessageId(), mv.GetProperties())
		}
		if mv.GetDeliveryAttempt() != 1 || mv.GetBornTimestamp() == nil || mv.GetBornHost() == nil || *mv.GetBornHost() == "" {
			t.Errorf("%s: attempt %d born %v host %v", mv.GetMessageId(), mv.GetDeliveryAttempt(), mv.GetBornTimestamp(), mv.GetBornHost())
		}
		if err := sc.Ack(context.Background(), mv); err != nil {
			t.Fatalf("ack: %v", err)
		}
	}
	// Acked messages never come back.
	mvs, err := sc.Receive(context.Background(), 16, time.Second)
	if err == nil && len(mvs) > 0 {
		t.Fatalf("acked messages came back: %d", len(mvs))
	}
}

func TestOfficialGRPCInvisibleDuration(t *testing.T) {
	srv := startServer(t)
	const topic = "GrpcInvisible"
	p := newProducer5(t, srv, rmq.WithTopics(topic))
	sendN(t, p, topic, 1, "T")
	sc := newSimpleConsumer5(t, srv, "GrpcInvisibleGroup", topic, "*")
	ids := sendN(t, p, topic, 2, "T")

	// Unacked: comes back after the invisible time, attempt 2.
	first := receive(t, sc, 2, 2*time.Second, 20*time.Second)
	start := time.Now()
	again := receive(t, sc, 2, 30*time.Second, 30*time.Second)
	if time.Since(start) < time.Second {
		t.Errorf("redelivered after %v, before the invisible time", time.Since(start))
	}
	for _, mv := range again {
		if _, ok := ids[mv.GetMessageId()]; !ok {
			t.Fatalf("unexpected redelivery %s", mv.GetMessageId())
		}
		if mv.GetDeliveryAttempt() != 2 {
			t.Errorf("%s: delivery attempt %d, want 2", mv.GetMessageId(), mv.GetDeliveryAttempt())
		}
	}
	_ = first
	// ChangeInvisibleDuration: shorten one to 1s and it comes back; ack
	// the other at once.
	if err := sc.ChangeInvisibleDuration(again[0], time.Second); err != nil {
		t.Fatalf("change invisible duration: %v", err)
	}
	if err := sc.Ack(context.Background(), again[1]); err != nil {
		t.Fatalf("ack: %v", err)
	}
	third := receive(t, sc, 1, 30*time.Second, 30*time.Second)
	if third[0].GetMessageId() != again[0].GetMessageId() || third[0].GetDeliveryAttempt() != 3 {
		t.Fatalf("after change: got %s attempt %d, want %s attempt 3", third[0].GetMessageId(), third[0].GetDeliveryAttempt(), again[0].GetMessageId())
	}
	if err := sc.Ack(context.Background(), third[0]); err != nil {
		t.Fatalf("ack: %v", err)
	}
}

func TestOfficialGRPCFIFOAndDelay(t *testing.T) {
	srv := startServer(t)
	const topic = "GrpcFifo"
	p := newProducer5(t, srv, rmq.WithTopics(topic))
	sendN(t, p, topic, 1, "T")
	sc := newSimpleConsumer5(t, srv, "GrpcFifoGroup", topic, "*")
	var offsets []int64
	for i := 0; i < 6; i++ {
		m := &rmq.Message{Topic: topic, Body: []byte(fmt.Sprint(i))}
		m.SetMessageGroup("order-42")
		rs, err := p.Send(context.Background(), m)
		if err != nil {
			t.Fatal(err)
		}
		offsets = append(offsets, rs[0].Offset)
	}
	// One message group, one queue: offsets are consecutive.
	for i := 1; i < len(offsets); i++ {
		if offsets[i] != offsets[i-1]+1 {
			t.Fatalf("message group spread over queues: offsets %v", offsets)
		}
	}
	got := receive(t, sc, 6, 30*time.Second, 20*time.Second)
	var bodies []string
	for _, mv := range got {
		if g := mv.GetMessageGroup(); g == nil || *g != "order-42" {
			t.Errorf("message group %v", g)
		}
		bodies = append(bodies, string(mv.GetBody()))
		sc.Ack(context.Background(), mv)
	}
	if !slices.Equal(bodies, []string{"0", "1", "2", "3", "4", "5"}) {
		t.Errorf("order %v", bodies)
	}

	// Delay: not visible before its delivery time.
	at := time.Now().Add(3 * time.Second)
	m := &rmq.Message{Topic: topic, Body: []byte("later")}
	m.SetDelayTimestamp(at)
	if _, err := p.Send(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	d := receive(t, sc, 1, 30*time.Second, 20*time.Second)
	if now := time.Now(); now.Before(at.Add(-100 * time.Millisecond)) {
		t.Errorf("delay message delivered %v early", at.Sub(now))
	}
	if ts := d[0].GetDeliveryTimestamp(); ts == nil || ts.UnixMilli() != at.UnixMilli() {
		t.Errorf("delay message delivery timestamp %v, want %v", ts, at)
	}
	sc.Ack(context.Background(), d[0])
}

func TestOfficialGRPCTransaction(t *testing.T) {
	srv := startServer(t)
	const topic = "GrpcTx"
	var mu sync.Mutex
	checked := map[string]bool{}
	p := newProducer5(t, srv, rmq.WithTopics(topic), rmq.WithTransactionChecker(&rmq.TransactionChecker{
		Check: func(mv *rmq.MessageView) rmq.TransactionResolution {
			mu.Lock()
			defer mu.Unlock()
			checked[string(mv.GetBody())] = true
			return rmq.COMMIT
		},
	}))
	sendN(t, p, topic, 1, "T")
	sc := newSimpleConsumer5(t, srv, "GrpcTxGroup", topic, "*")
	send := func(body string, end func(rmq.Transaction) error) {
		tx := p.BeginTransaction()
		m := &rmq.Message{Topic: topic, Body: []byte(body)}
		if _, err := p.SendWithTransaction(context.Background(), m, tx); err != nil {
			t.Fatalf("send %s: %v", body, err)
		}
		if end != nil {
			if err := end(tx); err != nil {
				t.Fatalf("end %s: %v", body, err)
			}
		}
	}
	send("commit", rmq.Transaction.Commit)
	send("rollback", rmq.Transaction.RollBack)
	send("unknown", nil) // left open: the broker checks back, the checker commits
	got := receive(t, sc, 2, 30*time.Second, 30*time.Second)
	bodies := []string{string(got[0].GetBody()), string(got[1].GetBody())}
	slices.Sort(bodies)
	if !slices.Equal(bodies, []string{"commit", "unknown"}) {
		mu.Lock()
		t.Fatalf("received %v, want commit and unknown (not rollback); checked %v", bodies, checked)
	}
	mu.Lock()
	defer mu.Unlock()
	if !checked["unknown"] || checked["commit"] || checked["rollback"] {
		t.Errorf("check-backs for %v, want only unknown", checked)
	}
}

func TestOfficialGRPCCrossProtocol(t *testing.T) {
	srv := startServer(t)
	const topic = "GrpcCross"
	p5 := newProducer5(t, srv, rmq.WithTopics(topic))
	sendN(t, p5, topic, 1, "T")
	sc := newSimpleConsumer5(t, srv, "GrpcCross5", topic, "*")

	// 4.x client (remoting) → 5.x client (gRPC).
	p4, err := rocketmq.NewProducer(o4producer.WithNameServer([]string{srv.NamesrvAddr()}), o4producer.WithGroupName("cross4"), o4producer.WithRetry(2))
	if err != nil {
		t.Fatal(err)
	}
	if err := p4.Start(); err != nil {
		t.Fatal(err)
	}
	defer p4.Shutdown()
	m4 := primitive.NewMessage(topic, []byte("from-4x"))
	m4.WithTag("Tag4")
	m4.WithKeys([]string{"key4a", "key4b"})
	m4.WithProperty("color", "red")
	m4.WithShardingKey("grp4")
	res, err := p4.SendSync(context.Background(), m4)
	if err != nil || res.Status != primitive.SendOK {
		t.Fatalf("4.x send: %v %v", res, err)
	}
	got := receive(t, sc, 1, 30*time.Second, 20*time.Second)
	mv := got[0]
	if string(mv.GetBody()) != "from-4x" || mv.GetTag() == nil || *mv.GetTag() != "Tag4" ||
		!slices.Equal(mv.GetKeys(), []string{"key4a", "key4b"}) || mv.GetProperties()["color"] != "red" ||
		mv.GetMessageId() != res.MsgID {
		t.Fatalf("5.x received %q tag %v keys %v props %v id %s (sent id %s)", mv.GetBody(), mv.GetTag(), mv.GetKeys(), mv.GetProperties(), mv.GetMessageId(), res.MsgID)
	}
	if err := sc.Ack(context.Background(), mv); err != nil {
		t.Fatal(err)
	}

	// 5.x client (gRPC) → 4.x client (remoting).
	c4, err := rocketmq.NewPushConsumer(o4consumer.WithNameServer([]string{srv.NamesrvAddr()}), o4consumer.WithGroupName("cross4c"),
		o4consumer.WithConsumeFromWhere(o4consumer.ConsumeFromFirstOffset))
	if err != nil {
		t.Fatal(err)
	}
	recv := make(chan *primitive.MessageExt, 16)
	if err := c4.Subscribe(topic, o4consumer.MessageSelector{Type: o4consumer.TAG, Expression: "Tag5"}, func(_ context.Context, msgs ...*primitive.MessageExt) (o4consumer.ConsumeResult, error) {
		for _, m := range msgs {
			recv <- m
		}
		return o4consumer.ConsumeSuccess, nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := c4.Start(); err != nil {
		t.Fatal(err)
	}
	defer c4.Shutdown()
	m5 := &rmq.Message{Topic: topic, Body: []byte("from-5x")}
	m5.SetTag("Tag5")
	m5.SetKeys("key5")
	m5.AddProperty("shape", "round")
	m5.SetMessageGroup("grp5")
	rs, err := p5.Send(context.Background(), m5)
	if err != nil {
		t.Fatal(err)
	}
	select {
	case m := <-recv:
		if string(m.Body) != "from-5x" || m.GetTags() != "Tag5" || m.GetKeys() != "key5" || m.GetProperty("shape") != "round" ||
			m.MsgId != rs[0].MessageID || m.GetProperty("__SHARDINGKEY") != "grp5" {
			t.Fatalf("4.x received %q tag %q keys %q shape %q id %s (sent %s) sharding %q", m.Body, m.GetTags(), m.GetKeys(), m.GetProperty("shape"), m.MsgId, rs[0].MessageID, m.GetProperty("__SHARDINGKEY"))
		}
	case <-time.After(30 * time.Second):
		t.Fatal("4.x consumer received nothing")
	}
}

// admin runs `rocketgo admin` against srv.
func admin(t *testing.T, srv *server, args ...string) string {
	t.Helper()
	out, err := exec.Command(rocketgoBin, append([]string{"admin"}, append(args, "-n", srv.NamesrvAddr())...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("rocketgo admin %v: %v\n%s", args, err, out)
	}
	return string(out)
}

func TestOfficialGRPCDeadLetterAfterMaxAttempts(t *testing.T) {
	srv := startServer(t)
	const topic, group = "GrpcDlq", "GrpcDlqGroup"
	// Two deliveries in all: the first and one retry.
	admin(t, srv, "updateSubGroup", "-c", "DefaultCluster", "-g", group, "-r", "1")
	p := newProducer5(t, srv, rmq.WithTopics(topic))
	sendN(t, p, topic, 1, "T")
	sc := newSimpleConsumer5(t, srv, group, topic, "*")
	m := &rmq.Message{Topic: topic, Body: []byte("poison")}
	m.AddProperty("why", "never acked")
	rs, err := p.Send(context.Background(), m)
	if err != nil {
		t.Fatal(err)
	}
	for attempt := int32(1); attempt <= 2; attempt++ {
		got := receive(t, sc, 1, time.Second, 30*time.Second)
		if got[0].GetMessageId() != rs[0].MessageID || got[0].GetDeliveryAttempt() != attempt {
			t.Fatalf("delivery %d: got %s attempt %d", attempt, got[0].GetMessageId(), got[0].GetDeliveryAttempt())
		}
	}
	// Not acked twice: it goes to the group's DLQ, not back to the consumer.
	deadline := time.Now().Add(30 * time.Second)
	for {
		// The DLQ topic exists once the first message goes there.
		out, _ := exec.Command(rocketgoBin, "admin", "printMsg", "-t", "%DLQ%"+group, "-n", srv.NamesrvAddr()).CombinedOutput()
		if strings.Contains(string(out), "poison") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("message not in %%DLQ%%%s after 30s:\n%s", group, out)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if mvs, err := sc.Receive(context.Background(), 16, time.Second); err == nil && len(mvs) > 0 {
		t.Fatalf("dead-lettered message delivered again: %s", mvs[0].GetMessageId())
	}
}

const grpcACL = `
accounts:
  - accessKey: grpcUser01
    secretKey: grpcSecret01
    defaultTopicPerm: DENY
    defaultGroupPerm: DENY
    topicPerms: [GrpcAclTopic=PUB|SUB]
    groupPerms: [GrpcAclGroup=SUB]
  - accessKey: adminKey01
    secretKey: adminSecret1
    admin: true
`

// TestOfficialGRPCACL: with aclEnable the endpoint checks the 5.x clients'
// signatures, and the broker applies the account's permissions to what
// they do.
func TestOfficialGRPCACL(t *testing.T) {
	aclFile := filepath.Join(t.TempDir(), "plain_acl.yml")
	if err := os.WriteFile(aclFile, []byte(grpcACL), 0o600); err != nil {
		t.Fatal(err)
	}
	srv := startServer(t, "aclEnable=true", "aclFile="+aclFile, "autoCreateTopicEnable=false")
	for _, topic := range []string{"GrpcAclTopic", "GrpcAclOther"} {
		admin(t, srv, "updateTopic", "-t", topic, "-c", "DefaultCluster", "-r", "2", "-w", "2",
			"-access-key", "adminKey01", "-secret-key", "adminSecret1")
	}
	withKeys := func(group, ak, sk string) *rmq.Config {
		return &rmq.Config{Endpoint: srv.GRPCAddr(), ConsumerGroup: group,
			Credentials: &credentials.SessionCredentials{AccessKey: ak, AccessSecret: sk}}
	}
	// A wrong secret: the first call (the route query at start) is refused.
	bad, err := rmq.NewProducer(withKeys("", "grpcUser01", "wrongSecret"), rmq.WithTopics("GrpcAclTopic"))
	if err != nil {
		t.Fatal(err)
	}
	if err := bad.Start(); err == nil {
		bad.GracefulStop()
		t.Fatal("producer with a wrong secret started")
	} else if !strings.Contains(err.Error(), "signature") {
		t.Errorf("wrong secret: %v", err)
	}

	p, err := rmq.NewProducer(withKeys("", "grpcUser01", "grpcSecret01"), rmq.WithTopics("GrpcAclTopic"))
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	defer p.GracefulStop()
	sc, err := rmq.NewSimpleConsumer(withKeys("GrpcAclGroup", "grpcUser01", "grpcSecret01"), rmq.WithAwaitDuration(2*time.Second),
		rmq.WithSubscriptionExpressions(map[string]*rmq.FilterExpression{"GrpcAclTopic": rmq.SUB_ALL}))
	if err != nil {
		t.Fatal(err)
	}
	if err := sc.Start(); err != nil {
		t.Fatal(err)
	}
	defer sc.GracefulStop()
	sc.Receive(context.Background(), 1, time.Second)
	ids := sendN(t, p, "GrpcAclTopic", 2, "T")
	for _, mv := range receive(t, sc, 2, 30*time.Second, 20*time.Second) {
		if _, ok := ids[mv.GetMessageId()]; !ok {
			t.Fatalf("unexpected message %s", mv.GetMessageId())
		}
		if err := sc.Ack(context.Background(), mv); err != nil {
			t.Fatalf("ack: %v", err)
		}
	}
	// No PUB on GrpcAclOther: the broker refuses the send made for it.
	if _, err := p.Send(context.Background(), &rmq.Message{Topic: "GrpcAclOther", Body: []byte("x")}); err == nil {
		t.Fatal("send to a topic without PUB permission succeeded")
	} else if !strings.Contains(err.Error(), "FORBIDDEN") {
		t.Errorf("send without permission: %v", err)
	}
}
