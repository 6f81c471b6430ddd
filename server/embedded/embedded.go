// Package embedded runs a name server and a broker in one process: the
// development server behind `rocketgo serve`, and what tests, the
// conformance suite and the load-test tool start when given no cluster.
package embedded

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"strconv"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/rocketgo/rocketgo/internal/httpserve"
	"github.com/rocketgo/rocketgo/internal/phasetime"
	"github.com/rocketgo/rocketgo/remoting"
	"github.com/rocketgo/rocketgo/server/acl"
	"github.com/rocketgo/rocketgo/server/broker"
	"github.com/rocketgo/rocketgo/server/metrics"
	"github.com/rocketgo/rocketgo/server/namesrv"
	"github.com/rocketgo/rocketgo/server/transport"
)

// Config describes an embedded server. Zero values take the defaults noted.
type Config struct {
	// Host is the interface both servers bind (default: all interfaces).
	// Tests use "127.0.0.1".
	Host string
	// NamesrvPort and BrokerPort default to 9876 and 10911; -1 picks a free
	// port.
	NamesrvPort, BrokerPort int
	// Broker is the broker's configuration. Its NamesrvAddr, ListenHost and
	// ListenPort are filled in from the fields above.
	Broker broker.Config
	// Logger receives both servers' logs (default: discard).
	Logger *slog.Logger
	// KVConfigPath persists the name server's KV configuration; default:
	// <storePathRootDir>/namesrv/kvConfig.json.
	KVConfigPath string
	// MetricsAddr, when set, serves both servers' Prometheus metrics on
	// http://MetricsAddr/metrics ("host:0" picks a free port). When empty
	// and the broker's metricsExporterType is PROM, the broker's
	// metricsPromExporterHost:Port is used.
	MetricsAddr string
	// Registry, when set, is where the metrics served on MetricsAddr are
	// registered (so a caller can add its own, as `serve` does for the
	// gRPC endpoint); default: a new one.
	Registry *prometheus.Registry
}

// Server is a running name server plus broker.
type Server struct {
	ns      *namesrv.Server
	br      *broker.Broker
	nsACL   *acl.Checker      // nil unless the name server checks writes
	metrics *httpserve.Server // nil without metrics
}

func portOrDefault(p, def int) int {
	switch {
	case p == 0:
		return def
	case p < 0:
		return 0
	}
	return p
}

// Start starts the name server, then the broker registered with it. The
// name server accepts connections at once but answers clients only after
// the broker's first registration, so a client started concurrently never
// sees a topic the broker has reported missing.
func Start(ctx context.Context, cfg Config) (*Server, error) {
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	kvPath := cfg.KVConfigPath
	if kvPath == "" && cfg.Broker.StorePathRootDir != "" {
		kvPath = filepath.Join(cfg.Broker.StorePathRootDir, "namesrv", "kvConfig.json")
	}
	// The name server serves the broker's TLS mode with the same
	// certificate; in enforcing mode the broker must register over TLS.
	bc := cfg.Broker
	var nsTLS []transport.Option
	if mode, err := transport.ParseTLSMode(bc.TlsMode); err == nil && mode != transport.TLSDisabled {
		tc, err := transport.ServerTLSConfig(bc.TlsCertFile, bc.TlsKeyFile, bc.TlsCAFile)
		if err != nil {
			return nil, fmt.Errorf("embedded: name server: %w", err)
		}
		nsTLS = append(nsTLS, transport.WithTLS(mode, tc))
		if mode == transport.TLSEnforcing {
			bc.TlsEnable = true
		}
	}
	// With ACL on and credentials for the broker's own requests, the name
	// server checks its write requests against the same file (without
	// credentials the broker could not register, so it stays open).
	var nsACL *acl.Checker
	if bc.AclEnable && bc.AclAccessKey != "" {
		path := bc.AclFile
		if path == "" {
			path = acl.DefaultFile()
		}
		var err error
		if nsACL, err = acl.Open(path, acl.WithLogger(log)); err != nil {
			return nil, fmt.Errorf("embedded: name server: %w", err)
		}
		nsTLS = append(nsTLS, transport.WithAccessCheck(func(c *transport.Conn, req *remoting.Command) error {
			return nsACL.CheckNameServer(c.String(), req)
		}))
	}
	closeACL := func() {
		if nsACL != nil {
			nsACL.Close()
		}
	}
	metricsAddr := cfg.MetricsAddr
	if metricsAddr == "" && bc.MetricsExporterType == broker.MetricsProm {
		metricsAddr = bc.MetricsAddr()
	}
	nsListen := net.JoinHostPort(cfg.Host, strconv.Itoa(portOrDefault(cfg.NamesrvPort, 9876)))
	// The name server listens before the broker (which registers with it)
	// has recovered its store; until the broker's registration arrives it
	// holds client requests rather than answer "topic not exist".
	nsOpts := []namesrv.Option{namesrv.WithListenAddr(nsListen), namesrv.WithLogger(log), namesrv.WithKVConfigPath(kvPath),
		namesrv.WithRemotingOptions(nsTLS...), namesrv.WithHoldUntilBrokerRegistered()}
	var brOpts []broker.Option
	var (
		reg *prometheus.Registry
		nsm *metrics.NameServer
		bm  *metrics.Broker
	)
	if metricsAddr != "" {
		reg = cfg.Registry
		if reg == nil {
			reg = metrics.NewRegistry()
		}
		labels, err := metrics.BrokerLabels(bc)
		if err == nil {
			bm, err = metrics.NewBroker(reg, labels)
		}
		if err == nil {
			labels.NodeID = nsListen
			nsm, err = metrics.NewNameServer(reg, labels)
		}
		if err != nil {
			closeACL()
			return nil, fmt.Errorf("embedded: %w", err)
		}
		nsOpts = append(nsOpts, namesrv.WithRemotingOptions(nsm.RemotingOption()))
		brOpts = append(brOpts, broker.WithObserver(bm))
	}
	lap := phasetime.New()
	ns := namesrv.New(nsOpts...)
	if err := ns.Start(ctx); err != nil {
		closeACL()
		return nil, fmt.Errorf("embedded: name server: %w", err)
	}
	nsAddr := ns.Addr()
	if host, port, err := net.SplitHostPort(nsAddr); err == nil && (host == "" || host == "::" || host == "0.0.0.0") {
		nsAddr = net.JoinHostPort("127.0.0.1", port)
	}
	bc.NamesrvAddr = nsAddr
	lap.Done("nameServer")
	bc.ListenHost = cfg.Host
	bc.ListenPort = portOrDefault(cfg.BrokerPort, 10911)
	br, err := broker.New(bc, append(brOpts, broker.WithLogger(log))...)
	if err == nil {
		err = br.Start(ctx)
	}
	if err != nil {
		ns.Shutdown(context.Background())
		closeACL()
		return nil, fmt.Errorf("embedded: broker: %w", err)
	}
	lap.Done("broker")
	log.Debug("embedded startup phases", lap.Attrs()...)
	s := &Server{ns: ns, br: br, nsACL: nsACL}
	if reg != nil {
		bm.Attach(br)
		nsm.Attach(ns)
		if s.metrics, err = metrics.Serve(metricsAddr, reg, log); err != nil {
			s.Shutdown(context.Background())
			return nil, fmt.Errorf("embedded: metrics: %w", err)
		}
	}
	return s, nil
}

