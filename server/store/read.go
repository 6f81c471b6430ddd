package store

import (
	"bytes"
	"fmt"

	"github.com/rocketgo/rocketgo/message"
)

// GetStatus is the outcome of GetMessages, named and ordered as RocketMQ's
// GetMessageStatus so the broker can map it onto pull response codes
// (OffsetTooSmall and the overflows become PULL_OFFSET_MOVED / retry).
type GetStatus int

const (
	Found               GetStatus = iota // at least one message returned
	NoMatchedMessage                     // entries scanned, none passed the filter
	MessageWasRemoving                   // entries point at deleted commit-log data
	OffsetFoundNull                      // the entry's file is gone (deleted meanwhile)
	OffsetOverflowBadly                  // offset > max offset
	OffsetOverflowOne                    // offset == max offset: caught up, long-poll
	OffsetTooSmall                       // offset < min offset: retention moved it
	NoMatchedLogicQueue                  // no such topic/queue
	NoMessageInQueue                     // the queue is empty
)

var getStatusNames = [...]string{"FOUND", "NO_MATCHED_MESSAGE", "MESSAGE_WAS_REMOVING",
	"OFFSET_FOUND_NULL", "OFFSET_OVERFLOW_BADLY", "OFFSET_OVERFLOW_ONE", "OFFSET_TOO_SMALL",
	"NO_MATCHED_LOGIC_QUEUE", "NO_MESSAGE_IN_QUEUE"}

func (s GetStatus) String() string {
	if s >= 0 && int(s) < len(getStatusNames) {
		return getStatusNames[s]
	}
	return fmt.Sprintf("GetStatus(%d)", int(s))
}

// maxScanEntries bounds the consume-queue entries one GetMessages call
// inspects when a filter rejects most of them (RocketMQ's
// maxFilterMessageCount).
const maxScanEntries = 16000

// GetResult carries zero-copy slices of the commit log. The slices stay
// valid until Release, which must be called exactly once; afterwards the
// result must not be touched (it is pooled).
type GetResult struct {
	Status          GetStatus
	NextBeginOffset int64
	MinOffset       int64
	MaxOffset       int64
	Buffers         [][]byte // one stored record each, aliasing the mapping
	MsgCount        int
	BufferTotalSize int
	// ReachedPhyOffset is the commit-log offset of the last entry the read
	// looked at, -1 when it looked at none. The commit log's end minus it
	// is how far the reader trails the writer: the broker suggests pulling
	// from a slave when that backlog no longer fits in memory (upstream's
	// GetMessageResult.suggestPullingFromSlave).
	ReachedPhyOffset int64

	s    *Store
	held []*mappedFile
}

// Release unpins the commit-log files behind Buffers.
func (r *GetResult) Release() {
	if r == nil || r.s == nil {
		return
	}
	for i, f := range r.held {
		f.release()
		r.held[i] = nil
	}
	clear(r.Buffers)
	s := r.s
	*r = GetResult{Buffers: r.Buffers[:0], held: r.held[:0]}
	s.results.Put(r)
}

func (s *Store) newResult() *GetResult {
	r := s.results.Get().(*GetResult)
	r.s = s
	r.ReachedPhyOffset = -1
	return r
}

// pin returns the segment holding phy, pinned in r (each file once).
func (s *Store) pin(r *GetResult, last *mappedFile, phy int64) *mappedFile {
	if last != nil && phy >= last.base && phy < last.base+last.size {
		return last
	}
	f := s.cl.load().find(phy, s.cl.size)
	if f == nil || !f.hold() {
		return nil
	}
	r.held = append(r.held, f)
	return f
}

// GetMessages reads up to maxCount messages (and about maxBytes, but always
// at least one) from a queue starting at offset. filter, when not nil, sees
// each entry's tag code; rejected entries are skipped. The read never
// crosses a consume-queue file; NextBeginOffset says where to continue.
func (s *Store) GetMessages(topic string, queueID int32, offset int64, maxCount, maxBytes int, filter func(tagsCode int64) bool) (*GetResult, error) {
	return s.GetMatching(topic, queueID, offset, maxCount, maxBytes, Filter{TagsCode: filter})
}

// Filter selects messages during a read. Either function may be nil.
type Filter struct {
	// TagsCode sees each consume-queue entry's tag code: the cheap first
	// pass, which needs no commit-log access.
	TagsCode func(tagsCode int64) bool
	// Properties sees the raw property bytes (key 0x01 value 0x02 ...) of
	// each message that passed TagsCode, for filters on message properties
	// (SQL92). The slice aliases the log and must not be kept.
	Properties func(props []byte) bool
}

