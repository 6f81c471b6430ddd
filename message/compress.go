package message

import (
	"bytes"
	"compress/zlib"
	"fmt"
	"io"
)

// Body compression (fact sheet §4): producers zlib-compress (RFC 1950, with
// header) bodies of at least CompressThreshold bytes and set SysFlag 0x1.
const (
	// CompressThreshold is compressMsgBodyOverHowmuch: 4096 bytes.
	CompressThreshold = 4096
	// DefaultCompressLevel is rocketmq.message.compressLevel / Go CompressLevel.
	DefaultCompressLevel = 5
	// DefaultMaxInflateSize bounds an inflated body. Producers never compress
	// more than maxMessageSize, so four times that leaves room for brokers
	// configured larger while still stopping zip bombs.
	DefaultMaxInflateSize = 4 * DefaultMaxMessageSize
)

// Compress returns body as a zlib stream at level (1..9; 0 means
// DefaultCompressLevel).
func Compress(body []byte, level int) ([]byte, error) {
	if level == 0 {
		level = DefaultCompressLevel
	}
	if level < zlib.BestSpeed || level > zlib.BestCompression {
		return nil, fmt.Errorf("message: compress level %d not in 1..9", level)
	}
	var buf bytes.Buffer
	// Typical text payloads shrink well; a quarter is a cheap first guess.
	buf.Grow(len(body)/4 + 64)
	w, err := zlib.NewWriterLevel(&buf, level)
	if err != nil {
		return nil, fmt.Errorf("message: compress: %w", err)
	}
	if _, err := w.Write(body); err != nil {
		return nil, fmt.Errorf("message: compress: %w", err)
	}
	if err := w.Close(); err != nil {
		return nil, fmt.Errorf("message: compress: %w", err)
	}
	return buf.Bytes(), nil
}

// Decompress inflates a zlib stream. An inflated size above limit (or
// DefaultMaxInflateSize when limit <= 0) fails with ErrBodyTooLarge without
// inflating further; a damaged stream fails with ErrDecompress.
func Decompress(body []byte, limit int) ([]byte, error) {
	if limit <= 0 {
		limit = DefaultMaxInflateSize
	}
	r, err := zlib.NewReader(bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrDecompress, err)
	}
	defer r.Close()
	guess := min(4*len(body)+512, limit+1)
	out := bytes.NewBuffer(make([]byte, 0, guess))
	// Reading one byte past the limit distinguishes "exactly limit" from
	// "more than limit" without trusting any size the sender claims.
	n, err := out.ReadFrom(io.LimitReader(r, int64(limit)+1))
	if err != nil {
		// Truncation, checksum and flate errors all mean a damaged stream.
		return nil, fmt.Errorf("%w: %w", ErrDecompress, err)
	}
	if n > int64(limit) {
		return nil, fmt.Errorf("%w: inflated body exceeds %d bytes", ErrBodyTooLarge, limit)
	}
	return out.Bytes(), nil
}
