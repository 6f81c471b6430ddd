package transport

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/rocketgo/rocketgo/internal/tlstest"
	"github.com/rocketgo/rocketgo/remoting"
	"github.com/rocketgo/rocketgo/remoting/netclient"
)

// peerProcessor answers with the client address the server sees.
const codePeer int16 = 1010

func startTLSServer(t *testing.T, mode TLSMode, pair *tlstest.Pair) (*Server, string) {
	t.Helper()
	s, addr := startServer(t, WithTLS(mode, pair.Server))
	s.Handle(codePeer, func(rc *RequestContext, req *remoting.Command) {
		resp := remoting.NewResponse(req, remoting.Success, "")
		resp.Body = []byte(rc.Conn().String())
		rc.Reply(resp)
	})
	return s, addr
}

func echoOnce(t *testing.T, c *netclient.Client, addr string) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	resp, err := c.InvokeSync(ctx, addr, echoRequest("v", []byte("over tls")))
	if err != nil {
		return err
	}
	if resp.Code != remoting.Success || string(resp.Body) != "over tls" {
		t.Fatalf("echo: %v", resp)
	}
	return nil
}

func TestTLSEnforcing(t *testing.T) {
	pair := tlstest.New(t)
	_, addr := startTLSServer(t, TLSEnforcing, pair)
	secure := newTestClient(t, netclient.WithTLS(pair.Client))
	if err := echoOnce(t, secure, addr); err != nil {
		t.Fatalf("TLS client: %v", err)
	}
	// The server sees the client's own address, not the front's loopback.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	resp, err := secure.InvokeSync(ctx, addr, remoting.NewRequest(codePeer, nil, nil))
	if err != nil || resp.Code != remoting.Success {
		t.Fatalf("peer: %v %v", resp, err)
	}
	host, port, _ := net.SplitHostPort(string(resp.Body))
	if host != "127.0.0.1" || port == "" {
		t.Fatalf("server saw %q", resp.Body)
	}

	plain := newTestClient(t, netclient.WithRequestTimeout(2*time.Second))
	if err := echoOnce(t, plain, addr); err == nil {
		t.Fatal("plain client served in enforcing mode")
	}
	untrusted := newTestClient(t, netclient.WithTLS(nil))
	if err := echoOnce(t, untrusted, addr); err == nil {
		t.Fatal("client accepted an untrusted certificate")
	}
}

func TestTLSPermissiveServesBoth(t *testing.T) {
	pair := tlstest.New(t)
	_, addr := startTLSServer(t, TLSPermissive, pair)
	for name, c := range map[string]*netclient.Client{
		"tls":   newTestClient(t, netclient.WithTLS(pair.Client)),
		"plain": newTestClient(t),
	} {
		for range 3 { // several requests on one connection
			if err := echoOnce(t, c, addr); err != nil {
				t.Fatalf("%s client: %v", name, err)
			}
		}
	}
}

func TestTLSFrontOwnsTheLoopback(t *testing.T) {
	pair := tlstest.New(t)
	s, _ := startTLSServer(t, TLSPermissive, pair)
	// A local process dialling the event loops directly is not the front:
	// its first frame closes the connection unanswered.
	c := newTestClient(t, netclient.WithRequestTimeout(2*time.Second))
	err := echoOnce(t, c, s.front.inner)
	if err == nil {
		t.Fatal("direct loopback connection served")
	}
	if errors.Is(err, context.DeadlineExceeded) {
		t.Logf("refused by timeout: %v", err)
	}
}

func TestTLSNeedsCertificate(t *testing.T) {
	s := NewServer("127.0.0.1:0", WithTLS(TLSEnforcing, nil))
	if err := s.Start(context.Background()); err == nil {
		s.Shutdown(context.Background())
		t.Fatal("started TLS without a certificate")
	}
}

func TestParseTLSMode(t *testing.T) {
	for s, want := range map[string]TLSMode{"": TLSDisabled, "disabled": TLSDisabled, "permissive": TLSPermissive, "enforcing": TLSEnforcing} {
		if got, err := ParseTLSMode(s); err != nil || got != want {
			t.Errorf("%q: %v %v", s, got, err)
		}
	}
	if _, err := ParseTLSMode("strict"); err == nil {
		t.Error("unknown mode accepted")
	}
}
