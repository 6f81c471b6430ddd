//go:build unix

package transport

import (
	"net"
	"syscall"

	"github.com/panjf2000/gnet/v2"
)

// boundAddr reads the listener's real address back from the kernel, which is
// how Addr reports the port chosen for "host:0". gnet does not expose it, but
// it hands out a duplicate of the listening socket.
func boundAddr(eng gnet.Engine) net.Addr {
	fd, err := eng.Dup()
	if err != nil {
		return nil
	}
	defer syscall.Close(fd)
	sa, err := syscall.Getsockname(fd)
	if err != nil {
		return nil
	}
	switch a := sa.(type) {
	case *syscall.SockaddrInet4:
		return &net.TCPAddr{IP: net.IP(append([]byte(nil), a.Addr[:]...)), Port: a.Port}
	case *syscall.SockaddrInet6:
		return &net.TCPAddr{IP: net.IP(append([]byte(nil), a.Addr[:]...)), Port: a.Port}
	}
	return nil
}