// GetMatching is GetMessages with a filter that may also look at each
// message's properties. Rejected messages are skipped; when none of the
// entries scanned matches, Status is NoMatchedMessage and NextBeginOffset
// moves past them, so the next read continues after them.
func (s *Store) GetMatching(topic string, queueID int32, offset int64, maxCount, maxBytes int, filter Filter) (*GetResult, error) {
	if s.isClosed.Load() {
		return nil, ErrClosed
	}
	r := s.newResult()
	cq := s.queue(topic, queueID)
	if cq == nil {
		r.Status = NoMatchedLogicQueue
		return r, nil
	}
	minOff, maxOff := cq.min.Load(), s.visibleMax(cq)
	r.MinOffset, r.MaxOffset = minOff, maxOff
	switch {
	case maxOff == 0:
		r.Status, r.NextBeginOffset = NoMessageInQueue, 0
		return r, nil
	case offset < minOff:
		r.Status, r.NextBeginOffset = OffsetTooSmall, minOff
		return r, nil
	case offset == maxOff:
		r.Status, r.NextBeginOffset = OffsetOverflowOne, offset
		return r, nil
	case offset > maxOff:
		r.Status, r.NextBeginOffset = OffsetOverflowBadly, maxOff
		return r, nil
	}
	if maxCount <= 0 {
		maxCount = 1
	}
	f := cq.files.load().find(offset*cqEntrySize, cq.files.size)
	if f == nil || !f.hold() {
		// Retention removed the file after we read min: skip to the next.
		r.Status = OffsetFoundNull
		r.NextBeginOffset = max(cq.min.Load(), (offset*cqEntrySize-offset*cqEntrySize%cq.files.size+cq.files.size)/cqEntrySize)
		return r, nil
	}
	defer f.release()
	end := min(maxOff, (f.base+cq.files.size)/cqEntrySize, offset+maxScanEntries)
	clMin := s.clMin.Load()
	status := NoMatchedMessage
	var seg *mappedFile
	i := offset
	for ; i < end; i++ {
		phy, size, tags := cqEntry(f, i)
		r.ReachedPhyOffset = phy
		if phy < clMin {
			if r.MsgCount == 0 {
				status = MessageWasRemoving
			}
			continue
		}
		if r.MsgCount >= maxCount || (r.MsgCount > 0 && r.BufferTotalSize+int(size) > maxBytes) {
			break
		}
		if size == holeSize || (filter.TagsCode != nil && !filter.TagsCode(tags)) {
			continue
		}
		seg = s.pin(r, seg, phy)
		if seg == nil {
			if phy < s.clMin.Load() {
				// Retention deleted the segment after clMin was read.
				if r.MsgCount == 0 {
					status = MessageWasRemoving
				}
			} else {
				// No segment was ever written there.
				s.entryDamaged(phy, topic, queueID, i, errEntryBounds)
			}
			continue
		}
		// Entries that predate this process are checked against their
		// records (see checkEntry). One that fails is skipped, as RocketMQ
		// skips an entry whose log bytes it cannot get: the good records
		// around it are still returned, and the consumer moves past it
		// rather than stalling on it forever.
		if i < cq.verifyBelow {
			if err := s.checkEntry(seg, phy, size, topic, queueID, i); err != nil {
				s.entryDamaged(phy, topic, queueID, i, err)
				continue
			}
		}
		pos := phy - seg.base
		if filter.Properties != nil {
			rec, err := message.ParseStored(seg.data[pos:pos+int64(size)], false)
			if err != nil || !filter.Properties(rec.Properties) {
				continue
			}
		}
		r.Buffers = append(r.Buffers, seg.data[pos:pos+int64(size):pos+int64(size)])
		r.MsgCount++
		r.BufferTotalSize += int(size)
		status = Found
	}
	r.Status, r.NextBeginOffset = status, i
	return r, nil
}

// MinOffset is the first readable queue offset (0 for an unknown queue).
func (s *Store) MinOffset(topic string, queueID int32) int64 {
	if cq := s.queue(topic, queueID); cq != nil {
		return cq.min.Load()
	}
	return 0
}

// MaxOffset is the queue offset the next message will get (the first one
// a read fence hides, when one is set).
func (s *Store) MaxOffset(topic string, queueID int32) int64 {
	if cq := s.queue(topic, queueID); cq != nil {
		return s.visibleMax(cq)
	}
	return 0
}

// storeTimeAt reads the store timestamp of the record behind a queue entry.
func (s *Store) storeTimeAt(cq *consumeQueue, off int64) (int64, bool) {
	phy, size, _, ok := cq.lookup(off)
	if !ok {
		return 0, false
	}
	f := s.cl.load().find(phy, s.cl.size)
	if f == nil || !f.hold() {
		return 0, false
	}
	defer f.release()
	pos := phy - f.base
	if size < minRecordLen || pos+int64(size) > f.size {
		return 0, false // a hole, or a damaged entry
	}
	rec := f.data[pos : pos+int64(size)]
	sys := int32(get32(rec[message.OffSysFlag:]))
	p := message.StoreTimestampOffset(sys)
	if p+8 > len(rec) {
		return 0, false
	}
	return int64(uint64(get32(rec[p:]))<<32 | uint64(get32(rec[p+4:]))), true
}

func get32(b []byte) uint32 {
	_ = b[3]
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
}

