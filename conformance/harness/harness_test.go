package harness

import (
	"context"
	"errors"
	"flag"
	"net"
	"os"
	"strings"
	"testing"
	"time"
)

func TestPrecheckRefused(t *testing.T) {
	err := Precheck(context.Background(), "127.0.0.1:1")
	if !errors.Is(err, ErrUnreachable) {
		t.Fatalf("err %v, want ErrUnreachable", err)
	}
	if strings.Contains(err.Error(), "\n") || !strings.Contains(err.Error(), "127.0.0.1:1") {
		t.Fatalf("want one line naming the address, got %q", err)
	}
}

// A name server that accepts connections but never answers must not hang
// the suite: the check gives up after PrecheckTimeout.
func TestPrecheckSilentServer(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	done := make(chan struct{})
	defer close(done)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { <-done; c.Close() }()
		}
	}()
	start := time.Now()
	err = Precheck(context.Background(), ln.Addr().String())
	if !errors.Is(err, ErrUnreachable) {
		t.Fatalf("err %v, want ErrUnreachable", err)
	}
	if took := time.Since(start); took > PrecheckTimeout+5*time.Second {
		t.Fatalf("precheck took %v", took)
	}
}

func TestSetupEmbeddedAndPrecheckOK(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	env, err := Setup(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	defer env.Close(context.Background())
	if !env.Embedded || env.Broker() == nil {
		t.Fatal("Setup without an address must start an embedded server")
	}
	if err := Precheck(ctx, env.Namesrv); err != nil {
		t.Fatalf("precheck against the embedded server: %v", err)
	}
	if a, b := env.Name("x"), env.Name("x"); a == b || !strings.HasPrefix(a, "x_") {
		t.Fatalf("names %q, %q not unique", a, b)
	}
}

func TestTargetPrecedence(t *testing.T) {
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	RegisterFlags(fs)
	t.Setenv(EnvNamesrv, "env:1")
	if got := Target(fs); got != "env:1" {
		t.Fatalf("env only: %q", got)
	}
	if err := fs.Parse([]string{"-namesrv", "flag:2"}); err != nil {
		t.Fatal(err)
	}
	if got := Target(fs); got != "flag:2" {
		t.Fatalf("flag wins: %q", got)
	}
}

// TestMain accepts the suite's flags so `go test ./conformance/... -args
// -namesrv host:port` also works for this package.
func TestMain(m *testing.M) {
	RegisterFlags(flag.CommandLine)
	os.Exit(m.Run())
}
