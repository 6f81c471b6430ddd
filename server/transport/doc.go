// Package transport is the accepting side of the remoting protocol, built
// on gnet: event loops split and decode frames, a bounded worker pool runs
// processors, replies from any goroutine are coalesced per connection, and
// a connection can send requests back to its client (Conn.Invoke). The name
// server and the broker serve through it. It lives under server/ so that
// applications using only the SDK never link gnet.
package transport
