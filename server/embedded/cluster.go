package embedded

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rocketgo/rocketgo/internal/netfault"
	"github.com/rocketgo/rocketgo/server/broker"
	"github.com/rocketgo/rocketgo/server/controller"
	"github.com/rocketgo/rocketgo/server/namesrv"
)

// ClusterConfig describes a local automatic-failover cluster: a name
// server, one or more controller nodes (the first embedded in the name
// server, as enableControllerInNamesrv) and one broker set whose replicas
// run in controller mode. It is what `rocketgo serve -cluster N` and the
// failover tests start.
type ClusterConfig struct {
	Host string // interface every server binds; default 127.0.0.1
	Dir  string // data root: one directory per broker and for the controllers

	Replicas    int // brokers in the set; default 3
	Controllers int // controller nodes; default 1

	// BasePort lays servers out on fixed ports: the name server on
	// BasePort, controller i on BasePort+2+10·i (raft one above), broker i
	// on BasePort+1035+10·i (10911, 10921, … for 9876). 0 takes free ports.
	BasePort int

	// Broker is the template of every replica's configuration; ports,
	// directories, names and controller addresses are filled in. Zero:
	// SmallConfig with allAckInSyncStateSet.
	Broker broker.Config
	// Controller is the template of every node's configuration; peers,
	// ids and the store path are filled in. Zero: DefaultConfig.
	Controller controller.Config

	Logger *slog.Logger

	// BrokerOptions are added to every replica's options (after the
	// logger and dialer the cluster sets).
	BrokerOptions []broker.Option

	// Network, when set, carries every connection the brokers and
	// controllers open, so a test can partition them (Partition).
	Network *netfault.Network
}

// Cluster is a running ClusterConfig.
type Cluster struct {
	cfg   ClusterConfig
	log   *slog.Logger
	ns    *namesrv.Server
	ctrlc []controller.Config

	mu      sync.Mutex
	ctrls   []*controller.Controller // nil while stopped
	brokers []*broker.Broker         // nil while killed or stopped
	bcfg    []broker.Config
}

