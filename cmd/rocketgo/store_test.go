package main

import (
	"bytes"
	"context"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rocketgo/rocketgo/message"
	"github.com/rocketgo/rocketgo/server/store"
)

func TestStoreCheckFindsAndRepairsDamage(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "store") // the nested layout of older brokers: -data ROOT finds it
	cfg := store.Config{Dir: dir, CommitLogSegmentSize: 64 << 10, ConsumeQueueEntriesPerFile: 100, IndexSlots: 100, IndexEntries: 400}
	s, err := store.Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	host := netip.MustParseAddrPort("127.0.0.1:10911")
	var mid store.AppendResult
	for i := range 50 {
		r, err := s.Append(context.Background(), &message.StoredMessage{Topic: "T", QueueID: int32(i % 2),
			Body: []byte(fmt.Sprintf("body-%d", i)), BornHost: host, StoreHost: host})
		if err != nil {
			t.Fatal(err)
		}
		if i == 20 {
			mid = r
		}
	}
	if err := s.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	check := func(args ...string) (int, string) {
		var out, errOut bytes.Buffer
		code := run(context.Background(), append([]string{"store", "check", "-data", root}, args...), &out, &errOut)
		return code, out.String() + errOut.String()
	}
	if code, out := check(); code != checkOK || !strings.Contains(out, "OK") || !strings.Contains(out, "50 records") {
		t.Fatalf("intact store: exit %d\n%s", code, out)
	}
	// Flip a body byte of a record in the middle of the log.
	seg := filepath.Join(dir, "commitlog", fmt.Sprintf("%020d", 0))
	b, _ := os.ReadFile(seg)
	b[mid.PhysicalOffset+88+2] ^= 1 // inside "body-20": the body starts 88 bytes in
	os.WriteFile(seg, b, 0o644)
	code, out := check()
	if code != checkDamaged || !strings.Contains(out, "bad-record") || !strings.Contains(out, fmt.Sprint("bad-record at ", mid.PhysicalOffset)) {
		t.Fatalf("damaged store: exit %d\n%s", code, out)
	}
	if code, out := check("-repair"); code != checkOK || !strings.Contains(out, "repairing") || !strings.Contains(out, "1 quarantined") {
		t.Fatalf("repair: exit %d\n%s", code, out)
	}
	if code, out := check(); code != checkOK {
		t.Fatalf("after repair: exit %d\n%s", code, out)
	}
	if code, out := check("-bogus"); code != checkUsage {
		t.Fatalf("bad flag: exit %d\n%s", code, out)
	}
	var out2, err2 bytes.Buffer
	if code := run(context.Background(), []string{"store"}, &out2, &err2); code != checkUsage {
		t.Fatalf("no subcommand: exit %d", code)
	}
	if code, _ := runIn(t, filepath.Join(root, "missing")); code != checkFailed {
		t.Fatalf("missing store: exit %d", code)
	}
}

func runIn(t *testing.T, dir string) (int, string) {
	var out bytes.Buffer
	code := run(context.Background(), []string{"store", "check", "-data", dir}, &out, &out)
	return code, out.String()
}
