package consumer

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/rocketgo/rocketgo/client"

	iclient "github.com/rocketgo/rocketgo/internal/client"
	"github.com/rocketgo/rocketgo/message"
	"github.com/rocketgo/rocketgo/remoting"
	"github.com/rocketgo/rocketgo/remoting/wire"
)

// cluster wraps the Client with the lookups consumers need.
type cluster struct {
	*iclient.Client
	pub     *client.Client // the public handle, for the trace producer
	private bool
	pulls   []client.PullHook // called on every pull answer; nil when none
	// receives and consumes are called for every message received and
	// consumed; nil when none, so the message paths only test a length.
	receives []client.ReceiveHook
	consumes []client.ConsumeHook
	// codec inflates compressed bodies of every pull, keeping its zstd and
	// zlib state warm across pulls instead of building it per response.
	codec message.Codec

	// pullFrom is the broker id each queue's last pull answer suggested
	// (suggestWhichBrokerId; Java PullAPIWrapper.pullFromWhichNodeTable).
	// A queue absent from it pulls from the master.
	pullFromMu sync.Mutex
	pullFrom   map[Queue]int64
}

// pullTarget is the address q's next pull goes to and whether it is a
// slave's: the broker id the last answer suggested when the route knows
// it, else the master, else (master gone) the lowest-numbered slave, as
// Java's findBrokerAddressInSubscribe falls back to any address.
func (c *cluster) pullTarget(ctx context.Context, q Queue) (addr string, slave bool, err error) {
	c.pullFromMu.Lock()
	id := c.pullFrom[q]
	c.pullFromMu.Unlock()
	if id != wire.MasterID {
		if a := c.BrokerAddrByID(q.BrokerName, id); a != "" {
			return a, true, nil
		}
	}
	addr, err = c.brokerAddr(ctx, q.BrokerName, q.Topic)
	if err != nil {
		return "", false, err
	}
	return addr, addr != c.MasterAddr(q.BrokerName), nil
}

// suggestPullFrom records the broker id an answer for q suggested and
// reports whether q's next pull goes elsewhere than addr.
func (c *cluster) suggestPullFrom(q Queue, id int64, addr string) (moved bool) {
	c.pullFromMu.Lock()
	if c.pullFrom == nil {
		c.pullFrom = map[Queue]int64{}
	}
	old := c.pullFrom[q]
	if id == wire.MasterID {
		delete(c.pullFrom, q)
	} else {
		c.pullFrom[q] = id
	}
	c.pullFromMu.Unlock()
	if old == id {
		return false
	}
	next := c.BrokerAddrByID(q.BrokerName, id)
	if next == "" {
		next = c.BrokerAddr(q.BrokerName)
	}
	return next != addr
}

func newCluster(cfg *config) (*cluster, error) {
	if cfg.client != nil {
		impl := iclient.Of(cfg.client)
		if err := impl.Acquire(); err != nil {
			return nil, fmt.Errorf("consumer: shared client: %w", err)
		}
		return &cluster{Client: impl, pub: cfg.client, pulls: cfg.client.PullHooks(),
			receives: cfg.client.ReceiveHooks(), consumes: cfg.client.ConsumeHooks()}, nil
	}
	pub, err := client.New(append([]client.Option{
		client.WithNameServers(cfg.nameServers),
		client.WithInstanceName(cfg.instanceName),
		client.WithLogger(cfg.logger),
		client.WithHeartbeatInterval(cfg.heartbeatInterval),
		client.WithRouteRefreshInterval(cfg.routeInterval),
		client.WithRequestTimeout(cfg.requestTimeout),
		client.WithRequestSigner(cfg.signer),
	}, cfg.tls...)...)
	if err != nil {
		return nil, fmt.Errorf("consumer: client: %w", err)
	}
	return &cluster{Client: iclient.Of(pub), pub: pub, private: true}, nil
}

// pulled reports one pull answer (or failure) to the pull hooks.
func (c *cluster) pulled(q Queue, messages int, latency time.Duration, err error) {
	for _, h := range c.pulls {
		h.OnPull(q.Topic, q.BrokerName, int32(q.QueueID), messages, latency, err)
	}
}

