// Package harness is the conformance suite's connection to the broker under
// test: it reads the target from flags or the environment, checks that the
// name server answers before any spec runs (so a dead address fails in
// seconds with one line), or starts an embedded server in a temporary
// directory, and offers the small admin and query calls specs need.
package harness

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/rocketgo/rocketgo/remoting/netclient"

	"github.com/rocketgo/rocketgo/auth"
	"github.com/rocketgo/rocketgo/internal/nsclient"
	"github.com/rocketgo/rocketgo/loadtest"
	"github.com/rocketgo/rocketgo/message"
	"github.com/rocketgo/rocketgo/remoting"
	"github.com/rocketgo/rocketgo/server/broker"
	"github.com/rocketgo/rocketgo/server/embedded"
	"github.com/rocketgo/rocketgo/server/proxy"
)

// EnvNamesrv is the environment variable naming the name servers under
// test, the same as the -namesrv flag (the flag wins).
const EnvNamesrv = "ROCKETGO_NAMESRV"

// FlagNamesrv is the test binary flag: go test ./conformance/... -args
// -namesrv host:port.
const FlagNamesrv = "namesrv"

// FlagAutoCreateOff is the test binary flag declaring that a foreign
// broker runs with autoCreateTopicEnable=false, which enables the spec
// checking TOPIC_NOT_EXIST answers (always on for the embedded server).
const FlagAutoCreateOff = "autocreate-off"

// Security flags and their environment variables (the flag wins): with
// credentials every client of the suite signs its requests and the acl
// specs run; with TLS every client connects over TLS and the tls specs run.
const (
	FlagAccessKey = "access-key"
	FlagSecretKey = "secret-key"
	FlagTLS       = "tls"
	FlagTLSCA     = "tls-ca"
	EnvAccessKey  = "ROCKETGO_ACCESS_KEY"
	EnvSecretKey  = "ROCKETGO_SECRET_KEY"
	EnvTLS        = "ROCKETGO_TLS"    // "1" or "true"
	EnvTLSCA      = "ROCKETGO_TLS_CA" // PEM file of extra roots
)

// FlagGRPC and EnvGRPC name the 5.x gRPC endpoint (a proxy, host:port) of
// the cluster under test (the flag wins). Without one, or when it does not
// accept a connection, the grpc specs skip. The embedded server always
// serves one.
const (
	FlagGRPC = "grpc"
	EnvGRPC  = "ROCKETGO_GRPC"
)

// PrecheckTimeout bounds the connectivity check against a foreign cluster.
const PrecheckTimeout = 5 * time.Second

// ErrUnreachable means the name servers under test did not answer.
var ErrUnreachable = errors.New("name server unreachable")

// RegisterFlags adds -namesrv to fs. Call it from TestMain before m.Run
// (which parses the command line).
func RegisterFlags(fs *flag.FlagSet) {
	fs.String(FlagNamesrv, "", "name servers of the broker under test, host:port;host:port (default $"+EnvNamesrv+"; empty: start an embedded server)")
	fs.Bool(FlagAutoCreateOff, false, "the broker under test has autoCreateTopicEnable=false (enables the missing-topic spec)")
	fs.String(FlagAccessKey, "", "ACL access key (admin) to sign every request with (default $"+EnvAccessKey+"); enables the acl specs")
	fs.String(FlagSecretKey, "", "ACL secret key (default $"+EnvSecretKey+")")
	fs.Bool(FlagTLS, false, "connect over TLS (default $"+EnvTLS+"); enables the tls specs")
	fs.String(FlagTLSCA, "", "PEM file of extra roots to trust over TLS (default $"+EnvTLSCA+")")
	fs.String(FlagGRPC, "", "5.x gRPC endpoint of the cluster under test, host:port (default $"+EnvGRPC+"); enables the grpc specs")
	fs.Float64(FlagTimeoutScale, 1, "multiply every spec deadline by this factor (slow clusters)")
}

