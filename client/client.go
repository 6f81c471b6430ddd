// Package client is the connection to a RocketMQ cluster that producers and
// consumers share: the name-server list, the route cache, one multiplexed
// connection per broker, the client id and one heartbeat for every group
// registered on it.
//
// Producers and consumers create a private Client when given none. Share one
// explicitly with producer.WithClient and consumer.WithClient to use one set
// of connections and one heartbeat for all of them:
//
//	cl, err := client.New(client.WithNameServers("127.0.0.1:9876"))
//	if err != nil { ... }
//	defer cl.Close() // after the producers and consumers using it
//	p, err := producer.New(producer.WithClient(cl), producer.WithGroup("pg"))
//
// Hooks observe connections, requests, sends, pulls, received and consumed
// messages (see Hook). Admin tools send raw requests with Request and
// NameServerRequest.
package client

import (
	"context"
	"errors"
	"fmt"

	iclient "github.com/rocketgo/rocketgo/internal/client"
	"github.com/rocketgo/rocketgo/remoting"
)

// Errors; match them with errors.Is.
var (
	// ErrNoNameServer: neither WithNameServers nor WithResolver gave an
	// address.
	ErrNoNameServer = iclient.ErrNoNameServer
	// ErrClosed: the Client was closed.
	ErrClosed = iclient.ErrClosed
)

// handle is the implementation, embedded under an unexported name so that
// only rocketgo's own packages can reach it (see internal/client.Handle).
type handle = iclient.Handle

// Client is a shared connection to a cluster. It is safe for concurrent use.
type Client struct {
	handle
}

// New creates a Client. It does no network I/O: name servers and brokers
// are dialled when first needed. Close it after every producer and consumer
// that uses it has shut down.
func New(opts ...Option) (*Client, error) {
	cfg := config{}
	for _, o := range opts {
		if o != nil {
			o(&cfg)
		}
	}
	iopts := append([]iclient.Option(nil), cfg.opts...)
	if len(cfg.hooks) > 0 {
		raw := make([]any, len(cfg.hooks))
		for i, h := range cfg.hooks {
			raw[i] = h
		}
		iopts = append(iopts, iclient.WithHooks(raw...))
		if th, ok := transportHooks(cfg.hooks); ok {
			iopts = append(iopts, iclient.WithRemotingOptions(th))
		}
	}
	impl, err := iclient.New(iopts...)
	if err != nil {
		if errors.Is(err, iclient.ErrNoNameServer) {
			return nil, err
		}
		return nil, fmt.Errorf("client: %w", err)
	}
	return &Client{handle: iclient.NewHandle(impl)}, nil
}

func (c *Client) impl() *iclient.Client { return iclient.Of(c) }

// ID is the client id brokers know this Client by ("ip@instance").
func (c *Client) ID() string { return c.impl().ClientID() }

// Close unregisters nothing by itself (producers and consumers do that on
// Shutdown), stops the heartbeat and route-refresh loops, closes every
// connection and waits for every goroutine the Client started. It is
// idempotent. Producers and consumers still using the Client fail with
// ErrClosed afterwards.
func (c *Client) Close() error { return c.impl().Close() }

// NameServerAddrs lists the name servers the client uses, for admin
// commands that must reach every one of them (topic deletion, KV
// configuration, write permission).
func (c *Client) NameServerAddrs(ctx context.Context) ([]string, error) {
	return c.impl().NameServerAddrs(ctx)
}

// Request sends req to the broker (or name server) at addr and returns its
// response, for administrative tools that speak the protocol directly. The
// credentials hook (WithCredentials) signs it first; the deadline is ctx's,
// or the request timeout when ctx has none. Errors are transport errors
// (*remoting.OpError wrapping remoting.ErrTimeout, remoting.ErrConnClosed,
// ...); a non-success response code is not an error here: inspect
// resp.Code, or turn it into an error with remoting.NewResponseError. req
// must not be reused until the call returns.
func (c *Client) Request(ctx context.Context, addr string, req *remoting.Command) (*remoting.Command, error) {
	return c.impl().Invoke(ctx, addr, req)
}

// NameServerRequest sends req to the name servers, trying each in turn
// until one answers (whatever the code), and returns that answer and the
// address that gave it.
func (c *Client) NameServerRequest(ctx context.Context, req *remoting.Command) (resp *remoting.Command, addr string, err error) {
	return c.impl().InvokeNameServer(ctx, req)
}

// BrokerAddrs returns the addresses (by broker id, 0 = master) of broker
// name as known from the routes of topic, reading topic's route from the
// name servers if it is not cached.
func (c *Client) BrokerAddrs(ctx context.Context, topic, brokerName string) (map[int64]string, error) {
	if a := c.impl().BrokerAddrs(brokerName); len(a) > 0 {
		return a, nil
	}
	if _, err := c.impl().Route(ctx, topic); err != nil {
		return nil, err
	}
	a := c.impl().BrokerAddrs(brokerName)
	if len(a) == 0 {
		return nil, fmt.Errorf("client: broker %s not in the route of %s", brokerName, topic)
	}
	return a, nil
}
