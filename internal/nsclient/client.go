// Package nsclient is the SDK's name-server client: route lookups with
// fail-over across name servers, plus the broker-side calls
// (REGISTER_BROKER, UNREGISTER_BROKER) and a few admin queries.
//
// It owns no connections: every call goes through the *netclient.Client it is
// given, which the producer, consumer or broker shares with its other
// traffic. A Client therefore has no goroutines and needs no Close.
package nsclient

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rocketgo/rocketgo/remoting/wire"

	"github.com/rocketgo/rocketgo/remoting/netclient"

	"github.com/rocketgo/rocketgo/remoting"
)

// DefaultTimeout bounds one attempt against one name server; it matches the
// Java client's mqClientApiTimeout (3000 ms). The caller's context still
// bounds the whole call across attempts.
const DefaultTimeout = 3 * time.Second

// Option configures a Client.
type Option func(*config)

type config struct {
	timeout time.Duration
	logger  *slog.Logger
	rand    func(n int) int
}

// WithTimeout sets the per-attempt timeout. Default DefaultTimeout (3 s);
// values ≤ 0 are ignored.
func WithTimeout(d time.Duration) Option {
	return func(c *config) {
		if d > 0 {
			c.timeout = d
		}
	}
}

// WithLogger sets the logger for fail-over events. Default: discard.
func WithLogger(l *slog.Logger) Option {
	return func(c *config) {
		if l != nil {
			c.logger = l
		}
	}
}

// withStart fixes the first name server tried (tests); the default is a
// random index so a fleet of clients spreads over the name servers.
func withStart(i int) Option {
	return func(c *config) { c.rand = func(int) int { return i } }
}

// Client talks to a set of name servers.
type Client struct {
	rc      *netclient.Client
	addrs   []string
	timeout time.Duration
	logger  *slog.Logger
	// current is the index of the name server in use. Calls stick to it
	// while it answers and move on after a transport failure, as the Java
	// client does, so one dead name server costs one failed attempt rather
	// than one per call.
	current atomic.Uint32
}

// New returns a Client for the name servers in addrs ("host:port;host:port",
// the NAMESRV_ADDR format; spaces and empty entries are ignored).
func New(rc *netclient.Client, addrs string, opts ...Option) (*Client, error) {
	cfg := config{timeout: DefaultTimeout, logger: slog.New(slog.NewTextHandler(io.Discard, nil)), rand: rand.IntN}
	for _, o := range opts {
		o(&cfg)
	}
	if rc == nil {
		return nil, fmt.Errorf("nsclient: nil remoting client")
	}
	list := ParseAddrs(addrs)
	if len(list) == 0 {
		return nil, ErrNoNameServer
	}
	c := &Client{rc: rc, addrs: list, timeout: cfg.timeout, logger: cfg.logger}
	c.current.Store(uint32(cfg.rand(len(list))))
	return c, nil
}

// ParseAddrs splits a "host:port;host:port" list.
func ParseAddrs(s string) []string {
	var out []string
	for _, a := range strings.Split(s, ";") {
		if a = strings.TrimSpace(a); a != "" {
			out = append(out, a)
		}
	}
	return out
}

// Addrs returns the name-server addresses, in configured order.
func (c *Client) Addrs() []string { return append([]string(nil), c.addrs...) }

// invoke sends the request built by build to one name server, starting with
// the current one and moving on after transport errors. A response — any
// code — ends the loop: a name server's answer is authoritative and the
// others hold the same tables. build is called per attempt because a
// Command must not be sent twice.
// Invoke sends req to the name servers with fail-over (the same order and
// stickiness as every other call) and returns the first answer, whatever
// its code, and the address that gave it. req is resent as is on each
// attempt, so it must not be shared with other goroutines meanwhile.
func (c *Client) Invoke(ctx context.Context, req *remoting.Command) (*remoting.Command, string, error) {
	addr, resp, err := c.invoke(ctx, func() *remoting.Command { return req })
	return resp, addr, err
}

func (c *Client) invoke(ctx context.Context, build func() *remoting.Command) (string, *remoting.Command, error) {
	n := uint32(len(c.addrs))
	start := c.current.Load() % n
	var errs []error
	for i := uint32(0); i < n; i++ {
		idx := (start + i) % n
		addr := c.addrs[idx]
		actx, cancel := context.WithTimeout(ctx, c.timeout)
		resp, err := c.rc.InvokeSync(actx, addr, build())
		cancel()
		if err == nil {
			if idx != start {
				c.current.CompareAndSwap(start, idx)
				c.logger.Info("nsclient: switched name server", "addr", addr)
			}
			return addr, resp, nil
		}
		c.logger.Warn("nsclient: name server failed", "addr", addr, "err", err)
		errs = append(errs, err)
		if ctx.Err() != nil {
			break
		}
	}
	return "", nil, &AllFailedError{Errs: errs}
}

