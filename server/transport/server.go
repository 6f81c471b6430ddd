package transport

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rocketgo/rocketgo/internal/inflight"
	"github.com/rocketgo/rocketgo/remoting"

	"github.com/panjf2000/gnet/v2"
	gerrors "github.com/panjf2000/gnet/v2/pkg/errors"
	"golang.org/x/sys/unix"
)

// Processor handles one inbound request. It answers with ctx.Reply, either
// before returning or later from any goroutine (parked long-poll pulls,
// group-committed sends). Processors registered with Handle run on the
// server's bounded worker pool, never on a network event loop; one that must
// wait a long time should park the request and return rather than hold a
// worker. HandleInline trades that safety for latency.
type Processor func(ctx *RequestContext, req *remoting.Command)

// DefaultQueueSize bounds the requests decoded but not yet picked up by a
// worker, like Java's sendThreadPoolQueueCapacity (10000). Beyond it the
// server answers SYSTEM_BUSY instead of blocking its event loop.
const DefaultQueueSize = 10000

// defaultWorkers is max(16, 4×GOMAXPROCS): more workers than cores because a
// processor may block briefly on disk (synchronous flush) or a lock, while
// truly long waits are expected to park and Reply later.
func defaultWorkers() int {
	return max(16, 4*runtime.GOMAXPROCS(0))
}

// WithWorkers sets the number of processor goroutines. Default
// max(16, 4×GOMAXPROCS). Values <= 0 keep the default.
func WithWorkers(n int) Option {
	return func(c *config) {
		if n > 0 {
			c.workers = n
		}
	}
}

// WithQueueSize bounds the request queue in front of the workers. Default
// DefaultQueueSize. Values <= 0 keep the default.
func WithQueueSize(n int) Option {
	return func(c *config) {
		if n > 0 {
			c.queueSize = n
		}
	}
}

// WithEventLoops sets the number of gnet event loops. Default GOMAXPROCS
// (gnet multicore mode). Values <= 0 keep the default.
func WithEventLoops(n int) Option {
	return func(c *config) {
		if n > 0 {
			c.eventLoops = n
		}
	}
}

// WithOnConnect registers a hook called when a connection opens. It runs on
// the connection's event loop and must not block.
func WithOnConnect(f func(*Conn)) Option {
	return func(c *config) { c.onConnect = f }
}

// WithOnClose registers a hook called once when a connection closes, with the
// reason if known (nil for an orderly close). It runs on the event loop and
// must not block; a broker uses it to drop the client's registrations.
func WithOnClose(f func(*Conn, error)) Option {
	return func(c *config) { c.onClose = f }
}

// ReplyHook observes every answer a server sends: the request and response
// codes, the time from the request's arrival to the answer, and whether
// the processor parked the request (RequestContext.MarkParked). It runs on
// whichever goroutine replies, possibly an event loop, just before the answer
// is queued for writing, and must not block.
type ReplyHook func(requestCode, responseCode int16, elapsed time.Duration, parked bool)

// WithReplyHook registers h for every reply (metrics). Default: none, and
// then requests are not timed at all.
func WithReplyHook(h ReplyHook) Option {
	return func(c *config) { c.onReply = h }
}

// Server is the accepting side of the remoting protocol, built on gnet. Event
// loops only split and decode frames; each request is queued to a bounded
// worker pool (unless its code was registered with HandleInline), so a slow
// processor never stalls another connection, and a full queue is answered
// with SYSTEM_BUSY rather than by blocking the loop.
// Replies from any goroutine are coalesced per connection and written by the
// connection's event loop.
type Server struct {
	addr  string
	cfg   config
	pools inflight.Pools

	hmu      sync.Mutex
	handlers atomic.Pointer[map[int32]handler]

	opaque atomic.Int32 // opaques of server-initiated requests

	work chan *RequestContext
	quit chan struct{}
	wg   sync.WaitGroup // workers

	mu      sync.Mutex
	state   int // serverNew, serverRunning, serverStopped
	eng     gnet.Engine
	bound   net.Addr
	booted  chan struct{} // closed by OnBoot
	runDone chan struct{} // closed when gnet.Run returns
	runErr  error
	stopped chan struct{} // closed when shutdown completed
	conns   map[*Conn]struct{}
	front   *tlsFront // owns the public port when TLS is on; nil otherwise
}

