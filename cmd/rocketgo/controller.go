package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/rocketgo/rocketgo/server/controller"
	"github.com/rocketgo/rocketgo/server/embedded"
)

// controllerFlags load a controller configuration: defaults, a
// controller.conf (upstream key names), then -set overrides.
type controllerFlags struct {
	confFile string
	sets     settings
}

func (f *controllerFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.confFile, "c", "", "controller.conf-style file (controllerDLegerPeers, controllerDLegerSelfId, controllerStorePath, ...)")
	fs.Var(&f.sets, "set", "override one controller setting, `key=value` (repeatable)")
}

// config returns the configuration; enabled reports that the file asked
// for a controller (always true for a standalone one).
func (f *controllerFlags) config(stderr io.Writer, warnUnknown bool) (controller.Config, error) {
	cfg := controller.DefaultConfig()
	if f.confFile != "" {
		unknown, err := cfg.LoadFile(f.confFile)
		if err != nil {
			return cfg, err
		}
		for _, k := range unknown {
			if warnUnknown {
				fmt.Fprintf(stderr, "rocketgo: warning: %s: unknown key %q ignored\n", f.confFile, k)
			}
		}
	}
	for _, kv := range f.sets {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return cfg, fmt.Errorf("-set %q: want key=value", kv)
		}
		known, err := cfg.Set(strings.TrimSpace(k), v)
		if err != nil {
			return cfg, err
		}
		if !known && warnUnknown {
			return cfg, fmt.Errorf("-set %q: unknown controller setting %q", kv, k)
		}
	}
	return cfg, cfg.Validate()
}

// runController runs one standalone controller node.
func runController(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("controller", flag.ContinueOnError)
	var cf controllerFlags
	cf.register(fs)
	level := fs.String("log-level", "info", "log level: debug, info, warn or error")
	listen := fs.String("listen", "", "bind address (default: this node's address in controllerDLegerPeers)")
	if code, ok := parseFlags(fs, "controller", args, stdout, stderr); !ok {
		return code
	}
	cfg, err := cf.config(stderr, true)
	if err != nil {
		fmt.Fprintln(stderr, "rocketgo:", err)
		return 2
	}
	log, err := newLogger(stderr, *level)
	if err != nil {
		fmt.Fprintln(stderr, "rocketgo:", err)
		return 2
	}
	opts := []controller.Option{controller.WithLogger(log)}
	if *listen != "" {
		opts = append(opts, controller.WithListenAddr(*listen))
	}
	c, err := controller.New(cfg, opts...)
	if err != nil {
		fmt.Fprintln(stderr, "rocketgo:", err)
		return 2
	}
	if err := c.Start(ctx); err != nil {
		fmt.Fprintln(stderr, "rocketgo:", err)
		return 1
	}
	fmt.Fprintf(stdout, "rocketgo controller %s listening on %s (peers %s, data in %s)\n", cfg.SelfID, c.Addr(), cfg.Peers, cfg.StorePath)
	return waitAndStop(ctx, stderr, c.Shutdown)
}

// namesrvController reads a name server's file for
// enableControllerInNamesrv and, when set, the controller keys of the
// same file.
func namesrvController(file string, sets settings, stderr io.Writer) (*controller.Config, error) {
	enabled := false
	if file != "" {
		f, err := os.Open(file)
		if err != nil {
			return nil, err
		}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			k, v, ok := strings.Cut(strings.TrimSpace(sc.Text()), "=")
			if ok && strings.TrimSpace(k) == "enableControllerInNamesrv" {
				enabled, _ = strconv.ParseBool(strings.TrimSpace(v))
			}
		}
		f.Close()
	}
	var rest settings
	for _, kv := range sets {
		if k, v, ok := strings.Cut(kv, "="); ok && strings.TrimSpace(k) == "enableControllerInNamesrv" {
			enabled, _ = strconv.ParseBool(strings.TrimSpace(v))
			continue
		}
		rest = append(rest, kv)
	}
	if !enabled {
		return nil, nil
	}
	cf := controllerFlags{confFile: file, sets: rest}
	cfg, err := cf.config(stderr, false)
	if err != nil {
		return nil, err
	}
	return &cfg, nil
}

