//go:build failover

// The long failover test: brokers run as child processes (this test
// binary, re-executed) and the master is killed with SIGKILL ten times
// under 32 synchronous senders. Run it with
//
//	go test -tags failover -run TestFailoverKill9 -v -timeout 30m ./server/embedded/
package embedded_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/montanaflynn/stats"

	"github.com/rocketgo/rocketgo/remoting/netclient"
	"github.com/rocketgo/rocketgo/server/broker"
	"github.com/rocketgo/rocketgo/server/controller"
	"github.com/rocketgo/rocketgo/server/namesrv"
)

const childEnv = "ROCKETGO_FAILOVER_CHILD"

// TestHelperFailoverBroker is the child: one controller-mode broker, run
// until killed. It does nothing in a normal run.
func TestHelperFailoverBroker(t *testing.T) {
	raw := os.Getenv(childEnv)
	if raw == "" {
		t.Skip("helper process for TestFailoverKill9")
	}
	var cfg broker.Config
	if err := json.Unmarshal([]byte(raw), &cfg); err != nil {
		fmt.Println("ERROR", err)
		os.Exit(1)
	}
	b, err := broker.New(cfg)
	if err == nil {
		err = b.Start(context.Background())
	}
	if err != nil {
		fmt.Println("ERROR", err)
		os.Exit(1)
	}
	fmt.Println("READY", b.Addr())
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM)
	<-sig
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	b.Shutdown(ctx)
	os.Exit(0)
}

type child struct {
	cfg  broker.Config
	cmd  *exec.Cmd
	addr string
}

func startChild(t *testing.T, c *child) {
	t.Helper()
	raw, _ := json.Marshal(c.cfg)
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperFailoverBroker$")
	cmd.Env = append(os.Environ(), childEnv+"="+string(raw))
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		line := sc.Text()
		if addr, ok := strings.CutPrefix(line, "READY "); ok {
			c.cmd, c.addr = cmd, addr
			go func() {
				for sc.Scan() {
				}
			}()
			return
		}
		if strings.HasPrefix(line, "ERROR") {
			t.Fatal(line)
		}
	}
	t.Fatal("child exited before it was ready")
}

func TestFailoverKill9(t *testing.T) {
	dir := t.TempDir()
	ports, err := freeTCPPorts(6)
	if err != nil {
		t.Fatal(err)
	}
	cc := fastFailover(dir, 1, 3).Controller
	cc.Peers = fmt.Sprintf("n0-127.0.0.1:%d", ports[1])
	cc.RaftPeers = fmt.Sprintf("n0-127.0.0.1:%d", ports[2])
	cc.StorePath = dir + "/controller"
	ctl, err := controller.New(cc)
	if err != nil {
		t.Fatal(err)
	}
	ns := namesrv.New(namesrv.WithListenAddr(fmt.Sprintf("127.0.0.1:%d", ports[0])), namesrv.WithController(ctl))
	if err := ns.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer ns.Shutdown(context.Background())

	children := make([]*child, 3)
	for i := range children {
		bc := fastFailover(dir, 1, 3).Broker
		bc.BrokerName = "broker-a"
		bc.StorePathRootDir = fmt.Sprintf("%s/broker-%d", dir, i)
		bc.ListenHost, bc.ListenPort = "127.0.0.1", ports[3+i]
		bc.NamesrvAddr = ns.Addr()
		bc.EnableControllerMode, bc.ControllerAddr = true, ctl.Addr()
		bc.FlushDiskType = broker.SyncFlush // a kill -9 may lose nothing acknowledged by a lone master either
		children[i] = &child{cfg: bc}
		startChild(t, children[i])
	}
	defer func() {
		for _, c := range children {
			if c.cmd != nil {
				c.cmd.Process.Signal(syscall.SIGTERM)
				c.cmd.Wait()
			}
		}
	}()
	rpc := netclient.New()
	defer rpc.Close()
	cl, _ := controller.NewClient(rpc, ctl.Addr())
	state := func() (master string, inSync int) {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		info, err := cl.SyncStateData(ctx, "broker-a")
		if err != nil {
			return "", 0
		}
		ri := info.ReplicasInfoTable["broker-a"]
		for _, r := range ri.InSyncReplicas {
			if r.Alive {
				inSync++
			}
		}
		return ri.MasterAddress, inSync
	}
	waitState := func(what string, d time.Duration, ok func(master string, inSync int) bool) string {
		deadline := time.Now().Add(d)
		for time.Now().Before(deadline) {
			if m, n := state(); ok(m, n) {
				return m
			}
			time.Sleep(50 * time.Millisecond)
		}
		t.Fatalf("timed out waiting for %s", what)
		return ""
	}
	waitState("three in-sync replicas", 60*time.Second, func(m string, n int) bool { return m != "" && n == 3 })

	const topic = "Kill9"
	l := startLoad(t, ns.Addr(), topic, 32)
	waitAcked(t, l, 500, 60*time.Second)
	var takes []float64
	for round := range 10 {
		master := waitState("a master with three in-sync replicas", 60*time.Second, func(m string, n int) bool { return m != "" && n == 3 })
		i := slices.IndexFunc(children, func(c *child) bool { return c.addr == master })
		if i < 0 {
			t.Fatalf("master %s is none of the children", master)
		}
		killed := time.Now()
		children[i].cmd.Process.Signal(syscall.SIGKILL)
		children[i].cmd.Wait()
		took, ok := l.waitAckFrom(killed, master, 10*time.Second)
		if !ok {
			t.Fatalf("round %d: no new master served within 10 s of kill -9", round)
		}
		takes = append(takes, float64(took.Milliseconds()))
		t.Logf("round %d: killed %s, new master serving after %v", round, master, took)
		startChild(t, children[i])
	}
	missing, dups, acked := l.finish(60 * time.Second)
	if len(missing) > 0 {
		t.Fatalf("%d of %d acknowledged messages never delivered, e.g. %v", len(missing), acked, missing[:min(5, len(missing))])
	}
	p50, _ := stats.Percentile(takes, 50)
	mx, _ := stats.Max(takes)
	t.Logf("kill -9 ×%d under 32 senders: failover p50 %.0f ms, max %.0f ms; %d acknowledged, 0 lost, %d duplicate deliveries, %d attempts not SEND_OK",
		len(takes), p50, mx, acked, dups, l.notOK.Load())
}

func freeTCPPorts(n int) ([]int, error) {
	var lns []net.Listener
	defer func() {
		for _, ln := range lns {
			ln.Close()
		}
	}()
	var out []int
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		lns = append(lns, ln)
		out = append(out, ln.Addr().(*net.TCPAddr).Port)
	}
	return out, nil
}
