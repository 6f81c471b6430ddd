// Package producer is rocketgo's message producer for RocketMQ's classic
// remoting protocol.
//
// A Producer sends single messages and batches synchronously (SendSync),
// asynchronously (SendAsync), one-way (SendOneway), in key order
// (SendOrderly) and transactionally (SendMessageInTransaction). Defaults
// match the Java client: 3 s send timeout, 2 retries, zlib compression from
// 4 KiB, 4 MiB maximum size.
//
// A message sent with message.WithDelay or WithDeliverTime (a 5.x timer
// message) can be recalled until it is due: RecallMessage with the
// SendResult.RecallHandle of its send (RocketMQ 5.3.1+ RECALL_MESSAGE).
//
// Differences from the official Go client, on purpose:
//   - the send timeout is one budget for all attempts of a send, not one
//     per attempt;
//   - async sends are retried like sync ones;
//   - fault avoidance is on by default: brokers that answered slowly are
//     kept out of rotation for the Java 5.x latency-table duration, a
//     per-broker circuit breaker (sony/gobreaker) removes brokers that fail
//     at transport level, retries prefer another broker, and when every
//     broker looks unhealthy a queue is used anyway rather than failing;
//   - every message of a batch carries its own unique key, and
//     SendResult.MsgID lists them;
//   - producers with different settings coexist in one process: each has
//     its own client instance unless one client.Client is shared
//     explicitly with WithClient.
package producer
