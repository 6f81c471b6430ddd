// Package client is the client instance shared by rocketgo producers and
// consumers: one remoting connection per broker, the name-server client, a
// per-topic route cache, the broker address table, the client id, the
// heartbeat loop and the dispatch of broker → client requests to the
// producer or consumer group they concern.
//
// A *Client is created explicitly with New and may be shared by any number
// of producers and consumers; each of them calls Acquire when it starts
// using it and Release when it stops, and the last Release closes it. The
// producer and consumer packages expose it as their Client type, and make a
// private one when the application does not pass one, so several
// independently configured producers and consumers in one process never
// share state by accident (the official Go client keys a global map by
// client id, which breaks exactly that).
//
// Lifecycle of what a Client owns:
//   - goroutines: a heartbeat loop and a route-refresh loop, both started
//     by New and stopped by the last Release (or Close);
//   - the netclient.Client and its connections, closed with it;
//   - registrations: RegisterProducer / RegisterConsumer add a group to
//     every heartbeat and route broker requests for that group to it;
//     RegisterReplyHandler receives pushed request/reply answers, which
//     name the client id rather than a group.
package client

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rocketgo/rocketgo/remoting/netclient"

	"github.com/rocketgo/rocketgo/internal/nsclient"
	"github.com/rocketgo/rocketgo/message"
	"github.com/rocketgo/rocketgo/remoting"
	"github.com/rocketgo/rocketgo/remoting/wire"
)

// Sentinel errors; match them with errors.Is.
var (
	// ErrClosed: the Client was closed (its last user released it).
	ErrClosed = errors.New("client: closed")
	// ErrNoNameServer: neither name-server addresses nor a resolver that
	// returns some were configured.
	ErrNoNameServer = errors.New("client: no name server address")
	// ErrGroupRegistered: a producer or consumer group is registered twice
	// on one Client.
	ErrGroupRegistered = errors.New("client: group already registered")
	// ErrTopicNotExist: the name servers know no route for the topic. It
	// also matches nsclient.ErrTopicNotExist.
	ErrTopicNotExist = nsclient.ErrTopicNotExist
	// ErrNoRoute: a route exists but has no usable queue or broker for the
	// requested purpose (no writable master, no readable queue).
	ErrNoRoute = errors.New("client: no usable route")
	// ErrBrokerNotFound: a broker name is not in any cached route.
	ErrBrokerNotFound = errors.New("client: broker not found")
)

// TransactionChecker answers the broker's check-back for half messages of a
// producer group (CHECK_TRANSACTION_STATE, 39). msg is the half message as
// the broker sent it, with topic and queue already set back to the real
// ones; addr is the broker that asked and must receive the END_TRANSACTION.
type TransactionChecker interface {
	CheckTransactionState(ctx context.Context, addr string, h *remoting.CheckTransactionStateRequestHeader, msg *message.MessageExt)
}

// ConsumerHandler is what a consumer group registers. The Client calls
// ConsumerData for every heartbeat, so it must be cheap and safe for
// concurrent use, and HandleRequest for broker → client requests that name
// the group: NOTIFY_CONSUMER_IDS_CHANGED (40), GET_CONSUMER_RUNNING_INFO
// (307), CONSUME_MESSAGE_DIRECTLY (309), RESET_CONSUMER_CLIENT_OFFSET (220)
// and GET_CONSUMER_STATUS_FROM_CLIENT (221). HandleRequest returns the
// response (build it with remoting.NewResponse), or nil for oneway requests;
// it runs on its own goroutine and ctx ends when the Client closes.
type ConsumerHandler interface {
	ConsumerData() wire.ConsumerData
	HandleRequest(ctx context.Context, addr string, req *remoting.Command) *remoting.Command
}

// Client is a shared client instance. All methods are safe for concurrent
// use.
type Client struct {
	cfg    config
	id     string
	ip     netip.Addr
	rc     *netclient.Client
	logger *slog.Logger

	nsMu     sync.Mutex
	ns       *nsclient.Client // current name-server client
	nsAddrs  string           // the address list ns was built for
	routes   routeCache
	refs     atomic.Int32
	closeMu  sync.Mutex
	isClosed atomic.Bool

	regMu     sync.RWMutex
	producers map[string]TransactionChecker
	consumers map[string]ConsumerHandler
	replies   replyRouter // PUSH_REPLY_MESSAGE_TO_CLIENT receivers

	hbNow      chan struct{}
	refreshNow chan struct{} // buffered 1: a broker announced a new master
	ctx        context.Context
	cancel     context.CancelFunc
	wg         sync.WaitGroup
}

