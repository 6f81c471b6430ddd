package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
)

// helpText is what `rocketgo help CMD` and `rocketgo CMD -h` print, around
// the command's flags.
type helpText struct {
	synopsis    string   // "rocketgo serve [flags]"
	description string   // paragraphs, already wrapped
	groups      []group  // flags in the order a reader needs them; the rest follow as "Other flags"
	examples    []string // command lines, each optionally followed by "  # comment"
}

type group struct {
	title string
	flags []string
}

// parseFlags parses a subcommand's flags. -h and -help print the command's
// help to stdout and end it with exit 0; a bad flag is reported on stderr
// with a pointer to the help and exit 2. ok says whether to go on.
func parseFlags(fs *flag.FlagSet, name string, args []string, stdout, stderr io.Writer) (code int, ok bool) {
	fs.SetOutput(stderr)
	fs.Usage = func() {} // help goes to stdout below, errors stay short
	err := fs.Parse(args)
	switch {
	case errors.Is(err, flag.ErrHelp):
		printHelp(stdout, name, fs)
		return 0, false
	case err != nil:
		fmt.Fprintf(stderr, "run 'rocketgo help %s' for its flags and examples\n", name)
		return 2, false
	}
	return 0, true
}

func printHelp(w io.Writer, name string, fs *flag.FlagSet) {
	h := commands()[name].help
	fmt.Fprintf(w, "usage: %s\n\n%s\n", h.synopsis, strings.TrimSpace(h.description))
	if fs != nil {
		printed := map[string]bool{}
		for _, g := range h.groups {
			fmt.Fprintf(w, "\n%s:\n", g.title)
			for _, f := range g.flags {
				if fl := fs.Lookup(f); fl != nil {
					printFlag(w, fl)
					printed[f] = true
				}
			}
		}
		var rest []*flag.Flag
		fs.VisitAll(func(f *flag.Flag) {
			if !printed[f.Name] {
				rest = append(rest, f)
			}
		})
		if len(rest) > 0 {
			title := "Other flags"
			if len(h.groups) == 0 {
				title = "Flags"
			}
			fmt.Fprintf(w, "\n%s:\n", title)
			for _, f := range rest {
				printFlag(w, f)
			}
		}
	}
	if len(h.examples) > 0 {
		fmt.Fprintln(w, "\nExamples:")
		for _, e := range h.examples {
			fmt.Fprintf(w, "  %s\n", e)
		}
	}
}

// printFlag prints one flag the way flag.PrintDefaults does, one line for
// the name and one for the text.
func printFlag(w io.Writer, f *flag.Flag) {
	argName, usage := flag.UnquoteUsage(f)
	line := "  -" + f.Name
	if argName != "" {
		line += " " + argName
	}
	fmt.Fprintf(w, "%s\n    \t%s", line, strings.ReplaceAll(usage, "\n", "\n    \t"))
	if f.DefValue != "" && f.DefValue != "false" && f.DefValue != "0" && f.DefValue != "[]" {
		if argName == "string" {
			fmt.Fprintf(w, " (default %q)", f.DefValue)
		} else {
			fmt.Fprintf(w, " (default %s)", f.DefValue)
		}
	}
	fmt.Fprintln(w)
}

var brokerGroups = []group{
	{"Configuration", []string{"c", "set", "data"}},
	{"Logging", []string{"log-level"}},
}

