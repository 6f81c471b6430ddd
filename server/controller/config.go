package controller

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// ErrInvalidConfig is wrapped by every configuration error.
var ErrInvalidConfig = errors.New("controller: invalid configuration")

// Config is a controller node's configuration. The keys are upstream's
// ControllerConfig names where one exists (controllerDLeger* keep their
// names although the log is raft, so an existing controller.conf reads
// unchanged); the others are rocketgo's.
type Config struct {
	// Group names the controller cluster (controllerDLegerGroup).
	Group string
	// Peers lists every node as "id-host:port" separated by ';'
	// (controllerDLegerPeers), host:port being the node's remoting
	// address, where brokers and tools send requests.
	Peers string
	// SelfID is this node's id in Peers (controllerDLegerSelfId).
	SelfID string
	// RaftPeers lists the nodes' raft addresses the same way
	// (controllerRaftPeers, rocketgo); empty means each node's remoting
	// port + 1.
	RaftPeers string
	// StorePath is where the raft log, stable store and snapshots live
	// (controllerStorePath), one directory per node id below it.
	StorePath string

	EnableElectUncleanMaster    bool          // enableElectUncleanMaster, false
	NotifyBrokerRoleChanged     bool          // notifyBrokerRoleChanged, true
	ScanNotActiveBrokerInterval time.Duration // scanNotActiveBrokerInterval (ms), 5 s
	ScanInactiveMasterInterval  time.Duration // scanInactiveMasterInterval (ms), 5 s
	ElectMasterMaxRetryCount    int           // electMasterMaxRetryCount, 3
	// BrokerHeartbeatTimeout applies to heartbeats that carry none
	// (brokerHeartbeatTimeoutMills, rocketgo; upstream brokers send 10 s).
	BrokerHeartbeatTimeout time.Duration

	// Raft timing (rocketgo keys, milliseconds): hashicorp/raft's defaults.
	RaftHeartbeatTimeout   time.Duration // raftHeartbeatTimeoutMills, 1 s
	RaftElectionTimeout    time.Duration // raftElectionTimeoutMills, 1 s
	RaftLeaderLeaseTimeout time.Duration // raftLeaderLeaseTimeoutMills, 500 ms
}

// DefaultConfig is a single node "n0" on 127.0.0.1:9878, as upstream's
// quick start.
func DefaultConfig() Config {
	store := "controller"
	if home, err := os.UserHomeDir(); err == nil {
		store = filepath.Join(home, "RaftController")
	}
	return Config{
		Group:                       "DefaultControllerGroup",
		Peers:                       "n0-127.0.0.1:9878",
		SelfID:                      "n0",
		StorePath:                   store,
		NotifyBrokerRoleChanged:     true,
		ScanNotActiveBrokerInterval: 5 * time.Second,
		ScanInactiveMasterInterval:  5 * time.Second,
		ElectMasterMaxRetryCount:    3,
		BrokerHeartbeatTimeout:      10 * time.Second,
		RaftHeartbeatTimeout:        time.Second,
		RaftElectionTimeout:         time.Second,
		RaftLeaderLeaseTimeout:      500 * time.Millisecond,
	}
}

// peer is one controller node.
type peer struct {
	id       string
	addr     string // remoting
	raftAddr string
}

// parsePeerList reads "id-host:port;id-host:port".
func parsePeerList(key, s string) ([][2]string, error) {
	var out [][2]string
	seen := map[string]bool{}
	for _, item := range strings.Split(s, ";") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		id, addr, ok := strings.Cut(item, "-")
		if !ok || id == "" {
			return nil, fmt.Errorf("%w: %s entry %q is not id-host:port", ErrInvalidConfig, key, item)
		}
		host, port, err := net.SplitHostPort(addr)
		if n, perr := strconv.Atoi(port); err != nil || host == "" || perr != nil || n < 1 || n > 65535 {
			return nil, fmt.Errorf("%w: %s entry %q needs a host and a port 1..65535", ErrInvalidConfig, key, item)
		}
		if seen[id] {
			return nil, fmt.Errorf("%w: %s names %q twice", ErrInvalidConfig, key, id)
		}
		seen[id] = true
		out = append(out, [2]string{id, addr})
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: %s is empty", ErrInvalidConfig, key)
	}
	return out, nil
}

