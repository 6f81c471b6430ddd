package producer

import (
	"errors"

	iclient "github.com/rocketgo/rocketgo/internal/client"
	"github.com/rocketgo/rocketgo/remoting"
)

// Sentinel errors; match them with errors.Is. Broker answers are
// *remoting.ResponseError values, which also match the sentinel of their
// code.
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

	// Broker answer sentinels (upstream ResponseCode): the remoting package's code
	// sentinels, which every *remoting.ResponseError matches by code.
	ErrSystemError         = remoting.ErrSystemError
	ErrSystemBusy          = remoting.ErrSystemBusy
	ErrMessageIllegal      = remoting.ErrMessageIllegal
	ErrServiceNotAvailable = remoting.ErrServiceNotAvailable
	ErrNoPermission        = remoting.ErrNoPermission
	ErrIllegalOperation    = remoting.ErrIllegalOperation // e.g. recalling a message already delivered
)

// Retriable reports whether err is a broker answer that the Java 5.x
// client retries on another broker (its retryResponseCodes). Broker answers
// are *remoting.ResponseError values naming the broker (Broker, Addr).
func Retriable(err error) bool {
	var re *remoting.ResponseError
	return errors.As(err, &re) && retriableCode(re.Code)
}

func retriableCode(code int16) bool {
	switch code {
	case remoting.TopicNotExist, remoting.ServiceNotAvailable, remoting.SystemError,
		remoting.SystemBusy, remoting.NoPermission, remoting.NoBuyerID,
		remoting.NotInCurrentUnit, remoting.GoAway:
		return true
	}
	return false
}
