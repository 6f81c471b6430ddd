package namesrv

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rocketgo/rocketgo/remoting/wire"

	"github.com/rocketgo/rocketgo/remoting/netclient"

	"github.com/rocketgo/rocketgo/internal/nsclient"
	"github.com/rocketgo/rocketgo/remoting"
)

// TestConcurrentBrokersAndQueries runs 50 simulated brokers, each on its own
// connection, registering (both body forms, changing data versions),
// heartbeating, querying their data version and unregistering, while
// clients query routes. Every route answer must parse and may name only
// brokers that exist, at the address that broker registers with; every
// queue entry must have its broker entry.
func TestConcurrentBrokersAndQueries(t *testing.T) {
	const (
		brokers = 50
		rounds  = 8
		readers = 4
	)
	s := startServer(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	brokerAddr := func(i int) string { return fmt.Sprintf("10.1.%d.%d:10911", i/200, i%200) }
	brokerName := func(i int) string { return fmt.Sprintf("broker-%02d", i) }

	var queries, routesSeen atomic.Int64
	errc := make(chan error, readers+brokers)
	var readersWG sync.WaitGroup
	for r := 0; r < readers; r++ {
		readersWG.Add(1)
		go func() {
			defer readersWG.Done()
			rc := netclient.New(netclient.WithRequestTimeout(slowTimeout))
			defer rc.Close()
			c, err := nsclient.New(rc, s.Addr(), nsclient.WithTimeout(slowTimeout))
			if err != nil {
				errc <- err
				return
			}
			for ctx.Err() == nil {
				topic := "Shared"
				if rand.IntN(2) == 0 {
					topic = "Own-" + brokerName(rand.IntN(brokers))
				}
				route, err := c.Route(ctx, topic)
				queries.Add(1)
				if errors.Is(err, nsclient.ErrTopicNotExist) {
					continue
				}
				if err != nil {
					if ctx.Err() != nil {
						return
					}
					errc <- fmt.Errorf("route %s: %w", topic, err)
					return
				}
				routesSeen.Add(1)
				if err := checkRoute(route, topic, brokers, brokerName, brokerAddr); err != nil {
					errc <- err
					return
				}
			}
		}()
	}

	// Broker connections stay open until the end: closing one drops that
	// broker's registration, which the final checks rely on.
	brokerRCs := make([]*netclient.Client, brokers)
	for i := range brokerRCs {
		brokerRCs[i] = netclient.New(netclient.WithRequestTimeout(slowTimeout))
		defer brokerRCs[i].Close()
	}
	var brokersWG sync.WaitGroup
	for i := 0; i < brokers; i++ {
		brokersWG.Add(1)
		go func() {
			defer brokersWG.Done()
			rc := brokerRCs[i]
			c, err := nsclient.New(rc, s.Addr(), nsclient.WithTimeout(slowTimeout))
			if err != nil {
				errc <- err
				return
			}
			for round := 0; round < rounds; round++ {
				req := brokerReq("c", brokerName(i), brokerAddr(i), 0, int64(round), "Shared", "Own-"+brokerName(i))
				req.Compressed = round%2 == 1
				req.Topics[0].ReadQueueNums = int32(1 + round%4)
				res, err := c.RegisterBroker(ctx, req)
				if err != nil || res[0].Err != nil {
					errc <- fmt.Errorf("register %d: %v %v", i, err, res[0].Err)
					return
				}
				hb := remoting.NewRequest(remoting.BrokerHeartbeat, &remoting.BrokerHeartbeatRequestHeader{
					ClusterName: "c", BrokerAddr: brokerAddr(i), BrokerName: brokerName(i)}, nil)
				if resp, err := rc.InvokeSync(ctx, s.Addr(), hb); err != nil || resp.Code != remoting.Success {
					errc <- fmt.Errorf("heartbeat %d: %v", i, err)
					return
				}
				q := remoting.NewRequest(remoting.QueryDataVersion, &remoting.QueryDataVersionRequestHeader{
					ClusterName: "c", BrokerAddr: brokerAddr(i), BrokerName: brokerName(i)},
					[]byte(fmt.Sprintf(`{"counter":%d,"timestamp":1}`, round)))
				resp, err := rc.InvokeSync(ctx, s.Addr(), q)
				if err != nil {
					errc <- err
					return
				}
				if changed, _ := resp.Ext.Get("changed"); changed != "false" {
					errc <- fmt.Errorf("broker %d round %d: data version reported changed right after registering", i, round)
					return
				}
				if round%3 == 2 {
					if err := c.UnregisterBroker(ctx, "c", brokerName(i), brokerAddr(i), 0); err != nil {
						errc <- err
						return
					}
				}
			}
		}()
	}
	brokersWG.Wait()
	cancel()
	readersWG.Wait()
	close(errc)
	for err := range errc {
		t.Error(err)
	}
	if routesSeen.Load() == 0 {
		t.Fatal("readers never saw a route")
	}
	t.Logf("%d route queries, %d routes checked", queries.Load(), routesSeen.Load())

	// Every broker ended registered (the last round, 7, does not unregister).
	if n := s.routes.brokerCount(); n != brokers {
		t.Fatalf("%d brokers live at the end, want %d", n, brokers)
	}
	body, ok := s.routes.route("Shared", nil)
	if !ok {
		t.Fatal("no Shared route at the end")
	}
	route, err := wire.ParseTopicRoute(body)
	if err != nil {
		t.Fatal(err)
	}
	if len(route.QueueDatas) != brokers || len(route.BrokerDatas) != brokers {
		t.Fatalf("final Shared route has %d queue / %d broker entries", len(route.QueueDatas), len(route.BrokerDatas))
	}
}

// slowTimeout replaces the 3 s request timeout: under -race on a loaded
// 2-core machine a request can queue for seconds, and this test is about
// consistency, not latency.
const slowTimeout = 30 * time.Second

func checkRoute(r *wire.TopicRoute, topic string, brokers int, name func(int) string, addr func(int) string) error {
	if len(r.QueueDatas) == 0 || len(r.BrokerDatas) == 0 {
		return fmt.Errorf("route %s: empty %+v", topic, r)
	}
	known := make(map[string]string, brokers)
	for i := 0; i < brokers; i++ {
		known[name(i)] = addr(i)
	}
	for _, bd := range r.BrokerDatas {
		want, ok := known[bd.BrokerName]
		if !ok {
			return fmt.Errorf("route %s names unknown broker %q", topic, bd.BrokerName)
		}
		if bd.MasterAddr() != want || len(bd.BrokerAddrs) != 1 || bd.Cluster != "c" {
			return fmt.Errorf("route %s: broker %+v, want master %s", topic, bd, want)
		}
		if strings.HasPrefix(topic, "Own-") && bd.BrokerName != strings.TrimPrefix(topic, "Own-") {
			return fmt.Errorf("route %s served by %s", topic, bd.BrokerName)
		}
	}
	for _, qd := range r.QueueDatas {
		if r.Broker(qd.BrokerName) == nil {
			return fmt.Errorf("route %s: queue data of %q without broker data", topic, qd.BrokerName)
		}
		if qd.WriteQueueNums != 4 || qd.ReadQueueNums < 1 || qd.ReadQueueNums > 4 {
			return fmt.Errorf("route %s: queue data %+v", topic, qd)
		}
	}
	return nil
}
