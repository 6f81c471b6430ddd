package main

import (
	"crypto/tls"
	"log/slog"
	"net"
	"strconv"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/rocketgo/rocketgo/auth"
	"github.com/rocketgo/rocketgo/client"
	"github.com/rocketgo/rocketgo/server/acl"
	"github.com/rocketgo/rocketgo/server/broker"
	"github.com/rocketgo/rocketgo/server/metrics"
	"github.com/rocketgo/rocketgo/server/proxy"
	"github.com/rocketgo/rocketgo/server/transport"
)

// startGRPC starts the 5.x gRPC endpoint beside a broker: a proxy that
// reaches the broker through the name server at nsAddr, as any client
// does. port 0 picks a free one. The certificate is the broker's
// (tlsServerCertPath) when it has one, else self-signed.
// With reg (the registry /metrics serves) its calls are timed into
// rocketmq_rpc_latency{protocol_type="grpc"}.
// With aclEnable the 5.x clients' signatures are checked against the
// broker's ACL file, and their requests reach the broker signed with their
// own account; the proxy's own requests are signed with the broker's
// aclAccessKey/aclSecretKey.
func startGRPC(host string, port int, nsAddr string, bc broker.Config, log *slog.Logger, reg *prometheus.Registry) (*proxy.Server, func() error, error) {
	pc := proxy.Config{NameServers: nsAddr, Logger: log}
	if reg != nil {
		labels, err := metrics.BrokerLabels(bc)
		if err != nil {
			return nil, nil, err
		}
		labels.NodeID = net.JoinHostPort(host, strconv.Itoa(port))
		m, err := metrics.NewProxy(reg, labels)
		if err != nil {
			return nil, nil, err
		}
		pc.Observer = m
	}
	if bc.TlsCertFile != "" {
		tc, err := transport.ServerTLSConfig(bc.TlsCertFile, bc.TlsKeyFile, "")
		if err != nil {
			return nil, nil, err
		}
		pc.TLS = tc
	}
	if mode, err := transport.ParseTLSMode(bc.TlsMode); err == nil && mode == transport.TLSEnforcing {
		// The broker refuses plain connections; the proxy is its
		// neighbour, so it does not verify the broker's certificate.
		pc.ClientOptions = append(pc.ClientOptions, client.WithTLS(&tls.Config{InsecureSkipVerify: true}))
	}
	var checker *acl.Checker
	if bc.AclEnable {
		path := bc.AclFile
		if path == "" {
			path = acl.DefaultFile()
		}
		var err error
		if checker, err = acl.Open(path, acl.WithLogger(log)); err != nil {
			return nil, nil, err
		}
		pc.Authenticator = proxy.HMACAuthenticator(checker.SecretKey)
		// The proxy's own heartbeats (which register the 5.x transaction
		// producers, so that check-backs come) go out under the broker's
		// own account, as its other requests of its own do.
		if bc.AclAccessKey != "" && bc.AclSecretKey != "" {
			pc.Credentials = auth.Static{AccessKey: bc.AclAccessKey, SecretKey: bc.AclSecretKey}
		} else {
			log.Warn("aclEnable without aclAccessKey/aclSecretKey: the gRPC endpoint's heartbeats go unsigned, so the broker refuses them and sends 5.x transaction producers no check-backs")
		}
	}
	g, err := proxy.Start(net.JoinHostPort(host, strconv.Itoa(port)), pc)
	if err != nil {
		if checker != nil {
			checker.Close()
		}
		return nil, nil, err
	}
	return g, func() error {
		err := g.Close()
		if checker != nil {
			checker.Close()
		}
		return err
	}, nil
}
