package message

import (
	"bytes"
	"compress/zlib"
	"fmt"
	"strings"

	kzlib "github.com/klauspost/compress/zlib"
)

// Body compression (upstream DefaultMQProducerImpl.tryToCompressMessage): producers compress bodies of at least
// CompressThreshold bytes and set SysFlag 0x1. RocketMQ 5.x adds the
// compression type in SysFlag bits 8–10 (MessageSysFlag.COMPRESSION_*_TYPE);
// a record with 0x1 and no type bits is legacy zlib, written by 4.x and by
// the other clients.
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

// CompressionType is a body compression type. Its value is the type's SysFlag
// bits (8–10), so t.SysFlag() is what a producer ORs into the flag.
type CompressionType int32

// The compression types of RocketMQ 5.x (CompressionType: LZ4=1, ZSTD=2,
// ZLIB=3, shifted left by 8 in the flag).
const (
	// CompressLZ4 is the LZ4 frame format, as net.jpountz's
	// LZ4FrameOutputStream writes it.
	CompressLZ4 = CompressionType(SysFlagCompressLZ4)
	// CompressZstd is a Zstandard frame, as luben's ZstdOutputStream writes it.
	CompressZstd = CompressionType(SysFlagCompressZstd)
	// CompressZlib is an RFC 1950 zlib stream: the only type before 5.x and
	// the default of rocketmq.message.compressType.
	CompressZlib = CompressionType(SysFlagCompressZlib)
)

// DefaultCompressionType is rocketmq.message.compressType's default.
const DefaultCompressionType = CompressZlib

// String returns the Java enum name: "LZ4", "ZSTD" or "ZLIB".
func (t CompressionType) String() string {
	switch t {
	case CompressLZ4:
		return "LZ4"
	case CompressZstd:
		return "ZSTD"
	case CompressZlib:
		return "ZLIB"
	}
	return fmt.Sprintf("CompressionType(%#x)", int32(t))
}

// Valid reports whether t is one of the three known types.
func (t CompressionType) Valid() bool {
	return t == CompressLZ4 || t == CompressZstd || t == CompressZlib
}

// SysFlag returns the flag bits of a body compressed with t: 0x1 plus the
// type bits, as the Java 5.x producer sets them (0x101, 0x201, 0x301).
func (t CompressionType) SysFlag() int32 { return SysFlagCompressed | int32(t)&SysFlagCompressMask }

// ValidLevel reports whether level is accepted for t. 0 always is (it means
// DefaultCompressLevel). zlib takes 1..9 (java.util.zip.Deflater's range
// without its "default" and "store" values); zstd takes libzstd's regular
// levels 1..22 (its negative "fast" levels have no equivalent in the Go
// encoder); LZ4 takes any level and ignores it, because Java's Lz4Compressor
// does: it always uses the fast block compressor.
func (t CompressionType) ValidLevel(level int) bool {
	switch t {
	case CompressZlib:
		return level >= 0 && level <= zlib.BestCompression
	case CompressZstd:
		return level >= 0 && level <= maxZstdLevel
	case CompressLZ4:
		return true
	}
	return false
}

// CompressionTypeOf returns the type of a compressed record's body from its
// SysFlag. Legacy flags without type bits mean zlib, as in Java's
// CompressionType.findByValue(0). Type bits 0x400–0x700 are reserved by
// upstream and fail with ErrUnsupportedCompress.
func CompressionTypeOf(sysFlag int32) (CompressionType, error) {
	switch bits := sysFlag & SysFlagCompressMask; bits {
	case 0:
		return CompressZlib, nil
	case SysFlagCompressLZ4, SysFlagCompressZstd, SysFlagCompressZlib:
		return CompressionType(bits), nil
	default:
		return 0, fmt.Errorf("%w: sysflag compression bits %#x", ErrUnsupportedCompress, bits)
	}
}

// ParseCompressionType reads a type name the way Java's CompressionType.of
// reads rocketmq.message.compressType: trimmed and case-insensitive.
func ParseCompressionType(name string) (CompressionType, error) {
	switch strings.ToUpper(strings.TrimSpace(name)) {
	case "LZ4":
		return CompressLZ4, nil
	case "ZSTD":
		return CompressZstd, nil
	case "ZLIB":
		return CompressZlib, nil
	}
	return 0, fmt.Errorf("%w: %q", ErrUnsupportedCompress, name)
}

// CompressWith compresses body with t at level (see ValidLevel). It builds
// the costly state (a zstd encoder) for this call only: callers compressing
// repeatedly should hold a Codec.
func CompressWith(t CompressionType, body []byte, level int) ([]byte, error) {
	return NewCodec().Compress(t, body, level)
}

// DecompressWith inflates a body compressed with t under the same rules as
// Decompress: more than limit bytes (DefaultMaxInflateSize when limit <= 0)
// fail with ErrBodyTooLarge before that much is allocated, a damaged stream
// fails with ErrDecompress. Callers inflating repeatedly should hold a
// Codec, which keeps the zstd decoder warm.
func DecompressWith(t CompressionType, body []byte, limit int) ([]byte, error) {
	return NewCodec().Decompress(t, body, limit)
}

// Compress returns body as a zlib stream at level (1..9; 0 means
// DefaultCompressLevel).
func Compress(body []byte, level int) ([]byte, error) {
	if level == 0 {
		level = DefaultCompressLevel
	}
	if level < zlib.BestSpeed || level > zlib.BestCompression {
		return nil, fmt.Errorf("%w: zlib level %d not in 1..9", ErrCompressLevel, level)
	}
	var buf bytes.Buffer
	// Typical text payloads shrink well; a quarter is a cheap first guess.
	buf.Grow(len(body)/4 + 64)
	w, err := kzlib.NewWriterLevel(&buf, level) // as Codec's: same format, faster
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
	return readLimited(r, len(body), limit)
}
