package controller

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
)

// Replication uses hashicorp/raft: its log and stable store is a BoltDB
// file (raft-boltdb/v2), its snapshots are files, and its transport is
// raft's own TCP protocol on each node's raft address. The controller
// state machine (state.go) is the raft FSM.

// fsm adapts state to raft.FSM. Reads take mu shared; apply takes it
// exclusively, on raft's FSM goroutine.
type fsm struct {
	mu sync.RWMutex
	st *state
}

// Apply applies one committed event and returns nil or the error that
// refused it, which raft hands back to the leader's ApplyFuture.
func (f *fsm) Apply(l *raft.Log) any {
	if l.Type != raft.LogCommand {
		return nil
	}
	var e event
	if err := json.Unmarshal(l.Data, &e); err != nil {
		// Never written by us; skip it on every node alike.
		return fmt.Errorf("controller: undecodable log entry %d: %w", l.Index, err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.st.apply(e)
}

// read runs fn with the state held for reading.
func (f *fsm) read(fn func(*state)) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	fn(f.st)
}

// set returns a copy of one broker set, or nil.
func (f *fsm) set(name string) *brokerSet {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.st.get(name)
}

func (f *fsm) Snapshot() (raft.FSMSnapshot, error) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	b, err := f.st.marshal()
	if err != nil {
		return nil, err
	}
	return snapshot(b), nil
}

func (f *fsm) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		return err
	}
	st, err := unmarshalState(b)
	if err != nil {
		return err
	}
	f.mu.Lock()
	f.st = st
	f.mu.Unlock()
	return nil
}

type snapshot []byte

func (s snapshot) Persist(sink raft.SnapshotSink) error {
	if _, err := sink.Write(s); err != nil {
		sink.Cancel()
		return err
	}
	return sink.Close()
}

func (s snapshot) Release() {}

// raftNode is one started raft member and what it must close.
type raftNode struct {
	r     *raft.Raft
	trans *raft.NetworkTransport
	store *raftboltdb.BoltStore
}

// startRaft opens (or bootstraps) this node's raft member.
func startRaft(cfg *Config, peers []peer, self peer, f *fsm, logger *slog.Logger) (*raftNode, error) {
	dir := filepath.Join(cfg.StorePath, self.id)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("controller: %w", err)
	}
	hl := &hclogAdapter{l: logger.With("component", "raft")}
	store, err := raftboltdb.New(raftboltdb.Options{Path: filepath.Join(dir, "raft.db")})
	if err != nil {
		return nil, fmt.Errorf("controller: open raft log: %w", err)
	}
	n := &raftNode{store: store}
	snaps, err := raft.NewFileSnapshotStoreWithLogger(dir, 2, hl)
	if err != nil {
		n.close()
		return nil, fmt.Errorf("controller: open raft snapshots: %w", err)
	}
	n.trans, err = raft.NewTCPTransportWithLogger(self.raftAddr, nil, 3, 5*time.Second, hl)
	if err != nil {
		n.close()
		return nil, fmt.Errorf("controller: raft transport on %s: %w", self.raftAddr, err)
	}
	rc := raft.DefaultConfig()
	rc.LocalID = raft.ServerID(self.id)
	rc.Logger = hl
	rc.HeartbeatTimeout = cfg.RaftHeartbeatTimeout
	rc.ElectionTimeout = cfg.RaftElectionTimeout
	rc.LeaderLeaseTimeout = cfg.RaftLeaderLeaseTimeout
	rc.CommitTimeout = 20 * time.Millisecond
	rc.SnapshotThreshold = 1024
	if err := raft.ValidateConfig(rc); err != nil {
		n.close()
		return nil, fmt.Errorf("%w: raft: %v", ErrInvalidConfig, err)
	}
	has, err := raft.HasExistingState(store, store, snaps)
	if err != nil {
		n.close()
		return nil, fmt.Errorf("controller: read raft state: %w", err)
	}
	if !has {
		// Every node bootstraps with the same configuration on its first
		// start, which raft documents as safe.
		var conf raft.Configuration
		for _, p := range peers {
			conf.Servers = append(conf.Servers, raft.Server{ID: raft.ServerID(p.id), Address: raft.ServerAddress(p.raftAddr)})
		}
		if err := raft.BootstrapCluster(rc, store, store, snaps, n.trans, conf); err != nil {
			n.close()
			return nil, fmt.Errorf("controller: bootstrap raft: %w", err)
		}
	}
	n.r, err = raft.NewRaft(rc, f, store, store, snaps, n.trans)
	if err != nil {
		n.close()
		return nil, fmt.Errorf("controller: start raft: %w", err)
	}
	return n, nil
}

