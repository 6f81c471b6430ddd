package proxy

import (
	"context"
	"encoding/json"
	"sync"
	"time"

	"github.com/rocketgo/rocketgo/remoting"
	pb "github.com/rocketgo/rocketgo/server/proxy/v2pb"
)

// FIFO groups. As upstream's 5.x proxy, a consumer group is FIFO when its
// subscription group config says consumeMessageOrderly: the proxy tells
// the client so in its Subscription settings (fifo=true) and pops that
// group's messages with order=true, so the broker hands out a queue's next
// messages only once the previous batch is acknowledged or its invisible
// time ran out. Order pops are acked and have their invisible time changed
// with the same receipt handles as any other pop.
//
// Upstream asks a broker for one group (GET_SUBSCRIPTIONGROUP_CONFIG); our
// broker answers GET_ALL_SUBSCRIPTIONGROUP_CONFIG, so the proxy reads the
// table of a broker once per fifoTTL and answers every group from it.

// fifoTTL bounds how stale the proxy's view of consumeMessageOrderly is.
const fifoTTL = 5 * time.Second

type fifoGroups struct {
	mu      sync.Mutex
	brokers map[string]fifoTable // by broker name
}

type fifoTable struct {
	orderly map[string]bool
	at      time.Time
}

// groupsBody is the part of a GET_ALL_SUBSCRIPTIONGROUP_CONFIG answer the
// proxy reads.
type groupsBody struct {
	SubscriptionGroupTable map[string]struct {
		ConsumeMessageOrderly bool `json:"consumeMessageOrderly"`
	} `json:"subscriptionGroupTable"`
}

// groupFifo reports whether group is FIFO on broker (reached through
// topic's route). A group whose config cannot be read counts as non-FIFO
// (rocketgo's broker still pops a consumeMessageOrderly group in order on
// its own; upstream's needs the order flag).
func (v *service) groupFifo(ctx context.Context, topic, broker, group string) bool {
	f := &v.fifo
	f.mu.Lock()
	t, ok := f.brokers[broker]
	f.mu.Unlock()
	if ok && time.Since(t.at) < fifoTTL {
		return t.orderly[group]
	}
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	resp, err := v.s.cluster.Invoke(ctx, topic, broker, remoting.NewRequest(remoting.GetAllSubscriptionGroupConfig, nil, nil))
	var body groupsBody
	if err == nil && resp.Code == remoting.Success {
		err = json.Unmarshal(resp.Body, &body)
	} else if err == nil {
		err = remoting.NewResponseError(remoting.GetAllSubscriptionGroupConfig, "", resp)
	}
	if err != nil {
		// Keep what was known (nothing, at first) for another fifoTTL,
		// so a broker that refuses (an account without the right under
		// ACL) costs one round trip per fifoTTL, not one per receive.
		v.s.log.Debug("proxy: subscription groups unreadable; FIFO view kept", "broker", broker, "err", err)
		t.at = time.Now()
	} else {
		t = fifoTable{orderly: make(map[string]bool), at: time.Now()}
		for name, g := range body.SubscriptionGroupTable {
			if g.ConsumeMessageOrderly {
				t.orderly[name] = true
			}
		}
	}
	f.mu.Lock()
	if f.brokers == nil {
		f.brokers = make(map[string]fifoTable)
	}
	f.brokers[broker] = t
	f.mu.Unlock()
	return t.orderly[group]
}

// subscriptionFifo reports whether a client's subscription is to a FIFO
// group: asked of the first readable broker of its first topic.
func (v *service) subscriptionFifo(ctx context.Context, st *pb.Settings) bool {
	sub := st.GetSubscription()
	group := sub.GetGroup().GetName()
	if group == "" || len(sub.GetSubscriptions()) == 0 {
		return false
	}
	topic := sub.GetSubscriptions()[0].GetTopic().GetName()
	route, err := v.s.cluster.Route(ctx, topic)
	if err != nil {
		return false
	}
	for _, qd := range route.QueueDatas {
		if qd.Readable() {
			return v.groupFifo(ctx, topic, qd.BrokerName, group)
		}
	}
	return false
}
