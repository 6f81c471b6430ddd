package harness

import (
	"context"
	"errors"
	"flag"
	"net"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	// The ginkgo package registers its -ginkgo.* flags on the command line,
	// so `go test ./... -args -ginkgo.label-filter=send` from the suite's
	// directory does not fail in this package, which has no specs.
	_ "github.com/onsi/ginkgo/v2"

	"github.com/rocketgo/rocketgo/internal/nsclient"
	"github.com/rocketgo/rocketgo/remoting/netclient"
)

func TestPrecheckRefused(t *testing.T) {
	err := Precheck(context.Background(), "127.0.0.1:1")
	if !errors.Is(err, ErrUnreachable) {
		t.Fatalf("err %v, want ErrUnreachable", err)
	}
	if strings.Contains(err.Error(), "\n") || !strings.Contains(err.Error(), "127.0.0.1:1") {
		t.Fatalf("want one line naming the address, got %q", err)
	}
}

// A name server that accepts connections but never answers must not hang
// the suite: the check gives up after PrecheckTimeout.
func TestPrecheckSilentServer(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	done := make(chan struct{})
	defer close(done)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { <-done; c.Close() }()
		}
	}()
	start := time.Now()
	err = Precheck(context.Background(), ln.Addr().String())
	if !errors.Is(err, ErrUnreachable) {
		t.Fatalf("err %v, want ErrUnreachable", err)
	}
	if took := time.Since(start); took > PrecheckTimeout+5*time.Second {
		t.Fatalf("precheck took %v", took)
	}
}

