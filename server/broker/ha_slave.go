package broker

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rocketgo/rocketgo/server/replicas"
	"github.com/rocketgo/rocketgo/server/store"
)

// Reconnection pacing of a slave: the first retry comes quickly (a master
// restart, a dropped stream), later ones back off to one attempt per
// haSendHeartbeatInterval, upstream's 5 s.
const (
	haMinBackoff  = 100 * time.Millisecond
	haDialTimeout = 3 * time.Second
)

// haClient is the slave side of replication: one goroutine that keeps a
// connection to the master's HA port, appends what the master streams with
// store.AppendLog and reports how far its log reaches. Any error — I/O, a
// malformed frame, bytes the store refuses — ends the connection; the next
// one starts from the slave's own log end, so nothing is lost or doubled.
type haClient struct {
	b       *Broker
	log     *slog.Logger
	changed chan struct{} // buffered 1: the master address changed

	// Controller mode (ha_switch.go): sw is set, selfID is this broker's
	// id and minEpoch the master epoch the controller announced; a master
	// answering with an older epoch is a stale one.
	sw       bool
	selfID   atomic.Int64
	minEpoch atomic.Int32

	mu         sync.Mutex         // guards master and endSession
	master     string             // the master's HA address; "" = not known yet
	endSession context.CancelFunc // ends the current connection; nil between connections
}

func newHAClient(b *Broker) *haClient {
	return &haClient{b: b, log: b.log, changed: make(chan struct{}, 1)}
}

// setMaster points the slave at a master HA address. A different address
// ends the current connection, so the slave follows a replaced master.
func (c *haClient) setMaster(addr string) {
	c.mu.Lock()
	if addr == c.master {
		c.mu.Unlock()
		return
	}
	old := c.master
	c.master = addr
	end := c.endSession
	c.mu.Unlock()
	c.log.Info("HA: master address set", "from", old, "to", addr)
	if end != nil {
		end()
	}
	select {
	case c.changed <- struct{}{}:
	default:
	}
}

// beginSession records how to end a connection to addr, unless the
// master changed in the meantime.
func (c *haClient) beginSession(addr string, end context.CancelFunc) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.master != addr {
		return false
	}
	c.endSession = end
	return true
}

func (c *haClient) currentMaster() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.master
}

func (c *haClient) finishSession() {
	c.mu.Lock()
	c.endSession = nil
	c.mu.Unlock()
}

// run replicates until ctx ends.
func (c *haClient) run(ctx context.Context) {
	maxBackoff := c.b.cfg.HASendHeartbeatInterval
	backoff := min(haMinBackoff, maxBackoff)
	failures := 0
	for ctx.Err() == nil {
		addr := c.currentMaster()
		if addr == "" {
			select {
			case <-ctx.Done():
				return
			case <-c.changed:
			}
			continue
		}
		sctx, cancel := context.WithCancel(ctx)
		if !c.beginSession(addr, cancel) {
			cancel()
			continue
		}
		progressed, err := c.session(sctx, addr)
		c.finishSession()
		cancel()
		if ctx.Err() != nil {
			return
		}
		if progressed {
			backoff, failures = min(haMinBackoff, maxBackoff), 0
		}
		c.logSessionEnd(addr, err, failures)
		failures++
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
		case <-c.changed:
		case <-t.C:
		}
		t.Stop()
		backoff = min(2*backoff, maxBackoff)
	}
}

