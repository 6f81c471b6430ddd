package broker

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rocketgo/rocketgo/remoting"
	"github.com/rocketgo/rocketgo/server/store"
)

// haMaster is the master side of replication. It accepts slaves on the HA
// port and serves each with two goroutines: one reads the slave's reports
// (acknowledgements), one streams the log to it. It also holds the sends of
// a SYNC_MASTER that wait for an acknowledgement: one list ordered by the
// offset they wait for, released by acks, and one timer for their
// deadlines — no goroutine per send, and nothing blocks the network event
// loop that parks them.
//
// HA connections are long-lived byte streams outside the request path, so
// they use plain net connections rather than the remoting transport.
type haMaster struct {
	b            *Broker
	log          *slog.Logger
	batch        int           // haTransferBatchSize
	heartbeat    time.Duration // haSendHeartbeatInterval
	housekeeping time.Duration // haHousekeepingInterval
	maxGap       int64         // haMaxGapNotInSync
	syncTimeout  time.Duration // syncFlushTimeout, how long a SYNC_MASTER send waits

	ln net.Listener // bound by listen before any goroutine starts, then read-only

	// wakers holds one wake channel per live slave, replaced (never
	// mutated) when slaves come and go, so the append path can signal
	// every streamer without taking mu.
	wakers atomic.Pointer[[]chan struct{}]

	// sw is the controller-mode state (ha_switch.go); nil in classic mode.
	// onConfirm moves the store's read fence (-1: none) when the confirm
	// offset advances; it runs outside mu.
	sw        *haSwitch
	onConfirm func(fence int64)

	mu      sync.Mutex // guards the fields below
	serving bool       // controller mode: this broker is master and takes slaves
	conns   map[*haConn]struct{}
	acked   int64            // highest offset a live slave acknowledged; -1 = no slave has reported
	waiters []*replicaWaiter // SYNC_MASTER sends, ordered by end
	timer   *time.Timer      // fires expire; armed while waiters is non-empty
	armed   bool
	closed  bool

	wg sync.WaitGroup // the accept loop and every slave's goroutines
}

// haConn is one slave's connection.
type haConn struct {
	nc     net.Conn
	remote string
	wake   chan struct{} // buffered 1: the log grew
	start  chan int64    // buffered 1: the slave's first report, where streaming starts
	hello  chan struct{} // buffered 1: controller mode, the slave's handshake arrived
	acked  int64         // under haMaster.mu; -1 until the slave's first report

	// Controller mode, under haMaster.mu: the slave's broker id; a mark —
	// the master's log end at some moment, and that moment — the slave's
	// acknowledgements are racing to reach; and the moment of the last
	// mark it reached. A slave whose acknowledgement reaches each mark is
	// behind by at most the time since that mark, however busy the log.
	slaveID  int64
	markEnd  int64
	markAt   time.Time
	marked   bool
	caughtUp time.Time
}

// replicaWaiter is a stored send waiting until a slave holds its bytes.
type replicaWaiter struct {
	end      int64 // the send is safe once a slave acknowledged this offset
	deadline time.Time
	answer   func(code int16) // Success, FlushSlaveTimeout or SlaveNotAvailable
}

func newHAMaster(b *Broker) *haMaster {
	h := &haMaster{
		b:            b,
		log:          b.log,
		batch:        b.cfg.HATransferBatchSize,
		heartbeat:    b.cfg.HASendHeartbeatInterval,
		housekeeping: b.cfg.HAHousekeepingInterval,
		maxGap:       b.cfg.HAMaxGapNotInSync,
		syncTimeout:  b.cfg.SyncFlushTimeout,
		conns:        map[*haConn]struct{}{},
		acked:        -1,
	}
	h.timer = time.AfterFunc(time.Hour, h.expire)
	h.timer.Stop()
	h.wakers.Store(&[]chan struct{}{})
	return h
}

// listen binds the HA port. It is separate from serve so that Start can
// fail cleanly, and register the bound port, before anything runs.
func (h *haMaster) listen(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("broker: HA listen on %s: %w", addr, err)
	}
	h.ln = ln
	return nil
}

// port is the bound HA port, 0 before listen.
func (h *haMaster) port() int {
	if h.ln == nil {
		return 0
	}
	if tcp, ok := h.ln.Addr().(*net.TCPAddr); ok {
		return tcp.Port
	}
	return 0
}

// serve accepts slaves until ctx ends or close is called.
func (h *haMaster) serve(ctx context.Context) {
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		h.acceptLoop(ctx)
	}()
}

