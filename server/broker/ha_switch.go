package broker

import (
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"slices"
	"time"

	"github.com/rocketgo/rocketgo/remoting"
	"github.com/rocketgo/rocketgo/server/replicas"
)

// In controller mode replication follows upstream's AutoSwitchHAService
// protocol, which adds a handshake and epochs to the classic stream so a
// slave can find where its log and its (possibly new) master's agree and
// truncate the rest before it replicates:
//
//	slave → master handshake  state=HANDSHAKE(1) int32, flags int32, slave broker id int64
//	master → slave handshake  state int32, body size int32, master max offset int64, master epoch int32,
//	                          body: one (epoch int32, start offset int64) per epoch-file entry
//	slave → master report     state=TRANSFER(2) int32, log end int64 (first one: where to start)
//	master → slave frame      state int32, body size int32, offset int64, epoch int32,
//	                          epoch start offset int64, confirm offset int64, body: log bytes
//
// A frame never spans two epochs, so the slave records each new epoch's
// start in its own epoch file before it appends the epoch's first bytes.
// The confirm offset is the smallest log end among the SyncStateSet; a
// slave limits its readers to it, as the master does.
//
// The master tracks, per slave, its broker id, acknowledged offset and the
// last time it had caught up; from those it shrinks the SyncStateSet
// (a slave behind for haMaxTimeSlaveNotCatchup, or gone) and expands it (a
// slave that reached the confirm offset within the current epoch), both
// through the controller. Until the controller commits a change the
// master waits for the union of the old and the proposed set, so a master
// cut off from the controller keeps waiting for slaves it cannot reach
// rather than acknowledging alone.

const (
	haStateHandshake = 1
	haStateTransfer  = 2

	haHelloSize          = 4 + 4 + 8             // slave handshake
	haSwitchHelloHeader  = 4 + 4 + 8 + 4         // master handshake header
	haEpochEntrySize     = 4 + 8                 // one epoch in the master's handshake body
	haSwitchReportSize   = 4 + 8                 // slave report
	haSwitchFrameHeader  = 4 + 4 + 8 + 4 + 8 + 8 // master frame header
	maxHandshakeEntries  = 1 << 16               // bounds what a slave accepts
	expandProposalPacing = time.Second           // one expansion proposal per slave per pacing
)

// haSwitch is the controller-mode state of an haMaster (nil in classic
// mode). It is guarded by haMaster.mu.
type haSwitch struct {
	selfID  int64
	allAck  bool          // allAckInSyncStateSet
	inSync  int           // inSyncReplicas
	maxLag  time.Duration // haMaxTimeSlaveNotCatchup
	epochs  *replicas.EpochFile
	propose func(members []int64) // asks the controller for a new SyncStateSet

	local      []int64 // the committed SyncStateSet
	remote     []int64 // a proposed one not yet committed
	syncing    bool
	confirm    int64 // offset every member of the set holds; -1 = not known yet
	epochStart int64 // where the current epoch's data begins
	proposed   map[int64]time.Time
}

// members is the set sends wait for: the committed one, plus the proposed
// one while a change is pending.
func (s *haSwitch) members() []int64 {
	if !s.syncing {
		return s.local
	}
	u := append(slices.Clone(s.local), s.remote...)
	slices.Sort(u)
	return slices.Compact(u)
}

// markSyncing records a proposal that the controller has yet to commit.
func (s *haSwitch) markSyncing(proposal []int64) {
	s.remote = slices.Clone(proposal)
	s.syncing = true
}

// beginTerm resets the controller-mode state when this broker becomes
// master of a new epoch.
func (h *haMaster) beginTerm(selfID int64, sss []int64, epochStart int64) {
	h.mu.Lock()
	s := h.sw
	s.selfID = selfID
	s.local, s.remote, s.syncing = normalizeIDs(sss), nil, false
	s.confirm = epochStart // the new master's log up to here is the set's history
	s.epochStart = epochStart
	s.proposed = map[int64]time.Time{}
	h.serving = true
	done, fence, fenced := h.settleLocked()
	h.mu.Unlock()
	h.finish(done, fence, fenced)
}