const (
	serverNew = iota
	serverRunning
	serverStopped
)

// NewServer returns a server that will listen on addr ("host:port"; port 0
// picks a free port, see Addr) once Start is called.
func NewServer(addr string, opts ...Option) *Server {
	cfg := defaultConfig()
	for _, o := range opts {
		if o != nil {
			o(&cfg)
		}
	}
	s := &Server{
		addr:    addr,
		cfg:     cfg,
		quit:    make(chan struct{}),
		booted:  make(chan struct{}),
		runDone: make(chan struct{}),
		stopped: make(chan struct{}),
		conns:   make(map[*Conn]struct{}),
	}
	empty := map[int32]handler{}
	s.handlers.Store(&empty)
	return s
}

// Handle registers p for request code, replacing any previous processor; a
// nil p removes it. p runs on the worker pool. It may be called before or
// after Start. Unregistered codes are answered with REQUEST_CODE_NOT_SUPPORTED.
func (s *Server) Handle(code int16, p Processor) { s.setHandler(int32(code), p, false) }

// HandleWide is Handle for a request code beyond int16 (the 5.x POP
// codes), which peers send in JSON headers.
func (s *Server) HandleWide(code int32, p Processor) { s.setHandler(code, p, false) }

// HandleInline registers p to run directly on the connection's event loop,
// skipping the hand-off to a worker and the loop wake-up for its reply, and
// the copy of the body out of the read buffer (see RequestContext.KeepBody):
// BenchmarkInvokeSync measured ~20 µs instead of ~50 µs per sequential round
// trip on loopback. Only for processors that never block — no disk
// or network I/O, no waiting on channels or contended locks — because while
// p runs, every connection of that loop waits. Such a processor may still
// park the request and Reply later from another goroutine.
func (s *Server) HandleInline(code int16, p Processor) { s.setHandler(int32(code), p, true) }

type handler struct {
	proc   Processor
	inline bool
}

func (s *Server) setHandler(code int32, p Processor, inline bool) {
	s.hmu.Lock()
	defer s.hmu.Unlock()
	old := *s.handlers.Load()
	next := make(map[int32]handler, len(old)+1)
	for k, v := range old {
		next[k] = v
	}
	if p == nil {
		delete(next, code)
	} else {
		next[code] = handler{proc: p, inline: inline}
	}
	s.handlers.Store(&next)
}