// peers resolves the node list and this node's entry.
func (c *Config) peers() ([]peer, peer, error) {
	list, err := parsePeerList("controllerDLegerPeers", c.Peers)
	if err != nil {
		return nil, peer{}, err
	}
	raftAddrs := map[string]string{}
	if c.RaftPeers != "" {
		rl, err := parsePeerList("controllerRaftPeers", c.RaftPeers)
		if err != nil {
			return nil, peer{}, err
		}
		for _, p := range rl {
			raftAddrs[p[0]] = p[1]
		}
	}
	var ps []peer
	var self peer
	for _, p := range list {
		ra, ok := raftAddrs[p[0]]
		if !ok {
			if c.RaftPeers != "" {
				return nil, peer{}, fmt.Errorf("%w: controllerRaftPeers has no entry for %q", ErrInvalidConfig, p[0])
			}
			host, port, _ := net.SplitHostPort(p[1])
			n, _ := strconv.Atoi(port)
			if n == 65535 {
				return nil, peer{}, fmt.Errorf("%w: %q has port 65535, so its raft port (port+1) needs controllerRaftPeers", ErrInvalidConfig, p[0])
			}
			ra = net.JoinHostPort(host, strconv.Itoa(n+1))
		}
		pp := peer{id: p[0], addr: p[1], raftAddr: ra}
		ps = append(ps, pp)
		if pp.id == c.SelfID {
			self = pp
		}
	}
	if self.id == "" {
		return nil, peer{}, fmt.Errorf("%w: controllerDLegerSelfId %q is not among the peers", ErrInvalidConfig, c.SelfID)
	}
	return ps, self, nil
}

// Validate checks the configuration as a whole.
func (c *Config) Validate() error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: "+format, append([]any{ErrInvalidConfig}, args...)...))
	}
	if _, _, err := c.peers(); err != nil {
		errs = append(errs, err)
	}
	if c.StorePath == "" {
		bad("controllerStorePath is empty")
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{
		{"scanNotActiveBrokerInterval", c.ScanNotActiveBrokerInterval},
		{"scanInactiveMasterInterval", c.ScanInactiveMasterInterval},
		{"brokerHeartbeatTimeoutMills", c.BrokerHeartbeatTimeout},
		{"raftHeartbeatTimeoutMills", c.RaftHeartbeatTimeout},
		{"raftElectionTimeoutMills", c.RaftElectionTimeout},
		{"raftLeaderLeaseTimeoutMills", c.RaftLeaderLeaseTimeout},
	} {
		if d.v <= 0 {
			bad("%s must be positive", d.name)
		}
	}
	if c.ElectMasterMaxRetryCount < 1 {
		bad("electMasterMaxRetryCount %d must be positive", c.ElectMasterMaxRetryCount)
	}
	return errors.Join(errs...)
}

type configKey struct {
	name string
	set  func(c *Config, v string) error
	get  func(c *Config) string
}

func configKeys() []configKey {
	str := func(name string, f func(*Config) *string) configKey {
		return configKey{name, func(c *Config, v string) error { *f(c) = v; return nil }, func(c *Config) string { return *f(c) }}
	}
	boolean := func(name string, f func(*Config) *bool) configKey {
		return configKey{name, func(c *Config, v string) error {
			b, err := strconv.ParseBool(v)
			*f(c) = b
			return err
		}, func(c *Config) string { return strconv.FormatBool(*f(c)) }}
	}
	integer := func(name string, f func(*Config) *int) configKey {
		return configKey{name, func(c *Config, v string) error {
			n, err := strconv.Atoi(v)
			*f(c) = n
			return err
		}, func(c *Config) string { return strconv.Itoa(*f(c)) }}
	}
	millis := func(name string, f func(*Config) *time.Duration) configKey {
		return configKey{name, func(c *Config, v string) error {
			n, err := strconv.ParseInt(v, 10, 64)
			*f(c) = time.Duration(n) * time.Millisecond
			return err
		}, func(c *Config) string { return strconv.FormatInt(f(c).Milliseconds(), 10) }}
	}
	return []configKey{
		str("controllerDLegerGroup", func(c *Config) *string { return &c.Group }),
		str("controllerDLegerPeers", func(c *Config) *string { return &c.Peers }),
		str("controllerDLegerSelfId", func(c *Config) *string { return &c.SelfID }),
		str("controllerRaftPeers", func(c *Config) *string { return &c.RaftPeers }),
		str("controllerStorePath", func(c *Config) *string { return &c.StorePath }),
		boolean("enableElectUncleanMaster", func(c *Config) *bool { return &c.EnableElectUncleanMaster }),
		boolean("notifyBrokerRoleChanged", func(c *Config) *bool { return &c.NotifyBrokerRoleChanged }),
		millis("scanNotActiveBrokerInterval", func(c *Config) *time.Duration { return &c.ScanNotActiveBrokerInterval }),
		millis("scanInactiveMasterInterval", func(c *Config) *time.Duration { return &c.ScanInactiveMasterInterval }),
		integer("electMasterMaxRetryCount", func(c *Config) *int { return &c.ElectMasterMaxRetryCount }),
		millis("brokerHeartbeatTimeoutMills", func(c *Config) *time.Duration { return &c.BrokerHeartbeatTimeout }),
		millis("raftHeartbeatTimeoutMills", func(c *Config) *time.Duration { return &c.RaftHeartbeatTimeout }),
		millis("raftElectionTimeoutMills", func(c *Config) *time.Duration { return &c.RaftElectionTimeout }),
		millis("raftLeaderLeaseTimeoutMills", func(c *Config) *time.Duration { return &c.RaftLeaderLeaseTimeout }),
	}
}

