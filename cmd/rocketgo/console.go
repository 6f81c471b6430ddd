package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"time"

	"github.com/rocketgo/rocketgo/admin"
	"github.com/rocketgo/rocketgo/auth"
	"github.com/rocketgo/rocketgo/client"
	"github.com/rocketgo/rocketgo/console"
	"github.com/rocketgo/rocketgo/message"
	"github.com/rocketgo/rocketgo/producer"
)

var consoleHelp = helpText{
	synopsis: "rocketgo console [-n namesrv] [-listen 127.0.0.1:8080] [flags]",
	description: `Serve the web console: cluster, topics, consumer groups and their lag, messages by
time, key or id. It speaks only the remoting protocol through the admin package, so
it works against rocketgo and Apache RocketMQ clusters alike. It binds 127.0.0.1
unless told otherwise; to expose it, give it a -users file (basic auth) and put TLS in
front. -read-only hides and refuses every write action. Against an ACL-enabled cluster
give -access-key/-secret-key (or $ROCKETGO_ACCESS_KEY/$ROCKETGO_SECRET_KEY).`,
	groups: []group{
		{"Cluster", []string{"n", "access-key", "secret-key", "timeout"}},
		{"Web", []string{"listen", "read-only", "users", "sample"}},
	},
	examples: []string{
		"rocketgo console                                   # 127.0.0.1:9876, http://127.0.0.1:8080",
		"rocketgo console -n 10.0.0.5:9876 -read-only",
		"rocketgo console -listen 0.0.0.0:8080 -users console.users   # lines user:password or user:sha256:HEX",
	},
}

func runConsole(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("console", flag.ContinueOnError)
	def := os.Getenv("NAMESRV_ADDR")
	if def == "" {
		def = "127.0.0.1:9876"
	}
	ns := fs.String("n", def, "name servers, host:port;host:port (default $NAMESRV_ADDR, else 127.0.0.1:9876)")
	listen := fs.String("listen", "127.0.0.1:8080", "HTTP `address` to serve the console on")
	readOnly := fs.Bool("read-only", false, "offer and accept no write action (create/delete topic, ...)")
	users := fs.String("users", "", "basic-auth users `file`: lines user:password or user:sha256:HEX; required to leave loopback")
	ak := fs.String("access-key", os.Getenv("ROCKETGO_ACCESS_KEY"), "ACL access key signing every request (default $ROCKETGO_ACCESS_KEY)")
	sk := fs.String("secret-key", os.Getenv("ROCKETGO_SECRET_KEY"), "ACL secret key (default $ROCKETGO_SECRET_KEY)")
	timeout := fs.Duration("timeout", 10*time.Second, "budget for the cluster calls of one page")
	sample := fs.Duration("sample", 5*time.Second, "how often the Live charts sample lag and rates (0: off); 30 minutes are kept")
	if code, ok := parseFlags(fs, "console", args, stdout, stderr); !ok {
		return code
	}
	cfg := console.Config{ReadOnly: *readOnly, Timeout: *timeout, SampleEvery: *sample}
	if *users != "" {
		u, err := console.LoadUsers(*users)
		if err != nil {
			fmt.Fprintln(stderr, "rocketgo console:", err)
			return 2
		}
		cfg.Users = u
	} else if !loopback(*listen) {
		fmt.Fprintf(stderr, "rocketgo console: refusing to serve %s without -users: anyone reaching it could administer the cluster\n", *listen)
		return 2
	}
	var opts []client.Option
	if *ak != "" || *sk != "" {
		c := auth.Credentials{AccessKey: *ak, SecretKey: *sk}
		if !c.Valid() {
			fmt.Fprintln(stderr, "rocketgo console: -access-key and -secret-key go together")
			return 2
		}
		opts = append(opts, client.WithCredentials(c))
	}
	stop, url, err := startConsole(*ns, *listen, cfg, opts...)
	if err != nil {
		fmt.Fprintln(stderr, "rocketgo console:", err)
		return 1
	}
	fmt.Fprintf(stdout, "rocketgo console: %s (name servers %s%s)\n", url, *ns, map[bool]string{true: ", read-only"}[*readOnly])
	return waitAndStop(ctx, stderr, stop)
}

// startConsole dials the cluster through admin and serves the console on
// addr; stop shuts both down.
func startConsole(nameServers, addr string, cfg console.Config, opts ...client.Option) (stop func(context.Context) error, url string, err error) {
	adm, err := admin.Dial(nameServers, opts...)
	if err != nil {
		return nil, "", err
	}
	// Re-sending goes through a producer sharing the admin client's
	// connections and credentials.
	p, err := producer.New(producer.WithClient(adm.Client()), producer.WithGroup("rocketgo-console"))
	if err != nil {
		adm.Close()
		return nil, "", err
	}
	cfg.Sender = producerSender{p}
	c, err := console.New(adm, cfg)
	if err == nil {
		var srv *console.Server
		if srv, err = console.Listen(addr, c); err == nil {
			return func(ctx context.Context) error {
				return errors.Join(srv.Shutdown(ctx), c.Close(), p.Shutdown(ctx), adm.Close())
			}, "http://" + srv.Addr(), nil
		}
		c.Close()
	}
	p.Shutdown(context.Background())
	adm.Close()
	return nil, "", err
}

type producerSender struct{ p *producer.Producer }

func (s producerSender) Send(ctx context.Context, m *message.Message) (string, error) {
	res, err := s.p.SendSync(ctx, m)
	if err != nil {
		return "", err
	}
	return res.OffsetMsgID, nil
}

// loopback reports whether addr binds only a loopback interface.
func loopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
