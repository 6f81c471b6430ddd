package transport

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rocketgo/rocketgo/remoting"
	"github.com/rocketgo/rocketgo/remoting/netclient"
)

// Test request codes served by the helpers below.
const (
	codeEcho    int16 = 1000 // replies Success with the request's body and ext "k" echoed
	codeNever   int16 = 1001 // never replies (parks the request)
	codeCallout int16 = 1002 // asks the client (code in ext "c") and relays its answer
	codeLate    int16 = 1003 // replies from another goroutine after a short delay
	codePanic   int16 = 1004 // processor panics
)

// startServer starts a Server on a free loopback port with the test
// processors installed and stops it when the test ends.
func startServer(t testing.TB, opts ...Option) (*Server, string) {
	t.Helper()
	s := NewServer("127.0.0.1:0", opts...)
	installTestProcessors(s)
	if err := s.Start(context.Background()); err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
	})
	addr := s.Addr()
	if addr == nil {
		t.Fatal("Addr() is nil after Start")
	}
	return s, addr.String()
}

func installTestProcessors(s *Server) {
	s.Handle(codeEcho, echoProcessor)
	s.Handle(codeNever, func(*RequestContext, *remoting.Command) {})
	s.Handle(codeLate, func(rc *RequestContext, req *remoting.Command) {
		go func() {
			time.Sleep(5 * time.Millisecond)
			resp := remoting.NewResponse(req, remoting.Success, "late")
			resp.Body = req.Body
			_ = rc.Reply(resp)
		}()
	})
	s.Handle(codePanic, func(*RequestContext, *remoting.Command) { panic("boom") })
	s.Handle(codeCallout, func(rc *RequestContext, req *remoting.Command) {
		code, err := req.Ext.Int("c")
		if err != nil {
			_ = rc.Reply(remoting.NewResponse(req, remoting.SystemError, err.Error()))
			return
		}
		out := remoting.NewRequest(int16(code), nil, req.Body)
		if req.Ext.Bool("oneway") {
			err := rc.Conn().InvokeOneway(context.Background(), out)
			resp := remoting.NewResponse(req, remoting.Success, "")
			if err != nil {
				resp = remoting.NewResponse(req, remoting.SystemError, err.Error())
			}
			_ = rc.Reply(resp)
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		got, err := rc.Conn().Invoke(ctx, out)
		if err != nil {
			_ = rc.Reply(remoting.NewResponse(req, remoting.SystemError, err.Error()))
			return
		}
		resp := remoting.NewResponse(req, got.Code, got.Remark)
		resp.Body = got.Body
		resp.Ext.Set("serialize", got.SerializeType.String())
		_ = rc.Reply(resp)
	})
}

func echoProcessor(rc *RequestContext, req *remoting.Command) {
	resp := remoting.NewResponse(req, remoting.Success, "")
	resp.Body = req.Body
	if v, ok := req.Ext.Get("k"); ok {
		resp.Ext.Set("k", v)
	}
	resp.Ext.Set("serialize", req.SerializeType.String())
	_ = rc.Reply(resp)
}

func newTestClient(t testing.TB, opts ...netclient.Option) *netclient.Client {
	t.Helper()
	c := netclient.New(opts...)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func echoRequest(k string, body []byte) *remoting.Command {
	req := remoting.NewRequest(codeEcho, nil, body)
	req.Ext.Set("k", k)
	return req
}

func TestInvokeSyncBothSerializations(t *testing.T) {
	_, addr := startServer(t)
	for _, st := range []remoting.SerializeType{remoting.SerializeJSON, remoting.SerializeRocketMQ} {
		t.Run(st.String(), func(t *testing.T) {
			c := newTestClient(t, netclient.WithSerializeType(st))
			resp, err := c.InvokeSync(context.Background(), addr, echoRequest("v\x01w", []byte("hello")))
			if err != nil {
				t.Fatalf("InvokeSync: %v", err)
			}
			if resp.Code != remoting.Success || !resp.IsResponse() {
				t.Fatalf("got %v, want a success response", resp)
			}
			if string(resp.Body) != "hello" {
				t.Errorf("body = %q, want hello", resp.Body)
			}
			if v, _ := resp.Ext.Get("k"); v != "v\x01w" {
				t.Errorf("ext k = %q", v)
			}
			// The server saw the client's encoding and answered in it.
			if v, _ := resp.Ext.Get("serialize"); v != st.String() {
				t.Errorf("server saw %s, want %s", v, st)
			}
			if resp.SerializeType != st {
				t.Errorf("response encoded as %s, want %s", resp.SerializeType, st)
			}
		})
	}
}

func TestConcurrentSyncAndAsyncShareOneConnection(t *testing.T) {
	var opened atomic.Int32
	_, addr := startServer(t, WithOnConnect(func(*Conn) { opened.Add(1) }))
	c := newTestClient(t)

	const workers, perWorker = 32, 100
	var wg sync.WaitGroup
	errs := make(chan error, workers*perWorker)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perWorker {
				k := fmt.Sprintf("%d-%d", w, i)
				body := []byte(strings.Repeat(k, i%7))
				if i%2 == 0 {
					resp, err := c.InvokeSync(context.Background(), addr, echoRequest(k, body))
					if err != nil {
						errs <- err
						continue
					}
					if v, _ := resp.Ext.Get("k"); v != k || !bytes.Equal(resp.Body, body) {
						errs <- fmt.Errorf("sync %s: got k=%q body=%q", k, v, resp.Body)
					}
					continue
				}
				done := make(chan struct{})
				var calls atomic.Int32
				c.InvokeAsync(context.Background(), addr, echoRequest(k, body), func(resp *remoting.Command, err error) {
					defer close(done)
					calls.Add(1)
					if err != nil {
						errs <- err
						return
					}
					if v, _ := resp.Ext.Get("k"); v != k || !bytes.Equal(resp.Body, body) {
						errs <- fmt.Errorf("async %s: got k=%q body=%q", k, v, resp.Body)
					}
				})
				<-done
				if n := calls.Load(); n != 1 {
					errs <- fmt.Errorf("callback ran %d times", n)
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if n := opened.Load(); n != 1 {
		t.Errorf("server saw %d connections, want 1 shared connection", n)
	}
}

func TestPendingFailPromptlyWhenServerClosesAndNextCallReconnects(t *testing.T) {
	var opened atomic.Int32
	s, addr := startServer(t, WithOnConnect(func(*Conn) { opened.Add(1) }))
	parked := make(chan *RequestContext, 16)
	s.Handle(codeNever, func(rc *RequestContext, _ *remoting.Command) { parked <- rc })
	c := newTestClient(t)

	// A deadline far beyond the test's patience: if the failure came from the
	// timeout instead of the close, the error would say so.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	const n = 8
	results := make(chan error, n)
	for range n {
		go func() {
			_, err := c.InvokeSync(ctx, addr, remoting.NewRequest(codeNever, nil, nil))
			results <- err
		}()
	}
	asyncErr := make(chan error, 1)
	var rc *RequestContext
	for range n {
		rc = <-parked
	}
	c.InvokeAsync(ctx, addr, remoting.NewRequest(codeNever, nil, nil), func(_ *remoting.Command, err error) { asyncErr <- err })
	<-parked
	if err := rc.Conn().Close(); err != nil {
		t.Fatalf("Conn.Close: %v", err)
	}
	for range n {
		err := <-results
		if !errors.Is(err, remoting.ErrConnClosed) {
			t.Errorf("pending sync call: got %v, want ErrConnClosed", err)
		}
		if errors.Is(err, remoting.ErrTimeout) {
			t.Errorf("pending sync call failed by timeout, not by the close: %v", err)
		}
		var op *remoting.OpError
		if !errors.As(err, &op) || op.Addr != addr || op.Code != codeNever {
			t.Errorf("error %v is not an *OpError for %s code %d", err, addr, codeNever)
		}
	}
	if err := <-asyncErr; !errors.Is(err, remoting.ErrConnClosed) {
		t.Errorf("pending async call: got %v, want ErrConnClosed", err)
	}

	// A late reply on the dead connection is dropped, not a crash.
	if err := rc.Reply(remoting.NewResponse(rc.Request(), remoting.Success, "")); !errors.Is(err, remoting.ErrConnClosed) {
		t.Errorf("Reply after close: got %v, want ErrConnClosed", err)
	}

	resp, err := c.InvokeSync(ctx, addr, echoRequest("again", nil))
	if err != nil {
		t.Fatalf("call after reconnect: %v", err)
	}
	if v, _ := resp.Ext.Get("k"); v != "again" {
		t.Errorf("k = %q", v)
	}
	if got := opened.Load(); got != 2 {
		t.Errorf("server saw %d connections, want 2 (original + reconnect)", got)
	}
}

func TestDeadlines(t *testing.T) {
	_, addr := startServer(t)

	t.Run("ctx deadline", func(t *testing.T) {
		c := newTestClient(t)
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		_, err := c.InvokeSync(ctx, addr, remoting.NewRequest(codeNever, nil, nil))
		if !errors.Is(err, remoting.ErrTimeout) || !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("got %v, want ErrTimeout and DeadlineExceeded", err)
		}
	})
	t.Run("default request timeout", func(t *testing.T) {
		c := newTestClient(t, netclient.WithRequestTimeout(50*time.Millisecond))
		_, err := c.InvokeSync(context.Background(), addr, remoting.NewRequest(codeNever, nil, nil))
		if !errors.Is(err, remoting.ErrTimeout) || !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("got %v, want ErrTimeout and DeadlineExceeded", err)
		}
		// The connection survives a timeout.
		if _, err := c.InvokeSync(context.Background(), addr, echoRequest("x", nil)); err != nil {
			t.Fatalf("call after timeout: %v", err)
		}
	})
	t.Run("cancel", func(t *testing.T) {
		c := newTestClient(t)
		ctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(20*time.Millisecond, cancel)
		_, err := c.InvokeSync(ctx, addr, remoting.NewRequest(codeNever, nil, nil))
		if !errors.Is(err, context.Canceled) || errors.Is(err, remoting.ErrTimeout) {
			t.Fatalf("got %v, want context.Canceled only", err)
		}
	})
	t.Run("async timeout", func(t *testing.T) {
		c := newTestClient(t, netclient.WithRequestTimeout(50*time.Millisecond))
		var calls atomic.Int32
		done := make(chan error, 2)
		c.InvokeAsync(context.Background(), addr, remoting.NewRequest(codeNever, nil, nil), func(_ *remoting.Command, err error) {
			calls.Add(1)
			done <- err
		})
		if err := <-done; !errors.Is(err, remoting.ErrTimeout) {
			t.Fatalf("got %v, want ErrTimeout", err)
		}
		// Close flushes any second completion that would have been a bug.
		_ = c.Close()
		if n := calls.Load(); n != 1 {
			t.Fatalf("callback ran %d times", n)
		}
	})
	t.Run("async ctx deadline", func(t *testing.T) {
		c := newTestClient(t)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
		defer cancel()
		done := make(chan error, 1)
		c.InvokeAsync(ctx, addr, remoting.NewRequest(codeNever, nil, nil), func(_ *remoting.Command, err error) { done <- err })
		if err := <-done; !errors.Is(err, remoting.ErrTimeout) || !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("already expired", func(t *testing.T) {
		c := newTestClient(t)
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if _, err := c.InvokeSync(ctx, addr, echoRequest("x", nil)); !errors.Is(err, context.Canceled) {
			t.Fatalf("got %v", err)
		}
	})
}

func TestUnknownCodeNotSupported(t *testing.T) {
	_, addr := startServer(t)
	for _, st := range []remoting.SerializeType{remoting.SerializeJSON, remoting.SerializeRocketMQ} {
		c := newTestClient(t, netclient.WithSerializeType(st))
		resp, err := c.InvokeSync(context.Background(), addr, remoting.NewRequest(4242, nil, nil))
		if err != nil {
			t.Fatalf("%s: %v", st, err)
		}
		if resp.Code != remoting.RequestCodeNotSupported || resp.Remark != " request type 4242 not supported" {
			t.Errorf("%s: got code %d remark %q", st, resp.Code, resp.Remark)
		}
	}
}

// TestUnknownWideCodeNamedAsSent: a JSON request code beyond int16 (a 5.x
// POP code) is refused with the code as the peer sent it, not the int16
// placeholder it decodes to.
func TestUnknownWideCodeNamedAsSent(t *testing.T) {
	_, addr := startServer(t)
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	header := `{"code":200050,"language":"GO","version":479,"opaque":7,"flag":0}`
	frame := binary.BigEndian.AppendUint32(nil, uint32(4+len(header)))
	frame = binary.BigEndian.AppendUint32(frame, uint32(len(header))) // serialize type 0: JSON
	frame = append(frame, header...)
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := conn.Write(frame); err != nil {
		t.Fatal(err)
	}
	var size [4]byte
	if _, err := io.ReadFull(conn, size[:]); err != nil {
		t.Fatal(err)
	}
	body := make([]byte, binary.BigEndian.Uint32(size[:]))
	if _, err := io.ReadFull(conn, body); err != nil {
		t.Fatal(err)
	}
	resp, err := remoting.DecodeFrame(body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.Code != remoting.RequestCodeNotSupported || resp.Opaque != 7 || resp.Remark != " request type 200050 not supported" {
		t.Fatalf("got code %d opaque %d remark %q", resp.Code, resp.Opaque, resp.Remark)
	}
}

// A processor registered with HandleWide serves its code beyond int16, and
// a client's wide request goes out as JSON even on a binary-header client.
func TestHandleWideServesCodeBeyondInt16(t *testing.T) {
	s, addr := startServer(t)
	s.HandleWide(remoting.PopMessage, func(rc *RequestContext, req *remoting.Command) {
		if req.ReceivedCode() != int64(remoting.PopMessage) {
			t.Errorf("processor saw code %d", req.ReceivedCode())
		}
		_ = rc.Reply(remoting.NewResponse(req, remoting.Success, "popped"))
	})
	c := netclient.New(netclient.WithSerializeType(remoting.SerializeRocketMQ))
	defer c.Close()
	resp, err := c.InvokeSync(context.Background(), addr, remoting.NewWideRequest(remoting.PopMessage, nil, nil))
	if err != nil || resp.Code != remoting.Success || resp.Remark != "popped" {
		t.Fatalf("wide request: %v %v", resp, err)
	}
	resp, err = c.InvokeSync(context.Background(), addr, remoting.NewWideRequest(remoting.AckMessage, nil, nil))
	if err != nil || resp.Code != remoting.RequestCodeNotSupported || resp.Remark != " request type 200051 not supported" {
		t.Fatalf("unserved wide request: %v %v", resp, err)
	}
}

func TestHandleInline(t *testing.T) {
	s, addr := startServer(t)
	s.HandleInline(2005, echoProcessor)
	s.HandleInline(2006, func(rc *RequestContext, req *remoting.Command) {
		go func() { _ = rc.Reply(remoting.NewResponse(req, remoting.Success, "parked")) }() // late reply from an inline processor
	})
	s.HandleInline(2007, func(*RequestContext, *remoting.Command) { panic("inline boom") })
	c := newTestClient(t)
	resp, err := c.InvokeSync(context.Background(), addr, remoting.NewRequest(2005, nil, []byte("in")))
	if err != nil || resp.Code != remoting.Success || string(resp.Body) != "in" {
		t.Fatalf("inline echo: %v %v", resp, err)
	}
	resp, err = c.InvokeSync(context.Background(), addr, remoting.NewRequest(2006, nil, nil))
	if err != nil || resp.Remark != "parked" {
		t.Fatalf("inline late reply: %v %v", resp, err)
	}
	resp, err = c.InvokeSync(context.Background(), addr, remoting.NewRequest(2007, nil, nil))
	if err != nil || resp.Code != remoting.SystemError {
		t.Fatalf("inline panic: %v %v", resp, err)
	}
	s.Handle(2005, nil) // unregister
	resp, err = c.InvokeSync(context.Background(), addr, remoting.NewRequest(2005, nil, nil))
	if err != nil || resp.Code != remoting.RequestCodeNotSupported {
		t.Fatalf("after unregister: %v %v", resp, err)
	}
}

func TestLateReplyFromAnotherGoroutine(t *testing.T) {
	_, addr := startServer(t)
	c := newTestClient(t)
	var wg sync.WaitGroup
	for i := range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			body := []byte(strconv.Itoa(i))
			resp, err := c.InvokeSync(context.Background(), addr, remoting.NewRequest(codeLate, nil, body))
			if err != nil {
				t.Error(err)
				return
			}
			if resp.Remark != "late" || !bytes.Equal(resp.Body, body) {
				t.Errorf("got remark %q body %q", resp.Remark, resp.Body)
			}
		}()
	}
	wg.Wait()
}

func TestOnlyFirstReplyCountsAndOnewayIsNotAnswered(t *testing.T) {
	s, addr := startServer(t)
	seen := make(chan *remoting.Command, 1)
	s.Handle(2000, func(rc *RequestContext, req *remoting.Command) {
		if req.IsOneway() {
			if err := rc.Reply(remoting.NewResponse(req, remoting.Success, "must not be sent")); err != nil {
				t.Errorf("Reply on oneway: %v", err)
			}
			seen <- req
			return
		}
		_ = rc.Reply(remoting.NewResponse(req, remoting.Success, "first"))
		_ = rc.Reply(remoting.NewResponse(req, remoting.SystemError, "second"))
	})
	c := newTestClient(t)
	if err := c.InvokeOneway(context.Background(), addr, remoting.NewRequest(2000, nil, []byte("ow"))); err != nil {
		t.Fatalf("InvokeOneway: %v", err)
	}
	got := <-seen
	if !got.IsOneway() || string(got.Body) != "ow" {
		t.Errorf("server got %v", got)
	}
	// Were a reply sent for the oneway it would be discarded by opaque, so
	// check the stream instead: the next response must be this call's.
	for range 3 {
		resp, err := c.InvokeSync(context.Background(), addr, remoting.NewRequest(2000, nil, nil))
		if err != nil {
			t.Fatal(err)
		}
		if resp.Remark != "first" {
			t.Errorf("remark %q, want first", resp.Remark)
		}
	}
}

func TestSlowProcessorDoesNotStallOtherConnections(t *testing.T) {
	// One event loop: if processors ran on it, a blocked one would stall
	// every connection.
	s, addr := startServer(t, WithEventLoops(1))
	release := make(chan struct{})
	entered := make(chan struct{})
	s.Handle(2008, func(rc *RequestContext, req *remoting.Command) {
		close(entered)
		<-release
		_ = rc.Reply(remoting.NewResponse(req, remoting.Success, "slow"))
	})
	slow, fast := newTestClient(t), newTestClient(t)
	done := make(chan *remoting.Command, 1)
	slow.InvokeAsync(context.Background(), addr, remoting.NewRequest(2008, nil, nil), func(resp *remoting.Command, err error) {
		if err != nil {
			t.Error(err)
		}
		done <- resp
	})
	<-entered
	for i := range 20 {
		if _, err := fast.InvokeSync(context.Background(), addr, echoRequest(strconv.Itoa(i), nil)); err != nil {
			t.Fatalf("fast client stalled behind a slow processor: %v", err)
		}
	}
	close(release)
	if resp := <-done; resp == nil || resp.Remark != "slow" {
		t.Errorf("slow call: %v", resp)
	}
}

func TestSystemBusyWhenQueueFull(t *testing.T) {
	s, addr := startServer(t, WithWorkers(1), WithQueueSize(1))
	release := make(chan struct{})
	s.Handle(2001, func(rc *RequestContext, req *remoting.Command) {
		<-release
		_ = rc.Reply(remoting.NewResponse(req, remoting.Success, ""))
	})
	c := newTestClient(t)
	// One request occupies the worker, one fills the queue; of three at least
	// one must be refused, and the refusal must not wait for the release.
	busy := make(chan struct{}, 3)
	var wg sync.WaitGroup
	codes := make(chan int16, 3)
	for range 3 {
		wg.Add(1)
		c.InvokeAsync(context.Background(), addr, remoting.NewRequest(2001, nil, nil), func(resp *remoting.Command, err error) {
			defer wg.Done()
			if err != nil {
				t.Error(err)
				return
			}
			codes <- resp.Code
			if resp.Code == remoting.SystemBusy {
				busy <- struct{}{}
			}
		})
	}
	<-busy
	close(release)
	wg.Wait()
	close(codes)
	var ok, refused int
	for code := range codes {
		switch code {
		case remoting.Success:
			ok++
		case remoting.SystemBusy:
			refused++
		default:
			t.Errorf("unexpected code %d", code)
		}
	}
	if refused < 1 || ok+refused != 3 {
		t.Errorf("ok=%d busy=%d", ok, refused)
	}
}

func TestProcessorPanicYieldsSystemError(t *testing.T) {
	_, addr := startServer(t)
	c := newTestClient(t)
	resp, err := c.InvokeSync(context.Background(), addr, remoting.NewRequest(codePanic, nil, nil))
	if err != nil {
		t.Fatal(err)
	}
	if resp.Code != remoting.SystemError {
		t.Errorf("code %d, want SYSTEM_ERROR", resp.Code)
	}
	if _, err := c.InvokeSync(context.Background(), addr, echoRequest("alive", nil)); err != nil {
		t.Fatalf("server stopped serving after a panic: %v", err)
	}
}

func TestServerToClientRequests(t *testing.T) {
	_, addr := startServer(t)
	for _, st := range []remoting.SerializeType{remoting.SerializeJSON, remoting.SerializeRocketMQ} {
		t.Run(st.String(), func(t *testing.T) {
			c := newTestClient(t, netclient.WithSerializeType(st))
			notified := make(chan *remoting.Command, 1)
			c.RegisterHandler(remoting.GetConsumerRunningInfo, func(_ context.Context, from string, req *remoting.Command) *remoting.Command {
				if from != addr {
					t.Errorf("handler addr %q, want %q", from, addr)
				}
				resp := remoting.NewResponse(req, remoting.Success, "running")
				resp.Body = append([]byte("info:"), req.Body...)
				return resp
			})
			c.RegisterHandler(remoting.NotifyConsumerIDsChanged, func(_ context.Context, _ string, req *remoting.Command) *remoting.Command {
				notified <- req
				return remoting.NewResponse(req, remoting.Success, "ignored for oneway")
			})

			call := func(code int16, oneway bool) *remoting.Command {
				t.Helper()
				req := remoting.NewRequest(codeCallout, nil, []byte("q"))
				req.Ext.SetInt("c", int64(code))
				req.Ext.SetBool("oneway", oneway)
				resp, err := c.InvokeSync(context.Background(), addr, req)
				if err != nil {
					t.Fatal(err)
				}
				return resp
			}

			resp := call(remoting.GetConsumerRunningInfo, false)
			if resp.Code != remoting.Success || resp.Remark != "running" || string(resp.Body) != "info:q" {
				t.Errorf("relayed answer: %v body %q", resp, resp.Body)
			}
			// The server used the encoding it last saw from this client.
			if v, _ := resp.Ext.Get("serialize"); v != st.String() {
				t.Errorf("client answered in %s, want %s", v, st)
			}

			resp = call(remoting.ConsumeMessageDirectly, false)
			if resp.Code != remoting.RequestCodeNotSupported {
				t.Errorf("unregistered client code answered %d, want REQUEST_CODE_NOT_SUPPORTED", resp.Code)
			}

			if resp = call(remoting.NotifyConsumerIDsChanged, true); resp.Code != remoting.Success {
				t.Fatalf("oneway callout: %v", resp)
			}
			got := <-notified
			if !got.IsOneway() || string(got.Body) != "q" {
				t.Errorf("client handler got %v", got)
			}
		})
	}
}

func TestRawSocketBadFramesCloseOnlyThatConnection(t *testing.T) {
	var closed atomic.Int32
	_, addr := startServer(t, WithMaxFrameSize(1024), WithOnClose(func(*Conn, error) { closed.Add(1) }))
	c := newTestClient(t)
	if _, err := c.InvokeSync(context.Background(), addr, echoRequest("before", nil)); err != nil {
		t.Fatal(err)
	}

	frame := func(length int32, rest []byte) []byte {
		b := binary.BigEndian.AppendUint32(nil, uint32(length))
		return append(b, rest...)
	}
	cases := map[string][]byte{
		"oversized":        frame(1<<20, []byte{0, 0, 0, 2}),
		"length too small": frame(2, []byte{0, 0}),
		"header overruns":  frame(8, []byte{0, 0, 0, 200, '{', '}', 0, 0}),
		"bad serialize":    frame(6, []byte{7, 0, 0, 2, 'x', 'y'}),
		"bad json":         frame(7, []byte{0, 0, 0, 3, '{', '{', '{'}),
		"negative length":  frame(-5, nil),
	}
	for name, raw := range cases {
		t.Run(name, func(t *testing.T) {
			nc, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer nc.Close()
			if _, err := nc.Write(raw); err != nil {
				t.Fatal(err)
			}
			_ = nc.SetReadDeadline(time.Now().Add(10 * time.Second))
			n, err := io.Copy(io.Discard, nc)
			if err != nil {
				t.Fatalf("want the server to close the connection, got %v", err)
			}
			if n != 0 {
				t.Errorf("server answered %d bytes to a bad frame", n)
			}
			// Other connections keep working.
			if _, err := c.InvokeSync(context.Background(), addr, echoRequest(name, nil)); err != nil {
				t.Fatalf("shared client broken: %v", err)
			}
		})
	}
}

func TestClientRejectsOversizedFrameFromServer(t *testing.T) {
	_, addr := startServer(t)
	c := newTestClient(t, netclient.WithMaxFrameSize(512))
	_, err := c.InvokeSync(context.Background(), addr, echoRequest("big", make([]byte, 4096)))
	if !errors.Is(err, remoting.ErrConnClosed) || !errors.Is(err, remoting.ErrFrameTooLarge) {
		t.Fatalf("got %v, want ErrConnClosed wrapping ErrFrameTooLarge", err)
	}
	if _, err := c.InvokeSync(context.Background(), addr, echoRequest("small", nil)); err != nil {
		t.Fatalf("after reconnect: %v", err)
	}
}

func TestClientClosesConnOnMalformedFrameFromPeer(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer nc.Close()
				// Wait for the request, answer with a frame whose header
				// length overruns the frame, then hold the socket open: only
				// the client's own frame check can end the call.
				if _, err := nc.Read(make([]byte, 64)); err != nil {
					return
				}
				_, _ = nc.Write([]byte{0, 0, 0, 8, 0, 0, 0, 200, '{', '}', 0, 0})
				_, _ = io.Copy(io.Discard, nc)
			}()
		}
	}()
	c := newTestClient(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, err = c.InvokeSync(ctx, ln.Addr().String(), echoRequest("x", nil))
	if !errors.Is(err, remoting.ErrConnClosed) || !errors.Is(err, remoting.ErrMalformedFrame) {
		t.Fatalf("got %v, want ErrConnClosed wrapping ErrMalformedFrame", err)
	}
}

func TestServerSurvivesGarbage(t *testing.T) {
	_, addr := startServer(t, WithMaxFrameSize(1<<16))
	c := newTestClient(t)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 40 {
		nc, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		junk := make([]byte, 1+rng.IntN(300))
		for j := range junk {
			junk[j] = byte(rng.UintN(256))
		}
		if i%2 == 0 && len(junk) >= 8 {
			// Plausible prefix so the header decoders see the junk too.
			binary.BigEndian.PutUint32(junk, uint32(len(junk)-4))
			binary.BigEndian.PutUint32(junk[4:], uint32(i%3)<<24|uint32(rng.IntN(len(junk))))
		}
		_, _ = nc.Write(junk)
		_ = nc.Close()
	}
	if _, err := c.InvokeSync(context.Background(), addr, echoRequest("still here", nil)); err != nil {
		t.Fatalf("server stopped serving after garbage: %v", err)
	}
}

func TestLargeBodies(t *testing.T) {
	_, addr := startServer(t)
	c := newTestClient(t)
	var wg sync.WaitGroup
	// Generous deadline: the race detector makes multi-megabyte copies slow.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for i := range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			body := bytes.Repeat([]byte{byte('a' + i)}, 3<<19+i)
			resp, err := c.InvokeSync(ctx, addr, echoRequest("big", body))
			if err != nil {
				t.Error(err)
				return
			}
			if !bytes.Equal(resp.Body, body) {
				t.Errorf("body of %d bytes came back as %d bytes", len(body), len(resp.Body))
			}
		}()
	}
	wg.Wait()
}