func helpTexts() map[string]helpText {
	return map[string]helpText{
		"console": consoleHelp,
		"version": {
			synopsis:    "rocketgo version",
			description: "Print rocketgo's release, the module version and commit it was built from (when the\nbuild recorded them), the Go version and platform, and the RocketMQ version the servers report.",
			examples:    []string{"rocketgo version"},
		},
		"serve": {
			synopsis: "rocketgo serve [flags]",
			description: `Run a name server and a broker in one process, for development. Clients connect to
the name server (default 127.0.0.1:9876); the broker listens on 10911. The line
"rocketgo serve: ready" is printed once the broker has registered with the name server.

Development defaults differ from 'rocketgo broker': serve binds loopback only (-host
to change), keeps its data in ~/.rocketgo, and sizes its files for a laptop: 64 MiB
commit-log segments (mappedFileSizeCommitLog), 30,000-entry consume-queue files
(mappedFileSizeConsumeQueue) and 8 MB index files (maxHashSlotNum=100000,
maxIndexNum=400000). Nothing is preallocated before the first message; a topic's first
messages take about 75 MB. -c and -set override every key, with RocketMQ's names.`,
			groups: append([]group{{"Network", []string{"host", "namesrv-port", "broker-port"}}, {"High availability", []string{"cluster"}}}, brokerGroups...),
			examples: []string{
				"rocketgo serve                                   # 127.0.0.1:9876 and :10911, data in ~/.rocketgo",
				"rocketgo serve -host 0.0.0.0                     # reachable from other machines",
				"rocketgo serve -data /tmp/rg -namesrv-port 0 -broker-port 0   # free ports, scratch data",
				`rocketgo serve -set flushDiskType=SYNC_FLUSH -set messageDelayLevel="1s 5s 10s"`,
				"rocketgo serve -set mappedFileSizeCommitLog=1073741824   # upstream's 1 GiB segments",
				"rocketgo serve -cluster 3                        # controller mode: three replicas, failover",
			},
		},
		"namesrv": {
			synopsis:    "rocketgo namesrv [flags]",
			description: "Run a name server: brokers register their topics with it, clients ask it for routes.\nRun one or more per cluster; give brokers and clients all of them, separated by ';'.",
			groups: []group{
				{"Network", []string{"listen"}},
				{"Brokers", []string{"scan-interval", "broker-timeout"}},
				{"Storage and logging", []string{"kv-config", "log-level"}},
				{"Embedded controller", []string{"c", "set"}},
			},
			examples: []string{
				"rocketgo namesrv                                 # :9876 on every interface",
				"rocketgo namesrv -listen 127.0.0.1:9876 -log-level warn",
			},
		},
		"controller": {
			synopsis: "rocketgo controller [flags]",
			description: `Run one controller node of controller mode (automatic failover): the controllers
elect each broker group's master among its replicas, by Raft among themselves. Give
every node the same controllerDLegerPeers and its own controllerDLegerSelfId; brokers
find them through controllerAddr. A name server can host a controller instead
('rocketgo namesrv -set enableControllerInNamesrv=true').`,
			groups: []group{
				{"Configuration", []string{"c", "set", "listen"}},
				{"Logging", []string{"log-level"}},
			},
			examples: []string{
				"rocketgo controller -c controller.conf",
				"rocketgo controller -set controllerDLegerPeers=n0-127.0.0.1:9878;n1-127.0.0.1:9868;n2-127.0.0.1:9858 -set controllerDLegerSelfId=n0",
			},
		},
		"broker": {
			synopsis: "rocketgo broker [flags]",
			description: `Run a broker with upstream RocketMQ's production defaults (1 GiB commit-log segments,
~400 MB index files, data in ~/store). broker.conf uses RocketMQ's key names
(brokerClusterName, brokerName, brokerId, namesrvAddr, listenPort, brokerIP1,
storePathRootDir, flushDiskType, brokerRole, ...); -set overrides one key; unknown keys
are warned about and invalid values stop the broker naming the key.`,
			groups: append([]group{{"Cluster", []string{"namesrv"}}}, brokerGroups...),
			examples: []string{
				"rocketgo broker -c broker.conf -namesrv 127.0.0.1:9876",
				"rocketgo broker -c broker-a-s.conf -set brokerId=1 -set brokerRole=SLAVE   # a slave",
			},
		},
		"loadtest": {
			synopsis: "rocketgo loadtest [flags] | rocketgo loadtest report RESULT.json... [-html FILE]",
			description: `Benchmark a cluster, or, without -namesrv, an embedded server in a temporary directory.
Mode both sends and consumes (end to end: latency, lost and duplicated messages); produce
and consume run one side. Live lines and the summary follow RocketMQ's benchmark tools.
Ctrl-C ends the run early: sending stops, in-flight sends finish, and the summary follows.
-json writes OpenMessaging Benchmark JSON, -html a self-contained page of charts.
'rocketgo loadtest report a.json b.json -html cmp.html' compares saved results: a table
against the first on stdout, and one page overlaying their charts.`,
			groups: []group{
				{"Target", []string{"namesrv", "topic", "queues", "create-topic", "group", "tags"}},
				{"Load", []string{"mode", "duration", "messages", "warmup", "size", "producers", "senders", "send-mode", "batch", "inflight", "rate", "consumers"}},
				{"Messages", []string{"keys", "property-size", "delay-level", "tag-count"}},
				{"Reporting", []string{"interval", "drain-timeout", "max-error-rate", "json", "html", "slow-log", "slow-over", "log-level"}},
			},
			examples: []string{
				"rocketgo loadtest                                # embedded server, ~10 s end to end",
				"rocketgo loadtest -namesrv 10.0.0.5:9876 -topic Bench -create-topic -queues 8",
				"rocketgo loadtest -mode produce -send-mode async -batch 32 -duration 30s",
				"rocketgo loadtest -messages 100000 -json result.json",
				"rocketgo loadtest -mode produce -warmup 10s -duration 60s -json - > result.json   # OpenMessaging JSON only on stdout",
				"rocketgo loadtest -duration 30s -json a.json -html a.html      # charts of TPS and latency over time",
				"rocketgo loadtest report a.json b.json -html cmp.html          # compare saved runs",
				"rocketgo loadtest -mode produce -keys -property-size 64 -tag-count 4",
				"rocketgo loadtest -mode produce -size 16384 -slow-log slow.csv -slow-over 10ms   # when the tail happened",
				"rocketgo loadtest -trace-compare 10 -duration 3s    # what message trace costs: off/on phase pairs against one server",
			},
		},
		"admin": {
			synopsis: "rocketgo admin <command> [-n namesrv] [-o table|json] [flags]",
			description: `Administer a cluster with mqadmin's commands and flag names: topics, consumer
groups and their progress, brokers and their configuration, messages by id, key or
offset. -n names the name servers (default $NAMESRV_ADDR, else 127.0.0.1:9876); -o json
prints what the admin package returns. On clusters with ACL on, -access-key and
-secret-key (default $ROCKETGO_ACCESS_KEY, $ROCKETGO_SECRET_KEY) sign every request;
writes need an admin account. 'rocketgo admin help <command>' lists a command's flags.`,
			examples: []string{
				"rocketgo admin clusterList",
				"rocketgo admin topicList -o json",
				"rocketgo admin updateTopic -t Orders -c DefaultCluster -r 8 -w 8",
				"rocketgo admin consumerProgress -g OrderService",
				"rocketgo admin help queryMsgByKey",
			},
		},
		"store": {
			synopsis: "rocketgo store check [-data DIR] [-repair] [flags]",
			description: `Check a stopped broker's store: commit log records, consume queues, index and
checkpoint against each other. Exit 0 when consistent, 1 when damaged, 3 when the store
cannot be read. -repair fixes what it finds as recovery would; never run it on a store
a broker is using.`,
			groups: []group{
				{"Store", []string{"data", "repair"}},
				{"File sizes (inferred when 0)", []string{"commitlog-size", "cq-entries", "index-slots", "index-entries"}},
			},
			examples: []string{
				"rocketgo store check                             # serve's store in ~/.rocketgo",
				"rocketgo store check -data /var/lib/rocketmq -repair",
			},
		},
	}
}
