package trace

import (
	"bytes"
	"encoding/binary"
	"math/bits"
)

// AppendZlib appends to dst body compressed as a zlib stream (RFC 1950,
// one deflate block with the fixed Huffman codes of RFC 1951) and returns
// the extended slice. Any inflater reads it back, Java's and Go's among
// them; any body is valid input.
//
// It is built for trace message bodies and is what the trace producers
// compress them with. A general compressor searches a hash table for
// repeats; trace records need no search, because a record of a batch
// repeats the previous record of its type field by field (group, topic,
// region, hosts, the leading digits of timestamps and message ids), so
// each record is compared byte by byte with that one and coded as copies
// of it and the bytes that differ, with deflate's fixed codes (no tables
// to build or send). In CPU profiles of a traced load test it took 0.3
// µs per traced message where klauspost/compress's zlib at level 1 took
// 0.9, for output about 1.6 times as large (about 37 bytes per traced
// message instead of 22, next to the 66 bytes of message ids its KEYS
// carry uncompressed); BenchmarkAppendZlib compares the two.
func AppendZlib(dst, body []byte) []byte {
	// CMF 0x78: deflate, 32 KiB window; FLG 0x01: fastest level, and
	// 0x7801 is a multiple of 31 as the header check requires.
	dst = append(dst, 0x78, 0x01)
	w := bitWriter{dst: dst}
	w.put(0b011, 3) // BFINAL=1, BTYPE=01 (fixed codes), least significant bit first
	var last [maxTypes]recordRef
	used := 0
	for s := 0; s < len(body); {
		e := len(body)
		if k := bytes.IndexByte(body[s:], RecordSeparator); k >= 0 {
			e = s + k + 1
		}
		typ := body[s:e]
		if k := bytes.IndexByte(typ, FieldSeparator); k >= 0 {
			typ = typ[:k]
		}
		ref := -1
		for k := 0; k < used; k++ {
			if string(last[k].typ) == string(typ) {
				ref = k
				break
			}
		}
		if ref >= 0 {
			w.record(body, s, e, last[ref].start, last[ref].end)
			last[ref].start, last[ref].end = s, e
		} else {
			w.literals(body[s:e])
			if used < maxTypes {
				last[used] = recordRef{typ: typ, start: s, end: e}
				used++
			}
		}
		s = e
	}
	w.put(0, 7) // end of block: code 256, seven zero bits
	dst = w.flush()
	return binary.BigEndian.AppendUint32(dst, adler32(body))
}

// adler32 is hash/adler32.Checksum sixteen bytes at a time: for bytes
// b0..b15, s1 gains their sum and s2 gains 16·s1 + 16·b0 + 15·b1 + … +
// 1·b15. Each half is summed with multiplications over 16-bit lanes: for
// eight bytes x0..x7, sum(x) = Σxᵢ and w(x) = 8·x0 + 7·x1 + … + 1·x7, and
// s2 gains 16·s1 + w(lo) + 8·sum(lo) + w(hi). The two halves' products
// are independent, so they overlap in the CPU, where eight bytes at a
// time left each step waiting for the last. The byte loop took a quarter
// of AppendZlib; eight at a time cut it by two thirds, sixteen by half of
// what was left.
func adler32(p []byte) uint32 {
	const (
		mod   = 65521
		lanes = 0x00FF00FF00FF00FF
		ones  = 0x0001000100010001
		odd   = 0x0007000500030001 // weights 7, 5, 3, 1 of the pair sums, to the top lane
		chunk = 1 << 16            // s2 stays far below 2⁶⁴ over a chunk
	)
	s1, s2 := uint64(1), uint64(0)
	for len(p) > 0 {
		q := p[:min(len(p), chunk)]
		p = p[len(q):]
		for len(q) >= 16 {
			a := binary.LittleEndian.Uint64(q)
			b := binary.LittleEndian.Uint64(q[8:])
			alo, blo := a&lanes, b&lanes
			apair, bpair := alo+(a>>8)&lanes, blo+(b>>8)&lanes // x0+x1, x2+x3, x4+x5, x6+x7
			asum, bsum := (apair*ones)>>48, (bpair*ones)>>48
			aw := (apair*odd)>>48 + (alo*ones)>>48
			bw := (bpair*odd)>>48 + (blo*ones)>>48
			s2 += 16*s1 + aw + 8*asum + bw
			s1 += asum + bsum
			q = q[16:]
		}
		for _, c := range q {
			s1 += uint64(c)
			s2 += s1
		}
		s1 %= mod
		s2 %= mod
	}
	return uint32(s2<<16 | s1)
}

// maxTypes bounds the record types remembered as references; a batch
// holds two or three.
const maxTypes = 8

// recordRef is the last record of one type: body[start:end].
type recordRef struct {
	typ        []byte
	start, end int
}

func isSep(c byte) bool { return c == FieldSeparator || c == RecordSeparator }

