package store

import (
	"encoding/binary"
	"errors"
	"sync"
	"sync/atomic"

	"github.com/rocketgo/rocketgo/message"
)

// Record validation shared by recovery, the read path and the offline
// checker, and the bookkeeping of the damaged records found.
//
// A record in the commit log is self-describing: TOTALSIZE, MAGIC and
// PHYSICALOFFSET (its own position) frame it, the layout's length fields
// must add up to TOTALSIZE, and BODYCRC covers the body. A consume-queue
// entry (offset, size) is right when the record it points at has that
// size, its own offset, and the entry's topic, queue id and queue offset.

// minRecordLen is the smallest stored record: the fixed fields with IPv4
// hosts, an empty body, a one-byte topic length, an empty topic and an
// empty property string (TestMinRecordLen checks it against the codec).
const minRecordLen = 91

// quarantineMagic replaces MAGIC in a damaged run of bytes that `rocketgo
// store check -repair` found inside the log with intact records after it.
// TOTALSIZE then spans the whole run, so recovery and the checker step over
// it and readers refuse it, while the records after it (and their queue
// offsets) stay. The rest of the damaged bytes are left as they were.
const quarantineMagic uint32 = 0xD15EA5ED

// holeSize is the size field of a hole entry: a queue offset whose record
// recovery found lost to damage (see recoveryWalk.missing). Readers step
// over holes without a word, since recovery logged the damage; the entry's
// position field points at where the damage was found.
const holeSize int32 = -1

// Header mismatches found on the read path. They are static values so a
// pull that meets damage still allocates nothing until it logs.
var (
	errEntryBounds = errors.New("consume-queue entry points outside the commit log")
	errEntryHeader = errors.New("record header does not match its consume-queue entry")
	errEntryTopic  = errors.New("record belongs to another topic")
)

func magicOK(m uint32) bool { return m == message.MagicV1 || m == message.MagicV2 }

func isQuarantined(b []byte) bool {
	return len(b) >= blankLen && get32(b[message.OffMagic:]) == quarantineMagic
}

// claimsOffset reports whether the bytes at phy frame a record that says it
// lives at phy: a lookup by offset (a message id, an index hit) that lands
// there and fails its checks has found damage, whereas one that lands
// anywhere else was only given a wrong offset.
func claimsOffset(f *mappedFile, phy int64) bool {
	pos := phy - f.base
	if pos < 0 || pos+minRecordLen > f.size {
		return false
	}
	b := f.data[pos:]
	return (magicOK(get32(b[message.OffMagic:])) || isQuarantined(b)) && get64(b[message.OffPhysicalOffset:]) == phy
}

func get64(b []byte) int64 {
	_ = b[7]
	return int64(uint64(get32(b))<<32 | uint64(get32(b[4:])))
}

// checkEntry decides whether the record behind consume-queue entry qoff of
// (topic, qid), at phy with the entry's size, may be served. seg covers phy.
// Readers call it for the entries that were on disk when the store opened
// (consumeQueue.verifyBelow): that is where damage at rest, torn writes and
// stale entries live. Entries this process made point at records it
// encoded and checksummed itself, or verified on receipt, and cost nothing.
//
// The header must match the entry (size, magic, own offset, queue id and
// offset); a record from disk must also parse and pass its body CRC and
// carry the entry's topic.
func (s *Store) checkEntry(seg *mappedFile, phy int64, size int32, topic string, qid int32, qoff int64) error {
	pos := phy - seg.base
	if size < minRecordLen || pos+int64(size) > seg.size ||
		!headerMatches(seg.data[pos:pos+int64(size)], size, phy, qid, qoff) {
		return errEntryHeader
	}
	if phy >= s.openEnd {
		return nil
	}
	return checkFromDisk(seg.data[pos:pos+int64(size)], topic)
}

// headerMatches compares the framing and queue fields of record b (at
// least minRecordLen bytes) with what its consume-queue entry says.
func headerMatches(b []byte, size int32, phy int64, qid int32, qoff int64) bool {
	h := b[:message.OffSysFlag]
	be := binary.BigEndian
	m := be.Uint32(h[message.OffMagic:])
	return be.Uint32(h[message.OffTotalSize:]) == uint32(size) && (m == message.MagicV1 || m == message.MagicV2) &&
		be.Uint64(h[message.OffPhysicalOffset:]) == uint64(phy) && be.Uint32(h[message.OffQueueID:]) == uint32(qid) &&
		be.Uint64(h[message.OffQueueOffset:]) == uint64(qoff)
}

// checkFromDisk verifies a record read from disk in full: layout, body CRC
// and topic.
func checkFromDisk(b []byte, topic string) error {
	rec, err := message.ParseStored(b, true)
	if err != nil {
		return err
	}
	if string(rec.Topic) != topic {
		return errEntryTopic
	}
	return nil
}

// damageLog remembers which damaged records were reported, so that each is
// logged once however often consumers run into it, and counts them.
type damageLog struct {
	count atomic.Int64
	mu    sync.Mutex
	seen  map[int64]struct{}
}

// maxRememberedDamage bounds the memory spent on remembering reported
// positions. Past it the set starts over, so a massively damaged store may
// log (and count) a record again rather than grow without limit.
const maxRememberedDamage = 1 << 16

// first reports whether phy is reported for the first time, counting it.
func (d *damageLog) first(phy int64) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, ok := d.seen[phy]; ok {
		return false
	}
	if d.seen == nil || len(d.seen) >= maxRememberedDamage {
		d.seen = make(map[int64]struct{})
	}
	d.seen[phy] = struct{}{}
	d.count.Add(1)
	return true
}

// entryDamaged records a consume-queue entry whose record cannot be served.
func (s *Store) entryDamaged(phy int64, topic string, qid int32, qoff int64, err error) {
	if s.damage.first(phy) {
		s.log.Error("damaged record skipped: never served", "offset", phy, "topic", topic, "queueId", qid, "queueOffset", qoff, "err", err)
	}
}

// recordDamaged records damaged commit-log bytes found outside a queue read
// (recovery, lookups by offset or key).
func (s *Store) recordDamaged(phy int64, msg string, err error, attrs ...any) {
	if s.damage.first(phy) {
		s.log.Error(msg, append([]any{"offset", phy, "err", err}, attrs...)...)
	}
}
