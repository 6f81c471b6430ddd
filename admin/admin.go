// Package admin administers RocketMQ clusters — ours or Apache RocketMQ
// 4.x/5.x — over the classic remoting protocol: clusters and brokers,
// topics, subscription groups and their progress, connections, messages,
// broker and name-server configuration. It is what `rocketgo admin` (whose
// commands carry mqadmin's names) is built on.
//
// One Client wraps a shared *client.Client; every call takes a context
// first and returns typed results. Refusals are *remoting.ResponseError
// values, usable with errors.Is against remoting's sentinels
// (remoting.ErrTopicNotExist, remoting.ErrNoPermission, …) and this
// package's own (ErrBrokerNotFound, ErrGroupNotFound, …).
//
//	adm, err := admin.Dial("127.0.0.1:9876")
//	if err != nil { ... }
//	defer adm.Close()
//	progress, err := adm.ConsumerProgress(ctx, "my-group", "")
package admin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/rocketgo/rocketgo/client"
	"github.com/rocketgo/rocketgo/remoting"
	"github.com/rocketgo/rocketgo/remoting/wire"
)

var (
	// ErrBrokerNotFound: no broker of that name or address is registered.
	ErrBrokerNotFound = errors.New("admin: broker not found")
	// ErrClusterNotFound: no cluster of that name is registered.
	ErrClusterNotFound = errors.New("admin: cluster not found")
	// ErrGroupNotFound: no broker knows the consumer group (or it has no
	// offsets and no members anywhere).
	ErrGroupNotFound = errors.New("admin: consumer group not found")
	// ErrMessageNotFound: a message query matched nothing.
	ErrMessageNotFound = errors.New("admin: message not found")
	// ErrMalformed: an answer could not be decoded.
	ErrMalformed = errors.New("admin: malformed answer")
)

// Client sends administrative requests through a shared client.Client.
// It is safe for concurrent use.
type Client struct {
	cl    *client.Client
	owned bool // Close closes cl
}

// New wraps cl, which the caller keeps owning (Close does not close it).
func New(cl *client.Client) *Client { return &Client{cl: cl} }

// Dial builds a client.Client for nameServers ("host:port;host:port", as
// RocketMQ's namesrvAddr) with opts and wraps it; Close closes it.
func Dial(nameServers string, opts ...client.Option) (*Client, error) {
	cl, err := client.New(append([]client.Option{client.WithNameServers(nameServers)}, opts...)...)
	if err != nil {
		return nil, fmt.Errorf("admin: %w", err)
	}
	return &Client{cl: cl, owned: true}, nil
}

// Close releases the client.Client when Dial built it.
func (c *Client) Close() error {
	if c.owned {
		return c.cl.Close()
	}
	return nil
}

// Client returns the underlying shared client.
func (c *Client) Client() *client.Client { return c.cl }

// call sends req to addr and turns a non-success answer into a
// *remoting.ResponseError.
func (c *Client) call(ctx context.Context, addr string, req *remoting.Command, ok ...int16) (*remoting.Command, error) {
	code := req.Code
	resp, err := c.cl.Request(ctx, addr, req)
	if err != nil {
		return nil, err
	}
	if resp.Code != remoting.Success && !slices.Contains(ok, resp.Code) {
		return resp, remoting.NewResponseError(code, addr, resp)
	}
	return resp, nil
}

// callNameServer sends req to one name server (moving on after transport
// errors) and checks the answer.
func (c *Client) callNameServer(ctx context.Context, req *remoting.Command) (*remoting.Command, error) {
	code := req.Code
	resp, addr, err := c.cl.NameServerRequest(ctx, req)
	if err != nil {
		return nil, err
	}
	if resp.Code != remoting.Success {
		return resp, remoting.NewResponseError(code, addr, resp)
	}
	return resp, nil
}

// eachNameServer sends the request build makes to every name server,
// joining the failures.
func (c *Client) eachNameServer(ctx context.Context, build func() *remoting.Command) error {
	addrs, err := c.cl.NameServerAddrs(ctx)
	if err != nil {
		return fmt.Errorf("admin: %w", err)
	}
	var errs []error
	for _, addr := range addrs {
		if _, err := c.call(ctx, addr, build()); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func decodeJSON(op string, body []byte, v any) error {
	if err := json.Unmarshal(wire.QuoteBareKeys(body), v); err != nil {
		return fmt.Errorf("%w: %s: %v", ErrMalformed, op, err)
	}
	return nil
}

// splitList splits "a;b" or "a,b" lists as mqadmin accepts them.
func splitList(s string) []string {
	var out []string
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == ';' || r == ',' }) {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}
