// Package httpserve runs the small HTTP endpoints an operator points tools
// at — /metrics for Prometheus, /debug/pprof for profiles — each on a
// listener of its own, separate from the remoting port, with timeouts that
// keep a slow or idle peer from holding the server.
package httpserve

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"
)

// Server is one running endpoint.
type Server struct {
	srv  *http.Server
	addr string
	done chan struct{}
	err  error // what Serve returned, read after done is closed
}

// Start listens on addr ("host:port"; port 0 picks a free one) and serves h
// until Shutdown. It fails at once when addr cannot be bound.
func Start(addr string, h http.Handler) (*Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("httpserve: listen on %s: %w", addr, err)
	}
	s := &Server{
		srv: &http.Server{
			Handler:           h,
			ReadHeaderTimeout: 10 * time.Second,
			ReadTimeout:       30 * time.Second,
			// Profiles stream for as long as ?seconds= asks.
			WriteTimeout: 5 * time.Minute,
			IdleTimeout:  2 * time.Minute,
		},
		addr: ln.Addr().String(),
		done: make(chan struct{}),
	}
	go func() {
		defer close(s.done)
		if err := s.srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			s.err = err
		}
	}()
	return s, nil
}

// Addr is the bound address.
func (s *Server) Addr() string { return s.addr }

// Shutdown stops accepting, lets requests in flight finish until ctx ends,
// then closes what is left; it returns once the serving goroutine is gone.
func (s *Server) Shutdown(ctx context.Context) error {
	err := s.srv.Shutdown(ctx)
	if err != nil {
		err = errors.Join(err, s.srv.Close())
	}
	<-s.done
	return errors.Join(err, s.err)
}
