package proxy

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/rocketgo/rocketgo/auth"
	"github.com/rocketgo/rocketgo/client"
	iclient "github.com/rocketgo/rocketgo/internal/client"
	"github.com/rocketgo/rocketgo/message"
	"github.com/rocketgo/rocketgo/remoting"
	"github.com/rocketgo/rocketgo/remoting/wire"
)

// Cluster is the proxy's view of the name servers and brokers behind it.
// The default (NewRemotingCluster) speaks remoting to them; tests may
// substitute one.
type Cluster interface {
	// Route returns topic's route as the name servers know it; the error
	// wraps ErrTopicNotFound when they know none.
	Route(ctx context.Context, topic string) (*wire.TopicRoute, error)
	// Invoke sends req to the master of brokerName, found through
	// topic's route, and returns its answer (any code).
	Invoke(ctx context.Context, topic, brokerName string, req *remoting.Command) (*remoting.Command, error)
	// RegisterProducer makes the brokers send the transaction check-backs
	// of half messages whose producer group is group to check.
	RegisterProducer(group string, check func(ctx context.Context, h *remoting.CheckTransactionStateRequestHeader, msg *message.MessageExt)) error
	Close() error
}

// ErrTopicNotFound: the name servers know no route for the topic.
var ErrTopicNotFound = errors.New("proxy: topic not found")

// remotingCluster is Cluster over a client.Client.
type remotingCluster struct {
	cl *client.Client

	mu      sync.Mutex
	masters map[string]string // broker name → master address, from routes
	warmed  map[string]bool   // topics the client's own route cache holds
	routes  map[string]cachedRoute
}

// routeTTL is how long a route is served from the cache. A send or
// receive must not cost a name-server round trip; the 5.x clients
// themselves re-query routes every 30s.
const routeTTL = 5 * time.Second

type cachedRoute struct {
	route *wire.TopicRoute
	at    time.Time
}

// NewRemotingCluster returns a Cluster that reaches the name servers and
// brokers through cl (which it closes on Close).
func NewRemotingCluster(cl *client.Client) Cluster {
	return &remotingCluster{cl: cl, masters: make(map[string]string), warmed: make(map[string]bool), routes: make(map[string]cachedRoute)}
}

func (c *remotingCluster) Route(ctx context.Context, topic string) (*wire.TopicRoute, error) {
	c.mu.Lock()
	cr, ok := c.routes[topic]
	c.mu.Unlock()
	if ok && time.Since(cr.at) < routeTTL {
		return cr.route, nil
	}
	req := remoting.NewRequest(remoting.GetRouteInfoByTopic, &remoting.GetRouteInfoRequestHeader{Topic: topic, AcceptStandardJSONOnly: true}, nil)
	resp, _, err := c.cl.NameServerRequest(ctx, req)
	if err != nil {
		return nil, err
	}
	switch resp.Code {
	case remoting.Success:
	case remoting.TopicNotExist:
		return nil, fmt.Errorf("%w: %s", ErrTopicNotFound, topic)
	default:
		return nil, remoting.NewResponseError(remoting.GetRouteInfoByTopic, "", resp)
	}
	route, err := wire.ParseTopicRoute(resp.Body)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	for _, bd := range route.BrokerDatas {
		if a := bd.MasterAddr(); a != "" {
			c.masters[bd.BrokerName] = a
		}
	}
	c.routes[topic] = cachedRoute{route: route, at: time.Now()}
	warm := !c.warmed[topic] && len(route.BrokerDatas) > 0
	c.warmed[topic] = true
	c.mu.Unlock()
	if warm {
		// The client heartbeats the brokers of the routes it caches; the
		// brokers send transaction check-backs only to producers that
		// heartbeat them.
		_, _ = c.cl.BrokerAddrs(ctx, topic, route.BrokerDatas[0].BrokerName)
	}
	return route, nil
}

func (c *remotingCluster) Invoke(ctx context.Context, topic, brokerName string, req *remoting.Command) (*remoting.Command, error) {
	c.mu.Lock()
	addr := c.masters[brokerName]
	c.mu.Unlock()
	if addr == "" {
		// Not seen in a route yet (the proxy restarted, or the client
		// kept a route from before): ask the name servers.
		if _, err := c.Route(ctx, topic); err != nil && !errors.Is(err, ErrTopicNotFound) {
			return nil, err
		}
		c.mu.Lock()
		addr = c.masters[brokerName]
		c.mu.Unlock()
		if addr == "" {
			return nil, fmt.Errorf("proxy: broker %q has no master in the route of %q", brokerName, topic)
		}
	}
	if creds, ok := credentialsFrom(ctx); ok {
		// The caller's own account: the broker applies its permissions.
		auth.Sign(req, creds)
	}
	return c.cl.Request(ctx, addr, req)
}

type checkFunc func(ctx context.Context, h *remoting.CheckTransactionStateRequestHeader, msg *message.MessageExt)

func (f checkFunc) CheckTransactionState(ctx context.Context, _ string, h *remoting.CheckTransactionStateRequestHeader, msg *message.MessageExt) {
	f(ctx, h, msg)
}

func (c *remotingCluster) RegisterProducer(group string, check func(ctx context.Context, h *remoting.CheckTransactionStateRequestHeader, msg *message.MessageExt)) error {
	err := iclient.Of(c.cl).RegisterProducer(group, checkFunc(check))
	if errors.Is(err, iclient.ErrGroupRegistered) {
		return nil
	}
	return err
}

func (c *remotingCluster) Close() error { return c.cl.Close() }
