// Package console is rocketgo's built-in web console: server-rendered pages
// (html/template) over net/http that show a cluster's brokers, topics,
// consumer groups and messages. It talks to the cluster only through the
// public admin package, so it works against rocketgo and Apache RocketMQ
// alike.
//
// Safe by default: the command binds 127.0.0.1, every POST form carries a
// CSRF token checked against a cookie (double submit) and the request's
// Origin, write actions can be switched off (Config.ReadOnly), an optional
// users file turns on HTTP basic auth, and every value reaches the page
// through html/template's contextual escaping.
package console

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/rocketgo/rocketgo/admin"
	"github.com/rocketgo/rocketgo/message"
	"github.com/rocketgo/rocketgo/remoting/wire"
)

// Backend is the part of *admin.Client the console uses; tests substitute
// a fake.
type Backend interface {
	Cluster(ctx context.Context) (admin.Cluster, error)
	BrokerRuntime(ctx context.Context, addr string) (map[string]string, error)
	Topics(ctx context.Context) ([]string, error)
	Route(ctx context.Context, topic string) (*wire.TopicRoute, error)
	TopicStatus(ctx context.Context, topic string) ([]admin.QueueStatus, error)
	ConsumerProgress(ctx context.Context, group, topic string) (admin.Progress, error)
	ConsumerConnections(ctx context.Context, group string) (admin.ConsumerConnections, error)
	MessageByID(ctx context.Context, id string) (*message.MessageExt, error)
	MessagesByKey(ctx context.Context, topic, key string, q admin.KeyQuery) ([]*message.MessageExt, error)
	MessagesByUniqueKey(ctx context.Context, topic, key string) ([]*message.MessageExt, error)
	MessageAtOffset(ctx context.Context, topic, brokerName string, queueID int32, offset int64) (*message.MessageExt, error)

	CreateTopic(ctx context.Context, spec admin.TopicSpec, cluster, brokerAddr string) error
	DeleteTopic(ctx context.Context, topic, cluster string) error
	ResetOffsetByTime(ctx context.Context, group, topic string, at time.Time, force bool) ([]admin.QueueOffset, error)
	ProducerConnections(ctx context.Context, group, topic string) ([]admin.Connection, error)
	ConsumeMessageDirectly(ctx context.Context, group, clientID, topic, msgID string) (admin.DirectResult, error)
}

var _ Backend = (*admin.Client)(nil)

// Config tunes a console. The zero value is a writable console without
// login, logging nowhere, with a 10 s budget per page.
type Config struct {
	// ReadOnly refuses every write action (they are not offered either).
	ReadOnly bool
	// Users, when not nil, requires HTTP basic auth with one of these
	// user/password pairs (see LoadUsers).
	Users Users
	// Timeout bounds the admin calls one page makes (default 10 s).
	Timeout time.Duration
	// Logger receives request failures (default: discard).
	Logger *slog.Logger
	// SampleEvery, when positive, runs the Live page's sampler at this
	// interval (the command uses 5 s) until Close; Window is how much it
	// keeps (default 30 minutes).
	SampleEvery time.Duration
	Window      time.Duration
	// Sender, when set, offers re-sending a message (a DLQ message to its
	// original topic, any message to a topic of choice).
	Sender Sender
}

// Sender sends one message and returns its message id; the command backs
// it with a producer sharing the admin client's connections.
type Sender interface {
	Send(ctx context.Context, m *message.Message) (msgID string, err error)
}

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Console serves the pages. It is an http.Handler.
type Console struct {
	be    Backend
	cfg   Config
	log   *slog.Logger
	pages map[string]*page
	mux   *http.ServeMux

	sampler *sampler // nil when live charts are off
}

// New builds a console over be.
func New(be Backend, cfg Config) (*Console, error) {
	if be == nil {
		return nil, errors.New("console: nil backend")
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Second
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	c := &Console{be: be, cfg: cfg, log: log, mux: http.NewServeMux()}
	var err error
	if c.pages, err = parsePages(); err != nil {
		return nil, err
	}
	static, _ := fs.Sub(staticFS, "static")
	c.mux.Handle("GET /static/", http.StripPrefix("/static/", http.FileServerFS(static)))
	c.mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/cluster", http.StatusFound)
	})
	c.routes()
	if cfg.SampleEvery > 0 {
		if cfg.Window <= 0 {
			cfg.Window = 30 * time.Minute
		}
		c.sampler = newSampler(be, cfg.SampleEvery, cfg.Window)
		c.sampler.start(cfg.Timeout)
	}
	return c, nil
}

// Close stops the live sampler, if any, and waits for it.
func (c *Console) Close() error {
	if c.sampler != nil {
		c.sampler.close()
	}
	return nil
}

// ServeHTTP applies basic auth, security headers and CSRF checks, then
// dispatches.
func (c *Console) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'; form-action 'self'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "same-origin")
	if c.cfg.Users != nil {
		user, pass, ok := r.BasicAuth()
		if !ok || !c.cfg.Users.Check(user, pass) {
			h.Set("WWW-Authenticate", `Basic realm="rocketgo console", charset="UTF-8"`)
			http.Error(w, "login required", http.StatusUnauthorized)
			return
		}
	}
	r = withCSRF(w, r)
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		if err := checkCSRF(r); err != nil {
			http.Error(w, err.Error(), http.StatusForbidden)
			return
		}
		if c.cfg.ReadOnly {
			http.Error(w, "console is read-only", http.StatusForbidden)
			return
		}
	}
	c.mux.ServeHTTP(w, r)
}

// Server is a console listening on an address.
type Server struct {
	hs   *http.Server
	ln   net.Listener
	done chan error
}

// Listen serves h on addr (host:port; port 0 picks a free one) until
// Shutdown.
func Listen(addr string, h http.Handler) (*Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("console: %w", err)
	}
	s := &Server{
		hs:   &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second, IdleTimeout: 2 * time.Minute},
		ln:   ln,
		done: make(chan error, 1),
	}
	go func() { s.done <- s.hs.Serve(ln) }()
	return s, nil
}

// Addr is the address the server listens on.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Shutdown stops accepting, waits for requests in flight (bounded by ctx)
// and the serving goroutine.
func (s *Server) Shutdown(ctx context.Context) error {
	err := s.hs.Shutdown(ctx)
	if serr := <-s.done; serr != nil && !errors.Is(serr, http.ErrServerClosed) {
		err = errors.Join(err, serr)
	}
	return err
}
