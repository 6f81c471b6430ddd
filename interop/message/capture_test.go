package message_test

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/rocketmq-client-go/v2/primitive"

	"github.com/rocketgo/rocketgo/message"
)

// TestCaptureFuzzCorpus regenerates the seed corpus under the root module's
// message/testdata/fuzz from
// the official client's encoder (batch bodies) and from AppendStored (pull
// bodies). It only runs with ROCKETGO_CAPTURE=1 because it writes files.
func TestCaptureFuzzCorpus(t *testing.T) {
	if os.Getenv("ROCKETGO_CAPTURE") != "1" {
		t.Skip("set ROCKETGO_CAPTURE=1 to rewrite testdata/fuzz seeds")
	}
	write := func(target, name string, b []byte) {
		dir := filepath.Join("..", "..", "message", "testdata", "fuzz", target)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		content := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", b)
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}

	_, batch := officialBatch()
	write("FuzzDecodeBatch", "official_batch_5", batch)
	single := primitive.NewMessage("TopicTest", []byte("single"))
	single.WithTag("TagA")
	single.WithProperty(primitive.PropertyUniqueClientMessageIdKeyIndex, primitive.CreateUniqID())
	write("FuzzDecodeBatch", "official_single", single.Marshal())
	empty := primitive.NewMessage("TopicTest", nil)
	write("FuzzDecodeBatch", "official_empty_body_no_props", empty.Marshal())

	var pull []byte
	for _, c := range pullCases(t) {
		var err error
		if pull, err = message.AppendStored(pull, c.stored); err != nil {
			t.Fatal(err)
		}
	}
	write("FuzzDecodeMessages", "stored_pull_4_with_compressed", pull)
	v6, err := message.AppendStored(nil, &message.StoredMessage{
		Topic: "TopicV6", Body: []byte("v6 body"), Properties: "TAGS\x01A\x02",
		BornHost:  netip.MustParseAddrPort("[2001:db8::1]:1234"),
		StoreHost: netip.MustParseAddrPort("[2001:db8::2]:10911"),
	})
	if err != nil {
		t.Fatal(err)
	}
	write("FuzzDecodeMessages", "stored_ipv6_hosts", v6)
	v2, err := message.AppendStored(nil, &message.StoredMessage{
		Topic: strings.Repeat("T", 200), Body: []byte("magic v2"),
		BornHost: netip.MustParseAddrPort("1.2.3.4:5"), StoreHost: netip.MustParseAddrPort("6.7.8.9:10"),
	})
	if err != nil {
		t.Fatal(err)
	}
	write("FuzzDecodeMessages", "stored_magic_v2_long_topic", v2)
}
