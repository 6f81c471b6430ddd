// Package consumer is rocketgo's consumer SDK for RocketMQ's remoting
// protocol: a push consumer (NewPush) with concurrent and orderly listeners,
// and a lite-pull consumer (NewLitePull) with Subscribe or Assign, Poll,
// Seek and commits, plus the low-level PullFrom.
//
// Subscriptions select by tag ("*", "TagA || TagB"), or with SubscribeSQL92
// by a SQL92 expression over message properties, which the broker
// evaluates (it needs enablePropertyFilter=true). Compressed bodies (zlib,
// and RocketMQ 5.x LZ4 and ZSTD) arrive inflated. When a broker group's
// master is down, pulls and offsets go to its slave.
//
// RocketMQ 5.x POP consumption (brokers with POP: Apache RocketMQ 5.x,
// rocketgo) comes two ways: a SimpleConsumer (NewSimple: Receive with an
// invisible duration, Ack or AckBatch, ChangeInvisibleDuration), and a push
// consumer with WithClientRebalance(false), which keeps the listener API
// but pops from every queue instead of owning some, so a group may have
// more members than queues. Orderly listeners in that mode, and groups
// configured consumeMessageOrderly, use the broker's FIFO POP: a queue
// hands out its next messages only after the previous ones are settled.
//
// Lifecycle: every goroutine a consumer starts is tied to a context and
// joined by Shutdown; one goroutine owns the table of process queues
// (rebalance), so there is no concurrent mutation of ownership. Offsets
// are committed only up to the lowest message still in flight, and only
// after a failed message was sent back for retry.
package consumer

import (
	"sync"

	"github.com/rocketgo/rocketgo/rebalance"
)

// Queue identifies one message queue: queue QueueID of Topic on broker
// group BrokerName.
type Queue = rebalance.Queue

// lifecycle is where a consumer is in its one-way life: Start moves it
// from stateNew to stateStarted, Shutdown to stateShutDown, for good.
type lifecycle int

const (
	stateNew lifecycle = iota
	stateStarted
	stateShutDown
)

// shutDown moves *state to stateShutDown under mu and reports whether the
// consumer was running — only then has Shutdown anything to stop.
func shutDown(mu *sync.Mutex, state *lifecycle) bool {
	mu.Lock()
	defer mu.Unlock()
	wasRunning := *state == stateStarted
	*state = stateShutDown
	return wasRunning
}
