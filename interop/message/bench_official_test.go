package message_test

// Side-by-side benchmarks with the official client's decoder and id
// generator; the root module keeps the rocketgo halves and the rest of the
// message benchmarks in message/bench_test.go.

import (
	"fmt"
	"net/netip"
	"testing"

	"github.com/apache/rocketmq-client-go/v2/primitive"

	"github.com/rocketgo/rocketgo/message"
)

// pull32 is a realistic 32-message pull body: 128-byte bodies and the
// properties a Java producer plus broker leave on a message.
func pull32(b *testing.B) []byte {
	b.Helper()
	uniq := message.NewUniqIDGenerator(netip.MustParseAddr("10.1.2.3"), 4242)
	body := make([]byte, 128)
	for i := range body {
		body[i] = byte('a' + i%26)
	}
	var out []byte
	for i := range 32 {
		props := message.New("BenchmarkTest", body).WithTags("TagA").WithKeys(fmt.Sprintf("order-%06d", i)).
			WithProperty(message.PropertyUniqKey, uniq.Next()).
			WithProperty(message.PropertyWaitStoreMsgOK, "true").
			WithProperty(message.PropertyCluster, "DefaultCluster").
			EncodeProperties(nil)
		var err error
		out, err = message.AppendStored(out, &message.StoredMessage{
			QueueID: 3, QueueOffset: int64(5000 + i), PhysicalOffset: int64(1_000_000 + 400*i),
			BornTimestamp: 1_700_000_000_000, BornHost: netip.MustParseAddrPort("192.168.0.10:53012"),
			StoreTimestamp: 1_700_000_000_001, StoreHost: netip.MustParseAddrPort("10.0.0.5:10911"),
			Body: body, Topic: "BenchmarkTest", Properties: string(props),
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	return out
}

// BenchmarkDecodePull32 decodes the same body with both decoders and reads
// each message's id and tag, the minimum a consumer does.
func BenchmarkDecodePull32(b *testing.B) {
	body := pull32(b)
	b.Run("rocketgo", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(body)))
		for b.Loop() {
			msgs, err := message.DecodeMessages(body)
			if err != nil || len(msgs) != 32 || msgs[31].MsgID == "" || msgs[31].Tags() != "TagA" {
				b.Fatal("bad decode", err)
			}
		}
	})
	b.Run("official", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(body)))
		for b.Loop() {
			msgs := primitive.DecodeMessage(body)
			if len(msgs) != 32 || msgs[31].MsgId == "" || msgs[31].GetTags() != "TagA" {
				b.Fatal("bad decode")
			}
		}
	})
}

func BenchmarkUniqID(b *testing.B) {
	b.Run("rocketgo", func(b *testing.B) {
		g := message.NewUniqIDGenerator(netip.MustParseAddr("10.1.2.3"), 4242)
		b.ReportAllocs()
		for b.Loop() {
			_ = g.Next()
		}
	})
	b.Run("official", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_ = primitive.CreateUniqID()
		}
	})
}

// pull32Compressed is a 32-message pull body whose 4 KiB JSON bodies (the
// compression threshold) were compressed with ct, flagged as Java 5.x
// flags them.
// BenchmarkDecodePull32Compressed decodes a pull body of 32 compressed
// messages, with a codec built for each call (the default) and with one
// held across calls (WithCodec). SetBytes counts the inflated bytes.
// BenchmarkCompress compresses one 4 KiB JSON body, as a producer does at
// the threshold, with a Codec held by the producer.
