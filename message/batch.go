package message

import (
	"encoding/binary"
	"fmt"
)

// SEND_BATCH_MESSAGE body (upstream MessageDecoder.encodeMessages): records back to back, each
//
//	TOTALSIZE int32 | MAGIC int32 (0) | BODYCRC int32 (0) | FLAG int32 |
//	BODYLEN int32 | BODY | PROPLEN int16 | PROPERTIES
//
// with TOTALSIZE = 20 + bodyLen + 2 + propLen. Clients never compress batch
// bodies and leave MAGIC and BODYCRC zero; the broker computes the CRC.
const batchFixedLen = 4 + 4 + 4 + 4 + 4 + 2

// AppendBatch appends the batch encoding of msgs to dst. It checks only what
// the layout needs (non-nil messages, properties within PROPLEN); callers
// run Validate on each message first. On error dst is returned unchanged in
// length.
func AppendBatch(dst []byte, msgs []*Message) ([]byte, error) {
	start := len(dst)
	be := binary.BigEndian
	for i, m := range msgs {
		if m == nil {
			return dst[:start], fmt.Errorf("%w: batch message %d", ErrNilMessage, i)
		}
		if len(m.Body) > 0x7FFFFFFF-batchFixedLen-MaxPropertiesLength {
			return dst[:start], fmt.Errorf("%w: batch message %d body %d bytes", ErrBodyTooLarge, i, len(m.Body))
		}
		rec := len(dst)
		dst = grow(dst, 20)
		be.PutUint32(dst[rec+4:], 0)
		be.PutUint32(dst[rec+8:], 0)
		be.PutUint32(dst[rec+12:], uint32(m.Flag))
		be.PutUint32(dst[rec+16:], uint32(len(m.Body)))
		dst = append(dst, m.Body...)
		plen := len(dst)
		dst = append(dst, 0, 0)
		dst = m.EncodeProperties(dst)
		propLen := len(dst) - plen - 2
		if propLen > MaxPropertiesLength {
			return dst[:start], fmt.Errorf("%w: batch message %d has %d bytes", ErrPropertiesTooLarge, i, propLen)
		}
		be.PutUint16(dst[plen:], uint16(propLen))
		be.PutUint32(dst[rec:], uint32(len(dst)-rec))
	}
	return dst, nil
}

// DecodeBatch walks a SEND_BATCH_MESSAGE body and calls fn for each record
// with its flag, body and property bytes. The slices alias body (no copies)
// and are capped, so fn may append to them without clobbering the next
// record; fn must copy anything it keeps beyond body's lifetime. MAGIC and
// BODYCRC are ignored, as the Java broker does. A malformed record stops the
// walk with a *DecodeError wrapping ErrBadBatch and ErrCorrupt; an error from
// fn stops it and is returned wrapped with the record index.
func DecodeBatch(body []byte, fn func(flag int32, body []byte, props []byte) error) error {
	be := binary.BigEndian
	for i, off := 0, 0; off < len(body); i++ {
		b := body[off:]
		bad := func(format string, args ...any) error {
			return &DecodeError{Index: i, Offset: off, Batch: true, Reason: fmt.Sprintf(format, args...)}
		}
		if len(b) < batchFixedLen {
			return bad("%d trailing bytes are shorter than a record", len(b))
		}
		total := int(int32(be.Uint32(b)))
		if total < batchFixedLen || total > len(b) {
			return bad("total size %d with %d bytes available", total, len(b))
		}
		b = b[:total]
		flag := int32(be.Uint32(b[12:]))
		bodyLen := int(int32(be.Uint32(b[16:])))
		if bodyLen < 0 || bodyLen > total-batchFixedLen {
			return bad("body length %d in a %d-byte record", bodyLen, total)
		}
		p := 20 + bodyLen
		propLen := int(int16(be.Uint16(b[p:])))
		p += 2
		if propLen < 0 || propLen != total-p {
			return bad("properties length %d, %d bytes left", propLen, total-p)
		}
		if err := fn(flag, b[20:20+bodyLen:20+bodyLen], b[p:total:total]); err != nil {
			return fmt.Errorf("message: batch record %d: %w", i, err)
		}
		off += total
	}
	return nil
}
