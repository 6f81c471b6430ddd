// Package trace is RocketMQ's message trace (RIP-6) on the SDK side: the
// records producers and consumers write about every message they send and
// consume (Pub, SubBefore, SubAfter, EndTransaction), their wire encoding,
// an asynchronous dispatcher that ships them to a trace topic, and Query,
// which reads a message's trace back through the broker's key index.
//
// The encoding is the one the Java and Go RocketMQ clients share, so traces
// written by those clients decode here and ours show in their tools: fields
// separated by byte 0x01, records ended by byte 0x02, a fixed field order
// per record type. Each trace message carries, as KEYS, the message ids and
// keys its records describe, which is what lets a broker find a message's
// records by its id.
//
// Producers and consumers enable tracing with their WithTrace options
// (producer.WithTrace, consumer.WithTrace); applications rarely use this
// package directly except for Query and Decode.
package trace
