package netclient

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/rocketgo/rocketgo/remoting"
)

// bigBody is a body of n bytes (n >= splitBody for the split path) that
// names its sender, so a torn or misplaced frame shows.
func bigBody(tag string, n int) []byte {
	b := bytes.Repeat([]byte(tag+"|"), n/(len(tag)+1)+1)[:n]
	return b
}

// TestSplitBodyKeepsFrames sends large bodies (written directly as header
// plus body iovecs, or queued with the body copied) from a lone leading
// caller, lone async calls, oneway requests the caller mutates right after
// they return, and a crowd of concurrent callers. Every answer must echo
// exactly its own body, and the peer must see each oneway body as it was
// when sent, in the order the goroutine sent it.
func TestSplitBodyKeepsFrames(t *testing.T) {
	var (
		mu     sync.Mutex
		oneway []string
	)
	srv := startFake(t, func(fc *fakeConn, req *remoting.Command) {
		if req.IsOneway() {
			mu.Lock()
			oneway = append(oneway, string(req.Body))
			mu.Unlock()
			return
		}
		_ = fc.answer(req)
	})
	c := New(withLeadIdle(time.Hour))
	defer c.Close()
	ctx := context.Background()
	check := func(tag string, n int, resp *remoting.Command, err error) error {
		if err != nil {
			return fmt.Errorf("%s: %w", tag, err)
		}
		if want := bigBody(tag, n); resp.Code != remoting.Success || !bytes.Equal(resp.Body, want) {
			return fmt.Errorf("%s: code %d, body of %d bytes does not match the %d sent", tag, resp.Code, len(resp.Body), n)
		}
		return nil
	}
	sizes := []int{splitBody - 1, splitBody, 16 << 10, 200 << 10}

	// Lone caller: leads, writes directly. Oneway requests in between queue
	// (their body is mutated after the call) and must stay ahead.
	var wantOneway []string
	for i := range 40 {
		n := sizes[i%len(sizes)]
		ob := bigBody(fmt.Sprint("o", i), n)
		if err := c.InvokeOneway(ctx, srv.addr(), remoting.NewRequest(remoting.SendMessageV2, nil, ob)); err != nil {
			t.Fatal(err)
		}
		wantOneway = append(wantOneway, string(ob))
		clear(ob) // the caller owns the body again once the call returned
		tag := fmt.Sprint("s", i)
		resp, err := c.InvokeSync(ctx, srv.addr(), remoting.NewRequest(remoting.SendMessageV2, nil, bigBody(tag, n)))
		if err := check(tag, n, resp, err); err != nil {
			t.Fatal(err)
		}
	}
	if leadsOf(c, srv.addr()) == 0 {
		t.Fatal("no call led: the direct path went untested")
	}
	// Lone async calls (written directly while the connection is idle).
	for i := range 40 {
		n := sizes[i%len(sizes)]
		done := make(chan error, 1)
		atag := fmt.Sprint("a", i)
		c.InvokeAsync(ctx, srv.addr(), remoting.NewRequest(remoting.SendMessageV2, nil, bigBody(atag, n)), func(resp *remoting.Command, err error) {
			done <- check(atag, n, resp, err)
		})
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}

	// A crowd: direct and queued frames interleave on the wire.
	var (
		wg   sync.WaitGroup
		emu  sync.Mutex
		errs []error
	)
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 50 {
				n := sizes[rand.IntN(len(sizes))]
				tag := fmt.Sprintf("g%d-%d", g, i)
				resp, err := c.InvokeSync(ctx, srv.addr(), remoting.NewRequest(remoting.SendMessageV2, nil, bigBody(tag, n)))
				if err := check(tag, n, resp, err); err != nil {
					emu.Lock()
					errs = append(errs, err)
					emu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		t.Error(err)
	}

	deadline := time.Now().Add(10 * time.Second)
	for {
		mu.Lock()
		got := len(oneway)
		mu.Unlock()
		if got == len(wantOneway) || time.Now().After(deadline) {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(oneway) != len(wantOneway) {
		t.Fatalf("%d oneway requests arrived, want %d", len(oneway), len(wantOneway))
	}
	for i := range oneway {
		if oneway[i] != wantOneway[i] {
			t.Fatalf("oneway %d arrived changed or out of order (%d bytes)", i, len(oneway[i]))
		}
	}
}

// TestSendRefReleaseOnStall: sync callers whose large frames are queued by
// reference give up (timeout) against a peer that reads nothing, so the
// socket fills and the writer stalls mid-frame. Every call must return
// (release drops queued frames and closes the connection to free the
// writer), and a body the caller changes after its call returned must not
// reach a later connection.
func TestSendRefReleaseOnStall(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var (
		cmu   sync.Mutex
		conns []net.Conn
	)
	go func() {
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			cmu.Lock()
			conns = append(conns, nc) // never read
			cmu.Unlock()
		}
	}()
	defer func() {
		cmu.Lock()
		for _, nc := range conns {
			nc.Close()
		}
		cmu.Unlock()
	}()
	c := New(WithRequestTimeout(200 * time.Millisecond))
	defer c.Close()
	var wg sync.WaitGroup
	for g := range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			body := bigBody(fmt.Sprint("g", g), 2<<20)
			ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
			defer cancel()
			_, err := c.InvokeSync(ctx, ln.Addr().String(), remoting.NewRequest(remoting.SendMessageV2, nil, body))
			if err == nil {
				t.Errorf("g%d: a peer that reads nothing answered", g)
			}
			clear(body)
		}()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("callers stuck behind a stalled write")
	}
}
