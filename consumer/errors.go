package consumer

import (
	"errors"
	"fmt"

	"github.com/rocketgo/rocketgo/remoting"
)

// Sentinel errors; match them with errors.Is.
var (
	// ErrInvalidOption: an option value is out of range; the message names it.
	ErrInvalidOption = errors.New("consumer: invalid option")
	// ErrClosed: the consumer was shut down.
	ErrClosed = errors.New("consumer: closed")
	// ErrNotStarted: the call needs Start first.
	ErrNotStarted = errors.New("consumer: not started")
	// ErrStarted: the call is only allowed before Start, or Start ran twice.
	ErrStarted = errors.New("consumer: already started")
	// ErrMixedListeners: concurrent and orderly listeners in one consumer.
	ErrMixedListeners = errors.New("consumer: concurrent and orderly listeners cannot be mixed")
	// ErrNoRoute: the name servers know no readable queue for a topic.
	ErrNoRoute = errors.New("consumer: no route")
	// ErrBrokerNotFound: a queue's broker has no known address.
	ErrBrokerNotFound = errors.New("consumer: broker address not found")
	// ErrNotAssigned: a lite-pull call names a queue the consumer does not own.
	ErrNotAssigned = errors.New("consumer: queue not assigned")
	// ErrNoOffset: the broker has no committed offset for the queue.
	ErrNoOffset = errors.New("consumer: no committed offset")
)

// BrokerError is a non-success answer from a broker.
type BrokerError struct {
	Op     string // request name, e.g. "PULL_MESSAGE"
	Addr   string // broker address
	Code   int16  // response code
	Remark string
}

func (e *BrokerError) Error() string {
	return fmt.Sprintf("consumer: %s to %s: %s (%d): %s", e.Op, e.Addr,
		remoting.CodeName(e.Code, true), e.Code, e.Remark)
}

// Is lets errors.Is(err, ErrNoOffset) match QUERY_NOT_FOUND answers.
func (e *BrokerError) Is(target error) bool {
	return target == ErrNoOffset && e.Code == remoting.QueryNotFound
}

func brokerError(op, addr string, resp *remoting.Command) error {
	return &BrokerError{Op: op, Addr: addr, Code: resp.Code, Remark: resp.Remark}
}
