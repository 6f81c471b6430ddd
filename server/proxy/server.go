package proxy

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/rocketgo/rocketgo/auth"
	"github.com/rocketgo/rocketgo/client"
	"github.com/rocketgo/rocketgo/remoting"
	pb "github.com/rocketgo/rocketgo/server/proxy/v2pb"
	"google.golang.org/grpc"
	"google.golang.org/grpc/keepalive"
)

// DefaultPort is the gRPC port of upstream's proxy (grpcServerPort).
const DefaultPort = 8081

// Config configures a Server. Zero values take the defaults noted.
type Config struct {
	// NameServers ("host:port;host:port") is where the default Cluster
	// finds routes. Ignored when Cluster is set.
	NameServers string
	// Cluster replaces the default remoting client of NameServers.
	Cluster Cluster
	// ClientOptions are added to the default Cluster's client (TLS,
	// credentials for an ACL-enabled broker).
	ClientOptions []client.Option
	// TLS is the certificate served to TLS clients; nil generates a
	// self-signed one at start (the 5.x clients do not verify it by
	// default). Plain gRPC is served on the same port either way.
	TLS *tls.Config
	// Advertise is the "host:port" routes send clients to when their
	// request does not say which address they dialled; default: the
	// listener's address.
	Advertise string
	// Authenticator, when set, checks every call's authorization
	// metadata (ACL); nil lets every call through.
	Authenticator Authenticator
	// Credentials, when set, is the proxy's own account on an ACL-enabled
	// broker, for the requests it makes on its own behalf rather than for
	// a call: the heartbeats that register the transaction producer
	// groups (an ACL broker refuses them unsigned, and then sends no
	// check-backs) and the unregistration at Close. A call's requests are
	// never signed with it: they carry the caller's account (see
	// Authenticator) or none. It takes precedence over a signer among
	// ClientOptions. Default: none.
	Credentials auth.Provider
	// Observer, when set, is told of every call (metrics).
	Observer Observer
	// Logger receives the proxy's logs (default: discard).
	Logger *slog.Logger
	// DefaultPollTime is how long a ReceiveMessage waits for messages
	// when the client's settings name no long-polling timeout; default
	// 20s (upstream's).
	DefaultPollTime time.Duration
}

// ownRequest reports whether a request with code is one the proxy's
// client makes on its own behalf (Config.Credentials signs only these).
// Everything a call asks for goes out as SEND_MESSAGE, POP_MESSAGE,
// END_TRANSACTION and the like, never as these.
func ownRequest(code int16) bool {
	return code == remoting.HeartBeat || code == remoting.UnregisterClient
}

// Server is a running gRPC endpoint. Close stops it.
type Server struct {
	cfg     Config
	cluster Cluster
	log     *slog.Logger
	grpc    *grpc.Server
	ln      net.Listener
	svc     *service

	closeOnce sync.Once
	serveErr  chan error
}

// Start listens on addr ("host:port"; port 0 picks a free one) and
// serves in the background until Close.
func Start(addr string, cfg Config) (*Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("proxy: listen %s: %w", addr, err)
	}
	s, err := Serve(ln, cfg)
	if err != nil {
		ln.Close()
		return nil, err
	}
	return s, nil
}

// Serve serves on ln in the background until Close, which closes ln.
func Serve(ln net.Listener, cfg Config) (*Server, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if cfg.DefaultPollTime <= 0 {
		cfg.DefaultPollTime = 20 * time.Second
	}
	if cfg.Advertise == "" {
		cfg.Advertise = ln.Addr().String()
	}
	tlsCfg := cfg.TLS
	if tlsCfg == nil {
		cert, err := SelfSignedCertificate()
		if err != nil {
			return nil, err
		}
		tlsCfg = &tls.Config{Certificates: []tls.Certificate{cert}}
	}
	cluster := cfg.Cluster
	if cluster == nil {
		if cfg.NameServers == "" {
			return nil, errors.New("proxy: no name servers and no cluster")
		}
		opts := append([]client.Option{client.WithNameServers(cfg.NameServers), client.WithLogger(cfg.Logger),
			client.WithInstanceName(fmt.Sprintf("grpc-proxy-%d", time.Now().UnixNano()))}, cfg.ClientOptions...)
		if cfg.Credentials != nil {
			own := auth.NewProviderSigner(cfg.Credentials)
			opts = append(opts, client.WithRequestSigner(func(req *remoting.Command) {
				if ownRequest(req.Code) {
					own.Sign(req)
				}
			}))
		}
		cl, err := client.New(opts...)
		if err != nil {
			return nil, fmt.Errorf("proxy: %w", err)
		}
		cluster = NewRemotingCluster(cl)
	}
	s := &Server{cfg: cfg, cluster: cluster, log: cfg.Logger, ln: ln, serveErr: make(chan error, 1)}
	s.svc = newService(s)
	s.grpc = grpc.NewServer(
		grpc.Creds(newSniffCredentials(tlsCfg)),
		grpc.UnaryInterceptor(s.unaryInterceptor),
		grpc.StreamInterceptor(s.streamInterceptor),
		grpc.MaxRecvMsgSize(maxBodySize+1<<20),
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: 5 * time.Second, PermitWithoutStream: true}),
		// Close waits for the handlers, so none outlives the Server.
		grpc.WaitForHandlers(true),
	)
	pb.RegisterMessagingServiceServer(s.grpc, s.svc)
	go func() { s.serveErr <- s.grpc.Serve(ln) }()
	return s, nil
}

// Addr is the address the Server listens on.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Close stops accepting, ends every call and telemetry stream, waits for
// their handlers and closes the cluster client. It is idempotent.
func (s *Server) Close() error {
	var err error
	s.closeOnce.Do(func() {
		s.svc.shutdown()
		s.grpc.Stop()
		if e := <-s.serveErr; e != nil && !errors.Is(e, grpc.ErrServerStopped) && !errors.Is(e, net.ErrClosed) {
			err = e
		}
		if e := s.cluster.Close(); e != nil && err == nil {
			err = e
		}
	})
	return err
}
