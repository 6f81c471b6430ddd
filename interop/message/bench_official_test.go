package message_test

import (
	"fmt"
	"net/netip"
	"strings"
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

func BenchmarkAppendStored(b *testing.B) {
	m := &message.StoredMessage{
		QueueID: 1, QueueOffset: 77, PhysicalOffset: 1 << 30, BornTimestamp: 1_700_000_000_000,
		BornHost: netip.MustParseAddrPort("192.168.0.10:53012"), StoreTimestamp: 1_700_000_000_001,
		StoreHost: netip.MustParseAddrPort("10.0.0.5:10911"), Body: make([]byte, 128), Topic: "BenchmarkTest",
		Properties: "TAGS\x01TagA\x02KEYS\x01order-000001\x02UNIQ_KEY\x010A0102030000000000000000000000AB\x02WAIT\x01true\x02CLUSTER\x01DefaultCluster\x02",
	}
	buf := make([]byte, 0, 1024)
	b.ReportAllocs()
	for b.Loop() {
		var err error
		if buf, err = message.AppendStored(buf[:0], m); err != nil {
			b.Fatal(err)
		}
	}
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

func BenchmarkAppendBatch32(b *testing.B) {
	msgs := make([]*message.Message, 32)
	for i := range msgs {
		msgs[i] = message.New("BenchmarkTest", make([]byte, 128)).WithTags("TagA").WithKeys("order-1").
			WithProperty(message.PropertyUniqKey, "0A0102030000000000000000000000AB")
	}
	buf := make([]byte, 0, 16<<10)
	b.ReportAllocs()
	for b.Loop() {
		var err error
		if buf, err = message.AppendBatch(buf[:0], msgs); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeBatch32(b *testing.B) {
	msgs := make([]*message.Message, 32)
	for i := range msgs {
		msgs[i] = message.New("BenchmarkTest", make([]byte, 128)).WithTags("TagA")
	}
	body, _ := message.AppendBatch(nil, msgs)
	fn := func(int32, []byte, []byte) error { return nil }
	b.ReportAllocs()
	for b.Loop() {
		if err := message.DecodeBatch(body, fn); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkOffsetMsgID(b *testing.B) {
	host := netip.MustParseAddrPort("10.0.0.5:10911")
	buf := make([]byte, 0, 64)
	b.ReportAllocs()
	for b.Loop() {
		buf = message.AppendOffsetMsgID(buf[:0], host, 123456789)
	}
}

// pull32Compressed is a 32-message pull body whose 4 KiB JSON bodies (the
// compression threshold) were compressed with ct, flagged as Java 5.x
// flags them.
func pull32Compressed(b *testing.B, ct message.CompressionType) (body []byte, plain int) {
	b.Helper()
	c := message.NewCodec()
	for i := range 32 {
		var sb strings.Builder
		for j := 0; sb.Len() < message.CompressThreshold; j++ {
			fmt.Fprintf(&sb, "{\"orderId\":\"order-%06d\",\"line\":%d,\"sku\":\"SKU-%04d\",\"qty\":%d,\"status\":\"PAID\"}\n", i, j, (i*31+j)%9973, j%7+1)
		}
		z, err := c.Compress(ct, []byte(sb.String()), 0)
		if err != nil {
			b.Fatal(err)
		}
		plain += sb.Len()
		body, err = message.AppendStored(body, &message.StoredMessage{
			QueueID: 3, QueueOffset: int64(5000 + i), PhysicalOffset: int64(1_000_000 + 4096*i),
			BornTimestamp: 1_700_000_000_000, BornHost: netip.MustParseAddrPort("192.168.0.10:53012"),
			StoreTimestamp: 1_700_000_000_001, StoreHost: netip.MustParseAddrPort("10.0.0.5:10911"),
			Body: z, Topic: "BenchmarkTest", SysFlag: ct.SysFlag(),
			Properties: "TAGS\x01TagA\x02UNIQ_KEY\x010A0102030000000000000000000000AB\x02",
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	return body, plain
}

// BenchmarkDecodePull32Compressed decodes a pull body of 32 compressed
// messages, with a codec built for each call (the default) and with one
// held across calls (WithCodec). SetBytes counts the inflated bytes.
func BenchmarkDecodePull32Compressed(b *testing.B) {
	for _, ct := range []message.CompressionType{message.CompressZlib, message.CompressLZ4, message.CompressZstd} {
		body, plain := pull32Compressed(b, ct)
		shared := message.NewCodec()
		for _, mode := range []string{"per-call", "shared-codec"} {
			var opts []message.DecodeOption
			if mode == "shared-codec" {
				opts = append(opts, message.WithCodec(shared))
			}
			b.Run(ct.String()+"/"+mode, func(b *testing.B) {
				b.ReportAllocs()
				b.SetBytes(int64(plain))
				for b.Loop() {
					msgs, err := message.DecodeMessages(body, opts...)
					if err != nil || len(msgs) != 32 || msgs[31].Err != nil || len(msgs[31].Body) < message.CompressThreshold {
						b.Fatal("bad decode", err)
					}
				}
			})
		}
	}
}

// BenchmarkCompress compresses one 4 KiB JSON body, as a producer does at
// the threshold, with a Codec held by the producer.
func BenchmarkCompress(b *testing.B) {
	var sb strings.Builder
	for j := 0; sb.Len() < message.CompressThreshold; j++ {
		fmt.Fprintf(&sb, "{\"orderId\":\"order-%06d\",\"line\":%d,\"sku\":\"SKU-%04d\",\"qty\":%d,\"status\":\"PAID\"}\n", 7, j, j%9973, j%7+1)
	}
	body := []byte(sb.String())
	c := message.NewCodec()
	for _, ct := range []message.CompressionType{message.CompressZlib, message.CompressLZ4, message.CompressZstd} {
		b.Run(ct.String(), func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(body)))
			for b.Loop() {
				if _, err := c.Compress(ct, body, 0); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
