package message

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/bits"

	"github.com/pierrec/lz4/v4"
)

// LZ4 frame format (lz4 frame spec 1.6): a magic number; a descriptor (FLG,
// BD, an optional 8-byte content size, an optional dictionary id, and a
// one-byte header checksum); blocks, each prefixed by a little-endian uint32
// size whose top bit marks a block stored uncompressed, optionally followed
// by a block checksum; a zero end mark; an optional content checksum.
// Several frames may follow each other, and skippable frames may sit between
// them; Java's LZ4FrameInputStream reads them all, and so do we.
const (
	lz4Magic          = 0x184D2204
	lz4SkipMagic      = 0x184D2A50 // the low nibble is free: 16 skippable magics
	lz4FlagVersion    = 0x40       // FLG bits 7-6 must be 01
	lz4FlagIndep      = 0x20
	lz4FlagBlockSum   = 0x10
	lz4FlagSize       = 0x08
	lz4FlagContentSum = 0x04
	lz4FlagDictID     = 0x01
	lz4StoredBlock    = 0x80000000
	lz4Window         = 64 << 10 // how far back a dependent block may match
)

// Java's Lz4Compressor writes LZ4FrameOutputStream's defaults: independent
// blocks of at most 4 MiB, no block or content checksum, no content size.
// We write the same descriptor, so our frames have exactly the shape of a
// Java 5.x producer's (the block bytes may differ: any LZ4 compressor's
// output is valid).
const (
	lz4JavaFLG      = lz4FlagVersion | lz4FlagIndep // 0x60
	lz4JavaBD       = 7 << 4                        // block maximum 4 MiB
	lz4JavaBlockMax = 4 << 20
)

var (
	errLZ4Truncated = fmt.Errorf("%w: lz4: truncated frame", ErrDecompress)
	errLZ4Block     = fmt.Errorf("%w: lz4: malformed block", ErrDecompress)
	// errLZ4Long is internal: a block inflates past the bound it was sized
	// against; the caller decides whether that is a damaged block or too
	// large a body.
	errLZ4Long = errors.New("lz4 block too long")
)

// compressLZ4 writes body as one LZ4 frame with Java's descriptor. c is
// scratch (its hash table) and must not be shared concurrently.
func compressLZ4(c *lz4.Compressor, body []byte) []byte {
	size := 7 + 4 // header and end mark
	for rest := len(body); rest > 0; rest -= lz4JavaBlockMax {
		size += 4 + lz4.CompressBlockBound(min(rest, lz4JavaBlockMax))
	}
	out := make([]byte, 0, size)
	out = binary.LittleEndian.AppendUint32(out, lz4Magic)
	out = append(out, lz4JavaFLG, lz4JavaBD, lz4HeaderChecksum([]byte{lz4JavaFLG, lz4JavaBD}))
	for len(body) > 0 {
		chunk := body[:min(len(body), lz4JavaBlockMax)]
		body = body[len(chunk):]
		at := len(out)
		out = out[:at+4+lz4.CompressBlockBound(len(chunk))]
		n, err := c.CompressBlock(chunk, out[at+4:])
		if err != nil || n == 0 || n >= len(chunk) {
			// Incompressible (or, in theory, a compressor failure with a
			// buffer of the documented bound): store the block as is, as
			// LZ4FrameOutputStream does when compression does not pay.
			n = copy(out[at+4:], chunk)
			binary.LittleEndian.PutUint32(out[at:], uint32(n)|lz4StoredBlock)
		} else {
			binary.LittleEndian.PutUint32(out[at:], uint32(n))
		}
		out = out[:at+4+n]
	}
	return binary.LittleEndian.AppendUint32(out, 0)
}

// inflateLZ4 decodes the LZ4 frames in src into a new slice of at most limit
// bytes. It makes two passes. The first checks the structure and checksums
// of every frame and block and adds up the exact inflated size: stored
// blocks count their size, compressed blocks are sized by scanning their
// sequence tokens, a fraction of the cost of decoding them. Only when that
// total fits the limit is the output allocated, once and exactly, and the
// blocks are decoded straight into it. So a bomb is refused before anything
// is allocated, whatever sizes its headers claim, and no block buffers
// (4 MiB each for Java's frames) are needed.
func inflateLZ4(src []byte, limit int) ([]byte, error) {
	n, err := walkLZ4(src, limit, nil)
	if err != nil {
		return nil, err
	}
	out := make([]byte, n)
	if _, err := walkLZ4(src, limit, out); err != nil {
		return nil, err
	}
	return out, nil
}