func TestClientClose(t *testing.T) {
	_, addr := startServer(t)
	c := netclient.New()
	errs := make(chan error, 2)
	go func() {
		_, err := c.InvokeSync(context.Background(), addr, remoting.NewRequest(codeNever, nil, nil))
		errs <- err
	}()
	c.InvokeAsync(context.Background(), addr, remoting.NewRequest(codeNever, nil, nil), func(_ *remoting.Command, err error) { errs <- err })
	// Wait until both are on the wire: a follow-up sync call ordered after them.
	if _, err := c.InvokeSync(context.Background(), addr, echoRequest("x", nil)); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := <-errs; !errors.Is(err, netclient.ErrClientClosed) && !errors.Is(err, remoting.ErrConnClosed) {
			t.Errorf("pending call: got %v, want netclient.ErrClientClosed", err)
		}
	}
	if _, err := c.InvokeSync(context.Background(), addr, echoRequest("x", nil)); !errors.Is(err, netclient.ErrClientClosed) {
		t.Errorf("after Close: got %v, want netclient.ErrClientClosed", err)
	}
	if err := c.InvokeOneway(context.Background(), addr, echoRequest("x", nil)); !errors.Is(err, netclient.ErrClientClosed) {
		t.Errorf("oneway after Close: got %v", err)
	}
	done := make(chan error, 1)
	c.InvokeAsync(context.Background(), addr, echoRequest("x", nil), func(_ *remoting.Command, err error) { done <- err })
	if err := <-done; !errors.Is(err, netclient.ErrClientClosed) {
		t.Errorf("async after Close: got %v", err)
	}
	if err := c.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func TestNilCommandIsAnErrorNotAPanic(t *testing.T) {
	_, addr := startServer(t)
	c := newTestClient(t)
	if _, err := c.InvokeSync(context.Background(), addr, nil); err == nil {
		t.Error("InvokeSync(nil) succeeded")
	}
	if err := c.InvokeOneway(context.Background(), addr, nil); err == nil {
		t.Error("InvokeOneway(nil) succeeded")
	}
	done := make(chan error, 1)
	c.InvokeAsync(context.Background(), addr, nil, func(_ *remoting.Command, err error) { done <- err })
	if err := <-done; err == nil {
		t.Error("InvokeAsync(nil) succeeded")
	}
	c.InvokeAsync(context.Background(), addr, echoRequest("nil callback", nil), nil) // must not panic
}