// Set assigns one key; known reports whether the key exists.
func (c *Config) Set(key, value string) (known bool, err error) {
	for _, k := range configKeys() {
		if k.name == key {
			if err := k.set(c, strings.TrimSpace(value)); err != nil {
				return true, fmt.Errorf("%w: %s=%q: %v", ErrInvalidConfig, key, value, err)
			}
			return true, nil
		}
	}
	return false, nil
}

// Load reads "key=value" lines (Java properties style). Unknown keys are
// returned, not refused: a name server's file carries its own keys too.
func (c *Config) Load(r io.Reader) (unknown []string, err error) {
	err = eachProperty(r, func(line int, key, value string) error {
		known, err := c.Set(key, value)
		if err != nil {
			return fmt.Errorf("line %d: %w", line, err)
		}
		if !known {
			unknown = append(unknown, key)
		}
		return nil
	})
	return unknown, err
}

// eachProperty calls f for every "key=value" line, skipping blank lines
// and comments.
func eachProperty(r io.Reader, f func(line int, key, value string) error) error {
	sc := bufio.NewScanner(r)
	for line := 1; sc.Scan(); line++ {
		text := strings.TrimSpace(sc.Text())
		if text == "" || text[0] == '#' || text[0] == '!' {
			continue
		}
		key, value, ok := strings.Cut(text, "=")
		if !ok {
			return fmt.Errorf("%w: line %d: %q is not key=value", ErrInvalidConfig, line, text)
		}
		if err := f(line, strings.TrimSpace(key), value); err != nil {
			return err
		}
	}
	return sc.Err()
}

// runtimeKeys are the keys UPDATE_CONTROLLER_CONFIG may change on a
// running node (processUpdateConfig copies exactly these fields). The others shape the raft member, the listeners or timers
// started once, and take a restart.
var runtimeKeys = map[string]bool{
	"enableElectUncleanMaster": true,
	"notifyBrokerRoleChanged":  true,
	"electMasterMaxRetryCount": true,
}

// ErrNotRuntime reports a key that exists but cannot change while the
// node runs.
var ErrNotRuntime = errors.New("controller: the key cannot change at run time")

// ErrUnknownKey reports a key the controller does not have.
var ErrUnknownKey = errors.New("controller: unknown configuration key")

// applyUpdate returns c with the properties text applied, refusing the
// whole update when any key is unknown, fixed at start or invalid.
func (c Config) applyUpdate(text []byte) (Config, []string, error) {
	var keys []string
	err := eachProperty(bytes.NewReader(text), func(line int, key, value string) error {
		known, err := c.Set(key, value)
		switch {
		case !known:
			return fmt.Errorf("%w: %q", ErrUnknownKey, key)
		case !runtimeKeys[key]:
			return fmt.Errorf("%w: %s (restart the node with the new value)", ErrNotRuntime, key)
		case err != nil:
			return err
		}
		keys = append(keys, key)
		return nil
	})
	if err == nil {
		err = c.Validate()
	}
	return c, keys, err
}

// LoadFile is Load on a named file.
func (c *Config) LoadFile(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return c.Load(f)
}

// properties renders the configuration as GET_CONTROLLER_CONFIG answers.
func (c *Config) properties() string {
	var b strings.Builder
	for _, k := range configKeys() {
		b.WriteString(k.name)
		b.WriteByte('=')
		b.WriteString(k.get(c))
		b.WriteByte('\n')
	}
	return b.String()
}
