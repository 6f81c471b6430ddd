//go:build !race

// Storage integrity seen through the official Go client v2.1.2: a broker
// stopped cleanly, its store damaged while it is down, restarted. Race-free
// pass only (the official client races internally).

package embedded_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"testing"
	"time"

	rocketmq "github.com/apache/rocketmq-client-go/v2"
	"github.com/apache/rocketmq-client-go/v2/primitive"
	"github.com/apache/rocketmq-client-go/v2/producer"
	"github.com/apache/rocketmq-client-go/v2/rlog"

	"github.com/rocketgo/rocketgo/message"
	"github.com/rocketgo/rocketgo/server/broker"
	"github.com/rocketgo/rocketgo/server/embedded"
)

// TestOfficialConsumerAfterDamagedStore: the last record of the newest
// commit-log file has its second half zeroed, or the file is truncated in
// the middle of it, and a record in the middle of
// the log a flipped body byte. A fresh official push consumer must get
// every other message exactly once and neither damaged one, and the broker
// must take new sends.
func TestOfficialConsumerAfterDamagedStore(t *testing.T) {
	t.Run("zeroed-half-tail", func(t *testing.T) { testOfficialAfterDamage(t, false) })
	t.Run("truncated-tail", func(t *testing.T) { testOfficialAfterDamage(t, true) })
}

func testOfficialAfterDamage(t *testing.T, truncate bool) {
	rlog.SetLogLevel("fatal")
	dir := t.TempDir()
	cfg := embedded.SmallConfig(dir)
	topic, sent := "IntegrityOfficial", 400

	srv := startLocal(t, cfg)
	p := newOfficialProducer(t, srv, "integrity-pg", false)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for i := range sent {
		if _, err := p.SendSync(ctx, primitive.NewMessage(topic, []byte(fmt.Sprintf("m-%d", i)))); err != nil {
			t.Fatalf("send %d: %v", i, err)
		}
	}
	p.Shutdown()
	if err := srv.Shutdown(ctx); err != nil {
		t.Fatalf("clean shutdown: %v", err)
	}

	recs := topicRecords(t, filepath.Join(dir, "commitlog"), topic)
	if len(recs) != sent {
		t.Fatalf("found %d records of %s in the log, sent %d", len(recs), topic, sent)
	}
	last, mid := recs[len(recs)-1], recs[len(recs)/2]
	if truncate {
		base := last.off - last.off%cfg.MappedFileSizeCommitLog
		if err := os.Truncate(filepath.Join(dir, "commitlog", fmt.Sprintf("%020d", base)), last.off-base+int64(last.size)/2); err != nil {
			t.Fatal(err)
		}
	} else {
		patchLog(t, dir, cfg.MappedFileSizeCommitLog, last.off+int64(last.size)/2, make([]byte, last.size-last.size/2))
	}
	patchLog(t, dir, cfg.MappedFileSizeCommitLog, mid.bodyAt, []byte{mid.body[0] ^ 0x20})
	damaged := map[string]bool{last.body: true, mid.body: true}

	srv = startLocal(t, cfg)
	defer srv.Shutdown(context.Background())
	waitRoute(t, srv, topic)
	_, col := officialConsumer(t, srv, "integrity-cg", "i1", topic, "*")
	// New sends after the restart, one per queue: each arrives after every
	// older message of its queue was pulled.
	p = newOfficialProducer(t, srv, "integrity-pg2", true)
	defer p.Shutdown()
	for q := range 4 {
		m := primitive.NewMessage(topic, []byte(fmt.Sprintf("after-%d", q)))
		m.Queue = &primitive.MessageQueue{Topic: topic, BrokerName: srv.Broker().Config().BrokerName, QueueId: q}
		if _, err := p.SendSync(ctx, m); err != nil {
			t.Fatalf("send after restart: %v", err)
		}
	}
	want := sent - len(damaged) + 4
	col.waitFor(t, want, 60*time.Second)
	got := col.bodies()
	for i := range sent {
		b := fmt.Sprintf("m-%d", i)
		switch {
		case damaged[b] && got[b] != 0:
			t.Errorf("damaged message %s was delivered", b)
		case !damaged[b] && got[b] != 1:
			t.Errorf("intact message %s delivered %d times", b, got[b])
		}
	}
	for q := range 4 {
		if b := fmt.Sprintf("after-%d", q); got[b] != 1 {
			t.Errorf("message %s sent after the restart delivered %d times", b, got[b])
		}
	}
	expected := map[string]bool{}
	for i := range sent {
		expected[fmt.Sprintf("m-%d", i)] = true
	}
	for q := range 4 {
		expected[fmt.Sprintf("after-%d", q)] = true
	}
	intact, after := 0, 0
	for b, n := range got {
		switch {
		case !expected[b] || damaged[b]:
			t.Errorf("delivered a message that was not stored intact: %q (%d times)", b, n)
		case len(b) > 6 && b[:6] == "after-":
			after += n
		default:
			intact += n
		}
	}
	if n := col.n.Load(); n != int64(want) {
		t.Errorf("%d deliveries, want %d", n, want)
	}
	t.Logf("stored %d, damaged 2 (tail record, mid-log body byte); delivered %d of %d intact, %d of 4 sent after the restart, %d damaged",
		sent, intact, sent-2, after, len(got)-intact-after)
}

