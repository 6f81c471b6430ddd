package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
	"strings"
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

func runVersion(_ context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("version", flag.ContinueOnError)
	if code, ok := parseFlags(fs, "version", args, stdout, stderr); !ok {
		return code
	}
	info, _ := debug.ReadBuildInfo()
	fmt.Fprintf(stdout, "rocketgo %s (%s, %s, %s/%s, speaks RocketMQ remoting as V5_3_3=%d)\n",
		buildVersion(version, info), buildDescription(info), runtime.Version(), runtime.GOOS, runtime.GOARCH, brokerVersionOrdinal)
	return 0
}

// buildDescription says where the binary came from: the module version
// (a tag when installed with go install ...@version), the commit and its
// time when the go command stamped VCS data, and otherwise why it is
// missing.
func buildDescription(info *debug.BuildInfo) string {
	if info == nil {
		return "built without module information"
	}
	var parts []string
	if v := info.Main.Version; v != "" && v != "(devel)" {
		parts = append(parts, "module "+v)
	}
	vcs := map[string]string{}
	for _, s := range info.Settings {
		vcs[s.Key] = s.Value
	}
	if rev := vcs["vcs.revision"]; rev != "" {
		if len(rev) > 12 {
			rev = rev[:12]
		}
		c := "commit " + rev
		if t := vcs["vcs.time"]; t != "" {
			c += " of " + t
		}
		if vcs["vcs.modified"] == "true" {
			c += " with local changes"
		}
		parts = append(parts, c)
	}
	if len(parts) == 0 {
		// go run and go test do not stamp VCS data; go build in a clone does.
		parts = append(parts, "development build, no VCS data: go run, go test and -buildvcs=false record none")
	}
	return strings.Join(parts, ", ")
}
