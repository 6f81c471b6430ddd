package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/rocketgo/rocketgo/console"
	"github.com/rocketgo/rocketgo/internal/httpserve"
	"github.com/rocketgo/rocketgo/remoting"
	"github.com/rocketgo/rocketgo/server/acl"
	"github.com/rocketgo/rocketgo/server/broker"
	"github.com/rocketgo/rocketgo/server/controller"
	"github.com/rocketgo/rocketgo/server/embedded"
	"github.com/rocketgo/rocketgo/server/metrics"
	"github.com/rocketgo/rocketgo/server/namesrv"
	"github.com/rocketgo/rocketgo/server/proxy"
	"github.com/rocketgo/rocketgo/server/transport"
)

// settings collects repeated -set key=value flags.
type settings []string

func (s *settings) String() string     { return strings.Join(*s, ",") }
func (s *settings) Set(v string) error { *s = append(*s, v); return nil }

// brokerFlags are the flags shared by `broker` and `serve`.
type brokerFlags struct {
	confFile string
	sets     settings
	dataDir  string
	logLevel string
}

func (f *brokerFlags) register(fs *flag.FlagSet, defaultData string) {
	fs.StringVar(&f.confFile, "c", "", "broker.conf-style file with RocketMQ key=value settings")
	fs.Var(&f.sets, "set", "override one broker setting, `key=value` with RocketMQ's key names (repeatable)")
	fs.StringVar(&f.dataDir, "data", defaultData, "storage root directory (storePathRootDir)")
	fs.StringVar(&f.logLevel, "log-level", "warn", "log level: debug, info, warn or error")
}

// config builds the broker configuration: base, then the file, then
// -data, then every -set, so the command line wins.
func (f *brokerFlags) config(base broker.Config, stderr io.Writer) (broker.Config, error) {
	cfg := base
	if f.confFile != "" {
		unknown, err := cfg.LoadFile(f.confFile)
		if err != nil {
			return cfg, err
		}
		for _, k := range unknown {
			fmt.Fprintf(stderr, "rocketgo: warning: %s: unknown key %q ignored\n", f.confFile, k)
		}
	}
	if f.dataDir != "" {
		cfg.StorePathRootDir = f.dataDir
	}
	for _, kv := range f.sets {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return cfg, fmt.Errorf("-set %q: want key=value", kv)
		}
		known, err := cfg.Set(strings.TrimSpace(k), v)
		if err != nil {
			return cfg, err
		}
		if !known {
			return cfg, fmt.Errorf("-set %q: unknown broker setting %q", kv, k)
		}
	}
	return cfg, nil
}

func newLogger(w io.Writer, level string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("-log-level %q: %w", level, err)
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: l})), nil
}

// defaultKVConfigPath is upstream's $HOME/namesrv/kvConfig.json.
func defaultKVConfigPath() string {
	if home, err := os.UserHomeDir(); err == nil {
		return filepath.Join(home, "namesrv", "kvConfig.json")
	}
	return filepath.Join("namesrv", "kvConfig.json")
}

// defaultDataDir is serve's storePathRootDir. The broker keeps its store
// directly in it as upstream does (commitlog, consumequeue, index,
// checkpoint beside config), so serve's files are all in ~/.rocketgo.
func defaultDataDir() string {
	if home, err := os.UserHomeDir(); err == nil {
		return filepath.Join(home, ".rocketgo")
	}
	return "rocketgo-data"
}

// devConfig is serve's starting point: upstream's defaults with files sized
// for a laptop rather than a production disk. Upstream preallocates 1 GiB
// commit-log segments, 5.7 MiB consume-queue files and a 420 MB index file;
// a development store stays under 100 MB until it holds data. broker.conf
// and -set override every one of these keys.
func devConfig() broker.Config {
	c := broker.DefaultConfig()
	c.MappedFileSizeCommitLog = 64 << 20       // mappedFileSizeCommitLog: 64 MiB segments
	c.MappedFileSizeConsumeQueue = 30_000 * 20 // mappedFileSizeConsumeQueue: 30,000 entries, 586 KiB
	c.MaxHashSlotNum = 100_000                 // maxHashSlotNum
	c.MaxIndexNum = 400_000                    // maxIndexNum: 8 MB index files
	return c
}

