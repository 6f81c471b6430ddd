package embedded_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/rocketgo/rocketgo/auth"
	"github.com/rocketgo/rocketgo/remoting/netclient"

	"github.com/rocketgo/rocketgo/remoting"
	"github.com/rocketgo/rocketgo/server/broker"
	"github.com/rocketgo/rocketgo/server/embedded"
)

// BenchmarkServeSendSync measures the server alone: 128-byte SEND_MESSAGE_V2
// requests from N concurrent synchronous senders over loopback, with our
// remoting client (no producer logic). It reports messages/s and the p99
// round trip.
//
// The acl=on variants run the broker with ACL on and sign every request
// (an admin account), so the pair measures what ACL costs per send.
func BenchmarkServeSendSync(b *testing.B) {
	for _, senders := range []int{1, 64} {
		for _, acl := range []bool{false, true} {
			name := map[int]string{1: "senders=1", 64: "senders=64"}[senders] + map[bool]string{false: "/acl=off", true: "/acl=on"}[acl]
			b.Run(name, func(b *testing.B) { benchServeSendSync(b, senders, acl) })
		}
	}
}

func benchServeSendSync(b *testing.B, senders int, acl bool) {
	{
		{
			bc := broker.DefaultConfig()
			bc.StorePathRootDir = b.TempDir()
			bc.MappedFileSizeCommitLog = 256 << 20
			var copts []netclient.Option
			if acl {
				f := filepath.Join(b.TempDir(), "plain_acl.yml")
				if err := os.WriteFile(f, []byte("accounts:\n  - {accessKey: benchAK01, secretKey: benchSK01, admin: true}\n"), 0o600); err != nil {
					b.Fatal(err)
				}
				bc.AclEnable, bc.AclFile = true, f
				copts = append(copts, netclient.WithRequestSigner(auth.NewSigner(auth.Credentials{AccessKey: "benchAK01", SecretKey: "benchSK01"}).Sign))
			}
			ctx := context.Background()
			srv, err := embedded.Start(ctx, embedded.Config{Host: "127.0.0.1", NamesrvPort: -1, BrokerPort: -1, Broker: bc})
			if err != nil {
				b.Fatal(err)
			}
			defer srv.Shutdown(ctx)
			rc := netclient.New(copts...)
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
		}
	}
}
