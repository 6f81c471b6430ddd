package harness

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/rocketgo/rocketgo/server/broker"
	"github.com/rocketgo/rocketgo/server/embedded"
	"github.com/rocketgo/rocketgo/server/namesrv"
	"github.com/rocketgo/rocketgo/server/store"
)

// Cluster is a name server with brokers of its own that the suite starts
// for specs that stop, slow down or reconfigure a broker — which the suite
// never does to a cluster it was pointed at. Only an embedded run has
// them (see Env.StartCluster); the specs needing one skip otherwise.
type Cluster struct {
	// Namesrv is the cluster's name server address.
	Namesrv string

	ns      *namesrv.Server
	dir     string
	mu      sync.Mutex
	brokers []*clusterBroker
}

type clusterBroker struct {
	spec  BrokerSpec
	b     *broker.Broker
	stall *StoreStall
}

// BrokerSpec describes one broker of a Cluster.
type BrokerSpec struct {
	Name string // brokerName
	Role string // broker.RoleAsyncMaster (default), RoleSyncMaster or RoleSlave
	ID   int64  // brokerId: 0 for a master
	// Configure adjusts the broker's configuration after the suite's
	// small-store defaults.
	Configure func(*broker.Config)
	// Stallable gives the broker a StoreStall (Cluster.Stall), the
	// overload capability: its appends can be slowed down or held.
	Stallable bool
	// Options are extra broker options.
	Options []broker.Option
}

// StartCluster starts a cluster of the suite's own for a spec. It fails
// against a foreign cluster: see Missing(FeatureOverload).
func (e *Env) StartCluster(ctx context.Context, specs ...BrokerSpec) (*Cluster, error) {
	if !e.Embedded {
		return nil, errors.New("conformance: a cluster of the suite's own needs an embedded run (no -namesrv)")
	}
	return StartCluster(ctx, e.log, specs...)
}

// StartCluster starts a name server and brokers on free loopback ports in
// a directory of their own, logging to log.
func StartCluster(ctx context.Context, log *slog.Logger, specs ...BrokerSpec) (*Cluster, error) {
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	dir, err := os.MkdirTemp("", "rocketgo-conformance-cluster-")
	if err != nil {
		return nil, err
	}
	ns := namesrv.New(namesrv.WithListenAddr("127.0.0.1:0"), namesrv.WithLogger(log))
	if err := ns.Start(ctx); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	c := &Cluster{Namesrv: ns.Addr(), ns: ns, dir: dir}
	for _, s := range specs {
		if err := c.start(ctx, s, log); err != nil {
			sctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
			c.Shutdown(sctx)
			cancel()
			return nil, err
		}
	}
	return c, nil
}

func (c *Cluster) start(ctx context.Context, s BrokerSpec, log *slog.Logger) error {
	cfg := embedded.SmallConfig(fmt.Sprintf("%s/%s-%d", c.dir, s.Name, s.ID))
	cfg.BrokerName, cfg.BrokerID = s.Name, s.ID
	cfg.BrokerRole = broker.RoleAsyncMaster
	if s.Role != "" {
		cfg.BrokerRole = s.Role
	}
	cfg.NamesrvAddr, cfg.ListenHost, cfg.ListenPort = c.Namesrv, "127.0.0.1", 0
	cfg.RegisterNameServerPeriod, cfg.HASendHeartbeatInterval = 200*time.Millisecond, 100*time.Millisecond
	cfg.AutoCreateTopicEnable = false
	if s.Configure != nil {
		s.Configure(&cfg)
	}
	opts := append([]broker.Option{broker.WithLogger(log)}, s.Options...)
	cb := &clusterBroker{spec: s}
	if s.Stallable {
		cb.stall = newStoreStall()
		opts = append(opts, broker.WithStoreOptions(store.WithAppendStall(cb.stall.hook)))
	}
	b, err := broker.New(cfg, opts...)
	if err != nil {
		return fmt.Errorf("conformance: broker %s/%d: %w", s.Name, s.ID, err)
	}
	if err := b.Start(ctx); err != nil {
		return fmt.Errorf("conformance: broker %s/%d: %w", s.Name, s.ID, err)
	}
	cb.b = b
	c.mu.Lock()
	c.brokers = append(c.brokers, cb)
	c.mu.Unlock()
	return nil
}

func (c *Cluster) find(name string, id int64) *clusterBroker {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, cb := range c.brokers {
		if cb.spec.Name == name && cb.spec.ID == id {
			return cb
		}
	}
	return nil
}

// Broker returns the broker name/id, or nil.
func (c *Cluster) Broker(name string, id int64) *broker.Broker {
	if cb := c.find(name, id); cb != nil {
		return cb.b
	}
	return nil
}

// Stall returns the store stall of a Stallable broker, or nil.
func (c *Cluster) Stall(name string, id int64) *StoreStall {
	if cb := c.find(name, id); cb != nil {
		return cb.stall
	}
	return nil
}

// Shutdown stops every broker (releasing stalled stores first) and the
// name server, and removes the cluster's directory.
func (c *Cluster) Shutdown(ctx context.Context) error {
	c.mu.Lock()
	brokers := c.brokers
	c.brokers = nil
	c.mu.Unlock()
	var errs []error
	for i := len(brokers) - 1; i >= 0; i-- { // slaves (started last) first
		cb := brokers[i]
		if cb.stall != nil {
			cb.stall.Release()
		}
		errs = append(errs, cb.b.Shutdown(ctx))
	}
	errs = append(errs, c.ns.Shutdown(ctx), os.RemoveAll(c.dir))
	return errors.Join(errs...)
}

// StoreStall slows a broker's store down: it runs inside every append with
// the commit-log lock held, as a page cache that cannot keep up would.
type StoreStall struct {
	mu      sync.Mutex
	slow    time.Duration // every append holds the lock this long
	hold    bool          // the next append blocks until Release
	entered chan struct{}
	release chan struct{}
}

func newStoreStall() *StoreStall {
	return &StoreStall{entered: make(chan struct{}, 1), release: make(chan struct{})}
}

func (s *StoreStall) hook() {
	s.mu.Lock()
	slow, hold, release := s.slow, s.hold, s.release
	s.hold = false
	s.mu.Unlock()
	if slow > 0 {
		time.Sleep(slow) // the injected fault itself, not a wait for anything
	}
	if hold {
		select {
		case s.entered <- struct{}{}:
		default:
		}
		<-release
	}
}

// Slow makes every append hold the commit-log lock for d (0: full speed
// again).
func (s *StoreStall) Slow(d time.Duration) {
	s.mu.Lock()
	s.slow = d
	s.mu.Unlock()
}

// Hold makes the next append block, holding the commit-log lock, until
// Release. The returned channel receives once that append is held.
func (s *StoreStall) Hold() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.hold = true
	select {
	case <-s.release: // released before: arm a new gate
		s.release = make(chan struct{})
	default:
	}
	return s.entered
}

// Release lets a held append go on and ends any slowdown.
func (s *StoreStall) Release() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.slow, s.hold = 0, false
	select {
	case <-s.release:
	default:
		close(s.release)
	}
}
