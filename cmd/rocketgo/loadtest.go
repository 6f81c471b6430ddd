package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/pprof"
	"time"

	"github.com/rocketgo/rocketgo/loadtest"
)

// runLoadtest is `rocketgo loadtest`: flags onto loadtest.Config, live
// lines to stdout, optional JSON summary, exit 1 when errors pass the
// threshold and 2 for bad flags.
func runLoadtest(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "report" {
		return runLoadtestReport(args[1:], stdout, stderr)
	}
	fs := flag.NewFlagSet("loadtest", flag.ContinueOnError)
	var cfg loadtest.Config
	var mode, sendMode string
	fs.StringVar(&mode, "mode", string(loadtest.ModeBoth), "produce, consume or both (end-to-end)")
	fs.StringVar(&cfg.NameServer, "namesrv", "", "name server `addresses`, host:port;host:port (default: start an embedded server in a temporary directory)")
	fs.StringVar(&cfg.Topic, "topic", loadtest.DefaultTopic, "topic")
	fs.IntVar(&cfg.Queues, "queues", loadtest.DefaultQueues, "queue count when the tool creates the topic")
	fs.BoolVar(&cfg.CreateTopic, "create-topic", false, "create the topic on every master first (for brokers with auto-create off)")
	fs.IntVar(&cfg.MessageSize, "size", loadtest.DefaultMessageSize, "message body size in bytes (at least 24)")
	fs.IntVar(&cfg.Producers, "producers", loadtest.DefaultProducers, "producer instances")
	fs.IntVar(&cfg.Senders, "senders", loadtest.DefaultSenders, "concurrent sender goroutines in total (RocketMQ's -w)")
	fs.StringVar(&sendMode, "send-mode", string(loadtest.SendSync), "sync, async or oneway")
	fs.IntVar(&cfg.BatchSize, "batch", loadtest.DefaultBatchSize, "messages per send (1 = no batching)")
	fs.IntVar(&cfg.MaxInflight, "inflight", loadtest.DefaultMaxInflight, "maximum unanswered async sends (the producers' async limit; SendAsync waits for a slot)")
	fs.Float64Var(&cfg.Rate, "rate", 0, "target send rate in messages/s over all senders (0 = unlimited)")
	fs.DurationVar(&cfg.Duration, "duration", loadtest.DefaultDuration, "length of the send phase (ignored with -messages)")
	fs.Int64Var(&cfg.Messages, "messages", 0, "send exactly this many messages instead of running for -duration")
	fs.DurationVar(&cfg.Warmup, "warmup", 0, "warm-up `duration` before the measured phase, left out of every figure (OpenMessaging's warm-up)")
	fs.IntVar(&cfg.Consumers, "consumers", loadtest.DefaultConsumers, "push consumers")
	fs.StringVar(&cfg.Group, "group", loadtest.DefaultGroup, "consumer group")
	fs.BoolVar(&cfg.Trace, "trace", false, "message trace on producers and consumers (to RMQ_SYS_TRACE_TOPIC), to measure its cost")
	traceCompare := fs.Int("trace-compare", 0, "measure trace's cost: run this many `pairs` of phases, trace off and on in alternating order, each -duration long, against one server, and print the on/off send TPS and the process CPU per message of each pair, the TPS ratios' median and quartiles, the CPU ratio's median, and how much of the machine sat idle or went to the hypervisor meanwhile (try -duration 3s)")
	fs.BoolVar(&cfg.Keys, "keys", false, "set a key on every message, the send time in seconds, as RocketMQ's benchmark -k (the broker indexes it)")
	fs.IntVar(&cfg.PropertySize, "property-size", 0, "add user properties of about this many characters to every message (RocketMQ's benchmark -p)")
	compressOver := fs.Int("compress-over", loadtest.DefaultCompressOver, "zlib-compress single message bodies from this many `bytes` up, as RocketMQ's producer (compressMsgBodyOverHowmuch); 0 turns compression off. Bodies are zeros after a 24-byte stamp and shrink to a few dozen bytes: use 0 to compare with tools that send raw bodies")
	fs.IntVar(&cfg.DelayLevel, "delay-level", 0, "send every message with this delay `level` 1..18 (1s … 2h; RocketMQ's benchmark -d -e); end-to-end latency includes the delay")
	fs.IntVar(&cfg.TagCount, "tag-count", 0, "tag messages tag0 … tag<N-1> in turn, consumers take all (RocketMQ's benchmark -l); not with -tags")
	fs.StringVar(&cfg.Tags, "tags", "", "tag set on messages and used as the subscription (default: none, subscribe to all)")
	fs.DurationVar(&cfg.ReportInterval, "interval", loadtest.DefaultReportInterval, "live report interval")
	fs.DurationVar(&cfg.DrainTimeout, "drain-timeout", loadtest.DefaultDrainTimeout, "how long mode both waits for consumers to catch up")
	fs.Float64Var(&cfg.MaxErrorRate, "max-error-rate", 0, "fraction of failed or lost messages (0..1) above which the exit code is 1")
	jsonPath := fs.String("json", "", "write the summary as OpenMessaging-Benchmark-style JSON to `file` (- for stdout: JSON only, the report goes to stderr)")
	htmlPath := fs.String("html", "", "write a self-contained HTML report (throughput and latency charts) to `file`")
	slowLog := fs.String("slow-log", "", "write every send at least -slow-over slow to `file` as CSV (start, end, latency in µs): when the tail happened, and whether senders stalled together")
	slowOver := fs.Duration("slow-over", 10*time.Millisecond, "latency from which -slow-log keeps a send (pick one above the usual p99)")
	logLevel := fs.String("log-level", "error", "SDK and embedded server log level: debug, info, warn or error")
	fs.StringVar(&cfg.Credentials.AccessKey, "access-key", "", "ACL access key to sign every request with (with -secret-key)")
	fs.StringVar(&cfg.Credentials.SecretKey, "secret-key", "", "ACL secret key")
	useTLS := fs.Bool("tls", false, "connect over TLS, verifying the servers with the system roots (plus -tls-ca)")
	tlsCA := fs.String("tls-ca", "", "PEM `file` of extra roots to trust with -tls (e.g. a self-signed server certificate)")
	fs.BoolVar(&cfg.EmbeddedACL, "acl", false, "start the embedded server with ACL on, the -access-key account (default "+loadtest.DefaultAccessKey+") as its admin")
	fs.StringVar(&cfg.EmbeddedMetrics, "metrics", "", "serve the embedded server's Prometheus metrics on `addr` (127.0.0.1:0 for a free port), to measure their cost")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the whole run (client side and, without -namesrv, the embedded server) to `file`, for go tool pprof")
	memProfile := fs.String("memprofile", "", "write an allocation profile of the whole run (client side and, without -namesrv, the embedded server) to `file` when it ends, for go tool pprof -sample_index=alloc_space")
	if code, ok := parseFlags(fs, "loadtest", args, stdout, stderr); !ok {
		return code
	}
	if *useTLS || *tlsCA != "" {
		tc, err := clientTLS(*tlsCA)
		if err != nil {
			fmt.Fprintln(stderr, "rocketgo loadtest:", err)
			return 2
		}
		cfg.TLS = tc
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "rocketgo loadtest: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	if cfg.NameServer == "" {
		// The embedded server is a broker in this process: it runs with
		// the GC setting `serve` gives a broker, and with the Ps a broker
		// and a client process would have apart, or the figures of the
		// README's main run would not be those of a real deployment. A
		// load test of a remote cluster keeps Go's defaults, as an
		// application using the SDK does.
		tuneGC()
		tuneEmbedded()
	}
	if *slowLog != "" {
		if *slowOver <= 0 {
			fmt.Fprintln(stderr, "rocketgo loadtest: -slow-over must be positive")
			return 2
		}
		cfg.SlowOver = *slowOver
	}
	cfg.Mode, cfg.SendMode = loadtest.Mode(mode), loadtest.SendMode(sendMode)
	cfg.CompressOver = *compressOver
	if cfg.CompressOver <= 0 {
		cfg.CompressOver = -1 // Config's "off"; its 0 is the default
	}
	log, err := newLogger(stderr, *logLevel)
	if err != nil {
		fmt.Fprintln(stderr, "rocketgo loadtest:", err)
		return 2
	}
	cfg.Logger = log
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			fmt.Fprintln(stderr, "rocketgo loadtest:", err)
			return 2
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintln(stderr, "rocketgo loadtest: -cpuprofile:", err)
			return 2
		}
		defer pprof.StopCPUProfile()
	}
	if *memProfile != "" {
		f, err := os.Create(*memProfile)
		if err != nil {
			fmt.Fprintln(stderr, "rocketgo loadtest:", err)
			return 2
		}
		defer func() {
			// The allocation counts are complete after a collection.
			runtime.GC()
			if err := pprof.Lookup("allocs").WriteTo(f, 0); err != nil {
				fmt.Fprintln(stderr, "rocketgo loadtest: -memprofile:", err)
			}
			f.Close()
		}()
	}
	if *traceCompare > 0 {
		if *jsonPath != "" || *htmlPath != "" || *slowLog != "" {
			fmt.Fprintln(stderr, "rocketgo loadtest: -trace-compare prints its own summary; it does not take -json, -html or -slow-log")
			return 2
		}
		cfg.Out = stdout
		fmt.Fprintln(stdout, loadtestHeader(cfg))
		if _, err := loadtest.CompareTrace(ctx, cfg, *traceCompare); err != nil {
			fmt.Fprintln(stderr, "rocketgo loadtest:", err)
			return 1
		}
		return 0
	}
	report := reportWriter(*jsonPath, stdout, stderr)
	cfg.Out = report
	fmt.Fprintln(report, loadtestHeader(cfg))
	res, err := loadtest.Run(ctx, cfg)
	if err != nil {
		fmt.Fprintln(stderr, "rocketgo loadtest:", err)
		return 1
	}
	if *jsonPath != "" {
		if err := writeJSON(*jsonPath, res, stdout, report); err != nil {
			fmt.Fprintln(stderr, "rocketgo loadtest:", err)
			return 1
		}
	}
	if *slowLog != "" {
		if err := writeSlowLog(*slowLog, res); err != nil {
			fmt.Fprintln(stderr, "rocketgo loadtest:", err)
			return 1
		}
		fmt.Fprintf(report, "Slow sends written to %s\n", *slowLog)
	}
	if *htmlPath != "" {
		if err := writeHTML(*htmlPath, res); err != nil {
			fmt.Fprintln(stderr, "rocketgo loadtest:", err)
			return 1
		}
		fmt.Fprintf(report, "HTML report written to %s\n", *htmlPath)
	}
	if res.Failed {
		return 1
	}
	return 0
}

