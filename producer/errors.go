package producer

import (
	"errors"
	"strconv"

	iclient "github.com/rocketgo/rocketgo/internal/client"
	"github.com/rocketgo/rocketgo/remoting"
)

// Sentinel errors; match them with errors.Is. Broker answers are
// *BrokerError values, which also match the sentinel of their code.
var (
	// ErrProducerClosed: Shutdown was called.
	ErrProducerClosed = errors.New("producer: closed")
	// ErrNoMessage: a send was called without messages.
	ErrNoMessage = errors.New("producer: no message")
	// ErrBatchMixed: a batch mixes topics (RocketMQ batches are per topic).
	ErrBatchMixed = errors.New("producer: batch messages must share one topic")
	// ErrBatchDelay: a batch message has a delay level (not supported by
	// RocketMQ batches).
	ErrBatchDelay = errors.New("producer: batch messages cannot be delayed")
	// ErrMessageTooLarge: the body or the encoded batch exceeds the
	// configured maximum message size.
	ErrMessageTooLarge = errors.New("producer: message too large")
	// ErrNotTransactional: SendMessageInTransaction without a listener.
	ErrNotTransactional = errors.New("producer: no transaction listener")
	// ErrNoNameServer: no name servers configured.
	ErrNoNameServer = iclient.ErrNoNameServer
	// ErrNoRoute: the topic has no writable queue on a live master.
	ErrNoRoute = iclient.ErrNoRoute
	// ErrTopicNotExist: the topic is unknown to the name servers (and
	// TBW102 could not stand in) or a broker answered TOPIC_NOT_EXIST.
	ErrTopicNotExist = iclient.ErrTopicNotExist

	// Broker answer sentinels (fact sheet §3).
	ErrSystemError         = errors.New("producer: broker system error")
	ErrSystemBusy          = errors.New("producer: broker busy")
	ErrMessageIllegal      = errors.New("producer: message illegal")
	ErrServiceNotAvailable = errors.New("producer: service not available")
	ErrNoPermission        = errors.New("producer: no permission")
)

// BrokerError is a non-success answer from a broker.
type BrokerError struct {
	Code   int16
	Remark string
	Broker string // broker name
	Addr   string // broker address
}

func (e *BrokerError) Error() string {
	return "producer: broker " + e.Broker + " (" + e.Addr + ") answered " +
		remoting.CodeName(e.Code, true) + " (" + strconv.Itoa(int(e.Code)) + "): " + e.Remark
}

// Is matches the sentinel of the code.
func (e *BrokerError) Is(target error) bool {
	switch target {
	case ErrTopicNotExist:
		return e.Code == remoting.TopicNotExist
	case ErrSystemError:
		return e.Code == remoting.SystemError
	case ErrSystemBusy:
		return e.Code == remoting.SystemBusy
	case ErrMessageIllegal:
		return e.Code == remoting.MessageIllegal
	case ErrServiceNotAvailable:
		return e.Code == remoting.ServiceNotAvailable
	case ErrNoPermission:
		return e.Code == remoting.NoPermission
	}
	return false
}

// Retriable reports whether the Java 5.x client retries this code on
// another broker (its retryResponseCodes).
func (e *BrokerError) Retriable() bool {
	switch e.Code {
	case remoting.TopicNotExist, remoting.ServiceNotAvailable, remoting.SystemError,
		remoting.SystemBusy, remoting.NoPermission, remoting.NoBuyerID,
		remoting.NotInCurrentUnit, remoting.GoAway:
		return true
	}
	return false
}
