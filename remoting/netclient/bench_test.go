package netclient

import (
	"context"
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
	srv := startFake(b, nil)
	body := make([]byte, 128)
	for _, conc := range []int{1, 64} {
		name := "1"
		if conc > 1 {
			name = "64"
		}
		b.Run(name, func(b *testing.B) {
			c := New()
			defer c.Close()
			ctx := context.Background()
			warm := remoting.NewRequest(remoting.SendMessageV2, nil, body)
			if _, err := c.InvokeSync(ctx, srv.addr(), warm); err != nil {
				b.Fatal(err)
			}
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
					cmd := remoting.NewRequest(remoting.SendMessageV2, nil, body)
					cmd.Ext.Set("topic", "BenchTopic")
					for range next {
						if _, err := c.InvokeSync(ctx, srv.addr(), cmd); err != nil {
							b.Error(err)
							return
						}
					}
				}()
			}
			wg.Wait()
		})
	}
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
	srv := startFake(b, nil)
	body := make([]byte, 128)
	for _, conc := range []int{1, 64} {
		name := "1"
		if conc > 1 {
			name = "64"
		}
		b.Run(name, func(b *testing.B) {
			c := New()
			defer c.Close()
			ctx := context.Background()
			warm := remoting.NewRequest(remoting.SendMessageV2, nil, body)
			if _, err := c.InvokeSync(ctx, srv.addr(), warm); err != nil {
				b.Fatal(err)
			}
			var wg sync.WaitGroup
			h := &benchHandler{slots: make(chan struct{}, conc), wg: &wg, b: b}
			cmd := remoting.NewRequest(remoting.SendMessageV2, nil, body)
			cmd.Ext.Set("topic", "BenchTopic")
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				h.slots <- struct{}{}
				wg.Add(1)
				c.InvokeHandler(ctx, srv.addr(), cmd, h)
			}
			wg.Wait()
		})
	}
}