// setSyncStateSet installs the set the controller committed.
func (h *haMaster) setSyncStateSet(members []int64) {
	h.mu.Lock()
	h.changeSetLocked(func() { h.sw.local, h.sw.remote, h.sw.syncing = normalizeIDs(members), nil, false })
	done, fence, fenced := h.settleLocked()
	h.mu.Unlock()
	h.finish(done, fence, fenced)
}

// shrink proposes the committed set without the slaves that are gone or
// have not caught up within haMaxTimeSlaveNotCatchup.
func (h *haMaster) shrink(now time.Time) []int64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	s := h.sw
	next := slices.DeleteFunc(slices.Clone(s.local), func(id int64) bool {
		if id == s.selfID {
			return false
		}
		c := h.connOfLocked(id)
		return c == nil || now.Sub(c.caughtUp) > s.maxLag
	})
	if !slices.Contains(next, s.selfID) {
		next = append(next, s.selfID)
		slices.Sort(next)
	}
	if !slices.Equal(next, s.local) {
		h.changeSetLocked(func() { s.markSyncing(next) })
	}
	return next
}

// inSyncReplicas counts the set sends are acknowledged against, as
// upstream's inSyncReplicasNums.
func (h *haMaster) inSyncReplicas() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.sw.syncing {
		return max(len(h.sw.local), len(h.sw.remote))
	}
	return len(h.sw.local)
}

func (h *haMaster) connOfLocked(id int64) *haConn {
	for c := range h.conns {
		if c.slaveID == id && c.acked >= 0 {
			return c
		}
	}
	return nil
}

// safeLocked is the offset up to which stored sends may be acknowledged:
// in classic mode the furthest slave's acknowledgement; in controller mode
// with allAckInSyncStateSet every member's, otherwise inSyncReplicas − 1
// slaves'. math.MaxInt64 means no slave needs to acknowledge.
func (h *haMaster) safeLocked() int64 {
	s := h.sw
	if s == nil {
		return h.acked
	}
	if s.allAck {
		safe := int64(math.MaxInt64)
		for _, id := range s.members() {
			if id == s.selfID {
				continue
			}
			c := h.connOfLocked(id)
			if c == nil {
				return -1
			}
			safe = min(safe, c.acked)
		}
		return safe
	}
	need := s.inSync - 1
	if need <= 0 {
		return math.MaxInt64
	}
	acks := make([]int64, 0, len(h.conns))
	for c := range h.conns {
		acks = append(acks, c.acked)
	}
	if len(acks) < need {
		return -1
	}
	slices.Sort(acks)
	return acks[len(acks)-need]
}

// settleLocked releases the waiters the current acknowledgements cover
// and, in controller mode, advances the confirm offset. It returns the
// released waiters and the read fence to set once mu is released (-1: no
// fence).
func (h *haMaster) settleLocked() (done []*replicaWaiter, fence int64, fenced bool) {
	done = h.releaseLocked()
	s := h.sw
	if s == nil {
		return done, 0, false
	}
	if !s.allAck || len(s.members()) <= 1 {
		// Every stored record is acknowledged as soon as it is stored.
		s.confirm = max(s.confirm, h.b.store.MaxPhysicalOffset())
		return done, -1, true
	}
	if safe := h.safeLocked(); safe != math.MaxInt64 && safe > s.confirm {
		s.confirm = safe
	}
	return done, max(s.confirm, 0), true
}

// changeSetLocked applies f, a change of the set sends wait for. Before a
// single-member set grows, everything stored so far was acknowledged
// alone and so counts as confirmed.
func (h *haMaster) changeSetLocked(f func()) {
	if s := h.sw; !s.allAck || len(s.members()) <= 1 {
		s.confirm = max(s.confirm, h.b.store.MaxPhysicalOffset())
	}
	f()
}

// finish answers released waiters and moves the read fence, outside mu.
func (h *haMaster) finish(done []*replicaWaiter, fence int64, fenced bool) {
	for _, w := range done {
		w.answer(remoting.Success)
	}
	if fenced && h.onConfirm != nil {
		h.onConfirm(fence)
	}
}

// confirmOffset is what a master tells its slaves and the controller.
func (h *haMaster) confirmOffset() int64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.sw == nil || !h.sw.allAck || len(h.sw.members()) <= 1 {
		return h.b.store.MaxPhysicalOffset()
	}
	return max(h.sw.confirm, 0)
}

