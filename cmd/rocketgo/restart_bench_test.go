//go:build restartbench

package main

// The restart-time measurement of issue 22: a `rocketgo serve` store of
// 2 GiB (several topics and queues, consume queues, index files, consumer
// offsets, pending delay-level and timer messages, in-flight POP
// receipts), shut down cleanly, its files evicted from the page cache,
// then `rocketgo serve` timed from exec to its ready line and to a first
// acknowledged send.
//
//	go test -tags restartbench -run TestRestartTime -v -timeout 60m ./cmd/rocketgo
//
// RESTART_DIR keeps the store in (and reuses it from) a directory instead
// of a temporary one; RESTART_BYTES sets the log size (default 2 GiB);
// RESTART_RUNS the number of timed restarts (default 5); RESTART_WARM=1
// leaves the page cache alone; RESTART_LOG=debug passes -log-level debug
// and prints serve's startup-phase lines; RESTART_BINS=name=path,... runs
// prebuilt binaries, alternated run by run (an A/B against another build),
// instead of building this package.
//
// Only the store's own files are evicted (POSIX_FADV_DONTNEED per file),
// never the machine's whole page cache: others benchmark on it too.

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rocketgo/rocketgo/consumer"
	"github.com/rocketgo/rocketgo/loadtest"
	"github.com/rocketgo/rocketgo/message"
	"github.com/rocketgo/rocketgo/producer"
)

// serveProc is one `rocketgo serve` process.
type serveProc struct {
	cmd     *exec.Cmd
	ns      string
	began   time.Time     // exec
	ready   time.Duration // exec to the ready line
	line    string
	stderr  *strings.Builder
	stderrW *io.PipeWriter
}

func freePort(t *testing.T) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// execServe starts bin serve on dir and returns once it printed its ready
// line.
func execServe(t *testing.T, bin, dir string, extra ...string) *serveProc {
	t.Helper()
	nsPort, brPort := freePort(t), freePort(t)
	args := append([]string{"serve", "-data", dir, "-namesrv-port", strconv.Itoa(nsPort), "-broker-port", strconv.Itoa(brPort)}, extra...)
	cmd := exec.Command(bin, args...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	p := &serveProc{cmd: cmd, ns: fmt.Sprintf("127.0.0.1:%d", nsPort), stderr: &strings.Builder{}}
	errR, errW := io.Pipe()
	p.stderrW = errW
	cmd.Stderr = errW
	errDone := make(chan struct{})
	go func() {
		defer close(errDone)
		sc := bufio.NewScanner(errR)
		for sc.Scan() {
			p.stderr.WriteString(sc.Text() + "\n")
		}
	}()
	t0 := time.Now()
	p.began = t0
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string, 16)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	deadline := time.After(2 * time.Minute)
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				cmd.Wait()
				errW.Close()
				<-errDone
				t.Fatalf("serve exited before ready: %s", p.stderr.String())
			}
			if strings.HasPrefix(l, "rocketgo serve: ready") {
				p.ready = time.Since(t0)
				p.line = l
				go func() {
					for range lines {
					}
				}()
				return p
			}
		case <-deadline:
			cmd.Process.Kill()
			t.Fatalf("no ready line: %s", p.stderr.String())
		}
	}
}

// stop sends SIGTERM (a clean shutdown) and waits for the exit.
func (p *serveProc) stop(t *testing.T) time.Duration {
	t.Helper()
	t0 := time.Now()
	p.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- p.cmd.Wait() }()
	select {
	case err := <-done:
		p.stderrW.Close()
		if err != nil {
			t.Fatalf("serve exit: %v: %s", err, p.stderr.String())
		}
	case <-time.After(time.Minute):
		p.cmd.Process.Kill()
		t.Fatal("serve did not stop")
	}
	return time.Since(t0)
}

