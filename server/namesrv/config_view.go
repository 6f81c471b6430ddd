package namesrv

import (
	"net"
	"strconv"

	"github.com/rocketgo/rocketgo/internal/properties"
	"github.com/rocketgo/rocketgo/remoting"
)

// Properties is the name server's configuration as key/value pairs, under
// upstream's names where upstream has the setting (listenPort,
// bindAddress, kvConfigPath, scanNotActiveBrokerInterval) and rocketgo's
// otherwise (brokerTimeoutMillis, the expiry upstream hard-codes).
func (s *Server) Properties() map[string]string {
	host, port, _ := net.SplitHostPort(s.cfg.listenAddr)
	if a := s.rs.Addr(); a != nil {
		_, port, _ = net.SplitHostPort(a.String())
	}
	if host == "" {
		host = "0.0.0.0"
	}
	return map[string]string{
		"listenPort":                  port,
		"bindAddress":                 host,
		"kvConfigPath":                s.cfg.kvConfigPath,
		"scanNotActiveBrokerInterval": strconv.FormatInt(s.cfg.scanInterval.Milliseconds(), 10),
		"brokerTimeoutMillis":         strconv.FormatInt(s.cfg.brokerTimeout.Milliseconds(), 10),
		"clusterTest":                 "false",
		"orderMessageEnable":          "false",
	}
}

// getNamesrvConfig answers GET_NAMESRV_CONFIG (319) with the configuration
// as properties text, which mqadmin getNamesrvConfig prints.
func (s *Server) getNamesrvConfig(_ any, req *remoting.Command) *remoting.Command {
	return withBody(req, []byte(properties.Format(s.Properties())))
}

// Counts reports how many brokers (addresses) are registered and how many
// topics the route table holds, for metrics.
func (s *Server) Counts() (brokers, topics int) {
	t := s.routes
	t.mu.RLock()
	defer t.mu.RUnlock()
	return len(t.live), len(t.topics)
}