func flagOrEnv(fs *flag.FlagSet, name, env string) string {
	if f := fs.Lookup(name); f != nil && f.Value.String() != "" && f.Value.String() != "false" {
		return f.Value.String()
	}
	return strings.TrimSpace(os.Getenv(env))
}

// Security reads the credentials and TLS settings from fs and the
// environment. Zero credentials and a nil config mean none was given.
func Security(fs *flag.FlagSet) (auth.Credentials, *tls.Config, error) {
	creds := auth.Credentials{AccessKey: flagOrEnv(fs, FlagAccessKey, EnvAccessKey), SecretKey: flagOrEnv(fs, FlagSecretKey, EnvSecretKey)}
	if (creds.AccessKey == "") != (creds.SecretKey == "") {
		return creds, nil, fmt.Errorf("conformance: give both -%s and -%s", FlagAccessKey, FlagSecretKey)
	}
	on := flagOrEnv(fs, FlagTLS, EnvTLS)
	ca := flagOrEnv(fs, FlagTLSCA, EnvTLSCA)
	if on != "true" && on != "1" && ca == "" {
		return creds, nil, nil
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if ca != "" {
		data, err := os.ReadFile(ca)
		if err != nil {
			return creds, nil, fmt.Errorf("conformance: -%s: %w", FlagTLSCA, err)
		}
		pool, err := x509.SystemCertPool()
		if err != nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(data) {
			return creds, nil, fmt.Errorf("conformance: -%s: %s holds no PEM certificate", FlagTLSCA, ca)
		}
		cfg.RootCAs = pool
	}
	return creds, cfg, nil
}

// GRPCTarget returns the gRPC endpoint to test: the -grpc flag registered
// on fs, else $ROCKETGO_GRPC, else "".
func GRPCTarget(fs *flag.FlagSet) string { return flagOrEnv(fs, FlagGRPC, EnvGRPC) }

// AutoCreateOff reports the -autocreate-off flag registered on fs.
func AutoCreateOff(fs *flag.FlagSet) bool {
	f := fs.Lookup(FlagAutoCreateOff)
	return f != nil && f.Value.String() == "true"
}

// Target returns the name servers to test: the -namesrv flag registered on
// fs, else $ROCKETGO_NAMESRV, else "" (embedded).
func Target(fs *flag.FlagSet) string {
	if f := fs.Lookup(FlagNamesrv); f != nil && f.Value.String() != "" {
		return f.Value.String()
	}
	return strings.TrimSpace(os.Getenv(EnvNamesrv))
}

// Embedded-server timings: short enough that delay, retry and transaction
// check-back specs finish in seconds. Level 1 is 1 s and level 2 is 2 s, so
// a spec can tell them apart; retries use level 3 and up (1 s each).
const (
	EmbeddedDelayLevels      = "1s 2s 1s 1s 1s 1s 1s 1s 1s 1s 1s 1s 1s 1s 1s 1s 1s 1s"
	EmbeddedTxCheckInterval  = time.Second
	EmbeddedTxTimeout        = time.Second
	EmbeddedDefaultQueueNums = 4
)

// Env is the broker under test.
type Env struct {
	// Namesrv is the "host:port;..." every client of a spec uses.
	Namesrv string
	// Embedded is true when the suite started the server itself; its
	// timings are then the Embedded* constants and auto-create is off.
	Embedded bool
	// AutoCreateOff is true when the broker is known not to create
	// topics on first send: always for the embedded server, and for a
	// foreign one when the -autocreate-off flag says so.
	AutoCreateOff bool
	// Credentials sign every request of the suite's clients when valid
	// (a cluster with ACL on; they need admin rights to create topics).
	Credentials auth.Credentials
	// TLS, when not nil, is the configuration every client connects with.
	TLS *tls.Config
	// Level1, Level2 are the durations of delay levels 1 and 2 on the
	// broker under test (RocketMQ's 1 s and 5 s on a foreign broker).
	Level1, Level2 time.Duration
	// Scale multiplies spec deadlines (the -timeout-scale flag); see
	// Timeout.
	Scale float64
	// GRPC is the 5.x gRPC endpoint (host:port) the grpc specs use; ""
	// when there is none (see UseGRPC).
	GRPC string

	grpcWhy string // why GRPC is empty
	proxy   *proxy.Server

	facts  brokerFacts
	tag    string // distinguishes this run's names from other runs'
	serial atomic.Int64
	srv    *embedded.Server
	dir    string
	log    *slog.Logger
}

// Setup connects to the name servers at namesrv, or starts an embedded
// server when namesrv is empty. A foreign cluster that does not answer
// within PrecheckTimeout is an ErrUnreachable error whose message is one
// line naming the address.
func Setup(ctx context.Context, namesrv string) (*Env, error) {
	return SetupSecure(ctx, namesrv, auth.Credentials{}, nil)
}

// SetupSecure is Setup for a cluster with ACL (creds) and/or TLS (tc) on.
// Against the embedded server (namesrv empty) it turns the same features
// on there: ACL with creds as the only, admin account, and TLS is not
// available (the embedded server has no certificate), so tc must be nil.
func SetupSecure(ctx context.Context, namesrv string, creds auth.Credentials, tc *tls.Config) (*Env, error) {
	e := &Env{
		Namesrv: namesrv,
		tag:     fmt.Sprintf("%x", time.Now().UnixNano()&0xffffffffff),
		log:     slog.New(slog.NewTextHandler(io.Discard, nil)),
		Level1:  time.Second, Level2: 5 * time.Second,
	}
	e.Credentials, e.TLS = creds, tc
	if namesrv != "" {
		if err := Precheck(ctx, namesrv, e.transportOptions()...); err != nil {
			return nil, err
		}
		e.facts = probe(ctx, namesrv, e.transportOptions()...)
		return e, nil
	}
	dir, err := os.MkdirTemp("", "rocketgo-conformance-")
	if err != nil {
		return nil, err
	}
	bc := broker.DefaultConfig()
	bc.StorePathRootDir = dir
	bc.MappedFileSizeCommitLog = 64 << 20
	bc.MappedFileSizeConsumeQueue = 20 * 100_000
	bc.MaxHashSlotNum, bc.MaxIndexNum = 10_000, 40_000
	bc.DefaultTopicQueueNums = EmbeddedDefaultQueueNums
	bc.MessageDelayLevel = EmbeddedDelayLevels
	bc.TransactionCheckInterval = EmbeddedTxCheckInterval
	bc.TransactionTimeOut = EmbeddedTxTimeout
	bc.AutoCreateTopicEnable = false
	bc.EnablePropertyFilter = true // the SQL92 spec; foreign brokers without it skip that spec
	if tc != nil {
		os.RemoveAll(dir)
		return nil, errors.New("conformance: TLS needs a cluster (-namesrv); the embedded server has no certificate")
	}
	if creds.Valid() {
		aclFile := dir + "/plain_acl.yml"
		account := fmt.Sprintf("accounts:\n  - accessKey: %q\n    secretKey: %q\n    admin: true\n", creds.AccessKey, creds.SecretKey)
		if err := os.WriteFile(aclFile, []byte(account), 0o600); err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
		bc.AclEnable, bc.AclFile = true, aclFile
	}
	sctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	srv, err := embedded.Start(sctx, embedded.Config{Host: "127.0.0.1", NamesrvPort: -1, BrokerPort: -1, Broker: bc, Logger: e.log})
	if err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("conformance: embedded server: %w", err)
	}
	e.Namesrv, e.Embedded, e.AutoCreateOff, e.srv, e.dir = srv.NamesrvAddr(), true, true, srv, dir
	e.Level1, e.Level2 = time.Second, 2*time.Second
	if err := e.startProxy(creds); err != nil {
		e.Close(ctx)
		return nil, err
	}
	return e, nil
}

