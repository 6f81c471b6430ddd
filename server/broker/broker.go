// Package broker is rocketgo's RocketMQ-compatible broker: it stores what
// producers send in a commit log (package store), serves pulls with long
// polling, keeps consumer offsets, tracks producer and consumer groups, and
// registers itself with name servers. A master (ASYNC_MASTER, SYNC_MASTER)
// streams its log to its slaves; a slave (SLAVE) takes no writes and keeps
// a byte copy of its master's log and tables (ha.go).
//
// A Broker is built with New, started with Start and stopped with Shutdown.
// Every request processor runs on the remoting server's worker pool and
// never blocks the network event loop: sends under SYNC_FLUSH and parked
// long-polling pulls are answered later from other goroutines.
package broker

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rocketgo/rocketgo/auth"
	"github.com/rocketgo/rocketgo/internal/cowmap"
	"github.com/rocketgo/rocketgo/internal/nsclient"
	"github.com/rocketgo/rocketgo/internal/phasetime"
	"github.com/rocketgo/rocketgo/message"
	"github.com/rocketgo/rocketgo/remoting"
	"github.com/rocketgo/rocketgo/remoting/netclient"
	"github.com/rocketgo/rocketgo/server/acl"
	"github.com/rocketgo/rocketgo/server/pop"
	"github.com/rocketgo/rocketgo/server/replicas"
	"github.com/rocketgo/rocketgo/server/store"
	"github.com/rocketgo/rocketgo/server/transport"
)

// VersionOrdinal is the RocketMQ version (V5_3_3) the broker reports. The
// Go client stores it as the broker version; Java clients refuse SQL92
// filters against brokers older than V4_1_0.
const VersionOrdinal = 479

// Option customises a Broker.
type Option func(*options)

type options struct {
	logger            *slog.Logger
	clock             func() time.Time
	slaveSyncInterval time.Duration
	dialer            func(ctx context.Context, network, addr string) (net.Conn, error)
	observer          Observer
	storeOpts         []store.Option
}

// WithLogger sets the logger (default: discard).
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.logger = l } }

// WithDialer replaces the dialer of every connection the broker opens —
// to name servers, controllers, its master's remoting and HA ports — for
// fault-injection tests (package netfault). Default: net.Dialer.
func WithDialer(d func(ctx context.Context, network, addr string) (net.Conn, error)) Option {
	return func(o *options) { o.dialer = d }
}

// WithStoreOptions passes options to the broker's store, after the broker's
// own: fault injection for tests (store.WithAppendStall). Default none.
func WithStoreOptions(opts ...store.Option) Option {
	return func(o *options) { o.storeOpts = append(o.storeOpts, opts...) }
}

// WithClock replaces time.Now, for tests.
func WithClock(now func() time.Time) Option { return func(o *options) { o.clock = now } }