// evict writes back and drops every page of every file under dir from the
// page cache, as a reboot would, leaving other files' pages alone.
func evict(t *testing.T, dir string) {
	t.Helper()
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		syscall.Fdatasync(int(f.Fd()))
		const dontNeed = 4 // POSIX_FADV_DONTNEED
		if _, _, e := syscall.Syscall6(syscall.SYS_FADVISE64, f.Fd(), 0, 0, dontNeed, 0, 0); e != 0 {
			return fmt.Errorf("fadvise %s: %w", path, e)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func logBytes(dir string) int64 {
	var n int64
	ents, _ := os.ReadDir(filepath.Join(dir, "commitlog"))
	for _, e := range ents {
		if info, err := e.Info(); err == nil {
			n += info.Size()
		}
	}
	return n
}

// fill writes the store: a bulk topic through loadtest (16 queues, unique
// keys indexed), a tagged topic with business keys, consumer groups with
// committed offsets, pending delay-level and timer messages and POP
// receipts left unacknowledged, until the log holds size bytes.
func fill(t *testing.T, ns, dir string, size int64) {
	ctx := context.Background()
	p, err := producer.New(producer.WithNameServers(ns))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Shutdown(ctx)
	for _, tp := range []struct {
		name   string
		queues int
	}{{"RestartOrders", 8}, {"RestartEvents", 4}, {"RestartBulk", 16}} {
		if err := loadtest.CreateTopic(ctx, ns, tp.name, tp.queues); err != nil {
			t.Fatal(err)
		}
		if err := loadtest.WaitRoute(ctx, ns, tp.name); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 2000 {
		m := message.New("RestartOrders", []byte(fmt.Sprintf("order %d", i))).WithTags("TagA").WithKeys(fmt.Sprintf("order-%d", i))
		switch i % 10 {
		case 1:
			m = m.WithDelayLevel(18) // 2 h: still pending at every restart
		case 2:
			m = m.WithDelay(3 * time.Hour) // timer wheel
		case 3:
			m = m.WithDelayLevel(1)
		}
		if _, err := p.SendSync(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	// A push group with committed offsets and a POP group holding
	// receipts across the restarts.
	pc, err := consumer.NewPush(consumer.WithNameServers(ns), consumer.WithGroup("restart-push"), consumer.WithConsumeFrom(consumer.ConsumeFromFirstOffset))
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan struct{}, 4096)
	pc.Subscribe("RestartOrders", "*", func(ctx context.Context, cc *consumer.ConcurrentContext, msgs []*message.MessageExt) consumer.ConsumeResult {
		for range msgs {
			select {
			case got <- struct{}{}:
			default:
			}
		}
		return consumer.ConsumeSuccess
	})
	if err := pc.Start(ctx); err != nil {
		t.Fatal(err)
	}
	for range 500 {
		<-got
	}
	pc.Shutdown(ctx)
	sc, err := consumer.NewSimple("RestartEvents", "*", consumer.WithNameServers(ns), consumer.WithGroup("restart-pop"), consumer.WithConsumeFrom(consumer.ConsumeFromFirstOffset))
	if err != nil {
		t.Fatal(err)
	}
	for i := range 200 {
		if _, err := p.SendSync(ctx, message.New("RestartEvents", []byte(fmt.Sprintf("event %d", i)))); err != nil {
			t.Fatal(err)
		}
	}
	for range 10 {
		if _, err := sc.Receive(ctx, 16, time.Hour); err != nil {
			t.Fatal(err)
		}
	}
	sc.Close()
	for logBytes(dir) < size {
		missing := size - logBytes(dir)
		res, err := loadtest.Run(ctx, loadtest.Config{Mode: loadtest.ModeProduce, NameServer: ns, Topic: "RestartBulk",
			MessageSize: 1024, Messages: max(missing/1200, 10000), Senders: 32})
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("bulk: %d messages, log %d MiB", res.Sent, logBytes(dir)>>20)
	}
}

// firstSend: a new producer (route lookup, connection) sends one message
// and waits for its acknowledgement.
func firstSend(t *testing.T, ns string) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	p, err := producer.New(producer.WithNameServers(ns))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Shutdown(context.Background())
	for {
		_, err := p.SendSync(ctx, message.New("RestartOrders", []byte("after restart")))
		if err == nil {
			return
		}
		if ctx.Err() != nil {
			t.Fatalf("first send: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestRestartTime(t *testing.T) {
	size := int64(2 << 30)
	if v, err := strconv.ParseInt(os.Getenv("RESTART_BYTES"), 10, 64); err == nil && v > 0 {
		size = v
	}
	runs := 5
	if v, err := strconv.Atoi(os.Getenv("RESTART_RUNS")); err == nil && v > 0 {
		runs = v
	}
	dir := os.Getenv("RESTART_DIR")
	if dir == "" {
		dir = t.TempDir()
	}
	type binary struct{ name, path string }
	var bins []binary
	for _, nv := range strings.Split(os.Getenv("RESTART_BINS"), ",") {
		if name, path, ok := strings.Cut(nv, "="); ok {
			bins = append(bins, binary{name, path})
		}
	}
	if bins == nil {
		bin := filepath.Join(t.TempDir(), "rocketgo")
		build := exec.Command(filepath.Join(runtime.GOROOT(), "bin", "go"), "build", "-o", bin, ".")
		if out, err := build.CombinedOutput(); err != nil {
			t.Fatalf("go build: %v\n%s", err, out)
		}
		bins = []binary{{"this build", bin}}
	}
	var extra []string
	if lvl := os.Getenv("RESTART_LOG"); lvl != "" {
		extra = append(extra, "-log-level", lvl)
	}
	if logBytes(dir) < size {
		p := execServe(t, bins[len(bins)-1].path, dir)
		t0 := time.Now()
		fill(t, p.ns, dir, size)
		t.Logf("filled %s: %d MiB of log in %v", dir, logBytes(dir)>>20, time.Since(t0).Round(time.Second))
		p.stop(t)
	}
	t.Logf("store: %d MiB on disk, %d MiB of log", diskBytes(dir)>>20, logBytes(dir)>>20)
	ready, sent := map[string][]time.Duration{}, map[string][]time.Duration{}
	for i := range runs * len(bins) {
		bin := bins[i%len(bins)]
		if os.Getenv("RESTART_WARM") != "1" {
			evict(t, dir)
		}
		p := execServe(t, bin.path, dir, extra...)
		firstSend(t, p.ns)
		sentAt := time.Since(p.began)
		ready[bin.name] = append(ready[bin.name], p.ready)
		sent[bin.name] = append(sent[bin.name], sentAt)
		stopIn := p.stop(t)
		t.Logf("run %d (%s): ready %v, first send acknowledged %v, stop %v (%s)", i/len(bins)+1, bin.name, p.ready.Round(time.Millisecond), sentAt.Round(time.Millisecond), stopIn.Round(time.Millisecond), p.line)
		if extra != nil {
			for _, l := range strings.Split(p.stderr.String(), "\n") {
				if strings.Contains(l, "startup") || strings.Contains(l, "recover") {
					t.Log(l)
				}
			}
		}
	}
	med := func(ds []time.Duration) (time.Duration, time.Duration) {
		s := slices.Clone(ds)
		slices.Sort(s)
		return s[len(s)/2].Round(time.Millisecond), s[len(s)-1].Round(time.Millisecond)
	}
	cache := "cold (store evicted)"
	if os.Getenv("RESTART_WARM") == "1" {
		cache = "warm"
	}
	for _, bin := range bins {
		rm, rx := med(ready[bin.name])
		sm, sx := med(sent[bin.name])
		t.Logf("%s: clean restart of a %d MiB store, %s page cache, %d runs: ready median %v max %v; first send median %v max %v",
			bin.name, logBytes(dir)>>20, cache, runs, rm, rx, sm, sx)
	}
}
