// Package v2pb holds the Go types and gRPC service stubs of Apache
// RocketMQ's 5.x protocol, apache.rocketmq.v2 (definition.proto and
// service.proto of github.com/apache/rocketmq-apis), as protoc generates
// them. Nothing here is written by hand: regenerate with gen.sh.
//
// The 5.x clients' own module ships the same types, but importing it would
// pull its logging, metrics and validation dependencies into every
// application that uses rocketgo; the generated code needs only grpc and
// protobuf.
package v2pb

//go:generate sh gen.sh