// Broker is one broker process's state.
type Broker struct {
	cfg    Config
	log    *slog.Logger
	clock  func() time.Time
	delays []time.Duration
	dialer func(ctx context.Context, network, addr string) (net.Conn, error) // nil: net.Dialer

	store     *store.Store
	server    *transport.Server
	acl       *acl.Checker      // nil unless aclEnable
	rpc       *netclient.Client // to name servers
	names     *nsclient.Client  // nil when no name server is configured
	topics    *TopicManager
	groups    *GroupManager
	offsets   *OffsetManager
	consumers *ConsumerManager
	producers *ProducerManager
	pulls     *pullHolder
	sqlExprs  exprCache // compiled SQL92 subscriptions
	delay     *delayScheduler
	timers    *timerScheduler
	tx        *txChecker
	pop       *pop.Service // POP consumption (server/pop)
	locks     *lockTable
	uniq      *message.UniqIDGenerator // UNIQ_KEY for messages that arrive without one
	sends     *sendQueue               // sends waiting for a send worker (fastfailure.go)

	live        liveConfig // the keys UPDATE_BROKER_CONFIG changes
	stats       *brokerStats
	observer    Observer                          // never nil
	observing   bool                              // observer is not the no-op one
	pullOffsets cowmap.Map[pullKey, atomic.Int64] // next offset each group will pull, per queue

	// Slave reads (slave_read.go): the backlog in bytes beyond which a
	// reader is sent to a slave, and whether a slave's master is alive as
	// the name servers last said (true until they say otherwise).
	memLimit     int64
	masterOnline atomic.Bool

	// Replication: a master has ha, a slave haClient and slaveSync; the
	// others are nil.
	ha                *haMaster
	haClient          *haClient
	slaveSync         *slaveSync
	slaveSyncInterval time.Duration
	storeOpts         []store.Option // from WithStoreOptions

	// role is the current replication role (controller_mode.go); classic
	// brokers keep the configured one. Role changes hold roleMu, which
	// also guards the running role loops (roleStop, roleWG).
	role     atomic.Pointer[brokerRole]
	roleMu   sync.Mutex
	roleStop context.CancelFunc
	roleWG   sync.WaitGroup
	loopCtx  context.Context

	// Controller mode only (enableControllerMode): nil otherwise.
	ctl    *controllerMode
	epochs *replicas.EpochFile

	started   time.Time
	storeHost netip.AddrPort // the address clients dial, written into every record
	addr      string         // storeHost as "ip:port"

	registerNow chan struct{} // coalesced requests to re-register at once
	// afterRegister holds answers that wait for the next registration to
	// carry a change to the name servers (UPDATE_AND_CREATE_TOPIC).
	afterRegisterMu     sync.Mutex
	afterRegister       []func()
	afterRegisterClosed bool // the register loop ended
	stop                context.CancelFunc
	wg                  sync.WaitGroup
	shutdown            sync.Once
}

// New checks cfg and prepares a broker. Nothing is opened or bound until
// Start.
func New(cfg Config, opts ...Option) (*Broker, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	o := options{logger: slog.New(slog.NewTextHandler(io.Discard, nil)), clock: time.Now, slaveSyncInterval: defaultSlaveSyncInterval}
	for _, opt := range opts {
		opt(&o)
	}
	observing := o.observer != nil
	if !observing {
		o.observer = nopObserver{}
	}
	delays, _ := ParseDelayLevels(cfg.MessageDelayLevel)
	b := &Broker{
		cfg:               cfg,
		log:               o.logger.With("component", "broker", "broker", cfg.BrokerName),
		clock:             o.clock,
		delays:            delays,
		dialer:            o.dialer,
		consumers:         newConsumerManager(),
		producers:         newProducerManager(),
		registerNow:       make(chan struct{}, 1),
		slaveSyncInterval: o.slaveSyncInterval,
		observer:          o.observer,
		storeOpts:         o.storeOpts,
		observing:         observing,
	}
	b.role.Store(&brokerRole{name: cfg.BrokerRole, id: cfg.BrokerID})
	b.live.load(&cfg, o.clock())
	b.memLimit = inMemoryLimit(&cfg)
	b.masterOnline.Store(true)
	return b, nil
}

