package message

import (
	"errors"
	"fmt"
	"math"

	"github.com/klauspost/compress/zstd"
)

const (
	// maxZstdLevel is libzstd's highest regular level (ZSTD_maxCLevel).
	maxZstdLevel = 22
	// zstdMaxWindow is the largest window a frame may declare: 128 MiB, the
	// window libzstd selects for level 22 when the input size is unknown,
	// which is how Java's ZstdOutputStream always compresses (a level-5 Java
	// frame declares 2 MiB). DecodeAll decodes into the output buffer and
	// allocates nothing window-sized, so accepting it costs no memory;
	// larger windows only come from long-distance matching, which no
	// RocketMQ producer enables.
	zstdMaxWindow = 1 << 27
	// zstdMaxBody bounds any inflated zstd body: a Java consumer cannot hold
	// a byte array of 2 GiB, and the stored record's size field is an int32.
	// One block of room is kept below that so that the last decoding
	// attempt's capacity (limit plus a block) still fits an int32.
	zstdMaxBody = math.MaxInt32 - zstdBlockRoom
)

// newZstdDecoder builds a decoder for DecodeAll only. Its concurrency is how
// many DecodeAll calls may run at once (each holds one block decoder).
func newZstdDecoder(concurrency int) (*zstd.Decoder, error) {
	return zstd.NewReader(nil,
		zstd.WithDecoderConcurrency(concurrency),
		zstd.WithDecoderLowmem(true),
		zstd.WithDecoderMaxWindow(zstdMaxWindow),
		// The decoder also caps the window at its memory limit, so this is
		// the largest body, not the bound of a call: that bound is
		// cap(dst), enforced by WithDecodeAllCapLimit.
		zstd.WithDecoderMaxMemory(zstdMaxBody),
		zstd.WithDecodeAllCapLimit(true),
	)
}

// zstdEncoderWindow is the encoder's window: 2 MiB, what libzstd uses at
// Java's default level 5. Bodies up to it are single frames stating their
// size, so the window only matters for larger ones; the encoder's default
// (8 MiB) would make each warm encoder hold about twice the memory.
const zstdEncoderWindow = 2 << 20

// newZstdEncoder builds an encoder for EncodeAll only. Frames carry no
// checksum, as ZstdOutputStream's do not by default: the stored record's
// BODYCRC already covers the compressed bytes end to end. An empty body
// still becomes a frame, as it does in Java. Low-memory mode sizes the
// history by the body rather than the window: message bodies are small.
func newZstdEncoder(level zstd.EncoderLevel, concurrency int) (*zstd.Encoder, error) {
	return zstd.NewWriter(nil,
		zstd.WithEncoderLevel(level),
		zstd.WithEncoderConcurrency(concurrency),
		zstd.WithEncoderCRC(false),
		zstd.WithZeroFrames(true),
		zstd.WithWindowSize(zstdEncoderWindow),
		zstd.WithLowerEncoderMem(true),
	)
}

// zstdBlockRoom is the room any single block needs in the output: the
// format's largest block (128 KiB) plus the decoder's over-allocation.
const zstdBlockRoom = 128<<10 + 16

// inflateZstd decodes the zstd frames in src into at most limit bytes.
//
// WithDecodeAllCapLimit makes DecodeAll stop once the output would pass
// cap(dst), so the capacity we hand it bounds what it produces. A frame that
// states its size (the Go encoder's do) gets exactly that capacity, after
// the size is checked against the limit, so a lying header costs nothing.
// Frames written as a stream (all of Java's) state no size: we start from a
// guess and grow the capacity fourfold while the output does not fit. A
// failed attempt stops at its capacity, so all attempts together cost about
// a third more than the last one. The last attempt gets the limit plus room
// for one block, so "more than the limit" is told apart from damage.
//
// Running out of capacity is reported by the decoder either as
// ErrDecoderSizeExceeded or, inside a compressed block, as a plain error;
// so a failure counts as damage only when the block that failed had
// zstdBlockRoom to spare, and otherwise as a reason to grow.
//
// Memory: at most the limit plus one block, and transiently about a
// quarter more when a raw or RLE block is appended past the capacity just
// before the decoder notices.
func inflateZstd(d *zstd.Decoder, src []byte, limit int) ([]byte, error) {
	limit = min(limit, zstdMaxBody)
	var h zstd.Header
	if err := h.Decode(src); err != nil {
		return nil, fmt.Errorf("%w: zstd: %w", ErrDecompress, err)
	}
	// Zstandard shrinks typical text and JSON bodies three to ten times.
	size := min(limit, 8*len(src)+1024)
	if h.HasFCS {
		if h.FrameContentSize > uint64(limit) {
			return nil, fmt.Errorf("%w: zstd frame claims %d bytes, over the %d-byte limit", ErrBodyTooLarge, h.FrameContentSize, limit)
		}
		size = int(h.FrameContentSize)
	}
	for {
		out, err := d.DecodeAll(src, make([]byte, 0, size))
		if err == nil {
			if len(out) > limit {
				return nil, fmt.Errorf("%w: inflated body exceeds %d bytes", ErrBodyTooLarge, limit)
			}
			if cap(out) > 2*len(out)+4096 {
				// A guess far above the body: do not let the message pin
				// the slack for its lifetime.
				out = append(make([]byte, 0, len(out)), out...)
			}
			return out, nil
		}
		done := len(out)
		if !errors.Is(err, zstd.ErrDecoderSizeExceeded) && size-done >= zstdBlockRoom {
			return nil, fmt.Errorf("%w: zstd: %w", ErrDecompress, err)
		}
		if done > limit || size >= limit+zstdBlockRoom {
			return nil, fmt.Errorf("%w: inflated body exceeds %d bytes", ErrBodyTooLarge, limit)
		}
		size = min(limit+zstdBlockRoom, max(4*size, zstdBlockRoom))
	}
}
