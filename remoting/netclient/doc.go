// Package netclient is the client transport of the remoting protocol: one
// multiplexed TCP connection per address, requests matched to responses by
// opaque, write coalescing, deadlines, and handlers for requests a server
// sends to the client. It is what producers, consumers and the name-server
// client speak through; it links no server code (the accepting side lives
// in server/transport).
package netclient

import "errors"

// ErrClientClosed is returned by every Client method after Close.
var ErrClientClosed = errors.New("remoting: client closed")
