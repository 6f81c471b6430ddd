// Package remoting implements the command model and frame codec of Apache
// RocketMQ's classic "remoting" protocol: the RemotingCommand envelope, its
// JSON and ROCKETMQ-binary header serialisations, typed request/response
// headers and the request/response code tables.
//
// The codec is allocation-lean and reflection-free because every message sent
// or pulled goes through it. The package opens no sockets: the client
// transport is remoting/netclient, the server transport server/transport.
package remoting

import (
	"errors"
	"math"
	"strconv"
)

// LanguageCode identifies the implementation that sent a command
// (upstream LanguageCode). JSON carries the name, the binary header the number.
type LanguageCode uint8

// Language codes as assigned by RocketMQ.
const (
	LangJava   LanguageCode = 0
	LangCPP    LanguageCode = 1
	LangDotNet LanguageCode = 2
	LangPython LanguageCode = 3
	LangDelphi LanguageCode = 4
	LangErlang LanguageCode = 5
	LangRuby   LanguageCode = 6
	LangOther  LanguageCode = 7
	LangHTTP   LanguageCode = 8
	LangGo     LanguageCode = 9
	LangPHP    LanguageCode = 10
	LangOMS    LanguageCode = 11
	LangRust   LanguageCode = 12
	LangNodeJS LanguageCode = 13
)

// String returns the wire name; codes outside the table read as "OTHER"
// because that is how a peer would have to treat them anyway.
func (l LanguageCode) String() string {
	switch l {
	case LangJava:
		return "JAVA"
	case LangCPP:
		return "CPP"
	case LangDotNet:
		return "DOTNET"
	case LangPython:
		return "PYTHON"
	case LangDelphi:
		return "DELPHI"
	case LangErlang:
		return "ERLANG"
	case LangRuby:
		return "RUBY"
	case LangOther:
		return "OTHER"
	case LangHTTP:
		return "HTTP"
	case LangGo:
		return "GO"
	case LangPHP:
		return "PHP"
	case LangOMS:
		return "OMS"
	case LangRust:
		return "RUST"
	case LangNodeJS:
		return "NODE_JS"
	}
	return "OTHER"
}

// ParseLanguage maps a wire name to its code. Unknown names are OTHER, so a
// client with a language this table lacks is still served.
func ParseLanguage(name string) LanguageCode {
	switch name {
	case "JAVA":
		return LangJava
	case "CPP":
		return LangCPP
	case "DOTNET":
		return LangDotNet
	case "PYTHON":
		return LangPython
	case "DELPHI":
		return LangDelphi
	case "ERLANG":
		return LangErlang
	case "RUBY":
		return LangRuby
	case "OTHER":
		return LangOther
	case "HTTP":
		return LangHTTP
	case "GO":
		return LangGo
	case "PHP":
		return LangPHP
	case "OMS":
		return LangOMS
	case "RUST":
		return LangRust
	case "NODE_JS":
		return LangNodeJS
	}
	return LangOther
}

// SerializeType selects the header encoding (byte 0 of the header word).
type SerializeType uint8

// Header serialisations.
const (
	SerializeJSON     SerializeType = 0
	SerializeRocketMQ SerializeType = 1
)

func (s SerializeType) String() string {
	switch s {
	case SerializeJSON:
		return "JSON"
	case SerializeRocketMQ:
		return "ROCKETMQ"
	}
	return "SerializeType(" + strconv.Itoa(int(s)) + ")"
}

// Flag bits of a command.
const (
	FlagResponse int32 = 1 // set on every response
	FlagOneway   int32 = 2 // request expects no response (Java only; Go and ons never set it)
)

// DefaultMaxFrameSize is Java's default frame cap (com.rocketmq.remoting.frameMaxLength).
const DefaultMaxFrameSize = 16 << 20

// Versions (MQVersion ordinals) worth naming.
const (
	VersionV3_4_9 int16 = 121 // ons; brokers honour maxReconsumeTimes from here
	VersionV4_5_2 int16 = 317 // rocketmq-client-go v2
	VersionV4_9_4 int16 = 401 // namesrv switches to standard JSON routes
	VersionV5_3_3 int16 = 479 // what we send
)

// Sentinel errors. Codec errors wrap ErrMalformedFrame or ErrFrameTooLarge;
// header decoding errors are *FieldError wrapping ErrMissingField or
// ErrInvalidField.
var (
	ErrFrameTooLarge  = errors.New("remoting: frame too large")
	ErrMalformedFrame = errors.New("remoting: malformed frame")
	ErrMissingField   = errors.New("remoting: missing header field")
	ErrInvalidField   = errors.New("remoting: invalid header field")
)

// FieldError reports a header field that is absent or unparsable.
type FieldError struct {
	Key   string // ext key as looked up (V1 name when both spellings are accepted)
	Value string // offending value; empty for a missing field
	Err   error  // ErrMissingField or ErrInvalidField
}

