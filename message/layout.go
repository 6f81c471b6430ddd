package message

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"net/netip"
)

// This file is the single description of RocketMQ's stored message record
// (upstream CommitLog / MessageDecoder). The broker's commit log, pull responses, VIEW_MESSAGE_BY_ID,
// QUERY_MESSAGE and CHECK_TRANSACTION_STATE bodies all carry records in exactly
// this layout, so the store encodes with AppendStored and every reader parses
// with ParseStored.

// Magic codes. They are compared as uint32 because the upstream values are
// negative Java ints.
const (
	MagicV1    uint32 = 0xDAA320A7 // topic length is one byte
	MagicV2    uint32 = 0xDAA320AB // topic length is two bytes
	BlankMagic uint32 = 0xCBD43194 // pads the end of a commit-log segment
)

// SysFlag bits of a stored message.
const (
	SysFlagCompressed   int32 = 0x1
	SysFlagMultiTags    int32 = 0x2
	SysFlagTxPrepared   int32 = 0x4
	SysFlagTxCommit     int32 = 0x8
	SysFlagTxRollback   int32 = 0xC
	SysFlagTxMask       int32 = 0xC
	SysFlagBornHostV6   int32 = 0x10
	SysFlagStoreHostV6  int32 = 0x20
	SysFlagNeedUnwrap   int32 = 0x40
	SysFlagInnerBatch   int32 = 0x80
	SysFlagCompressMask int32 = 0x700
	SysFlagCompressZlib int32 = 0x300
	SysFlagCompressLZ4  int32 = 0x100
	SysFlagCompressZstd int32 = 0x200
	sysFlagHostV6Mask         = SysFlagBornHostV6 | SysFlagStoreHostV6
	maxTopicLenV1             = 127
	maxTopicLenV2             = 0x7FFF
	maxPropertiesLen          = 0x7FFF
	ipv4HostLen               = 8
	ipv6HostLen               = 20
	storedFixedLen            = 4 + 4 + 4 + 4 + 4 + 8 + 8 + 4 + 8 + 8 + 4 + 8 // up to PREPAREDTRANSACTIONOFFSET, excluding hosts
	storedMinLen              = storedFixedLen + 2*ipv4HostLen + 4 + 1 + 2    // empty body, topic and properties
)

// Fixed offsets inside a stored record. The store patches QUEUEOFFSET,
// PHYSICALOFFSET and STORETIMESTAMP in place after encoding outside its lock.
const (
	OffTotalSize      = 0
	OffMagic          = 4
	OffBodyCRC        = 8
	OffQueueID        = 12
	OffFlag           = 16
	OffQueueOffset    = 20
	OffPhysicalOffset = 28
	OffSysFlag        = 36
	OffBornTimestamp  = 40
	OffBornHost       = 48
)

// ErrCorrupt reports a stored record that fails a length, magic or CRC check.
var ErrCorrupt = errors.New("message: corrupt stored record")

// StoredMessage holds every field of a stored record. Properties is the
// already-encoded property string (see EncodeProperties).
type StoredMessage struct {
	QueueID                   int32
	Flag                      int32
	QueueOffset               int64
	PhysicalOffset            int64
	SysFlag                   int32
	BornTimestamp             int64
	BornHost                  netip.AddrPort
	StoreTimestamp            int64
	StoreHost                 netip.AddrPort
	ReconsumeTimes            int32
	PreparedTransactionOffset int64
	Body                      []byte
	Topic                     string
	Properties                string
}

func hostLen(ap netip.AddrPort) int {
	if ap.Addr().Is4() || ap.Addr().Is4In6() || !ap.Addr().IsValid() {
		return ipv4HostLen
	}
	return ipv6HostLen
}

// StoredSize returns the encoded length of m, or an error when a field does
// not fit the layout.
func StoredSize(m *StoredMessage) (int, error) {
	if len(m.Topic) == 0 || len(m.Topic) > maxTopicLenV2 {
		return 0, fmt.Errorf("message: topic length %d out of range", len(m.Topic))
	}
	if len(m.Properties) > maxPropertiesLen {
		return 0, fmt.Errorf("message: properties length %d exceeds %d", len(m.Properties), maxPropertiesLen)
	}
	topicLenSize := 1
	if len(m.Topic) > maxTopicLenV1 {
		topicLenSize = 2
	}
	n := storedFixedLen + hostLen(m.BornHost) + hostLen(m.StoreHost) +
		4 + len(m.Body) + topicLenSize + len(m.Topic) + 2 + len(m.Properties)
	if n > 0x7FFFFFFF || n < 0 {
		return 0, fmt.Errorf("message: record length %d too large", n)
	}
	return n, nil
}

// StoreTimestampOffset returns where STORETIMESTAMP sits in a record whose
// sysFlag is given (it moves when the born host is IPv6).
func StoreTimestampOffset(sysFlag int32) int {
	if sysFlag&SysFlagBornHostV6 != 0 {
		return OffBornHost + ipv6HostLen
	}
	return OffBornHost + ipv4HostLen
}

