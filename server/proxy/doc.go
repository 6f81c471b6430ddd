// Package proxy is the gRPC endpoint of Apache RocketMQ 5.x
// (apache.rocketmq.v2.MessagingService), what upstream calls the proxy:
// the 5.x clients (Java, Go, C++, Rust, Python, Node, C#) speak gRPC to it,
// and it turns every call into the classic remoting requests our name
// server and brokers answer — routes, SEND_MESSAGE_V2, POP_MESSAGE,
// ACK_MESSAGE, CHANGE_MESSAGE_INVISIBLETIME, END_TRANSACTION,
// CONSUMER_SEND_MSG_BACK. A message sent through either protocol is one
// message in the commit log, so each protocol consumes what the other
// produced; system properties map both ways (see convert.go).
//
// The proxy reaches the cluster through the Cluster interface, by default
// a remoting client (client.Client) of the name servers: the broker knows
// nothing about gRPC. `rocketgo serve` runs one beside its broker on
// grpcServerPort (8081, as upstream's proxy).
//
// One port serves TLS and plain gRPC: the first byte of a connection tells
// them apart (0x16 opens a TLS handshake, an HTTP/2 preface never starts so).
// The 5.x clients dial TLS by default without verifying the certificate, so
// a self-signed certificate is generated at start when none is configured.
package proxy
