package transport

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"time"
)

// TLSMode is upstream's tls.server.mode: how a port treats TLS clients.
type TLSMode int

// TLS modes, as upstream names them.
const (
	// TLSDisabled serves plain TCP only (a TLS client fails its handshake).
	TLSDisabled TLSMode = iota
	// TLSPermissive serves TLS and plain clients on the same port, telling
	// them apart by the first byte (0x16, a TLS handshake record).
	TLSPermissive
	// TLSEnforcing serves TLS clients only; plain clients are disconnected.
	TLSEnforcing
)

// ParseTLSMode reads "disabled", "permissive" or "enforcing".
func ParseTLSMode(s string) (TLSMode, error) {
	switch s {
	case "", "disabled":
		return TLSDisabled, nil
	case "permissive":
		return TLSPermissive, nil
	case "enforcing":
		return TLSEnforcing, nil
	}
	return TLSDisabled, fmt.Errorf("remoting: unknown TLS mode %q (disabled, permissive, enforcing)", s)
}

func (m TLSMode) String() string {
	switch m {
	case TLSPermissive:
		return "permissive"
	case TLSEnforcing:
		return "enforcing"
	}
	return "disabled"
}

// WithTLS serves the port in mode with cfg (which must hold a certificate
// unless mode is TLSDisabled). Default: TLSDisabled.
//
// How TLS connections are served: gnet's event loops speak plain bytes
// only, and a TLS handshake must never run on them. With TLS on, the
// server's port is owned by a front: an accept loop plus two goroutines per
// connection, which sniff the first byte, run the handshake (bounded by
// the handshake timeout) and pump cleartext to and from the event loops over
// a loopback connection. The event loops learn each connection's real
// client address from the front, so ACL white lists and logs see the
// client, not the loopback. Plain connections in permissive mode take the
// same path. The cost is one loopback hop per TLS connection; the event
// loops, processors and replies are unchanged.
func WithTLS(mode TLSMode, cfg *tls.Config) Option {
	return func(c *config) { c.tlsMode, c.tlsConfig = mode, cfg }
}

// handshakeTimeout bounds the sniff and the TLS handshake of one
// connection, so a silent client cannot hold a front goroutine.
const handshakeTimeout = 10 * time.Second

// tlsFront owns the public listener when TLS is on.
type tlsFront struct {
	s    *Server
	mode TLSMode
	cfg  *tls.Config
	ln   net.Listener

	inner string // the event loops' loopback address

	mu     sync.Mutex
	peers  map[string]net.Addr // loopback address of a pump -> the client it carries
	conns  map[net.Conn]struct{}
	closed bool
	wg     sync.WaitGroup
}

func newTLSFront(s *Server, ln net.Listener) *tlsFront {
	return &tlsFront{s: s, mode: s.cfg.tlsMode, cfg: s.cfg.tlsConfig, ln: ln,
		peers: map[string]net.Addr{}, conns: map[net.Conn]struct{}{}}
}

// claim returns (once) the client behind the loopback connection from
// local, the address the front dialled from.
func (f *tlsFront) claim(local string) (net.Addr, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	a, ok := f.peers[local]
	delete(f.peers, local)
	return a, ok
}

func (f *tlsFront) track(c net.Conn) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return false
	}
	f.conns[c] = struct{}{}
	return true
}

func (f *tlsFront) untrack(c net.Conn) {
	f.mu.Lock()
	delete(f.conns, c)
	f.mu.Unlock()
}

func (f *tlsFront) serve() {
	defer f.wg.Done()
	for {
		nc, err := f.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			f.s.cfg.logger.Debug("remoting: accept failed", "err", err)
			time.Sleep(10 * time.Millisecond) // e.g. EMFILE: do not spin
			continue
		}
		if !f.track(nc) {
			_ = nc.Close()
			return
		}
		f.wg.Add(1)
		go f.handle(nc)
	}
}

// prefixed replays the sniffed bytes before reading on.
type prefixed struct {
	net.Conn
	r *bufio.Reader
}

func (p *prefixed) Read(b []byte) (int, error) { return p.r.Read(b) }

