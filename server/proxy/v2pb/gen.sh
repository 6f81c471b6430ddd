#!/bin/sh
# Regenerates the apache.rocketmq.v2 types from a checkout of
# github.com/apache/rocketmq-apis (APIS, default ../../../../rocketmq-apis;
# generated from commit 3e60073 of that repository).
# Tools, pinned: protoc 3.21.12 (Debian protobuf-compiler),
# google.golang.org/protobuf/cmd/protoc-gen-go@v1.36.12,
# google.golang.org/grpc/cmd/protoc-gen-go-grpc@v1.5.1.
set -eu
APIS=${APIS:-../../../../rocketmq-apis}
PKG=github.com/rocketgo/rocketgo/server/proxy/v2pb
M="Mapache/rocketmq/v2/definition.proto=$PKG,Mapache/rocketmq/v2/service.proto=$PKG"
out=$(mktemp -d)
protoc -I "$APIS" --go_out="$out" --go_opt=paths=source_relative,"$M" \
	--go-grpc_out="$out" --go-grpc_opt=paths=source_relative,"$M" \
	apache/rocketmq/v2/definition.proto apache/rocketmq/v2/service.proto
cp "$out"/apache/rocketmq/v2/*.go .
rm -rf "$out"