// walkLZ4 walks the frames of src. With out nil it only checks and sizes
// them; otherwise it decodes into out, which has the size the checking walk
// returned.
func walkLZ4(src []byte, limit int, out []byte) (int, error) {
	if len(src) == 0 {
		// A producer never compresses an empty body into nothing; an empty
		// zlib stream is damage too.
		return 0, errLZ4Truncated
	}
	total := 0
	for len(src) > 0 {
		if len(src) < 4 {
			return 0, errLZ4Truncated
		}
		magic := binary.LittleEndian.Uint32(src)
		if magic&^0xF == lz4SkipMagic {
			if len(src) < 8 || uint64(binary.LittleEndian.Uint32(src[4:])) > uint64(len(src)-8) {
				return 0, errLZ4Truncated
			}
			src = src[8+binary.LittleEndian.Uint32(src[4:]):]
			continue
		}
		if magic != lz4Magic {
			return 0, fmt.Errorf("%w: lz4: bad frame magic %#08x", ErrDecompress, magic)
		}
		var err error
		if src, total, err = walkLZ4Frame(src[4:], total, limit, out); err != nil {
			return 0, err
		}
	}
	// Skippable frames alone make an empty body, as for Java's reader and
	// for zstd.
	if out != nil && total != len(out) {
		return 0, errLZ4Block
	}
	return total, nil
}

// walkLZ4Frame walks one frame after its magic. total is what earlier frames
// inflated to; it returns the input after the frame and the new total.
func walkLZ4Frame(src []byte, total, limit int, out []byte) ([]byte, int, error) {
	if len(src) < 3 {
		return nil, 0, errLZ4Truncated
	}
	flg, bd := src[0], src[1]
	if flg>>6 != lz4FlagVersion>>6 {
		return nil, 0, fmt.Errorf("%w: lz4: frame version %d", ErrDecompress, flg>>6)
	}
	// The reference decoder refuses reserved bits, so no producer sets them.
	if flg&0x02 != 0 || bd&0x8F != 0 {
		return nil, 0, fmt.Errorf("%w: lz4: reserved descriptor bits set", ErrDecompress)
	}
	if flg&lz4FlagDictID != 0 {
		// Neither Java's reader nor any RocketMQ producer uses dictionaries.
		return nil, 0, fmt.Errorf("%w: lz4: dictionary frames are not supported", ErrDecompress)
	}
	sizeIdx := bd >> 4
	if sizeIdx < 4 {
		return nil, 0, fmt.Errorf("%w: lz4: block size index %d", ErrDecompress, sizeIdx)
	}
	blockMax := 1 << (8 + 2*int(sizeIdx)) // 64 KiB, 256 KiB, 1 MiB, 4 MiB
	hdr := 2
	if flg&lz4FlagSize != 0 {
		hdr += 8
	}
	if len(src) < hdr+1 {
		return nil, 0, errLZ4Truncated
	}
	if lz4HeaderChecksum(src[:hdr]) != src[hdr] {
		return nil, 0, fmt.Errorf("%w: lz4: header checksum mismatch", ErrDecompress)
	}
	var claimed uint64
	if flg&lz4FlagSize != 0 {
		// A stated size is checked now, so that a frame announcing more than
		// the limit costs nothing; the blocks must then match it.
		claimed = binary.LittleEndian.Uint64(src[2:])
		if claimed > uint64(limit-total) {
			return nil, 0, fmt.Errorf("%w: lz4 frame claims %d bytes, over the %d-byte limit", ErrBodyTooLarge, claimed, limit)
		}
	}
	src = src[hdr+1:]
	start := total
	for {
		if len(src) < 4 {
			return nil, 0, errLZ4Truncated
		}
		word := binary.LittleEndian.Uint32(src)
		src = src[4:]
		if word == 0 {
			break // end mark
		}
		size := int(word &^ lz4StoredBlock)
		if size > blockMax {
			return nil, 0, fmt.Errorf("%w: lz4: block of %d bytes exceeds the frame's %d-byte maximum", ErrDecompress, size, blockMax)
		}
		need := size
		if flg&lz4FlagBlockSum != 0 {
			need += 4
		}
		if len(src) < need {
			return nil, 0, errLZ4Truncated
		}
		data := src[:size]
		if flg&lz4FlagBlockSum != 0 && out == nil && xxh32(data) != binary.LittleEndian.Uint32(src[size:]) {
			return nil, 0, fmt.Errorf("%w: lz4: block checksum mismatch", ErrDecompress)
		}
		src = src[need:]
		room := limit - total
		if word&lz4StoredBlock != 0 {
			if size > room {
				return nil, 0, fmt.Errorf("%w: inflated body exceeds %d bytes", ErrBodyTooLarge, limit)
			}
			if out != nil {
				copy(out[total:], data)
			}
			total += size
			continue
		}
		// Dependent blocks may match into the previous 64 KiB of this
		// frame's output; Java never writes them, the lz4 tool can.
		dict := 0
		if flg&lz4FlagIndep == 0 {
			dict = min(total-start, lz4Window)
		}
		n, err := lz4BlockLen(data, min(blockMax, room), dict)
		if errors.Is(err, errLZ4Long) {
			if room < blockMax {
				return nil, 0, fmt.Errorf("%w: inflated body exceeds %d bytes", ErrBodyTooLarge, limit)
			}
			return nil, 0, fmt.Errorf("%w: lz4: block inflates past the frame's %d-byte maximum", ErrDecompress, blockMax)
		}
		if err != nil {
			return nil, 0, err
		}
		if out != nil {
			got, err := lz4.UncompressBlockWithDict(data, out[total:total+n], out[total-dict:total])
			if err != nil || got != n {
				return nil, 0, errLZ4Block
			}
		}
		total += n
	}
	if flg&lz4FlagSize != 0 && uint64(total-start) != claimed {
		return nil, 0, fmt.Errorf("%w: lz4: frame holds %d bytes but claims %d", ErrDecompress, total-start, claimed)
	}
	if flg&lz4FlagContentSum != 0 {
		if len(src) < 4 {
			return nil, 0, errLZ4Truncated
		}
		if out != nil && xxh32(out[start:total]) != binary.LittleEndian.Uint32(src) {
			return nil, 0, fmt.Errorf("%w: lz4: content checksum mismatch", ErrDecompress)
		}
		src = src[4:]
	}
	return src, total, nil
}