// close stops raft and closes its transport and store.
func (n *raftNode) close() error {
	var errs []error
	if n.r != nil {
		if err := n.r.Shutdown().Error(); err != nil {
			errs = append(errs, err)
		}
	}
	if n.trans != nil {
		// Close drops only the listener: close the pooled outbound
		// connections too, so the peers' handlers for them end, and cancel
		// our inbound handlers.
		n.trans.CloseStreams()
		if err := n.trans.Close(); err != nil {
			errs = append(errs, err)
		}
	}
	if n.store != nil {
		if err := n.store.Close(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// isLeader reports whether this node is the raft leader now.
func (n *raftNode) isLeader() bool { return n.r.State() == raft.Leader }

// leader returns the current leader's server id ("" when none is known).
func (n *raftNode) leader() string {
	_, id := n.r.LeaderWithID()
	return string(id)
}

// apply commits one event and returns the FSM's verdict.
func (n *raftNode) apply(ctx context.Context, e event) error {
	b, err := json.Marshal(e)
	if err != nil {
		return err
	}
	timeout := 5 * time.Second
	if d, ok := ctx.Deadline(); ok {
		timeout = time.Until(d)
	}
	f := n.r.Apply(b, timeout)
	if err := f.Error(); err != nil {
		return err
	}
	if err, _ := f.Response().(error); err != nil {
		return err
	}
	return nil
}

// hclogAdapter sends raft's hclog output to slog. Raft is chatty at Info
// about routine elections, so Info becomes Debug here; warnings and errors
// keep their level.
type hclogAdapter struct {
	l    *slog.Logger
	name string
	args []any
}

func (a *hclogAdapter) level(l hclog.Level) slog.Level {
	switch l {
	case hclog.Warn:
		return slog.LevelWarn
	case hclog.Error:
		return slog.LevelError
	}
	return slog.LevelDebug
}

func (a *hclogAdapter) Log(l hclog.Level, msg string, args ...any) {
	lv := a.level(l)
	if !a.l.Enabled(context.Background(), lv) {
		return
	}
	a.l.Log(context.Background(), lv, msg, append(append([]any{}, a.args...), args...)...)
}
func (a *hclogAdapter) Trace(msg string, args ...any) { a.Log(hclog.Trace, msg, args...) }
func (a *hclogAdapter) Debug(msg string, args ...any) { a.Log(hclog.Debug, msg, args...) }
func (a *hclogAdapter) Info(msg string, args ...any)  { a.Log(hclog.Info, msg, args...) }
func (a *hclogAdapter) Warn(msg string, args ...any)  { a.Log(hclog.Warn, msg, args...) }
func (a *hclogAdapter) Error(msg string, args ...any) { a.Log(hclog.Error, msg, args...) }
func (a *hclogAdapter) IsTrace() bool                 { return false }
func (a *hclogAdapter) IsDebug() bool                 { return a.l.Enabled(context.Background(), slog.LevelDebug) }
func (a *hclogAdapter) IsInfo() bool                  { return a.IsDebug() }
func (a *hclogAdapter) IsWarn() bool                  { return a.l.Enabled(context.Background(), slog.LevelWarn) }
func (a *hclogAdapter) IsError() bool                 { return a.l.Enabled(context.Background(), slog.LevelError) }
func (a *hclogAdapter) ImpliedArgs() []any            { return a.args }
func (a *hclogAdapter) With(args ...any) hclog.Logger {
	return &hclogAdapter{l: a.l, name: a.name, args: append(append([]any{}, a.args...), args...)}
}
func (a *hclogAdapter) Name() string { return a.name }
func (a *hclogAdapter) Named(name string) hclog.Logger {
	if a.name != "" {
		name = a.name + "." + name
	}
	return &hclogAdapter{l: a.l.With("raft", name), name: name, args: a.args}
}
func (a *hclogAdapter) ResetNamed(name string) hclog.Logger {
	return &hclogAdapter{l: a.l.With("raft", name), name: name, args: a.args}
}
func (a *hclogAdapter) SetLevel(hclog.Level)  {}
func (a *hclogAdapter) GetLevel() hclog.Level { return hclog.Debug }
func (a *hclogAdapter) StandardLogger(*hclog.StandardLoggerOptions) *log.Logger {
	return slog.NewLogLogger(a.l.Handler(), slog.LevelDebug)
}
func (a *hclogAdapter) StandardWriter(*hclog.StandardLoggerOptions) io.Writer {
	return slog.NewLogLogger(a.l.Handler(), slog.LevelDebug).Writer()
}
