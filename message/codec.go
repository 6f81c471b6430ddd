package message

import (
	"bytes"
	"compress/zlib"
	"fmt"
	"io"
	"runtime"
	"sync"
	"sync/atomic"

	kzlib "github.com/klauspost/compress/zlib"
	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
)

// Codec compresses and inflates bodies of every type, keeping between calls
// the state that is costly to build: zlib writers (about 800 KiB of deflate
// state each) and readers (about 45 KiB), LZ4 compressors (a 136 KiB hash
// table each), the zstd encoders (one per speed) and the zstd decoder, whose
// block decoders keep their tables warm. It is safe for concurrent use. Hold
// one per producer or consumer, not one per message.
//
// The zero value is ready to use. A Codec must not be copied after first
// use. Nothing needs closing: only zstd's stateless EncodeAll and DecodeAll
// are used, and they start no goroutines.
type Codec struct {
	// decoders and encoders are the zstd concurrency: how many DecodeAll
	// and EncodeAll calls may run at once before further callers wait.
	// 0 means runtime.GOMAXPROCS for decoders, whose warm state is small,
	// and min(4, GOMAXPROCS) for encoders, whose match tables take 1.5 to
	// 6 MiB each once used, and about 40 MiB at levels 10 and above (the
	// Go encoder's best mode).
	decoders, encoders int

	zdecOnce sync.Once
	zdec     *zstd.Decoder
	zdecErr  error
	zenc     [zstd.SpeedBestCompression + 1]struct {
		once sync.Once
		enc  *zstd.Encoder
		err  error
	}

	lz4   sync.Pool                           // *lz4.Compressor
	zlibW [zlib.BestCompression + 1]sync.Pool // *kzlib.Writer by level
	// zlibSpare keeps one writer per level out of the pool: sync.Pool
	// empties itself over two garbage collections, so a producer that
	// compresses less often than the collector runs (a trace producer
	// sends a batch every few milliseconds while the traced load collects
	// several times as often) built a new writer, hundreds of KiB of
	// cleared state, for nearly every body.
	zlibSpare [zlib.BestCompression + 1]atomic.Pointer[kzlib.Writer]
	zlibR     sync.Pool // *zlibInflater
}

// NewCodec returns a Codec sized for the machine (see Codec).
func NewCodec() *Codec { return new(Codec) }

// newCallCodec returns a Codec for one DecodeMessages call, which inflates
// its bodies one after another: one zstd block decoder is all it needs.
func newCallCodec() *Codec { return &Codec{decoders: 1, encoders: 1} }

// Compress compresses body with t at level (0 means DefaultCompressLevel;
// see CompressionType.ValidLevel for the ranges). zlib output is an RFC 1950
// stream, LZ4 output one frame shaped as Java's LZ4FrameOutputStream writes
// it, zstd output one frame; each reads back with any implementation of its
// format, Java's included.
func (c *Codec) Compress(t CompressionType, body []byte, level int) ([]byte, error) {
	if !t.Valid() {
		return nil, fmt.Errorf("%w: %v", ErrUnsupportedCompress, t)
	}
	if !t.ValidLevel(level) {
		return nil, fmt.Errorf("%w: %d for %v", ErrCompressLevel, level, t)
	}
	if level == 0 {
		level = DefaultCompressLevel
	}
	switch t {
	case CompressLZ4:
		lc, _ := c.lz4.Get().(*lz4.Compressor)
		if lc == nil {
			lc = new(lz4.Compressor)
		}
		out := compressLZ4(lc, body)
		c.lz4.Put(lc)
		return out, nil
	case CompressZstd:
		enc, err := c.zstdEncoder(zstd.EncoderLevelFromZstd(level))
		if err != nil {
			return nil, fmt.Errorf("message: zstd encoder: %w", err)
		}
		return enc.EncodeAll(body, nil), nil
	default:
		return c.compressZlib(body, level)
	}
}

