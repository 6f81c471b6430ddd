package namesrv_test

import (
	"context"
	"testing"
	"time"

	"github.com/rocketgo/rocketgo/remoting/wire"

	"github.com/rocketgo/rocketgo/internal/nsclient"
	"github.com/rocketgo/rocketgo/remoting/netclient"
	"github.com/rocketgo/rocketgo/server/namesrv"
)

// These fixtures mirror server/namesrv's test helpers through its public API.

// startServer runs a name server on a free loopback port until the test ends.
func startServer(t testing.TB) *namesrv.Server {
	t.Helper()
	s := namesrv.New(namesrv.WithListenAddr("127.0.0.1:0"))
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})
	return s
}

func newRemotingClient(t testing.TB) *netclient.Client {
	t.Helper()
	rc := netclient.New()
	t.Cleanup(func() { rc.Close() })
	return rc
}

func newNSClient(t testing.TB, rc *netclient.Client, addr string) *nsclient.Client {
	t.Helper()
	c, err := nsclient.New(rc, addr)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func brokerReq(cluster, name, addr string, id int64, version int64, topics ...string) nsclient.RegisterBrokerRequest {
	r := nsclient.RegisterBrokerRequest{
		ClusterName: cluster, BrokerName: name, BrokerAddr: addr, BrokerID: id,
		HAServerAddr: addr + "-ha", DataVersion: wire.DataVersion{Counter: version, Timestamp: 1},
	}
	for _, topic := range topics {
		r.Topics = append(r.Topics, wire.TopicConfig{TopicName: topic, ReadQueueNums: 4, WriteQueueNums: 4, Perm: 6})
	}
	return r
}

func mustRegister(t testing.TB, c *nsclient.Client, req nsclient.RegisterBrokerRequest) nsclient.RegisterResult {
	t.Helper()
	res, err := c.RegisterBroker(ctxT(t), req)
	if err != nil {
		t.Fatal(err)
	}
	if res[0].Err != nil {
		t.Fatalf("register %s: %v", req.BrokerAddr, res[0].Err)
	}
	return res[0]
}