func startLocal(t *testing.T, cfg broker.Config) *embedded.Server {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	srv, err := embedded.StartLocal(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return srv
}

// newOfficialProducer starts a producer the test shuts down itself; with
// manual, each message names its queue.
func newOfficialProducer(t *testing.T, srv *embedded.Server, group string, manual bool) rocketmq.Producer {
	t.Helper()
	opts := []producer.Option{
		producer.WithNsResolver(primitive.NewPassthroughResolver([]string{srv.NamesrvAddr()})),
		producer.WithGroupName(group),
		producer.WithInstanceName(group),
	}
	if manual {
		opts = append(opts, producer.WithQueueSelector(producer.NewManualQueueSelector()))
	}
	p, err := rocketmq.NewProducer(opts...)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	return p
}

// loggedRecord is a record found by walking the commit-log files.
type loggedRecord struct {
	off    int64
	size   int32
	body   string
	bodyAt int64 // commit-log offset of the body's first byte
}

// topicRecords walks the commit-log files in dir and returns topic's
// records in log order.
func topicRecords(t *testing.T, dir, topic string) []loggedRecord {
	t.Helper()
	names, err := filepath.Glob(filepath.Join(dir, "*"))
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(names)
	var out []loggedRecord
	for _, name := range names {
		data, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		var base int64
		fmt.Sscanf(filepath.Base(name), "%d", &base)
		for pos := 0; pos+8 <= len(data) && !message.IsBlank(data[pos:]); {
			rec, err := message.ParseStored(data[pos:], true)
			if err != nil {
				break
			}
			if string(rec.Topic) == topic {
				bodyAt := base + int64(pos) + int64(len(data[pos:pos+int(rec.TotalSize)])) - int64(len(rec.Body)) - int64(len(rec.Topic)) - 1 - 2 - int64(len(rec.Properties))
				out = append(out, loggedRecord{base + int64(pos), rec.TotalSize, string(rec.Body), bodyAt})
			}
			pos += int(rec.TotalSize)
		}
	}
	return out
}

// patchLog overwrites commit-log bytes at offset off.
func patchLog(t *testing.T, root string, segSize, off int64, b []byte) {
	t.Helper()
	base := off - off%segSize
	f, err := os.OpenFile(filepath.Join(root, "commitlog", fmt.Sprintf("%020d", base)), os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteAt(b, off-base); err != nil {
		t.Fatal(err)
	}
}