// New creates a Client with one reference held by the caller and starts its
// heartbeat and route-refresh loops. It does no network I/O: connections
// are dialled when first needed.
func New(opts ...Option) (*Client, error) {
	cfg := defaultConfig()
	for _, o := range opts {
		if o != nil {
			o(&cfg)
		}
	}
	if cfg.resolver == nil && len(nsclient.ParseAddrs(cfg.nameServers)) == 0 {
		return nil, ErrNoNameServer
	}
	ip := localIP(cfg.clientIP)
	ropts := append([]netclient.Option{
		netclient.WithRequestTimeout(cfg.requestTimeout),
		netclient.WithLogger(cfg.logger),
		// The binary header: cheaper to write and to parse than JSON at
		// both ends, and read by every RocketMQ server (Java's since 3.x,
		// ours). remoting.SerializeJSON through WithRemotingOptions
		// restores JSON.
		netclient.WithSerializeType(DefaultSerializeType),
	}, cfg.remotingOpts...)
	c := &Client{
		cfg:        cfg,
		ip:         ip,
		id:         buildClientID(ip, cfg.instanceName, cfg.unitName),
		rc:         netclient.New(ropts...),
		logger:     cfg.logger,
		producers:  make(map[string]TransactionChecker),
		consumers:  make(map[string]ConsumerHandler),
		hbNow:      make(chan struct{}, 1),
		refreshNow: make(chan struct{}, 1),
	}
	c.routes.init()
	c.refs.Store(1)
	c.ctx, c.cancel = context.WithCancel(context.Background())
	if cfg.resolver == nil {
		ns, err := nsclient.New(c.rc, cfg.nameServers, nsclient.WithTimeout(cfg.requestTimeout), nsclient.WithLogger(cfg.logger))
		if err != nil {
			c.rc.Close()
			return nil, fmt.Errorf("client: %w", err)
		}
		c.ns, c.nsAddrs = ns, cfg.nameServers
	}
	c.registerHandlers()
	c.wg.Add(2)
	go c.heartbeatLoop()
	go c.refreshLoop()
	return c, nil
}

// buildClientID renders ip@instance[@unit]. "DEFAULT" becomes
// "<pid>#<nanos>" like the Java client, so two Clients in one process (each
// private producer or consumer has one) never share an id, which consumer
// rebalancing requires.
func buildClientID(ip netip.Addr, instance, unit string) string {
	if instance == DefaultInstanceName {
		instance = strconv.Itoa(os.Getpid()) + "#" + strconv.FormatInt(time.Now().UnixNano(), 10)
	}
	id := ip.String() + "@" + instance
	if unit != "" {
		id += "@" + unit
	}
	return id
}

// localIP picks the address advertised in the client id: the override when
// it parses, else the first non-loopback, non-link-local IPv4 address, else
// 127.0.0.1.
func localIP(override string) netip.Addr {
	if a, err := netip.ParseAddr(override); err == nil {
		return a
	}
	if addrs, err := net.InterfaceAddrs(); err == nil {
		for _, a := range addrs {
			pn, ok := a.(*net.IPNet)
			if !ok {
				continue
			}
			ip, ok := netip.AddrFromSlice(pn.IP)
			if !ok {
				continue
			}
			ip = ip.Unmap()
			if ip.Is4() && !ip.IsLoopback() && !ip.IsLinkLocalUnicast() {
				return ip
			}
		}
	}
	return netip.AddrFrom4([4]byte{127, 0, 0, 1})
}

// ClientID is the id sent in heartbeats and listed by
// GET_CONSUMER_LIST_BY_GROUP: "ip@instance[@unit]".
func (c *Client) ClientID() string { return c.id }

// IP is the address in the client id; producers put it into unique keys.
func (c *Client) IP() netip.Addr { return c.ip }

// Logger returns the Client's logger (never nil).
func (c *Client) Logger() *slog.Logger { return c.logger }

// RequestTimeout is the configured per-request timeout (default 3 s).
func (c *Client) RequestTimeout() time.Duration { return c.cfg.requestTimeout }

// Remoting exposes the underlying transport. Requests sent through it
// directly bypass the credentials hook; prefer Invoke.
func (c *Client) Remoting() *netclient.Client { return c.rc }

