package acl

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rocketgo/rocketgo/remoting"
)

// DefaultReloadInterval is how often the ACL file is looked at for changes
// (upstream's file watch service polls every 500 ms).
const DefaultReloadInterval = 500 * time.Millisecond

// DefaultFile returns upstream's default path, $ROCKETMQ_HOME/conf/plain_acl.yml
// (conf/plain_acl.yml when ROCKETMQ_HOME is unset).
func DefaultFile() string {
	return filepath.Join(os.Getenv("ROCKETMQ_HOME"), "conf", "plain_acl.yml")
}

// Checker decides requests against the rules of one ACL file and follows
// its changes. It is safe for concurrent use.
type Checker struct {
	path     string
	log      *slog.Logger
	interval time.Duration
	rules    atomic.Pointer[Rules]

	mu   sync.Mutex // guards sum (the loader's state)
	sum  [sha256.Size]byte
	stop context.CancelFunc
	done chan struct{}
}

// Option configures a Checker.
type Option func(*Checker)

// WithLogger sets the logger. Default: discard.
func WithLogger(l *slog.Logger) Option {
	return func(c *Checker) {
		if l != nil {
			c.log = l
		}
	}
}

// WithReloadInterval sets how often the file is checked for changes.
// Default 500 ms; 0 or less turns reloading off.
func WithReloadInterval(d time.Duration) Option { return func(c *Checker) { c.interval = d } }

// Open loads path and starts following it. A file that is missing or bad
// at start is an error: a broker asked to enforce ACL must not run open.
func Open(path string, opts ...Option) (*Checker, error) {
	c := &Checker{
		path:     path,
		log:      slog.New(slog.NewTextHandler(io.Discard, nil)),
		interval: DefaultReloadInterval,
		done:     make(chan struct{}),
	}
	for _, o := range opts {
		o(c)
	}
	if _, err := c.reload(); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	c.stop = cancel
	if c.interval <= 0 {
		close(c.done)
		return c, nil
	}
	go c.follow(ctx)
	return c, nil
}

// NewStatic returns a Checker over fixed rules (tests, embedding).
func NewStatic(r *Rules) *Checker {
	c := &Checker{log: slog.New(slog.NewTextHandler(io.Discard, nil)), done: make(chan struct{}), stop: func() {}}
	close(c.done)
	c.rules.Store(r)
	return c
}

// Close stops following the file.
func (c *Checker) Close() {
	c.stop()
	<-c.done
}

// Check decides one request from remoteAddr ("ip:port"). It returns nil to
// let it through, or a *DeniedError (wrapping ErrDenied) whose text is the
// remark to send back with NO_PERMISSION.
func (c *Checker) Check(remoteAddr string, req *remoting.Command) error {
	return c.rules.Load().check(hostOf(remoteAddr), req)
}

// SecretKey returns the secret key of the account accessKey, for entry
// points that verify another signature scheme and then sign the remoting
// requests they make for the caller with the caller's own keys (the 5.x
// gRPC endpoint, server/proxy): the broker's check then applies the
// account's permissions as to any client.
func (c *Checker) SecretKey(accessKey string) (string, bool) {
	acc := c.rules.Load().accounts[accessKey]
	if acc == nil {
		return "", false
	}
	return acc.secretKey, true
}

// Reload re-reads the file now. It reports whether the rules changed; on
// error the previous rules stay in force.
func (c *Checker) Reload() (bool, error) { return c.reload() }

func (c *Checker) reload() (bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	data, err := os.ReadFile(c.path)
	if err != nil {
		return false, fmt.Errorf("%w: %v", ErrInvalidFile, err)
	}
	sum := sha256.Sum256(data)
	if c.rules.Load() != nil && bytes.Equal(sum[:], c.sum[:]) {
		return false, nil
	}
	r, err := Parse(data)
	if err != nil {
		return false, fmt.Errorf("%s: %w", c.path, err)
	}
	c.sum = sum
	c.rules.Store(r)
	return true, nil
}

func (c *Checker) follow(ctx context.Context) {
	defer close(c.done)
	t := time.NewTicker(c.interval)
	defer t.Stop()
	var lastErr string
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		changed, err := c.reload()
		switch {
		case err != nil:
			if err.Error() != lastErr { // say it once, not every tick
				c.log.Warn("acl: keeping the previous rules", "file", c.path, "err", err)
				lastErr = err.Error()
			}
		case changed:
			lastErr = ""
			c.log.Info("acl: rules reloaded", "file", c.path)
		}
	}
}