// record codes body[s:e] against the earlier record body[ps:pe] of the
// same type. The two are walked field by field: bytes equal at the same
// offset of corresponding fields become copies, the others literals; when
// one field is longer, its extra bytes are literals and the walk
// realigns at the fields' ends.
func (w *bitWriter) record(body []byte, s, e, ps, pe int) {
	i, j := s, ps
	for i < e {
		if j >= pe || i-j > maxDistance {
			w.literals(body[i:e])
			return
		}
		if n := commonPrefix(body[i:e], body[j:pe]); n > 0 {
			w.copies(i-j, n, body[i:i+n])
			i += n
			j += n
			continue
		}
		c, r := body[i], body[j]
		switch {
		case isSep(c) && !isSep(r): // the earlier field is longer: skip its rest
			for j < pe && !isSep(body[j]) {
				j++
			}
		case !isSep(c) && isSep(r): // this field is longer
			w.literal(c)
			i++
		default:
			w.literal(c)
			i++
			j++
		}
	}
}

// commonPrefix is the length of the longest common prefix of a and b,
// compared eight bytes at a time.
func commonPrefix(a, b []byte) int {
	n := 0
	for len(a)-n >= 8 && len(b)-n >= 8 {
		if x := binary.LittleEndian.Uint64(a[n:]) ^ binary.LittleEndian.Uint64(b[n:]); x != 0 {
			return n + bits.TrailingZeros64(x)>>3
		}
		n += 8
	}
	for n < len(a) && n < len(b) && a[n] == b[n] {
		n++
	}
	return n
}

// Deflate's limits on copies.
const (
	minMatch    = 3
	maxMatch    = 258
	maxDistance = 32768
)

// bitWriter packs deflate codes least significant bit first.
type bitWriter struct {
	dst  []byte
	acc  uint64
	nacc uint
	// The last distance coded: copies of one record mostly share it.
	lastDist int
	lastCode code
}

// put appends the low n bits of v; n ≤ 32.
func (w *bitWriter) put(v uint64, n uint) {
	w.acc |= v << w.nacc
	w.nacc += n
	if w.nacc >= 32 {
		w.dst = binary.LittleEndian.AppendUint32(w.dst, uint32(w.acc))
		w.acc >>= 32
		w.nacc -= 32
	}
}

// flush pads the last byte with zero bits and returns the output.
func (w *bitWriter) flush() []byte {
	for w.nacc > 0 {
		w.dst = append(w.dst, byte(w.acc))
		w.acc >>= 8
		w.nacc -= min(w.nacc, 8)
	}
	return w.dst
}

func (w *bitWriter) literal(c byte) {
	code := fixedLiterals[c]
	w.put(uint64(code.bits), uint(code.n))
}

func (w *bitWriter) literals(b []byte) {
	for _, c := range b {
		w.literal(c)
	}
}

// copies codes n bytes (lit, already known equal to the bytes dist back)
// as copies of at most maxMatch bytes; fewer than minMatch go as
// literals.
func (w *bitWriter) copies(dist, n int, lit []byte) {
	for n >= minMatch {
		k := min(n, maxMatch)
		if r := n - k; r > 0 && r < minMatch {
			k = n - minMatch // leave a remainder long enough to copy
		}
		// The length code and the distance code in one put: together
		// they are at most 8+5 and 5+13 bits.
		if dist != w.lastDist {
			w.lastDist, w.lastCode = dist, distanceCode(dist)
		}
		l, d := fixedLengths[k], w.lastCode
		w.put(uint64(l.bits)|uint64(d.bits)<<l.n, uint(l.n+d.n))
		lit = lit[k:]
		n -= k
	}
	w.literals(lit[:n])
}

func distanceCode(dist int) code {
	x := uint32(dist - 1)
	if x < 4 {
		return code{reverse5[x], 5}
	}
	l := uint(bits.Len32(x)) // ≥ 3
	extra := l - 2
	sym := 2*(l-1) + uint(x>>extra)&1
	return code{reverse5[sym] | x&(1<<extra-1)<<5, uint8(5 + extra)}
}

// code is a Huffman code, bit-reversed for the LSB-first stream, with any
// extra bits already appended above it.
type code struct {
	bits uint32
	n    uint8
}

var (
	// fixedLiterals are the fixed codes of the literals 0..255.
	fixedLiterals = func() (t [256]code) {
		for c := range t {
			if c < 144 {
				t[c] = code{reverse(uint32(0x30+c), 8), 8}
			} else {
				t[c] = code{reverse(uint32(0x190+c-144), 9), 9}
			}
		}
		return t
	}()
	// fixedLengths are the fixed codes of copy lengths 3..258 with their
	// extra bits.
	fixedLengths = func() (t [maxMatch + 1]code) {
		base := 3
		for k, extra := range lengthExtra {
			sym := 257 + k
			var c code
			if sym < 280 {
				c = code{reverse(uint32(sym-256), 7), 7}
			} else {
				c = code{reverse(uint32(0xC0+sym-280), 8), 8}
			}
			for n := base; n < base+1<<extra && n < maxMatch; n++ {
				t[n] = code{c.bits | uint32(n-base)<<c.n, c.n + extra}
			}
			base += 1 << extra
		}
		t[maxMatch] = code{reverse(0xC0+285-280, 8), 8} // 285: 258, no extra bits
		return t
	}()
	// reverse5 are the fixed 5-bit distance codes, bit-reversed.
	reverse5 = func() (t [32]uint32) {
		for i := range t {
			t[i] = reverse(uint32(i), 5)
		}
		return t
	}()
)

// lengthExtra is the extra bits of the length symbols 257..284 (RFC 1951
// 3.2.5); 285 is 258 with none.
var lengthExtra = [...]uint8{0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5}

func reverse(v uint32, n uint) uint32 { return bits.Reverse32(v) >> (32 - n) }
