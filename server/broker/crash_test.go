package broker

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/rocketgo/rocketgo/remoting/netclient"

	"github.com/rocketgo/rocketgo/message"
	"github.com/rocketgo/rocketgo/remoting"
	"github.com/rocketgo/rocketgo/remoting/wire"
)

// The crash tests run a broker in a child process (this test binary,
// re-executed), SIGKILL it and check what a restarted broker serves.

const (
	childDirEnv = "ROCKETGO_BROKER_CHILD_DIR"
)

// TestHelperBrokerProcess is the child: it runs a SYNC_FLUSH broker until
// killed. It does nothing in a normal test run.
func TestHelperBrokerProcess(t *testing.T) {
	dir := os.Getenv(childDirEnv)
	if dir == "" {
		t.Skip("helper process for the crash tests")
	}
	cfg := DefaultConfig()
	cfg.ListenHost, cfg.ListenPort = "127.0.0.1", 0 // a free port; the parent reads it from READY
	cfg.StorePathRootDir = dir
	cfg.FlushDiskType = SyncFlush
	cfg.MappedFileSizeCommitLog = 4 << 20
	cfg.MaxMessageSize = 64 << 10
	cfg.MappedFileSizeConsumeQueue = 20 * 10000
	cfg.MaxHashSlotNum, cfg.MaxIndexNum = 1000, 4000
	cfg.MessageDelayLevel = "1s 3s"
	cfg.TransactionTimeOut = 500 * time.Millisecond
	cfg.TransactionCheckInterval = 200 * time.Millisecond
	b, err := New(cfg)
	if err != nil {
		fmt.Println("ERROR", err)
		os.Exit(1)
	}
	if err := b.Start(context.Background()); err != nil {
		fmt.Println("ERROR", err)
		os.Exit(1)
	}
	fmt.Println("READY", b.Addr())
	// SIGTERM asks for a clean shutdown; SIGKILL is the crash.
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM)
	<-sig
	if err := b.Shutdown(context.Background()); err != nil {
		fmt.Println("ERROR", err)
		os.Exit(1)
	}
	os.Exit(0)
}

type childBroker struct {
	cmd  *exec.Cmd
	addr string
}

// startChild runs a broker on dir; each start binds a free port and
// clients follow child.addr.
func startChild(t *testing.T, dir string) *childBroker {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperBrokerProcess$")
	cmd.Env = append(os.Environ(), childDirEnv+"="+dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	ready := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if addr, ok := strings.CutPrefix(sc.Text(), "READY "); ok {
				ready <- addr
			} else {
				t.Logf("child: %s", sc.Text())
			}
		}
	}()
	select {
	case addr := <-ready:
		return &childBroker{cmd: cmd, addr: addr}
	case <-time.After(30 * time.Second):
		t.Fatal("child broker did not start")
	}
	return nil
}

func (c *childBroker) kill(t *testing.T) { c.stop(t, syscall.SIGKILL) }

// stop ends the child with sig: SIGKILL crashes it, SIGTERM shuts it down
// cleanly.
func (c *childBroker) stop(t *testing.T, sig syscall.Signal) {
	t.Helper()
	if err := c.cmd.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
	c.cmd.Wait()
}

// drain pulls a queue from offset 0 to its end and returns the bodies.
func drain(t *testing.T, rc *netclient.Client, addr, group, topic string, queueID int32) []string {
	t.Helper()
	var bodies []string
	var offset int64
	for {
		req := remoting.NewRequest(remoting.PullMessage, &remoting.PullMessageRequestHeader{
			ConsumerGroup: group, Topic: topic, QueueID: queueID, QueueOffset: offset, MaxMsgNums: 32,
			SysFlag: remoting.PullFlagSubscription, Subscription: "*", ExpressionType: "TAG",
		}, nil)
		resp := invoke(t, rc, addr, req)
		h := pullHeader(t, resp)
		if resp.Code != remoting.Success {
			return bodies
		}
		msgs, err := message.DecodeMessages(resp.Body, message.WithVerifyCRC(true))
		if err != nil {
			t.Fatalf("corrupt message served after restart: %v", err)
		}
		for _, m := range msgs {
			bodies = append(bodies, string(m.Body))
		}
		offset = h.NextBeginOffset
	}
}

