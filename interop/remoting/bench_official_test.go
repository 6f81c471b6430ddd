package remoting

import (
	"testing"
	"unsafe"

	// Links the official client's internal/remote package into the test
	// binary so the go:linkname declarations below resolve.
	_ "github.com/apache/rocketmq-client-go/v2/producer"
)

// The official v2.1.2 codec lives in an internal package; reaching it by
// linkname lets one benchmark run compare both codecs on the same bytes.
// officialDecode takes a frame WITHOUT the 4-byte length prefix (it starts by
// reading the header word) and returns *remote.RemotingCommand.
//
//go:linkname officialDecode github.com/apache/rocketmq-client-go/v2/internal/remote.decode
func officialDecode(data []byte) (unsafe.Pointer, error)

// officialEncode returns the whole frame including the length prefix.
//
//go:linkname officialEncode github.com/apache/rocketmq-client-go/v2/internal/remote.encode
func officialEncode(cmd unsafe.Pointer) ([]byte, error)

// sendV2Header is a realistic SEND_MESSAGE_V2 header: property string with
// UNIQ_KEY, TAGS, KEYS and WAIT as the Java client sends them.
func sendV2Header() *SendMessageRequestHeader {
	props := "UNIQ_KEY\x01AC11000158F818B4AAC2745C1F9F0000\x02TAGS\x01TagA\x02KEYS\x01order-20261122-000042\x02WAIT\x01true\x02"
	return &SendMessageRequestHeader{
		ProducerGroup:         "please_rename_unique_group_name",
		Topic:                 "TopicTest",
		DefaultTopic:          "TBW102",
		DefaultTopicQueueNums: 4,
		QueueID:               3,
		SysFlag:               0,
		BornTimestamp:         1763784000123,
		Flag:                  0,
		Properties:            props,
		ReconsumeTimes:        0,
		UnitMode:              false,
		MaxReconsumeTimes:     16,
		Batch:                 false,
	}
}

func sendV2Command() *Command {
	body := make([]byte, 128)
	for i := range body {
		body[i] = byte('a' + i%26)
	}
	c := NewRequest(SendMessageV2, sendV2Header().V2(), body)
	c.Opaque = 123456
	return c
}

func BenchmarkSendV2Encode(b *testing.B) {
	c := sendV2Command()
	frame, err := AppendFrame(nil, c)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("rocketgo", func(b *testing.B) {
		buf := make([]byte, 0, 1024)
		b.ReportAllocs()
		b.SetBytes(int64(len(frame)))
		for b.Loop() {
			out, err := AppendFrame(buf[:0], c)
			if err != nil || len(out) != len(frame) {
				b.Fatal(err)
			}
		}
	})
	b.Run("official", func(b *testing.B) {
		cmd, err := officialDecode(frame[4:])
		if err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		b.SetBytes(int64(len(frame)))
		for b.Loop() {
			if _, err := officialEncode(cmd); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkSendV2Decode(b *testing.B) {
	frame, err := AppendFrame(nil, sendV2Command())
	if err != nil {
		b.Fatal(err)
	}
	frame = frame[4:]
	b.Run("rocketgo", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(frame)))
		for b.Loop() {
			if _, err := DecodeFrame(frame); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("official", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(frame)))
		for b.Loop() {
			if _, err := officialDecode(frame); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkSendV2Typed measures the full per-message cost on our side: typed
// header to ext to frame, and frame to command to typed header.
func BenchmarkSendV2Typed(b *testing.B) {
	h := sendV2Header()
	body := make([]byte, 128)
	b.Run("encode", func(b *testing.B) {
		buf := make([]byte, 0, 1024)
		var c Command
		b.ReportAllocs()
		for b.Loop() {
			c.Ext.Reset()
			c.Code, c.Body = SendMessageV2, body
			h.V2().EncodeExt(&c.Ext)
			if _, err := AppendFrame(buf[:0], &c); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("decode", func(b *testing.B) {
		c := NewRequest(SendMessageV2, h.V2(), body)
		frame, _ := AppendFrame(nil, c)
		var got SendMessageRequestHeader
		b.ReportAllocs()
		for b.Loop() {
			cmd, err := DecodeFrame(frame[4:])
			if err != nil {
				b.Fatal(err)
			}
			if err := cmd.DecodeHeader(&got); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkSendV2Binary(b *testing.B) {
	c := sendV2Command()
	c.SerializeType = SerializeRocketMQ
	frame, _ := AppendFrame(nil, c)
	b.Run("encode", func(b *testing.B) {
		buf := make([]byte, 0, 1024)
		b.ReportAllocs()
		for b.Loop() {
			if _, err := AppendFrame(buf[:0], c); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("decode", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := DecodeFrame(frame[4:]); err != nil {
				b.Fatal(err)
			}
		}
	})
}