func (e *FieldError) Error() string {
	if errors.Is(e.Err, ErrMissingField) {
		return "remoting: missing header field " + strconv.Quote(e.Key)
	}
	return "remoting: invalid header field " + strconv.Quote(e.Key) + ": " + strconv.Quote(e.Value)
}

func (e *FieldError) Unwrap() error { return e.Err }

// Command is one RemotingCommand: a request or a response.
type Command struct {
	Code          int16
	Language      LanguageCode
	Version       int16
	Opaque        int32
	Flag          int32
	Remark        string
	Ext           ExtFields
	Body          []byte
	SerializeType SerializeType // header encoding used on the wire
	// WideCode is the code a JSON header carried when it did not fit Code
	// (which then holds CodeOutOfRange), so replies can name what the peer
	// sent; 0 otherwise. ReceivedCode combines the two.
	WideCode int32
}

// ReceivedCode is the request code as the peer sent it: WideCode for a JSON
// code beyond int16, Code otherwise.
func (c *Command) ReceivedCode() int64 {
	if c.Code == CodeOutOfRange && c.WideCode != 0 {
		return int64(c.WideCode)
	}
	return int64(c.Code)
}

// Header is a typed request or response header that can write itself into
// ext fields.
type Header interface {
	EncodeExt(e *ExtFields)
}

// HeaderDecoder is a typed header that can read itself from ext fields.
type HeaderDecoder interface {
	DecodeExt(e *ExtFields) error
}

// IsResponse reports whether flag bit 0 is set.
func (c *Command) IsResponse() bool { return c.Flag&FlagResponse != 0 }

// IsOneway reports whether the sender asked for no reply (flag bit 1).
func (c *Command) IsOneway() bool { return c.Flag&FlagOneway != 0 }

// NewRequest builds a request that identifies itself as a Go sender of
// version V5_3_3 and uses JSON, the one encoding every peer accepts. The
// opaque is left 0: the transport assigns it when it sends the command.
func NewRequest(code int16, h Header, body []byte) *Command {
	c := new(Command)
	c.ResetRequest(code, body)
	if h != nil {
		h.EncodeExt(&c.Ext)
	}
	return c
}

// ResetRequest makes c the request NewRequest(code, nil, body) builds,
// keeping the storage of c's ext fields (emptied) for the header the
// caller encodes next: a sender that recycles its requests allocates no
// Command and no ext pairs per request.
func (c *Command) ResetRequest(code int16, body []byte) {
	ext := c.Ext
	ext.Reset()
	*c = Command{Code: code, Language: LangGo, Version: VersionV5_3_3, Body: body, SerializeType: SerializeJSON, Ext: ext}
}

// NewWideRequest is NewRequest for a request code beyond int16 (the 5.x
// POP codes). The command always uses the JSON header, the only one that
// can carry such a code.
func NewWideRequest(code int32, h Header, body []byte) *Command {
	if code >= math.MinInt16 && code <= math.MaxInt16 {
		return NewRequest(int16(code), h, body)
	}
	c := NewRequest(CodeOutOfRange, h, body)
	c.WideCode = code
	return c
}

// NewResponse builds the reply to req: same opaque, the response bit set and
// req's serialisation, so a client that spoke ROCKETMQ binary (or ons, which
// only reads JSON) gets an answer it can parse.
func NewResponse(req *Command, code int16, remark string) *Command {
	return &Command{
		Code:          code,
		Language:      LangGo,
		Version:       VersionV5_3_3,
		Opaque:        req.Opaque,
		Flag:          FlagResponse,
		Remark:        remark,
		SerializeType: req.SerializeType,
	}
}

// SetHeader writes h into the command's ext fields (after any already there).
func (c *Command) SetHeader(h Header) {
	if h != nil {
		h.EncodeExt(&c.Ext)
	}
}

// DecodeHeader fills h from the command's ext fields.
func (c *Command) DecodeHeader(h HeaderDecoder) error { return h.DecodeExt(&c.Ext) }

// String renders a one-line description for logs.
func (c *Command) String() string {
	kind := "request"
	if c.IsResponse() {
		kind = "response"
	}
	return kind + " code=" + CodeName(c.Code, c.IsResponse()) + "(" + strconv.Itoa(int(c.Code)) +
		") opaque=" + strconv.Itoa(int(c.Opaque)) + " flag=" + strconv.Itoa(int(c.Flag)) +
		" lang=" + c.Language.String() + " version=" + strconv.Itoa(int(c.Version)) +
		" remark=" + strconv.Quote(c.Remark) + " ext=" + c.Ext.String() +
		" body=" + strconv.Itoa(len(c.Body)) + "B"
}