func (h *haMaster) acceptLoop(ctx context.Context) {
	for {
		nc, err := h.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) || ctx.Err() != nil {
				return
			}
			// Out of file descriptors and the like: pause instead of spinning.
			h.log.Warn("HA: accepting a slave failed", "err", err)
			t := time.NewTimer(100 * time.Millisecond)
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
			continue
		}
		c := &haConn{nc: nc, remote: nc.RemoteAddr().String(), wake: make(chan struct{}, 1), start: make(chan int64, 1),
			hello: make(chan struct{}, 1), acked: -1, caughtUp: time.Now()}
		h.mu.Lock()
		if h.closed {
			h.mu.Unlock()
			nc.Close()
			return
		}
		if h.sw != nil && !h.serving {
			// A slave (or a broker whose role is not settled) streams to
			// nobody: the connecting slave follows a stale master.
			h.mu.Unlock()
			nc.Close()
			continue
		}
		h.conns[c] = struct{}{}
		h.publishWakersLocked()
		h.wg.Add(1) // under mu and before closed: close waits for this goroutine
		h.mu.Unlock()
		go h.serveSlave(ctx, c)
	}
}

// serveSlave runs one slave's connection until either direction fails.
func (h *haMaster) serveSlave(ctx context.Context, c *haConn) {
	defer h.wg.Done()
	h.log.Info("HA: slave connected", "slave", c.remote)
	ctx, cancel := context.WithCancel(ctx)
	var readErr error
	readDone := make(chan struct{})
	go func() {
		defer close(readDone)
		readErr = h.readReports(c)
		cancel() // stop the streamer too
	}()
	writeErr := h.stream(ctx, c)
	cancel()
	c.nc.Close() // unblocks the reader
	<-readDone
	h.drop(c)
	h.logDrop(c, readErr, writeErr)
}

// readReports reads the slave's 8-byte reports. Each acknowledges every
// byte below it; the first also tells the streamer where to start.
func (h *haMaster) readReports(c *haConn) error {
	report := haReportSize
	if h.sw != nil {
		if err := h.readHello(c); err != nil {
			return err
		}
		report = haSwitchReportSize
	}
	buf := make([]byte, report)
	first := true
	for {
		if err := c.nc.SetReadDeadline(time.Now().Add(h.housekeeping)); err != nil {
			return err
		}
		if _, err := io.ReadFull(c.nc, buf); err != nil {
			return err
		}
		if h.sw != nil && binary.BigEndian.Uint32(buf) != haStateTransfer {
			return fmt.Errorf("%w: slave report in state %d", errHAStream, binary.BigEndian.Uint32(buf))
		}
		off := int64(binary.BigEndian.Uint64(buf[report-8:]))
		if off < 0 {
			return fmt.Errorf("%w: slave reported offset %d", errHAStream, off)
		}
		// The slave only holds bytes it received from a master, so a report
		// past our end means it followed another master or we lost data.
		if end := h.b.store.MaxPhysicalOffset(); off > end {
			return fmt.Errorf("%w: slave reports offset %d, the master's log ends at %d", errSlaveAhead, off, end)
		}
		h.ack(c, off) // before streaming starts: a slave that has bytes from us has reported
		if first {
			c.start <- off
			first = false
		}
	}
}

// stream sends the log to the slave from its first report on, then
// follows the log's growth, sending an empty frame as a heartbeat when it
// had nothing to send for haSendHeartbeatInterval.
func (h *haMaster) stream(ctx context.Context, c *haConn) error {
	if h.sw != nil {
		select {
		case <-ctx.Done():
			return nil
		case <-c.hello:
		}
		if err := h.writeHello(c); err != nil {
			return err
		}
	}
	var next int64
	select {
	case <-ctx.Done():
		return nil
	case next = <-c.start:
	}
	if next == 0 {
		// An empty slave takes a full copy, from our oldest segment (on an
		// empty master that is 0 all the same).
		next = h.b.store.MinPhysicalOffset()
	}
	h.log.Info("HA: streaming the log to a slave", "slave", c.remote, "from", next, "masterEnd", h.b.store.MaxPhysicalOffset())
	hdr := haHeaderSize
	var ep epochCursor
	if h.sw != nil {
		hdr = haSwitchFrameHeader
		ep.entries = h.sw.epochs.Entries()
	}
	frame := make([]byte, hdr+h.batch)
	idle := time.NewTimer(h.heartbeat)
	defer idle.Stop()
	for ctx.Err() == nil {
		body := frame[hdr:]
		if h.sw != nil {
			// A frame stays within one epoch.
			if end := ep.at(next).End; end-next < int64(len(body)) {
				body = body[:max(end-next, 0)]
			}
		}
		n, err := h.b.store.ReadLog(next, body)
		if err != nil {
			return fmt.Errorf("reading the log at %d for the slave: %w", next, err)
		}
		if n > 0 {
			if err := h.sendFrame(c, frame[:hdr+n], next, &ep); err != nil {
				return err
			}
			next += int64(n)
			idle.Reset(h.heartbeat)
			continue
		}
		select {
		case <-ctx.Done():
		case <-c.wake:
		case <-idle.C:
			if err := h.sendFrame(c, frame[:hdr], next, &ep); err != nil {
				return err
			}
			idle.Reset(h.heartbeat)
		}
	}
	return nil
}

