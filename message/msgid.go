package message

import (
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"net/netip"
	"sync"
	"time"
)

const upperHex = "0123456789ABCDEF"

// appendUpperHex appends b as uppercase hex. encoding/hex only writes
// lowercase, and RocketMQ ids are compared as strings.
func appendUpperHex(dst, b []byte) []byte {
	for _, c := range b {
		dst = append(dst, upperHex[c>>4], upperHex[c&0xF])
	}
	return dst
}

// offsetIDBytes lays out an offset message id: store IP (4 bytes, or 16 for
// a real IPv6 address), port as int32, commit-log offset as int64.
func offsetIDBytes(buf *[28]byte, storeHost netip.AddrPort, phyOffset int64) []byte {
	addr := storeHost.Addr().Unmap()
	n := 0
	if addr.Is6() {
		a := addr.As16()
		n = copy(buf[:], a[:])
	} else {
		var a [4]byte
		if addr.Is4() {
			a = addr.As4()
		}
		n = copy(buf[:], a[:])
	}
	binary.BigEndian.PutUint32(buf[n:], uint32(storeHost.Port()))
	binary.BigEndian.PutUint64(buf[n+4:], uint64(phyOffset))
	return buf[:n+12]
}

// AppendOffsetMsgID appends the offset message id (upstream MessageDecoder.createMessageId) of the
// record at phyOffset stored by storeHost: 32 uppercase hex characters for
// IPv4, 56 for IPv6.
func AppendOffsetMsgID(dst []byte, storeHost netip.AddrPort, phyOffset int64) []byte {
	var buf [28]byte
	return appendUpperHex(dst, offsetIDBytes(&buf, storeHost, phyOffset))
}

// OffsetMsgID returns AppendOffsetMsgID as a string.
func OffsetMsgID(storeHost netip.AddrPort, phyOffset int64) string {
	var buf [56]byte
	return string(AppendOffsetMsgID(buf[:0], storeHost, phyOffset))
}

// ParseOffsetMsgID decodes an offset message id of 32 (IPv4) or 56 (IPv6)
// hex characters, in either case.
func ParseOffsetMsgID(id string) (netip.AddrPort, int64, error) {
	if len(id) != 32 && len(id) != 56 {
		return netip.AddrPort{}, 0, fmt.Errorf("%w: length %d, want 32 or 56", ErrInvalidMsgID, len(id))
	}
	var raw [28]byte
	n := len(id) / 2
	for i := 0; i < n; i++ {
		hi, ok1 := unhex(id[2*i])
		lo, ok2 := unhex(id[2*i+1])
		if !ok1 || !ok2 {
			return netip.AddrPort{}, 0, fmt.Errorf("%w: %q is not hex", ErrInvalidMsgID, id)
		}
		raw[i] = hi<<4 | lo
	}
	ipLen := n - 12
	var addr netip.Addr
	if ipLen == 4 {
		addr = netip.AddrFrom4([4]byte(raw[:4]))
	} else {
		addr = netip.AddrFrom16([16]byte(raw[:16]))
	}
	port := binary.BigEndian.Uint32(raw[ipLen:])
	if port > 0xFFFF {
		return netip.AddrPort{}, 0, fmt.Errorf("%w: port %d out of range", ErrInvalidMsgID, port)
	}
	off := int64(binary.BigEndian.Uint64(raw[ipLen+4:]))
	return netip.AddrPortFrom(addr, uint16(port)), off, nil
}

func unhex(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	}
	return 0, false
}

// UniqIDGenerator makes client message ids (UNIQ_KEY, upstream MessageClientIDSetter) in
// the Java layout: ip (4 bytes, 16 for IPv6), pid int16, a 4-byte value
// fixed per generator (Java uses a class-loader hash; we use random bytes so
// two generators in one process differ), milliseconds since the start of the
// current month int32, counter int16; uppercase hex, 32 characters (56 for
// IPv6). It is safe for concurrent use.
type UniqIDGenerator struct {
	now func() time.Time
	loc *time.Location

	prefix    [44]byte // hex of ip+pid+random
	prefixLen int

	mu         sync.Mutex
	monthStart int64 // unix ms of the current month's first instant
	monthEnd   int64 // unix ms of the next month's first instant
	counter    uint16
}

// UniqIDOption configures a UniqIDGenerator.
type UniqIDOption func(*UniqIDGenerator)

// WithUniqIDClock replaces time.Now; tests use it to cross a month boundary.
func WithUniqIDClock(now func() time.Time) UniqIDOption {
	return func(g *UniqIDGenerator) { g.now = now }
}

// WithUniqIDLocation sets the zone whose calendar months the time field
// counts from. The default, time.Local, matches Java's Calendar default.
func WithUniqIDLocation(loc *time.Location) UniqIDOption {
	return func(g *UniqIDGenerator) { g.loc = loc }
}

// NewUniqIDGenerator returns a generator for a client at ip with process id
// pid. An invalid ip is written as 0.0.0.0.
func NewUniqIDGenerator(ip netip.Addr, pid int, opts ...UniqIDOption) *UniqIDGenerator {
	g := &UniqIDGenerator{now: time.Now, loc: time.Local}
	for _, o := range opts {
		o(g)
	}
	var raw [22]byte
	n := 0
	ip = ip.Unmap()
	if ip.Is6() {
		a := ip.As16()
		n = copy(raw[:], a[:])
	} else {
		var a [4]byte
		if ip.Is4() {
			a = ip.As4()
		}
		n = copy(raw[:], a[:])
	}
	binary.BigEndian.PutUint16(raw[n:], uint16(int16(pid)))
	n += 2
	// crypto/rand.Read never fails on supported platforms (Go 1.24+).
	_, _ = rand.Read(raw[n : n+4])
	n += 4
	g.prefixLen = len(appendUpperHex(g.prefix[:0], raw[:n]))
	return g
}

// Next returns a new id. It allocates only the returned string.
func (g *UniqIDGenerator) Next() string { return g.NextAt(g.now()) }

// NextAt is Next for a caller that has just read the clock: now is the
// id's time. A producer passes its send's start, sparing a clock read per
// message.
func (g *UniqIDGenerator) NextAt(now time.Time) string {
	ms := now.UnixMilli()
	g.mu.Lock()
	if ms >= g.monthEnd || ms < g.monthStart {
		// Month rollover (or a clock step backwards): recompute the window
		// so the time field stays "ms since this month began".
		t := now.In(g.loc)
		start := time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, g.loc)
		g.monthStart = start.UnixMilli()
		g.monthEnd = start.AddDate(0, 1, 0).UnixMilli()
	}
	g.counter++
	counter := g.counter
	elapsed := ms - g.monthStart
	g.mu.Unlock()

	var buf [56]byte
	b := append(buf[:0], g.prefix[:g.prefixLen]...)
	var tail [6]byte
	binary.BigEndian.PutUint32(tail[:], uint32(int32(elapsed)))
	binary.BigEndian.PutUint16(tail[4:], counter)
	b = appendUpperHex(b, tail[:])
	return string(b)
}