// maybeExpandLocked proposes adding a slave that caught up: it holds the
// confirm offset and has data of the current epoch.
func (h *haMaster) maybeExpandLocked(c *haConn, now time.Time) []int64 {
	s := h.sw
	if c.slaveID < 1 || slices.Contains(s.local, c.slaveID) || (s.syncing && slices.Contains(s.remote, c.slaveID)) {
		return nil
	}
	confirm := s.confirm
	if !s.allAck || len(s.members()) <= 1 {
		confirm = h.b.store.MaxPhysicalOffset()
	}
	if c.acked < confirm || c.acked < s.epochStart {
		return nil
	}
	if last, ok := s.proposed[c.slaveID]; ok && now.Sub(last) < expandProposalPacing {
		return nil
	}
	s.proposed[c.slaveID] = now
	next := normalizeIDs(append(slices.Clone(s.local), c.slaveID))
	h.changeSetLocked(func() { s.markSyncing(next) })
	return next
}

// dropMemberLocked handles a slave connection that closed: a member of the
// SyncStateSet leaves it (proposed; the set sends wait for stays the union
// until the controller commits).
func (h *haMaster) dropMemberLocked(c *haConn) []int64 {
	s := h.sw
	if c.slaveID < 1 || !slices.Contains(s.local, c.slaveID) || h.connOfLocked(c.slaveID) != nil {
		return nil
	}
	next := slices.DeleteFunc(slices.Clone(s.local), func(id int64) bool { return id == c.slaveID })
	h.changeSetLocked(func() { s.markSyncing(next) })
	return next
}

func normalizeIDs(ids []int64) []int64 {
	out := slices.Clone(ids)
	slices.Sort(out)
	return slices.Compact(out)
}

// putSwitchHello encodes the master's handshake.
func putSwitchHello(maxOffset int64, epoch int32, entries []replicas.Entry) []byte {
	b := make([]byte, haSwitchHelloHeader+len(entries)*haEpochEntrySize)
	binary.BigEndian.PutUint32(b[0:], haStateHandshake)
	binary.BigEndian.PutUint32(b[4:], uint32(len(entries)*haEpochEntrySize))
	binary.BigEndian.PutUint64(b[8:], uint64(maxOffset))
	binary.BigEndian.PutUint32(b[16:], uint32(epoch))
	p := b[haSwitchHelloHeader:]
	for _, e := range entries {
		binary.BigEndian.PutUint32(p, uint32(e.Epoch))
		binary.BigEndian.PutUint64(p[4:], uint64(e.Start))
		p = p[haEpochEntrySize:]
	}
	return b
}

// parseSwitchHelloHeader decodes the master's handshake header.
func parseSwitchHelloHeader(b []byte) (size int, maxOffset int64, epoch int32, err error) {
	state := int32(binary.BigEndian.Uint32(b[0:]))
	size = int(int32(binary.BigEndian.Uint32(b[4:])))
	maxOffset = int64(binary.BigEndian.Uint64(b[8:]))
	epoch = int32(binary.BigEndian.Uint32(b[16:]))
	if state != haStateHandshake || size < 0 || size%haEpochEntrySize != 0 || size/haEpochEntrySize > maxHandshakeEntries || maxOffset < 0 {
		return 0, 0, 0, fmt.Errorf("%w: handshake state %d, body %d bytes, max offset %d", errHAStream, state, size, maxOffset)
	}
	return size, maxOffset, epoch, nil
}

// parseEpochEntries decodes the master's handshake body; starts must
// ascend with the epochs.
func parseEpochEntries(b []byte) ([]replicas.Entry, error) {
	out := make([]replicas.Entry, 0, len(b)/haEpochEntrySize)
	for ; len(b) >= haEpochEntrySize; b = b[haEpochEntrySize:] {
		e := replicas.Entry{Epoch: int32(binary.BigEndian.Uint32(b)), Start: int64(binary.BigEndian.Uint64(b[4:]))}
		if e.Start < 0 || (len(out) > 0 && (e.Epoch <= out[len(out)-1].Epoch || e.Start < out[len(out)-1].Start)) {
			return nil, fmt.Errorf("%w: epoch entries out of order", errHAStream)
		}
		out = append(out, e)
	}
	return out, nil
}

// switchFrame is a decoded master frame header.
type switchFrame struct {
	size       int
	offset     int64
	epoch      int32
	epochStart int64
	confirm    int64
}