// sendFrame fills in a frame's header and writes it, recording for the
// caught-up check what the slave has been sent.
func (h *haMaster) sendFrame(c *haConn, frame []byte, offset int64, ep *epochCursor) error {
	if h.sw == nil {
		return h.writeFrame(c, frame, offset)
	}
	h.mu.Lock()
	if !c.marked {
		c.markEnd, c.markAt, c.marked = h.b.store.MaxPhysicalOffset(), time.Now(), true
	}
	h.mu.Unlock()
	e := ep.at(offset)
	putSwitchFrame(frame, switchFrame{size: len(frame) - haSwitchFrameHeader, offset: offset, epoch: e.Epoch, epochStart: e.Start, confirm: h.confirmOffset()})
	if err := c.nc.SetWriteDeadline(time.Now().Add(h.housekeeping)); err != nil {
		return err
	}
	_, err := c.nc.Write(frame)
	return err
}

// writeFrame fills in frame's header (offset, body length) and sends it.
// The write deadline keeps a stalled slave from holding the streamer
// forever.
func (h *haMaster) writeFrame(c *haConn, frame []byte, offset int64) error {
	putHAHeader(frame, offset, len(frame)-haHeaderSize)
	if err := c.nc.SetWriteDeadline(time.Now().Add(h.housekeeping)); err != nil {
		return err
	}
	_, err := c.nc.Write(frame)
	return err
}

