package broker

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rocketgo/rocketgo/remoting/netclient"

	"github.com/rocketgo/rocketgo/consumer"
	"github.com/rocketgo/rocketgo/message"
	"github.com/rocketgo/rocketgo/remoting"
	"github.com/rocketgo/rocketgo/server/namesrv"
	"github.com/rocketgo/rocketgo/server/store"
)

// The HA tests run a name server, a master and a slave in this process on
// free loopback ports, with replication intervals cut to milliseconds.

// logRecorder is a slog handler that keeps each record's level, message and
// error, so tests can check what replication logged.
type logRecorder struct {
	mu    *sync.Mutex
	lines *[]string
}

func newLogRecorder() logRecorder { return logRecorder{mu: new(sync.Mutex), lines: new([]string)} }

func (h logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (h logRecorder) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h logRecorder) WithGroup(string) slog.Handler            { return h }

func (h logRecorder) Handle(_ context.Context, r slog.Record) error {
	line := r.Level.String() + " " + r.Message
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "err" || a.Key == "offset" {
			line += " " + a.Key + "=" + a.Value.String()
		}
		return true
	})
	h.mu.Lock()
	*h.lines = append(*h.lines, line)
	h.mu.Unlock()
	return nil
}

// count returns how many records at level contain substr.
func (h logRecorder) count(level slog.Level, substr string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for _, l := range *h.lines {
		if strings.HasPrefix(l, level.String()+" ") && strings.Contains(l, substr) {
			n++
		}
	}
	return n
}

// first returns the first record at level containing substr, or "".
func (h logRecorder) first(level slog.Level, substr string) string {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, l := range *h.lines {
		if strings.HasPrefix(l, level.String()+" ") && strings.Contains(l, substr) {
			return l
		}
	}
	return ""
}

func (h logRecorder) dump() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return strings.Join(*h.lines, "\n")
}

func startNamesrv(t *testing.T) string {
	t.Helper()
	ns := namesrv.New(namesrv.WithListenAddr("127.0.0.1:0"))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := ns.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := ns.Shutdown(ctx); err != nil {
			t.Errorf("name server shutdown: %v", err)
		}
	})
	return ns.Addr()
}

// haConfig is a small broker of the given role registering with namesrv
// ("" = none), with replication intervals short enough for tests.
func haConfig(t *testing.T, role, namesrv string) Config {
	cfg := DefaultConfig()
	cfg.ListenHost, cfg.ListenPort = "127.0.0.1", 0
	cfg.StorePathRootDir = t.TempDir()
	cfg.MappedFileSizeCommitLog = 8 << 20
	cfg.MaxMessageSize = 1 << 20
	cfg.MappedFileSizeConsumeQueue = 20 * 1000
	cfg.MaxHashSlotNum, cfg.MaxIndexNum = 1000, 4000
	cfg.NamesrvAddr = namesrv
	cfg.BrokerRole = role
	if role == RoleSlave {
		cfg.BrokerID = 1
	}
	cfg.RegisterNameServerPeriod = 200 * time.Millisecond
	cfg.HASendHeartbeatInterval = 100 * time.Millisecond
	cfg.HAHousekeepingInterval = time.Second
	return cfg
}

// startHABroker starts a broker and stops it when the test ends (stopping
// it earlier with stopHABroker is fine).
func startHABroker(t *testing.T, cfg Config, opts ...Option) *Broker {
	t.Helper()
	b, err := New(cfg, opts...)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := b.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stopHABroker(t, b) })
	return b
}

func stopHABroker(t *testing.T, b *Broker) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := b.Shutdown(ctx); err != nil {
		t.Errorf("shutdown %s: %v", b.cfg.BrokerRole, err)
	}
}

func newClient(t *testing.T) *netclient.Client {
	rc := netclient.New()
	t.Cleanup(func() { rc.Close() })
	return rc
}