// waitAndStop blocks until ctx ends (SIGINT/SIGTERM), then runs stop with a
// bounded grace period.
func waitAndStop(ctx context.Context, stderr io.Writer, stop func(context.Context) error) int {
	<-ctx.Done()
	fmt.Fprintln(stderr, "rocketgo: shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := stop(sctx); err != nil {
		fmt.Fprintf(stderr, "rocketgo: shutdown: %v\n", err)
		return 1
	}
	return 0
}

func runNamesrv(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("namesrv", flag.ContinueOnError)
	listen := fs.String("listen", ":9876", "listen address")
	scan := fs.Duration("scan-interval", 10*time.Second, "how often silent brokers are looked for")
	timeout := fs.Duration("broker-timeout", 120*time.Second, "a broker silent this long is dropped")
	level := fs.String("log-level", "info", "log level: debug, info, warn or error")
	kvPath := fs.String("kv-config", defaultKVConfigPath(), "file the KV configuration (ORDER_TOPIC_CONFIG, ...) is kept in")
	conf := fs.String("c", "", "namesrv.conf; enableControllerInNamesrv=true runs a controller node configured by the same file")
	var sets settings
	fs.Var(&sets, "set", "controller `key=value` when enableControllerInNamesrv (repeatable; enableControllerInNamesrv=true itself too)")
	tlsMode := fs.String("tls-mode", "disabled", "TLS on the listen port: disabled, permissive (TLS and plain) or enforcing (TLS only)")
	tlsCert := fs.String("tls-cert", "", "PEM certificate `file` for -tls-mode")
	tlsKey := fs.String("tls-key", "", "PEM private key `file` for -tls-mode")
	tlsCA := fs.String("tls-ca", "", "PEM `file` of CAs; when set, clients must present a certificate they signed")
	aclFile := fs.String("acl-file", "", "plain_acl.yml `file`: when set, write requests (broker registration, KV config, topic deletion) need an admin signature or a white-listed address")
	var ops opsFlags
	ops.register(fs, "serve Prometheus metrics on http://`ADDR`/metrics (off by default)")
	if code, ok := parseFlags(fs, "namesrv", args, stdout, stderr); !ok {
		return code
	}
	var ropts []transport.Option
	mode, err := transport.ParseTLSMode(*tlsMode)
	if err != nil {
		fmt.Fprintln(stderr, "rocketgo:", err)
		return 2
	}
	if mode != transport.TLSDisabled {
		tc, err := transport.ServerTLSConfig(*tlsCert, *tlsKey, *tlsCA)
		if err != nil {
			fmt.Fprintln(stderr, "rocketgo:", err)
			return 2
		}
		ropts = append(ropts, transport.WithTLS(mode, tc))
	}
	log, err := newLogger(stderr, *level)
	var mopts []namesrv.Option
	var startMetrics func(*namesrv.Server) (*httpserve.Server, error)
	if err == nil {
		mopts, startMetrics, err = namesrvMetrics(ops.metrics, *listen, log, stdout)
	}
	if err != nil {
		fmt.Fprintln(stderr, "rocketgo:", err)
		return 2
	}
	if *aclFile != "" {
		checker, err := acl.Open(*aclFile, acl.WithLogger(log))
		if err != nil {
			fmt.Fprintln(stderr, "rocketgo:", err)
			return 2
		}
		defer checker.Close()
		ropts = append(ropts, transport.WithAccessCheck(func(c *transport.Conn, req *remoting.Command) error {
			return checker.CheckNameServer(c.String(), req)
		}))
	}
	opts := append(mopts, namesrv.WithListenAddr(*listen), namesrv.WithScanInterval(*scan), namesrv.WithBrokerTimeout(*timeout),
		namesrv.WithLogger(log), namesrv.WithKVConfigPath(*kvPath), namesrv.WithRemotingOptions(ropts...))
	ccfg, err := namesrvController(*conf, sets, stderr)
	if err != nil {
		fmt.Fprintln(stderr, "rocketgo:", err)
		return 2
	}
	if ccfg != nil {
		c, err := controller.New(*ccfg, controller.WithLogger(log))
		if err != nil {
			fmt.Fprintln(stderr, "rocketgo:", err)
			return 2
		}
		opts = append(opts, namesrv.WithController(c))
		fmt.Fprintf(stdout, "rocketgo name server runs controller %s (peers %s)\n", ccfg.SelfID, ccfg.Peers)
	}
	ns := namesrv.New(opts...)
	if err := ns.Start(ctx); err != nil {
		fmt.Fprintln(stderr, "rocketgo:", err)
		return 1
	}
	fmt.Fprintf(stdout, "rocketgo name server listening on %s\n", ns.Addr())
	eps, err := startEndpoints(ops.pprof, stdout, func() (*httpserve.Server, error) { return startMetrics(ns) })
	if err != nil {
		fmt.Fprintln(stderr, "rocketgo:", err)
		ns.Shutdown(context.Background())
		return 1
	}
	return waitAndStop(ctx, stderr, func(ctx context.Context) error { return errors.Join(eps.shutdown(ctx), ns.Shutdown(ctx)) })
}

