package rawframe

import (
	"encoding/binary"
	"io"
	"net"
	"testing"
	"time"
)

// TestExchange: the server reads the frame with its length prefix, and
// Exchange reads the answer and returns; against a silent server it
// returns at the deadline.
func TestExchange(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	got := make(chan []byte, 2)
	go func() {
		for i := 0; ; i++ {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			var size [4]byte
			io.ReadFull(c, size[:])
			b := make([]byte, binary.BigEndian.Uint32(size[:]))
			io.ReadFull(c, b)
			got <- b
			if i == 0 { // answer the first, stay silent on the second
				c.Write([]byte{0, 0, 0, 2, 'o', 'k'})
			}
			go func() { io.Copy(io.Discard, c); c.Close() }()
		}
	}()
	if err := Exchange(ln.Addr().String(), []byte("hello"), 5*time.Second); err != nil {
		t.Fatal(err)
	}
	if b := <-got; string(b) != "hello" {
		t.Fatalf("server read %q", b)
	}
	start := time.Now()
	if err := Exchange(ln.Addr().String(), []byte("x"), 50*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if <-got; time.Since(start) > 5*time.Second {
		t.Fatal("Exchange did not give up at its deadline")
	}
	ln.Close()
	if err := Exchange(ln.Addr().String(), nil, time.Second); err == nil {
		t.Fatal("Exchange to a closed listener succeeded")
	}
}
