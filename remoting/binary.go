package remoting

import (
	"encoding/binary"
	"fmt"
	"math"
)

// ROCKETMQ binary header (upstream RocketMQSerializable):
//
//	int16 code, uint8 language, int16 version, int32 opaque, int32 flag,
//	int32 remarkLen + remark, int32 extLen + entries
//	entry: int16 keyLen + key, int32 valLen + value
const binaryFixedLen = 2 + 1 + 2 + 4 + 4 + 4 + 4

func appendBinaryHeader(dst []byte, c *Command) ([]byte, error) {
	if c.Code == CodeOutOfRange && c.WideCode != 0 {
		// Upstream truncates such a code to a short; a peer would then
		// read another request code entirely.
		return dst, fmt.Errorf("%w: request code %d does not fit the binary header (use JSON)", ErrFrameTooLarge, c.WideCode)
	}
	dst = binary.BigEndian.AppendUint16(dst, uint16(c.Code))
	dst = append(dst, byte(c.Language))
	dst = binary.BigEndian.AppendUint16(dst, uint16(c.Version))
	dst = binary.BigEndian.AppendUint32(dst, uint32(c.Opaque))
	dst = binary.BigEndian.AppendUint32(dst, uint32(c.Flag))
	if len(c.Remark) > maxHeaderLen {
		return dst, fmt.Errorf("%w: remark of %d bytes", ErrFrameTooLarge, len(c.Remark))
	}
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(c.Remark)))
	dst = append(dst, c.Remark...)
	extAt := len(dst)
	dst = append(dst, 0, 0, 0, 0)
	for i := 0; i+1 < len(c.Ext.kv); i += 2 {
		k, v := c.Ext.kv[i], c.Ext.kv[i+1]
		if len(k) > math.MaxInt16 || len(v) > maxHeaderLen {
			return dst, fmt.Errorf("%w: ext entry %q too long for the binary header", ErrFrameTooLarge, k)
		}
		dst = binary.BigEndian.AppendUint16(dst, uint16(len(k)))
		dst = append(dst, k...)
		dst = binary.BigEndian.AppendUint32(dst, uint32(len(v)))
		dst = append(dst, v...)
	}
	extLen := len(dst) - extAt - 4
	if extLen > maxHeaderLen {
		return dst, fmt.Errorf("%w: ext of %d bytes", ErrFrameTooLarge, extLen)
	}
	binary.BigEndian.PutUint32(dst[extAt:], uint32(extLen))
	return dst, nil
}

func binaryFail(what string, off int) error {
	return fmt.Errorf("%w: binary header: %s at offset %d", ErrMalformedFrame, what, off)
}

// decodeBinaryHeader parses s, the header copied once into a string, so every
// remark, key and value is a substring and costs no further allocation.
// A zero-length value decodes as an empty string (Java would read null).
func decodeBinaryHeader(c *Command, s string) error {
	if len(s) < binaryFixedLen {
		return binaryFail("truncated fixed part", len(s))
	}
	c.Code = int16(be16(s, 0))
	c.Language = LanguageCode(s[2])
	c.Version = int16(be16(s, 3))
	c.Opaque = int32(be32(s, 5))
	c.Flag = int32(be32(s, 9))
	p := 13
	remarkLen := int64(int32(be32(s, p)))
	p += 4
	if remarkLen < 0 || remarkLen > int64(len(s)-p-4) {
		return binaryFail("bad remark length", p-4)
	}
	c.Remark = s[p : p+int(remarkLen)]
	p += int(remarkLen)
	extLen := int64(int32(be32(s, p)))
	p += 4
	if extLen < 0 || extLen > int64(len(s)-p) {
		return binaryFail("bad ext length", p-4)
	}
	end := p + int(extLen)
	if extLen > 0 {
		// Each entry takes at least 6 bytes, which bounds the pair count.
		c.Ext.kv = make([]string, 0, 2*min(countBinaryEntries(s, p, end), maxExtFields))
	}
	for p < end {
		if c.Ext.Len() >= maxExtFields {
			return binaryFail("too many ext fields", p)
		}
		if end-p < 2 {
			return binaryFail("truncated key length", p)
		}
		kl := int(int16(be16(s, p)))
		p += 2
		if kl < 0 || kl > end-p-4 {
			return binaryFail("bad key length", p-2)
		}
		k := s[p : p+kl]
		p += kl
		vl := int64(int32(be32(s, p)))
		p += 4
		if vl < 0 || vl > int64(end-p) {
			return binaryFail("bad value length", p-4)
		}
		c.Ext.add(k, s[p:p+int(vl)])
		p += int(vl)
	}
	// Bytes after the ext block are ignored, as Java's decoder ignores them.
	return nil
}

// countBinaryEntries walks the entry lengths only (validation happens in the
// caller's loop), stopping at anything inconsistent.
func countBinaryEntries(s string, p, end int) int {
	n := 0
	for end-p >= 6 {
		kl := int(int16(be16(s, p)))
		if kl < 0 || kl > end-p-6 {
			break
		}
		p += 2 + kl
		vl := int64(int32(be32(s, p)))
		if vl < 0 || vl > int64(end-p-4) {
			break
		}
		p += 4 + int(vl)
		n++
	}
	return n
}

func be16(s string, p int) uint16 { return uint16(s[p])<<8 | uint16(s[p+1]) }

func be32(s string, p int) uint32 {
	return uint32(s[p])<<24 | uint32(s[p+1])<<16 | uint32(s[p+2])<<8 | uint32(s[p+3])
}
