package remoting_test

import (
	"testing"
	"unsafe"

	"github.com/rocketgo/rocketgo/remoting"

	// Links the official client's internal/remote package into the test
	// binary so the go:linkname declarations below resolve.
	_ "github.com/apache/rocketmq-client-go/v2/producer"
)

// The official v2.1.2 codec lives in an internal package; reaching it by
// linkname lets one benchmark run compare both codecs on the same bytes.
// (The root module keeps the rocketgo half of these benchmarks, plus the
// typed and binary ones, in remoting/bench_test.go.)
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
func sendV2Header() *remoting.SendMessageRequestHeader {
	props := "UNIQ_KEY\x01AC11000158F818B4AAC2745C1F9F0000\x02TAGS\x01TagA\x02KEYS\x01order-20261122-000042\x02WAIT\x01true\x02"
	return &remoting.SendMessageRequestHeader{
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

func sendV2Command() *remoting.Command {
	body := make([]byte, 128)
	for i := range body {
		body[i] = byte('a' + i%26)
	}
	c := remoting.NewRequest(remoting.SendMessageV2, sendV2Header().V2(), body)
	c.Opaque = 123456
	return c
}

func BenchmarkSendV2Encode(b *testing.B) {
	c := sendV2Command()
	frame, err := remoting.AppendFrame(nil, c)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("rocketgo", func(b *testing.B) {
		buf := make([]byte, 0, 1024)
		b.ReportAllocs()
		b.SetBytes(int64(len(frame)))
		for b.Loop() {
			out, err := remoting.AppendFrame(buf[:0], c)
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
	frame, err := remoting.AppendFrame(nil, sendV2Command())
	if err != nil {
		b.Fatal(err)
	}
	frame = frame[4:]
	b.Run("rocketgo", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(frame)))
		for b.Loop() {
			if _, err := remoting.DecodeFrame(frame); err != nil {
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
