package embedded

import (
	"crypto/tls"
	"log/slog"
	"net"
	"strconv"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/rocketgo/rocketgo/client"
	"github.com/rocketgo/rocketgo/server/broker"
	"github.com/rocketgo/rocketgo/server/proxy"
	"github.com/rocketgo/rocketgo/server/transport"
)

// startGRPC starts the 5.x gRPC endpoint beside the broker: a proxy that
// reaches the broker through the name server at nsAddr, as any client.
func startGRPC(cfg Config, bc broker.Config, nsAddr string, log *slog.Logger, reg *prometheus.Registry) (*proxy.Server, error) {
	pc := proxy.Config{NameServers: nsAddr, Logger: log, TLS: cfg.GRPCTLS}
	if pc.TLS == nil && bc.TlsCertFile != "" {
		tc, err := transport.ServerTLSConfig(bc.TlsCertFile, bc.TlsKeyFile, "")
		if err != nil {
			return nil, err
		}
		pc.TLS = tc
	}
	if mode, err := transport.ParseTLSMode(bc.TlsMode); err == nil && mode == transport.TLSEnforcing {
		// The broker refuses plain connections; the proxy is its
		// neighbour, so it does not verify the broker's certificate.
		pc.ClientOptions = append(pc.ClientOptions, client.WithTLS(&tls.Config{InsecureSkipVerify: true}))
	}
	_ = reg
	port := cfg.GRPCPort
	if port < 0 {
		port = 0
	}
	return proxy.Start(net.JoinHostPort(cfg.Host, strconv.Itoa(port)), pc)
}
