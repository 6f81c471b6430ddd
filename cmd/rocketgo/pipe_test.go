package main

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// mainArgsEnv makes the test binary run main with these arguments, so a
// test can run the command as its own process.
const mainArgsEnv = "ROCKETGO_TEST_MAIN_ARGS"

func TestMain(m *testing.M) {
	if args := os.Getenv(mainArgsEnv); args != "" {
		os.Args = append([]string{"rocketgo"}, strings.Fields(args)...)
		main()
		return
	}
	os.Exit(m.Run())
}

// TestLoadtestPipedIntoHeadCleansUp: when the reader of its output goes
// away (`rocketgo loadtest | head -1`), loadtest stops as on Ctrl-C and
// removes its embedded server's data directory, instead of being killed
// by SIGPIPE and leaving the directory behind.
func TestLoadtestPipedIntoHeadCleansUp(t *testing.T) {
	tmp := t.TempDir()
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), mainArgsEnv+"=loadtest -duration 60s -senders 4", "TMPDIR="+tmp)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	if _, err := bufio.NewReader(out).ReadString('\n'); err != nil {
		t.Fatal(err)
	}
	out.Close() // head -1 exits
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	select {
	case <-exited:
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		<-exited
		t.Fatal("loadtest kept running after its output's reader left")
	}
	if left, _ := filepath.Glob(filepath.Join(tmp, "rocketgo-loadtest-*")); len(left) > 0 {
		t.Fatalf("data directories left behind: %v", left)
	}
}
