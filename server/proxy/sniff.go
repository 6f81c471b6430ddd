package proxy

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"os"
	"time"

	"google.golang.org/grpc/credentials"
)

// tlsRecordHandshake is the first byte of a TLS ClientHello record; an
// HTTP/2 connection preface starts with "PRI".
const tlsRecordHandshake = 0x16

// sniffCredentials serves TLS and plain gRPC on one port: the first byte
// of each connection picks the protocol. grpc runs ServerHandshake on the
// connection's own goroutine under its connection timeout, so a client
// that sends nothing cannot hold the accept loop.
type sniffCredentials struct {
	tls credentials.TransportCredentials
}

func newSniffCredentials(cfg *tls.Config) credentials.TransportCredentials {
	return &sniffCredentials{tls: credentials.NewTLS(cfg)}
}

// plainInfo is the AuthInfo of a connection that did not start TLS.
type plainInfo struct{ credentials.CommonAuthInfo }

func (plainInfo) AuthType() string { return "insecure" }

func (c *sniffCredentials) ServerHandshake(raw net.Conn) (net.Conn, credentials.AuthInfo, error) {
	var first [1]byte
	if _, err := io.ReadFull(raw, first[:]); err != nil {
		return nil, nil, fmt.Errorf("proxy: reading the first byte: %w", err)
	}
	conn := &prefixConn{Conn: raw, prefix: first[:]}
	if first[0] == tlsRecordHandshake {
		return c.tls.ServerHandshake(conn)
	}
	return conn, plainInfo{credentials.CommonAuthInfo{SecurityLevel: credentials.NoSecurity}}, nil
}

func (c *sniffCredentials) ClientHandshake(context.Context, string, net.Conn) (net.Conn, credentials.AuthInfo, error) {
	return nil, nil, errors.New("proxy: server-side credentials only")
}

func (c *sniffCredentials) Info() credentials.ProtocolInfo {
	return credentials.ProtocolInfo{SecurityProtocol: "tls-or-plain"}
}

func (c *sniffCredentials) Clone() credentials.TransportCredentials {
	return &sniffCredentials{tls: c.tls.Clone()}
}

func (c *sniffCredentials) OverrideServerName(string) error { return nil }

// prefixConn gives back the byte the sniffer read before the rest.
type prefixConn struct {
	net.Conn
	prefix []byte
}

func (c *prefixConn) Read(p []byte) (int, error) {
	if len(c.prefix) > 0 {
		n := copy(p, c.prefix)
		c.prefix = c.prefix[n:]
		return n, nil
	}
	return c.Conn.Read(p)
}

// SelfSignedCertificate makes a certificate for localhost, the loopback
// addresses and this host's name, valid for a year, as upstream's proxy
// generates one when none is configured.
func SelfSignedCertificate() (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("proxy: generating a key: %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("proxy: generating a serial: %w", err)
	}
	names := []string{"localhost"}
	if h, err := os.Hostname(); err == nil && h != "" && h != "localhost" {
		names = append(names, h)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "rocketgo gRPC proxy", Organization: []string{"rocketgo"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(365 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		DNSNames:              names,
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("proxy: creating a certificate: %w", err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, nil
}
