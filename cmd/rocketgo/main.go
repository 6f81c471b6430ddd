// Command rocketgo runs the rocketgo name server, broker, an embedded
// all-in-one server, and the load-test tool.
//
//	rocketgo serve                 # name server :9876 + broker :10911
//	rocketgo serve -cluster 3      # name server + controller + a 3-replica failover set
//	rocketgo namesrv -listen :9876
//	rocketgo controller -c controller.conf
//	rocketgo broker -c broker.conf -namesrv 127.0.0.1:9876
//	rocketgo store check -data DIR [-repair]
//	rocketgo admin topicList -n 127.0.0.1:9876
//	rocketgo console -n 127.0.0.1:9876
//	rocketgo version
//
// Every subcommand takes its own flags; `rocketgo help CMD` describes them.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"syscall"
)

// command is one subcommand. run receives the arguments after the
// subcommand name and returns the process exit code.
type command struct {
	summary string
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) int
	help    helpText
}

func commands() map[string]command {
	cmds := map[string]command{
		"version":    {summary: "print the rocketgo version", run: runVersion},
		"namesrv":    {summary: "run a name server", run: runNamesrv},
		"broker":     {summary: "run a broker (broker.conf keys, -set overrides)", run: runBroker},
		"serve":      {summary: "run a name server and a broker in one process (-cluster N: a failover cluster), for development", run: runServe},
		"controller": {summary: "run a controller node (controller mode: automatic failover)", run: runController},
		"loadtest":   {summary: "benchmark a cluster or an embedded server (RocketMQ benchmark output)", run: runLoadtest},
		"admin":      {summary: "administer a cluster with mqadmin's commands (rocketgo admin help)", run: runAdmin},
		"store":      {summary: "check (and -repair) a stopped broker's store: store check -data DIR", run: runStore},
		"console":    {summary: "serve the web console for a cluster (http://127.0.0.1:8080)", run: runConsole},
	}
	for name, h := range helpTexts() {
		c := cmds[name]
		c.help = h
		cmds[name] = c
	}
	return cmds
}

func main() {
	// Output piped into `head` or `grep -m1` that exits would kill the
	// process by SIGPIPE on its next write to stdout, before a loadtest's
	// embedded server removes its data directory. With SIGPIPE ignored
	// the write fails with EPIPE instead, and a stdout that fails so stops
	// the command as Ctrl-C does. (Catching SIGPIPE with Notify would
	// deliver it for every broken socket as well, and stop a server each
	// time a client vanished mid-write.)
	signal.Ignore(syscall.SIGPIPE)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	ctx, readerGone := context.WithCancel(ctx)
	code := run(ctx, os.Args[1:], stdoutWriter{readerGone}, os.Stderr)
	readerGone()
	stop()
	os.Exit(code)
}

// stdoutWriter writes to os.Stdout and calls gone once its reader has left
// (EPIPE).
type stdoutWriter struct{ gone context.CancelFunc }

func (w stdoutWriter) Write(p []byte) (int, error) {
	n, err := os.Stdout.Write(p)
	if errors.Is(err, syscall.EPIPE) {
		w.gone()
	}
	return n, err
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cmds := commands()
	if len(args) >= 2 && args[0] == "help" {
		if c, ok := cmds[args[1]]; ok {
			return c.run(ctx, []string{"-h"}, stdout, stderr)
		}
		fmt.Fprintf(stderr, "rocketgo help: unknown command %q\n", args[1])
		usage(stderr, cmds)
		return 2
	}
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		usage(stdout, cmds)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	c, ok := cmds[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "rocketgo: unknown command %q\n", args[0])
		usage(stderr, cmds)
		return 2
	}
	return c.run(ctx, args[1:], stdout, stderr)
}

func usage(w io.Writer, cmds map[string]command) {
	fmt.Fprintln(w, "usage: rocketgo <command> [flags]")
	fmt.Fprintln(w, "\ncommands:")
	names := make([]string, 0, len(cmds))
	for n := range cmds {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-10s %s\n", n, cmds[n].summary)
	}
	fmt.Fprintln(w, "\nrun 'rocketgo help <command>' (or 'rocketgo <command> -h') for its flags and examples")
}
