package namesrv

import (
	"errors"
	"fmt"

	"github.com/rocketgo/rocketgo/remoting/wire"
)

// Sentinel errors. Processors turn them into response codes; callers of the
// exported helpers can match them with errors.Is.
var (
	// ErrMalformedBody reports a REGISTER_BROKER (or other) body that cannot
	// be decoded (wire.ErrMalformedBody). The tables are left untouched.
	ErrMalformedBody = wire.ErrMalformedBody
	// ErrCRCMismatch reports a register body whose CRC-32 differs from the
	// bodyCrc32 header field (wire.ErrCRCMismatch).
	ErrCRCMismatch = wire.ErrCRCMismatch
	// ErrMissingField reports a request lacking a required header field.
	ErrMissingField = errors.New("namesrv: missing header field")
	// ErrServerClosed is returned by Start after Shutdown.
	ErrServerClosed = errors.New("namesrv: server closed")
)

// FieldError names a header field a request lacks. It unwraps to
// ErrMissingField. (Typed headers decoded by package remoting report their
// own *remoting.FieldError.)
type FieldError struct {
	Field string
	Err   error // ErrMissingField
}

func (e *FieldError) Error() string {
	return fmt.Sprintf("the header field <%s> is missing", e.Field)
}

func (e *FieldError) Unwrap() error { return e.Err }
