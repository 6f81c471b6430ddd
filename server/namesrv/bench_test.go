package namesrv

import (
	"context"
	"fmt"
	"testing"

	"github.com/rocketgo/rocketgo/remoting"
)

// benchTable holds one topic on two master/slave broker groups, a typical
// small production route.
func benchTable() *routeTable {
	rt := newRouteTable()
	for g := 0; g < 2; g++ {
		name := fmt.Sprintf("broker-%c", 'a'+g)
		for id := int64(0); id < 2; id++ {
			r := reg("DefaultCluster", name, fmt.Sprintf("10.0.%d.%d:10911", g, id), id)
			rt.register(r, topicsBody(1, tc("BenchTopic", 8, 8, 6), tc("TBW102", 8, 8, 7)), nil, t0, testTimeout)
		}
	}
	return rt
}

// BenchmarkRouteEncode measures building a route body from the tables
// (what a cache miss costs), into a reused buffer.
func BenchmarkRouteEncode(b *testing.B) {
	rt := benchTable()
	buf := make([]byte, 0, 1024)
	b.ReportAllocs()
	for b.Loop() {
		var ok bool
		buf, ok = rt.encodeRoute(buf[:0], "BenchTopic", "")
		if !ok {
			b.Fatal("no route")
		}
	}
	b.SetBytes(int64(len(buf)))
}

// BenchmarkRouteCached measures the lookup a route query normally does.
func BenchmarkRouteCached(b *testing.B) {
	rt := benchTable()
	b.Run("serial", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, ok := rt.route("BenchTopic", nil); !ok {
				b.Fatal("no route")
			}
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, ok := rt.route("BenchTopic", nil); !ok {
					b.Error("no route")
					return
				}
			}
		})
	})
}

// BenchmarkRouteQuery measures GET_ROUTEINFO_BY_TOPIC round trips against a
// running name server over loopback: one caller at a time, then
// GOMAXPROCS callers sharing one client connection.
func BenchmarkRouteQuery(b *testing.B) {
	s := startServer(b)
	rc := newRemotingClient(b)
	for g := 0; g < 2; g++ {
		c := newNSClient(b, rc, s.Addr())
		mustRegister(b, c, brokerReq("DefaultCluster", fmt.Sprintf("broker-%c", 'a'+g), fmt.Sprintf("10.0.%d.1:10911", g), 0, 1, "BenchTopic"))
	}
	query := func(b *testing.B) {
		req := remoting.NewRequest(remoting.GetRouteInfoByTopic, &remoting.GetRouteInfoRequestHeader{Topic: "BenchTopic"}, nil)
		resp, err := rc.InvokeSync(context.Background(), s.Addr(), req)
		if err != nil || resp.Code != remoting.Success || len(resp.Body) == 0 {
			b.Errorf("route query: %v %v", resp, err)
		}
	}
	b.Run("serial", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			query(b)
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				query(b)
			}
		})
	})
}