// Start opens the store and the configuration tables, begins listening (a
// master on its HA port too), registers with every name server and starts
// the housekeeping and replication loops. It returns once the broker serves
// requests.
func (b *Broker) Start(ctx context.Context) (err error) {
	lap := phasetime.New()
	b.started = b.clock()
	b.stats = newBrokerStats(b.started)
	root := b.cfg.StorePathRootDir
	if err := os.MkdirAll(root, 0o755); err != nil {
		return fmt.Errorf("broker: %w", err)
	}
	if err := migrateNestedStore(root, b.log); err != nil {
		return err
	}
	cfgDir := filepath.Join(root, "config")
	if b.topics, err = newTopicManager(&b.cfg, &b.live.autoCreateTopic, newJSONFile(cfgDir, "topics.json"), b.clock); err != nil {
		return err
	}
	if b.groups, err = newGroupManager(&b.live.autoCreateGroup, newJSONFile(cfgDir, "subscriptionGroup.json"), b.clock); err != nil {
		return err
	}
	if b.offsets, err = newOffsetManager(newJSONFile(cfgDir, "consumerOffset.json")); err != nil {
		return err
	}
	lap.Done("configTables")

	b.pulls = newPullHolder(b)
	if b.delay, err = newDelayScheduler(b, newJSONFile(cfgDir, "delayOffset.json")); err != nil {
		return err
	}
	if b.timers, err = newTimerScheduler(b, newJSONFile(cfgDir, "timerProgress.json")); err != nil {
		return err
	}
	if b.tx, err = newTxChecker(b, newJSONFile(cfgDir, "transactionProgress.json")); err != nil {
		return err
	}
	b.locks = newLockTable(b.clock)
	lap.Done("delayTimerTx")
	// The replication side exists before the store opens: the store's
	// arrival listener wakes the master's streamers.
	switch {
	case b.cfg.EnableControllerMode:
		// Either role, decided at run time.
		b.haClient = newHAClient(b)
		b.slaveSync = newSlaveSync(b, b.slaveSyncInterval)
		b.slaveSync.offsetsEvery = controllerOffsetSyncInterval
		b.ha = newHAMaster(b)
		if err := b.openControllerMode(); err != nil {
			return err
		}
	case b.isSlave():
		b.haClient = newHAClient(b)
		b.slaveSync = newSlaveSync(b, b.slaveSyncInterval)
	default:
		b.ha = newHAMaster(b)
	}
	storeOpts := append([]store.Option{
		store.WithLogger(b.log),
		store.WithClock(b.clock),
		store.WithArrivalListener(b.arrived),
		store.WithTagsCodeFunc(b.tagsCode),
	}, b.storeOpts...)
	b.store, err = store.Open(b.storeConfig(), storeOpts...)
	if err != nil {
		return fmt.Errorf("broker: open store: %w", err)
	}
	lap.Done("store")
	defer func() {
		if err != nil {
			b.store.Close(context.Background())
		}
	}()

	listen := net.JoinHostPort(b.cfg.ListenHost, strconv.Itoa(b.cfg.ListenPort))
	var check transport.Option
	if b.cfg.AclEnable {
		path := b.cfg.AclFile
		if path == "" {
			path = acl.DefaultFile()
		}
		if b.acl, err = acl.Open(path, acl.WithLogger(b.log)); err != nil {
			return fmt.Errorf("broker: aclEnable: %w", err)
		}
		defer func() {
			if err != nil {
				b.closeACL()
			}
		}()
		checker := b.acl
		check = transport.WithAccessCheck(func(c *transport.Conn, req *remoting.Command) error {
			return checker.Check(c.String(), req)
		})
	}
	var clientTLS netclient.Option
	if b.cfg.TlsEnable {
		tc, err := transport.ClientTLSConfig(b.cfg.TlsCertFile, b.cfg.TlsKeyFile, b.cfg.TlsCAFile, b.cfg.TlsCertFile)
		if err != nil {
			return fmt.Errorf("broker: tlsEnable: %w", err)
		}
		clientTLS = netclient.WithTLS(tc)
	}
	var serverTLS transport.Option
	if mode, _ := transport.ParseTLSMode(b.cfg.TlsMode); mode != transport.TLSDisabled {
		tc, err := transport.ServerTLSConfig(b.cfg.TlsCertFile, b.cfg.TlsKeyFile, b.cfg.TlsCAFile)
		if err != nil {
			return fmt.Errorf("broker: tlsMode %s: %w", mode, err)
		}
		serverTLS = transport.WithTLS(mode, tc)
	}
	serverOpts := []transport.Option{transport.WithLogger(b.log), transport.WithOnClose(b.connClosed), check, serverTLS}
	if b.observing {
		serverOpts = append(serverOpts, transport.WithReplyHook(b.observer.RequestServed))
	}
	b.server = transport.NewServer(listen, serverOpts...)
	if err := b.server.Start(ctx); err != nil {
		return fmt.Errorf("broker: listen on %s: %w", listen, err)
	}
	if b.storeHost, err = advertisedAddr(b.cfg.BrokerIP1, b.cfg.ListenHost, b.server.Addr()); err != nil {
		b.server.Shutdown(context.Background())
		return err
	}
	b.addr = b.storeHost.String()
	if err := b.listenHA(); err != nil {
		b.server.Shutdown(context.Background())
		return err
	}
	b.uniq = message.NewUniqIDGenerator(b.storeHost.Addr(), os.Getpid())
	lap.Done("listen")
	if b.pop, err = b.openPop(); err != nil {
		b.server.Shutdown(context.Background())
		return err
	}
	defer func() {
		if err != nil {
			b.pop.Close()
		}
	}()
	lap.Done("pop")
	b.sends = newSendQueue(b.cfg.SendThreadPoolQueueCapacity, b.cfg.OsPageCacheBusyTimeOutMills)
	b.startSendWorkers()
	// Processors read storeHost and uniq, so they are bound only now; the
	// address is not known to anyone before Start returns.
	b.registerProcessors()

	ropts := []netclient.Option{netclient.WithLogger(b.log)}
	if b.dialer != nil {
		ropts = append(ropts, netclient.WithDialer(b.dialer))
	}
	if b.cfg.AclAccessKey != "" {
		ropts = append(ropts, netclient.WithRequestSigner(auth.NewSigner(auth.Credentials{AccessKey: b.cfg.AclAccessKey, SecretKey: b.cfg.AclSecretKey}).Sign))
	}
	if clientTLS != nil {
		ropts = append(ropts, clientTLS)
	}
	b.rpc = netclient.New(ropts...)
	if b.cfg.NamesrvAddr != "" {
		if b.names, err = nsclient.New(b.rpc, b.cfg.NamesrvAddr, nsclient.WithLogger(b.log)); err != nil {
			b.server.Shutdown(context.Background())
			b.stopSendWorkers()
			if b.ha != nil {
				b.ha.close(context.Background())
			}
			b.rpc.Close()
			return err
		}
	}

	loopCtx, cancel := context.WithCancel(context.Background())
	b.stop = cancel
	b.loopCtx = loopCtx
	if b.haClient != nil && b.cfg.HAMasterAddress != "" && b.ctl == nil {
		b.haClient.setMaster(b.cfg.HAMasterAddress)
	}
	lap.Done("processors")
	b.registerOnce(ctx) // a slave learns its master from the answers
	lap.Done("register")
	b.goLoop(loopCtx, b.registerLoop)
	b.goLoop(loopCtx, b.offsetFlushLoop)
	b.goLoop(loopCtx, b.clientExpiryLoop)
	b.goLoop(loopCtx, func(ctx context.Context) {
		every(ctx, statsSampleInterval, func() { b.stats.sample(b.clock()) })
	})
	if b.ctl != nil {
		if err := b.startControllerMode(loopCtx); err != nil {
			cancel()
			b.server.Shutdown(context.Background())
			b.stopSendWorkers()
			b.ha.close(context.Background())
			b.wg.Wait()
			b.rpc.Close()
			return err
		}
	} else {
		b.startRoleLoops(loopCtx)
	}
	lap.Done("roleLoops")
	b.log.Debug("broker startup phases", lap.Attrs()...)
	b.log.Info("broker started", "addr", b.addr, "role", b.currentRole().name, "controllerMode", b.cfg.EnableControllerMode, "cluster", b.cfg.BrokerClusterName, "namesrv", b.cfg.NamesrvAddr)
	return nil
}