func TestSetupEmbeddedAndPrecheckOK(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	env, err := Setup(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	defer env.Close(context.Background())
	if !env.Embedded || env.Broker() == nil {
		t.Fatal("Setup without an address must start an embedded server")
	}
	if err := Precheck(ctx, env.Namesrv); err != nil {
		t.Fatalf("precheck against the embedded server: %v", err)
	}
	if a, b := env.Name("x"), env.Name("x"); a == b || !strings.HasPrefix(a, "x_") {
		t.Fatalf("names %q, %q not unique", a, b)
	}
}

func TestTargetPrecedence(t *testing.T) {
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	RegisterFlags(fs)
	t.Setenv(EnvNamesrv, "env:1")
	if got := Target(fs); got != "env:1" {
		t.Fatalf("env only: %q", got)
	}
	if err := fs.Parse([]string{"-namesrv", "flag:2"}); err != nil {
		t.Fatal(err)
	}
	if got := Target(fs); got != "flag:2" {
		t.Fatalf("flag wins: %q", got)
	}
}

// TestMain accepts the suite's flags so `go test ./conformance/... -args
// -namesrv host:port` also works for this package.
func TestMain(m *testing.M) {
	RegisterFlags(flag.CommandLine)
	os.Exit(m.Run())
}

// Sweep removes the run's topics — above all the retry and dead-letter
// topics brokers create for its groups — and leaves other runs' topics.
func TestSweepDeletesOnlyThisRunsTopics(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	env, err := Setup(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	defer env.Close(context.Background())
	group := env.Name("g")
	retry, dlq, other := "%RETRY%"+group, "%DLQ%"+group, "someone_elses_topic"
	for _, topic := range []string{retry, dlq, other} {
		if err := env.CreateTopic(ctx, topic, 1); err != nil {
			t.Fatal(err)
		}
	}
	deleted, err := env.Sweep(ctx)
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(deleted)
	if want := []string{dlq, retry}; !slices.Equal(deleted, want) {
		t.Fatalf("swept %v, want %v", deleted, want)
	}
	// The brokers no longer hold them (a second sweep finds nothing) and
	// the name server no longer routes them; the other topic stays.
	if again, err := env.Sweep(ctx); err != nil || len(again) != 0 {
		t.Fatalf("second sweep: %v, %v", again, err)
	}
	err = env.withNS(func(_ *netclient.Client, ns *nsclient.Client) error {
		topics, err := ns.TopicList(ctx)
		if err != nil {
			return err
		}
		if !slices.Contains(topics, other) || slices.Contains(topics, retry) || slices.Contains(topics, dlq) {
			t.Errorf("name server topics after sweep: %v", topics)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestMissingFeatures(t *testing.T) {
	e := &Env{facts: brokerFacts{
		config:  parseProperties("# broker\nrejectTransactionMessage=true\nmessageIndexEnable = false\nenablePropertyFilter=false\n"),
		version: versionV5_0_0 + 2,
	}}
	for f, want := range map[Feature]bool{
		FeatureTransaction: true, FeatureQuery: true, FeatureSQL92: true,
		FeatureTimer: false, FeatureRecall: true, FeatureSlave: true, FeatureSyncMaster: true, FeatureOverload: true,
	} {
		if got := e.Missing(f) != ""; got != want {
			t.Errorf("%s: missing=%v (%q), want %v", f, got, e.Missing(f), want)
		}
	}
	// A broker that does not answer GET_BROKER_CONFIG: run the specs and
	// let them show what happens, except where the feature is known absent.
	unknown := &Env{facts: brokerFacts{slaves: true}}
	for _, f := range []Feature{FeatureTransaction, FeatureQuery, FeatureSQL92, FeatureTimer, FeatureRecall, FeatureSlave} {
		if why := unknown.Missing(f); why != "" {
			t.Errorf("%s skipped on an unknown broker: %s", f, why)
		}
	}
	if why := (&Env{Embedded: true}).Missing(FeatureOverload); why != "" {
		t.Errorf("embedded server lacks overload: %s", why)
	}
	// SYNC_MASTER acknowledgements are checked only where the role is
	// known: the spec would fail on an ASYNC_MASTER, which is not wrong.
	for _, c := range []struct {
		facts brokerFacts
		skip  bool
	}{
		{brokerFacts{slaves: true}, true},
		{brokerFacts{slaves: true, config: map[string]string{"brokerRole": "ASYNC_MASTER"}}, true},
		{brokerFacts{slaves: false, config: map[string]string{"brokerRole": "SYNC_MASTER"}}, true},
		{brokerFacts{slaves: true, config: map[string]string{"brokerRole": "SYNC_MASTER"}}, false},
	} {
		if why := (&Env{facts: c.facts}).Missing(FeatureSyncMaster); (why != "") != c.skip {
			t.Errorf("sync-master with %+v: skip reason %q, want skip=%v", c.facts, why, c.skip)
		}
	}
	if why := (&Env{facts: brokerFacts{config: map[string]string{"recallMessageEnable": "false"}}}).Missing(FeatureRecall); why == "" {
		t.Error("recall specs run on a broker with recallMessageEnable=false")
	}
}

func TestTimeoutScale(t *testing.T) {
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	RegisterFlags(fs)
	if got := TimeoutScale(fs); got != 1 {
		t.Fatalf("default scale %v", got)
	}
	if err := fs.Parse([]string{"-timeout-scale", "2.5"}); err != nil {
		t.Fatal(err)
	}
	e := &Env{Scale: TimeoutScale(fs)}
	if got := e.Timeout(10 * time.Second); got != 25*time.Second {
		t.Fatalf("scaled 10s = %v", got)
	}
}

// TestUseGRPC: the grpc specs run only against an endpoint that accepts a
// connection, and say why they skip otherwise.
func TestUseGRPC(t *testing.T) {
	ctx := context.Background()
	e := &Env{}
	e.UseGRPC(ctx, "")
	if why := e.Missing(FeatureGRPC); !strings.Contains(why, "-"+FlagGRPC) {
		t.Fatalf("no endpoint: Missing = %q", why)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	e.UseGRPC(ctx, addr)
	if why := e.Missing(FeatureGRPC); why != "" || e.GRPC != addr {
		t.Fatalf("listening endpoint: Missing = %q, GRPC = %q", why, e.GRPC)
	}
	ln.Close()
	e.UseGRPC(ctx, addr)
	if why := e.Missing(FeatureGRPC); !strings.Contains(why, addr) || e.GRPC != "" {
		t.Fatalf("closed endpoint: Missing = %q, GRPC = %q", why, e.GRPC)
	}
}
