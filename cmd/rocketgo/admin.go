package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/rocketgo/rocketgo/admin"
	"github.com/rocketgo/rocketgo/auth"
	"github.com/rocketgo/rocketgo/client"
	"github.com/rocketgo/rocketgo/message"
	"github.com/rocketgo/rocketgo/remoting"
	"github.com/rocketgo/rocketgo/trace"
)

// `rocketgo admin <command>`: mqadmin's command names and short flags over
// package admin. Every command prints an aligned table, or JSON with
// -o json; any failure is one line on stderr and exit code 1 (2 for bad
// usage).

// adminCommand is one admin subcommand. flags registers its own flags on
// fs and returns the action, which returns what to print: a value for
// -o json and its table rows (header first) for humans.
type adminCommand struct {
	summary string
	flags   func(fs *flag.FlagSet) func(ctx context.Context, adm *admin.Client) (any, [][]string, error)
}

var errUsage = errors.New("usage")

func runAdmin(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cmds := adminCommands()
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "-help" || args[0] == "--help" {
		if len(args) > 1 {
			if c, ok := cmds[args[1]]; ok {
				adminCommandHelp(stdout, args[1], c)
				return 0
			}
		}
		adminUsage(stdout, cmds)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	c, ok := cmds[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "rocketgo admin: unknown command %q (rocketgo admin help lists them)\n", args[0])
		return 2
	}
	fs := flag.NewFlagSet("admin "+args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {} // -h prints the help below; a bad flag, a pointer to it
	ns, out, timeout, creds := adminFlags(fs)
	action := c.flags(fs)
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			// CMD -h is help asked for, as `rocketgo admin help CMD`.
			adminCommandHelp(stdout, args[0], c)
			return 0
		}
		fmt.Fprintf(stderr, "rocketgo admin help %s lists its flags\n", args[0])
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "rocketgo admin %s: unexpected argument %q\n", args[0], fs.Arg(0))
		return 2
	}
	if *out != "table" && *out != "json" {
		fmt.Fprintf(stderr, "rocketgo admin %s: -o must be table or json, not %q\n", args[0], *out)
		return 2
	}
	if creds.AccessKey == "" {
		creds.AccessKey = os.Getenv("ROCKETGO_ACCESS_KEY")
	}
	if creds.SecretKey == "" {
		creds.SecretKey = os.Getenv("ROCKETGO_SECRET_KEY")
	}
	if (creds.AccessKey == "") != (creds.SecretKey == "") {
		fmt.Fprintf(stderr, "rocketgo admin %s: -access-key and -secret-key go together\n", args[0])
		return 2
	}
	var opts []client.Option
	if creds.Valid() {
		opts = append(opts, client.WithCredentials(*creds))
	}
	adm, err := admin.Dial(*ns, opts...)
	if err != nil {
		fmt.Fprintf(stderr, "rocketgo admin %s: %v\n", args[0], err)
		return 1
	}
	defer adm.Close()
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	v, rows, err := action(ctx, adm)
	if err != nil {
		if errors.Is(err, errUsage) {
			fmt.Fprintf(stderr, "rocketgo admin %s: %v\n", args[0], err)
			return 2
		}
		hint := ""
		if errors.Is(err, remoting.ErrNoPermission) && !creds.Valid() {
			hint = " (ACL is on: pass -access-key and -secret-key)"
		}
		fmt.Fprintf(stderr, "rocketgo admin %s: %s%s\n", args[0], oneLine(err), hint)
		return 1
	}
	if *out == "json" {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(v); err != nil {
			fmt.Fprintf(stderr, "rocketgo admin %s: %v\n", args[0], err)
			return 1
		}
		return 0
	}
	printTable(stdout, rows)
	return 0
}