// received reports msgs, just arrived for group, to the receive hooks;
// topic overrides the messages' own topic when not empty. Callers test
// len(c.receives) first so that a consumer without hooks does not even
// read the clock.
func (c *cluster) received(group, topic string, msgs []*message.MessageExt) {
	now := time.Now().UnixMilli()
	for _, m := range msgs {
		t := topic
		if t == "" {
			t = m.Topic
		}
		d := time.Duration(now-m.StoreTimestamp) * time.Millisecond
		for _, h := range c.receives {
			h.OnReceive(group, t, d)
		}
	}
}

// consumed reports one listener call over msgs to the consume hooks: the
// first acked messages succeeded, the rest failed.
func (c *cluster) consumed(group string, msgs []*message.MessageExt, acked int, await, process time.Duration) {
	for i, m := range msgs {
		for _, h := range c.consumes {
			h.OnConsume(group, m.Topic, await, process, i < acked)
		}
	}
}

// release drops the consumer's reference; a private client is closed.
func (c *cluster) release() {
	if c.private {
		c.Client.Close()
		return
	}
	c.Client.Release()
}

// readQueues lists the readable queues of topic; refresh re-reads the route.
func (c *cluster) readQueues(ctx context.Context, topic string, refresh bool) ([]Queue, error) {
	var ti *iclient.TopicInfo
	var err error
	if refresh {
		ti, err = c.RefreshRoute(ctx, topic, false)
	} else {
		ti, err = c.Route(ctx, topic)
	}
	if err != nil {
		return nil, fmt.Errorf("consumer: route of %s: %w", topic, err)
	}
	if len(ti.Subscribe) == 0 {
		return nil, fmt.Errorf("%w: topic %s", ErrNoRoute, topic)
	}
	return ti.Subscribe, nil
}

// brokerAddr returns the address serving broker name, reading topic's
// route once when the name is not cached yet.
func (c *cluster) brokerAddr(ctx context.Context, name, topic string) (string, error) {
	if a := c.BrokerAddr(name); a != "" {
		return a, nil
	}
	if topic != "" {
		if _, err := c.Route(ctx, topic); err == nil {
			if a := c.BrokerAddr(name); a != "" {
				return a, nil
			}
		}
	}
	return "", fmt.Errorf("%w: %s", ErrBrokerNotFound, name)
}

// invokeQueue sends cmd to the broker serving q and returns the answer
// and the address it went to.
func (c *cluster) invokeQueue(ctx context.Context, q Queue, cmd *remoting.Command) (*remoting.Command, string, error) {
	addr, err := c.brokerAddr(ctx, q.BrokerName, q.Topic)
	if err != nil {
		return nil, "", err
	}
	resp, err := c.Invoke(ctx, addr, cmd)
	return resp, addr, err
}

// checkSubscription asks every broker of sd's topic whether it can serve
// the subscription (CHECK_CLIENT_CONFIG, as Java consumers do for SQL92),
// so that a broker without enablePropertyFilter or an expression it cannot
// parse fails Start with the broker's reason instead of failing every pull.
// A broker that does not know the request is given the benefit of the doubt.
func (c *cluster) checkSubscription(ctx context.Context, group string, sd wire.SubscriptionData, queues []Queue) error {
	body, err := json.Marshal(struct {
		ClientID         string                `json:"clientId"`
		Group            string                `json:"group"`
		SubscriptionData wire.SubscriptionData `json:"subscriptionData"`
	}{c.ClientID(), group, sd})
	if err != nil {
		return fmt.Errorf("consumer: encode subscription of %s: %w", sd.Topic, err)
	}
	checked := map[string]bool{}
	for _, q := range queues {
		if checked[q.BrokerName] {
			continue
		}
		checked[q.BrokerName] = true
		resp, addr, err := c.invokeQueue(ctx, q, remoting.NewRequest(remoting.CheckClientConfig, nil, body))
		if err != nil {
			return fmt.Errorf("consumer: check subscription of %s: %w", sd.Topic, err)
		}
		if resp.Code != remoting.Success && resp.Code != remoting.RequestCodeNotSupported {
			return fmt.Errorf("%w: %s %q: %w", ErrInvalidOption, sd.ExpressionType, sd.SubString, brokerError(remoting.CheckClientConfig, addr, resp))
		}
	}
	return nil
}
