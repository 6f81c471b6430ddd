package namesrv

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/rocketgo/rocketgo/server/transport"

	"github.com/rocketgo/rocketgo/remoting"
	"github.com/rocketgo/rocketgo/server/controller"
)

// Server is a name server: route tables behind a remoting server, plus the
// goroutine that expires silent brokers.
type Server struct {
	cfg    config
	log    *slog.Logger
	routes *routeTable
	kv     *kvStore
	rs     *transport.Server
	gate   *readyGate // nil unless WithHoldUntilBrokerRegistered

	mu      sync.Mutex
	started bool
	stopped bool
	stop    chan struct{} // closed by Shutdown to end the scanner
	scanned chan struct{} // closed when the scanner returns
}

// New returns a name server configured by opts. It does not listen until
// Start.
func New(opts ...Option) *Server {
	cfg := defaultConfig()
	for _, o := range opts {
		if o != nil {
			o(&cfg)
		}
	}
	s := &Server{
		cfg:     cfg,
		log:     cfg.logger,
		routes:  newRouteTable(),
		kv:      newKVStore(),
		stop:    make(chan struct{}),
		scanned: make(chan struct{}),
	}
	if cfg.holdUntilRegistered {
		s.gate = &readyGate{max: defaultMaxHeld}
	}
	ropts := append([]transport.Option{
		transport.WithLogger(cfg.logger),
		transport.WithOnClose(s.onClose),
	}, cfg.remotingOpts...)
	s.rs = transport.NewServer(cfg.listenAddr, ropts...)
	for code, h := range s.handlers() {
		gated := s.gate != nil && !brokerFacing(code)
		s.rs.Handle(code, func(rc *transport.RequestContext, req *remoting.Command) {
			if gated && !s.gate.admit(rc, h) {
				return // answered when the first broker registers
			}
			// A reply can only fail because the connection closed; nothing
			// is left to tell.
			_ = rc.Reply(h(rc.Conn(), req))
		})
	}
	return s
}

// Start listens and starts expiring silent brokers. It returns once the
// listener is bound.
func (s *Server) Start(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped {
		return ErrServerClosed
	}
	if s.started {
		return fmt.Errorf("namesrv: already started")
	}
	if s.cfg.kvConfigPath != "" {
		kv, err := openKVStore(s.cfg.kvConfigPath)
		if err != nil {
			return err
		}
		s.kv = kv
	}
	if err := s.rs.Start(ctx); err != nil {
		return fmt.Errorf("namesrv: start: %w", err)
	}
	if c := s.cfg.controller; c != nil {
		if err := c.Start(ctx); err != nil {
			s.rs.Shutdown(context.Background())
			return fmt.Errorf("namesrv: embedded controller: %w", err)
		}
	}
	s.started = true
	go s.scanLoop()
	s.log.Info("namesrv: listening", "addr", s.Addr())
	return nil
}

// Ready reports whether the server answers clients: always, unless it was
// built WithHoldUntilBrokerRegistered and no broker has registered yet.
func (s *Server) Ready() bool { return s.gate == nil || s.gate.open.Load() }

// Controller is the embedded controller node, nil when none was given.
func (s *Server) Controller() *controller.Controller { return s.cfg.controller }

// Addr returns the bound listen address ("ip:port"), or "" before Start.
func (s *Server) Addr() string {
	if a := s.rs.Addr(); a != nil {
		return a.String()
	}
	return ""
}

// Shutdown stops the scanner, closes the listener and every connection, and
// waits for all of the server's goroutines, or until ctx is done.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	if s.stopped {
		s.mu.Unlock()
		return nil
	}
	s.stopped = true
	started := s.started
	close(s.stop)
	s.mu.Unlock()

	var cerr error
	if c := s.cfg.controller; c != nil && started {
		cerr = c.Shutdown(ctx)
	}
	err := s.rs.Shutdown(ctx)
	if err == nil {
		err = cerr
	}
	if started {
		select {
		case <-s.scanned:
		case <-ctx.Done():
			if err == nil {
				err = ctx.Err()
			}
		}
	}
	return err
}

// scanLoop expires silent brokers every scan interval until Shutdown.
func (s *Server) scanLoop() {
	defer close(s.scanned)
	t := time.NewTicker(s.cfg.scanInterval)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
			for _, addr := range s.routes.scan(s.cfg.now()) {
				s.log.Info("namesrv: broker expired", "addr", addr)
			}
		}
	}
}

// onClose runs on a transport event loop when any connection closes. A
// broker's registrations die with the connection they came on; client
// connections own none and cost one short write-locked map walk.
func (s *Server) onClose(c *transport.Conn, _ error) {
	for _, addr := range s.routes.connClosed(c) {
		s.log.Info("namesrv: broker connection closed", "addr", addr, "remote", c.String())
	}
}
