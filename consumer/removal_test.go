package consumer

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/rocketgo/rocketgo/message"
	"github.com/rocketgo/rocketgo/remoting"
	"github.com/rocketgo/rocketgo/server/transport"
)

// commitStore is an offsetStore in memory whose persist records what a
// broker would receive.
type commitStore struct {
	memTable
	cmu     sync.Mutex
	commits map[Queue][]int64
}

func (s *commitStore) read(_ context.Context, q Queue, _ bool) (int64, error) {
	if o, ok := s.get(q); ok {
		return o, nil
	}
	return 0, ErrNoOffset
}

func (s *commitStore) persist(_ context.Context, qs []Queue) error {
	s.cmu.Lock()
	defer s.cmu.Unlock()
	for _, q := range qs {
		if o, ok := s.get(q); ok {
			if s.commits == nil {
				s.commits = map[Queue][]int64{}
			}
			s.commits[q] = append(s.commits[q], o)
		}
	}
	return nil
}

func (s *commitStore) last(q Queue) (int64, bool) {
	s.cmu.Lock()
	defer s.cmu.Unlock()
	cs := s.commits[q]
	if len(cs) == 0 {
		return 0, false
	}
	return cs[len(cs)-1], true
}

// removalRig is a clustering push consumer with no broker: one owned queue
// whose pull loop has already returned, a listener counting deliveries per
// offset, and a commitStore.
type removalRig struct {
	c     *PushConsumer
	store *commitStore
	q     Queue
	run   *queueRun

	mu    sync.Mutex
	calls map[int64]int
}

func newRemovalRig(t *testing.T, offsets ...int64) (*removalRig, []*message.MessageExt) {
	t.Helper()
	c, err := NewPush(WithGroup("g"))
	if err != nil {
		t.Fatal(err)
	}
	r := &removalRig{c: c, store: &commitStore{}, q: Queue{Topic: "T", BrokerName: "b", QueueID: 2}, calls: map[int64]int{}}
	c.cl = &cluster{}
	c.store = r.store
	c.consumeCtx = context.Background()
	l := ConcurrentListener(func(_ context.Context, _ *ConcurrentContext, msgs []*message.MessageExt) ConsumeResult {
		r.mu.Lock()
		defer r.mu.Unlock()
		for _, m := range msgs {
			r.calls[m.QueueOffset]++
		}
		return ConsumeSuccess
	})
	done := make(chan struct{})
	close(done)
	r.run = &queueRun{pq: newProcessQueue(r.q), sub: &subscription{topic: r.q.Topic, listener: l}, cancel: func() {}, done: done}
	c.table[r.q] = r.run
	ms := msgsAt(offsets...)
	r.run.pq.put(ms)
	r.store.update(r.q, offsets[0], false)
	return r, ms
}

func (r *removalRig) delivered(off int64) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.calls[off]
}

// TestRemoveQueueConsumesGapsBeforeCommitting drives the first interleaving
// behind the TestPushRebalanceJoinLeaveNoLoss flake. Three one-message
// batches of a queue are in the consume pool. The callback of the second
// (227) begins and finishes first; then the queue is removed — a clean leave
// or a rebalance — before the callbacks of the first (226) and third (228)
// begin, and when they do they see the drop and skip. The removal must not commit 226, which
// would hand the consumed 227 to the next owner a second time: it consumes
// 226 itself and commits 228, so every message is consumed exactly once
// across the two owners.
func TestRemoveQueueConsumesGapsBeforeCommitting(t *testing.T) {
	r, ms := newRemovalRig(t, 226, 227, 228)
	r.c.consumeConcurrently(r.run, ms[1:2])
	if err := r.c.removeQueue(context.Background(), r.q, r.run); err != nil {
		t.Fatal(err)
	}
	// The pool reaches the other two batches only now.
	r.c.consumeConcurrently(r.run, ms[:1])
	r.c.consumeConcurrently(r.run, ms[2:])
	if off, ok := r.store.last(r.q); !ok || off != 228 {
		t.Fatalf("committed %d (%v), want 228: the next owner would consume 227 again", off, ok)
	}
	for off, want := range map[int64]int{226: 1, 227: 1, 228: 0} {
		if n := r.delivered(off); n != want {
			t.Errorf("offset %d delivered %d times by the leaving owner, want %d", off, n, want)
		}
	}
	if _, ok := r.c.table[r.q]; ok {
		t.Fatal("queue still in the table after its removal")
	}
}