// wake tells every streamer that the log grew. It runs on the append path
// (the store's arrival listener), so it only does non-blocking sends.
func (h *haMaster) wake() {
	for _, ch := range *h.wakers.Load() {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}

func (h *haMaster) publishWakersLocked() {
	ws := make([]chan struct{}, 0, len(h.conns))
	for c := range h.conns {
		ws = append(ws, c.wake)
	}
	h.wakers.Store(&ws)
}

// ack records a slave's report and answers the sends it makes safe.
func (h *haMaster) ack(c *haConn, off int64) {
	h.mu.Lock()
	c.acked = off
	h.acked = h.maxAckLocked()
	var proposal []int64
	if h.sw != nil {
		now := time.Now()
		if c.marked && off >= c.markEnd {
			c.caughtUp, c.marked = c.markAt, false
		}
		proposal = h.maybeExpandLocked(c, now)
	}
	done, fence, fenced := h.settleLocked()
	h.mu.Unlock()
	h.finish(done, fence, fenced)
	if proposal != nil {
		h.sw.propose(proposal)
	}
}

// drop forgets a closed slave connection.
func (h *haMaster) drop(c *haConn) {
	h.mu.Lock()
	delete(h.conns, c)
	h.acked = h.maxAckLocked()
	h.publishWakersLocked()
	var proposal []int64
	if h.sw != nil && h.serving {
		proposal = h.dropMemberLocked(c)
	}
	h.mu.Unlock()
	if proposal != nil {
		h.sw.propose(proposal)
	}
}

func (h *haMaster) maxAckLocked() int64 {
	acked := int64(-1)
	for c := range h.conns {
		acked = max(acked, c.acked)
	}
	return acked
}

// releaseLocked removes and returns the waiters the acknowledged offset
// covers: a prefix of the list, which is ordered by end.
func (h *haMaster) releaseLocked() []*replicaWaiter {
	safe := h.safeLocked()
	k := 0
	for k < len(h.waiters) && h.waiters[k].end <= safe {
		k++
	}
	if k == 0 {
		return nil
	}
	done := slices.Clone(h.waiters[:k])
	n := copy(h.waiters, h.waiters[k:])
	clear(h.waiters[n:])
	h.waiters = h.waiters[:n]
	if n == 0 && h.armed {
		h.timer.Stop()
		h.armed = false
	}
	return done
}

// awaitReplica calls answer once a slave acknowledged end: with Success,
// with FlushSlaveTimeout after syncFlushTimeout, or at once with
// SlaveNotAvailable when no slave is attached or the closest one lags more
// than haMaxGapNotInSync behind (upstream's isSlaveOK). It never blocks;
// answer runs on whichever goroutine settles the wait.
func (h *haMaster) awaitReplica(end int64, answer func(code int16)) {
	now := time.Now()
	h.mu.Lock()
	switch {
	case h.sw != nil:
		// Controller mode: wait for the SyncStateSet (or inSyncReplicas),
		// however far behind it is, until syncFlushTimeout.
		if !h.serving {
			h.mu.Unlock()
			answer(remoting.FlushSlaveTimeout)
			return
		}
		if h.safeLocked() >= end {
			h.mu.Unlock()
			answer(remoting.Success)
			return
		}
	case h.closed || h.acked < 0 || end-h.acked >= h.maxGap:
		h.mu.Unlock()
		answer(remoting.SlaveNotAvailable)
		return
	case h.acked >= end:
		h.mu.Unlock()
		answer(remoting.Success)
		return
	}
	w := &replicaWaiter{end: end, deadline: now.Add(h.syncTimeout), answer: answer}
	// Sends from several event loops finish nearly, not exactly, in log
	// order: insert from the tail.
	i := len(h.waiters)
	for i > 0 && h.waiters[i-1].end > end {
		i--
	}
	h.waiters = slices.Insert(h.waiters, i, w)
	// Deadlines only grow, so an armed timer already fires early enough.
	if !h.armed {
		h.armed = true
		h.timer.Reset(h.syncTimeout)
	}
	h.mu.Unlock()
	h.wake()
}

// expire answers every waiter whose deadline passed with FLUSH_SLAVE_TIMEOUT
// (the message is stored on the master all the same) and re-arms the timer
// for the next deadline. It runs on the timer's goroutine.
func (h *haMaster) expire() {
	now := time.Now()
	h.mu.Lock()
	var late []*replicaWaiter
	kept := h.waiters[:0]
	var next time.Time
	for _, w := range h.waiters {
		if !w.deadline.After(now) {
			late = append(late, w)
			continue
		}
		kept = append(kept, w)
		if next.IsZero() || w.deadline.Before(next) {
			next = w.deadline
		}
	}
	clear(h.waiters[len(kept):])
	h.waiters = kept
	h.armed = len(kept) > 0 && !h.closed
	if h.armed {
		h.timer.Reset(next.Sub(now))
	}
	acked := h.acked
	h.mu.Unlock()
	if len(late) > 0 {
		h.log.Warn("HA: sends timed out waiting for a slave", "sends", len(late), "slaveAcked", acked, "timeout", h.syncTimeout)
	}
	for _, w := range late {
		w.answer(remoting.FlushSlaveTimeout)
	}
}

// close stops accepting slaves, drops the connected ones, answers every
// waiting send with FLUSH_SLAVE_TIMEOUT (stored, not confirmed on a slave)
// and waits for the goroutines up to ctx.
func (h *haMaster) close(ctx context.Context) error {
	h.mu.Lock()
	h.closed = true
	waiters := h.waiters
	h.waiters = nil
	h.timer.Stop()
	h.armed = false
	conns := make([]*haConn, 0, len(h.conns))
	for c := range h.conns {
		conns = append(conns, c)
	}
	h.mu.Unlock()
	if h.ln != nil {
		h.ln.Close()
	}
	for _, c := range conns {
		c.nc.Close()
	}
	for _, w := range waiters {
		w.answer(remoting.FlushSlaveTimeout)
	}
	done := make(chan struct{})
	go func() { h.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("broker: waiting for HA connections: %w", ctx.Err())
	}
}

func (h *haMaster) isClosed() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.closed
}

// logDrop reports why a slave connection ended, at a level that matches:
// protocol violations are errors, a slave ahead of us a warning, a slave
// that hung up or a shutdown routine.
func (h *haMaster) logDrop(c *haConn, readErr, writeErr error) {
	err := readErr
	if err == nil || errors.Is(err, net.ErrClosed) {
		err = writeErr
	}
	switch {
	case h.isClosed():
		h.log.Debug("HA: slave connection closed at shutdown", "slave", c.remote)
	case errors.Is(err, errSlaveAhead):
		h.log.Warn("HA: dropping a slave whose log is ahead of the master's", "slave", c.remote, "err", err)
	case errors.Is(err, errHAStream):
		h.log.Error("HA: dropping a slave that broke the protocol", "slave", c.remote, "err", err)
	case errors.Is(err, store.ErrNotFound):
		h.log.Error("HA: the slave needs log bytes the master no longer holds; rebuild it from an empty store", "slave", c.remote, "err", err)
	case err == nil, errors.Is(err, io.EOF), errors.Is(err, net.ErrClosed):
		h.log.Info("HA: slave disconnected", "slave", c.remote)
	default:
		h.log.Warn("HA: slave connection failed", "slave", c.remote, "err", err)
	}
}