func (b *Broker) storeConfig() store.Config {
	c := store.Config{
		Dir:                        b.cfg.StorePathRootDir,
		CommitLogSegmentSize:       b.cfg.MappedFileSizeCommitLog,
		ConsumeQueueEntriesPerFile: int(b.cfg.MappedFileSizeConsumeQueue / 20),
		FlushInterval:              b.cfg.FlushIntervalCommitLog,
		SyncFlushTimeout:           b.cfg.SyncFlushTimeout,
		IndexSlots:                 b.cfg.MaxHashSlotNum,
		IndexEntries:               b.cfg.MaxIndexNum,
		FileReservedTime:           b.cfg.FileReservedTime,
		DeleteWhen:                 b.cfg.DeleteWhen,
		DiskMaxUsedSpaceRatio:      b.cfg.DiskMaxUsedSpaceRatio,
		CleanRecoveryVerifyBytes:   b.cfg.CleanRecoveryVerifyBytes,
		RecoveryVerifyBytes:        b.cfg.RecoveryVerifyBytes,
		// A stored record is the body plus headers and properties.
		MaxMessageSize: b.cfg.MaxMessageSize + 64<<10,
	}
	if b.cfg.MsgTraceTopicName != "" {
		// Trace messages batch many records; each record's id and keys
		// must be indexed for the message's trace to be found.
		c.WideIndexTopics = []string{b.cfg.MsgTraceTopicName}
	}
	if c.DeleteWhen == 0 {
		c.DeleteWhen = 24 // the store spells midnight 24
	}
	if b.cfg.FlushDiskType == SyncFlush {
		c.FlushDiskType = store.SyncFlush
	}
	return c
}

