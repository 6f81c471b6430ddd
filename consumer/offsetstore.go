package consumer

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/rocketgo/rocketgo/remoting"
)

// offsetStore keeps a consumer's progress per queue: on the broker for
// clustering, in a local file for broadcasting.
type offsetStore interface {
	// read returns the stored offset; errors.Is(err, ErrNoOffset) when
	// there is none. fromStore bypasses the in-memory table.
	read(ctx context.Context, q Queue, fromStore bool) (int64, error)
	// update sets the in-memory offset; with increaseOnly a lower value is
	// ignored (a late commit must not move progress backwards).
	update(q Queue, offset int64, increaseOnly bool)
	// persist writes the in-memory offsets of qs.
	persist(ctx context.Context, qs []Queue) error
	// remove forgets q after it was persisted.
	remove(q Queue)
	// snapshot returns every in-memory offset.
	snapshot() map[Queue]int64
}

// memTable is the in-memory half of both stores.
type memTable struct {
	mu   sync.Mutex
	offs map[Queue]int64
}

func (t *memTable) update(q Queue, offset int64, increaseOnly bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.offs == nil {
		t.offs = map[Queue]int64{}
	}
	if old, ok := t.offs[q]; ok && increaseOnly && offset < old {
		return
	}
	t.offs[q] = offset
}

func (t *memTable) get(q Queue) (int64, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	o, ok := t.offs[q]
	return o, ok
}

func (t *memTable) remove(q Queue) {
	t.mu.Lock()
	delete(t.offs, q)
	t.mu.Unlock()
}

func (t *memTable) snapshot() map[Queue]int64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make(map[Queue]int64, len(t.offs))
	for q, o := range t.offs {
		out[q] = o
	}
	return out
}

// remoteStore keeps offsets on the broker (clustering).
type remoteStore struct {
	memTable
	cl    *cluster
	group string
	// timeout bounds a commit once sent (DefaultRequestTimeout when 0); see
	// commit.
	timeout time.Duration
}

func (s *remoteStore) read(ctx context.Context, q Queue, fromStore bool) (int64, error) {
	if !fromStore {
		if o, ok := s.get(q); ok {
			return o, nil
		}
	}
	resp, addr, err := s.cl.invokeQueue(ctx, q, remoting.NewRequest(remoting.QueryConsumerOffset,
		&remoting.QueryConsumerOffsetRequestHeader{ConsumerGroup: s.group, Topic: q.Topic,
			QueueID: int32(q.QueueID), SetZeroIfNotFound: true}, nil))
	if err != nil {
		return 0, fmt.Errorf("consumer: query offset of %v: %w", q, err)
	}
	if resp.Code != remoting.Success {
		return 0, brokerError(remoting.QueryConsumerOffset, addr, resp)
	}
	var h remoting.OffsetResponseHeader
	if err := resp.DecodeHeader(&h); err != nil {
		return 0, fmt.Errorf("consumer: query offset of %v: %w", q, err)
	}
	s.update(q, h.Offset, false)
	return h.Offset, nil
}

func (s *remoteStore) persist(ctx context.Context, qs []Queue) error {
	var errs []error
	for _, q := range qs {
		if err := ctx.Err(); err != nil {
			return errors.Join(append(errs, fmt.Errorf("consumer: persist offsets: %w", err))...)
		}
		o, ok := s.get(q)
		if !ok || o < 0 {
			continue
		}
		if err := s.commit(ctx, q, o); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// commit sends one UPDATE_CONSUMER_OFFSET and waits for its answer even when
// ctx is cancelled meanwhile, up to ctx's deadline or s.timeout, whichever
// comes first. The broker serves the requests of a connection concurrently
// and keeps whichever commit it applies last, so a commit abandoned in
// flight could land after the newer one sent next: the owner loop's
// periodic persist, cut short by Shutdown's cancel, landed after the final
// commit of the queue's removal, moved the group back, and the next owner
// consumed those messages again. Awaiting each answer is what orders one
// client's commits of a queue (a deadline still bounds the wait; persist
// starts no commit once ctx has ended).
func (s *remoteStore) commit(ctx context.Context, q Queue, offset int64) error {
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cmp.Or(s.timeout, DefaultRequestTimeout))
	defer cancel()
	if dl, ok := ctx.Deadline(); ok {
		var cancelDL context.CancelFunc
		wctx, cancelDL = context.WithDeadline(wctx, dl)
		defer cancelDL()
	}
	ctx = wctx
	resp, addr, err := s.cl.invokeQueue(ctx, q, remoting.NewRequest(remoting.UpdateConsumerOffset,
		&remoting.UpdateConsumerOffsetRequestHeader{ConsumerGroup: s.group, Topic: q.Topic,
			QueueID: int32(q.QueueID), CommitOffset: offset}, nil))
	if err != nil {
		return fmt.Errorf("consumer: commit offset of %v: %w", q, err)
	}
	if resp.Code != remoting.Success {
		return brokerError(remoting.UpdateConsumerOffset, addr, resp)
	}
	return nil
}

// localStore keeps offsets in <dir>/<clientID>/<group>/offsets.json
// (broadcasting), written atomically through a temporary file.
type localStore struct {
	memTable
	path string
	wmu  sync.Mutex // serialises file writes
}

type localOffset struct {
	Queue  Queue `json:"queue"`
	Offset int64 `json:"offset"`
}

func newLocalStore(dir, clientID, group string) (*localStore, error) {
	s := &localStore{path: filepath.Join(dir, sanitize(clientID), sanitize(group), "offsets.json")}
	b, err := os.ReadFile(s.path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return s, nil
	case err != nil:
		return nil, fmt.Errorf("consumer: offsets file: %w", err)
	}
	var list []localOffset
	if err := json.Unmarshal(b, &list); err != nil {
		return nil, fmt.Errorf("consumer: offsets file %s: %w", s.path, err)
	}
	for _, lo := range list {
		s.update(lo.Queue, lo.Offset, false)
	}
	return s, nil
}

// sanitize keeps a path element free of separators.
func sanitize(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c == '/' || c == '\\' || c == ':' {
			b[i] = '_'
		}
	}
	return string(b)
}

func (s *localStore) read(_ context.Context, q Queue, _ bool) (int64, error) {
	if o, ok := s.get(q); ok {
		return o, nil
	}
	return 0, ErrNoOffset
}

func (s *localStore) persist(_ context.Context, _ []Queue) error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	snap := s.snapshot()
	list := make([]localOffset, 0, len(snap))
	for q, o := range snap {
		list = append(list, localOffset{Queue: q, Offset: o})
	}
	b, err := json.Marshal(list)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(s.path), 0o755); err != nil {
		return fmt.Errorf("consumer: offsets dir: %w", err)
	}
	tmp := s.path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return fmt.Errorf("consumer: offsets file: %w", err)
	}
	if err := os.Rename(tmp, s.path); err != nil {
		return fmt.Errorf("consumer: offsets file: %w", err)
	}
	return nil
}

// remove keeps broadcasting offsets: a member owns every queue for good.
func (s *localStore) remove(Queue) {}
