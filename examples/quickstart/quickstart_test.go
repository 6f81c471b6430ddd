package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/rocketgo/rocketgo/server/embedded"
)

func startServer(t *testing.T) *embedded.Server {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	srv, err := embedded.StartLocal(ctx, embedded.SmallConfig(t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})
	return srv
}

// TestQuickstartRuns runs the example program against an embedded server,
// twice: the second run must see only its own messages.
func TestQuickstartRuns(t *testing.T) {
	srv := startServer(t)
	for range 2 {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		var out bytes.Buffer
		err := run(ctx, srv.NamesrvAddr(), 10, &out)
		cancel()
		if err != nil {
			t.Fatalf("run: %v\n%s", err, out.String())
		}
		if got := strings.Count(out.String(), "received "); got != 10 {
			t.Fatalf("received %d messages, want 10:\n%s", got, out.String())
		}
		if !strings.Contains(out.String(), "done: 10 sent, 10 received") {
			t.Fatalf("no summary line:\n%s", out.String())
		}
	}
}

// readmeProgram returns the README's "Use the SDK" program: the first
// ```go block after the "## Use the SDK" heading.
func readmeProgram(t *testing.T) string {
	t.Helper()
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(readme), "\n## Use the SDK\n")
	if !ok {
		t.Fatal(`README.md has no "## Use the SDK" section`)
	}
	_, rest, ok = strings.Cut(rest, "```go\n")
	if !ok {
		t.Fatal(`README.md's "Use the SDK" section has no go block`)
	}
	prog, _, ok := strings.Cut(rest, "```\n")
	if !ok {
		t.Fatal("unterminated go block in README.md")
	}
	return prog
}

// TestReadmeProgramIsThisExample keeps the README's program and this
// directory's main.go the same text, so what TestQuickstartRuns checks is
// what a reader copies.
func TestReadmeProgramIsThisExample(t *testing.T) {
	src, err := os.ReadFile("main.go")
	if err != nil {
		t.Fatal(err)
	}
	if prog := readmeProgram(t); prog != string(src) {
		t.Fatalf("README.md's \"Use the SDK\" program differs from examples/quickstart/main.go; copy main.go into the README")
	}
}

// TestReadmeProgramFromScratch does what a new user does: copies the
// README's program into a module of its own that requires rocketgo, builds
// it with the go command and runs it against a server.
func TestReadmeProgramFromScratch(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a program with the go command")
	}
	goBin := filepath.Join(runtime.GOROOT(), "bin", "go")
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	gomod := "module scratch\n\ngo 1.24.0\n\nrequire github.com/rocketgo/rocketgo v0.0.0\n\nreplace github.com/rocketgo/rocketgo => " + root + "\n"
	sum, err := os.ReadFile(filepath.Join(root, "go.sum"))
	if err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string][]byte{"go.mod": []byte(gomod), "go.sum": sum, "main.go": []byte(readmeProgram(t))} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	bin := filepath.Join(dir, "scratch")
	build := exec.Command(goBin, "build", "-mod=mod", "-o", bin, ".")
	build.Dir = dir
	build.Env = append(os.Environ(), "GOFLAGS=", "GOPROXY=off", "GOWORK=off")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build of the README program: %v\n%s", err, out)
	}
	srv := startServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, bin, "-namesrv", srv.NamesrvAddr()).CombinedOutput()
	if err != nil {
		t.Fatalf("README program: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "done: 10 sent, 10 received") {
		t.Fatalf("README program output:\n%s", out)
	}
}