func waitFor(t testing.TB, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func waitReplicated(t testing.TB, master, slave *Broker) {
	t.Helper()
	waitFor(t, "the slave to catch up", 10*time.Second, func() bool {
		return slave.store.MaxPhysicalOffset() == master.store.MaxPhysicalOffset()
	})
}

// logBytes reads a store's whole retained commit log.
func logBytes(t testing.TB, s *store.Store) []byte {
	t.Helper()
	var out []byte
	buf := make([]byte, 64<<10)
	for off := s.MinPhysicalOffset(); ; {
		n, err := s.ReadLog(off, buf)
		if err != nil {
			t.Fatalf("ReadLog(%d): %v", off, err)
		}
		if n == 0 {
			return out
		}
		out = append(out, buf[:n]...)
		off += int64(n)
	}
}

func sendOK(t testing.TB, rc *netclient.Client, addr, topic string, queueID int32, body string) remoting.SendMessageResponseHeader {
	t.Helper()
	resp := send(t, rc, addr, topic, queueID, "", []byte(body))
	if resp.Code != remoting.Success {
		t.Fatalf("send to %s: code %d %s", addr, resp.Code, resp.Remark)
	}
	var h remoting.SendMessageResponseHeader
	if err := resp.DecodeHeader(&h); err != nil {
		t.Fatal(err)
	}
	return h
}

func sendBatchCmd(t testing.TB, topic string, bodies ...string) *remoting.Command {
	t.Helper()
	var msgs []*message.Message
	for _, b := range bodies {
		msgs = append(msgs, message.New(topic, []byte(b)))
	}
	body, err := message.AppendBatch(nil, msgs)
	if err != nil {
		t.Fatal(err)
	}
	h := sendHeader(topic, 0, "")
	h.Batch = true
	return remoting.NewRequest(remoting.SendBatchMessage, h.V2(), body)
}

// pullAll reads a queue from offset 0 to its end with the subscription in
// the request (no heartbeat needed).
func pullAll(t testing.TB, rc *netclient.Client, addr, topic string, queueID int32) []*message.MessageExt {
	t.Helper()
	var out []*message.MessageExt
	for off := int64(0); ; {
		resp := invoke(t, rc, addr, remoting.NewRequest(remoting.PullMessage, &remoting.PullMessageRequestHeader{
			ConsumerGroup: "HAReader", Topic: topic, QueueID: queueID, QueueOffset: off, MaxMsgNums: 32,
			SysFlag: remoting.PullFlagSubscription, Subscription: "*", ExpressionType: "TAG",
		}, nil))
		switch resp.Code {
		case remoting.Success:
		case remoting.PullNotFound, remoting.PullRetryImmediately:
			// A slave whose master is alive answers an empty read with
			// PULL_RETRY_IMMEDIATELY (go to the master) instead.
			return out
		default:
			t.Fatalf("pull %s/%d@%d from %s: code %d %s", topic, queueID, off, addr, resp.Code, resp.Remark)
		}
		msgs, err := message.DecodeMessages(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, msgs...)
		var h remoting.PullMessageResponseHeader
		if err := resp.DecodeHeader(&h); err != nil {
			t.Fatal(err)
		}
		off = h.NextBeginOffset
	}
}

// sameMessages checks two pulls return the same records: offset ids (which
// encode physical offsets), queue offsets and bodies.
func sameMessages(t testing.TB, what string, want, got []*message.MessageExt) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d messages, want %d", what, len(got), len(want))
	}
	for i := range want {
		w, g := want[i], got[i]
		if g.OffsetMsgID() != w.OffsetMsgID() || g.MsgID != w.MsgID || g.QueueOffset != w.QueueOffset || !bytes.Equal(g.Body, w.Body) {
			t.Fatalf("%s: message %d is %s/%s@%d %q, want %s/%s@%d %q", what, i,
				g.OffsetMsgID(), g.MsgID, g.QueueOffset, g.Body, w.OffsetMsgID(), w.MsgID, w.QueueOffset, w.Body)
		}
	}
}

// TestHAAsyncMasterReplicates: a slave that learned its master from the
// name server copies the log byte for byte — with frames smaller than a
// record, so records arrive in pieces — and serves the same messages.
func TestHAAsyncMasterReplicates(t *testing.T) {
	ns := startNamesrv(t)
	mcfg := haConfig(t, RoleAsyncMaster, ns)
	mcfg.HATransferBatchSize = 700
	master := startHABroker(t, mcfg)
	slave := startHABroker(t, haConfig(t, RoleSlave, ns), WithSlaveSyncInterval(50*time.Millisecond))
	rc := newClient(t)

	var ids []string
	for i := range 60 {
		ids = append(ids, sendOK(t, rc, master.Addr(), "HA", int32(i%4), fmt.Sprintf("message-%03d", i)).MsgID)
	}
	if resp := invoke(t, rc, master.Addr(), sendBatchCmd(t, "HA", "b0", "b1", "b2")); resp.Code != remoting.Success {
		t.Fatalf("batch: %d %s", resp.Code, resp.Remark)
	}
	waitReplicated(t, master, slave)
	if !bytes.Equal(logBytes(t, slave.store), logBytes(t, master.store)) {
		t.Fatal("the slave's commit log differs from the master's")
	}
	waitFor(t, "the topic to reach the slave", 5*time.Second, func() bool { _, ok := slave.topics.Get("HA"); return ok })

	total := 0
	for q := range int32(4) {
		want := pullAll(t, rc, master.Addr(), "HA", q)
		sameMessages(t, fmt.Sprintf("queue %d", q), want, pullAll(t, rc, slave.Addr(), "HA", q))
		total += len(want)
	}
	if total != 63 {
		t.Fatalf("pulled %d messages, want 63", total)
	}
	// The send answers' offset ids point into the slave's log too.
	for _, id := range ids[:3] {
		_, phy, err := message.ParseOffsetMsgID(id)
		if err != nil {
			t.Fatal(err)
		}
		res, err := slave.store.MessageAt(phy)
		if err != nil || res.MsgCount != 1 {
			t.Fatalf("slave has no message at %d: %v", phy, err)
		}
		res.Release()
	}
}

