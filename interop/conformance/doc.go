// Package interop holds the conformance suite's interop specs: the
// official Go client (apache/rocketmq-client-go v2.1.2) on one side and
// rocketgo's SDK on the other, against the same broker. They live in their
// own test binary because a ginkgo suite runs once per process and because
// the official client has data races of its own, so these specs build only
// without -race and run in CI's race-free pass (go test -run Official).
package interop
