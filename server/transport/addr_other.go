//go:build !unix

package transport

import (
	"net"

	"github.com/panjf2000/gnet/v2"
)

// boundAddr is unknown on platforms without getsockname on gnet's listener.
func boundAddr(gnet.Engine) net.Addr { return nil }