// MetricsAddr is the address /metrics is served on, "" without metrics.
func (s *Server) MetricsAddr() string {
	if s.metrics == nil {
		return ""
	}
	return s.metrics.Addr()
}

// NamesrvAddr is the "host:port" clients give as their name server.
func (s *Server) NamesrvAddr() string {
	addr := s.ns.Addr()
	if host, port, err := net.SplitHostPort(addr); err == nil && (host == "" || host == "::" || host == "0.0.0.0") {
		return net.JoinHostPort("127.0.0.1", port)
	}
	return addr
}

// BrokerAddr is the address the broker advertises.
func (s *Server) BrokerAddr() string { return s.br.Addr() }

// Broker exposes the broker, for tests and admin commands.
func (s *Server) Broker() *broker.Broker { return s.br }

// Shutdown stops the metrics endpoint, the broker (which unregisters
// itself) and then the name server.
func (s *Server) Shutdown(ctx context.Context) error {
	var err error
	if s.metrics != nil {
		err = s.metrics.Shutdown(ctx)
	}
	err = errors.Join(err, s.br.Shutdown(ctx), s.ns.Shutdown(ctx))
	if s.nsACL != nil {
		s.nsACL.Close()
	}
	return err
}

// SmallConfig is a broker configuration for tests and tools that start many
// short-lived servers: everything under dir, 16 MiB commit-log segments,
// small consume-queue and index files, four queues per auto-created topic,
// and retention by disk usage only past 95 % (diskMaxUsedSpaceRatio): with
// segments this small the default 75 % had the brokers of a failover test
// delete unconsumed segments on a crowded host, and the test reported
// hundreds of acknowledged messages undelivered.
func SmallConfig(dir string) broker.Config {
	c := broker.DefaultConfig()
	c.StorePathRootDir = dir
	c.DiskMaxUsedSpaceRatio = 95 // the highest the broker accepts
	c.MappedFileSizeCommitLog = 16 << 20
	c.MappedFileSizeConsumeQueue = 20 * 10000
	c.MaxHashSlotNum, c.MaxIndexNum = 1000, 4000
	c.DefaultTopicQueueNums = 4
	return c
}

// StartLocal starts a server on free loopback ports with cfg.
func StartLocal(ctx context.Context, cfg broker.Config) (*Server, error) {
	return Start(ctx, Config{Host: "127.0.0.1", NamesrvPort: -1, BrokerPort: -1, Broker: cfg})
}