func TestDialFailure(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close() // nothing listens there any more
	c := newTestClient(t, netclient.WithDialTimeout(time.Second))
	_, err = c.InvokeSync(context.Background(), addr, echoRequest("x", nil))
	var op *remoting.OpError
	if !errors.As(err, &op) || op.Addr != addr {
		t.Fatalf("got %v, want *OpError for %s", err, addr)
	}
	var ne *net.OpError
	if !errors.As(err, &ne) {
		t.Errorf("dial error not preserved: %v", err)
	}
}

func TestIdleConnectionsAreClosed(t *testing.T) {
	t.Run("client side", func(t *testing.T) {
		var opened atomic.Int32
		_, addr := startServer(t, WithOnConnect(func(*Conn) { opened.Add(1) }))
		dropped := make(chan error, 1)
		c := newTestClient(t, netclient.WithIdleTimeout(50*time.Millisecond),
			netclient.WithHooks(netclient.Hooks{OnDisconnect: func(_ string, err error) { dropped <- err }}))
		if _, err := c.InvokeSync(context.Background(), addr, echoRequest("x", nil)); err != nil {
			t.Fatal(err)
		}
		select {
		case err := <-dropped:
			if !errors.Is(err, remoting.ErrConnClosed) || !strings.Contains(err.Error(), "idle") {
				t.Errorf("disconnect reason %v, want an idle close", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("client kept its idle connection")
		}
		if _, err := c.InvokeSync(context.Background(), addr, echoRequest("y", nil)); err != nil {
			t.Fatal(err)
		}
		if n := opened.Load(); n != 2 {
			t.Errorf("connections opened = %d, want 2", n)
		}
	})
	t.Run("server side", func(t *testing.T) {
		closed := make(chan error, 1)
		_, addr := startServer(t, WithIdleTimeout(50*time.Millisecond), WithOnClose(func(_ *Conn, err error) { closed <- err }))
		nc, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		<-closed
		_ = nc.SetReadDeadline(time.Now().Add(10 * time.Second))
		if _, err := nc.Read(make([]byte, 1)); !errors.Is(err, io.EOF) {
			t.Errorf("read after idle close: %v, want EOF", err)
		}
	})
}

func TestConnHooksAndValues(t *testing.T) {
	opened := make(chan *Conn, 1)
	closedCh := make(chan *Conn, 1)
	s, addr := startServer(t,
		WithOnConnect(func(c *Conn) { opened <- c }),
		WithOnClose(func(c *Conn, _ error) { closedCh <- c }))
	s.Handle(2002, func(rc *RequestContext, req *remoting.Command) {
		prev := rc.Conn().Value()
		rc.Conn().SetValue(string(req.Body))
		resp := remoting.NewResponse(req, remoting.Success, fmt.Sprint(prev))
		_ = rc.Reply(resp)
	})
	c := netclient.New()
	for i, want := range []string{"<nil>", "a", "b"} {
		resp, err := c.InvokeSync(context.Background(), addr, remoting.NewRequest(2002, nil, []byte{byte('a' + i)}))
		if err != nil {
			t.Fatal(err)
		}
		if resp.Remark != want {
			t.Errorf("call %d: previous value %q, want %q", i, resp.Remark, want)
		}
	}
	conn := <-opened
	if conn.RemoteAddr() == nil || conn.LocalAddr().String() != addr {
		t.Errorf("conn addrs remote=%v local=%v", conn.RemoteAddr(), conn.LocalAddr())
	}
	_ = c.Close()
	if got := <-closedCh; got != conn {
		t.Errorf("OnClose got a different *Conn")
	}
	select {
	case <-conn.Context().Done():
	default:
		t.Error("Conn.Context not cancelled after close")
	}
	if _, err := conn.Invoke(context.Background(), remoting.NewRequest(remoting.GetConsumerRunningInfo, nil, nil)); !errors.Is(err, remoting.ErrConnClosed) {
		t.Errorf("Invoke on closed conn: %v", err)
	}
}

func TestServerShutdownFailsServerInvokes(t *testing.T) {
	s := NewServer("127.0.0.1:0")
	invoked := make(chan error, 1)
	s.Handle(2003, func(rc *RequestContext, req *remoting.Command) {
		go func() {
			// The client never answers code 2004 (its handler blocks).
			_, err := rc.Conn().Invoke(context.Background(), remoting.NewRequest(2004, nil, nil))
			invoked <- err
		}()
		_ = rc.Reply(remoting.NewResponse(req, remoting.Success, ""))
	})
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	c := newTestClient(t)
	block := make(chan struct{})
	c.RegisterHandler(2004, func(ctx context.Context, _ string, req *remoting.Command) *remoting.Command {
		select {
		case <-block:
		case <-ctx.Done():
		}
		return nil
	})
	if _, err := c.InvokeSync(context.Background(), s.Addr().String(), remoting.NewRequest(2003, nil, nil)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "server invoke to be pending", func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		for conn := range s.conns {
			n := conn.pending.Len()
			if n > 0 {
				return true
			}
		}
		return false
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-invoked; !errors.Is(err, remoting.ErrConnClosed) {
		t.Errorf("server invoke after shutdown: %v", err)
	}
	close(block)
	if err := s.Start(context.Background()); !errors.Is(err, ErrServerClosed) {
		t.Errorf("Start after Shutdown: %v", err)
	}
}

func TestStartFailsOnBusyPort(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	s := NewServer(ln.Addr().String())
	if err := s.Start(context.Background()); err == nil {
		_ = s.Shutdown(context.Background())
		t.Fatal("Start on a busy port succeeded")
	}
}

// TestNoGoroutineLeaks opens and closes servers and clients repeatedly and
// checks the goroutine count returns to its baseline.
func TestNoGoroutineLeaks(t *testing.T) {
	settle := func() int {
		runtime.GC()
		return runtime.NumGoroutine()
	}
	baseline := settle()
	for range 5 {
		s := NewServer("127.0.0.1:0", WithIdleTimeout(time.Minute))
		installTestProcessors(s)
		if err := s.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		addr := s.Addr().String()
		for range 10 {
			c := netclient.New()
			entered := make(chan struct{})
			c.RegisterHandler(remoting.GetConsumerRunningInfo, func(ctx context.Context, _ string, req *remoting.Command) *remoting.Command {
				close(entered)
				<-ctx.Done() // a handler goroutine blocked until Close
				return nil
			})
			if _, err := c.InvokeSync(context.Background(), addr, echoRequest("x", nil)); err != nil {
				t.Fatal(err)
			}
			done := make(chan struct{}, 2)
			c.InvokeAsync(context.Background(), addr, remoting.NewRequest(codeNever, nil, nil), func(*remoting.Command, error) { done <- struct{}{} })
			callout := remoting.NewRequest(codeCallout, nil, nil)
			callout.Ext.SetInt("c", int64(remoting.GetConsumerRunningInfo))
			c.InvokeAsync(context.Background(), addr, callout, func(*remoting.Command, error) { done <- struct{}{} })
			_ = c.InvokeOneway(context.Background(), addr, echoRequest("y", nil))
			<-entered
			_ = c.Close()
			<-done
			<-done
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		if err := s.Shutdown(ctx); err != nil {
			t.Fatal(err)
		}
		cancel()
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		n := settle()
		if n <= baseline {
			return
		}
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			buf = buf[:runtime.Stack(buf, true)]
			t.Fatalf("goroutines: %d, baseline %d\n%s", n, baseline, buf)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitFor polls cond until it holds or a generous deadline passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// BenchmarkInvokeSync measures request/response round trips over loopback
// against our Server, with the echo processor on the worker pool ("pool")
// and on the event loop ("inline"), from 1 and 64 concurrent callers sharing
// one connection.
func BenchmarkInvokeSync(b *testing.B) {
	s, addr := startServer(b)
	const codeEchoInline int16 = 1100
	s.HandleInline(codeEchoInline, echoProcessor)
	for _, mode := range []struct {
		name string
		code int16
	}{{"pool", codeEcho}, {"inline", codeEchoInline}} {
		for _, par := range []int{1, 64} {
			b.Run(fmt.Sprintf("%s/parallel=%d", mode.name, par), func(b *testing.B) {
				c := newTestClient(b)
				body := make([]byte, 128)
				if _, err := c.InvokeSync(context.Background(), addr, remoting.NewRequest(mode.code, nil, body)); err != nil {
					b.Fatal(err)
				}
				b.ReportAllocs()
				b.ResetTimer()
				var next atomic.Int64
				var wg sync.WaitGroup
				for range par {
					wg.Add(1)
					go func() {
						defer wg.Done()
						for next.Add(1) <= int64(b.N) {
							req := remoting.NewRequest(mode.code, nil, body)
							if _, err := c.InvokeSync(context.Background(), addr, req); err != nil {
								b.Error(err)
								return
							}
						}
					}()
				}
				wg.Wait()
				b.StopTimer()
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ops/s")
			})
		}
	}
}

// A restarted server must bind its old port at once, even though the
// connections it closed on shutdown sit in TIME_WAIT there.
func TestServerRebindsPortAfterShutdown(t *testing.T) {
	ctx := context.Background()
	s1 := NewServer("127.0.0.1:0")
	s1.Handle(remoting.GetMaxOffset, func(rc *RequestContext, req *remoting.Command) {
		rc.Reply(remoting.NewResponse(req, remoting.Success, ""))
	})
	if err := s1.Start(ctx); err != nil {
		t.Fatal(err)
	}
	addr := s1.Addr().String()
	c := netclient.New()
	defer c.Close()
	if _, err := c.InvokeSync(ctx, addr, remoting.NewRequest(remoting.GetMaxOffset, nil, nil)); err != nil {
		t.Fatal(err)
	}
	if err := s1.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	s2 := NewServer(addr)
	if err := s2.Start(ctx); err != nil {
		t.Fatalf("restart on %s: %v", addr, err)
	}
	s2.Shutdown(ctx)
}

// A connection that answers nothing while a request times out is dead in
// all but name (a vanished peer, a socket nobody serves): the client drops
// it so the next call reconnects, instead of timing out forever.
func TestSilentConnectionClosedAfterTimeout(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var accepted atomic.Int32
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			go io.Copy(io.Discard, c) // read everything, answer nothing
		}
	}()
	c := netclient.New()
	defer c.Close()
	for i := range 2 {
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		_, err := c.InvokeSync(ctx, ln.Addr().String(), remoting.NewRequest(remoting.GetMaxOffset, nil, nil))
		cancel()
		if !errors.Is(err, remoting.ErrTimeout) {
			t.Fatalf("call %d: err = %v, want ErrTimeout", i, err)
		}
	}
	if n := accepted.Load(); n != 2 {
		t.Fatalf("%d connections, want 2: the silent one must be replaced", n)
	}
}

// A slow answer on a connection that keeps answering other calls does not
// cost that connection.
func TestSlowAnswerKeepsLiveConnection(t *testing.T) {
	var connects atomic.Int32
	s := NewServer("127.0.0.1:0", WithOnConnect(func(*Conn) { connects.Add(1) }))
	s.Handle(remoting.GetMinOffset, func(rc *RequestContext, req *remoting.Command) {
		time.AfterFunc(300*time.Millisecond, func() { rc.Reply(remoting.NewResponse(req, remoting.Success, "")) })
	})
	s.Handle(remoting.GetMaxOffset, func(rc *RequestContext, req *remoting.Command) {
		rc.Reply(remoting.NewResponse(req, remoting.Success, ""))
	})
	ctx := context.Background()
	if err := s.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer s.Shutdown(ctx)
	c := netclient.New()
	defer c.Close()
	addr := s.Addr().String()
	slow := make(chan error, 1)
	go func() {
		tctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
		defer cancel()
		_, err := c.InvokeSync(tctx, addr, remoting.NewRequest(remoting.GetMinOffset, nil, nil))
		slow <- err
	}()
	time.Sleep(20 * time.Millisecond) // the slow request is on the wire
	for range 5 {
		if _, err := c.InvokeSync(ctx, addr, remoting.NewRequest(remoting.GetMaxOffset, nil, nil)); err != nil {
			t.Fatal(err)
		}
	}
	if err := <-slow; !errors.Is(err, remoting.ErrTimeout) {
		t.Fatalf("slow call: %v, want ErrTimeout", err)
	}
	if _, err := c.InvokeSync(ctx, addr, remoting.NewRequest(remoting.GetMaxOffset, nil, nil)); err != nil {
		t.Fatal(err)
	}
	if n := connects.Load(); n != 1 {
		t.Fatalf("%d connections: a live connection was dropped over one slow answer", n)
	}
}

// TestReplyHookSeesEveryAnswer: the hook gets request and response codes,
// a positive elapsed time and the parked mark, for processor replies, late
// replies and the transport's own REQUEST_CODE_NOT_SUPPORTED.
func TestReplyHookSeesEveryAnswer(t *testing.T) {
	type seen struct {
		req, resp int16
		parked    bool
	}
	var mu sync.Mutex
	var got []seen
	s, addr := startServer(t, WithReplyHook(func(req, resp int16, elapsed time.Duration, parked bool) {
		if elapsed <= 0 {
			t.Errorf("elapsed %v", elapsed)
		}
		mu.Lock()
		got = append(got, seen{req, resp, parked})
		mu.Unlock()
	}))
	const codeParked = 9001
	s.Handle(codeParked, func(rc *RequestContext, req *remoting.Command) {
		rc.MarkParked()
		go func() { _ = rc.Reply(remoting.NewResponse(req, remoting.PullNotFound, "")) }()
	})
	c := newTestClient(t)
	for _, code := range []int16{codeEcho, codeParked, 9999} {
		if _, err := c.InvokeSync(context.Background(), addr, remoting.NewRequest(code, nil, nil)); err != nil {
			t.Fatal(err)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	want := []seen{{codeEcho, remoting.Success, false}, {codeParked, remoting.PullNotFound, true}, {9999, remoting.RequestCodeNotSupported, false}}
	if !slices.Equal(got, want) {
		t.Fatalf("hook saw %+v, want %+v", got, want)
	}
	if s.QueueLen() != 0 {
		t.Fatalf("queue length %d after all answers", s.QueueLen())
	}
}

func TestQueueWaitMeasuresTimeBeforeAWorker(t *testing.T) {
	s, addr := startServer(t, WithWorkers(1))
	entered, release := make(chan struct{}), make(chan struct{})
	s.Handle(2002, func(rc *RequestContext, req *remoting.Command) {
		if string(req.Body) == "first" {
			close(entered)
			<-release
		}
		_ = rc.Reply(remoting.NewResponse(req, remoting.Success, rc.QueueWait().String()))
	})
	c := newTestClient(t)
	first := make(chan struct{})
	c.InvokeAsync(context.Background(), addr, remoting.NewRequest(2002, nil, []byte("first")), func(*remoting.Command, error) { close(first) })
	<-entered
	second := make(chan time.Duration, 1)
	c.InvokeAsync(context.Background(), addr, remoting.NewRequest(2002, nil, []byte("second")), func(resp *remoting.Command, err error) {
		if err != nil {
			t.Error(err)
			second <- 0
			return
		}
		d, _ := time.ParseDuration(resp.Remark)
		second <- d
	})
	for deadline := time.Now().Add(5 * time.Second); s.QueueLen() < 1; {
		if time.Now().After(deadline) {
			t.Fatal("second request never queued")
		}
		time.Sleep(time.Millisecond)
	}
	const hold = 50 * time.Millisecond
	queuedBy := time.Now()
	for time.Since(queuedBy) < hold {
		time.Sleep(5 * time.Millisecond)
	}
	close(release)
	<-first
	if d := <-second; d < hold {
		t.Fatalf("QueueWait %v of a request held behind a busy worker for at least %v", d, hold)
	}
}

// A request body aliases the connection's read buffer while an inline
// processor runs; KeepBody gives the processor its own copy, and requests
// for workers get one before they are queued. Each processor keeps the
// first body it sees; a second request of the same size, whose bytes land
// where the first one's were, must not change it.
func TestRequestBodyOutlivesReadBuffer(t *testing.T) {
	s, addr := startServer(t)
	const codeKeepInline, codeKeepWorker, codeInlineNoKeep int16 = 2101, 2102, 2103
	kept := map[int16]chan []byte{codeKeepInline: make(chan []byte, 2), codeKeepWorker: make(chan []byte, 2), codeInlineNoKeep: make(chan []byte, 2)}
	keep := func(code int16, call bool) Processor {
		return func(rc *RequestContext, req *remoting.Command) {
			if call {
				rc.KeepBody()
			}
			kept[code] <- req.Body
			_ = rc.Reply(remoting.NewResponse(req, remoting.Success, ""))
		}
	}
	s.HandleInline(codeKeepInline, keep(codeKeepInline, true))
	s.Handle(codeKeepWorker, keep(codeKeepWorker, false))
	s.HandleInline(codeInlineNoKeep, keep(codeInlineNoKeep, false))
	c := newTestClient(t)
	for _, code := range []int16{codeKeepInline, codeKeepWorker, codeInlineNoKeep} {
		for _, fill := range []byte{'a', 'b'} {
			body := bytes.Repeat([]byte{fill}, 4096)
			if resp, err := c.InvokeSync(context.Background(), addr, remoting.NewRequest(code, nil, body)); err != nil || resp.Code != remoting.Success {
				t.Fatalf("code %d: %v %v", code, resp, err)
			}
		}
		first, second := <-kept[code], <-kept[code]
		if code == codeInlineNoKeep {
			// Not kept: the first body is the buffer's, which the second
			// request overwrote. Without this the checks below could not
			// tell a copy from none.
			if !bytes.Equal(first, second) {
				t.Fatalf("control: an inline body without KeepBody survived the next read, so the read buffer was not reused and the test shows nothing")
			}
			continue
		}
		if !bytes.Equal(first, bytes.Repeat([]byte{'a'}, 4096)) || !bytes.Equal(second, bytes.Repeat([]byte{'b'}, 4096)) {
			t.Errorf("code %d: kept bodies changed: %q… %q…", code, first[:8], second[:8])
		}
	}
}

// BenchmarkInlineLargeRequest is a 16 KiB request answered on the event
// loop with an empty reply, as a large send is: the server's bytes per
// request show whether the body is copied out of the read buffer (it need
// not be: the processor is done with it when it returns).
func BenchmarkInlineLargeRequest(b *testing.B) {
	s, addr := startServer(b)
	const code int16 = 1101
	s.HandleInline(code, func(rc *RequestContext, req *remoting.Command) {
		_ = rc.Reply(remoting.NewResponse(req, remoting.Success, ""))
	})
	c := newTestClient(b)
	body := make([]byte, 16<<10)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.InvokeSync(context.Background(), addr, remoting.NewRequest(code, nil, body)); err != nil {
			b.Fatal(err)
		}
	}
}