// request returns a builder of fresh requests carrying h.
func request(code int16, h remoting.Header, body []byte) func() *remoting.Command {
	return func() *remoting.Command { return remoting.NewRequest(code, h, body) }
}

// checkSuccess turns a non-success answer to a request with code reqCode
// into a *remoting.ResponseError.
func checkSuccess(reqCode int16, addr string, resp *remoting.Command) error {
	if resp.Code != remoting.Success {
		return remoting.NewResponseError(reqCode, addr, resp)
	}
	return nil
}

// Route fetches the route of topic. It asks for standard JSON
// (acceptStandardJsonOnly=true) but parses the bare-key form too, which
// older Apache name servers send regardless. An unknown topic is an error
// matching ErrTopicNotExist (as a *remoting.ResponseError with code 17).
func (c *Client) Route(ctx context.Context, topic string) (*wire.TopicRoute, error) {
	addr, resp, err := c.invoke(ctx, request(remoting.GetRouteInfoByTopic,
		&remoting.GetRouteInfoRequestHeader{Topic: topic, AcceptStandardJSONOnly: true}, nil))
	if err != nil {
		return nil, fmt.Errorf("nsclient: route of %q: %w", topic, err)
	}
	if err := checkSuccess(remoting.GetRouteInfoByTopic, addr, resp); err != nil {
		return nil, err
	}
	r, err := wire.ParseTopicRoute(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("nsclient: route of %q from %s: %w", topic, addr, err)
	}
	return r, nil
}

