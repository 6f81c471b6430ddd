package conformance_test

import (
	"context"
	"flag"
	"os"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/rocketgo/rocketgo/conformance/harness"
)

func TestMain(m *testing.M) {
	harness.RegisterFlags(flag.CommandLine)
	os.Exit(m.Run())
}

// TestConformance runs every spec except the interop ones (package
// interop, which cannot run under -race). The target is checked before the
// spec tree is even built, so a dead address fails here in seconds with
// one line.
func TestConformance(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	creds, tc, err := harness.Security(flag.CommandLine)
	if err != nil {
		t.Fatal(err)
	}
	env, err := harness.SetupSecure(ctx, harness.Target(flag.CommandLine), creds, tc)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	env.UseGRPC(ctx, harness.GRPCTarget(flag.CommandLine))
	cancel()
	env.AutoCreateOff = env.AutoCreateOff || harness.AutoCreateOff(flag.CommandLine)
	env.Scale = harness.TimeoutScale(flag.CommandLine)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		env.Close(ctx)
	})

	RegisterFailHandler(Fail)
	describeSend(env)
	describeConsume(env)
	describeOrder(env)
	describeDelay(env)
	describeTimer(env)
	describeRequest(env)
	describeSlave(env)
	describeSyncMaster(env)
	describeBusy(env)
	describeRetry(env)
	describeTransaction(env)
	describePull(env)
	describeQuery(env)
	describeAdmin(env)
	describeSecurity(env)
	describePop(env)
	describeGRPC(env)
	suite, reporter := GinkgoConfiguration()
	RunSpecs(t, "rocketgo conformance", suite, reporter)
}
