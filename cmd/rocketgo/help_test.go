package main

import (
	"bytes"
	"context"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/rocketgo/rocketgo/loadtest"
)

// TestHelpForEveryCommand: `rocketgo help CMD` and `rocketgo CMD -h` print
// the same help (synopsis, description, grouped flags, examples) to stdout
// and exit 0, for every command.
func TestHelpForEveryCommand(t *testing.T) {
	for name, c := range commands() {
		t.Run(name, func(t *testing.T) {
			if c.help.synopsis == "" || c.help.description == "" || len(c.help.examples) == 0 {
				t.Fatalf("command %s has no synopsis, description or examples", name)
			}
			var outs []string
			for _, args := range [][]string{{"help", name}, {name, "-h"}, {name, "--help"}} {
				var out, errOut bytes.Buffer
				if code := run(context.Background(), args, &out, &errOut); code != 0 {
					t.Fatalf("%q: exit %d, stderr %q", args, code, errOut.String())
				}
				if errOut.Len() != 0 {
					t.Fatalf("%q wrote to stderr: %q", args, errOut.String())
				}
				outs = append(outs, out.String())
			}
			if outs[0] != outs[1] || outs[1] != outs[2] {
				t.Fatalf("help %s and %s -h differ:\n%s\n---\n%s", name, name, outs[0], outs[1])
			}
			help := outs[0]
			for _, want := range []string{"usage: rocketgo " + name, "Examples:\n  rocketgo " + name} {
				if !strings.Contains(help, want) {
					t.Fatalf("help lacks %q:\n%s", want, help)
				}
			}
			for _, g := range c.help.groups {
				if !strings.Contains(help, "\n"+g.title+":\n") {
					t.Fatalf("help lacks group %q:\n%s", g.title, help)
				}
				for _, f := range g.flags {
					if !strings.Contains(help, "\n  -"+f+" ") && !strings.Contains(help, "\n  -"+f+"\n") {
						t.Fatalf("group %q names flag -%s, which the command does not have:\n%s", g.title, f, help)
					}
				}
			}
		})
	}
}

func TestBadFlagPointsAtHelp(t *testing.T) {
	for _, args := range [][]string{{"serve", "-bogus"}, {"loadtest", "-bogus"}, {"store", "check", "-bogus"}, {"version", "-bogus"}} {
		var out, errOut bytes.Buffer
		if code := run(context.Background(), args, &out, &errOut); code != 2 {
			t.Fatalf("%q: exit %d, want 2", args, code)
		}
		if !strings.Contains(errOut.String(), "-bogus") || !strings.Contains(errOut.String(), "rocketgo help "+args[0]) {
			t.Fatalf("%q: stderr %q names neither the flag nor the help", args, errOut.String())
		}
	}
}

func TestHelpUnknownCommand(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := run(context.Background(), []string{"help", "frobnicate"}, &out, &errOut); code != 2 {
		t.Fatalf("exit %d, want 2", code)
	}
	if !strings.Contains(errOut.String(), `unknown command "frobnicate"`) {
		t.Fatalf("stderr %q", errOut.String())
	}
}

func TestServeHelpDocumentsDevelopmentDefaults(t *testing.T) {
	var out, errOut bytes.Buffer
	run(context.Background(), []string{"help", "serve"}, &out, &errOut)
	for _, want := range []string{`(default "127.0.0.1")`, "mappedFileSizeCommitLog", "~/.rocketgo"} {
		if !strings.Contains(out.String(), want) {
			t.Fatalf("serve help lacks %q:\n%s", want, out.String())
		}
	}
	c := devConfig()
	if c.MappedFileSizeCommitLog != 64<<20 || c.MappedFileSizeConsumeQueue != 30_000*20 || c.MaxHashSlotNum != 100_000 || c.MaxIndexNum != 400_000 {
		t.Fatalf("serve's file sizes changed without its help text: %+v", c)
	}
}

func TestBuildDescription(t *testing.T) {
	cases := []struct {
		info *debug.BuildInfo
		want string
	}{
		{nil, "built without module information"},
		{&debug.BuildInfo{Main: debug.Module{Version: "(devel)"}}, "development build, no VCS data"},
		{&debug.BuildInfo{Main: debug.Module{Version: "v0.1.0"}}, "module v0.1.0"},
		{&debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Settings: []debug.BuildSetting{
			{Key: "vcs.revision", Value: "fdb6244a1b2c3d4e5f"}, {Key: "vcs.time", Value: "2026-12-05T10:00:00Z"}, {Key: "vcs.modified", Value: "true"},
		}}, "commit fdb6244a1b2c of 2026-12-05T10:00:00Z with local changes"},
	}
	for _, c := range cases {
		if got := buildDescription(c.info); !strings.HasPrefix(got, c.want) {
			t.Errorf("buildDescription(%+v) = %q, want prefix %q", c.info, got, c.want)
		}
	}
}

func TestLoadtestHeaderPerMode(t *testing.T) {
	base := loadtest.Config{Topic: "T", MessageSize: 128, Senders: 64, SendMode: loadtest.SendSync, BatchSize: 1, Consumers: 1, Group: "g"}
	consume := base
	consume.Mode = loadtest.ModeConsume
	if h := loadtestHeader(consume); strings.Contains(h, "senders") || !strings.Contains(h, "1 consumers in group g") {
		t.Fatalf("consume header %q", h)
	}
	produce := base
	produce.Mode = loadtest.ModeProduce
	if h := loadtestHeader(produce); !strings.Contains(h, "64 sync senders") || strings.Contains(h, "consumers") {
		t.Fatalf("produce header %q", h)
	}
	if h := loadtestHeader(base); !strings.Contains(h, "mode both") || !strings.Contains(h, "senders") || !strings.Contains(h, "consumers") {
		t.Fatalf("both header %q", h)
	}
}

// TestAdminHelpForEverySubcommand: `rocketgo admin help CMD`, `rocketgo
// admin CMD -h` and `--help` print the same help (usage, summary, every
// flag) to stdout and exit 0, for each of the admin commands.
func TestAdminHelpForEverySubcommand(t *testing.T) {
	for name, c := range adminCommands() {
		t.Run(name, func(t *testing.T) {
			var outs []string
			for _, args := range [][]string{{"admin", "help", name}, {"admin", name, "-h"}, {"admin", name, "--help"}} {
				var out, errOut bytes.Buffer
				if code := run(context.Background(), args, &out, &errOut); code != 0 {
					t.Fatalf("%q: exit %d, stderr %q", args, code, errOut.String())
				}
				if errOut.Len() != 0 {
					t.Fatalf("%q wrote to stderr: %q", args, errOut.String())
				}
				outs = append(outs, out.String())
			}
			if outs[0] != outs[1] || outs[1] != outs[2] {
				t.Fatalf("admin help %s and admin %s -h differ:\n%s\n---\n%s", name, name, outs[0], outs[1])
			}
			for _, want := range []string{"usage: rocketgo admin " + name + " ", name + ": " + c.summary + "\n", "\n  -n ", "\n  -o "} {
				if !strings.Contains(outs[0], want) {
					t.Fatalf("help lacks %q:\n%s", want, outs[0])
				}
			}
		})
	}
}