// session runs one connection to the master. progressed reports whether
// the master sent at least one well-formed frame.
func (c *haClient) session(ctx context.Context, addr string) (progressed bool, err error) {
	dctx, cancel := context.WithTimeout(ctx, haDialTimeout)
	var nc net.Conn
	if c.b.dialer != nil {
		nc, err = c.b.dialer(dctx, "tcp", addr)
	} else {
		var d net.Dialer
		nc, err = d.DialContext(dctx, "tcp", addr)
	}
	cancel()
	if err != nil {
		return false, err
	}
	defer nc.Close()
	stop := context.AfterFunc(ctx, func() { nc.Close() }) // a shutdown or a new master interrupts reads
	defer stop()
	c.log.Info("HA: connected to master", "master", addr, "offset", c.b.store.MaxPhysicalOffset())
	if c.sw {
		if err := c.handshake(nc); err != nil {
			if ctx.Err() != nil {
				err = nil
			}
			return false, err
		}
	}

	reports := make(chan struct{}, 1)
	rctx, cancel := context.WithCancel(ctx)
	var reportErr error
	reportDone := make(chan struct{})
	go func() {
		defer close(reportDone)
		reportErr = c.report(rctx, nc, reports)
		nc.Close() // a failed report ends the receiver too
	}()
	progressed, err = c.receive(nc, reports)
	cancel()
	nc.Close()
	<-reportDone
	if (err == nil || errors.Is(err, net.ErrClosed)) && reportErr != nil {
		err = reportErr
	}
	if ctx.Err() != nil {
		err = nil // ended on purpose
	}
	return progressed, err
}

// receive reads frames and appends their bytes until the stream fails.
func (c *haClient) receive(nc net.Conn, reports chan<- struct{}) (progressed bool, err error) {
	st := c.b.store
	hdr := make([]byte, haHeaderSize)
	if c.sw {
		hdr = make([]byte, haSwitchFrameHeader)
	}
	var body []byte
	var frame switchFrame
	var lastEpoch int32
	if c.sw {
		lastEpoch = c.b.epochs.LastEpoch()
	}
	for {
		// The master sends at least a heartbeat every haSendHeartbeatInterval;
		// silence for haHousekeepingInterval means it is gone.
		if err := nc.SetReadDeadline(time.Now().Add(c.b.cfg.HAHousekeepingInterval)); err != nil {
			return progressed, err
		}
		if _, err := io.ReadFull(nc, hdr); err != nil {
			return progressed, err
		}
		var off, size int64
		if c.sw {
			if frame, err = parseSwitchFrame(hdr); err != nil {
				return progressed, err
			}
			off, size = frame.offset, int64(frame.size)
		} else {
			off = int64(binary.BigEndian.Uint64(hdr[0:8]))
			size = int64(int32(binary.BigEndian.Uint32(hdr[8:12])))
		}
		if off < 0 || size < 0 || size > maxHAFrame {
			return progressed, fmt.Errorf("%w: frame header with offset %d and length %d", errHAStream, off, size)
		}
		if int64(cap(body)) < size {
			body = make([]byte, size)
		}
		body = body[:size]
		if _, err := io.ReadFull(nc, body); err != nil {
			return progressed, err
		}
		// A non-empty slave must receive exactly the bytes after its end;
		// an empty one adopts the master's starting point (AppendLog checks
		// it is a segment start).
		if local := st.MaxPhysicalOffset(); local != 0 && off != local {
			return progressed, fmt.Errorf("%w: master sent offset %d, the slave's log ends at %d", errHAStream, off, local)
		}
		progressed = true
		if c.sw && size > 0 && frame.epoch != lastEpoch {
			// Record the epoch before its first bytes, so data on disk
			// always has its epoch on disk too.
			if frame.epoch < lastEpoch {
				return progressed, fmt.Errorf("%w: master sent epoch %d after %d", errHAStream, frame.epoch, lastEpoch)
			}
			if err := c.b.epochs.Append(frame.epoch, frame.epochStart); err != nil {
				return progressed, fmt.Errorf("%w: %v", errHAStream, err)
			}
			lastEpoch = frame.epoch
		}
		if size > 0 {
			if err := st.AppendLog(off, body); err != nil {
				return progressed, fmt.Errorf("applying %d bytes at offset %d: %w", size, off, err)
			}
		}
		if c.sw {
			c.b.setReadFence(min(frame.confirm, st.LastRecordEnd()))
		}
		if size == 0 {
			continue // heartbeat
		}
		select {
		case reports <- struct{}{}:
		default: // a report is already due; it will carry the newer end
		}
	}
}

