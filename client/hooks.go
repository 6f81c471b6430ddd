package client

import (
	"time"

	"github.com/rocketgo/rocketgo/remoting"
	"github.com/rocketgo/rocketgo/remoting/netclient"
)

// Hook is any value implementing one or more of the hook interfaces below
// (ConnectHook, DisconnectHook, RequestWrittenHook, ResponseReadHook,
// SendHook, PullHook, ReceiveHook, ConsumeHook): metrics, tracing or logging plugged in from outside
// the core. Which interfaces a hook implements is checked once, when the
// Client is built, so an event nobody hooks costs nothing on its path.
//
// Hooks run on the goroutine where the event happens (a caller's, a
// dialler's, a callback's): they must be fast, must not block and must be
// safe for concurrent use. They must not keep or modify the commands they
// are shown.
type Hook any

// ConnectHook is called once per dial attempt to a name server or broker,
// with its duration and outcome (err nil: connected).
type ConnectHook interface {
	OnConnect(addr string, dial time.Duration, err error)
}

// DisconnectHook is called once when an established connection closes, with
// the reason (idle, peer hung up, frame error, Close).
type DisconnectHook interface {
	OnDisconnect(addr string, err error)
}

// RequestWrittenHook is called when a request has been encoded and handed
// to its connection's writer, with the request code and the frame size, or
// with the error that stopped it.
type RequestWrittenHook interface {
	OnRequestWritten(addr string, code int16, bytes int, err error)
}

// ResponseReadHook is called when a request that expects an answer
// completes: resp is the answer (nil with err), latency runs from the
// hand-off to the writer to the completion.
type ResponseReadHook interface {
	OnResponseRead(addr string, code int16, resp *remoting.Command, latency time.Duration, err error)
}

// SendHook is called by producers once per send call when it completes
// (after retries): the topic, how many messages it carried, the time from
// the call to the result, and the error (nil: stored).
type SendHook interface {
	OnSend(topic string, messages int, latency time.Duration, err error)
}

// PullHook is called by consumers once per pull answer from a broker: the
// queue, how many messages it brought, the pull's latency and its error
// (nil for every answer the consumer understood, found or not).
type PullHook interface {
	OnPull(topic, brokerName string, queueID int32, messages int, latency time.Duration, err error)
}

// ReceiveHook is called by consumers once for every message they hand
// towards the application (push, lite pull, PullFrom and simple
// consumers), as it arrives from the broker: the group, the message's
// topic (a retried message's original topic; a simple consumer's
// subscribed topic) and its delivery latency, the time from the broker
// storing it to its arrival here (Apache RocketMQ 5.x's
// rocketmq_delivery_latency). The store time is the broker's clock, so
// clock skew shows in it and may make it negative. Messages dropped by the
// client's tag filter are not reported.
type ReceiveHook interface {
	OnReceive(group, topic string, delivery time.Duration)
}

// ConsumeHook is called by push consumers (concurrent and orderly) once
// for every message of a listener call, when the call has returned: await
// is how long the batch waited in the local process queue, from the
// arrival of its first message to the start of the listener call
// (rocketmq_await_time); process is the listener's running time
// (rocketmq_process_time); ok says whether the call acknowledged this
// message (a success within the concurrent listener's AckIndex, an
// orderly success) rather than failing it (retry later, suspend, panic,
// consume timeout).
type ConsumeHook interface {
	OnConsume(group, topic string, await, process time.Duration, ok bool)
}

// transportHooks builds the transport's hook table from hooks, leaving an
// event nil when no hook takes it. ok is false when no hook takes any
// transport event.
func transportHooks(hooks []Hook) (opt netclient.Option, ok bool) {
	var (
		conns  []ConnectHook
		discs  []DisconnectHook
		writes []RequestWrittenHook
		reads  []ResponseReadHook
	)
	for _, h := range hooks {
		if x, is := h.(ConnectHook); is {
			conns = append(conns, x)
		}
		if x, is := h.(DisconnectHook); is {
			discs = append(discs, x)
		}
		if x, is := h.(RequestWrittenHook); is {
			writes = append(writes, x)
		}
		if x, is := h.(ResponseReadHook); is {
			reads = append(reads, x)
		}
	}
	var th netclient.Hooks
	if len(conns) > 0 {
		th.OnConnect = func(addr string, d time.Duration, err error) {
			for _, h := range conns {
				h.OnConnect(addr, d, err)
			}
		}
	}
	if len(discs) > 0 {
		th.OnDisconnect = func(addr string, err error) {
			for _, h := range discs {
				h.OnDisconnect(addr, err)
			}
		}
	}
	if len(writes) > 0 {
		th.OnRequestWritten = func(addr string, code int16, n int, err error) {
			for _, h := range writes {
				h.OnRequestWritten(addr, code, n, err)
			}
		}
	}
	if len(reads) > 0 {
		th.OnResponseRead = func(addr string, code int16, resp *remoting.Command, d time.Duration, err error) {
			for _, h := range reads {
				h.OnResponseRead(addr, code, resp, d, err)
			}
		}
	}
	ok = len(conns)+len(discs)+len(writes)+len(reads) > 0
	return netclient.WithHooks(th), ok
}

// SendHooks returns the SendHooks among c's hooks (nil when none), for
// producers, which call them on every completed send.
func (c *Client) SendHooks() []SendHook { return pick[SendHook](c.impl().Hooks()) }

// PullHooks returns the PullHooks among c's hooks (nil when none), for
// consumers, which call them on every pull answer.
func (c *Client) PullHooks() []PullHook { return pick[PullHook](c.impl().Hooks()) }

// ReceiveHooks returns the ReceiveHooks among c's hooks (nil when none),
// for consumers, which call them for every message received.
func (c *Client) ReceiveHooks() []ReceiveHook { return pick[ReceiveHook](c.impl().Hooks()) }

// ConsumeHooks returns the ConsumeHooks among c's hooks (nil when none),
// for push consumers, which call them for every message consumed.
func (c *Client) ConsumeHooks() []ConsumeHook { return pick[ConsumeHook](c.impl().Hooks()) }

func pick[T any](hooks []any) []T {
	var out []T
	for _, h := range hooks {
		if x, ok := h.(T); ok {
			out = append(out, x)
		}
	}
	return out
}