func TestSyncFlushKeepsAcknowledgedSendsAcrossSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test")
	}
	dir := t.TempDir()
	child := startChild(t, dir)
	rc := netclient.New()
	defer rc.Close()

	var mu sync.Mutex
	acked := map[string]bool{}
	ctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ctx.Err() == nil; i++ {
				body := fmt.Sprintf("w%d-%d", w, i)
				cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
				resp, err := rc.InvokeSync(cctx, child.addr, remoting.NewRequest(remoting.SendMessage, sendHeader("Crash", 0, ""), []byte(body)))
				cancel()
				if err == nil && resp.Code == remoting.Success {
					mu.Lock()
					acked[body] = true
					mu.Unlock()
				}
			}
		}()
	}
	time.Sleep(700 * time.Millisecond)
	child.kill(t)
	stop()
	wg.Wait()
	if len(acked) == 0 {
		t.Fatal("no send was acknowledged before the kill")
	}

	child = startChild(t, dir)
	got := map[string]bool{}
	for _, b := range drain(t, rc, child.addr, "CG", "Crash", 0) {
		got[b] = true
	}
	for body := range acked {
		if !got[body] {
			t.Errorf("acknowledged message %s lost", body)
		}
	}
	t.Logf("%d acknowledged sends before SIGKILL, %d messages readable after restart", len(acked), len(got))
	child.kill(t)
}

func TestPendingDelayAndHalfMessagesSurviveSIGKILL(t *testing.T) {
	testPendingSurviveRestart(t, syscall.SIGKILL)
}

func TestPendingDelayAndHalfMessagesSurviveCleanRestart(t *testing.T) {
	testPendingSurviveRestart(t, syscall.SIGTERM)
}