// Decompress inflates a body compressed with t. More than limit bytes
// (DefaultMaxInflateSize when limit <= 0) fail with ErrBodyTooLarge before
// that much is allocated; a damaged stream fails with ErrDecompress; an
// unknown type with ErrUnsupportedCompress.
func (c *Codec) Decompress(t CompressionType, body []byte, limit int) ([]byte, error) {
	if limit <= 0 {
		limit = DefaultMaxInflateSize
	}
	switch t {
	case CompressLZ4:
		return inflateLZ4(body, limit)
	case CompressZstd:
		d, err := c.zstdDecoder()
		if err != nil {
			return nil, fmt.Errorf("message: zstd decoder: %w", err)
		}
		return inflateZstd(d, body, limit)
	case CompressZlib:
		return c.inflateZlib(body, limit)
	}
	return nil, fmt.Errorf("%w: %v", ErrUnsupportedCompress, t)
}

func (c *Codec) zstdDecoder() (*zstd.Decoder, error) {
	c.zdecOnce.Do(func() {
		n := c.decoders
		if n <= 0 {
			n = runtime.GOMAXPROCS(0)
		}
		c.zdec, c.zdecErr = newZstdDecoder(n)
	})
	return c.zdec, c.zdecErr
}

func (c *Codec) zstdEncoder(level zstd.EncoderLevel) (*zstd.Encoder, error) {
	slot := &c.zenc[level]
	slot.once.Do(func() {
		n := c.encoders
		if n <= 0 {
			n = min(4, runtime.GOMAXPROCS(0))
		}
		slot.enc, slot.err = newZstdEncoder(level, n)
	})
	return slot.enc, slot.err
}

// compressZlib is Compress with a pooled writer; level is valid. The
// writer is klauspost/compress's zlib, not the standard library's: the
// stream is the same RFC 1950 format any inflater reads, produced two to
// three times faster at the low levels (measured on trace message bodies:
// 324 against 127 MB/s at level 1, for a ratio of 9.1 against 9.0).
func (c *Codec) compressZlib(body []byte, level int) ([]byte, error) {
	var buf bytes.Buffer
	// Typical text payloads shrink well; a quarter is a cheap first guess.
	buf.Grow(len(body)/4 + 64)
	pool, spare := &c.zlibW[level], &c.zlibSpare[level]
	w := spare.Swap(nil)
	if w == nil {
		w, _ = pool.Get().(*kzlib.Writer)
	}
	if w == nil {
		var err error
		if w, err = kzlib.NewWriterLevel(&buf, level); err != nil {
			return nil, fmt.Errorf("message: compress: %w", err)
		}
	} else {
		w.Reset(&buf)
	}
	_, err := w.Write(body)
	if err == nil {
		err = w.Close()
	}
	if err != nil {
		// Writing to a bytes.Buffer cannot fail; keep the writer out of the
		// pool all the same rather than reason about its state.
		return nil, fmt.Errorf("message: compress: %w", err)
	}
	w.Reset(nil) // drop the reference to buf, which the caller now owns
	if !spare.CompareAndSwap(nil, w) {
		pool.Put(w)
	}
	return buf.Bytes(), nil
}

// zlibInflater is a pooled zlib reader with the source it reads from.
type zlibInflater struct {
	src bytes.Reader
	r   io.ReadCloser // reads src; also a zlib.Resetter
}

// inflateZlib is Decompress with a pooled reader.
func (c *Codec) inflateZlib(body []byte, limit int) ([]byte, error) {
	z, _ := c.zlibR.Get().(*zlibInflater)
	if z == nil {
		z = new(zlibInflater)
	}
	defer func() {
		z.src.Reset(nil) // the pool must not keep the caller's body alive
		c.zlibR.Put(z)
	}()
	z.src.Reset(body)
	var err error
	if z.r == nil {
		z.r, err = zlib.NewReader(&z.src)
	} else {
		err = z.r.(zlib.Resetter).Reset(&z.src, nil)
	}
	if err != nil {
		// The header is bad; a reader that failed its Reset is reset again
		// by the next use, so it may go back to the pool.
		return nil, fmt.Errorf("%w: %w", ErrDecompress, err)
	}
	return readLimited(z.r, len(body), limit)
}

// readLimited reads r to its end into a new slice of at most limit bytes.
// Reading one byte past the limit distinguishes "exactly limit" from "more
// than limit" without trusting any size the sender claims.
func readLimited(r io.Reader, inLen, limit int) ([]byte, error) {
	guess := min(4*inLen+512, limit+1)
	out := bytes.NewBuffer(make([]byte, 0, guess))
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