// startProxy serves the 5.x gRPC endpoint beside the embedded server, as
// rocketgo serve does, checking the suite's credentials when ACL is on.
func (e *Env) startProxy(creds auth.Credentials) error {
	pc := proxy.Config{NameServers: e.Namesrv, Logger: e.log, DefaultPollTime: 5 * time.Second}
	if creds.Valid() {
		pc.Authenticator = proxy.HMACAuthenticator(func(ak string) (string, bool) {
			return creds.SecretKey, ak == creds.AccessKey
		})
		pc.Credentials = auth.Static(creds)
	}
	g, err := proxy.Start("127.0.0.1:0", pc)
	if err != nil {
		return fmt.Errorf("conformance: embedded gRPC endpoint: %w", err)
	}
	e.proxy, e.GRPC = g, g.Addr()
	return nil
}

// UseGRPC points the grpc specs at the endpoint addr of a foreign cluster
// after checking that it accepts a connection within PrecheckTimeout;
// otherwise (or with addr empty) those specs skip, saying why. The
// embedded server's own endpoint stays when addr is empty.
func (e *Env) UseGRPC(ctx context.Context, addr string) {
	if addr == "" {
		if e.GRPC == "" {
			e.grpcWhy = "no gRPC endpoint given (-" + FlagGRPC + " or $" + EnvGRPC + ")"
		}
		return
	}
	ctx, cancel := context.WithTimeout(ctx, PrecheckTimeout)
	defer cancel()
	conn, err := (&net.Dialer{}).DialContext(ctx, "tcp", addr)
	if err != nil {
		e.GRPC, e.grpcWhy = "", fmt.Sprintf("the gRPC endpoint %s does not accept connections: %v", addr, oneLine(err))
		return
	}
	conn.Close()
	e.GRPC = addr
}