// advertisedAddr decides which address clients should dial: brokerIP1 when
// configured, else the bind host when it is a concrete address, else the
// first non-loopback IPv4 address of the machine (IPv4 because ons cannot
// decode IPv6 store hosts), else loopback.
func advertisedAddr(brokerIP1, listenHost string, bound net.Addr) (netip.AddrPort, error) {
	tcp, ok := bound.(*net.TCPAddr)
	if !ok {
		return netip.AddrPort{}, fmt.Errorf("broker: unexpected listen address %v", bound)
	}
	port := uint16(tcp.Port)
	for _, host := range []string{brokerIP1, listenHost} {
		if host == "" {
			continue
		}
		ip, err := netip.ParseAddr(host)
		if err != nil {
			return netip.AddrPort{}, fmt.Errorf("%w: %q is not an IP address", ErrInvalidConfig, host)
		}
		if !ip.IsUnspecified() {
			return netip.AddrPortFrom(ip.Unmap(), port), nil
		}
	}
	if addrs, err := net.InterfaceAddrs(); err == nil {
		for _, a := range addrs {
			if ipn, ok := a.(*net.IPNet); ok {
				if ip, ok := netip.AddrFromSlice(ipn.IP); ok && ip.Unmap().Is4() && !ip.IsLoopback() && !ip.IsLinkLocalUnicast() {
					return netip.AddrPortFrom(ip.Unmap(), port), nil
				}
			}
		}
	}
	return netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 0, 0, 1}), port), nil
}

// Addr is the "ip:port" address the broker advertises to clients.
func (b *Broker) Addr() string { return b.addr }