// BodyCRC is the checksum RocketMQ stores for a body: IEEE CRC-32 with the
// sign bit cleared (Java keeps it as a non-negative int).
func BodyCRC(body []byte) uint32 {
	return crc32.ChecksumIEEE(body) & 0x7FFFFFFF
}

// AppendStored appends the stored encoding of m to dst. The IPv6 host bits of
// SysFlag are derived from the addresses, and MAGIC v2 is used only when the
// topic is longer than 127 bytes, so that every official client can decode
// what we emit.
func AppendStored(dst []byte, m *StoredMessage) ([]byte, error) {
	size, err := StoredSize(m)
	if err != nil {
		return dst, err
	}
	sysFlag := m.SysFlag &^ sysFlagHostV6Mask
	if hostLen(m.BornHost) == ipv6HostLen {
		sysFlag |= SysFlagBornHostV6
	}
	if hostLen(m.StoreHost) == ipv6HostLen {
		sysFlag |= SysFlagStoreHostV6
	}
	magic := MagicV1
	if len(m.Topic) > maxTopicLenV1 {
		magic = MagicV2
	}
	start := len(dst)
	dst = grow(dst, size)
	b := dst[start : start+size]
	be := binary.BigEndian
	be.PutUint32(b[OffTotalSize:], uint32(size))
	be.PutUint32(b[OffMagic:], magic)
	be.PutUint32(b[OffBodyCRC:], BodyCRC(m.Body))
	be.PutUint32(b[OffQueueID:], uint32(m.QueueID))
	be.PutUint32(b[OffFlag:], uint32(m.Flag))
	be.PutUint64(b[OffQueueOffset:], uint64(m.QueueOffset))
	be.PutUint64(b[OffPhysicalOffset:], uint64(m.PhysicalOffset))
	be.PutUint32(b[OffSysFlag:], uint32(sysFlag))
	be.PutUint64(b[OffBornTimestamp:], uint64(m.BornTimestamp))
	p := OffBornHost
	p += putHost(b[p:], m.BornHost)
	be.PutUint64(b[p:], uint64(m.StoreTimestamp))
	p += 8
	p += putHost(b[p:], m.StoreHost)
	be.PutUint32(b[p:], uint32(m.ReconsumeTimes))
	p += 4
	be.PutUint64(b[p:], uint64(m.PreparedTransactionOffset))
	p += 8
	be.PutUint32(b[p:], uint32(len(m.Body)))
	p += 4
	p += copy(b[p:], m.Body)
	if magic == MagicV1 {
		b[p] = byte(len(m.Topic))
		p++
	} else {
		be.PutUint16(b[p:], uint16(len(m.Topic)))
		p += 2
	}
	p += copy(b[p:], m.Topic)
	be.PutUint16(b[p:], uint16(len(m.Properties)))
	p += 2
	copy(b[p:], m.Properties)
	return dst, nil
}

func grow(b []byte, n int) []byte {
	if cap(b)-len(b) >= n {
		return b[:len(b)+n]
	}
	nb := make([]byte, len(b)+n, 2*cap(b)+n)
	copy(nb, b)
	return nb
}

func putHost(b []byte, ap netip.AddrPort) int {
	addr := ap.Addr().Unmap()
	if hostLen(ap) == ipv4HostLen {
		a4 := [4]byte{}
		if addr.Is4() {
			a4 = addr.As4()
		}
		copy(b, a4[:])
		binary.BigEndian.PutUint32(b[4:], uint32(ap.Port()))
		return ipv4HostLen
	}
	a16 := addr.As16()
	copy(b, a16[:])
	binary.BigEndian.PutUint32(b[16:], uint32(ap.Port()))
	return ipv6HostLen
}

// StoredRecord is a zero-copy view of one stored record: Body, Topic and
// Properties alias the parsed buffer.
type StoredRecord struct {
	TotalSize                 int32
	Magic                     uint32
	BodyCRC                   uint32
	QueueID                   int32
	Flag                      int32
	QueueOffset               int64
	PhysicalOffset            int64
	SysFlag                   int32
	BornTimestamp             int64
	BornHost                  netip.AddrPort
	StoreTimestamp            int64
	StoreHost                 netip.AddrPort
	ReconsumeTimes            int32
	PreparedTransactionOffset int64
	Body                      []byte
	Topic                     []byte
	Properties                []byte
}

