package store

import (
	"context"
	"fmt"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/rocketgo/rocketgo/message"
)

var (
	testBorn  = netip.MustParseAddrPort("10.0.0.1:5000")
	testStore = netip.MustParseAddrPort("10.0.0.2:10911")
)

// newMsg builds a message; tags and keys are optional ("" means none).
func newMsg(topic string, qid int32, body []byte, tags, keys string) *message.StoredMessage {
	var props []byte
	if tags != "" {
		props = message.AppendProperty(props, propTags, tags)
	}
	if keys != "" {
		props = message.AppendProperty(props, propKeys, keys)
	}
	return &message.StoredMessage{
		Topic: topic, QueueID: qid, Body: body, BornTimestamp: 1,
		BornHost: testBorn, StoreHost: testStore, Properties: string(props),
	}
}

// fakeClock is a settable clock for timestamp and retention tests.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) set(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}

func smallConfig(dir string) Config {
	return Config{
		Dir:                        dir,
		CommitLogSegmentSize:       64 << 10,
		ConsumeQueueEntriesPerFile: 100,
		MaxMessageSize:             16 << 10,
		IndexSlots:                 64,
		IndexEntries:               200,
		FlushInterval:              10 * time.Millisecond,
		CheckpointInterval:         20 * time.Millisecond,
		CleanInterval:              time.Hour, // tests call clean() directly
	}
}

func mustOpen(t testing.TB, cfg Config, opts ...Option) *Store {
	t.Helper()
	s, err := Open(cfg, opts...)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return s
}

func mustClose(t testing.TB, s *Store) {
	t.Helper()
	if err := s.Close(context.Background()); err != nil {
		t.Fatalf("Close: %v", err)
	}
}

func mustAppend(t testing.TB, s *Store, m *message.StoredMessage) AppendResult {
	t.Helper()
	r, err := s.Append(context.Background(), m)
	if err != nil {
		t.Fatalf("Append: %v", err)
	}
	return r
}

// readAll pulls a queue from min to max and parses every record.
func readAll(t testing.TB, s *Store, topic string, qid int32) []message.StoredRecord {
	t.Helper()
	var out []message.StoredRecord
	off := s.MinOffset(topic, qid)
	for {
		r, err := s.GetMessages(topic, qid, off, 32, 1<<20, nil)
		if err != nil {
			t.Fatalf("GetMessages: %v", err)
		}
		if r.Status != Found {
			st, next := r.Status, r.NextBeginOffset
			r.Release()
			if st == OffsetOverflowOne || st == NoMessageInQueue || st == NoMatchedLogicQueue {
				return out
			}
			if next <= off {
				t.Fatalf("read %s/%d at %d: status %v, next %d", topic, qid, off, st, next)
			}
			off = next
			continue
		}
		for _, b := range r.Buffers {
			rec, err := message.ParseStored(b, true)
			if err != nil {
				t.Fatalf("record at queue offset ~%d: %v", off, err)
			}
			// Copy out: the slices die with Release.
			rec.Body = append([]byte(nil), rec.Body...)
			rec.Topic = append([]byte(nil), rec.Topic...)
			rec.Properties = append([]byte(nil), rec.Properties...)
			out = append(out, rec)
		}
		off = r.NextBeginOffset
		r.Release()
	}
}

func body(i int) []byte {
	return []byte(fmt.Sprintf("body-%08d-%s", i, "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"))
}
