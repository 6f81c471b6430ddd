package message

import (
	"encoding/binary"
	"fmt"
	"strings"
)

// DecodeError locates a malformed record in a pull or batch body. It wraps
// ErrCorrupt, and ErrBadBatch too when it comes from DecodeBatch.
type DecodeError struct {
	Index  int    // record index within the body
	Offset int    // byte offset of that record
	Batch  bool   // a SEND_BATCH_MESSAGE body rather than stored records
	Reason string // what was wrong
	Err    error  // underlying parse error, if any
}

func (e *DecodeError) Error() string {
	kind := "record"
	if e.Batch {
		kind = "batch record"
	}
	if e.Err != nil {
		return fmt.Sprintf("message: %s %d at byte %d: %v", kind, e.Index, e.Offset, e.Err)
	}
	return fmt.Sprintf("message: %s %d at byte %d: %s: %s", kind, e.Index, e.Offset, ErrCorrupt, e.Reason)
}

// Unwrap makes errors.Is(err, ErrCorrupt) hold, plus ErrBadBatch for batch
// bodies.
func (e *DecodeError) Unwrap() []error {
	errs := make([]error, 0, 2)
	if e.Err != nil {
		errs = append(errs, e.Err)
	} else {
		errs = append(errs, ErrCorrupt)
	}
	if e.Batch {
		errs = append(errs, ErrBadBatch)
	}
	return errs
}

// DecodeOption configures DecodeMessages.
type DecodeOption func(*decodeConfig)

type decodeConfig struct {
	maxInflate int
	verifyCRC  bool
	copyInput  bool
	codec      *Codec // WithCodec's, or one built for the call on first use
	inflated   int    // bytes inflated so far in this call
}

// inflateBudget bounds all inflated bodies of one DecodeMessages call to four
// times the per-body limit, so a pull body of 32 small zip bombs cannot
// claim 32 times the per-body limit in memory.
func (c *decodeConfig) inflateBudget() int { return 4 * c.maxInflate }

// WithMaxInflateSize bounds each inflated body (default
// DefaultMaxInflateSize), and all inflated bodies of one call to four times
// that. A body over either limit sets MessageExt.Err to an error wrapping
// ErrBodyTooLarge.
func WithMaxInflateSize(n int) DecodeOption {
	return func(c *decodeConfig) { c.maxInflate = n }
}

// WithVerifyCRC checks each record's BODYCRC (default off, as in the Java
// and Go consumers); a mismatch is a corrupt record.
func WithVerifyCRC(on bool) DecodeOption {
	return func(c *decodeConfig) { c.verifyCRC = on }
}

// WithCodec makes DecodeMessages inflate with c, so that its zstd decoder
// and zlib readers stay warm from one call to the next (default: a Codec
// built for the call when it meets its first compressed body, which costs a
// zstd decoder per call that holds zstd bodies). A consumer decoding pull
// after pull should hold one Codec and pass it.
func WithCodec(c *Codec) DecodeOption {
	return func(cfg *decodeConfig) { cfg.codec = c }
}

// WithCopyInput makes DecodeMessages copy the input once up front so that no
// returned Body aliases the caller's buffer (default off: bodies alias it).
func WithCopyInput(on bool) DecodeOption {
	return func(c *decodeConfig) { c.copyInput = on }
}