// runCluster is `serve -cluster N`: a name server with an embedded
// controller and an N-replica broker set in controller mode, in one
// process. Lines on standard input drive failovers: status, kill N,
// kill-master, start N.
func runCluster(ctx context.Context, replicas, basePort int, host, dir, level string, stdin io.Reader, stdout, stderr io.Writer) int {
	log, err := newLogger(stderr, level)
	if err != nil {
		fmt.Fprintln(stderr, "rocketgo:", err)
		return 2
	}
	bc := embedded.SmallConfig(filepath.Join(dir, "unused"))
	bc.AllAckInSyncStateSet = true
	if host == "" {
		host = "127.0.0.1"
	}
	c, err := embedded.StartCluster(ctx, embedded.ClusterConfig{Host: host, Dir: dir, Replicas: replicas, BasePort: basePort,
		Broker: bc, Controller: controller.DefaultConfig(), Logger: log})
	if err != nil {
		fmt.Fprintln(stderr, "rocketgo:", err)
		return 1
	}
	fmt.Fprintf(stdout, "rocketgo serve -cluster %d: name server %s, controller %s, data in %s\n",
		replicas, c.NamesrvAddr(), strings.Join(c.ControllerAddrs(), ";"), dir)
	printClusterStatus(c, stdout)
	fmt.Fprintln(stdout, "commands: status | kill N | kill-master | start N")
	go clusterConsole(ctx, c, stdin, stdout)
	return waitAndStop(ctx, stderr, c.Shutdown)
}

func printClusterStatus(c *embedded.Cluster, w io.Writer) {
	for i := range c.Replicas() {
		b := c.Broker(i)
		if b == nil {
			fmt.Fprintf(w, "  replica %d: down\n", i)
			continue
		}
		st := b.ReplicaStatus()
		role := "slave"
		if b.IsMaster() {
			role = "MASTER"
		}
		fmt.Fprintf(w, "  replica %d: %s %s id=%d epoch=%d syncStateSet=%v\n", i, b.Addr(), role, st.BrokerID, st.MasterEpoch, st.SyncStateSet.Members)
	}
}

// clusterConsole reads commands until stdin closes or ctx ends.
func clusterConsole(ctx context.Context, c *embedded.Cluster, stdin io.Reader, stdout io.Writer) {
	sc := bufio.NewScanner(stdin)
	for sc.Scan() && ctx.Err() == nil {
		f := strings.Fields(sc.Text())
		if len(f) == 0 {
			continue
		}
		switch {
		case f[0] == "status":
			printClusterStatus(c, stdout)
		case f[0] == "kill-master":
			if i, _ := c.Master(); i >= 0 {
				c.KillBroker(i)
				fmt.Fprintf(stdout, "killed replica %d (the master)\n", i)
			} else {
				fmt.Fprintln(stdout, "no master right now")
			}
		case (f[0] == "kill" || f[0] == "start") && len(f) == 2:
			i, err := strconv.Atoi(f[1])
			if err != nil || i < 0 || i >= c.Replicas() {
				fmt.Fprintf(stdout, "no replica %q\n", f[1])
				continue
			}
			if f[0] == "kill" {
				c.KillBroker(i)
				fmt.Fprintf(stdout, "killed replica %d\n", i)
			} else if err := c.StartBroker(ctx, i); err != nil {
				fmt.Fprintln(stdout, err)
			} else {
				fmt.Fprintf(stdout, "started replica %d\n", i)
			}
		default:
			fmt.Fprintln(stdout, "commands: status | kill N | kill-master | start N")
		}
	}
}