// adminCommandHelp prints what `rocketgo admin help name` and `rocketgo
// admin name -h` print: the command's summary and every flag.
func adminCommandHelp(w io.Writer, name string, c adminCommand) {
	fs := flag.NewFlagSet("admin "+name, flag.ContinueOnError)
	fs.SetOutput(w)
	adminFlags(fs)
	c.flags(fs)
	fmt.Fprintf(w, "usage: rocketgo admin %s [-n namesrv] [-o table|json] [flags]\n\n%s: %s\n\nFlags:\n", name, name, c.summary)
	fs.PrintDefaults()
}

// adminFlags registers the flags every admin command has. Credentials
// default to $ROCKETGO_ACCESS_KEY and $ROCKETGO_SECRET_KEY (read by
// runAdmin after parsing) so that keys need not appear in shell history
// or process lists.
func adminFlags(fs *flag.FlagSet) (ns, out *string, timeout *time.Duration, creds *auth.Credentials) {
	def := os.Getenv("NAMESRV_ADDR")
	if def == "" {
		def = "127.0.0.1:9876"
	}
	ns = fs.String("n", def, "name server addresses, `host:port;host:port` (default $NAMESRV_ADDR or 127.0.0.1:9876)")
	out = fs.String("o", "table", "output: table or json")
	timeout = fs.Duration("timeout", 10*time.Second, "deadline of the whole command")
	creds = &auth.Credentials{}
	// The environment is read after parsing, so help never prints a secret.
	fs.StringVar(&creds.AccessKey, "access-key", "", "ACL access key to sign every request with, for clusters with aclEnable=true (default $ROCKETGO_ACCESS_KEY)")
	fs.StringVar(&creds.SecretKey, "secret-key", "", "ACL secret key of -access-key (default $ROCKETGO_SECRET_KEY)")
	return ns, out, timeout, creds
}

func oneLine(err error) string { return strings.ReplaceAll(err.Error(), "\n", "; ") }

func printTable(w io.Writer, rows [][]string) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, r := range rows {
		fmt.Fprintln(tw, strings.Join(r, "\t"))
	}
	tw.Flush()
}

func adminUsage(w io.Writer, cmds map[string]adminCommand) {
	printHelp(w, "admin", nil)
	fmt.Fprintln(w, "\nCommands:")
	names := make([]string, 0, len(cmds))
	for n := range cmds {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-20s %s\n", n, cmds[n].summary)
	}
}

// need reports a missing required flag as a usage error.
func need(vals ...string) error {
	for i := 0; i+1 < len(vals); i += 2 {
		if vals[i+1] == "" {
			return fmt.Errorf("%w: -%s is required", errUsage, vals[i])
		}
	}
	return nil
}

// parseTime reads mqadmin's timestamps: milliseconds since the epoch,
// "now", yyyy-MM-dd#HH:mm:ss:SSS, or RFC 3339.
func parseTime(s string) (time.Time, error) {
	if s == "now" {
		return time.Now(), nil
	}
	if ms, err := strconv.ParseInt(s, 10, 64); err == nil {
		return time.UnixMilli(ms), nil
	}
	if t, err := time.ParseInLocation("2006-01-02#15:04:05:000", s, time.Local); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("%w: bad timestamp %q (milliseconds, now, yyyy-MM-dd#HH:mm:ss:SSS or RFC 3339)", errUsage, s)
}

func ms(t int64) string {
	if t <= 0 {
		return "-"
	}
	return time.UnixMilli(t).Format("2006-01-02 15:04:05.000")
}

func itoa[T ~int | ~int32 | ~int64 | ~int16](v T) string { return strconv.FormatInt(int64(v), 10) }

// resolveBroker turns a -b broker address or name into an address.
func resolveBroker(ctx context.Context, adm *admin.Client, b string) (string, error) {
	if strings.Contains(b, ":") {
		return b, nil
	}
	ci, err := adm.Cluster(ctx)
	if err != nil {
		return "", err
	}
	br, ok := ci.Broker(b)
	if !ok {
		return "", fmt.Errorf("%w: %s", admin.ErrBrokerNotFound, b)
	}
	return br.Addr, nil
}