// DecodeMessages decodes stored records laid back to back, as in PULL_MESSAGE
// and QUERY_MESSAGE response bodies. Both magic codes and IPv4/IPv6 hosts are
// accepted.
//
// Aliasing: unless WithCopyInput is given, each uncompressed Body is a
// capacity-capped sub-slice of body, so the caller must not reuse body while
// the messages are in use. Topics, MsgIDs and property strings never alias
// body; they share one string allocated per call.
//
// Compressed bodies (SysFlag 0x1) are inflated according to the compression
// type in bits 8–10: zlib (0x300, or legacy 0), LZ4 (0x100) or zstd (0x200).
// A reserved type (0x400–0x700, ErrUnsupportedCompress), a damaged stream
// (ErrDecompress) or a result over the inflate limits (ErrBodyTooLarge)
// leaves Body nil and sets MessageExt.Err instead. Such per-message problems
// do not fail the call.
//
// A corrupt record (bad size, magic, lengths, or CRC with WithVerifyCRC)
// stops decoding: the messages before it are returned together with a
// *DecodeError wrapping ErrCorrupt.
func DecodeMessages(body []byte, opts ...DecodeOption) ([]*MessageExt, error) {
	cfg := decodeConfig{maxInflate: DefaultMaxInflateSize}
	if len(opts) > 0 {
		// Options receive a pointer, which forces their target onto the
		// heap; keep that allocation off the common no-option path.
		c := cfg
		for _, o := range opts {
			o(&c)
		}
		cfg = c
	}
	if len(body) == 0 {
		return nil, nil
	}
	if cfg.copyInput {
		body = append([]byte(nil), body...)
	}

	// Count the records by hopping over TOTALSIZE so that one backing array
	// holds every message. The hop stops at the first implausible size; the
	// parse loop below reports it.
	n := 0
	for off := 0; off+4 <= len(body); n++ {
		total := int(int32(binary.BigEndian.Uint32(body[off:])))
		if total < storedMinLen || total > len(body)-off {
			break
		}
		off += total
	}
	backing := make([]MessageExt, n)
	out := make([]*MessageExt, 0, n)

	// Pass 1: parse headers, set numeric fields and bodies, and measure the
	// text (topic + properties) that pass 2 copies into one string.
	var perr *DecodeError
	textLen := 0
	off := 0
	for i := range backing {
		r, err := ParseStored(body[off:], cfg.verifyCRC)
		if err != nil {
			perr = &DecodeError{Index: i, Offset: off, Err: err}
			backing = backing[:i]
			break
		}
		m := &backing[i]
		fillExt(m, &r, &cfg)
		textLen += len(r.Topic) + len(r.Properties)
		off += int(r.TotalSize)
	}
	if perr == nil && off < len(body) {
		// The count hop stopped early: find out why, for the error.
		if _, err := ParseStored(body[off:], cfg.verifyCRC); err != nil {
			perr = &DecodeError{Index: len(backing), Offset: off, Err: err}
		} else {
			perr = &DecodeError{Index: len(backing), Offset: off, Reason: "record size does not match the body"}
		}
	}

	// Pass 2: one allocation for all text, then substrings of it.
	var sb strings.Builder
	sb.Grow(textLen)
	for i := range backing {
		sb.Write(backing[i].rawTopic)
		sb.Write(backing[i].rawProps)
	}
	text := sb.String()
	pos := 0
	for i := range backing {
		m := &backing[i]
		tl, pl := len(m.rawTopic), len(m.rawProps)
		m.Topic = text[pos : pos+tl]
		m.props = text[pos+tl : pos+tl+pl]
		pos += tl + pl
		m.rawTopic, m.rawProps = nil, nil
		if id, ok := LookupPropertyString(m.props, PropertyUniqKey); ok && id != "" {
			m.MsgID = id
		} else {
			m.MsgID = OffsetMsgID(m.StoreHost, m.CommitLogOffset)
		}
		out = append(out, m)
	}
	if perr != nil {
		return out, perr
	}
	return out, nil
}

func fillExt(m *MessageExt, r *StoredRecord, cfg *decodeConfig) {
	m.StoreSize = r.TotalSize
	m.BodyCRC = r.BodyCRC
	m.QueueID = r.QueueID
	m.Flag = r.Flag
	m.QueueOffset = r.QueueOffset
	m.CommitLogOffset = r.PhysicalOffset
	m.SysFlag = r.SysFlag
	m.BornTimestamp = r.BornTimestamp
	m.BornHost = r.BornHost
	m.StoreTimestamp = r.StoreTimestamp
	m.StoreHost = r.StoreHost
	m.ReconsumeTimes = r.ReconsumeTimes
	m.PreparedTransactionOffset = r.PreparedTransactionOffset
	m.rawTopic, m.rawProps = r.Topic, r.Properties
	m.storedBody = r.Body
	m.Body = r.Body
	if r.SysFlag&SysFlagCompressed == 0 {
		return
	}
	m.Body = nil
	t, err := CompressionTypeOf(r.SysFlag)
	if err != nil {
		m.Err = err
		return
	}
	limit := min(cfg.maxInflate, cfg.inflateBudget()-cfg.inflated)
	if limit <= 0 {
		m.Err = fmt.Errorf("%w: the response's inflate budget of %d bytes is spent", ErrBodyTooLarge, cfg.inflateBudget())
		return
	}
	if cfg.codec == nil {
		cfg.codec = newCallCodec()
	}
	body, err := cfg.codec.Decompress(t, r.Body, limit)
	if err != nil {
		m.Err = err
		return
	}
	cfg.inflated += len(body)
	m.Body = body
}
