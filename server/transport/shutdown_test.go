package transport

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/rocketgo/rocketgo/internal/syncbuf"
)

// TestShutdownLeavesNoConnectionOpen: clients connecting while the server
// shuts down are refused or closed, never left on a socket nobody serves.
// gnet's acceptor kept accepting after the event loops exited, and a
// broker being killed kept a reconnecting consumer's pulls for their whole
// timeout (TestFailoverUnderLoad, now and then).
func TestShutdownLeavesNoConnectionOpen(t *testing.T) {
	for round := range 30 {
		s := NewServer("127.0.0.1:0")
		installTestProcessors(s)
		if err := s.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		addr := s.Addr().String()
		var (
			mu    sync.Mutex
			conns []net.Conn
			wg    sync.WaitGroup
		)
		stop := make(chan struct{})
		for range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					select {
					case <-stop:
						return
					default:
					}
					if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
						mu.Lock()
						conns = append(conns, c)
						mu.Unlock()
					}
				}
			}()
		}
		time.Sleep(5 * time.Millisecond) // dialling in full swing
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err := s.Shutdown(ctx)
		cancel()
		close(stop)
		wg.Wait()
		if err != nil {
			t.Fatal(err)
		}
		// Each client writes before it reads, as a real one would: a
		// handshake the kernel completed for a listener that then stopped
		// leaves the client believing it is connected until it sends, when
		// the reset comes. A connection a server accepted and left alone
		// takes the byte and answers nothing.
		open := 0
		for _, c := range conns {
			c.SetDeadline(time.Now().Add(2 * time.Second))
			c.Write([]byte{0})
			var ne net.Error
			if _, err := c.Read(make([]byte, 1)); errors.As(err, &ne) && ne.Timeout() {
				open++
			}
			c.Close()
		}
		if open > 0 {
			t.Fatalf("round %d: %d of %d connections made during Shutdown still open 2 s after it returned", round, open, len(conns))
		}
	}
}

// TestShutdownLogsNoWarning: stopping the listener fails gnet's next
// accept on purpose; an orderly Shutdown must not report that as a fault.
func TestShutdownLogsNoWarning(t *testing.T) {
	var logs syncbuf.Buffer
	s := NewServer("127.0.0.1:0", WithLogger(slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelWarn}))))
	installTestProcessors(s)
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	c, err := net.Dial("tcp", s.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if got := logs.String(); got != "" {
		t.Errorf("Shutdown logged warnings:\n%s", got)
	}
}
