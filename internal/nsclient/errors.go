package nsclient

import (
	"errors"
	"fmt"
	"strconv"

	"github.com/rocketgo/rocketgo/remoting/wire"
)

// Response codes this package interprets (fact sheet §3).
const (
	codeSuccess       int16 = 0
	codeTopicNotExist int16 = 17
	codeQueryNotFound int16 = 22
)

// Sentinel errors; match them with errors.Is.
var (
	// ErrTopicNotExist: a name server answered TOPIC_NOT_EXIST (17). It is an
	// answer, not a failure, so the client does not try other name servers.
	ErrTopicNotExist = errors.New("nsclient: topic not exist")
	// ErrNotFound: a name server answered QUERY_NOT_FOUND (22), e.g. for a
	// KV key that is not set.
	ErrNotFound = errors.New("nsclient: not found")
	// ErrNoNameServer: the address list is empty.
	ErrNoNameServer = errors.New("nsclient: no name server address")
	// ErrMalformedResponse: a success answer whose body does not parse. It
	// is wire.ErrMalformedBody, the body decoders' own sentinel.
	ErrMalformedResponse = wire.ErrMalformedBody
	// ErrClosed: the client was closed.
	ErrClosed = errors.New("nsclient: closed")
)

// ResponseError is a non-success answer from a name server. errors.Is
// matches ErrTopicNotExist for code 17 and ErrNotFound for code 22.
type ResponseError struct {
	Addr   string // name server that answered
	Code   int16
	Remark string
}

func (e *ResponseError) Error() string {
	return "nsclient: " + e.Addr + " answered code " + strconv.Itoa(int(e.Code)) + ": " + e.Remark
}

// Is makes errors.Is(err, ErrTopicNotExist) and errors.Is(err, ErrNotFound)
// work on the typed error.
func (e *ResponseError) Is(target error) bool {
	switch target {
	case ErrTopicNotExist:
		return e.Code == codeTopicNotExist
	case ErrNotFound:
		return e.Code == codeQueryNotFound
	}
	return false
}

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
