package broker

import (
	"encoding/binary"
	"errors"
	"net"
	"strconv"
)

// Master/slave replication follows RocketMQ's classic (4.x) HA service,
// not DLedger. A master listens on haListenPort; each slave keeps one TCP
// connection to it for as long as both run.
//
//   - The slave writes 8-byte big-endian reports, "my log ends at offset
//     N": once when it connects, after applying received bytes and every
//     haSendHeartbeatInterval. The first report says where to start; every
//     report acknowledges the bytes below N.
//   - The master writes frames [8-byte physical offset][4-byte length]
//     [raw commit-log bytes], streaming from the slave's first report (or,
//     for an empty slave, from its own oldest segment) to the end of its log,
//     and an empty frame at the current position as a heartbeat whenever it
//     had nothing to send for haSendHeartbeatInterval.
//
// The slave appends the bytes at the same offsets (store.AppendLog), so
// both logs stay identical, message ids included. A SYNC_MASTER answers a
// send only once a slave has acknowledged the end of the message (see
// ha_master.go); the slave side lives in ha_slave.go and the replication of
// metadata (topics, groups, offsets) in slave_sync.go.

const (
	haReportSize = 8       // a slave's report: its log end
	haHeaderSize = 8 + 4   // a master's frame header: offset, body length
	maxHAFrame   = 4 << 20 // the largest frame body a slave accepts, as upstream's 4 MiB read buffer
)

// errHAStream reports a peer that broke the HA protocol (a frame at the
// wrong offset, an impossible length or offset). The connection is dropped
// and, on a slave, re-established.
var errHAStream = errors.New("broker: malformed HA stream")

// errSlaveAhead reports a slave whose log extends past the master's: it
// replicated from another master or the master lost data. Streaming cannot
// reconcile that, so the master refuses the slave.
var errSlaveAhead = errors.New("broker: slave log is ahead of the master")

func putHAHeader(b []byte, offset int64, size int) {
	binary.BigEndian.PutUint64(b[0:8], uint64(offset))
	binary.BigEndian.PutUint32(b[8:12], uint32(size))
}

// haListenAddr is where a master accepts slaves: haListenPort, or
// listenPort+1 as upstream's BrokerStartup derives it. A broker on a free
// remoting port (listenPort 0, tests and tools) takes a free HA port too,
// since "the next port" of an ephemeral one may well be taken.
func (c *Config) haListenAddr() string {
	port := c.HAListenPort
	if port == 0 && c.ListenPort != 0 {
		port = c.ListenPort + 1
	}
	return net.JoinHostPort(c.ListenHost, strconv.Itoa(port))
}

// listenHA binds a master's HA port. When the port is only derived
// (listenPort+1) and taken, a free port serves as well: slaves learn the
// bound address from the name server. A configured haListenPort must bind.
func (b *Broker) listenHA() error {
	if b.ha == nil {
		return nil
	}
	err := b.ha.listen(b.cfg.haListenAddr())
	if err == nil || b.cfg.HAListenPort != 0 {
		return err
	}
	b.log.Warn("HA: the default port listenPort+1 is unavailable; listening on a free port, which slaves learn from the name server", "err", err)
	return b.ha.listen(net.JoinHostPort(b.cfg.ListenHost, "0"))
}

// haAdvertisedAddr is the HA address the broker registers with name
// servers, which hand a master's to its slaves: the advertised host with
// the port the HA listener actually bound. A slave does not listen; it
// advertises the port a master would use, as upstream does.
func (b *Broker) haAdvertisedAddr() string {
	port := int(b.storeHost.Port()) + 1
	if b.ha != nil && b.ha.port() != 0 {
		port = b.ha.port()
	} else if b.cfg.HAListenPort != 0 {
		port = b.cfg.HAListenPort
	}
	return net.JoinHostPort(b.storeHost.Addr().String(), strconv.Itoa(port))
}

// isSlave reports whether the broker replicates another broker's log
// instead of accepting writes.
// In controller mode the role changes at run time, and a broker whose
// role is not settled yet counts as a slave.
func (b *Broker) isSlave() bool { return b.currentRole().name == RoleSlave }

// slaveRemark explains why a slave refuses a write; upstream's store
// refuses puts on a slave with SERVICE_NOT_AVAILABLE.
func (b *Broker) slaveRemark() string {
	r := b.currentRole()
	if r.fenced {
		return "service not available now: broker[" + b.cfg.BrokerName + "] at " + b.addr + " waits for the controller to name its role"
	}
	return "service not available now: broker[" + b.cfg.BrokerName + "] at " + b.addr + " is a slave (brokerId " +
		strconv.FormatInt(r.id, 10) + "), messages must be sent to its master"
}