// reportWriter is where the live lines and the summary go: stdout, unless
// the JSON goes there (-json -), so that stdout stays one JSON document a
// pipe can parse.
func reportWriter(jsonPath string, stdout, stderr io.Writer) io.Writer {
	if jsonPath == "-" {
		return stderr
	}
	return stdout
}

// writeJSON writes res to path, or to stdout for "-"; report gets the
// "written to" note.
func writeJSON(path string, res *loadtest.Result, stdout, report io.Writer) error {
	b, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		return err
	}
	b = append(b, '\n')
	if path == "-" {
		_, err = stdout.Write(b)
		return err
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		return err
	}
	fmt.Fprintf(report, "JSON summary written to %s\n", path)
	return nil
}

// writeSlowLog writes res's slow sends to path as CSV.
func writeSlowLog(path string, res *loadtest.Result) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := loadtest.WriteSlowSends(f, res.Slow); err != nil {
		f.Close()
		return fmt.Errorf("%s: %w", path, err)
	}
	return f.Close()
}

// clientTLS trusts the system roots plus caFile's certificates.
func clientTLS(caFile string) (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if caFile == "" {
		return cfg, nil
	}
	data, err := os.ReadFile(caFile)
	if err != nil {
		return nil, err
	}
	pool, err := x509.SystemCertPool()
	if err != nil {
		pool = x509.NewCertPool()
	}
	if !pool.AppendCertsFromPEM(data) {
		return nil, fmt.Errorf("%s holds no PEM certificate", caFile)
	}
	cfg.RootCAs = pool
	return cfg, nil
}