// Precheck asks every name server for the cluster info and requires at
// least one master broker, within PrecheckTimeout.
func Precheck(ctx context.Context, namesrv string, opts ...netclient.Option) error {
	ctx, cancel := context.WithTimeout(ctx, PrecheckTimeout)
	defer cancel()
	rc := netclient.New(append([]netclient.Option{netclient.WithDialTimeout(PrecheckTimeout)}, opts...)...)
	defer rc.Close()
	ns, err := nsclient.New(rc, namesrv, nsclient.WithTimeout(PrecheckTimeout))
	if err != nil {
		return fmt.Errorf("conformance: %s: %w: %v", namesrv, ErrUnreachable, err)
	}
	info, err := ns.ClusterInfo(ctx)
	if err != nil {
		return fmt.Errorf("conformance: %s: %w (GET_BROKER_CLUSTER_INFO, %v budget): %v", namesrv, ErrUnreachable, PrecheckTimeout, oneLine(err))
	}
	for _, b := range info.BrokerAddrTable {
		if b.MasterAddr() != "" {
			return nil
		}
	}
	return fmt.Errorf("conformance: %s: %w: it answers but knows no master broker", namesrv, ErrUnreachable)
}

func oneLine(err error) string { return strings.ReplaceAll(err.Error(), "\n", "; ") }

// TransportOptions sign and/or encrypt raw remoting calls as the suite's
// clients do.
func (e *Env) TransportOptions() []netclient.Option { return e.transportOptions() }

func (e *Env) transportOptions() []netclient.Option {
	var opts []netclient.Option
	if e.Credentials.Valid() {
		opts = append(opts, netclient.WithRequestSigner(auth.NewSigner(e.Credentials).Sign))
	}
	if e.TLS != nil {
		opts = append(opts, netclient.WithTLS(e.TLS))
	}
	return opts
}

// Close removes what the run left on the brokers (see Sweep), then stops
// the embedded server and removes its directory.
func (e *Env) Close(ctx context.Context) error {
	_, serr := e.Sweep(ctx)
	if e.srv == nil {
		return serr
	}
	var perr error
	if e.proxy != nil {
		perr = e.proxy.Close()
	}
	err := errors.Join(perr, e.srv.Shutdown(ctx))
	return errors.Join(serr, err, os.RemoveAll(e.dir))
}