// startEndpoints starts the pprof endpoint (when addr is set) and whatever
// metrics returns; on failure it stops what it started.
func startEndpoints(pprofAddr string, stdout io.Writer, metrics func() (*httpserve.Server, error)) (endpoints, error) {
	var eps endpoints
	m, err := metrics()
	if err != nil {
		return nil, err
	}
	if m != nil {
		eps = append(eps, m)
	}
	if pprofAddr != "" {
		p, err := startPprof(pprofAddr, stdout)
		if err != nil {
			eps.shutdown(context.Background())
			return nil, err
		}
		eps = append(eps, p)
	}
	return eps, nil
}

func runBroker(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	tuneGC()
	fs := flag.NewFlagSet("broker", flag.ContinueOnError)
	var bf brokerFlags
	bf.register(fs, "")
	nsAddr := fs.String("namesrv", "", "name servers, host:port;host:port (namesrvAddr)")
	var ops opsFlags
	ops.register(fs, "serve Prometheus metrics on http://`ADDR`/metrics (default: metricsPromExporterHost:Port when metricsExporterType=PROM)")
	if code, ok := parseFlags(fs, "broker", args, stdout, stderr); !ok {
		return code
	}
	cfg, err := bf.config(broker.DefaultConfig(), stderr)
	if err == nil && *nsAddr != "" {
		cfg.NamesrvAddr = *nsAddr
	}
	var log *slog.Logger
	if err == nil {
		log, err = newLogger(stderr, bf.logLevel)
	}
	var mopts []broker.Option
	var startMetrics func(*broker.Broker) (*httpserve.Server, error)
	if err == nil {
		mopts, startMetrics, err = brokerMetrics(ops.metrics, cfg, log, stdout)
	}
	var b *broker.Broker
	if err == nil {
		b, err = broker.New(cfg, append(mopts, broker.WithLogger(log))...)
	}
	if err != nil {
		fmt.Fprintln(stderr, "rocketgo:", err)
		return 2
	}
	if err := b.Start(ctx); err != nil {
		fmt.Fprintln(stderr, "rocketgo:", err)
		return 1
	}
	fmt.Fprintf(stdout, "rocketgo broker %s listening on %s (store %s, name servers %q)\n", cfg.BrokerName, b.Addr(), cfg.StorePathRootDir, cfg.NamesrvAddr)
	eps, err := startEndpoints(ops.pprof, stdout, func() (*httpserve.Server, error) { return startMetrics(b) })
	if err != nil {
		fmt.Fprintln(stderr, "rocketgo:", err)
		b.Shutdown(context.Background())
		return 1
	}
	return waitAndStop(ctx, stderr, func(ctx context.Context) error { return errors.Join(eps.shutdown(ctx), b.Shutdown(ctx)) })
}