// Acquire takes one more reference for a new user of the Client. It fails
// with ErrClosed once the last reference was released.
func (c *Client) Acquire() error {
	for {
		n := c.refs.Load()
		if n <= 0 {
			return ErrClosed
		}
		if c.refs.CompareAndSwap(n, n+1) {
			return nil
		}
	}
}

// Release drops one reference; the last one closes the Client. Releasing
// more often than acquiring is harmless.
func (c *Client) Release() error {
	for {
		n := c.refs.Load()
		if n <= 0 {
			return nil
		}
		if c.refs.CompareAndSwap(n, n-1) {
			if n == 1 {
				return c.Close()
			}
			return nil
		}
	}
}

// Close stops the heartbeat and refresh loops, closes every connection and
// waits for every goroutine the Client started, whatever the reference
// count. It is meant for the Client's owner; users call Release. Close is
// idempotent and must not be called from a ConsumerHandler or
// TransactionChecker callback.
func (c *Client) Close() error {
	c.closeMu.Lock()
	defer c.closeMu.Unlock()
	if c.isClosed.Load() {
		return nil
	}
	c.isClosed.Store(true)
	c.refs.Store(0)
	c.cancel()
	c.wg.Wait()
	return c.rc.Close()
}

// Closed reports whether the Client has been closed.
func (c *Client) Closed() bool { return c.isClosed.Load() }

// ---------------------------------------------------------------------------
// Requests

// Invoke sends cmd to addr and waits for the response, after applying the
// credentials hook. The deadline is ctx's, or the request timeout when ctx
// has none. Errors are transport errors (*remoting.OpError); a non-success
// response code is returned in the Command, not as an error.
func (c *Client) Invoke(ctx context.Context, addr string, cmd *remoting.Command) (*remoting.Command, error) {
	if c.cfg.credentials != nil {
		c.cfg.credentials(cmd)
	}
	return c.rc.InvokeSync(ctx, addr, cmd)
}

// InvokeAsync is the asynchronous Invoke; cb runs exactly once, never on
// the calling goroutine.
func (c *Client) InvokeAsync(ctx context.Context, addr string, cmd *remoting.Command, cb func(*remoting.Command, error)) {
	if c.cfg.credentials != nil {
		c.cfg.credentials(cmd)
	}
	c.rc.InvokeAsync(ctx, addr, cmd, cb)
}

// InvokeHandler is InvokeAsync with a netclient.Handler, which costs no
// allocation when h is a pointer, and which never waits for a dial.
func (c *Client) InvokeHandler(ctx context.Context, addr string, cmd *remoting.Command, h netclient.Handler) {
	if c.cfg.credentials != nil {
		c.cfg.credentials(cmd)
	}
	c.rc.InvokeHandler(ctx, addr, cmd, h)
}

// InvokeOneway sends cmd without waiting for an answer.
func (c *Client) InvokeOneway(ctx context.Context, addr string, cmd *remoting.Command) error {
	if c.cfg.credentials != nil {
		c.cfg.credentials(cmd)
	}
	return c.rc.InvokeOneway(ctx, addr, cmd)
}

// ---------------------------------------------------------------------------
// Name servers

// nameServer returns the name-server client, (re)building it from the
// resolver when one is configured and its answer changed.
func (c *Client) nameServer(ctx context.Context, reresolve bool) (*nsclient.Client, error) {
	c.nsMu.Lock()
	defer c.nsMu.Unlock()
	if c.cfg.resolver == nil || (c.ns != nil && !reresolve) {
		return c.ns, nil
	}
	addrs, err := c.cfg.resolver(ctx)
	if err != nil {
		if c.ns != nil {
			c.logger.Warn("client: name-server resolver failed; keeping previous list", "err", err)
			return c.ns, nil
		}
		return nil, fmt.Errorf("client: resolve name servers: %w", err)
	}
	joined := strings.Join(addrs, ";")
	if c.ns != nil && joined == c.nsAddrs {
		return c.ns, nil
	}
	ns, err := nsclient.New(c.rc, joined, nsclient.WithTimeout(c.cfg.requestTimeout), nsclient.WithLogger(c.logger))
	if err != nil {
		if c.ns != nil {
			return c.ns, nil
		}
		return nil, fmt.Errorf("client: %w: %w", ErrNoNameServer, err)
	}
	c.ns, c.nsAddrs = ns, joined
	return ns, nil
}

