package netclient

import (
	"errors"
	"net"
	"sync"
	"testing"

	"github.com/rocketgo/rocketgo/remoting"
)

// fakeServer is a bare remoting peer on a free loopback port: every request
// goes to handle on the connection's reading goroutine, which may answer at
// once, later (from another goroutine) or never. It knows nothing of the
// client's internals, so tests see the client only as the wire does.
type fakeServer struct {
	ln     net.Listener
	handle func(fc *fakeConn, req *remoting.Command)

	mu      sync.Mutex
	conns   []*fakeConn
	stopped bool
	wg      sync.WaitGroup
}

// fakeConn is one accepted connection; write is safe for concurrent use.
type fakeConn struct {
	nc  net.Conn
	wmu sync.Mutex
}

func (fc *fakeConn) write(cmd *remoting.Command) error {
	b, err := remoting.AppendFrame(nil, cmd)
	if err != nil {
		return err
	}
	fc.wmu.Lock()
	defer fc.wmu.Unlock()
	_, err = fc.nc.Write(b)
	return err
}

// answer replies to req with SUCCESS, echoing its body.
func (fc *fakeConn) answer(req *remoting.Command) error {
	resp := remoting.NewResponse(req, remoting.Success, "")
	resp.Body = req.Body
	return fc.write(resp)
}

// startFake serves on 127.0.0.1:0 until the test ends. A nil handle answers
// every request that is not oneway at once.
func startFake(tb testing.TB, handle func(fc *fakeConn, req *remoting.Command)) *fakeServer {
	tb.Helper()
	if handle == nil {
		handle = func(fc *fakeConn, req *remoting.Command) {
			if !req.IsOneway() {
				_ = fc.answer(req)
			}
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	s := &fakeServer{ln: ln, handle: handle}
	s.wg.Add(1)
	go s.accept()
	tb.Cleanup(s.stop)
	return s
}

func (s *fakeServer) addr() string { return s.ln.Addr().String() }

func (s *fakeServer) accept() {
	defer s.wg.Done()
	for {
		nc, err := s.ln.Accept()
		if err != nil {
			return
		}
		fc := &fakeConn{nc: nc}
		s.mu.Lock()
		if s.stopped {
			s.mu.Unlock()
			_ = nc.Close()
			return
		}
		s.conns = append(s.conns, fc)
		s.mu.Unlock()
		s.wg.Add(1)
		go s.serve(fc)
	}
}

func (s *fakeServer) serve(fc *fakeConn) {
	defer s.wg.Done()
	buf := make([]byte, 0, 64<<10)
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := fc.nc.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err != nil {
			return
		}
		off := 0
		for {
			frame, used, err := remoting.SplitFrame(buf[off:], remoting.DefaultMaxFrameSize)
			if err != nil {
				_ = fc.nc.Close()
				return
			}
			if used == 0 {
				break
			}
			off += used
			cmd, err := remoting.DecodeFrame(frame)
			if err != nil {
				_ = fc.nc.Close()
				return
			}
			if len(cmd.Body) > 0 {
				cmd.Body = append([]byte(nil), cmd.Body...)
			}
			s.handle(fc, cmd)
		}
		buf = buf[:copy(buf, buf[off:])]
	}
}

// dropConns closes every accepted connection (a peer that hangs up).
func (s *fakeServer) dropConns() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, fc := range s.conns {
		_ = fc.nc.Close()
	}
	s.conns = nil
}

func (s *fakeServer) stop() {
	s.mu.Lock()
	s.stopped = true
	s.mu.Unlock()
	if err := s.ln.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
		panic(err)
	}
	s.dropConns()
	s.wg.Wait()
}
