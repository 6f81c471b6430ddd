package store

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"
)

// tryAppend runs TryAppendAsync on its own goroutine and fails the test if
// it does not return within a generous deadline: it must never wait.
func tryAppend(t *testing.T, s *Store, topic string, qid int32, b []byte) (AppendResult, error) {
	t.Helper()
	type outcome struct {
		res    AppendResult
		err    error
		called bool
	}
	ch := make(chan outcome, 1)
	go func() {
		var o outcome
		o.err = s.TryAppendAsync(newMsg(topic, qid, b, "", "key"), func(res AppendResult, err error) {
			o.res, o.called = res, true
			if err != nil {
				o.err = err
			}
		})
		ch <- o
	}()
	select {
	case o := <-ch:
		if errors.Is(o.err, ErrWouldBlock) && o.called {
			t.Fatal("done was called although TryAppendAsync returned ErrWouldBlock")
		}
		if o.err == nil && !o.called {
			t.Fatal("done not called by an async-flush TryAppendAsync that stored")
		}
		return o.res, o.err
	case <-time.After(10 * time.Second):
		t.Fatal("TryAppendAsync waited")
		return AppendResult{}, nil
	}
}

func TestTryAppendNeverWaits(t *testing.T) {
	cfg := smallConfig(t.TempDir())
	entered, release := make(chan struct{}, 1), make(chan struct{})
	armed := make(chan struct{}, 1)
	s := mustOpen(t, cfg, WithAppendStall(func() {
		select {
		case <-armed:
			entered <- struct{}{}
			<-release
		default:
		}
	}))
	defer mustClose(t, s)

	// A new queue and an empty log need files: refused, nothing stored.
	if _, err := tryAppend(t, s, "T", 0, body(0)); !errors.Is(err, ErrWouldBlock) {
		t.Fatalf("first append to a new queue: %v, want ErrWouldBlock", err)
	}
	if s.MaxOffset("T", 0) != 0 {
		t.Fatal("a refused TryAppendAsync stored something")
	}
	mustAppend(t, s, newMsg("T", 0, body(1), "", "k1"))
	res, err := tryAppend(t, s, "T", 0, body(2))
	if err != nil || res.QueueOffset != 1 {
		t.Fatalf("TryAppendAsync into open files: %+v %v", res, err)
	}

	// Another append holds the lock: refused at once, not queued behind it.
	armed <- struct{}{}
	held := make(chan error, 1)
	go func() {
		_, err := s.Append(context.Background(), newMsg("T", 0, body(3), "", "k3"))
		held <- err
	}()
	<-entered
	if _, err := tryAppend(t, s, "T", 0, body(4)); !errors.Is(err, ErrWouldBlock) {
		t.Fatalf("append while the lock is held: %v, want ErrWouldBlock", err)
	}
	if s.AppendLockHeld() <= 0 || !s.AppendLocked() {
		t.Fatal("AppendLockHeld is 0 or AppendLocked false while an append holds the lock")
	}
	close(release)
	if err := <-held; err != nil {
		t.Fatal(err)
	}
	if s.AppendLockHeld() != 0 || s.AppendLocked() {
		t.Fatal("AppendLockHeld or AppendLocked after the append returned")
	}

	// Fill the open files: the append that would need a new commit-log
	// segment, consume-queue or index file is refused; a waiting append creates
	// it, and no-wait appends go on.
	refused := 0
	for i := 5; refused < 3; i++ {
		if i > 5000 {
			t.Fatalf("only %d refusals in %d appends over %d KiB segments", refused, i, cfg.CommitLogSegmentSize>>10)
		}
		files := func() int {
			s.ix.mu.Lock()
			defer s.ix.mu.Unlock()
			return len(s.cl.load().files) + len(s.queue("T", 0).files.load().files) + len(s.ix.files)
		}
		before := files()
		if _, err := tryAppend(t, s, "T", 0, bytes.Repeat(body(i), 20)); err == nil {
			continue
		} else if !errors.Is(err, ErrWouldBlock) {
			t.Fatal(err)
		}
		refused++
		mustAppend(t, s, newMsg("T", 0, bytes.Repeat(body(i), 20), "", "key"))
		if files() == before {
			t.Fatalf("TryAppendAsync refused (append %d) although no file was needed", i)
		}
	}
	checkQueuesMatchLog(t, s, cfg)
}
