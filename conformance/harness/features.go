package harness

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/rocketgo/rocketgo/internal/nsclient"
	"github.com/rocketgo/rocketgo/remoting"
	"github.com/rocketgo/rocketgo/remoting/netclient"
)

// Feature names a broker capability some specs need. A broker that lacks
// one is not wrong: the specs needing it skip with the reason Missing gives.
type Feature string

const (
	FeatureTransaction Feature = "transaction" // rejectTransactionMessage=false
	FeatureQuery       Feature = "query"       // messageIndexEnable=true
	FeatureSQL92       Feature = "sql92"       // enablePropertyFilter=true
	FeatureTimer       Feature = "timer"       // 5.x timerWheelEnable=true
	FeatureRecall      Feature = "recall"      // RECALL_MESSAGE, 5.3.1+
	FeatureSlave       Feature = "slave"       // a broker group with a slave
	FeatureSyncMaster  Feature = "sync-master" // a SYNC_MASTER with a slave
	FeatureOverload    Feature = "overload"    // a broker the suite can slow down
	FeatureGRPC        Feature = "grpc"        // a reachable 5.x gRPC endpoint (-grpc)
)

// FlagTimeoutScale multiplies every spec deadline, for slow clusters.
const FlagTimeoutScale = "timeout-scale"

// TimeoutScale reads the -timeout-scale flag registered on fs (1 when absent
// or not a positive number).
func TimeoutScale(fs *flag.FlagSet) float64 {
	f := fs.Lookup(FlagTimeoutScale)
	if f == nil {
		return 1
	}
	v, err := strconv.ParseFloat(f.Value.String(), 64)
	if err != nil || v <= 0 {
		return 1
	}
	return v
}

// Timeout scales a spec deadline by the suite's -timeout-scale.
func (e *Env) Timeout(d time.Duration) time.Duration {
	if e.Scale <= 0 {
		return d
	}
	return time.Duration(float64(d) * e.Scale)
}

// brokerFacts is what the suite learns about the first master before any
// spec runs.
type brokerFacts struct {
	config  map[string]string // GET_BROKER_CONFIG; nil when the broker does not answer it
	version int16             // the version the master stamps on its answers
	slaves  bool              // some broker group lists a slave
	group   BrokerGroup       // the group asked: the first (by name) with a slave, else the first
}

// BrokerGroup is a master and (when it has one) its first slave.
type BrokerGroup struct {
	Name   string
	Master string // address of brokerId 0
	Slave  string // address of the lowest brokerId above 0; "" without one
}

// ProbedGroup is the broker group whose master the suite asked for its
// configuration before the run (zero against the embedded server).
func (e *Env) ProbedGroup() BrokerGroup { return e.facts.group }

// probe learns the facts Missing decides on. Errors leave facts unknown,
// which Missing treats as "assume present": a probe must never hide a spec
// that would have run.
func probe(ctx context.Context, namesrv string, opts ...netclient.Option) brokerFacts {
	var f brokerFacts
	rc := netclient.New(append(opts, netclient.WithDialTimeout(PrecheckTimeout))...)
	defer rc.Close()
	ns, err := nsclient.New(rc, namesrv, nsclient.WithTimeout(PrecheckTimeout))
	if err != nil {
		return f
	}
	ctx, cancel := context.WithTimeout(ctx, PrecheckTimeout)
	defer cancel()
	info, err := ns.ClusterInfo(ctx)
	if err != nil {
		return f
	}
	names := slices.Sorted(maps.Keys(info.BrokerAddrTable))
	for _, name := range names {
		b := info.BrokerAddrTable[name]
		if b.MasterAddr() == "" {
			continue
		}
		g := BrokerGroup{Name: name, Master: b.MasterAddr()}
		for _, id := range slices.Sorted(maps.Keys(b.BrokerAddrs)) {
			if id > 0 {
				g.Slave = b.BrokerAddrs[id]
				break
			}
		}
		if g.Slave != "" {
			f.slaves = true
		}
		if f.group.Master == "" || (f.group.Slave == "" && g.Slave != "") {
			f.group = g
		}
	}
	master := f.group.Master
	if master == "" {
		return f
	}
	resp, err := rc.InvokeSync(ctx, master, remoting.NewRequest(remoting.GetBrokerConfig, nil, nil))
	if err != nil {
		return f
	}
	f.version = resp.Version
	if resp.Code == remoting.Success {
		f.config = parseProperties(string(resp.Body))
	}
	return f
}

// parseProperties reads the key=value lines of a Java properties text.
func parseProperties(s string) map[string]string {
	out := map[string]string{}
	sc := bufio.NewScanner(strings.NewReader(s))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		if k, v, ok := strings.Cut(line, "="); ok {
			out[strings.TrimSpace(k)] = strings.TrimSpace(v)
		}
	}
	return out
}

// Upstream MQVersion ordinals the version gates compare with.
const (
	versionV5_0_0 int16 = 413
	versionV5_3_1 int16 = 475
)

// Missing returns why the broker under test lacks f, or "" when it has it
// (or cannot tell: then the spec runs and shows what happens). The embedded
// server has every feature.
func (e *Env) Missing(f Feature) string {
	if f == FeatureGRPC && e.GRPC == "" {
		if e.grpcWhy == "" {
			return "no gRPC endpoint"
		}
		return e.grpcWhy
	}
	if e.Embedded {
		return ""
	}
	cfg := e.facts.config
	is := func(key, want string) bool { v, ok := cfg[key]; return ok && strings.EqualFold(v, want) }
	old := func(min int16) bool { return e.facts.version > 0 && e.facts.version < min }
	switch f {
	case FeatureTransaction:
		if is("rejectTransactionMessage", "true") {
			return "the broker runs with rejectTransactionMessage=true"
		}
	case FeatureQuery:
		if is("messageIndexEnable", "false") {
			return "the broker runs with messageIndexEnable=false"
		}
	case FeatureSQL92:
		if cfg != nil && !is("enablePropertyFilter", "true") {
			return "the broker runs without enablePropertyFilter=true"
		}
	case FeatureTimer:
		if old(versionV5_0_0) {
			return fmt.Sprintf("the broker's version %d predates 5.0 timer messages", e.facts.version)
		}
		if is("timerWheelEnable", "false") {
			return "the broker runs with timerWheelEnable=false"
		}
	case FeatureRecall:
		if old(versionV5_3_1) {
			return fmt.Sprintf("the broker's version %d predates 5.3.1 RECALL_MESSAGE", e.facts.version)
		}
		if is("recallMessageEnable", "false") {
			return "the broker runs with recallMessageEnable=false (the Java broker's default)"
		}
	case FeatureSlave:
		if !e.facts.slaves {
			return "no broker group of the cluster has a slave"
		}
	case FeatureSyncMaster:
		switch role := cfg["brokerRole"]; {
		case !e.facts.slaves:
			return "no broker group of the cluster has a slave"
		case cfg == nil:
			return "the master did not answer GET_BROKER_CONFIG, so its brokerRole is unknown"
		case !strings.EqualFold(role, "SYNC_MASTER"):
			return fmt.Sprintf("the master of %s runs as brokerRole=%s, not SYNC_MASTER", e.facts.group.Name, role)
		}
	case FeatureOverload:
		return "overload specs slow the store down, which only the embedded server allows"
	}
	return ""
}
