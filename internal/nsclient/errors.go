package nsclient

import (
	"errors"
	"fmt"

	"github.com/rocketgo/rocketgo/remoting"

	"github.com/rocketgo/rocketgo/remoting/wire"
)

// Sentinel errors; match them with errors.Is.
var (
	// ErrTopicNotExist: a name server answered TOPIC_NOT_EXIST (17). It is an
	// answer, not a failure, so the client does not try other name servers.
	ErrTopicNotExist = remoting.ErrTopicNotExist
	// ErrNotFound: a name server answered QUERY_NOT_FOUND (22), e.g. for a
	// KV key that is not set.
	ErrNotFound = remoting.ErrQueryNotFound
	// ErrNoNameServer: the address list is empty.
	ErrNoNameServer = errors.New("nsclient: no name server address")
	// ErrMalformedResponse: a success answer whose body does not parse. It
	// is wire.ErrMalformedBody, the body decoders' own sentinel.
	ErrMalformedResponse = wire.ErrMalformedBody
	// ErrClosed: the client was closed.
	ErrClosed = errors.New("nsclient: closed")
)

// AllFailedError reports that every name server failed at transport level;
// Errs holds one error per address tried, in order.
type AllFailedError struct {
	Errs []error
}

func (e *AllFailedError) Error() string {
	return fmt.Sprintf("nsclient: all %d name servers failed: %v", len(e.Errs), errors.Join(e.Errs...))
}

// Unwrap exposes every attempt's error to errors.Is/As.
func (e *AllFailedError) Unwrap() []error { return e.Errs }
