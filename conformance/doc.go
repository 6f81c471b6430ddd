// Package conformance holds rocketgo's broker conformance suite: ginkgo
// specs that drive rocketgo's producer and consumers against a broker and
// check every behaviour a RocketMQ user relies on. The specs live in this
// package's tests; see README.md for running them against an embedded
// server, a `rocketgo serve` process or an Apache RocketMQ cluster.
package conformance