func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	tuneGC()
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	var bf brokerFlags
	bf.register(fs, defaultDataDir())
	host := fs.String("host", "127.0.0.1", "interface to bind and advertise; \"\" or 0.0.0.0 binds every interface")
	nsPort := fs.Int("namesrv-port", 9876, "name server port (0: pick a free one)")
	brPort := fs.Int("broker-port", 10911, "broker port (0: pick a free one)")
	cluster := fs.Int("cluster", 0, "run a controller-mode broker set of this many replicas (name server + embedded controller + replicas on 10911, 10921, ...)")
	var ops opsFlags
	ops.register(fs, "serve both servers' Prometheus metrics on http://`ADDR`/metrics (default: off, or metricsPromExporterHost:Port with metricsExporterType=PROM)")
	grpcPort := fs.Int("grpc-port", proxy.DefaultPort, "port of the 5.x gRPC endpoint, TLS and plain (0: pick a free one, -1: off)")
	consoleAddr := fs.String("console", "", "also serve the web console on `ADDR` (e.g. 127.0.0.1:8080; see rocketgo help console)")
	if code, ok := parseFlags(fs, "serve", args, stdout, stderr); !ok {
		return code
	}
	if *cluster > 0 {
		base := *nsPort
		return runCluster(ctx, *cluster, base, *host, bf.dataDir, bf.logLevel, os.Stdin, stdout, stderr)
	}
	cfg, err := bf.config(devConfig(), stderr)
	var log *slog.Logger
	if err == nil {
		log, err = newLogger(stderr, bf.logLevel)
	}
	if err != nil {
		fmt.Fprintln(stderr, "rocketgo:", err)
		return 2
	}
	if *host == "0.0.0.0" {
		*host = ""
	}
	began := time.Now()
	reg := metrics.NewRegistry()
	srv, err := embedded.Start(ctx, embedded.Config{Host: *host, NamesrvPort: freeIfZero(*nsPort), BrokerPort: freeIfZero(*brPort),
		Broker: cfg, Logger: log, MetricsAddr: ops.metrics, Registry: reg})
	if err != nil {
		fmt.Fprintln(stderr, "rocketgo:", err)
		return 1
	}
	if a := srv.MetricsAddr(); a != "" {
		fmt.Fprintf(stdout, "rocketgo: metrics on http://%s/metrics\n", a)
	}
	stopGRPC := func() error { return nil }
	if *grpcPort >= 0 {
		var reg2 *prometheus.Registry
		if srv.MetricsAddr() != "" {
			reg2 = reg
		}
		g, stop, err := startGRPC(*host, *grpcPort, srv.NamesrvAddr(), cfg, log, reg2)
		if err != nil {
			fmt.Fprintln(stderr, "rocketgo: gRPC:", err)
			srv.Shutdown(context.Background())
			return 1
		}
		stopGRPC = stop
		fmt.Fprintf(stdout, "rocketgo: gRPC endpoint for 5.x clients on %s (TLS and plain)\n", g.Addr())
	}
	eps, err := startEndpoints(ops.pprof, stdout, func() (*httpserve.Server, error) { return nil, nil })
	if err != nil {
		fmt.Fprintln(stderr, "rocketgo:", err)
		stopGRPC()
		srv.Shutdown(context.Background())
		return 1
	}
	stopConsole := func(context.Context) error { return nil }
	if *consoleAddr != "" {
		var url string
		if stopConsole, url, err = startConsole(srv.NamesrvAddr(), *consoleAddr, console.Config{SampleEvery: 5 * time.Second}); err != nil {
			fmt.Fprintln(stderr, "rocketgo: console:", err)
			eps.shutdown(context.Background())
			stopGRPC()
			srv.Shutdown(context.Background())
			return 1
		}
		fmt.Fprintf(stdout, "rocketgo: console on %s\n", url)
	}
	// Last, once every endpoint listens: embedded.Start returned only after
	// the broker registered with the name server, so clients started after
	// this line find their routes, and the gRPC endpoint answers.
	fmt.Fprintf(stdout, "rocketgo serve: ready in %s: name server %s, broker %s (%s), data in %s\n",
		time.Since(began).Round(time.Millisecond), srv.NamesrvAddr(), srv.BrokerAddr(), cfg.FlushDiskType, cfg.StorePathRootDir)
	return waitAndStop(ctx, stderr, func(ctx context.Context) error {
		return errors.Join(stopConsole(ctx), eps.shutdown(ctx), stopGRPC(), srv.Shutdown(ctx))
	})
}

// freeIfZero maps the command line's "0 = any free port" onto embedded's -1.
func freeIfZero(p int) int {
	if p == 0 {
		return -1
	}
	return p
}