// StartCluster starts the name server, the controllers and the brokers.
func StartCluster(ctx context.Context, cfg ClusterConfig) (c *Cluster, err error) {
	if cfg.Dir == "" {
		return nil, errors.New("embedded: cluster needs a data directory")
	}
	if cfg.Host == "" {
		cfg.Host = "127.0.0.1"
	}
	if cfg.Replicas <= 0 {
		cfg.Replicas = 3
	}
	if cfg.Controllers <= 0 {
		cfg.Controllers = 1
	}
	if cfg.Broker.StorePathRootDir == "" && cfg.Broker.BrokerClusterName == "" {
		cfg.Broker = SmallConfig(cfg.Dir)
		cfg.Broker.AllAckInSyncStateSet = true
	}
	if cfg.Controller.Peers == "" && cfg.Controller.StorePath == "" {
		cfg.Controller = controller.DefaultConfig()
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	c = &Cluster{cfg: cfg, log: log}
	defer func() {
		if err != nil {
			c.Shutdown(context.Background())
		}
	}()

	ports, err := c.layout()
	if err != nil {
		return nil, err
	}
	var peers, raftPeers, ctrlAddrs []string
	for i := range cfg.Controllers {
		addr := net.JoinHostPort(cfg.Host, strconv.Itoa(ports.ctrl[i]))
		peers = append(peers, fmt.Sprintf("n%d-%s", i, addr))
		raftPeers = append(raftPeers, fmt.Sprintf("n%d-%s", i, net.JoinHostPort(cfg.Host, strconv.Itoa(ports.raft[i]))))
		ctrlAddrs = append(ctrlAddrs, addr)
	}
	c.ctrls = make([]*controller.Controller, cfg.Controllers)
	for i := range cfg.Controllers {
		cc := cfg.Controller
		cc.Peers, cc.RaftPeers = strings.Join(peers, ";"), strings.Join(raftPeers, ";")
		cc.SelfID = fmt.Sprintf("n%d", i)
		cc.StorePath = filepath.Join(cfg.Dir, "controller")
		c.ctrlc = append(c.ctrlc, cc)
	}
	first, err := controller.New(c.ctrlc[0], c.controllerOpts(0)...)
	if err != nil {
		return nil, err
	}
	c.ns = namesrv.New(
		namesrv.WithListenAddr(net.JoinHostPort(cfg.Host, strconv.Itoa(ports.ns))),
		namesrv.WithLogger(log),
		namesrv.WithController(first),
	)
	if err := c.ns.Start(ctx); err != nil {
		c.ns = nil
		return nil, err
	}
	c.ctrls[0] = first
	for i := 1; i < cfg.Controllers; i++ {
		if err := c.StartController(ctx, i); err != nil {
			return nil, err
		}
	}
	c.brokers = make([]*broker.Broker, cfg.Replicas)
	for i := range cfg.Replicas {
		bc := cfg.Broker
		bc.BrokerName = "broker-a"
		bc.StorePathRootDir = filepath.Join(cfg.Dir, fmt.Sprintf("broker-%d", i))
		bc.ListenHost = cfg.Host
		bc.ListenPort = ports.broker[i]
		bc.NamesrvAddr = c.NamesrvAddr()
		bc.EnableControllerMode = true
		bc.ControllerAddr = strings.Join(ctrlAddrs, ";")
		c.bcfg = append(c.bcfg, bc)
		if err := c.StartBroker(ctx, i); err != nil {
			return nil, err
		}
	}
	return c, nil
}

type clusterPorts struct {
	ns                 int
	ctrl, raft, broker []int
}

// layout picks every port up front: raft peers must know each other's
// addresses before anything binds, and a restarted broker keeps its port.
func (c *Cluster) layout() (clusterPorts, error) {
	cfg := c.cfg
	var p clusterPorts
	if cfg.BasePort > 0 {
		p.ns = cfg.BasePort
		for i := range cfg.Controllers {
			p.ctrl = append(p.ctrl, cfg.BasePort+2+10*i)
			p.raft = append(p.raft, cfg.BasePort+3+10*i)
		}
		for i := range cfg.Replicas {
			p.broker = append(p.broker, cfg.BasePort+1035+10*i)
		}
		return p, nil
	}
	free, err := freePorts(cfg.Host, 1+2*cfg.Controllers+cfg.Replicas)
	if err != nil {
		return p, err
	}
	p.ns, free = free[0], free[1:]
	p.ctrl, free = free[:cfg.Controllers], free[cfg.Controllers:]
	p.raft, free = free[:cfg.Controllers], free[cfg.Controllers:]
	p.broker = free
	return p, nil
}

// freePorts reserves n ports by binding and releasing them.
func freePorts(host string, n int) ([]int, error) {
	var lns []net.Listener
	defer func() {
		for _, ln := range lns {
			ln.Close()
		}
	}()
	var out []int
	for range n {
		ln, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
		if err != nil {
			return nil, err
		}
		lns = append(lns, ln)
		out = append(out, ln.Addr().(*net.TCPAddr).Port)
	}
	return out, nil
}

// NamesrvAddr is the name server's "host:port".
func (c *Cluster) NamesrvAddr() string { return c.ns.Addr() }

// ControllerAddrs lists the controller nodes' remoting addresses.
func (c *Cluster) ControllerAddrs() []string {
	var out []string
	for _, item := range strings.Split(c.ctrlc[0].Peers, ";") {
		_, addr, _ := strings.Cut(item, "-")
		out = append(out, addr)
	}
	return out
}

// Broker returns replica i (nil while it is down).
func (c *Cluster) Broker(i int) *broker.Broker {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.brokers[i]
}

// Replicas is the number of brokers in the set.
func (c *Cluster) Replicas() int { return len(c.bcfg) }

// Controller returns node i (nil while it is down).
func (c *Cluster) Controller(i int) *controller.Controller {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ctrls[i]
}

// Master returns the replica that is master now, or -1. A partitioned old
// master may still believe it is one; the newest master epoch wins.
func (c *Cluster) Master() (int, *broker.Broker) {
	c.mu.Lock()
	defer c.mu.Unlock()
	best, epoch := -1, int32(-1)
	for i, b := range c.brokers {
		if b != nil && b.IsMaster() {
			if e := b.ReplicaStatus().MasterEpoch; e > epoch {
				best, epoch = i, e
			}
		}
	}
	if best < 0 {
		return -1, nil
	}
	return best, c.brokers[best]
}

// WaitMaster waits until a replica other than not is master, and returns it.
func (c *Cluster) WaitMaster(ctx context.Context, not int) (int, *broker.Broker, error) {
	for {
		if i, b := c.Master(); b != nil && i != not {
			return i, b, nil
		}
		select {
		case <-ctx.Done():
			return -1, nil, fmt.Errorf("embedded: no master elected: %w", ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// StartBroker starts (or restarts) replica i on its port and directory.
func (c *Cluster) StartBroker(ctx context.Context, i int) error {
	opts := []broker.Option{broker.WithLogger(c.log.With("replica", i))}
	if c.cfg.Network != nil {
		opts = append(opts, broker.WithDialer(c.cfg.Network.Dialer(brokerOwner(i))))
	}
	opts = append(opts, c.cfg.BrokerOptions...)
	b, err := broker.New(c.bcfg[i], opts...)
	if err == nil {
		err = b.Start(ctx)
	}
	if err != nil {
		return fmt.Errorf("embedded: broker %d: %w", i, err)
	}
	c.mu.Lock()
	c.brokers[i] = b
	c.mu.Unlock()
	return nil
}

// KillBroker crashes replica i in-process (broker.Kill).
func (c *Cluster) KillBroker(i int) {
	c.mu.Lock()
	b := c.brokers[i]
	c.brokers[i] = nil
	c.mu.Unlock()
	if b != nil {
		b.Kill()
	}
}

// StopBroker shuts replica i down cleanly.
func (c *Cluster) StopBroker(ctx context.Context, i int) error {
	c.mu.Lock()
	b := c.brokers[i]
	c.brokers[i] = nil
	c.mu.Unlock()
	if b == nil {
		return nil
	}
	return b.Shutdown(ctx)
}

// StartController starts (or restarts) controller node i.
func (c *Cluster) StartController(ctx context.Context, i int) error {
	n, err := controller.New(c.ctrlc[i], c.controllerOpts(i)...)
	if err == nil {
		err = n.Start(ctx)
	}
	if err != nil {
		return fmt.Errorf("embedded: controller %d: %w", i, err)
	}
	c.mu.Lock()
	c.ctrls[i] = n
	c.mu.Unlock()
	return nil
}

// StopController stops controller node i (node 0 is the one inside the
// name server; the name server keeps serving without it).
func (c *Cluster) StopController(ctx context.Context, i int) error {
	c.mu.Lock()
	n := c.ctrls[i]
	c.ctrls[i] = nil
	c.mu.Unlock()
	if n == nil {
		return nil
	}
	return n.Shutdown(ctx)
}

// Shutdown stops the brokers, the controllers and the name server.
func (c *Cluster) Shutdown(ctx context.Context) error {
	var errs []error
	c.mu.Lock()
	brokers, ctrls := c.brokers, c.ctrls
	c.brokers, c.ctrls = make([]*broker.Broker, len(brokers)), make([]*controller.Controller, len(ctrls))
	c.mu.Unlock()
	var wg sync.WaitGroup
	for _, b := range brokers {
		if b != nil {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := b.Shutdown(ctx); err != nil {
					c.log.Warn("broker shutdown", "err", err)
				}
			}()
		}
	}
	wg.Wait()
	for _, n := range ctrls {
		if n != nil && (c.ns == nil || n != c.ns.Controller()) {
			errs = append(errs, n.Shutdown(ctx))
		}
	}
	if c.ns != nil {
		errs = append(errs, c.ns.Shutdown(ctx)) // stops node 0 too
	}
	return errors.Join(errs...)
}

func brokerOwner(i int) string     { return fmt.Sprintf("broker-%d", i) }
func controllerOwner(i int) string { return fmt.Sprintf("controller-%d", i) }

func (c *Cluster) controllerOpts(i int) []controller.Option {
	opts := []controller.Option{controller.WithLogger(c.log.With("controller", i))}
	if c.cfg.Network != nil {
		opts = append(opts, controller.WithDialer(c.cfg.Network.Dialer(controllerOwner(i))))
	}
	return opts
}

// Partition cuts replica i off from the controllers and the other
// replicas, both ways; clients and the name server still reach it. It
// needs ClusterConfig.Network. Heal undoes it.
func (c *Cluster) Partition(i int) {
	n := c.cfg.Network
	b := c.Broker(i)
	if n == nil || b == nil {
		return
	}
	mine := []string{b.Addr(), b.HAAddr()}
	theirs := c.ControllerAddrs()
	for j := range c.bcfg {
		if o := c.Broker(j); o != nil && j != i {
			theirs = append(theirs, o.Addr(), o.HAAddr())
		}
	}
	// The partitioned broker's own connections go first, so nothing it
	// does in reaction to losing its slaves reaches the controllers.
	n.Cut(brokerOwner(i), theirs...)
	for j := range c.ctrlc {
		n.Cut(controllerOwner(j), mine...)
	}
	for j := range c.bcfg {
		if j != i {
			n.Cut(brokerOwner(j), mine...)
		}
	}
}

// Heal lifts every partition.
func (c *Cluster) Heal() {
	n := c.cfg.Network
	if n == nil {
		return
	}
	for j := range c.bcfg {
		n.Heal(brokerOwner(j))
	}
	for j := range c.ctrlc {
		n.Heal(controllerOwner(j))
	}
}
