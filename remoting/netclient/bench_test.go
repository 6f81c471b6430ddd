package netclient

import (
	"context"
	"strconv"
	"sync"
	"testing"

	"github.com/rocketgo/rocketgo/remoting"
)

// BenchmarkInvokeSync is one round trip to a peer that answers at once, from
// 1 or 64 goroutines sharing one connection. allocs/op is the figure to
// watch: the transport's own share of a request (the peer is in-process
// here, so its allocations count too, and ns/op includes its work).
//
//	go test -run '^$' -bench BenchmarkInvokeSync -benchmem ./remoting/netclient/
func BenchmarkInvokeSync(b *testing.B) {
	benchRoundTrips(b, func(b *testing.B, c *Client, addr string, conc int) {
		var (
			wg   sync.WaitGroup
			next = make(chan struct{}, b.N)
		)
		for range b.N {
			next <- struct{}{}
		}
		close(next)
		b.ReportAllocs()
		b.ResetTimer()
		for range conc {
			wg.Add(1)
			go func() {
				defer wg.Done()
				cmd := benchRequest()
				for range next {
					if _, err := c.InvokeSync(context.Background(), addr, cmd); err != nil {
						b.Error(err)
						return
					}
				}
			}()
		}
		wg.Wait()
	})
}

// benchRoundTrips runs round for 1 and 64 requests in flight, each with a
// Client of its own already connected to a fake peer that answers at once.
func benchRoundTrips(b *testing.B, round func(b *testing.B, c *Client, addr string, conc int)) {
	srv := startFake(b, nil)
	for _, conc := range []int{1, 64} {
		b.Run(strconv.Itoa(conc), func(b *testing.B) {
			c := New()
			defer c.Close()
			if _, err := c.InvokeSync(context.Background(), srv.addr(), benchRequest()); err != nil {
				b.Fatal(err)
			}
			round(b, c, srv.addr(), conc)
		})
	}
}

// benchRequest is a send of a 128-byte body.
func benchRequest() *remoting.Command {
	cmd := remoting.NewRequest(remoting.SendMessageV2, nil, make([]byte, 128))
	cmd.Ext.Set("topic", "BenchTopic")
	return cmd
}

// benchHandler counts completions and keeps at most cap(slots) in flight.
type benchHandler struct {
	slots chan struct{}
	wg    *sync.WaitGroup
	b     *testing.B
}

func (h *benchHandler) HandleResponse(_ *remoting.Command, err error) {
	if err != nil {
		h.b.Error(err)
	}
	<-h.slots
	h.wg.Done()
}

// BenchmarkInvokeHandler is BenchmarkInvokeSync's round trip made with
// InvokeHandler from one goroutine, 1 or 64 requests in flight: allocs/op
// against BenchmarkInvokeSync's shows what an async request costs beyond a
// sync one (nothing, with a pointer handler).
//
//	go test -run '^$' -bench 'BenchmarkInvoke(Sync|Handler)' -benchmem ./remoting/netclient/
func BenchmarkInvokeHandler(b *testing.B) {
	benchRoundTrips(b, func(b *testing.B, c *Client, addr string, conc int) {
		var wg sync.WaitGroup
		h := &benchHandler{slots: make(chan struct{}, conc), wg: &wg, b: b}
		cmd := benchRequest()
		b.ReportAllocs()
		b.ResetTimer()
		for range b.N {
			h.slots <- struct{}{}
			wg.Add(1)
			c.InvokeHandler(context.Background(), addr, cmd, h)
		}
		wg.Wait()
	})
}
