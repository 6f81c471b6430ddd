package main

import (
	"context"
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
)

// version is stamped by the build, which is how release binaries and the
// Docker image get theirs:
//
//	go build -ldflags "-X main.version=v0.2.0" ./cmd/rocketgo
//
// It is a variable only so the linker can set it; nothing assigns it.
var version string

// devVersion is the release this source tree builds toward, shown when
// neither the linker nor the module system stamped a version.
const devVersion = "0.1.0-dev"

// brokerVersionOrdinal is the RocketMQ MQVersion ordinal our servers report
// (V5_3_3): the Go client stores it as the broker version, and Java clients
// refuse SQL92 filters against brokers older than V4_1_0.
const brokerVersionOrdinal = 479

// buildVersion picks the version to report: the linker's stamp, else the
// module version `go install module@version` records in the build info,
// else devVersion (a build from a checkout says "(devel)").
func buildVersion(stamped string, info *debug.BuildInfo) string {
	if stamped != "" {
		return stamped
	}
	if info != nil && info.Main.Version != "" && info.Main.Version != "(devel)" {
		return info.Main.Version
	}
	return devVersion
}

// buildRevision is the VCS commit the build info records, or "unknown".
func buildRevision(info *debug.BuildInfo) string {
	if info != nil {
		for _, s := range info.Settings {
			if s.Key == "vcs.revision" && len(s.Value) >= 12 {
				return s.Value[:12]
			}
		}
	}
	return "unknown"
}

func runVersion(_ context.Context, _ []string, stdout, _ io.Writer) int {
	info, _ := debug.ReadBuildInfo()
	fmt.Fprintf(stdout, "rocketgo %s (commit %s, %s, %s/%s, speaks RocketMQ remoting as V5_3_3=%d)\n",
		buildVersion(version, info), buildRevision(info), runtime.Version(), runtime.GOOS, runtime.GOARCH, brokerVersionOrdinal)
	return 0
}