// TestRemoveQueueLeavesTheRestToTheNextOwner: with nothing consumed above
// them, cached messages whose callbacks had not begun are not consumed by
// the removal; the next owner gets them from the committed offset.
func TestRemoveQueueLeavesTheRestToTheNextOwner(t *testing.T) {
	r, ms := newRemovalRig(t, 10, 11, 12)
	r.c.consumeConcurrently(r.run, ms[:1])
	if err := r.c.removeQueue(context.Background(), r.q, r.run); err != nil {
		t.Fatal(err)
	}
	if off, ok := r.store.last(r.q); !ok || off != 11 {
		t.Fatalf("committed %d (%v), want 11", off, ok)
	}
	if r.delivered(11) != 0 || r.delivered(12) != 0 {
		t.Fatalf("removal consumed messages above the last consumed one: %v", r.calls)
	}
}

func TestProcessQueueGaps(t *testing.T) {
	pq := newProcessQueue(Queue{Topic: "T"})
	ms := msgsAt(10, 11, 12, 13, 14, 15, 16)
	pq.put(ms)
	if g := pq.gaps(); len(g) != 0 {
		t.Fatalf("nothing consumed: gaps %v", g)
	}
	// 11 and 13 consumed out of order; 14 began but was not settled (its
	// send-back failed and it waits for a local retry); 15 and 16 never
	// began.
	for _, i := range []int{1, 3, 4} {
		pq.beginBatch(ms[i : i+1])
		pq.end()
	}
	pq.remove([]*message.MessageExt{ms[1], ms[3]})
	g := pq.gaps()
	if len(g) != 2 || g[0].QueueOffset != 10 || g[1].QueueOffset != 12 {
		t.Fatalf("gaps %v, want offsets 10 and 12", offsetsOf(g))
	}
	// Once they are consumed the offset stops at 14, above which nothing
	// is worth consuming.
	pq.remove(g)
	if g := pq.gaps(); len(g) != 0 {
		t.Fatalf("gaps %v after consuming them", offsetsOf(g))
	}
	pq.mu.Lock()
	off := pq.commitOffset()
	pq.mu.Unlock()
	if off != 14 {
		t.Fatalf("commit %d, want 14", off)
	}
}

func offsetsOf(msgs []*message.MessageExt) []int64 {
	out := make([]int64, len(msgs))
	for i, m := range msgs {
		out[i] = m.QueueOffset
	}
	return out
}

// reorderingBroker is a name server and broker in one transport server: it
// routes every topic to itself and serves UPDATE_CONSUMER_OFFSET as a broker
// under load may — the commit of offset held is kept waiting until a later
// commit of the queue has been applied (or, when none comes, for a while),
// then applied, so it would overwrite it. A client that waits for each
// commit's answer before sending the next is not affected.
type reorderingBroker struct {
	rs   *transport.Server
	addr string
	held int64

	reached  chan struct{} // closed when the held commit arrives
	heldDone chan struct{} // closed when it was applied
	later    chan struct{} // closed when a later commit was applied
	mu       sync.Mutex
	last     int64
}

func startReorderingBroker(t *testing.T, held int64) *reorderingBroker {
	t.Helper()
	b := &reorderingBroker{rs: transport.NewServer("127.0.0.1:0"), held: held,
		reached: make(chan struct{}), heldDone: make(chan struct{}), later: make(chan struct{}), last: -1}
	b.rs.Handle(remoting.GetRouteInfoByTopic, func(rc *transport.RequestContext, req *remoting.Command) {
		b.mu.Lock()
		addr := b.addr
		b.mu.Unlock()
		resp := remoting.NewResponse(req, remoting.Success, "")
		resp.Body = []byte(`{"brokerDatas":[{"brokerAddrs":{"0":"` + addr + `"},"brokerName":"broker-a","cluster":"c"}],` +
			`"queueDatas":[{"brokerName":"broker-a","perm":6,"readQueueNums":4,"topicSysFlag":0,"writeQueueNums":4}]}`)
		_ = rc.Reply(resp)
	})
	b.rs.Handle(remoting.UpdateConsumerOffset, func(rc *transport.RequestContext, req *remoting.Command) {
		var h remoting.UpdateConsumerOffsetRequestHeader
		if err := req.DecodeHeader(&h); err != nil {
			_ = rc.Reply(remoting.NewResponse(req, remoting.SystemError, err.Error()))
			return
		}
		if h.CommitOffset == b.held {
			close(b.reached)
			// The fallback only ends the wait of a client that does wait
			// for this answer; it asserts nothing about time.
			select {
			case <-b.later:
			case <-time.After(500 * time.Millisecond):
			}
		}
		b.mu.Lock()
		b.last = h.CommitOffset
		b.mu.Unlock()
		if h.CommitOffset == b.held {
			close(b.heldDone)
		} else {
			select {
			case <-b.later:
			default:
				close(b.later)
			}
		}
		_ = rc.Reply(remoting.NewResponse(req, remoting.Success, ""))
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := b.rs.Start(ctx); err != nil {
		t.Fatal(err)
	}
	b.mu.Lock() // the route handler reads it
	b.addr = b.rs.Addr().String()
	b.mu.Unlock()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = b.rs.Shutdown(ctx)
	})
	return b
}

