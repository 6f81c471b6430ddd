// Package rawframe writes arbitrary bytes to a remoting server as one
// frame, the way the frame fuzzers feed servers input no client would
// send.
package rawframe

import (
	"encoding/binary"
	"io"
	"net"
	"time"
)

// Exchange dials addr, writes frame (a remoting frame without its 4-byte
// length prefix, which Exchange adds from len(frame)) and waits up to wait
// for one answer, a close or the deadline — oneway requests and parked
// pulls answer nothing — then closes the connection. Its only error is a
// failed dial: whatever the server does with the frame is the caller's to
// check.
func Exchange(addr string, frame []byte, wait time.Duration) error {
	conn, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		return err
	}
	defer conn.Close()
	out := make([]byte, 4, 4+len(frame))
	binary.BigEndian.PutUint32(out, uint32(len(frame)))
	conn.SetDeadline(time.Now().Add(wait))
	conn.Write(append(out, frame...))
	var size [4]byte
	if _, err := io.ReadFull(conn, size[:]); err == nil {
		io.CopyN(io.Discard, conn, int64(binary.BigEndian.Uint32(size[:])))
	}
	return nil
}