// loadtestHeader describes the run as configured: the sending side only
// when the run sends, the consumers only when it consumes, and last the
// Ps and CPUs it has (an embedded run sets GOMAXPROCS, tuneEmbedded, and
// figures of runs with different Ps are not alike).
func loadtestHeader(cfg loadtest.Config) string {
	mode := cfg.Mode
	if mode == "" {
		mode = loadtest.ModeBoth
	}
	h := fmt.Sprintf("rocketgo loadtest: mode %s, topic %s", mode, cfg.Topic)
	if mode != loadtest.ModeConsume {
		h += fmt.Sprintf(", %d-byte messages, %d %s senders, batch %d", cfg.MessageSize, cfg.Senders, cfg.SendMode, cfg.BatchSize)
		if cfg.Keys {
			h += ", keys"
		}
		if cfg.PropertySize > 0 {
			h += fmt.Sprintf(", %d chars of properties", cfg.PropertySize)
		}
		if cfg.DelayLevel > 0 {
			h += fmt.Sprintf(", delay level %d", cfg.DelayLevel)
		}
		if cfg.TagCount > 0 {
			h += fmt.Sprintf(", %d tags", cfg.TagCount)
		}
		switch {
		case cfg.CompressOver < 0:
			h += ", compression off"
		case cfg.CompressOver > 0 && cfg.CompressOver <= cfg.MessageSize:
			h += fmt.Sprintf(", zlib over %d bytes", cfg.CompressOver)
		}
	}
	if mode != loadtest.ModeProduce {
		h += fmt.Sprintf(", %d consumers in group %s", cfg.Consumers, cfg.Group)
	}
	return h + fmt.Sprintf("; GOMAXPROCS %d, %d CPUs", runtime.GOMAXPROCS(0), runtime.NumCPU())
}