// TestHAConsumerReadsFromSlave: with the master gone, a consumer's routes
// list only the slave, and pulls there return what the master stored.
func TestHAConsumerReadsFromSlave(t *testing.T) {
	ns := startNamesrv(t)
	master := startHABroker(t, haConfig(t, RoleAsyncMaster, ns))
	slave := startHABroker(t, haConfig(t, RoleSlave, ns), WithSlaveSyncInterval(50*time.Millisecond))
	rc := newClient(t)
	var want []string
	for i := range 10 {
		want = append(want, sendOK(t, rc, master.Addr(), "Failover", 0, fmt.Sprintf("m%d", i)).MsgID)
	}
	waitReplicated(t, master, slave)
	waitFor(t, "the topic to reach the slave", 5*time.Second, func() bool { _, ok := slave.topics.Get("Failover"); return ok })
	stopHABroker(t, master) // unregisters: the route keeps only the slave

	c, err := consumer.NewLitePull(consumer.WithNameServers(ns), consumer.WithGroup("FailoverGroup"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer c.Shutdown(context.Background())
	res, err := c.PullFrom(ctx, consumer.Queue{Topic: "Failover", BrokerName: master.cfg.BrokerName, QueueID: 0}, 0, 32)
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != consumer.PullFound || len(res.Messages) != len(want) {
		t.Fatalf("pull from the slave: status %v, %d messages, want %d", res.Status, len(res.Messages), len(want))
	}
	for i, m := range res.Messages {
		if m.OffsetMsgID() != want[i] || string(m.Body) != fmt.Sprintf("m%d", i) {
			t.Fatalf("message %d: %s %q, want %s", i, m.OffsetMsgID(), m.Body, want[i])
		}
	}
}

// TestHASyncMaster: without a slave a send is stored but answered
// SLAVE_NOT_AVAILABLE at once; with one (configured by haMasterAddress) it
// is answered SEND_OK, and only once the slave holds it.
func TestHASyncMaster(t *testing.T) {
	mcfg := haConfig(t, RoleSyncMaster, "")
	master := startHABroker(t, mcfg)
	rc := newClient(t)

	start := time.Now()
	resp := send(t, rc, master.Addr(), "Sync", 0, "", []byte("alone"))
	var h remoting.SendMessageResponseHeader
	if err := resp.DecodeHeader(&h); resp.Code != remoting.SlaveNotAvailable || err != nil || h.MsgID == "" {
		t.Fatalf("send without a slave: code %d %q, header %+v %v", resp.Code, resp.Remark, h, err)
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("SLAVE_NOT_AVAILABLE took %v", d)
	}
	// WAIT=false asks for no replication wait.
	noWait := string(message.AppendProperty(nil, message.PropertyWaitStoreMsgOK, "false"))
	if resp := send(t, rc, master.Addr(), "Sync", 0, noWait, []byte("no wait")); resp.Code != remoting.Success {
		t.Fatalf("WAIT=false send: code %d", resp.Code)
	}

	scfg := haConfig(t, RoleSlave, "")
	scfg.HAMasterAddress = net.JoinHostPort("127.0.0.1", fmt.Sprint(master.ha.port()))
	slave := startHABroker(t, scfg)
	waitFor(t, "the slave to attach", 5*time.Second, slaveAttached(master))
	waitReplicated(t, master, slave)
	for i := range 20 {
		h := sendOK(t, rc, master.Addr(), "Sync", int32(i%2), fmt.Sprintf("sync-%d", i))
		_, phy, _ := message.ParseOffsetMsgID(h.MsgID)
		if got := slave.store.MaxPhysicalOffset(); got <= phy {
			t.Fatalf("SEND_OK for the message at %d while the slave's log ends at %d", phy, got)
		}
	}
	if resp := invoke(t, rc, master.Addr(), sendBatchCmd(t, "Sync", "x", "y")); resp.Code != remoting.Success {
		t.Fatalf("batch: %d %s", resp.Code, resp.Remark)
	}
	if got, want := slave.store.MaxPhysicalOffset(), master.store.MaxPhysicalOffset(); got != want {
		t.Fatalf("after a synchronous batch the slave ends at %d, the master at %d", got, want)
	}
}

// fakeSlave connects to a master's HA port, reports offset 0 once and then
// reads (and drops) everything without acknowledging more.
type fakeSlave struct {
	nc   net.Conn
	done chan struct{}
}

func dialFakeSlave(t *testing.T, haPort int, report int64) *fakeSlave {
	t.Helper()
	nc, err := net.Dial("tcp", net.JoinHostPort("127.0.0.1", fmt.Sprint(haPort)))
	if err != nil {
		t.Fatal(err)
	}
	var buf [8]byte
	binary.BigEndian.PutUint64(buf[:], uint64(report))
	if _, err := nc.Write(buf[:]); err != nil {
		t.Fatal(err)
	}
	f := &fakeSlave{nc: nc, done: make(chan struct{})}
	go func() { defer close(f.done); io.Copy(io.Discard, nc) }()
	t.Cleanup(f.close)
	return f
}

func (f *fakeSlave) close() {
	f.nc.Close()
	<-f.done
}

func slaveAttached(b *Broker) func() bool {
	return func() bool {
		b.ha.mu.Lock()
		defer b.ha.mu.Unlock()
		return b.ha.acked >= 0
	}
}

// TestHASyncMasterParksWaits: sends waiting for a slave that never
// acknowledges are parked, not blocking the event loop — other requests,
// sends included, are answered meanwhile — and end as FLUSH_SLAVE_TIMEOUT
// after syncFlushTimeout. A slave lagging beyond haMaxGapNotInSync gets
// SLAVE_NOT_AVAILABLE at once.
func TestHASyncMasterParksWaits(t *testing.T) {
	t.Run("timeout", func(t *testing.T) {
		cfg := haConfig(t, RoleSyncMaster, "")
		cfg.SyncFlushTimeout = 800 * time.Millisecond
		master := startHABroker(t, cfg)
		dialFakeSlave(t, master.ha.port(), 0)
		waitFor(t, "the fake slave's report", 5*time.Second, slaveAttached(master))
		rc := newClient(t)

		const parked = 16
		codes := make(chan int16, parked)
		start := time.Now()
		for i := range parked {
			go func() {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				resp, err := rc.InvokeSync(ctx, master.Addr(), remoting.NewRequest(remoting.SendMessage, sendHeader("Parked", 0, ""), []byte(fmt.Sprint(i))))
				if err != nil {
					codes <- -1
					return
				}
				codes <- resp.Code
			}()
		}
		waitFor(t, "the sends to park", 5*time.Second, func() bool {
			master.ha.mu.Lock()
			defer master.ha.mu.Unlock()
			return len(master.ha.waiters) == parked
		})
		noWait := string(message.AppendProperty(nil, message.PropertyWaitStoreMsgOK, "false"))
		for range 5 {
			t0 := time.Now()
			if resp := send(t, rc, master.Addr(), "Parked", 0, noWait, []byte("through")); resp.Code != remoting.Success {
				t.Fatalf("WAIT=false send while others wait: code %d", resp.Code)
			}
			invoke(t, rc, master.Addr(), remoting.NewRequest(remoting.GetMaxOffset, &remoting.GetMaxOffsetRequestHeader{Topic: "Parked"}, nil))
			if d := time.Since(t0); d > 300*time.Millisecond {
				t.Fatalf("requests took %v while sends were parked", d)
			}
		}
		for range parked {
			if code := <-codes; code != remoting.FlushSlaveTimeout {
				t.Fatalf("parked send answered %d, want FLUSH_SLAVE_TIMEOUT", code)
			}
		}
		if d := time.Since(start); d < cfg.SyncFlushTimeout-50*time.Millisecond {
			t.Fatalf("parked sends answered after %v, before syncFlushTimeout", d)
		}
	})
	t.Run("gap", func(t *testing.T) {
		cfg := haConfig(t, RoleSyncMaster, "")
		cfg.HAMaxGapNotInSync = 100 // smaller than one record
		master := startHABroker(t, cfg)
		dialFakeSlave(t, master.ha.port(), 0)
		waitFor(t, "the fake slave's report", 5*time.Second, slaveAttached(master))
		rc := newClient(t)
		if resp := send(t, rc, master.Addr(), "Gap", 0, "", []byte("far behind")); resp.Code != remoting.SlaveNotAvailable {
			t.Fatalf("send with a lagging slave: code %d, want SLAVE_NOT_AVAILABLE", resp.Code)
		}
	})
}

// TestHASlaveRestartResumes: a restarted slave reports its own log end and
// continues from there — its log ends up identical to the master's, with
// every queue offset exactly once.
func TestHASlaveRestartResumes(t *testing.T) {
	ns := startNamesrv(t)
	master := startHABroker(t, haConfig(t, RoleAsyncMaster, ns))
	scfg := haConfig(t, RoleSlave, ns)
	slave := startHABroker(t, scfg, WithSlaveSyncInterval(50*time.Millisecond))
	rc := newClient(t)
	for i := range 30 {
		sendOK(t, rc, master.Addr(), "Resume", 0, fmt.Sprintf("first-%d", i))
	}
	waitReplicated(t, master, slave)
	stopped := slave.store.MaxPhysicalOffset()
	stopHABroker(t, slave)

	for i := range 30 {
		sendOK(t, rc, master.Addr(), "Resume", 0, fmt.Sprintf("second-%d", i))
	}
	log := newLogRecorder()
	slave = startHABroker(t, scfg, WithSlaveSyncInterval(50*time.Millisecond), WithLogger(slog.New(log)))
	waitReplicated(t, master, slave)
	// The slave may replicate before startHABroker returns, so the resume
	// point is read from what it reported when it connected: the offset it
	// stopped at, not zero or anything in between.
	if first := log.first(slog.LevelInfo, "HA: connected to master"); first != fmt.Sprintf("INFO HA: connected to master offset=%d", stopped) {
		t.Fatalf("restarted slave connected with %q, it stopped at %d", first, stopped)
	}
	if !bytes.Equal(logBytes(t, slave.store), logBytes(t, master.store)) {
		t.Fatal("after the restart the slave's log differs from the master's")
	}
	waitFor(t, "the topic on the slave", 5*time.Second, func() bool { _, ok := slave.topics.Get("Resume"); return ok })
	msgs := pullAll(t, rc, slave.Addr(), "Resume", 0)
	if len(msgs) != 60 {
		t.Fatalf("slave serves %d messages, want 60", len(msgs))
	}
	for i, m := range msgs {
		want := fmt.Sprintf("first-%d", i)
		if i >= 30 {
			want = fmt.Sprintf("second-%d", i-30)
		}
		if m.QueueOffset != int64(i) || string(m.Body) != want {
			t.Fatalf("message %d: offset %d body %q, want %q", i, m.QueueOffset, m.Body, want)
		}
	}
	if n := log.count(slog.LevelError, ""); n != 0 {
		t.Fatalf("the resumed slave logged errors:\n%s", log.dump())
	}
}

// TestHASlaveRefusesWrites: a slave answers writes as upstream's does and
// its log stays empty.
func TestHASlaveRefusesWrites(t *testing.T) {
	cfg := haConfig(t, RoleSlave, "")
	cfg.HAMasterAddress = "127.0.0.1:1" // nobody there; the slave keeps retrying quietly
	slave := startHABroker(t, cfg)
	rc := newClient(t)
	for _, tc := range []struct {
		what string
		cmd  *remoting.Command
		code int16
	}{
		{"SEND_MESSAGE", remoting.NewRequest(remoting.SendMessage, sendHeader("NewTopic", 0, ""), []byte("x")), remoting.ServiceNotAvailable},
		{"SEND_MESSAGE_V2", remoting.NewRequest(remoting.SendMessageV2, sendHeader("NewTopic", 0, "").V2(), []byte("x")), remoting.ServiceNotAvailable},
		{"SEND_BATCH_MESSAGE", sendBatchCmd(t, "NewTopic", "a", "b"), remoting.ServiceNotAvailable},
		{"CONSUMER_SEND_MSG_BACK", remoting.NewRequest(remoting.ConsumerSendMsgBack, &remoting.ConsumerSendMsgBackRequestHeader{Group: "G", Offset: 0}, nil), remoting.ServiceNotAvailable},
		{"END_TRANSACTION", remoting.NewRequest(remoting.EndTransaction, &remoting.EndTransactionRequestHeader{ProducerGroup: "PG", CommitOrRollback: txCommit}, nil), remoting.SlaveNotAvailable},
	} {
		resp := invoke(t, rc, slave.Addr(), tc.cmd)
		if resp.Code != tc.code {
			t.Errorf("%s on a slave: code %d %q, want %d", tc.what, resp.Code, resp.Remark, tc.code)
		}
		if tc.code == remoting.ServiceNotAvailable && !strings.Contains(resp.Remark, "slave") {
			t.Errorf("%s on a slave: remark %q does not say why", tc.what, resp.Remark)
		}
	}
	heartbeat(t, rc, slave.Addr(), "SlaveGroup", "NewTopic", "*")
	if _, ok := slave.topics.Get("NewTopic"); ok {
		t.Error("a slave auto-created a topic")
	}
	if _, ok := slave.topics.Get(RetryTopic("SlaveGroup")); ok {
		t.Error("a slave created a retry topic on heartbeat")
	}
	if got := slave.store.MaxPhysicalOffset(); got != 0 {
		t.Fatalf("the slave's log grew to %d", got)
	}
}

// TestHAMetadataSync: topics, groups, consumer offsets and delay progress
// reach the slave (at start and on each sync) and are persisted there.
func TestHAMetadataSync(t *testing.T) {
	ns := startNamesrv(t)
	master := startHABroker(t, haConfig(t, RoleAsyncMaster, ns))
	rc := newClient(t)
	created := remoting.NewRequest(remoting.UpdateAndCreateTopic, &remoting.CreateTopicRequestHeader{
		Topic: "Synced", DefaultTopic: TopicAutoCreate, ReadQueueNums: 3, WriteQueueNums: 3, Perm: PermRead | PermWrite, TopicFilterType: "SINGLE_TAG"}, nil)
	if resp := invoke(t, rc, master.Addr(), created); resp.Code != remoting.Success {
		t.Fatalf("create topic: %d %s", resp.Code, resp.Remark)
	}
	commit := func(offset int64) {
		t.Helper()
		resp := invoke(t, rc, master.Addr(), remoting.NewRequest(remoting.UpdateConsumerOffset, &remoting.UpdateConsumerOffsetRequestHeader{
			ConsumerGroup: "SyncedGroup", Topic: "Synced", QueueID: 1, CommitOffset: offset}, nil))
		if resp.Code != remoting.Success {
			t.Fatalf("commit: %d %s", resp.Code, resp.Remark)
		}
	}
	commit(42)
	if err := master.groups.Update(DefaultGroupConfig("SyncedGroup")); err != nil {
		t.Fatal(err)
	}
	master.delay.advance(2, 7) // level 3 delivered up to queue offset 7

	// The upstream bodies of codes 43 and 45.
	body := invoke(t, rc, master.Addr(), remoting.NewRequest(remoting.GetAllConsumerOffset, nil, nil)).Body
	if !bytes.Contains(body, []byte(`"offsetTable":{"Synced@SyncedGroup":{"1":42}`)) {
		t.Fatalf("GET_ALL_CONSUMER_OFFSET body %s", body)
	}
	if body := invoke(t, rc, master.Addr(), remoting.NewRequest(remoting.GetAllDelayOffset, nil, nil)).Body; string(body) != `{"offsetTable":{"3":7}}` {
		t.Fatalf("GET_ALL_DELAY_OFFSET body %s", body)
	}

	// A slow periodic sync: what arrives comes from the sync at start, or
	// from syncAll below.
	slave := startHABroker(t, haConfig(t, RoleSlave, ns), WithSlaveSyncInterval(time.Hour))
	waitFor(t, "the sync at start", 5*time.Second, func() bool {
		off, ok := slave.offsets.Query("SyncedGroup", "Synced", 1)
		_, synced := slave.groups.Get("SyncedGroup") // the last table synced
		return ok && off == 42 && synced
	})
	if tc, ok := slave.topics.Get("Synced"); !ok || tc.ReadQueueNums != 3 {
		t.Fatalf("synced topic %+v %v", tc, ok)
	}
	if _, ok := slave.groups.Get("SyncedGroup"); !ok {
		t.Fatal("group not synced")
	}
	if got := slave.delay.offset(2); got != 7 {
		t.Fatalf("slave's delay progress for level 3 is %d, want 7", got)
	}

	commit(50)
	slave.slaveSync.syncAll(context.Background())
	resp := invoke(t, rc, slave.Addr(), remoting.NewRequest(remoting.QueryConsumerOffset, &remoting.QueryConsumerOffsetRequestHeader{
		ConsumerGroup: "SyncedGroup", Topic: "Synced", QueueID: 1}, nil))
	var oh remoting.OffsetResponseHeader
	if err := resp.DecodeHeader(&oh); err != nil || resp.Code != remoting.Success || oh.Offset != 50 {
		t.Fatalf("slave's committed offset: code %d offset %d %v", resp.Code, oh.Offset, err)
	}
	for name, want := range map[string]string{"consumerOffset.json": "Synced@SyncedGroup", "delayOffset.json": `"2": 7`, "topics.json": `"Synced"`, "subscriptionGroup.json": "SyncedGroup"} {
		data, err := os.ReadFile(filepath.Join(slave.cfg.StorePathRootDir, "config", name))
		if err != nil || !bytes.Contains(data, []byte(want)) {
			t.Errorf("slave's %s lacks %s (%v):\n%s", name, want, err, data)
		}
	}
}

// TestDecodeMasterBodyAcceptsFastjson: Java masters write integer map keys
// bare.
func TestDecodeMasterBodyAcceptsFastjson(t *testing.T) {
	var offsets offsetsBody
	if err := decodeMasterBody([]byte(`{"offsetTable":{"T@G":{0:12,1:3}},"dataVersion":{"counter":2,"timestamp":1}}`), &offsets); err != nil {
		t.Fatal(err)
	}
	if offsets.OffsetTable["T@G"][1] != 3 || offsets.DataVersion.Counter != 2 {
		t.Fatalf("decoded %+v", offsets)
	}
	var delays delayOffsetsBody
	if err := decodeMasterBody([]byte(`{"offsetTable":{1:5,18:0}}`), &delays); err != nil || delays.OffsetTable[1] != 5 {
		t.Fatalf("decoded %+v %v", delays, err)
	}
	if err := decodeMasterBody([]byte(`{"offsetTable":`), &delays); !errors.Is(err, errMasterAnswer) {
		t.Fatalf("truncated body: %v", err)
	}
}

// fakeMaster accepts slave connections on a free port and hands each to
// the next script; past the last script it holds connections open.
func fakeMaster(t *testing.T, scripts ...func(net.Conn)) (addr string, accepted func() int) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	n := 0
	var wg sync.WaitGroup
	var held []net.Conn
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			i := n
			n++
			if i >= len(scripts) {
				held = append(held, nc)
				mu.Unlock()
				continue
			}
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer nc.Close()
				var report [8]byte
				if _, err := io.ReadFull(nc, report[:]); err != nil {
					return
				}
				scripts[i](nc)
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, nc := range held {
			nc.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return ln.Addr().String(), func() int { mu.Lock(); defer mu.Unlock(); return n }
}

// frame writes a master frame with a chosen header and body.
func frame(nc net.Conn, offset int64, size uint32, body []byte) {
	var hdr [12]byte
	binary.BigEndian.PutUint64(hdr[:8], uint64(offset))
	binary.BigEndian.PutUint32(hdr[8:], size)
	nc.Write(append(hdr[:], body...))
	io.Copy(io.Discard, nc) // until the slave hangs up
}

// TestHAMalformedStreams: garbage from a fake master makes the slave log an
// error and reconnect, garbage from a fake slave makes the master drop it
// — never a panic, and the slave's log stays clean.
func TestHAMalformedStreams(t *testing.T) {
	t.Run("fake master", func(t *testing.T) {
		garbage := bytes.Repeat([]byte{0x7f}, 64) // a record claiming 2 GiB
		addr, accepted := fakeMaster(t,
			func(nc net.Conn) { frame(nc, 0, 0xffffffff, nil) },       // negative length
			func(nc net.Conn) { frame(nc, 0, 64, garbage) },           // bytes that are no record
			func(nc net.Conn) { frame(nc, 12345, 64, garbage) },       // an empty log cannot start mid-segment
			func(nc net.Conn) { nc.Write([]byte{1, 2, 3}) },           // a truncated header, then EOF
			func(nc net.Conn) { frame(nc, 0, maxHAFrame+1, garbage) }, // longer than any frame
		)
		log := newLogRecorder()
		cfg := haConfig(t, RoleSlave, "")
		cfg.HAMasterAddress = addr
		cfg.HASendHeartbeatInterval = 20 * time.Millisecond // reconnect backoff tops out here
		slave := startHABroker(t, cfg, WithLogger(slog.New(log)))
		waitFor(t, "the slave to reconnect after every script", 10*time.Second, func() bool { return accepted() > 5 })
		if n := log.count(slog.LevelError, "replication stream broken"); n < 4 {
			t.Fatalf("%d error logs for 4 malformed streams:\n%s", n, log.dump())
		}
		if got := slave.store.MaxPhysicalOffset(); got != 0 {
			t.Fatalf("garbage left the slave's log at %d", got)
		}
	})
	t.Run("fake slave", func(t *testing.T) {
		log := newLogRecorder()
		master := startHABroker(t, haConfig(t, RoleAsyncMaster, ""), WithLogger(slog.New(log)))
		rc := newClient(t)
		sendOK(t, rc, master.Addr(), "Garbage", 0, "payload")
		for _, report := range []int64{-1, 1 << 40} {
			nc, err := net.Dial("tcp", net.JoinHostPort("127.0.0.1", fmt.Sprint(master.ha.port())))
			if err != nil {
				t.Fatal(err)
			}
			var buf [8]byte
			binary.BigEndian.PutUint64(buf[:], uint64(report))
			nc.Write(buf[:])
			nc.SetReadDeadline(time.Now().Add(5 * time.Second))
			if _, err := io.Copy(io.Discard, nc); err != nil {
				t.Fatalf("report %d: the master did not hang up: %v", report, err)
			}
			nc.Close()
		}
		// A half report, then hang up.
		if nc, err := net.Dial("tcp", net.JoinHostPort("127.0.0.1", fmt.Sprint(master.ha.port()))); err == nil {
			nc.Write([]byte{0, 0, 0})
			nc.Close()
		}
		waitFor(t, "the master to drop every fake slave", 5*time.Second, func() bool {
			master.ha.mu.Lock()
			defer master.ha.mu.Unlock()
			return len(master.ha.conns) == 0
		})
		waitFor(t, "the drops to be logged", 5*time.Second, func() bool {
			return log.count(slog.LevelError, "broke the protocol") == 1 && log.count(slog.LevelWarn, "ahead") == 1
		})
		// The master still serves a real slave.
		scfg := haConfig(t, RoleSlave, "")
		scfg.HAMasterAddress = net.JoinHostPort("127.0.0.1", fmt.Sprint(master.ha.port()))
		waitReplicated(t, master, startHABroker(t, scfg))
	})
}

// TestHAShutdownLeavesNoGoroutines: master, slave, name server and a
// parked SYNC_MASTER send all stop cleanly; the parked send is answered.
func TestHAShutdownLeavesNoGoroutines(t *testing.T) {
	before := runtime.NumGoroutine()
	t.Run("run", func(t *testing.T) {
		ns := startNamesrv(t)
		cfg := haConfig(t, RoleSyncMaster, ns)
		cfg.SyncFlushTimeout = time.Minute
		master := startHABroker(t, cfg)
		slave := startHABroker(t, haConfig(t, RoleSlave, ns), WithSlaveSyncInterval(50*time.Millisecond))
		waitFor(t, "the slave to attach", 5*time.Second, slaveAttached(master))
		rc := newClient(t)
		sendOK(t, rc, master.Addr(), "Leak", 0, "replicated")
		waitReplicated(t, master, slave)

		// Stop the slave, let a fake one that never acknowledges take its
		// place and park a send, then stop the master under it.
		stopHABroker(t, slave)
		dialFakeSlave(t, master.ha.port(), master.store.MaxPhysicalOffset())
		waitFor(t, "the fake slave", 5*time.Second, slaveAttached(master))
		answered := make(chan int16, 1)
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			resp, err := rc.InvokeSync(ctx, master.Addr(), remoting.NewRequest(remoting.SendMessage, sendHeader("Leak", 0, ""), []byte("parked")))
			if err != nil {
				answered <- -1
				return
			}
			answered <- resp.Code
		}()
		waitFor(t, "the send to park", 5*time.Second, func() bool {
			master.ha.mu.Lock()
			defer master.ha.mu.Unlock()
			return len(master.ha.waiters) == 1
		})
		stopHABroker(t, master)
		if code := <-answered; code != remoting.FlushSlaveTimeout {
			t.Fatalf("parked send answered %d at shutdown, want FLUSH_SLAVE_TIMEOUT", code)
		}
	})
	waitGoroutines(t, before)
}

// TestHAListenPort: a master listens on listenPort+1 by default, on a free
// port (advertised) when that one is taken, and refuses to start when an
// explicit haListenPort is taken.
func TestHAListenPort(t *testing.T) {
	// Two adjacent ports: P free for the broker, P+1 held by us.
	var held net.Listener
	port := 0
	for range 50 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		p := ln.Addr().(*net.TCPAddr).Port
		if probe, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", fmt.Sprint(p-1))); err == nil {
			probe.Close()
			held, port = ln, p-1
			break
		}
		ln.Close()
	}
	if held == nil {
		t.Skip("found no two adjacent free ports")
	}
	defer held.Close()
	ns := startNamesrv(t)
	cfg := haConfig(t, RoleAsyncMaster, ns)
	cfg.ListenPort = port
	master := startHABroker(t, cfg)
	if got := master.ha.port(); got == 0 || got == port+1 {
		t.Fatalf("HA port %d with listenPort+1 (%d) taken", got, port+1)
	}
	if want := net.JoinHostPort("127.0.0.1", fmt.Sprint(master.ha.port())); master.haAdvertisedAddr() != want {
		t.Fatalf("advertised HA address %s, want %s", master.haAdvertisedAddr(), want)
	}
	// The slave finds the fallback port through the name server.
	slave := startHABroker(t, haConfig(t, RoleSlave, ns))
	rc := newClient(t)
	sendOK(t, rc, master.Addr(), "Port", 0, "x")
	waitReplicated(t, master, slave)

	explicit := haConfig(t, RoleAsyncMaster, "")
	explicit.HAListenPort = held.Addr().(*net.TCPAddr).Port
	b, err := New(explicit)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Start(context.Background()); err == nil {
		b.Shutdown(context.Background())
		t.Fatal("started although the configured haListenPort is taken")
	}
}