func (b *reorderingBroker) committed() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.last
}

// TestCommitCutShortDoesNotOverwriteNewer drives the second interleaving
// behind the TestPushRebalanceJoinLeaveNoLoss flake: the owner loop's
// periodic persist has sent a commit when Shutdown cancels its context; the
// removal of the queue then commits the newer offset. The broker serves one
// connection's requests concurrently, so the abandoned older commit could
// be applied last and move the group back: the next owner would consume
// again what was consumed. A commit's answer is awaited even past its
// context, so the newer commit goes out only after the older one was
// applied.
func TestCommitCutShortDoesNotOverwriteNewer(t *testing.T) {
	b := startReorderingBroker(t, 162)
	c, err := NewPush(WithGroup("g"), WithNameServers(b.addr))
	if err != nil {
		t.Fatal(err)
	}
	cl, err := newCluster(&c.cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.release)
	s := &remoteStore{cl: cl, group: "g", timeout: 10 * time.Second}
	q := Queue{Topic: "T", BrokerName: "broker-a", QueueID: 2}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s.update(q, 162, false)
	persisted := make(chan error, 1)
	go func() { persisted <- s.persist(ctx, []Queue{q}) }() // the owner loop's periodic persist
	<-b.reached
	cancel() // Shutdown
	<-persisted
	// The removal's final commit, sent once the owner loop has returned.
	s.update(q, 163, true)
	if err := s.persist(context.Background(), []Queue{q}); err != nil {
		t.Fatal(err)
	}
	<-b.heldDone
	if got := b.committed(); got != 163 {
		t.Fatalf("the broker keeps offset %d, want 163: the commit cut short by the cancel landed after the newer one", got)
	}
}

// brokerTableStore is an offsetStore whose persisted side is a table
// standing for the broker's, which the test writes as another member would.
// read behaves as remoteStore's: it also sets the in-memory offset.
type brokerTableStore struct {
	memTable
	bmu    sync.Mutex
	broker map[Queue]int64
}

func (s *brokerTableStore) set(q Queue, off int64) {
	s.bmu.Lock()
	defer s.bmu.Unlock()
	if s.broker == nil {
		s.broker = map[Queue]int64{}
	}
	s.broker[q] = off
}

func (s *brokerTableStore) committed(q Queue) int64 {
	s.bmu.Lock()
	defer s.bmu.Unlock()
	return s.broker[q]
}

func (s *brokerTableStore) read(_ context.Context, q Queue, fromStore bool) (int64, error) {
	if !fromStore {
		if o, ok := s.get(q); ok {
			return o, nil
		}
	}
	s.bmu.Lock()
	o, ok := s.broker[q]
	s.bmu.Unlock()
	if !ok {
		return 0, ErrNoOffset
	}
	s.update(q, o, false)
	return o, nil
}

func (s *brokerTableStore) persist(_ context.Context, qs []Queue) error {
	for _, q := range qs {
		if o, ok := s.get(q); ok {
			s.set(q, o)
		}
	}
	return nil
}

// TestHandoverDelayCommitsNothingItOnlyRead: a member that gains a queue
// with a handover delay reads the queue's offset, then waits for the
// previous owner to finish and commit. The periodic persist during that
// wait must not commit the offset read before it — the previous owner's
// newer commit would be overwritten, read back after the delay, and the
// messages between consumed again.
func TestHandoverDelayCommitsNothingItOnlyRead(t *testing.T) {
	c, err := NewPush(WithGroup("g"), WithHandoverDelay(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	store := &brokerTableStore{}
	c.cl = &cluster{}
	c.store = store
	c.ctx, c.cancel = context.WithCancel(context.Background())
	defer func() {
		c.cancel()
		c.pullWG.Wait()
	}()
	q := Queue{Topic: "T", BrokerName: "b", QueueID: 2}
	store.set(q, 10) // the previous owner's last periodic persist
	sub := &subscription{topic: q.Topic, listener: ConcurrentListener(func(context.Context, *ConcurrentContext, []*message.MessageExt) ConsumeResult {
		return ConsumeSuccess
	})}
	if err := c.addQueue(context.Background(), sub, q); err != nil {
		t.Fatal(err)
	}
	store.set(q, 20) // the previous owner's final commit, as it lets q go
	c.persistAll(context.Background())
	if got := store.committed(q); got != 20 {
		t.Fatalf("the broker keeps %d after the new owner's persist, want the previous owner's 20", got)
	}
	// A removal during the delay commits nothing either.
	c.tableMu.RLock()
	run := c.table[q]
	c.tableMu.RUnlock()
	if err := c.removeQueue(context.Background(), q, run); err != nil {
		t.Fatal(err)
	}
	if got := store.committed(q); got != 20 {
		t.Fatalf("the broker keeps %d after a removal during the delay, want 20", got)
	}
}