// OffsetByTime returns the first queue offset whose message was stored at or
// after ts (ms), by binary search; MaxOffset when every message is older.
func (s *Store) OffsetByTime(topic string, queueID int32, ts int64) int64 {
	cq := s.queue(topic, queueID)
	if cq == nil {
		return 0
	}
	lo, hi := cq.min.Load(), cq.max.Load()
	for lo < hi {
		mid := lo + (hi-lo)/2
		t, ok := s.storeTimeAt(cq, mid)
		if !ok { // deleted under us: search above it
			lo = mid + 1
			continue
		}
		if t < ts {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	return lo
}

// EarliestStoreTime is the store timestamp of the queue's first message.
func (s *Store) EarliestStoreTime(topic string, queueID int32) (int64, error) {
	cq := s.queue(topic, queueID)
	if cq == nil {
		return 0, fmt.Errorf("%w: queue %s/%d", ErrNotFound, topic, queueID)
	}
	t, ok := s.storeTimeAt(cq, cq.min.Load())
	if !ok {
		return 0, fmt.Errorf("%w: queue %s/%d is empty", ErrNotFound, topic, queueID)
	}
	return t, nil
}

// MessageAt returns the record at a physical offset (VIEW_MESSAGE_BY_ID).
func (s *Store) MessageAt(phy int64) (*GetResult, error) {
	if s.isClosed.Load() {
		return nil, ErrClosed
	}
	if phy < s.clMin.Load() || phy >= s.wrote.Load() {
		return nil, fmt.Errorf("%w: physical offset %d outside [%d, %d)", ErrNotFound, phy, s.clMin.Load(), s.wrote.Load())
	}
	r := s.newResult()
	f := s.pin(r, nil, phy)
	if f == nil {
		r.Release()
		return nil, fmt.Errorf("%w: physical offset %d was deleted", ErrNotFound, phy)
	}
	n, err := recordAt(f, phy, true)
	if err != nil || n < 0 {
		r.Release()
		if err != nil && claimsOffset(f, phy) {
			s.recordDamaged(phy, "damaged record requested by offset: not served", err)
		}
		return nil, fmt.Errorf("%w: no record at physical offset %d", ErrNotFound, phy)
	}
	pos := phy - f.base
	r.Buffers = append(r.Buffers, f.data[pos:pos+int64(n):pos+int64(n)])
	r.Status, r.MsgCount, r.BufferTotalSize = Found, 1, n
	return r, nil
}

// QueryResult holds the messages QueryByKey found; Release as for GetResult.
type QueryResult struct {
	*GetResult
	PhysicalOffsets          []int64
	IndexLastUpdateTimestamp int64
	IndexLastUpdatePhyOffset int64
}

// QueryByKey finds up to max messages of topic carrying key (a KEYS token or
// the UNIQ_KEY) stored within [begin, end] (ms), newest first. Hash
// collisions are filtered out by checking the message itself.
func (s *Store) QueryByKey(topic, key string, max int, begin, end int64) (*QueryResult, error) {
	if s.isClosed.Load() {
		return nil, ErrClosed
	}
	q := &QueryResult{GetResult: s.newResult()}
	q.Status = NoMatchedMessage
	if s.ix == nil || max <= 0 || key == "" {
		return q, nil
	}
	// Over-fetch a little: collisions are dropped below.
	offs, lastTs, lastPhy := s.ix.query(topic, []byte(key), 2*max+8, begin, end)
	q.IndexLastUpdateTimestamp, q.IndexLastUpdatePhyOffset = lastTs, lastPhy
	for _, phy := range offs {
		if q.MsgCount >= max {
			break
		}
		if phy < s.clMin.Load() {
			continue
		}
		f := s.pin(q.GetResult, nil, phy)
		if f == nil {
			continue
		}
		rec, err := message.ParseStored(f.data[phy-f.base:], true)
		if err == nil && rec.PhysicalOffset != phy {
			err = errEntryHeader
		}
		if err != nil {
			if claimsOffset(f, phy) {
				s.recordDamaged(phy, "damaged record found by key: not served", err)
			}
			continue
		}
		if string(rec.Topic) != topic || rec.StoreTimestamp < begin || rec.StoreTimestamp > end || !hasKey(rec.Properties, key) {
			continue
		}
		pos := phy - f.base
		q.Buffers = append(q.Buffers, f.data[pos:pos+int64(rec.TotalSize):pos+int64(rec.TotalSize)])
		q.PhysicalOffsets = append(q.PhysicalOffsets, phy)
		q.MsgCount++
		q.BufferTotalSize += int(rec.TotalSize)
		q.Status = Found
	}
	return q, nil
}

func hasKey(props []byte, key string) bool {
	if v, ok := message.LookupProperty(props, propUniqKey); ok && string(v) == key {
		return true
	}
	v, ok := message.LookupProperty(props, propKeys)
	if !ok {
		return false
	}
	for _, tok := range bytes.Split(v, []byte{' '}) {
		if string(tok) == key {
			return true
		}
	}
	return false
}
