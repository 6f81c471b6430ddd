// Package netfault simulates network partitions inside one process: every
// server or client that dials through a Network's dialer can be cut off
// from chosen addresses — its open connections to them close, new dials
// fail — and healed again. Failover tests use it to partition a broker
// from its controller and slaves while clients still reach it.
package netfault

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
)

// ErrPartitioned is the dial error across a partition.
var ErrPartitioned = errors.New("netfault: partitioned")

// DialFunc is the dialer signature of net.Dialer.DialContext.
type DialFunc func(ctx context.Context, network, addr string) (net.Conn, error)

// Network tracks connections by owner (a name the test gives each
// process) and destination address.
type Network struct {
	mu      sync.Mutex
	blocked map[string]map[string]bool     // owner → addr → cut
	conns   map[string]map[net.Conn]string // owner → conn → addr
}

// New returns a network without partitions.
func New() *Network {
	return &Network{blocked: map[string]map[string]bool{}, conns: map[string]map[net.Conn]string{}}
}

// Dialer returns owner's dialer.
func (n *Network) Dialer(owner string) DialFunc {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		n.mu.Lock()
		cut := n.blocked[owner][addr]
		n.mu.Unlock()
		if cut {
			return nil, fmt.Errorf("%w: %s cannot reach %s", ErrPartitioned, owner, addr)
		}
		var d net.Dialer
		c, err := d.DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		n.mu.Lock()
		defer n.mu.Unlock()
		if n.blocked[owner][addr] {
			c.Close()
			return nil, fmt.Errorf("%w: %s cannot reach %s", ErrPartitioned, owner, addr)
		}
		tc := &trackedConn{Conn: c, n: n, owner: owner}
		if n.conns[owner] == nil {
			n.conns[owner] = map[net.Conn]string{}
		}
		n.conns[owner][tc] = addr
		return tc, nil
	}
}

// Cut stops owner from reaching addrs: its connections to them close and
// new dials fail until Heal.
func (n *Network) Cut(owner string, addrs ...string) {
	n.mu.Lock()
	if n.blocked[owner] == nil {
		n.blocked[owner] = map[string]bool{}
	}
	var doomed []net.Conn
	for _, a := range addrs {
		n.blocked[owner][a] = true
		for c, to := range n.conns[owner] {
			if to == a {
				doomed = append(doomed, c)
			}
		}
	}
	n.mu.Unlock()
	for _, c := range doomed {
		c.Close()
	}
}

// Heal lifts every cut of owner.
func (n *Network) Heal(owner string) {
	n.mu.Lock()
	delete(n.blocked, owner)
	n.mu.Unlock()
}

type trackedConn struct {
	net.Conn
	n     *Network
	owner string
	once  sync.Once
}

func (c *trackedConn) Close() error {
	c.once.Do(func() {
		c.n.mu.Lock()
		delete(c.n.conns[c.owner], c)
		c.n.mu.Unlock()
	})
	return c.Conn.Close()
}