// report writes the slave's log end: at once, after applied bytes
// (coalesced) and every haSendHeartbeatInterval.
func (c *haClient) report(ctx context.Context, nc net.Conn, reports <-chan struct{}) error {
	buf := make([]byte, haReportSize)
	if c.sw {
		buf = make([]byte, haSwitchReportSize)
		binary.BigEndian.PutUint32(buf, haStateTransfer)
	}
	t := time.NewTicker(c.b.cfg.HASendHeartbeatInterval)
	defer t.Stop()
	for {
		binary.BigEndian.PutUint64(buf[len(buf)-8:], uint64(c.b.store.AppliedOffset()))
		if err := nc.SetWriteDeadline(time.Now().Add(c.b.cfg.HAHousekeepingInterval)); err != nil {
			return err
		}
		if _, err := nc.Write(buf); err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return nil
		case <-reports:
		case <-t.C:
		}
	}
}

// logSessionEnd reports why a connection ended. A broken stream is an
// error; an unreachable master is a warning the first time and quiet after
// that until replication makes progress again.
func (c *haClient) logSessionEnd(addr string, err error, failures int) {
	switch {
	case err == nil:
		c.log.Info("HA: connection to master ended; reconnecting", "master", addr)
	case errors.Is(err, errHAStream), errors.Is(err, store.ErrReplicaOffset), errors.Is(err, store.ErrCorruptStore):
		c.log.Error("HA: replication stream broken; reconnecting from the slave's log end", "master", addr, "offset", c.b.store.MaxPhysicalOffset(), "err", err)
	case failures == 0:
		c.log.Warn("HA: connection to master failed; retrying", "master", addr, "err", err)
	default:
		c.log.Debug("HA: connection to master failed; retrying", "master", addr, "failures", failures+1, "err", err)
	}
}

// errNoCommonEpoch reports a slave whose log shares no epoch with its new
// master's: it cannot tell which of its bytes are the master's, so it does
// not replicate until an operator clears its store.
var errNoCommonEpoch = errors.New("broker: the slave's log shares no epoch with the master's")

// handshake is the controller-mode opening (ha_switch.go): send our id,
// read the master's epochs, and truncate our log to the last offset both
// logs agree on before the first report says where to resume.
func (c *haClient) handshake(nc net.Conn) error {
	st := c.b.store
	hello := make([]byte, haHelloSize)
	binary.BigEndian.PutUint32(hello[0:], haStateHandshake)
	binary.BigEndian.PutUint64(hello[8:], uint64(c.selfID.Load()))
	if err := nc.SetWriteDeadline(time.Now().Add(c.b.cfg.HAHousekeepingInterval)); err != nil {
		return err
	}
	if _, err := nc.Write(hello); err != nil {
		return err
	}
	if err := nc.SetReadDeadline(time.Now().Add(c.b.cfg.HAHousekeepingInterval)); err != nil {
		return err
	}
	hdr := make([]byte, haSwitchHelloHeader)
	if _, err := io.ReadFull(nc, hdr); err != nil {
		return err
	}
	size, masterEnd, masterEpoch, err := parseSwitchHelloHeader(hdr)
	if err != nil {
		return err
	}
	body := make([]byte, size)
	if _, err := io.ReadFull(nc, body); err != nil {
		return err
	}
	master, err := parseEpochEntries(body)
	if err != nil {
		return err
	}
	if want := c.minEpoch.Load(); masterEpoch < want {
		return fmt.Errorf("%w: the master answers with epoch %d, the controller announced %d", errHAStream, masterEpoch, want)
	}
	local := c.b.epochs.Entries()
	if len(local) == 0 {
		if st.MaxPhysicalOffset() > st.MinPhysicalOffset() {
			return fmt.Errorf("%w: the slave holds log bytes but no epoch file", errNoCommonEpoch)
		}
		return nil
	}
	point := replicas.ConsistentPoint(local, st.LastRecordEnd(), master, masterEnd)
	if point < 0 {
		return fmt.Errorf("%w: slave epochs %v, master epochs %v", errNoCommonEpoch, local, master)
	}
	if point < st.MaxPhysicalOffset() {
		c.log.Warn("HA: truncating the log to the last offset shared with the master", "from", st.MaxPhysicalOffset(), "to", point, "masterEpoch", masterEpoch)
		if err := st.Truncate(point); err != nil {
			return fmt.Errorf("truncating to %d: %w", point, err)
		}
		c.b.setReadFence(min(c.b.readFence(), point))
	}
	return c.b.epochs.TruncateFromOffset(point)
}