// Start binds the listener, starts the event loops and workers, and returns
// once the server accepts connections (or failed to bind).
func (s *Server) Start(ctx context.Context) error {
	s.mu.Lock()
	if s.state != serverNew {
		s.mu.Unlock()
		if s.state == serverStopped {
			return ErrServerClosed
		}
		return fmt.Errorf("remoting: server already started")
	}
	s.state = serverRunning
	s.work = make(chan *RequestContext, s.cfg.queueSize)
	s.wg.Add(s.cfg.workers)
	s.mu.Unlock()

	for range s.cfg.workers {
		go s.worker()
	}

	proto := s.addr
	if s.cfg.tlsMode != TLSDisabled {
		if s.cfg.tlsConfig == nil || (len(s.cfg.tlsConfig.Certificates) == 0 && s.cfg.tlsConfig.GetCertificate == nil) {
			s.abortStart()
			return fmt.Errorf("remoting: TLS %s needs a certificate", s.cfg.tlsMode)
		}
		ln, err := net.Listen("tcp", strings.TrimPrefix(s.addr, "tcp://"))
		if err != nil {
			s.abortStart()
			return fmt.Errorf("remoting: listen %s: %w", s.addr, err)
		}
		s.front = newTLSFront(s, ln)
		proto = "127.0.0.1:0" // the event loops serve the front only
	}
	if !strings.Contains(proto, "://") {
		proto = "tcp://" + proto
	}
	ev := &serverEvents{s: s}
	go func() {
		err := gnet.Run(ev, proto,
			gnet.WithMulticore(true),
			gnet.WithNumEventLoop(s.cfg.eventLoops),
			gnet.WithTCPNoDelay(gnet.TCPNoDelay),
			// Connections this server closed sit in TIME_WAIT on its port;
			// without SO_REUSEADDR a restart could not bind for a minute.
			gnet.WithReuseAddr(true),
			gnet.WithTicker(true),
			gnet.WithLogger(gnetLogger{s.cfg.logger}),
		)
		s.runErr = err
		close(s.runDone)
	}()

	select {
	case <-s.booted:
		return nil
	case <-s.runDone:
		// Run failed (bind error) before booting: nothing else to stop.
		if s.front != nil {
			_ = s.front.ln.Close()
		}
		s.stopWorkers()
		s.wg.Wait()
		s.mu.Lock()
		if s.state == serverRunning {
			s.state = serverStopped
			close(s.stopped)
		}
		s.mu.Unlock()
		return fmt.Errorf("remoting: listen %s: %w", s.addr, s.runErr)
	case <-ctx.Done():
		// Binding is quick; finish it in the background and tear down.
		go func() { _ = s.Shutdown(context.Background()) }()
		return ctx.Err()
	}
}

// abortStart undoes Start's first steps when it fails before gnet runs.
func (s *Server) abortStart() {
	s.stopWorkers()
	s.wg.Wait()
	s.mu.Lock()
	s.state = serverStopped
	close(s.stopped)
	s.mu.Unlock()
}

// Addr returns the bound listen address (with the real port when the
// configured port was 0), or nil before Start.
func (s *Server) Addr() net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.bound
}