// WaitRoute polls Route every 50 ms until the name servers route topic (a
// topic a broker has just created reaches them with its next
// registration) or ctx ends; the error then carries the last failure.
func (c *Client) WaitRoute(ctx context.Context, topic string) (*wire.TopicRoute, error) {
	for {
		rctx, cancel := context.WithTimeout(ctx, time.Second)
		r, err := c.Route(rctx, topic)
		cancel()
		if err == nil {
			return r, nil
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("nsclient: no route for topic %s: %w (last error: %w)", topic, ctx.Err(), err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// ClusterInfo fetches the broker and cluster tables (GET_BROKER_CLUSTER_INFO).
func (c *Client) ClusterInfo(ctx context.Context) (*wire.ClusterInfo, error) {
	addr, resp, err := c.invoke(ctx, request(remoting.GetBrokerClusterInfo, nil, nil))
	if err != nil {
		return nil, fmt.Errorf("nsclient: cluster info: %w", err)
	}
	if err := checkSuccess(remoting.GetBrokerClusterInfo, addr, resp); err != nil {
		return nil, err
	}
	return wire.ParseClusterInfo(resp.Body)
}

// TopicList fetches every topic the name server knows
// (GET_ALL_TOPIC_LIST_FROM_NAMESERVER).
func (c *Client) TopicList(ctx context.Context) ([]string, error) {
	addr, resp, err := c.invoke(ctx, request(remoting.GetAllTopicListFromNameServer, nil, nil))
	if err != nil {
		return nil, fmt.Errorf("nsclient: topic list: %w", err)
	}
	if err := checkSuccess(remoting.GetAllTopicListFromNameServer, addr, resp); err != nil {
		return nil, err
	}
	var tl struct {
		TopicList []string `json:"topicList"`
	}
	if err := json.Unmarshal(resp.Body, &tl); err != nil {
		return nil, fmt.Errorf("%w: topic list: %v", ErrMalformedResponse, err)
	}
	return tl.TopicList, nil
}

// GetKVConfig reads one KV entry; a missing entry matches ErrNotFound.
func (c *Client) GetKVConfig(ctx context.Context, namespace, key string) (string, error) {
	addr, resp, err := c.invoke(ctx, request(remoting.GetKVConfig, &remoting.GetKVConfigRequestHeader{Namespace: namespace, Key: key}, nil))
	if err != nil {
		return "", fmt.Errorf("nsclient: get kv %s/%s: %w", namespace, key, err)
	}
	if err := checkSuccess(remoting.GetKVConfig, addr, resp); err != nil {
		return "", err
	}
	v, _ := resp.Ext.Get("value")
	return v, nil
}

// PutKVConfig writes one KV entry on every name server (they do not
// replicate each other) and returns the first error.
func (c *Client) PutKVConfig(ctx context.Context, namespace, key, value string) error {
	return c.all(ctx, request(remoting.PutKVConfig, &remoting.PutKVConfigRequestHeader{Namespace: namespace, Key: key, Value: value}, nil))
}

// DeleteKVConfig removes one KV entry on every name server.
func (c *Client) DeleteKVConfig(ctx context.Context, namespace, key string) error {
	return c.all(ctx, request(remoting.DeleteKVConfig, &remoting.DeleteKVConfigRequestHeader{Namespace: namespace, Key: key}, nil))
}

// all sends a request to every name server concurrently and returns the
// first failure (transport or response code), after all have finished.
func (c *Client) all(ctx context.Context, build func() *remoting.Command) error {
	errs := make([]error, len(c.addrs))
	var wg sync.WaitGroup
	for i, addr := range c.addrs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			actx, cancel := context.WithTimeout(ctx, c.timeout)
			defer cancel()
			req := build()
			resp, err := c.rc.InvokeSync(actx, addr, req)
			if err == nil {
				err = checkSuccess(req.Code, addr, resp)
			}
			errs[i] = err
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// RegisterBrokerRequest is what a broker tells the name servers about itself.
type RegisterBrokerRequest struct {
	ClusterName  string
	BrokerName   string
	BrokerAddr   string // "ip:port" clients dial
	HAServerAddr string // "ip:haPort"
	BrokerID     int64  // 0 = master
	// HeartbeatTimeout, when positive, asks the name servers to expire this
	// broker after that long without a registration (default: theirs, 120 s).
	HeartbeatTimeout   time.Duration
	EnableActingMaster bool
	DataVersion        wire.DataVersion
	Topics             []wire.TopicConfig
	// Compressed selects the zlib body form; default is plain JSON.
	Compressed bool
}

// RegisterResult is one name server's answer to a registration.
type RegisterResult struct {
	NameServer   string
	MasterAddr   string            // slaves: the master's address, if registered
	HAServerAddr string            // slaves: the master's HA address
	OrderTopics  map[string]string // ORDER_TOPIC_CONFIG KV table, topic → conf
	Err          error
}

// RegisterBroker registers with every name server concurrently, as a broker
// must (name servers do not share state). It returns one result per name
// server in configured order; err is non-nil only when the request cannot be
// built. Inspect each result's Err.
func (c *Client) RegisterBroker(ctx context.Context, req RegisterBrokerRequest) ([]RegisterResult, error) {
	body, crc, err := wire.EncodeRegisterBody(req.DataVersion, req.Topics, req.Compressed)
	if err != nil {
		return nil, fmt.Errorf("nsclient: encode register body: %w", err)
	}
	h := &remoting.RegisterBrokerRequestHeader{
		BrokerName:             req.BrokerName,
		BrokerAddr:             req.BrokerAddr,
		ClusterName:            req.ClusterName,
		HaServerAddr:           req.HAServerAddr,
		BrokerID:               req.BrokerID,
		HeartbeatTimeoutMillis: max(req.HeartbeatTimeout, 0).Milliseconds(),
		EnableActingMaster:     req.EnableActingMaster,
		Compressed:             req.Compressed,
		BodyCrc32:              crc,
	}
	build := request(remoting.RegisterBroker, h, body)
	results := make([]RegisterResult, len(c.addrs))
	var wg sync.WaitGroup
	for i, addr := range c.addrs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = c.registerOne(ctx, addr, build())
		}()
	}
	wg.Wait()
	return results, nil
}

func (c *Client) registerOne(ctx context.Context, addr string, cmd *remoting.Command) RegisterResult {
	res := RegisterResult{NameServer: addr}
	actx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	resp, err := c.rc.InvokeSync(actx, addr, cmd)
	if err != nil {
		res.Err = err
		return res
	}
	if err := checkSuccess(cmd.Code, addr, resp); err != nil {
		res.Err = err
		return res
	}
	res.MasterAddr, _ = resp.Ext.Get("masterAddr")
	res.HAServerAddr, _ = resp.Ext.Get("haServerAddr")
	if len(resp.Body) > 0 {
		var kv struct {
			Table map[string]string `json:"table"`
		}
		if err := json.Unmarshal(resp.Body, &kv); err != nil {
			res.Err = fmt.Errorf("%w: register answer from %s: %v", ErrMalformedResponse, addr, err)
			return res
		}
		res.OrderTopics = kv.Table
	}
	return res
}

// UnregisterBroker tells every name server that the broker is leaving, so
// routes drop it at once instead of after the liveness timeout.
func (c *Client) UnregisterBroker(ctx context.Context, clusterName, brokerName, brokerAddr string, brokerID int64) error {
	return c.all(ctx, request(remoting.UnregisterBroker, &remoting.UnregisterBrokerRequestHeader{
		ClusterName: clusterName, BrokerName: brokerName, BrokerAddr: brokerAddr, BrokerID: brokerID}, nil))
}