func (f *tlsFront) handle(nc net.Conn) {
	defer f.wg.Done()
	defer f.untrack(nc)
	defer nc.Close()
	log := f.s.cfg.logger
	_ = nc.SetDeadline(time.Now().Add(handshakeTimeout))
	br := bufio.NewReaderSize(nc, 1024)
	first, err := br.Peek(1)
	if err != nil {
		return
	}
	var client net.Conn = &prefixed{Conn: nc, r: br}
	if first[0] == 0x16 { // TLS record type "handshake"
		tc := tls.Server(client, f.cfg)
		if err := tc.Handshake(); err != nil {
			log.Debug("remoting: TLS handshake failed", "remote", nc.RemoteAddr().String(), "err", err)
			return
		}
		client = tc
	} else if f.mode == TLSEnforcing {
		log.Debug("remoting: refusing a plain connection (TLS enforcing)", "remote", nc.RemoteAddr().String())
		return
	}
	_ = nc.SetDeadline(time.Time{})

	inner, err := net.DialTimeout("tcp", f.inner, handshakeTimeout)
	if err != nil {
		log.Warn("remoting: TLS front cannot reach the event loops", "err", err)
		return
	}
	if !f.track(inner) {
		_ = inner.Close()
		return
	}
	defer f.untrack(inner)
	defer inner.Close()
	f.mu.Lock()
	f.peers[inner.LocalAddr().String()] = nc.RemoteAddr()
	f.mu.Unlock()
	defer f.claim(inner.LocalAddr().String()) // if the loop never saw a byte

	done := make(chan struct{})
	go func() {
		_, _ = io.Copy(client, inner) // replies and server requests
		_ = nc.Close()
		close(done)
	}()
	_, _ = io.Copy(inner, client) // requests
	_ = inner.Close()
	<-done
}

// close stops accepting, drops every front connection and waits for the
// front's goroutines.
func (f *tlsFront) close(ctx context.Context) {
	f.mu.Lock()
	f.closed = true
	conns := make([]net.Conn, 0, len(f.conns))
	for c := range f.conns {
		conns = append(conns, c)
	}
	f.mu.Unlock()
	_ = f.ln.Close()
	for _, c := range conns {
		_ = c.Close()
	}
	done := make(chan struct{})
	go func() { f.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
	}
}

// ServerTLSConfig loads a server certificate and key (PEM files) and, when
// caFile is not empty, requires clients to present a certificate signed by
// one of its CAs.
func ServerTLSConfig(certFile, keyFile, caFile string) (*tls.Config, error) {
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("remoting: TLS certificate: %w", err)
	}
	cfg := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	if caFile != "" {
		pool, err := loadPool(caFile)
		if err != nil {
			return nil, err
		}
		cfg.ClientCAs = pool
		cfg.ClientAuth = tls.RequireAndVerifyClientCert
	}
	return cfg, nil
}

// ClientTLSConfig is the configuration a server uses to dial its peers
// (name servers, a master) over TLS: it trusts the system roots plus the
// PEM certificates of roots (a self-signed server certificate may be given
// as its own root), and presents certFile/keyFile when both are set, for
// peers that require client certificates.
func ClientTLSConfig(certFile, keyFile string, roots ...string) (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	pool, err := x509.SystemCertPool()
	if err != nil {
		pool = x509.NewCertPool()
	}
	for _, f := range roots {
		if f == "" {
			continue
		}
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("remoting: TLS roots: %w", err)
		}
		if !pool.AppendCertsFromPEM(data) {
			return nil, fmt.Errorf("remoting: TLS roots: %s holds no PEM certificate", f)
		}
		cfg.RootCAs = pool
	}
	if certFile != "" && keyFile != "" {
		cert, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			return nil, fmt.Errorf("remoting: TLS client certificate: %w", err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return cfg, nil
}

func loadPool(caFile string) (*x509.CertPool, error) {
	data, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("remoting: TLS CA file: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(data) {
		return nil, fmt.Errorf("remoting: TLS CA file %s holds no PEM certificate", caFile)
	}
	return pool, nil
}
