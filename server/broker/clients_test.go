package broker

import (
	"slices"
	"testing"
	"time"

	"github.com/rocketgo/rocketgo/remoting/wire"
)

type fakeConn struct{ name string }

func consumerData(group string, subs ...wire.SubscriptionData) *wire.ConsumerData {
	return &wire.ConsumerData{GroupName: group, ConsumeType: wire.ConsumePassively, MessageModel: wire.Clustering, SubscriptionDataSet: subs}
}

func TestConsumerManagerMembership(t *testing.T) {
	m := newConsumerManager()
	now := time.Unix(1000, 0)
	a, b := &fakeConn{"a"}, &fakeConn{"b"}
	sub := wire.ParseSubscription("T", "x || y", 1)

	if changed, subs := m.Register(a, "ip@1", "", 0, consumerData("G", sub), now); !changed || !subs {
		t.Fatalf("first register: changed=%v subs=%v", changed, subs)
	}
	if changed, subs := m.Register(a, "ip@1", "", 0, consumerData("G", sub), now.Add(time.Second)); changed || subs {
		t.Fatalf("repeat heartbeat reported a change: %v %v", changed, subs)
	}
	if changed, _ := m.Register(b, "ip@2", "", 0, consumerData("G", sub), now); !changed {
		t.Fatal("second member not reported")
	}
	if ids := m.ClientIDs("G"); !slices.Equal(ids, []string{"ip@1", "ip@2"}) {
		t.Fatalf("ids %v", ids)
	}
	if _, subs := m.Register(b, "ip@2", "", 0, consumerData("G", wire.ParseSubscription("T", "z", 2)), now); !subs {
		t.Fatal("subscription change not reported")
	}
	if sd, ok := m.Subscription("G", "T"); !ok || sd.SubString != "z" {
		t.Fatalf("subscription %+v", sd)
	}
	if ch, ok := m.ChannelOf("G", "ip@2"); !ok || ch != any(b) {
		t.Fatalf("ChannelOf = %v %v", ch, ok)
	}

	if changed := m.Disconnected(a); !slices.Equal(changed, []string{"G"}) {
		t.Fatalf("Disconnected changed %v", changed)
	}
	if ids := m.ClientIDs("G"); !slices.Equal(ids, []string{"ip@2"}) {
		t.Fatalf("after disconnect ids %v", ids)
	}
	if m.Unregister("G", a) {
		t.Fatal("unregistering a gone member reported a change")
	}
	if !m.Unregister("G", b) || len(m.Groups()) != 0 {
		t.Fatalf("empty group not removed: %v", m.Groups())
	}
}

func TestConsumerManagerExpiry(t *testing.T) {
	m := newConsumerManager()
	now := time.Unix(1000, 0)
	old, fresh := &fakeConn{"old"}, &fakeConn{"fresh"}
	m.Register(old, "c1", "", 0, consumerData("G"), now)
	m.Register(fresh, "c2", "", 0, consumerData("G"), now.Add(100*time.Second))
	expired, changed := m.Expire(now.Add(121*time.Second), 120*time.Second)
	if len(expired) != 1 || expired[0] != any(old) || !slices.Equal(changed, []string{"G"}) {
		t.Fatalf("expired %v changed %v", expired, changed)
	}
	if ids := m.ClientIDs("G"); !slices.Equal(ids, []string{"c2"}) {
		t.Fatalf("ids %v", ids)
	}
}

func TestProducerManagerFreshestFirst(t *testing.T) {
	m := newProducerManager()
	now := time.Unix(1000, 0)
	a, b := &fakeConn{"a"}, &fakeConn{"b"}
	m.Register("PG", a, "p1", "GO", 479, now)
	m.Register("PG", b, "p2", "JAVA", 453, now.Add(5*time.Second))
	if chs := m.Channels("PG"); len(chs) != 2 || chs[0] != any(b) {
		t.Fatalf("channels %v", chs)
	}
	if exp := m.Expire(now.Add(121*time.Second), 120*time.Second); len(exp) != 1 || exp[0] != any(a) {
		t.Fatalf("expired %v", exp)
	}
	m.Disconnected(b)
	if chs := m.Channels("PG"); len(chs) != 0 {
		t.Fatalf("channels after disconnect %v", chs)
	}
}