// targetBrokers is -b (one broker) or -c (a cluster's masters; every
// master when both are empty).
func targetBrokers(ctx context.Context, adm *admin.Client, b, c string) ([]string, error) {
	if b != "" {
		a, err := resolveBroker(ctx, adm, b)
		return []string{a}, err
	}
	ci, err := adm.Cluster(ctx)
	if err != nil {
		return nil, err
	}
	m := ci.Masters(c)
	if len(m) == 0 {
		return nil, fmt.Errorf("%w: %q", admin.ErrClusterNotFound, c)
	}
	return m, nil
}

func kvRows(m map[string]string) [][]string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	rows := [][]string{{"#Key", "#Value"}}
	for _, k := range keys {
		rows = append(rows, []string{k, m[k]})
	}
	return rows
}

// msgView is a message as printMsg and the queries show it.
type msgView struct {
	MsgID       string            `json:"msgId"`
	OffsetMsgID string            `json:"offsetMsgId"`
	Topic       string            `json:"topic"`
	Broker      string            `json:"brokerName,omitempty"`
	QueueID     int32             `json:"queueId"`
	QueueOffset int64             `json:"queueOffset"`
	Tags        string            `json:"tags,omitempty"`
	Keys        []string          `json:"keys,omitempty"`
	BornTime    int64             `json:"bornTimestamp"`
	StoreTime   int64             `json:"storeTimestamp"`
	StoreHost   string            `json:"storeHost"`
	Reconsume   int32             `json:"reconsumeTimes"`
	Properties  map[string]string `json:"properties"`
	Body        string            `json:"body"`
}

func viewOf(m *message.MessageExt) msgView {
	return msgView{
		MsgID: m.MsgID, OffsetMsgID: message.OffsetMsgID(m.StoreHost, m.CommitLogOffset), Topic: m.Topic, Broker: m.BrokerName,
		QueueID: m.QueueID, QueueOffset: m.QueueOffset, Tags: m.Tags(), Keys: m.Keys(), BornTime: m.BornTimestamp,
		StoreTime: m.StoreTimestamp, StoreHost: m.StoreHost.String(), Reconsume: m.ReconsumeTimes, Properties: m.Properties(),
		Body: string(m.Body),
	}
}

func msgRows(msgs []*message.MessageExt) ([]msgView, [][]string) {
	views := make([]msgView, len(msgs))
	rows := [][]string{{"#MsgId", "#Topic", "#Broker", "#QID", "#Offset", "#Tags", "#Keys", "#StoreTime", "#Body"}}
	for i, m := range msgs {
		v := viewOf(m)
		views[i] = v
		body := v.Body
		if len(body) > 64 {
			body = body[:64] + "…"
		}
		rows = append(rows, []string{v.MsgID, v.Topic, v.Broker, itoa(v.QueueID), itoa(v.QueueOffset), v.Tags, strings.Join(v.Keys, " "), ms(v.StoreTime), strconv.Quote(body)})
	}
	return views, rows
}

// traceRows lays out trace records as mqadmin's queryMsgTraceById does:
// one line per event, oldest first.
func traceRows(recs []trace.Record) [][]string {
	rows := [][]string{{"#Type", "#Group", "#ClientHost", "#StoreHost", "#Time", "#CostMs", "#Status", "#Retries"}}
	for _, r := range recs {
		status := "failed"
		switch {
		case r.Type == trace.EndTransaction:
			status = r.TransactionState
		case r.Type == trace.SubBefore:
			status = "-"
		case r.Success:
			status = "success"
		}
		retries := "-"
		if r.Type == trace.SubBefore {
			retries = itoa(r.RetryTimes)
		}
		rows = append(rows, []string{string(r.Type), r.Group, r.ClientHost, r.StoreHost, ms(r.Timestamp), itoa(r.CostTime), status, retries})
	}
	return rows
}
