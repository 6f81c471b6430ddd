package loadtest

import (
	"bytes"
	"context"
	"encoding/binary"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/rocketgo/rocketgo/message"
)

// TestCompressOverReachesTheStore checks what the broker stores: with the
// default threshold, 16 KiB loadtest bodies (zeros after the stamp) are
// zlib-compressed and stored small; with CompressOver < 0 they are sent and
// stored whole, as a tool sending raw bodies does.
func TestCompressOverReachesTheStore(t *testing.T) {
	// startEmbedded makes its directory with os.MkdirTemp: keep it where
	// the test can find the commit log.
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	srv, cleanup, err := startEmbedded(ctx, Config{Queues: DefaultQueues})
	if err != nil {
		t.Fatal(err)
	}
	defer cleanup()
	const size, n = 16 << 10, 20
	run := func(compressOver int) (compressed, whole int) {
		t.Helper()
		var out bytes.Buffer
		res, err := Run(ctx, Config{NameServer: srv.NamesrvAddr(), Mode: ModeProduce, CreateTopic: true,
			MessageSize: size, Messages: n, Senders: 2, CompressOver: compressOver, Out: &out})
		if err != nil || res.Failed || res.Sent != n {
			t.Fatalf("run: %v %+v\n%s", err, res, out.String())
		}
		if want := map[bool]int{true: 0, false: DefaultCompressOver}[compressOver < 0]; res.CompressOver != want {
			t.Errorf("Result.CompressOver %d, want %d", res.CompressOver, want)
		}
		logs, _ := filepath.Glob(filepath.Join(tmp, "rocketgo-loadtest-*", "commitlog", "*"))
		if len(logs) != 1 {
			t.Fatalf("commit log files %v", logs)
		}
		b, err := os.ReadFile(logs[0])
		if err != nil {
			t.Fatal(err)
		}
		for off := 0; off+message.OffSysFlag+4 <= len(b); {
			total := int(binary.BigEndian.Uint32(b[off:]))
			magic := binary.BigEndian.Uint32(b[off+message.OffMagic:])
			if total == 0 || (magic != message.MagicV1 && magic != message.MagicV2) {
				break
			}
			if int32(binary.BigEndian.Uint32(b[off+message.OffSysFlag:]))&message.SysFlagCompressed != 0 {
				compressed++
			}
			if total > size {
				whole++
			}
			off += total
		}
		return compressed, whole
	}
	if c, w := run(0); c != n || w != 0 {
		t.Errorf("default threshold: %d compressed, %d stored whole; want %d, 0", c, w, n)
	}
	// Counts are cumulative over the log: the second run adds n whole.
	if c, w := run(-1); c != n || w != n {
		t.Errorf("compression off: %d compressed, %d stored whole in total; want %d, %d", c, w, n, n)
	}
}
