package remoting

import (
	"errors"
	"fmt"
	"time"
)

// Transport errors shared by both ends of a connection: the client transport
// (remoting/netclient) and the server transport (server/transport) wrap
// these, so callers branch with errors.Is without importing either
// transport, and read the address and request code from *OpError via
// errors.As.
var (
	// ErrConnClosed reports that the connection a request travelled on was
	// closed before the response arrived (peer hung up, frame error, idle
	// timeout, or Close). The next call to the same address reconnects.
	ErrConnClosed = errors.New("remoting: connection closed")
	// ErrTimeout reports that no response arrived before the deadline. The
	// error also wraps the context error, so errors.Is(err,
	// context.DeadlineExceeded) holds as well.
	ErrTimeout = errors.New("remoting: request timed out")
	// ErrNilCommand is returned (wrapped in *OpError) when a nil *Command
	// is passed to an invoke method.
	ErrNilCommand = errors.New("remoting: nil command")
)

// OpError describes a failed transport operation.
type OpError struct {
	Op   string // "invoke", "invokeAsync", "invokeOneway", "dial"
	Addr string // remote address
	Code int16  // request code
	Err  error  // wraps one of the sentinels above, a context error or a codec error
}

func (e *OpError) Error() string {
	return fmt.Sprintf("remoting: %s code=%d addr=%s: %v", e.Op, e.Code, e.Addr, e.Err)
}

func (e *OpError) Unwrap() error { return e.Err }

// Defaults shared by client and server transports, matching RocketMQ's
// NettySystemConfig / NettyServerConfig.
const (
	DefaultDialTimeout    = 3 * time.Second   // connect timeout (Java 3000 ms)
	DefaultRequestTimeout = 3 * time.Second   // mqClientApiTimeout
	DefaultIdleTimeout    = 120 * time.Second // channel max idle, both sides
)