// Shutdown unregisters from the name servers, stops serving and
// replicating, answers parked pulls and sends, persists offsets and closes
// the store. It waits for its goroutines up to ctx.
func (b *Broker) Shutdown(ctx context.Context) error {
	var errs []error
	b.shutdown.Do(func() {
		if b.stop == nil {
			return // never started
		}
		if b.ctl != nil && b.ctl.manager != nil {
			b.ctl.manager.Close() // no role change from here on
		}
		if r := b.currentRole(); b.names != nil && !r.fenced {
			if err := b.names.UnregisterBroker(ctx, b.cfg.BrokerClusterName, b.cfg.BrokerName, b.addr, r.id); err != nil {
				b.log.Warn("unregister from name servers failed", "err", err)
			}
		}
		b.stop()
		b.pulls.stopAll()
		if b.pop != nil {
			b.pop.StopPolling() // parked POP/NOTIFICATION answered while connections are open
		}
		if b.ha != nil {
			// Before the server stops, so parked SYNC_MASTER sends are answered.
			if err := b.ha.close(ctx); err != nil {
				errs = append(errs, err)
			}
		}
		if err := b.server.Shutdown(ctx); err != nil {
			errs = append(errs, err)
		}
		b.stopSendWorkers()
		done := make(chan struct{})
		go func() { b.wg.Wait(); close(done) }()
		select {
		case <-done:
		case <-ctx.Done():
			errs = append(errs, fmt.Errorf("broker: waiting for loops: %w", ctx.Err()))
		}
		if b.pop != nil {
			if err := b.pop.Close(); err != nil {
				errs = append(errs, err)
			}
		}
		if err := b.offsets.Persist(); err != nil {
			errs = append(errs, err)
		}
		if err := b.store.Close(ctx); err != nil {
			errs = append(errs, err)
		}
		b.rpc.Close()
		b.closeACL()
		b.log.Info("broker stopped")
	})
	return errors.Join(errs...)
}

// closeACL stops following the ACL file.
func (b *Broker) closeACL() {
	if b.acl != nil {
		b.acl.Close()
	}
}

// goRequest finishes a request on a goroutine of its own that Shutdown
// waits for before it closes the store. Processors call it while the
// server still runs, so no Add can race with Shutdown's Wait.
func (b *Broker) goRequest(f func()) {
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		f()
	}()
}

func (b *Broker) goLoop(ctx context.Context, f func(context.Context)) {
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		f(ctx)
	}()
}

// every runs f every d until ctx ends.
func every(ctx context.Context, d time.Duration, f func()) { everyOrWhen(ctx, d, nil, f) }

// everyOrWhen runs f every d, and at once whenever now delivers, until ctx
// ends. A nil now never delivers.
func everyOrWhen(ctx context.Context, d time.Duration, now <-chan struct{}, f func()) {
	t := time.NewTicker(d)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-now:
		}
		f()
	}
}

func (b *Broker) offsetFlushLoop(ctx context.Context) {
	every(ctx, b.cfg.FlushConsumerOffsetInterval, func() {
		if err := b.offsets.Persist(); err != nil {
			b.log.Error("persisting consumer offsets failed", "err", err)
		}
	})
}

// tagsCode is the store's consume-queue tag code hook. It leaves every
// topic on the default (Java hash of TAGS); the delay scheduler overrides it
// for the schedule topic.
func (b *Broker) tagsCode(topic string, properties []byte, storeTimestamp int64, def int64) int64 {
	if topic != TopicSchedule {
		return def
	}
	level, ok := message.LookupProperty(properties, "DELAY")
	if !ok {
		return def
	}
	n, err := strconv.Atoi(string(level))
	if err != nil || n < 1 {
		return def
	}
	n = min(n, len(b.delays))
	return storeTimestamp + b.delays[n-1].Milliseconds()
}

// arrived is the store's arrival listener. It runs on the append path and
// must not block: it only wakes the HA streamers, the delay scheduler or
// parked pulls.
func (b *Broker) arrived(topic string, queueID int32, queueOffset int64, tagsCode int64) {
	if b.ha != nil {
		b.ha.wake()
	}
	if b.ctl != nil {
		if _, fenced := b.store.ReadFence(); fenced {
			// Hidden until confirmed: the fence loop wakes pulls, and
			// the schedulers poll.
			return
		}
	}
	switch topic {
	case TopicSchedule:
		b.delay.arrived(queueID)
		return
	case TopicTimer:
		b.timers.arrived()
		return
	}
	b.pulls.notify(topic, queueID, queueOffset, tagsCode)
	if b.pop != nil {
		b.pop.Arrived(topic)
	}
}