func testPendingSurviveRestart(t *testing.T, stop syscall.Signal) {
	if testing.Short() {
		t.Skip("crash test")
	}
	dir := t.TempDir()
	child := startChild(t, dir)

	// A producer client that answers check-backs: it heartbeats as group
	// PG and records every CHECK_TRANSACTION_STATE it receives.
	checks := make(chan string, 16)
	rc := netclient.New()
	defer rc.Close()
	rc.RegisterHandler(remoting.CheckTransactionState, func(_ context.Context, _ string, req *remoting.Command) *remoting.Command {
		var h remoting.CheckTransactionStateRequestHeader
		req.DecodeHeader(&h)
		checks <- h.MsgID
		return nil
	})
	producerHeartbeat := func(addr string) {
		body, _ := json.Marshal(wire.HeartbeatData{ClientID: "127.0.0.1@crash", ProducerDataSet: []wire.ProducerData{{GroupName: "PG"}}})
		invoke(t, rc, addr, remoting.NewRequest(remoting.HeartBeat, nil, body))
	}

	delayed := string(message.AppendProperty(nil, message.PropertyDelayLevel, "2")) // 3 s
	if resp := send(t, rc, child.addr, "Later", 0, delayed, []byte("delayed")); resp.Code != remoting.Success {
		t.Fatalf("delayed send: %d %s", resp.Code, resp.Remark)
	}
	halfProps := message.AppendProperty(nil, message.PropertyTransactionPrepared, "true")
	halfProps = message.AppendProperty(halfProps, message.PropertyProducerGroup, "PG")
	halfProps = message.AppendProperty(halfProps, message.PropertyUniqKey, "HALF0000000000000000000000000001")
	h := sendHeader("TxTopic", 0, string(halfProps))
	h.SysFlag = message.SysFlagTxPrepared
	if resp := invoke(t, rc, child.addr, remoting.NewRequest(remoting.SendMessage, h, []byte("half"))); resp.Code != remoting.Success {
		t.Fatalf("half send: %d %s", resp.Code, resp.Remark)
	}
	child.stop(t, stop) // before the delay is due and before any check

	child = startChild(t, dir)
	producerHeartbeat(child.addr)
	select {
	case id := <-checks:
		if id != "HALF0000000000000000000000000001" {
			t.Fatalf("check-back for %q", id)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the unresolved half message was not checked after the restart")
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		if bodies := drain(t, rc, child.addr, "CG", "Later", 0); len(bodies) == 1 && bodies[0] == "delayed" {
			break
		} else if len(bodies) > 1 {
			t.Fatalf("delayed message delivered %d times: %v", len(bodies), bodies)
		}
		if time.Now().After(deadline) {
			t.Fatal("the pending delayed message was not delivered after the restart")
		}
		time.Sleep(100 * time.Millisecond)
	}
	child.kill(t)
}

func TestDamagedStoreAfterCleanStop(t *testing.T) { testDamagedStore(t, syscall.SIGTERM) }
func TestDamagedStoreAfterSIGKILL(t *testing.T)   { testDamagedStore(t, syscall.SIGKILL) }

// testDamagedStore stops a broker, zeroes the second half of the newest
// record and flips a body byte in the middle of the log, and restarts it:
// it must serve every other message, never a damaged one, and take sends.
func testDamagedStore(t *testing.T, stop syscall.Signal) {
	if testing.Short() {
		t.Skip("crash test")
	}
	dir := t.TempDir()
	child := startChild(t, dir)
	rc := netclient.New()
	defer rc.Close()
	const n = 200
	for i := range n {
		if resp := send(t, rc, child.addr, "Damaged", int32(i%2), "", []byte(fmt.Sprintf("m-%d", i))); resp.Code != remoting.Success {
			t.Fatalf("send %d: %d %s", i, resp.Code, resp.Remark)
		}
	}
	child.stop(t, stop)

	logDir := filepath.Join(dir, "commitlog")
	recs := logRecords(t, logDir, "Damaged")
	last, mid := recs[len(recs)-1], recs[len(recs)/2]
	patchFile(t, filepath.Join(logDir, fmt.Sprintf("%020d", 0)), last.off+int64(last.size)/2, make([]byte, last.size-last.size/2))
	patchFile(t, filepath.Join(logDir, fmt.Sprintf("%020d", 0)), mid.bodyAt, []byte{'X'})

	child = startChild(t, dir)
	defer child.kill(t)
	for q := range int32(2) {
		if resp := send(t, rc, child.addr, "Damaged", q, "", []byte(fmt.Sprintf("after-%d", q))); resp.Code != remoting.Success {
			t.Fatalf("send after restart: %d %s", resp.Code, resp.Remark)
		}
	}
	got := map[string]int{}
	for q := range int32(2) {
		for _, b := range drain(t, rc, child.addr, "CG", "Damaged", q) {
			got[b]++
		}
	}
	for i := range n {
		b := fmt.Sprintf("m-%d", i)
		want := 1
		if b == last.body || b == mid.body {
			want = 0
		}
		if got[b] != want {
			t.Errorf("message %s served %d times, want %d", b, got[b], want)
		}
	}
	if got["after-0"] != 1 || got["after-1"] != 1 || len(got) != n {
		t.Errorf("served %d distinct messages (%d after-0, %d after-1), want %d", len(got), got["after-0"], got["after-1"], n)
	}
}

type logRecord struct {
	off, bodyAt int64
	size        int32
	body        string
}

// logRecords walks the first commit-log file and returns topic's records.
func logRecords(t *testing.T, dir, topic string) []logRecord {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, fmt.Sprintf("%020d", 0)))
	if err != nil {
		t.Fatal(err)
	}
	var out []logRecord
	for pos := 0; pos+8 <= len(data) && !message.IsBlank(data[pos:]); {
		rec, err := message.ParseStored(data[pos:], true)
		if err != nil {
			break
		}
		if string(rec.Topic) == topic {
			// The body is followed by the topic (one length byte) and the
			// properties (two length bytes).
			bodyAt := int64(pos) + int64(rec.TotalSize) - int64(len(rec.Properties)) - 2 - int64(len(rec.Topic)) - 1 - int64(len(rec.Body))
			out = append(out, logRecord{int64(pos), bodyAt, rec.TotalSize, string(rec.Body)})
		}
		pos += int(rec.TotalSize)
	}
	return out
}

func patchFile(t *testing.T, path string, off int64, b []byte) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteAt(b, off); err != nil {
		t.Fatal(err)
	}
}
