package consumer

import (
	"errors"

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
	// ErrNoOffset: the broker has no committed offset for the queue (it
	// answered QUERY_NOT_FOUND); remoting.ErrQueryNotFound.
	ErrNoOffset = remoting.ErrQueryNotFound
)

// brokerError describes a broker's non-success answer to the request op
// (a request code) as a *remoting.ResponseError.
func brokerError(op int16, addr string, resp *remoting.Command) error {
	return remoting.NewResponseError(op, addr, resp)
}