// Sweep deletes every topic of this run still on a master: above all the
// %RETRY%<group> and %DLQ%<group> topics brokers create for the run's
// consumer groups, which no spec creates itself and so none deletes. It
// returns the topics it deleted.
func (e *Env) Sweep(ctx context.Context) ([]string, error) {
	var deleted []string
	err := e.withNS(func(rc *netclient.Client, ns *nsclient.Client) error {
		info, err := ns.ClusterInfo(ctx)
		if err != nil {
			return err
		}
		mine := map[string]bool{}
		var errs []error
		for _, b := range info.BrokerAddrTable {
			addr := b.MasterAddr()
			if addr == "" {
				continue
			}
			resp, err := rc.InvokeSync(ctx, addr, remoting.NewRequest(remoting.GetAllTopicConfig, nil, nil))
			if err == nil && resp.Code != remoting.Success {
				err = fmt.Errorf("GET_ALL_TOPIC_CONFIG at %s: code %d: %s", addr, resp.Code, resp.Remark)
			}
			if err != nil {
				errs = append(errs, err)
				continue
			}
			var body struct {
				TopicConfigTable map[string]json.RawMessage `json:"topicConfigTable"`
			}
			if err := json.Unmarshal(resp.Body, &body); err != nil {
				errs = append(errs, fmt.Errorf("GET_ALL_TOPIC_CONFIG at %s: %w", addr, err))
				continue
			}
			for t := range body.TopicConfigTable {
				if e.ownsName(t) {
					mine[t] = true
				}
			}
		}
		for t := range mine {
			if err := e.DeleteTopic(ctx, t); err != nil {
				errs = append(errs, err)
				continue
			}
			deleted = append(deleted, t)
		}
		return errors.Join(errs...)
	})
	return deleted, err
}

// ownsName reports whether a topic or group name was made by this run's
// Name, including the retry and dead-letter topics of its groups.
func (e *Env) ownsName(name string) bool {
	return strings.Contains(name, "_"+e.tag+"_")
}

// Broker is the embedded broker, or nil against a foreign cluster.
func (e *Env) Broker() *broker.Broker {
	if e.srv == nil {
		return nil
	}
	return e.srv.Broker()
}

// Name returns a topic or group name unique to this run and call:
// "<prefix>_<run>_<n>".
func (e *Env) Name(prefix string) string {
	return fmt.Sprintf("%s_%s_%d", prefix, e.tag, e.serial.Add(1))
}

// CreateTopic creates topic with queues queues on every master and waits
// for its route.
func (e *Env) CreateTopic(ctx context.Context, topic string, queues int) error {
	return loadtest.CreateTopic(ctx, e.Namesrv, topic, queues, e.transportOptions()...)
}

// DeleteTopic removes topic from the brokers and the name servers.
func (e *Env) DeleteTopic(ctx context.Context, topic string) error {
	return loadtest.DeleteTopic(ctx, e.Namesrv, topic, e.transportOptions()...)
}

// withNS runs fn with a name-server client.
func (e *Env) withNS(fn func(rc *netclient.Client, ns *nsclient.Client) error) error {
	rc := netclient.New(e.transportOptions()...)
	defer rc.Close()
	ns, err := nsclient.New(rc, e.Namesrv)
	if err != nil {
		return err
	}
	return fn(rc, ns)
}