// Shutdown stops accepting, closes every connection (failing outstanding
// server-to-client calls with ErrConnClosed and dropping late replies),
// stops the workers and waits until every goroutine the server started has
// returned, or until ctx is done; the shutdown itself carries on to the end
// either way, and concurrent or repeated calls all wait for the same one.
// Requests still queued are dropped: their connections are gone.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	switch s.state {
	case serverNew:
		s.state = serverStopped
		close(s.stopped)
	case serverRunning:
		s.state = serverStopped
		go s.stop()
	}
	s.mu.Unlock()
	select {
	case <-s.stopped:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// stop performs the shutdown started by Shutdown and closes s.stopped.
func (s *Server) stop() {
	defer close(s.stopped)
	select {
	case <-s.booted:
	case <-s.runDone:
	}
	if s.front != nil {
		// First, so no new cleartext connection reaches the loops.
		s.front.close(context.Background())
	}
	select {
	case <-s.runDone:
	default:
		// Engine.Stop polls for completion every 500 ms; give it an already
		// cancelled context so it only triggers the shutdown, and wait for
		// gnet.Run to return instead, which happens as soon as every loop
		// has exited and closed its connections.
		cancelled, cancel := context.WithCancel(context.Background())
		cancel()
		s.mu.Lock()
		eng := s.eng
		s.mu.Unlock()
		stopListening(eng)
		_ = eng.Stop(cancelled)
		<-s.runDone
	}
	s.stopWorkers()
	s.wg.Wait()
}

// stopListening stops gnet's listening socket before the engine stops.
// gnet's acceptor hands each accepted connection to an event loop as a
// queued task, and a loop told to exit drops the tasks still queued: a
// connection accepted while the engine stops was never served nor closed
// (a client that reconnected to a broker being killed waited out its
// request timeout on it). shutdown(2) on a duplicate of the listener makes
// the kernel refuse new connections and reset those not yet accepted;
// acceptDrain then gives the loops time to open those already accepted,
// which OnOpen closes because the server is stopping. gnet closes the
// listener itself later.
func stopListening(eng gnet.Engine) {
	fd, err := eng.Dup()
	if err != nil {
		return
	}
	_ = unix.Shutdown(fd, unix.SHUT_RDWR)
	_ = unix.Close(fd)
	time.Sleep(acceptDrain)
}

// acceptDrain is how long Shutdown waits between refusing connections and
// stopping the event loops: handing an accepted connection to its loop
// takes microseconds.
const acceptDrain = 20 * time.Millisecond

func (s *Server) stopWorkers() {
	s.mu.Lock()
	defer s.mu.Unlock()
	select {
	case <-s.quit:
	default:
		close(s.quit)
	}
}

// worker runs processors until the server stops.
func (s *Server) worker() {
	defer s.wg.Done()
	for {
		select {
		case rc := <-s.work:
			rc.waited = time.Since(rc.queued)
			s.process(rc)
		case <-s.quit:
			return
		}
	}
}

// process runs one processor; a panic becomes a SYSTEM_ERROR reply and an
// error log instead of a dead server.
func (s *Server) process(rc *RequestContext) {
	defer func() {
		if r := recover(); r != nil {
			s.cfg.logger.Error("remoting: processor panicked", "code", rc.req.Code, "remote", rc.conn.String(), "panic", r)
			_ = rc.Reply(remoting.NewResponse(rc.req, remoting.SystemError, fmt.Sprintf("processor panic: %v", r)))
		}
	}()
	if check := s.cfg.accessCheck; check != nil {
		if err := check(rc.conn, rc.req); err != nil {
			_ = rc.Reply(remoting.NewResponse(rc.req, remoting.NoPermission, err.Error()))
			return
		}
	}
	rc.proc(rc, rc.req)
}

// dispatch is called on the event loop for every decoded request.
func (s *Server) dispatch(c *Conn, req *remoting.Command) {
	rc := &RequestContext{conn: c, req: req}
	if s.cfg.onReply != nil {
		rc.hook, rc.arrived = s.cfg.onReply, time.Now()
	}
	// Dispatch on the code as sent: a wide (5.x) code arrives as
	// CodeOutOfRange with the real value beside it.
	code := int32(req.Code)
	if req.Code == remoting.CodeOutOfRange {
		code = int32(req.ReceivedCode())
	}
	h, ok := (*s.handlers.Load())[code]
	if !ok {
		_ = rc.Reply(remoting.NewResponse(req, remoting.RequestCodeNotSupported, fmt.Sprintf(" request type %d not supported", req.ReceivedCode())))
		return
	}
	rc.proc = h.proc
	if h.inline {
		rc.inline = true // the body stays in the read buffer: see KeepBody
		s.process(rc)
		return
	}
	inflight.DetachBody(req) // a worker reads it after the buffer moved on
	rc.queued = time.Now()
	select {
	case s.work <- rc:
	default:
		s.cfg.logger.Debug("remoting: worker queue full, answering SYSTEM_BUSY", "code", req.Code, "remote", c.String())
		_ = rc.Reply(remoting.NewResponse(req, remoting.SystemBusy, "[OVERLOAD] server request queue is full, try again later"))
	}
}

// QueueLen is the number of requests waiting for a worker.
func (s *Server) QueueLen() int { return len(s.work) }

func (s *Server) track(c *Conn) {
	s.mu.Lock()
	s.conns[c] = struct{}{}
	s.mu.Unlock()
}

func (s *Server) untrack(c *Conn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
}

// closeIdle closes connections that received nothing for the idle timeout.
func (s *Server) closeIdle(now time.Time) {
	limit := now.Add(-s.cfg.idleTimeout).UnixNano()
	s.mu.Lock()
	var idle []*Conn
	for c := range s.conns {
		if c.lastRead.Load() < limit {
			idle = append(idle, c)
		}
	}
	s.mu.Unlock()
	for _, c := range idle {
		s.cfg.logger.Debug("remoting: closing idle connection", "remote", c.String())
		_ = c.Close()
	}
}

// serverEvents adapts gnet's callbacks to the Server. Every method runs on
// an event loop (OnTick on gnet's ticker goroutine) and must not block.
type serverEvents struct {
	gnet.BuiltinEventEngine
	s *Server
}

func (e *serverEvents) OnBoot(eng gnet.Engine) gnet.Action {
	s := e.s
	bound := boundAddr(eng)
	s.mu.Lock()
	s.eng = eng
	s.bound = bound
	if s.front != nil && bound != nil {
		s.front.inner = bound.String()
		s.bound = s.front.ln.Addr()
		s.front.wg.Add(1)
		go s.front.serve()
	}
	s.mu.Unlock()
	close(s.booted)
	return gnet.None
}

func (e *serverEvents) OnOpen(gc gnet.Conn) ([]byte, gnet.Action) {
	e.s.mu.Lock()
	stopping := e.s.state != serverRunning
	e.s.mu.Unlock()
	if stopping {
		// Accepted while shutting down: close it now rather than leave the
		// peer talking to a socket nobody will serve.
		return nil, gnet.Close
	}
	c := newConn(e.s, gc)
	gc.SetContext(c)
	e.s.track(c)
	e.s.cfg.logger.Debug("remoting: connection opened", "remote", c.String())
	if f := e.s.cfg.onConnect; f != nil {
		f(c)
	}
	return nil, gnet.None
}

func (e *serverEvents) OnClose(gc gnet.Conn, err error) gnet.Action {
	c, ok := gc.Context().(*Conn)
	if !ok {
		return gnet.None
	}
	c.markClosed(err)
	e.s.untrack(c)
	e.s.cfg.logger.Debug("remoting: connection closed", "remote", c.String(), "err", err)
	if f := e.s.cfg.onClose; f != nil {
		f(c, err)
	}
	return gnet.None
}

func (e *serverEvents) OnTraffic(gc gnet.Conn) gnet.Action {
	c, ok := gc.Context().(*Conn)
	if !ok {
		return gnet.Close
	}
	return c.onTraffic()
}

func (e *serverEvents) OnTick() (time.Duration, gnet.Action) {
	idle := e.s.cfg.idleTimeout
	if idle <= 0 {
		return time.Hour, gnet.None
	}
	e.s.closeIdle(time.Now())
	return min(max(idle/4, 10*time.Millisecond), 10*time.Second), gnet.None
}

// gnetLogger routes gnet's own logging into the server's slog logger: Debug
// for chatter, Warn for gnet errors. gnet keeps its logger in a process-wide
// variable, so with several servers in one process the last one started wins.
type gnetLogger struct{ l *slog.Logger }

func (g gnetLogger) logf(level slog.Level, format string, args ...any) {
	if g.l.Enabled(context.Background(), level) {
		g.l.Log(context.Background(), level, "gnet: "+fmt.Sprintf(format, args...))
	}
}

func (g gnetLogger) Debugf(format string, args ...any) { g.logf(slog.LevelDebug, format, args...) }
func (g gnetLogger) Infof(format string, args ...any)  { g.logf(slog.LevelDebug, format, args...) }
func (g gnetLogger) Warnf(format string, args ...any)  { g.logf(slog.LevelWarn, format, args...) }
func (g gnetLogger) Errorf(format string, args ...any) {
	level := slog.LevelWarn
	for _, a := range args {
		// Shutdown's stopListening fails the acceptor's next accept with
		// EINVAL, and the acceptor then exits with ErrAcceptSocket: the
		// stop asked for, not a fault. Other accept errors (EMFILE) stay
		// warnings.
		if err, ok := a.(error); ok && (errors.Is(err, unix.EINVAL) || errors.Is(err, gerrors.ErrAcceptSocket)) {
			level = slog.LevelDebug
		}
	}
	g.logf(level, format, args...)
}
func (g gnetLogger) Fatalf(format string, args ...any) { g.logf(slog.LevelError, format, args...) }