// ParseStored parses the record at the start of b. It checks every length
// against both TOTALSIZE and len(b), so corrupt input yields ErrCorrupt and
// never an out-of-range read. With verifyCRC the body checksum is checked too.
// A BlankMagic record is reported as ErrCorrupt; callers walking a commit-log
// segment check for it first with IsBlank.
func ParseStored(b []byte, verifyCRC bool) (StoredRecord, error) {
	var r StoredRecord
	if len(b) < storedMinLen {
		return r, fmt.Errorf("%w: %d bytes is shorter than a record", ErrCorrupt, len(b))
	}
	be := binary.BigEndian
	total := int(int32(be.Uint32(b[OffTotalSize:])))
	if total < storedMinLen || total > len(b) {
		return r, fmt.Errorf("%w: total size %d with %d bytes available", ErrCorrupt, total, len(b))
	}
	b = b[:total]
	r.TotalSize = int32(total)
	r.Magic = be.Uint32(b[OffMagic:])
	if r.Magic != MagicV1 && r.Magic != MagicV2 {
		return r, fmt.Errorf("%w: bad magic %#x", ErrCorrupt, r.Magic)
	}
	r.BodyCRC = be.Uint32(b[OffBodyCRC:])
	r.QueueID = int32(be.Uint32(b[OffQueueID:]))
	r.Flag = int32(be.Uint32(b[OffFlag:]))
	r.QueueOffset = int64(be.Uint64(b[OffQueueOffset:]))
	r.PhysicalOffset = int64(be.Uint64(b[OffPhysicalOffset:]))
	r.SysFlag = int32(be.Uint32(b[OffSysFlag:]))
	r.BornTimestamp = int64(be.Uint64(b[OffBornTimestamp:]))
	p := OffBornHost
	var ok bool
	if r.BornHost, p, ok = readHost(b, p, r.SysFlag&SysFlagBornHostV6 != 0); !ok {
		return r, fmt.Errorf("%w: truncated born host", ErrCorrupt)
	}
	if p+8 > len(b) {
		return r, fmt.Errorf("%w: truncated store timestamp", ErrCorrupt)
	}
	r.StoreTimestamp = int64(be.Uint64(b[p:]))
	p += 8
	if r.StoreHost, p, ok = readHost(b, p, r.SysFlag&SysFlagStoreHostV6 != 0); !ok {
		return r, fmt.Errorf("%w: truncated store host", ErrCorrupt)
	}
	if p+4+8+4 > len(b) {
		return r, fmt.Errorf("%w: truncated header", ErrCorrupt)
	}
	r.ReconsumeTimes = int32(be.Uint32(b[p:]))
	p += 4
	r.PreparedTransactionOffset = int64(be.Uint64(b[p:]))
	p += 8
	bodyLen := int(int32(be.Uint32(b[p:])))
	p += 4
	if bodyLen < 0 || bodyLen > len(b)-p {
		return r, fmt.Errorf("%w: body length %d", ErrCorrupt, bodyLen)
	}
	r.Body = b[p : p+bodyLen : p+bodyLen]
	p += bodyLen
	topicLen := 0
	if r.Magic == MagicV1 {
		if p+1 > len(b) {
			return r, fmt.Errorf("%w: truncated topic length", ErrCorrupt)
		}
		topicLen = int(b[p])
		p++
	} else {
		if p+2 > len(b) {
			return r, fmt.Errorf("%w: truncated topic length", ErrCorrupt)
		}
		topicLen = int(be.Uint16(b[p:]))
		p += 2
	}
	if topicLen > len(b)-p {
		return r, fmt.Errorf("%w: topic length %d", ErrCorrupt, topicLen)
	}
	r.Topic = b[p : p+topicLen : p+topicLen]
	p += topicLen
	if p+2 > len(b) {
		return r, fmt.Errorf("%w: truncated properties length", ErrCorrupt)
	}
	propLen := int(int16(be.Uint16(b[p:])))
	p += 2
	if propLen < 0 || propLen != len(b)-p {
		return r, fmt.Errorf("%w: properties length %d, %d bytes left", ErrCorrupt, propLen, len(b)-p)
	}
	r.Properties = b[p : p+propLen : p+propLen]
	if verifyCRC && BodyCRC(r.Body) != r.BodyCRC {
		return r, fmt.Errorf("%w: body crc mismatch", ErrCorrupt)
	}
	return r, nil
}

// IsBlank reports whether b starts with the end-of-segment blank marker.
func IsBlank(b []byte) bool {
	return len(b) >= 8 && binary.BigEndian.Uint32(b[OffMagic:]) == BlankMagic
}

func readHost(b []byte, p int, v6 bool) (netip.AddrPort, int, bool) {
	n := ipv4HostLen
	if v6 {
		n = ipv6HostLen
	}
	if p+n > len(b) {
		return netip.AddrPort{}, p, false
	}
	var addr netip.Addr
	if v6 {
		addr = netip.AddrFrom16([16]byte(b[p : p+16]))
	} else {
		addr = netip.AddrFrom4([4]byte(b[p : p+4]))
	}
	port := binary.BigEndian.Uint32(b[p+n-4:])
	return netip.AddrPortFrom(addr, uint16(port)), p + n, true
}

// TagsHashCode is the consume-queue tag code of a tag: Java's
// String.hashCode over UTF-16 code units, sign-extended to 64 bits. It is 0
// for an empty tag. Brokers compute it themselves and never trust a client's
// code set, because the Go client hashes UTF-8 bytes instead.
func TagsHashCode(tag string) int64 {
	var h int32
	for _, r := range tag {
		if r >= 0x10000 {
			r -= 0x10000
			h = 31*h + int32(0xD800+(r>>10))
			h = 31*h + int32(0xDC00+(r&0x3FF))
			continue
		}
		h = 31*h + int32(r)
	}
	return int64(h)
}
