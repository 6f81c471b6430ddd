package remoting

import (
	"encoding/binary"
	"fmt"
	"math"
)

// Frame layout (upstream RemotingCommand.encode / NettyDecoder):
//
//	int32 frameLen   bytes after this field = 4 + headerLen + bodyLen
//	int32 headerWord byte 0 = serialize type, bytes 1..3 = headerLen
//	header           JSON text or ROCKETMQ binary
//	body             opaque bytes
//
// LengthPrefix is the size of the frame length field.
const LengthPrefix = 4

const (
	headerWordLen = 4
	maxHeaderLen  = 0xFFFFFF // 24 bits of the header word

	// maxExtFields caps the ext pairs a decoder accepts. Real headers carry
	// about twenty; the cap keeps a hostile header of tiny pairs from costing
	// far more memory (32 bytes of string headers per pair) than its size.
	maxExtFields = 1024
)

// AppendFrame appends the complete wire frame of c, length prefix included,
// encoding the header in c.SerializeType. It does not allocate when dst has
// room for the frame. On error dst is returned unchanged (same length).
func AppendFrame(dst []byte, c *Command) ([]byte, error) {
	dst, err := AppendFrameHeader(dst, c)
	if err != nil {
		return dst, err
	}
	return append(dst, c.Body...), nil
}

// AppendFrameHeader appends everything of c's frame except the body: length
// prefix (which counts the body), header word and header. Writers of large
// bodies (pull responses) use it to send header and body with one writev
// instead of copying the body. On error dst is returned unchanged.
func AppendFrameHeader(dst []byte, c *Command) ([]byte, error) {
	start := len(dst)
	dst = append(dst, 0, 0, 0, 0, 0, 0, 0, 0)
	hdrStart := len(dst)
	switch c.SerializeType {
	case SerializeJSON:
		dst = appendJSONHeader(dst, c)
	case SerializeRocketMQ:
		var err error
		if dst, err = appendBinaryHeader(dst, c); err != nil {
			return dst[:start], err
		}
	default:
		return dst[:start], fmt.Errorf("%w: cannot encode serialize type %d", ErrMalformedFrame, c.SerializeType)
	}
	hdrLen := len(dst) - hdrStart
	if hdrLen > maxHeaderLen {
		return dst[:start], fmt.Errorf("%w: header of %d bytes exceeds 24-bit length", ErrFrameTooLarge, hdrLen)
	}
	frameLen := headerWordLen + hdrLen + len(c.Body)
	if frameLen > math.MaxInt32 {
		return dst[:start], fmt.Errorf("%w: %d bytes", ErrFrameTooLarge, frameLen)
	}
	binary.BigEndian.PutUint32(dst[start:], uint32(frameLen))
	binary.BigEndian.PutUint32(dst[start+LengthPrefix:], uint32(c.SerializeType)<<24|uint32(hdrLen))
	return dst, nil
}

// SplitFrame finds the first frame in a stream buffer. It returns the frame
// without its length prefix (aliasing buf) and the number of bytes consumed.
// An incomplete frame yields (nil, 0, nil): read more and call again. A length
// above maxFrame (DefaultMaxFrameSize when maxFrame <= 0) yields
// ErrFrameTooLarge before the frame's bytes have arrived, so a hostile peer
// cannot make the reader buffer it; a length too small to hold the header
// word yields ErrMalformedFrame. Both are fatal for the connection.
func SplitFrame(buf []byte, maxFrame int) (frame []byte, n int, err error) {
	if len(buf) < LengthPrefix {
		return nil, 0, nil
	}
	if maxFrame <= 0 {
		maxFrame = DefaultMaxFrameSize
	}
	l := int64(int32(binary.BigEndian.Uint32(buf)))
	if l < headerWordLen {
		return nil, 0, fmt.Errorf("%w: frame length %d", ErrMalformedFrame, l)
	}
	if l > int64(maxFrame) {
		return nil, 0, fmt.Errorf("%w: %d bytes, limit %d", ErrFrameTooLarge, l, maxFrame)
	}
	end := LengthPrefix + int(l)
	if len(buf) < end {
		return nil, 0, nil
	}
	return buf[LengthPrefix:end:end], end, nil
}

// DecodeFrame decodes one frame given WITHOUT its length prefix (as returned
// by SplitFrame). The returned Body aliases frame: callers that reuse their
// read buffer must copy the body (or the frame) first. Header strings are
// copied once, so the Command's Remark and Ext stay valid after frame is
// reused. Errors wrap ErrMalformedFrame.
func DecodeFrame(frame []byte) (*Command, error) {
	if len(frame) < headerWordLen {
		return nil, fmt.Errorf("%w: %d bytes, shorter than the header word", ErrMalformedFrame, len(frame))
	}
	word := binary.BigEndian.Uint32(frame)
	st := SerializeType(word >> 24)
	hdrLen := int(word & maxHeaderLen)
	if hdrLen > len(frame)-headerWordLen {
		return nil, fmt.Errorf("%w: header length %d exceeds frame of %d bytes", ErrMalformedFrame, hdrLen, len(frame))
	}
	hdr := frame[headerWordLen : headerWordLen+hdrLen]
	c := &Command{SerializeType: st}
	var err error
	switch st {
	case SerializeJSON:
		err = decodeJSONHeader(c, string(hdr))
	case SerializeRocketMQ:
		err = decodeBinaryHeader(c, string(hdr))
	default:
		return nil, fmt.Errorf("%w: unknown serialize type %d", ErrMalformedFrame, st)
	}
	if err != nil {
		return nil, err
	}
	if body := frame[headerWordLen+hdrLen:]; len(body) > 0 {
		c.Body = body
	}
	return c, nil
}
