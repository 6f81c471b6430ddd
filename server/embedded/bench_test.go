package embedded_test

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/rocketgo/rocketgo/remoting/netclient"

	"github.com/rocketgo/rocketgo/remoting"
	"github.com/rocketgo/rocketgo/server/broker"
	"github.com/rocketgo/rocketgo/server/embedded"
)

// BenchmarkServeSendSync measures the server alone: 128-byte SEND_MESSAGE_V2
// requests from N concurrent synchronous senders over loopback, with our
// remoting client (no producer logic). It reports messages/s and the p99
// round trip.
func BenchmarkServeSendSync(b *testing.B) {
	for _, senders := range []int{1, 64} {
		b.Run(map[int]string{1: "senders=1", 64: "senders=64"}[senders], func(b *testing.B) {
			bc := broker.DefaultConfig()
			bc.StorePathRootDir = b.TempDir()
			bc.MappedFileSizeCommitLog = 256 << 20
			ctx := context.Background()
			srv, err := embedded.Start(ctx, embedded.Config{Host: "127.0.0.1", NamesrvPort: -1, BrokerPort: -1, Broker: bc})
			if err != nil {
				b.Fatal(err)
			}
			defer srv.Shutdown(ctx)
			rc := netclient.New()
			defer rc.Close()
			body := make([]byte, 128)
			header := func() *remoting.SendMessageRequestHeaderV2 {
				return (&remoting.SendMessageRequestHeader{ProducerGroup: "bench", Topic: "BenchmarkSend", DefaultTopic: "TBW102",
					DefaultTopicQueueNums: 4, QueueID: -1, BornTimestamp: time.Now().UnixMilli()}).V2()
			}
			if resp, err := rc.InvokeSync(ctx, srv.BrokerAddr(), remoting.NewRequest(remoting.SendMessageV2, header(), body)); err != nil || resp.Code != remoting.Success {
				b.Fatalf("warm-up send: %v %v", resp, err)
			}
			lat := make([][]time.Duration, senders)
			var wg sync.WaitGroup
			per := b.N/senders + 1
			b.ReportAllocs()
			b.ResetTimer()
			start := time.Now()
			for s := range senders {
				wg.Add(1)
				go func() {
					defer wg.Done()
					l := make([]time.Duration, 0, per)
					for range per {
						t0 := time.Now()
						resp, err := rc.InvokeSync(ctx, srv.BrokerAddr(), remoting.NewRequest(remoting.SendMessageV2, header(), body))
						if err != nil || resp.Code != remoting.Success {
							b.Errorf("send: %v %v", resp, err)
							return
						}
						l = append(l, time.Since(t0))
					}
					lat[s] = l
				}()
			}
			wg.Wait()
			elapsed := time.Since(start)
			b.StopTimer()
			all := slices.Concat(lat...)
			slices.Sort(all)
			b.ReportMetric(float64(len(all))/elapsed.Seconds(), "msgs/s")
			b.ReportMetric(float64(all[len(all)*99/100].Microseconds())/1000, "p99-ms")
		})
	}
}
