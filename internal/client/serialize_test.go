package client

import (
	"context"
	"io"
	"net"
	"testing"
	"time"

	"github.com/rocketgo/rocketgo/remoting"
	"github.com/rocketgo/rocketgo/remoting/netclient"
)

// Requests carry the ROCKETMQ binary header unless the transport options
// ask for JSON, and the header decodes to what was sent.
func TestRequestSerializeType(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts []Option
		want remoting.SerializeType
	}{
		{"default", nil, remoting.SerializeRocketMQ},
		{"json", []Option{WithRemotingOptions(netclient.WithSerializeType(remoting.SerializeJSON))}, remoting.SerializeJSON},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			got := make(chan *remoting.Command, 1)
			go func() {
				nc, err := ln.Accept()
				if err != nil {
					return
				}
				defer nc.Close()
				var prefix [4]byte
				if _, err := io.ReadFull(nc, prefix[:]); err != nil {
					return
				}
				frame := make([]byte, int(prefix[0])<<24|int(prefix[1])<<16|int(prefix[2])<<8|int(prefix[3]))
				if _, err := io.ReadFull(nc, frame); err != nil {
					return
				}
				cmd, err := remoting.DecodeFrame(frame)
				if err != nil {
					t.Error(err)
					return
				}
				got <- cmd
			}()
			c, err := New(append([]Option{WithNameServers(ln.Addr().String())}, tc.opts...)...)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Release()
			h := &remoting.SendMessageRequestHeader{ProducerGroup: "PG", Topic: "T", DefaultTopic: DefaultTopic,
				DefaultTopicQueueNums: 4, QueueID: 1, Properties: "UNIQ_KEY\x01X\x02"}
			ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
			defer cancel()
			_ = c.rc.InvokeOneway(ctx, ln.Addr().String(), remoting.NewRequest(remoting.SendMessageV2, h.V2(), []byte("body")))
			select {
			case cmd := <-got:
				if cmd.SerializeType != tc.want {
					t.Errorf("serialize type %v, want %v", cmd.SerializeType, tc.want)
				}
				var dh remoting.SendMessageRequestHeader
				if err := cmd.DecodeHeader(&dh); err != nil || dh != *h {
					t.Errorf("header %+v (%v), want %+v", dh, err, *h)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("no request arrived")
			}
		})
	}
}