// lz4BlockLen returns how many bytes the compressed block src inflates to,
// reading only its sequence headers: each sequence is a token (literal
// length in the high nibble, match length minus 4 in the low one, 15
// meaning "add the following bytes up to one that is not 255"), the
// literals, and, except in the last sequence, a 2-byte match offset. It
// fails with errLZ4Long as soon as the size passes max, and with
// errLZ4Block on anything the decoder would refuse: truncation, a zero
// offset, an offset reaching before the block and its dict bytes of
// history, or a last sequence that announces a match.
func lz4BlockLen(src []byte, max, dict int) (int, error) {
	n, i := 0, 0
	for {
		if i >= len(src) {
			return 0, errLZ4Block // a block ends with literals, never after a match
		}
		tok := int(src[i])
		i++
		lit, ok := lz4Length(src, &i, tok>>4)
		if !ok || lit > len(src)-i {
			return 0, errLZ4Block
		}
		i += lit
		if n += lit; n > max {
			return 0, errLZ4Long
		}
		if i == len(src) {
			if tok&0xF != 0 {
				return 0, errLZ4Block
			}
			return n, nil
		}
		if len(src)-i < 2 {
			return 0, errLZ4Block
		}
		off := int(binary.LittleEndian.Uint16(src[i:]))
		i += 2
		if off == 0 || off > n+dict {
			return 0, errLZ4Block
		}
		match, ok := lz4Length(src, &i, tok&0xF)
		if !ok {
			return 0, errLZ4Block
		}
		if n += match + 4; n > max {
			return 0, errLZ4Long
		}
	}
}

// lz4Length completes a literal or match length whose nibble is v. Each
// extension byte adds at most 255 for one byte of input, so lengths stay
// below 255*len(src): no overflow.
func lz4Length(src []byte, i *int, v int) (int, bool) {
	if v != 15 {
		return v, true
	}
	for {
		if *i >= len(src) {
			return 0, false
		}
		b := int(src[*i])
		*i++
		v += b
		if b != 255 {
			return v, true
		}
	}
}

// lz4HeaderChecksum is the descriptor checksum: the second byte of the
// descriptor's xxHash32.
func lz4HeaderChecksum(desc []byte) byte { return byte(xxh32(desc) >> 8) }

// xxHash32 with seed 0, the checksum of the LZ4 frame format. pierrec/lz4
// keeps its implementation internal, and the frame checks need it.
const (
	xxPrime1 uint32 = 2654435761
	xxPrime2 uint32 = 2246822519
	xxPrime3 uint32 = 3266489917
	xxPrime4 uint32 = 668265263
	xxPrime5 uint32 = 374761393
)

func xxh32(b []byte) uint32 {
	n := len(b)
	var h uint32
	if n >= 16 {
		v1 := uint32(0x24234428) // xxPrime1 + xxPrime2, modulo 2^32
		v2 := xxPrime2
		v3 := uint32(0)
		v4 := uint32(0x61C8864F) // 0 - xxPrime1, modulo 2^32
		for len(b) >= 16 {
			v1 = xxRound(v1, binary.LittleEndian.Uint32(b))
			v2 = xxRound(v2, binary.LittleEndian.Uint32(b[4:]))
			v3 = xxRound(v3, binary.LittleEndian.Uint32(b[8:]))
			v4 = xxRound(v4, binary.LittleEndian.Uint32(b[12:]))
			b = b[16:]
		}
		h = bits.RotateLeft32(v1, 1) + bits.RotateLeft32(v2, 7) + bits.RotateLeft32(v3, 12) + bits.RotateLeft32(v4, 18)
	} else {
		h = xxPrime5
	}
	h += uint32(n)
	for ; len(b) >= 4; b = b[4:] {
		h += binary.LittleEndian.Uint32(b) * xxPrime3
		h = bits.RotateLeft32(h, 17) * xxPrime4
	}
	for _, c := range b {
		h += uint32(c) * xxPrime5
		h = bits.RotateLeft32(h, 11) * xxPrime1
	}
	h ^= h >> 15
	h *= xxPrime2
	h ^= h >> 13
	h *= xxPrime3
	h ^= h >> 16
	return h
}

func xxRound(acc, lane uint32) uint32 {
	return bits.RotateLeft32(acc+lane*xxPrime2, 13) * xxPrime1
}
