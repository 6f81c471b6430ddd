package main

import (
	"context"
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
)

// Version is the rocketgo release this source tree builds.
const Version = "0.1.0-dev"

// brokerVersionOrdinal is the RocketMQ MQVersion ordinal our servers report
// (V5_3_3): the Go client stores it as the broker version, and Java clients
// refuse SQL92 filters against brokers older than V4_1_0.
const brokerVersionOrdinal = 479

func runVersion(_ context.Context, _ []string, stdout, _ io.Writer) int {
	rev := "unknown"
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, s := range info.Settings {
			if s.Key == "vcs.revision" && len(s.Value) >= 12 {
				rev = s.Value[:12]
			}
		}
	}
	fmt.Fprintf(stdout, "rocketgo %s (commit %s, %s, %s/%s, speaks RocketMQ remoting as V5_3_3=%d)\n",
		Version, rev, runtime.Version(), runtime.GOOS, runtime.GOARCH, brokerVersionOrdinal)
	return 0
}
