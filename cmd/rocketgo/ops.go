package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/pprof"

	"github.com/rocketgo/rocketgo/internal/httpserve"
	"github.com/rocketgo/rocketgo/server/broker"
	"github.com/rocketgo/rocketgo/server/metrics"
	"github.com/rocketgo/rocketgo/server/namesrv"
)

// opsFlags are the operator endpoints every server command offers, each on
// a listener of its own and off unless asked for.
type opsFlags struct {
	metrics string
	pprof   string
}

func (f *opsFlags) register(fs *flag.FlagSet, metricsHelp string) {
	fs.StringVar(&f.metrics, "metrics", "", metricsHelp)
	fs.StringVar(&f.pprof, "pprof", "", "serve net/http/pprof on http://`ADDR`/debug/pprof/ (off by default; it exposes internals, bind it to loopback)")
}

// endpoints are the running operator endpoints of one command.
type endpoints []*httpserve.Server

func (e endpoints) shutdown(ctx context.Context) error {
	var errs []error
	for _, s := range e {
		errs = append(errs, s.Shutdown(ctx))
	}
	return errors.Join(errs...)
}

// startPprof serves the runtime profiles on their own mux, not
// http.DefaultServeMux, so nothing else ever shares the listener.
func startPprof(addr string, stdout io.Writer) (*httpserve.Server, error) {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	s, err := httpserve.Start(addr, mux)
	if err != nil {
		return nil, fmt.Errorf("-pprof: %w", err)
	}
	fmt.Fprintf(stdout, "rocketgo: pprof on http://%s/debug/pprof/\n", s.Addr())
	return s, nil
}

// brokerMetrics prepares a broker's metrics when -metrics or the broker's
// own metricsExporterType=PROM asks for them: the observer to build the
// broker with, and a start function that attaches it and serves /metrics.
func brokerMetrics(flagAddr string, cfg broker.Config, log *slog.Logger, stdout io.Writer) ([]broker.Option, func(*broker.Broker) (*httpserve.Server, error), error) {
	addr := flagAddr
	if addr == "" && cfg.MetricsExporterType == broker.MetricsProm {
		addr = cfg.MetricsAddr()
	}
	if addr == "" {
		return nil, func(*broker.Broker) (*httpserve.Server, error) { return nil, nil }, nil
	}
	labels, err := metrics.BrokerLabels(cfg)
	if err != nil {
		return nil, nil, err
	}
	reg := metrics.NewRegistry()
	bm, err := metrics.NewBroker(reg, labels)
	if err != nil {
		return nil, nil, err
	}
	start := func(b *broker.Broker) (*httpserve.Server, error) {
		bm.Attach(b)
		s, err := metrics.Serve(addr, reg, log)
		if err != nil {
			return nil, fmt.Errorf("metrics: %w", err)
		}
		fmt.Fprintf(stdout, "rocketgo: metrics on http://%s/metrics\n", s.Addr())
		return s, nil
	}
	return []broker.Option{broker.WithObserver(bm)}, start, nil
}

// namesrvMetrics is brokerMetrics for a name server, which only -metrics
// turns on (upstream name servers export none).
func namesrvMetrics(addr, listen string, log *slog.Logger, stdout io.Writer) ([]namesrv.Option, func(*namesrv.Server) (*httpserve.Server, error), error) {
	if addr == "" {
		return nil, func(*namesrv.Server) (*httpserve.Server, error) { return nil, nil }, nil
	}
	reg := metrics.NewRegistry()
	nm, err := metrics.NewNameServer(reg, metrics.Labels{NodeID: listen})
	if err != nil {
		return nil, nil, err
	}
	start := func(ns *namesrv.Server) (*httpserve.Server, error) {
		nm.Attach(ns)
		s, err := metrics.Serve(addr, reg, log)
		if err != nil {
			return nil, fmt.Errorf("metrics: %w", err)
		}
		fmt.Fprintf(stdout, "rocketgo: metrics on http://%s/metrics\n", s.Addr())
		return s, nil
	}
	return []namesrv.Option{namesrv.WithRemotingOptions(nm.RemotingOption())}, start, nil
}