// QueryByKey asks every master holding topic for messages indexed under
// key (QUERY_MESSAGE) stored in [begin, end].
func (e *Env) QueryByKey(ctx context.Context, topic, key string, begin, end time.Time) ([]*message.MessageExt, error) {
	var out []*message.MessageExt
	err := e.withNS(func(rc *netclient.Client, ns *nsclient.Client) error {
		route, err := ns.Route(ctx, topic)
		if err != nil {
			return err
		}
		for _, b := range route.BrokerDatas {
			h := &remoting.QueryMessageRequestHeader{Topic: topic, Key: key, MaxNum: 32, BeginTimestamp: begin.UnixMilli(), EndTimestamp: end.UnixMilli()}
			resp, err := rc.InvokeSync(ctx, b.MasterAddr(), remoting.NewRequest(remoting.QueryMessage, h, nil))
			if err != nil {
				return err
			}
			if resp.Code == remoting.QueryNotFound {
				continue
			}
			if resp.Code != remoting.Success {
				return fmt.Errorf("QUERY_MESSAGE: code %d: %s", resp.Code, resp.Remark)
			}
			msgs, err := message.DecodeMessages(resp.Body)
			if err != nil {
				return err
			}
			out = append(out, msgs...)
		}
		return nil
	})
	return out, err
}

// ViewByID fetches the message with the given offset message id
// (VIEW_MESSAGE_BY_ID) from topic's brokers. The id names the store host,
// but that is the address a broker advertises, which may not be the one
// this process can reach, so the commit-log offset is asked of the masters
// the route lists.
func (e *Env) ViewByID(ctx context.Context, topic, offsetMsgID string) (*message.MessageExt, error) {
	_, off, err := message.ParseOffsetMsgID(offsetMsgID)
	if err != nil {
		return nil, err
	}
	var found *message.MessageExt
	err = e.withNS(func(rc *netclient.Client, ns *nsclient.Client) error {
		route, err := ns.Route(ctx, topic)
		if err != nil {
			return err
		}
		var errs []error
		for _, b := range route.BrokerDatas {
			req := remoting.NewRequest(remoting.ViewMessageByID, &remoting.ViewMessageByIDRequestHeader{Offset: off, Topic: topic}, nil)
			resp, err := rc.InvokeSync(ctx, b.MasterAddr(), req)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			if resp.Code != remoting.Success {
				errs = append(errs, fmt.Errorf("VIEW_MESSAGE_BY_ID at %s: code %d: %s", b.MasterAddr(), resp.Code, resp.Remark))
				continue
			}
			msgs, err := message.DecodeMessages(resp.Body)
			if err != nil {
				return err
			}
			if len(msgs) == 1 && msgs[0].OffsetMsgID() == offsetMsgID {
				found = msgs[0]
				return nil
			}
		}
		return errors.Join(append(errs, fmt.Errorf("message %s not found", offsetMsgID))...)
	})
	return found, err
}

// deleteGroupHeader is DELETE_SUBSCRIPTIONGROUP's one field (remoting has
// no typed header for it).
type deleteGroupHeader struct{ group string }

func (h deleteGroupHeader) EncodeExt(e *remoting.ExtFields) { e.Set("groupName", h.group) }

// DeleteGroup removes a consumer group's subscription config (and with it
// the broker's memory of the group) from every master. Best effort: specs
// call it on cleanup, and brokers that keep the group anyway are not wrong.
func (e *Env) DeleteGroup(ctx context.Context, group string) error {
	return e.withNS(func(rc *netclient.Client, ns *nsclient.Client) error {
		info, err := ns.ClusterInfo(ctx)
		if err != nil {
			return err
		}
		var errs []error
		for _, b := range info.BrokerAddrTable {
			addr := b.MasterAddr()
			if addr == "" {
				continue
			}
			resp, err := rc.InvokeSync(ctx, addr, remoting.NewRequest(remoting.DeleteSubscriptionGroup, deleteGroupHeader{group}, nil))
			switch {
			case err != nil:
				errs = append(errs, err)
			case resp.Code != remoting.Success:
				errs = append(errs, fmt.Errorf("DELETE_SUBSCRIPTIONGROUP %s at %s: code %d: %s", group, addr, resp.Code, resp.Remark))
			}
		}
		return errors.Join(errs...)
	})
}