// TestHASlaveFollowsRestartedMaster: a master restarted on its store but on
// new ports is found again through the name server, and the slave resumes
// from its own log end.
func TestHASlaveFollowsRestartedMaster(t *testing.T) {
	ns := startNamesrv(t)
	mcfg := haConfig(t, RoleAsyncMaster, ns)
	master := startHABroker(t, mcfg)
	slave := startHABroker(t, haConfig(t, RoleSlave, ns), WithSlaveSyncInterval(50*time.Millisecond))
	rc := newClient(t)
	for i := range 10 {
		sendOK(t, rc, master.Addr(), "Follow", 0, fmt.Sprintf("before-%d", i))
	}
	waitReplicated(t, master, slave)
	oldHA := slave.haClient.currentMaster()
	stopHABroker(t, master)

	master = startHABroker(t, mcfg) // same directory, new free ports
	for i := range 10 {
		sendOK(t, rc, master.Addr(), "Follow", 0, fmt.Sprintf("after-%d", i))
	}
	waitReplicated(t, master, slave)
	if got, want := slave.haClient.currentMaster(), master.haAdvertisedAddr(); got != want {
		t.Fatalf("slave replicates from %s (before: %s), the master's HA address is %s", got, oldHA, want)
	}
	if !bytes.Equal(logBytes(t, slave.store), logBytes(t, master.store)) {
		t.Fatal("the slave's log differs from the restarted master's")
	}
	waitFor(t, "the sync to follow the master", 5*time.Second, func() bool { return slave.slaveSync.masterAddr() == master.Addr() })
}