func putSwitchFrame(b []byte, f switchFrame) {
	binary.BigEndian.PutUint32(b[0:], haStateTransfer)
	binary.BigEndian.PutUint32(b[4:], uint32(f.size))
	binary.BigEndian.PutUint64(b[8:], uint64(f.offset))
	binary.BigEndian.PutUint32(b[16:], uint32(f.epoch))
	binary.BigEndian.PutUint64(b[20:], uint64(f.epochStart))
	binary.BigEndian.PutUint64(b[28:], uint64(f.confirm))
}

func parseSwitchFrame(b []byte) (switchFrame, error) {
	f := switchFrame{
		size:       int(int32(binary.BigEndian.Uint32(b[4:]))),
		offset:     int64(binary.BigEndian.Uint64(b[8:])),
		epoch:      int32(binary.BigEndian.Uint32(b[16:])),
		epochStart: int64(binary.BigEndian.Uint64(b[20:])),
		confirm:    int64(binary.BigEndian.Uint64(b[28:])),
	}
	if state := binary.BigEndian.Uint32(b[0:]); state != haStateTransfer || f.size < 0 || f.size > maxHAFrame ||
		f.offset < 0 || f.epochStart < 0 || f.epochStart > f.offset || f.confirm < 0 {
		return f, fmt.Errorf("%w: frame state %d, %d bytes at %d, epoch %d from %d", errHAStream, state, f.size, f.offset, f.epoch, f.epochStart)
	}
	return f, nil
}

// epochCursor finds the epoch of an offset in a master's entries; streams
// move forward, so it remembers where it looked last.
type epochCursor struct {
	entries []replicas.Entry
	i       int
}

// at returns the entry whose range holds off (the first entry when off is
// below every start, which only a log older than its epoch file has).
func (e *epochCursor) at(off int64) replicas.Entry {
	if len(e.entries) == 0 {
		return replicas.Entry{Epoch: 0, Start: 0, End: math.MaxInt64}
	}
	if e.i >= len(e.entries) || e.entries[e.i].Start > off {
		e.i = 0
	}
	for e.i+1 < len(e.entries) && e.entries[e.i].End <= off {
		e.i++
	}
	return e.entries[e.i]
}

// readHello reads a slave's handshake, records its broker id and tells the
// streamer to answer with the epochs.
func (h *haMaster) readHello(c *haConn) error {
	var b [haHelloSize]byte
	if err := c.nc.SetReadDeadline(time.Now().Add(h.housekeeping)); err != nil {
		return err
	}
	if _, err := io.ReadFull(c.nc, b[:]); err != nil {
		return err
	}
	state, id := binary.BigEndian.Uint32(b[0:]), int64(binary.BigEndian.Uint64(b[8:]))
	if state != haStateHandshake || id < 1 {
		return fmt.Errorf("%w: slave handshake in state %d with broker id %d", errHAStream, state, id)
	}
	h.mu.Lock()
	c.slaveID = id
	h.mu.Unlock()
	c.hello <- struct{}{}
	return nil
}

// writeHello answers the handshake with the master's log end and epochs.
func (h *haMaster) writeHello(c *haConn) error {
	entries := h.sw.epochs.Entries()
	epoch := int32(0)
	if len(entries) > 0 {
		epoch = entries[len(entries)-1].Epoch
	}
	if err := c.nc.SetWriteDeadline(time.Now().Add(h.housekeeping)); err != nil {
		return err
	}
	_, err := c.nc.Write(putSwitchHello(h.b.store.MaxPhysicalOffset(), epoch, entries))
	return err
}

// setServing starts or stops taking slaves (controller mode): a demoted master
// drops its slaves and answers its waiting sends FLUSH_SLAVE_TIMEOUT —
// stored here, but not known to be on the new master.
func (h *haMaster) setServing(on bool) {
	h.mu.Lock()
	h.serving = on
	var conns []*haConn
	var waiters []*replicaWaiter
	if !on {
		for c := range h.conns {
			conns = append(conns, c)
		}
		waiters, h.waiters = h.waiters, nil
	}
	h.mu.Unlock()
	for _, c := range conns {
		c.nc.Close()
	}
	for _, w := range waiters {
		w.answer(remoting.FlushSlaveTimeout)
	}
}