// InvokeNameServer sends req to the name servers with fail-over and returns
// the first answer, whatever its code, and the address that gave it.
// NameServerAddrs lists the name servers currently in use (after
// resolving them when a resolver is configured).
func (c *Client) NameServerAddrs(ctx context.Context) ([]string, error) {
	ns, err := c.nameServer(ctx, false)
	if err != nil {
		return nil, err
	}
	if ns == nil {
		return nil, ErrNoNameServer
	}
	return ns.Addrs(), nil
}

func (c *Client) InvokeNameServer(ctx context.Context, req *remoting.Command) (*remoting.Command, string, error) {
	ns, err := c.nameServer(ctx, false)
	if err != nil {
		return nil, "", err
	}
	return ns.Invoke(ctx, req)
}

// ---------------------------------------------------------------------------
// Registration

// RegisterProducer adds a producer group to the heartbeats. checker, when
// non-nil, answers transaction check-backs for half messages whose PGROUP
// property is group. A heartbeat is sent soon after, so the brokers know
// the group before its first transaction needs checking.
func (c *Client) RegisterProducer(group string, checker TransactionChecker) error {
	if c.isClosed.Load() {
		return ErrClosed
	}
	c.regMu.Lock()
	if _, ok := c.producers[group]; ok {
		c.regMu.Unlock()
		return fmt.Errorf("%w: producer %q", ErrGroupRegistered, group)
	}
	c.producers[group] = checker
	c.regMu.Unlock()
	c.TriggerHeartbeat()
	return nil
}

// UnregisterProducer removes a producer group and tells the brokers it
// heartbeated (UNREGISTER_CLIENT), best effort within ctx; with an already
// expired ctx it only drops the registration.
func (c *Client) UnregisterProducer(ctx context.Context, group string) {
	c.regMu.Lock()
	_, ok := c.producers[group]
	delete(c.producers, group)
	c.regMu.Unlock()
	if ok {
		c.unregister(ctx, &remoting.UnregisterClientRequestHeader{ClientID: c.id, ProducerGroup: group}, false)
	}
}

// RegisterConsumer adds a consumer group to the heartbeats and routes broker
// requests naming it to h.
func (c *Client) RegisterConsumer(group string, h ConsumerHandler) error {
	if c.isClosed.Load() {
		return ErrClosed
	}
	if h == nil {
		return fmt.Errorf("client: nil consumer handler for %q", group)
	}
	c.regMu.Lock()
	if _, ok := c.consumers[group]; ok {
		c.regMu.Unlock()
		return fmt.Errorf("%w: consumer %q", ErrGroupRegistered, group)
	}
	c.consumers[group] = h
	c.regMu.Unlock()
	return nil
}

// UnregisterConsumer removes a consumer group and sends UNREGISTER_CLIENT to
// every broker, so the others in the group rebalance at once instead of
// after the broker's 120 s channel expiry.
func (c *Client) UnregisterConsumer(ctx context.Context, group string) {
	c.regMu.Lock()
	_, ok := c.consumers[group]
	delete(c.consumers, group)
	c.regMu.Unlock()
	if ok {
		c.unregister(ctx, &remoting.UnregisterClientRequestHeader{ClientID: c.id, ConsumerGroup: group}, true)
	}
}

func (c *Client) unregister(ctx context.Context, h *remoting.UnregisterClientRequestHeader, allAddrs bool) {
	if c.isClosed.Load() || ctx.Err() != nil {
		return // an expired context means: drop the registration only
	}
	var wg sync.WaitGroup
	for _, addr := range c.routes.brokerAddrs(!allAddrs) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := c.Invoke(ctx, addr, remoting.NewRequest(remoting.UnregisterClient, h, nil))
			if err != nil || resp.Code != remoting.Success {
				c.logger.Debug("client: unregister failed", "addr", addr, "err", err)
			}
		}()
	}
	wg.Wait()
}

// producerGroups and consumerData snapshot the registrations.
func (c *Client) registrations() ([]wire.ProducerData, []ConsumerHandler) {
	c.regMu.RLock()
	defer c.regMu.RUnlock()
	ps := make([]wire.ProducerData, 0, len(c.producers))
	for g := range c.producers {
		ps = append(ps, wire.ProducerData{GroupName: g})
	}
	cs := make([]ConsumerHandler, 0, len(c.consumers))
	for _, h := range c.consumers {
		cs = append(cs, h)
	}
	return ps, cs
}
