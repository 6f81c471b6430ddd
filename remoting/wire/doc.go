// Package wire holds the JSON bodies of remoting commands that both the SDK
// and the server read and write: heartbeats, subscriptions, queue locks and
// consumer lists. Headers live in package remoting; message records in
// package message.
package wire
