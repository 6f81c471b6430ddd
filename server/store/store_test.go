package store

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/rocketgo/rocketgo/message"
)

func TestAppendReadRollover(t *testing.T) {
	dir := t.TempDir()
	s := mustOpen(t, smallConfig(dir))
	defer mustClose(t, s)
	const n = 1500 // ~150 KB over 64 KiB segments: several roll-overs
	var results []AppendResult
	for i := 0; i < n; i++ {
		r := mustAppend(t, s, newMsg("T", int32(i%3), body(i), "", ""))
		if want := int64(i / 3); r.QueueOffset != want {
			t.Fatalf("message %d: queue offset %d, want %d", i, r.QueueOffset, want)
		}
		if r.MsgCount != 1 || r.WroteBytes <= 0 || r.StoreTimestamp == 0 {
			t.Fatalf("bad result %+v", r)
		}
		results = append(results, r)
	}
	segs := s.cl.load().files
	if len(segs) < 3 {
		t.Fatalf("%d segments, want roll-over", len(segs))
	}
	for i, f := range segs {
		if f.base != int64(i)*s.cl.size || filepath.Base(f.path) != fmt.Sprintf("%020d", f.base) {
			t.Fatalf("segment %d named %s base %d", i, filepath.Base(f.path), f.base)
		}
	}
	// Every full segment must end with a blank marker exactly reaching its end.
	for i := 0; i+1 < len(segs); i++ {
		off := segs[i].base
		for {
			sz, err := recordAt(segs[i], off, true)
			if err != nil {
				t.Fatalf("segment %d at %d: %v", i, off, err)
			}
			if sz < 0 {
				break
			}
			off += int64(sz)
		}
	}
	for q := int32(0); q < 3; q++ {
		recs := readAll(t, s, "T", q)
		if len(recs) != n/3 {
			t.Fatalf("queue %d: %d records, want %d", q, len(recs), n/3)
		}
		for j, rec := range recs {
			i := j*3 + int(q)
			if !bytes.Equal(rec.Body, body(i)) || rec.QueueOffset != int64(j) || rec.QueueID != q ||
				rec.PhysicalOffset != results[i].PhysicalOffset || rec.StoreTimestamp != results[i].StoreTimestamp {
				t.Fatalf("queue %d record %d mismatch: %+v", q, j, rec)
			}
		}
	}
	// MessageAt returns the same bytes.
	r, err := s.MessageAt(results[700].PhysicalOffset)
	if err != nil {
		t.Fatal(err)
	}
	rec, err := message.ParseStored(r.Buffers[0], true)
	r.Release()
	if err != nil || !bytes.Equal(rec.Body, body(700)) {
		t.Fatalf("MessageAt: %v %q", err, rec.Body)
	}
	if _, err := s.MessageAt(s.MaxPhysicalOffset()); !errors.Is(err, ErrNotFound) {
		t.Fatalf("MessageAt(max) = %v, want ErrNotFound", err)
	}
	if _, err := s.MessageAt(results[700].PhysicalOffset + 1); !errors.Is(err, ErrNotFound) {
		t.Fatalf("MessageAt(mid-record) = %v, want ErrNotFound", err)
	}
}

func TestGetStatuses(t *testing.T) {
	dir := t.TempDir()
	s := mustOpen(t, smallConfig(dir))
	defer mustClose(t, s)
	get := func(topic string, q int32, off int64, filter func(int64) bool) (GetStatus, int64, int) {
		t.Helper()
		r, err := s.GetMessages(topic, q, off, 8, 1<<20, filter)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Release()
		return r.Status, r.NextBeginOffset, r.MsgCount
	}
	if st, next, _ := get("none", 0, 5, nil); st != NoMatchedLogicQueue || next != 0 {
		t.Fatalf("unknown queue: %v next %d", st, next)
	}
	// A prepared transaction message creates the queue but no entry.
	half := newMsg("tx", 0, []byte("half"), "", "")
	half.SysFlag = message.SysFlagTxPrepared
	if r := mustAppend(t, s, half); r.QueueOffset != 0 {
		t.Fatalf("prepared message got queue offset %d", r.QueueOffset)
	}
	if st, _, _ := get("tx", 0, 0, nil); st != NoMessageInQueue {
		t.Fatalf("empty queue: %v", st)
	}
	for i := 0; i < 10; i++ {
		mustAppend(t, s, newMsg("A", 0, body(i), "TagA", ""))
	}
	if st, next, n := get("A", 0, 0, nil); st != Found || next != 8 || n != 8 {
		t.Fatalf("found: %v next %d n %d", st, next, n)
	}
	if st, next, _ := get("A", 0, 10, nil); st != OffsetOverflowOne || next != 10 {
		t.Fatalf("overflow one: %v %d", st, next)
	}
	if st, next, _ := get("A", 0, 50, nil); st != OffsetOverflowBadly || next != 10 {
		t.Fatalf("overflow badly: %v %d", st, next)
	}
	if st, next, _ := get("A", 0, 2, func(int64) bool { return false }); st != NoMatchedMessage || next != 10 {
		t.Fatalf("no match: %v %d", st, next)
	}
	// OffsetTooSmall: move the queue minimum as retention would.
	s.queue("A", 0).min.Store(4)
	if st, next, _ := get("A", 0, 1, nil); st != OffsetTooSmall || next != 4 {
		t.Fatalf("too small: %v %d", st, next)
	}
	// MessageWasRemoving: entries whose log bytes are below the log minimum.
	s.queue("A", 0).min.Store(0)
	old := s.clMin.Load()
	s.clMin.Store(s.MaxPhysicalOffset())
	if st, _, _ := get("A", 0, 0, nil); st != MessageWasRemoving {
		t.Fatalf("removing: %v", st)
	}
	s.clMin.Store(old)
	// OffsetFoundNull: the entry's consume-queue file vanished.
	cq := s.queue("A", 0)
	saved := cq.files.load()
	cq.files.list.Store(&segmentList{})
	if st, next, _ := get("A", 0, 3, nil); st != OffsetFoundNull || next != 100 {
		t.Fatalf("found null: %v %d", st, next)
	}
	cq.files.list.Store(saved)
	// maxBytes: always at least one message, then stop before exceeding.
	r, err := s.GetMessages("A", 0, 0, 32, 1, nil)
	if err != nil || r.Status != Found || r.MsgCount != 1 || r.NextBeginOffset != 1 {
		t.Fatalf("maxBytes=1: %v %+v", err, r)
	}
	one := r.BufferTotalSize
	r.Release()
	r, _ = s.GetMessages("A", 0, 0, 32, 3*one, nil)
	if r.MsgCount != 3 {
		t.Fatalf("maxBytes=3 records: got %d", r.MsgCount)
	}
	r.Release()
	for st := Found; st <= NoMessageInQueue; st++ {
		if st.String() == "" || st.String()[0] == 'G' {
			t.Fatalf("status %d has no name", st)
		}
	}
}

func TestTagFilter(t *testing.T) {
	s := mustOpen(t, smallConfig(t.TempDir()))
	defer mustClose(t, s)
	tags := []string{"a", "b", "", "c", "日本"}
	for i := 0; i < 100; i++ {
		mustAppend(t, s, newMsg("F", 1, body(i), tags[i%len(tags)], ""))
	}
	want := map[int64]bool{message.TagsHashCode("b"): true, message.TagsHashCode("日本"): true}
	var got []int
	off := int64(0)
	for {
		r, err := s.GetMessages("F", 1, off, 7, 1<<20, func(c int64) bool { return want[c] })
		if err != nil {
			t.Fatal(err)
		}
		for _, b := range r.Buffers {
			rec, _ := message.ParseStored(b, true)
			tag, _ := message.LookupProperty(rec.Properties, propTags)
			if !want[message.TagsHashCode(string(tag))] {
				t.Fatalf("filter let tag %q through", tag)
			}
			got = append(got, int(rec.QueueOffset))
		}
		st, next := r.Status, r.NextBeginOffset
		r.Release()
		if st == OffsetOverflowOne {
			break
		}
		off = next
	}
	if len(got) != 40 {
		t.Fatalf("got %d matching messages, want 40", len(got))
	}
	for i, q := range got {
		if q%5 != 1 && q%5 != 4 || (i > 0 && q <= got[i-1]) {
			t.Fatalf("unexpected offsets %v", got)
		}
	}
}

func TestTagsCodeFuncAndArrival(t *testing.T) {
	type arrival struct {
		topic string
		q     int32
		off   int64
		code  int64
	}
	var mu sync.Mutex
	var seen []arrival
	var s *Store
	s = mustOpen(t, smallConfig(t.TempDir()),
		WithTagsCodeFunc(func(topic string, props []byte, ts, def int64) int64 {
			if topic == "SCHEDULE" {
				return ts + 1000
			}
			return def
		}),
		WithArrivalListener(func(topic string, q int32, off, code int64) {
			// The entry must already be readable when we are told.
			r, err := s.GetMessages(topic, q, off, 1, 1<<20, nil)
			if err != nil || r.Status != Found {
				t.Errorf("arrival for %s/%d@%d not readable: %v %v", topic, q, off, err, r.Status)
			}
			r.Release()
			mu.Lock()
			seen = append(seen, arrival{topic, q, off, code})
			mu.Unlock()
		}))
	defer mustClose(t, s)
	r1 := mustAppend(t, s, newMsg("SCHEDULE", 2, []byte("x"), "t", ""))
	mustAppend(t, s, newMsg("N", 0, []byte("y"), "t", ""))
	mu.Lock()
	defer mu.Unlock()
	if len(seen) != 2 || seen[0].code != r1.StoreTimestamp+1000 || seen[1].code != message.TagsHashCode("t") {
		t.Fatalf("arrivals %+v", seen)
	}
}

func TestAppendBatch(t *testing.T) {
	s := mustOpen(t, smallConfig(t.TempDir()))
	defer mustClose(t, s)
	mustAppend(t, s, newMsg("B", 0, []byte("first"), "", ""))
	var batch []*message.StoredMessage
	for i := 0; i < 5; i++ {
		batch = append(batch, newMsg("B", 0, body(i), "", ""))
	}
	r, err := s.AppendBatch(context.Background(), batch)
	if err != nil || r.QueueOffset != 1 || r.MsgCount != 5 {
		t.Fatalf("batch: %v %+v", err, r)
	}
	recs := readAll(t, s, "B", 0)
	if len(recs) != 6 {
		t.Fatalf("%d records", len(recs))
	}
	phy := r.PhysicalOffset
	for i, rec := range recs[1:] {
		if rec.QueueOffset != int64(i+1) || rec.PhysicalOffset != phy || !bytes.Equal(rec.Body, body(i)) {
			t.Fatalf("batch record %d: %+v", i, rec)
		}
		phy += int64(rec.TotalSize)
	}
	if int64(r.WroteBytes) != phy-r.PhysicalOffset {
		t.Fatalf("WroteBytes %d, want %d", r.WroteBytes, phy-r.PhysicalOffset)
	}
	mixed := []*message.StoredMessage{newMsg("B", 0, nil, "", ""), newMsg("B", 1, nil, "", "")}
	if _, err := s.AppendBatch(context.Background(), mixed); !errors.Is(err, ErrInvalidMessage) {
		t.Fatalf("mixed batch: %v", err)
	}
	if _, err := s.Append(context.Background(), newMsg("B", 0, make([]byte, 20<<10), "", "")); !errors.Is(err, ErrMessageTooBig) {
		t.Fatalf("oversized: %v", err)
	}
	if _, err := s.Append(context.Background(), newMsg("../x", 0, nil, "", "")); !errors.Is(err, ErrInvalidMessage) {
		t.Fatalf("bad topic: %v", err)
	}
}

func TestOffsetByTime(t *testing.T) {
	clk := &fakeClock{t: time.UnixMilli(1_000_000)}
	s := mustOpen(t, smallConfig(t.TempDir()), WithClock(clk.now))
	defer mustClose(t, s)
	// Message i is stored at 1,000,000 + 10*(i/2) ms: pairs share a time.
	for i := 0; i < 300; i++ {
		clk.set(time.UnixMilli(1_000_000 + int64(10*(i/2))))
		mustAppend(t, s, newMsg("TS", 0, body(i), "", ""))
	}
	cases := []struct{ ts, want int64 }{
		{0, 0}, {1_000_000, 0}, {1_000_001, 2}, {1_000_010, 2}, {1_000_500, 100},
		{1_001_490, 298}, {1_001_491, 300}, {9_999_999, 300},
	}
	for _, c := range cases {
		if got := s.OffsetByTime("TS", 0, c.ts); got != c.want {
			t.Errorf("OffsetByTime(%d) = %d, want %d", c.ts, got, c.want)
		}
	}
	if ts, err := s.EarliestStoreTime("TS", 0); err != nil || ts != 1_000_000 {
		t.Fatalf("EarliestStoreTime = %d, %v", ts, err)
	}
	if _, err := s.EarliestStoreTime("nope", 0); !errors.Is(err, ErrNotFound) {
		t.Fatalf("EarliestStoreTime(unknown) = %v", err)
	}
	if got := s.OffsetByTime("nope", 0, 5); got != 0 {
		t.Fatalf("unknown queue: %d", got)
	}
}

func TestQueryByKey(t *testing.T) {
	clk := &fakeClock{t: time.UnixMilli(5_000_000)}
	cfg := smallConfig(t.TempDir())
	s := mustOpen(t, cfg, WithClock(clk.now))
	// 500 messages over 200-entry index files: several files roll.
	for i := 0; i < 500; i++ {
		clk.set(time.UnixMilli(5_000_000 + int64(i)*1000))
		m := newMsg("K", int32(i%2), body(i), "", fmt.Sprintf("k%d common", i%50))
		if i%2 == 0 {
			m = newMsg("K2", 0, body(i), "", fmt.Sprintf("k%d", i%50)) // same key, other topic
		}
		mustAppend(t, s, m)
	}
	check := func(s *Store) {
		t.Helper()
		q, err := s.QueryByKey("K", "k7", 100, 0, 1<<62)
		if err != nil {
			t.Fatal(err)
		}
		if q.MsgCount != 10 || len(q.PhysicalOffsets) != 10 {
			t.Fatalf("k7: %d results", q.MsgCount)
		}
		for _, b := range q.Buffers {
			rec, err := message.ParseStored(b, true)
			if err != nil || string(rec.Topic) != "K" || !hasKey(rec.Properties, "k7") {
				t.Fatalf("bad result %v %s", err, rec.Topic)
			}
		}
		q.Release()
		q, _ = s.QueryByKey("K", "common", 7, 0, 1<<62)
		if q.MsgCount != 7 {
			t.Fatalf("limit: %d", q.MsgCount)
		}
		q.Release()
		// Time range: messages 100..199 (odd ones in topic K) → 50.
		q, _ = s.QueryByKey("K", "common", 1000, 5_100_000, 5_199_000)
		if q.MsgCount != 50 {
			t.Fatalf("time range: %d", q.MsgCount)
		}
		q.Release()
		q, _ = s.QueryByKey("K", "absent", 10, 0, 1<<62)
		if q.MsgCount != 0 || q.Status != NoMatchedMessage {
			t.Fatalf("absent: %d", q.MsgCount)
		}
		q.Release()
	}
	check(s)
	if n := len(s.ix.files); n < 3 {
		t.Fatalf("%d index files, want roll-over", n)
	}
	mustClose(t, s)
	s = mustOpen(t, cfg, WithClock(clk.now))
	defer mustClose(t, s)
	check(s)
}

func TestRetention(t *testing.T) {
	clk := &fakeClock{t: time.Date(2026, 1, 1, 1, 0, 0, 0, time.UTC)}
	var usage float64 = 0.10
	var umu sync.Mutex
	cfg := smallConfig(t.TempDir())
	cfg.FileReservedTime = time.Hour
	cfg.DeleteWhen = 2
	s := mustOpen(t, cfg, WithClock(clk.now), WithDiskUsageFunc(func(string) (float64, error) {
		umu.Lock()
		defer umu.Unlock()
		return usage, nil
	}))
	defer mustClose(t, s)
	var res []AppendResult
	for i := 0; i < 1200; i++ {
		if i == 600 {
			clk.set(clk.now().Add(30 * time.Minute))
		}
		res = append(res, mustAppend(t, s, newMsg("R", 0, body(i), "", fmt.Sprintf("key%d", i))))
	}
	segsBefore := len(s.cl.load().files)
	// 03:00 is not the delete hour and the disk is fine: nothing happens.
	clk.set(time.Date(2026, 1, 1, 3, 0, 0, 0, time.UTC))
	if n, _ := s.clean(false); n != 0 {
		t.Fatalf("deleted %d outside the delete hour", n)
	}
	// At 02:10, segments whose successor started before 01:10 are expired:
	// those written during the first half of the load (at 01:00).
	clk.set(time.Date(2026, 1, 1, 2, 10, 0, 0, time.UTC))
	n, err := s.clean(false)
	if err != nil || n == 0 || n >= segsBefore {
		t.Fatalf("clean deleted %d of %d (%v)", n, segsBefore, err)
	}
	minPhy := s.MinPhysicalOffset()
	if minPhy <= 0 || minPhy > res[600].PhysicalOffset {
		t.Fatalf("min physical offset %d, first late message at %d", minPhy, res[600].PhysicalOffset)
	}
	if _, err := os.Stat(filepath.Join(cfg.Dir, "commitlog", segmentName(0))); !os.IsNotExist(err) {
		t.Fatalf("first segment still on disk: %v", err)
	}
	if _, err := os.Stat(filepath.Join(cfg.Dir, "consumequeue", "R", "0", segmentName(0))); !os.IsNotExist(err) {
		t.Fatalf("first consume-queue file survived retention: %v", err)
	}
	if s.ix.files[0].hdr64(hdrBeginPhy) == 0 {
		t.Fatalf("first index file survived retention")
	}
	minQ := s.MinOffset("R", 0)
	if minQ == 0 || res[minQ].PhysicalOffset < minPhy || res[minQ-1].PhysicalOffset >= minPhy {
		t.Fatalf("queue min %d does not match log min %d", minQ, minPhy)
	}
	r, _ := s.GetMessages("R", 0, 0, 8, 1<<20, nil)
	if r.Status != OffsetTooSmall || r.NextBeginOffset != minQ {
		t.Fatalf("read below min: %v next %d", r.Status, r.NextBeginOffset)
	}
	r.Release()
	if recs := readAll(t, s, "R", 0); int64(len(recs)) != 1200-minQ {
		t.Fatalf("%d records remain, want %d", len(recs), 1200-minQ)
	}
	if _, err := s.MessageAt(res[0].PhysicalOffset); !errors.Is(err, ErrNotFound) {
		t.Fatalf("MessageAt(deleted) = %v", err)
	}
	q, _ := s.QueryByKey("R", "key1", 10, 0, 1<<62)
	if q.MsgCount != 0 {
		t.Fatalf("query found deleted message")
	}
	q.Release()
	// Space pressure deletes at once, whatever the hour and age, but never
	// the segment being written.
	clk.set(time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC))
	umu.Lock()
	usage = 0.80
	umu.Unlock()
	for {
		n, err := s.clean(false)
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			break
		}
	}
	if got := len(s.cl.load().files); got != 1 {
		t.Fatalf("%d segments left under space pressure", got)
	}
	mustAppend(t, s, newMsg("R", 0, []byte("after"), "", ""))
	recs := readAll(t, s, "R", 0)
	if len(recs) == 0 || string(recs[len(recs)-1].Body) != "after" {
		t.Fatalf("store unusable after retention")
	}
	// Critical usage refuses writes; back below, writes resume.
	umu.Lock()
	usage = 0.95
	umu.Unlock()
	s.clean(false)
	if _, err := s.Append(context.Background(), newMsg("R", 0, nil, "", "")); !errors.Is(err, ErrDiskFull) {
		t.Fatalf("append on full disk: %v", err)
	}
	umu.Lock()
	usage = 0.10
	umu.Unlock()
	s.clean(false)
	mustAppend(t, s, newMsg("R", 0, nil, "", ""))
}

func TestAllocationFailureLeavesLogIntact(t *testing.T) {
	cfg := smallConfig(t.TempDir())
	s := mustOpen(t, cfg)
	var fail bool
	var fmu sync.Mutex
	s.o.alloc = func(f *os.File, size int64) error {
		fmu.Lock()
		defer fmu.Unlock()
		if fail {
			return syscall.ENOSPC
		}
		return fallocate(f, size)
	}
	s.cl.alloc = s.o.alloc
	var last AppendResult
	i := 0
	for ; len(s.cl.load().files) < 2; i++ {
		last = mustAppend(t, s, newMsg("D", 0, body(i), "", ""))
	}
	fmu.Lock()
	fail = true
	fmu.Unlock()
	var err error
	for j := 0; j < 2000 && err == nil; j++ {
		_, err = s.Append(context.Background(), newMsg("D", 0, body(i), "", ""))
		if err == nil {
			i++
		}
	}
	if !errors.Is(err, ErrDiskFull) {
		t.Fatalf("want ErrDiskFull when a segment cannot be created, got %v", err)
	}
	end := s.MaxPhysicalOffset()
	_ = last
	fmu.Lock()
	fail = false
	fmu.Unlock()
	mustAppend(t, s, newMsg("D", 0, []byte("resumed"), "", ""))
	mustClose(t, s)
	s = mustOpen(t, cfg)
	defer mustClose(t, s)
	recs := readAll(t, s, "D", 0)
	if len(recs) != i+1 || string(recs[i].Body) != "resumed" || recs[i].PhysicalOffset < end {
		t.Fatalf("after disk-full episode: %d records (want %d)", len(recs), i+1)
	}
}

func TestSyncFlush(t *testing.T) {
	cfg := smallConfig(t.TempDir())
	cfg.FlushDiskType = SyncFlush
	s := mustOpen(t, cfg)
	defer mustClose(t, s)
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 50; i++ {
				r, err := s.Append(context.Background(), newMsg("S", int32(g), body(i), "", ""))
				if err != nil || r.Status != AppendOK {
					t.Errorf("sync append: %v %v", err, r.Status)
					return
				}
				if f := s.FlushedPhysicalOffset(); f < r.PhysicalOffset+int64(r.WroteBytes) {
					t.Errorf("acknowledged before flush: flushed %d, record ends %d", f, r.PhysicalOffset+int64(r.WroteBytes))
					return
				}
			}
		}(g)
	}
	wg.Wait()
	done := make(chan AppendResult, 1)
	s.AppendAsync(newMsg("S", 0, []byte("async"), "", ""), func(r AppendResult, err error) {
		if err != nil {
			t.Error(err)
		}
		if s.FlushedPhysicalOffset() < r.PhysicalOffset+int64(r.WroteBytes) {
			t.Error("AppendAsync callback before flush")
		}
		done <- r
	})
	<-done
}

func TestCleanReopenAndCrashRecoveryInProcess(t *testing.T) {
	cfg := smallConfig(t.TempDir())
	s := mustOpen(t, cfg)
	for i := 0; i < 800; i++ {
		mustAppend(t, s, newMsg("C", int32(i%4), body(i), "", fmt.Sprintf("c%d", i)))
	}
	end := s.MaxPhysicalOffset()
	mustClose(t, s)
	s = mustOpen(t, cfg)
	if s.MaxPhysicalOffset() != end || s.MaxOffset("C", 3) != 200 {
		t.Fatalf("clean reopen: end %d (want %d), max %d", s.MaxPhysicalOffset(), end, s.MaxOffset("C", 3))
	}
	for i := 800; i < 1000; i++ {
		mustAppend(t, s, newMsg("C", int32(i%4), body(i), "", ""))
	}
	mustClose(t, s)
	// Simulate a crash: restore the abort marker, tear the last record and
	// damage consume queues past the tail.
	os.WriteFile(filepath.Join(cfg.Dir, "abort"), nil, 0o644)
	segs, _ := filepath.Glob(filepath.Join(cfg.Dir, "commitlog", "*"))
	lastSeg := segs[len(segs)-1]
	f, _ := os.OpenFile(lastSeg, os.O_RDWR, 0)
	var base int64
	fmt.Sscanf(filepath.Base(lastSeg), "%d", &base)
	if end2 := end; end2 < 0 {
		t.Fatal()
	}
	f.WriteAt([]byte{0xde, 0xad, 0xbe, 0xef}, (mustEnd(t, cfg)-base)-10) // inside the last body
	f.Close()
	s = mustOpen(t, cfg)
	defer mustClose(t, s)
	total := 0
	for q := int32(0); q < 4; q++ {
		recs := readAll(t, s, "C", q)
		total += len(recs)
		for j, rec := range recs {
			if rec.QueueOffset != int64(j) {
				t.Fatalf("queue %d entry %d has offset %d", q, j, rec.QueueOffset)
			}
		}
	}
	if total != 999 {
		t.Fatalf("%d records after tearing the last one, want 999", total)
	}
	mustAppend(t, s, newMsg("C", 3, []byte("new"), "", ""))
	recs := readAll(t, s, "C", 3)
	if string(recs[len(recs)-1].Body) != "new" || recs[len(recs)-1].QueueOffset != int64(len(recs)-1) {
		t.Fatalf("append after recovery misplaced")
	}
}

// mustEnd finds the end of the log by walking it without the store.
func mustEnd(t *testing.T, cfg Config) int64 {
	t.Helper()
	end, _ := scanLogFiles(t, cfg)
	return end
}

// logEntry is one record as found by scanning the files directly.
type logEntry struct{ phy, size, qoff int64 }

// scanLogFiles walks the commit-log files directly and returns the end and,
// per queue, the records a consume queue must list (log-only transaction
// records excluded). It applies recovery's rules independently: a record is
// valid when it parses with its CRC, has a sane topic, queue id and
// properties, and continues its queue's offset sequence.
func scanLogFiles(t testing.TB, cfg Config) (int64, map[queueKey][]logEntry) {
	t.Helper()
	out := map[queueKey][]logEntry{}
	// Segment names only: a spare (spare.go) is not part of the log.
	segs, _ := filepath.Glob(filepath.Join(cfg.Dir, "commitlog", strings.Repeat("[0-9]", 20)))
	var off int64 = -1
	for _, p := range segs {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		var base int64
		fmt.Sscanf(filepath.Base(p), "%d", &base)
		if off >= 0 && base != off {
			return off, out
		}
		pos := int64(0)
		for {
			if message.IsBlank(data[pos:]) {
				off = base + int64(len(data))
				break
			}
			rec, err := message.ParseStored(data[pos:], true)
			if err != nil || rec.PhysicalOffset != base+pos || !validTopic(string(rec.Topic)) || !wellFormedProps(rec.Properties) || rec.QueueID < 0 ||
				rec.QueueOffset < 0 || rec.QueueOffset > maxQueueOffset ||
				pos+int64(rec.TotalSize)+blankLen > int64(len(data)) {
				return base + pos, out
			}
			tx := rec.SysFlag & message.SysFlagTxMask
			if tx != message.SysFlagTxPrepared && tx != message.SysFlagTxRollback {
				k := queueKey{string(rec.Topic), rec.QueueID}
				list := out[k]
				if len(list) > 0 {
					next := list[len(list)-1].qoff + 1
					if rec.QueueOffset > next || rec.QueueOffset < 0 {
						return base + pos, out
					}
					for len(list) > 0 && list[len(list)-1].qoff >= rec.QueueOffset {
						list = list[:len(list)-1]
					}
				}
				out[k] = append(list, logEntry{base + pos, int64(rec.TotalSize), rec.QueueOffset})
			}
			pos += int64(rec.TotalSize)
		}
	}
	return max(off, 0), out
}

// checkQueuesMatchLog asserts consume queues agree exactly with the log.
func checkQueuesMatchLog(t testing.TB, s *Store, cfg Config) int {
	t.Helper()
	_, want := scanLogFiles(t, cfg)
	total := 0
	for k, entries := range want {
		cq := s.queue(k.topic, k.id)
		if cq == nil {
			t.Fatalf("queue %v missing", k)
		}
		first := entries[0].qoff
		if cq.min.Load() != first || cq.max.Load() != first+int64(len(entries)) {
			t.Fatalf("queue %v: [%d, %d), log has %d from %d", k, cq.min.Load(), cq.max.Load(), len(entries), first)
		}
		for i, e := range entries {
			phy, size, _, ok := cq.lookup(first + int64(i))
			if !ok || phy != e.phy || int64(size) != e.size || e.qoff != first+int64(i) {
				t.Fatalf("queue %v entry %d = (%d,%d), log has %+v", k, i, phy, size, e)
			}
		}
		recs := readAll(t, s, k.topic, k.id)
		if len(recs) != len(entries) {
			t.Fatalf("queue %v: read %d of %d", k, len(recs), len(entries))
		}
		total += len(entries)
	}
	for k := range s.Topics() {
		for _, q := range s.Topics()[k] {
			if _, ok := want[queueKey{k, q}]; !ok && s.MaxOffset(k, q) != s.MinOffset(k, q) {
				t.Fatalf("queue %s/%d has entries the log does not", k, q)
			}
		}
	}
	return total
}

// TestPropertyRandomOps runs random appends, batches, reopen and simulated
// crashes against a model and checks every read against it.
func TestPropertyRandomOps(t *testing.T) {
	seed := time.Now().UnixNano()
	if v := os.Getenv("STORE_PROP_SEED"); v != "" {
		fmt.Sscanf(v, "%d", &seed)
	}
	rng := rand.New(rand.NewSource(seed))
	t.Logf("seed %d (set STORE_PROP_SEED to replay)", seed)
	cfg := smallConfig(t.TempDir())
	cfg.CommitLogSegmentSize = 32 << 10
	cfg.ConsumeQueueEntriesPerFile = 37
	cfg.MaxMessageSize = 8 << 10
	model := map[queueKey][][]byte{}
	s := mustOpen(t, cfg)
	for step := 0; step < 1500; step++ {
		k := queueKey{fmt.Sprintf("P%d", rng.Intn(3)), int32(rng.Intn(3))}
		switch op := rng.Intn(100); {
		case op < 70:
			b := make([]byte, rng.Intn(600))
			rng.Read(b)
			if rng.Intn(50) == 0 {
				b = make([]byte, 4000+rng.Intn(3000)) // large: forces blank markers
			}
			mustAppend(t, s, newMsg(k.topic, k.id, b, "t", ""))
			model[k] = append(model[k], b)
		case op < 90:
			var batch []*message.StoredMessage
			var bodies [][]byte
			for j := 0; j < 1+rng.Intn(6); j++ {
				b := []byte(fmt.Sprintf("batch-%d-%d", step, j))
				batch = append(batch, newMsg(k.topic, k.id, b, "", ""))
				bodies = append(bodies, b)
			}
			if _, err := s.AppendBatch(context.Background(), batch); err != nil {
				t.Fatal(err)
			}
			model[k] = append(model[k], bodies...)
		case op < 95:
			mustClose(t, s)
			s = mustOpen(t, cfg)
		default:
			// Crash without losing page-cache data: stop the goroutines,
			// keep the abort marker, reopen.
			s.stopForCrashTest()
			s = mustOpen(t, cfg)
		}
		if step%100 == 99 {
			for k, bodies := range model {
				recs := readAll(t, s, k.topic, k.id)
				if len(recs) != len(bodies) {
					t.Fatalf("step %d queue %v: %d records, model %d", step, k, len(recs), len(bodies))
				}
				for i := range recs {
					if !bytes.Equal(recs[i].Body, bodies[i]) || recs[i].QueueOffset != int64(i) {
						t.Fatalf("step %d queue %v record %d differs", step, k, i)
					}
				}
			}
		}
	}
	checkQueuesMatchLog(t, s, cfg)
	mustClose(t, s)
}

// stopForCrashTest abandons the store as a crash would: goroutines stop,
// nothing is flushed or checkpointed, the abort marker stays.
func (s *Store) stopForCrashTest() {
	s.appendMu.Lock()
	s.closed = true
	s.isClosed.Store(true)
	s.appendMu.Unlock()
	close(s.stop)
	s.wg.Wait()
	s.closeFiles()
}

func TestIndexUndo(t *testing.T) {
	dir := t.TempDir()
	ix := &indexService{dir: dir, slots: 7, entries: 50, alloc: fallocate}
	now := time.UnixMilli(1_000_000)
	for i := 0; i < 40; i++ {
		if err := ix.ensure(1, now); err != nil {
			t.Fatal(err)
		}
		ix.put(keyHash("t", []byte(fmt.Sprint(i%5))), int64(i*100), 1_000_000+int64(i)*1000)
	}
	ix.undoFrom(2000) // keep entries 0..19
	for k := 0; k < 5; k++ {
		offs, _, _ := ix.query("t", []byte(fmt.Sprint(k)), 100, 0, 1<<62)
		if len(offs) != 4 {
			t.Fatalf("key %d: %d hits after undo, want 4", k, len(offs))
		}
		for _, o := range offs {
			if o >= 2000 || (o/100)%5 != int64(k) {
				t.Fatalf("key %d: hit %d", k, o)
			}
		}
	}
	ix.close()
}

func TestCheckpointCorruptFallsBack(t *testing.T) {
	cfg := smallConfig(t.TempDir())
	s := mustOpen(t, cfg)
	for i := 0; i < 300; i++ {
		mustAppend(t, s, newMsg("Z", 0, body(i), "", ""))
	}
	mustClose(t, s)
	b, _ := os.ReadFile(filepath.Join(cfg.Dir, "checkpoint"))
	binary.BigEndian.PutUint64(b, 12345) // breaks the CRC
	os.WriteFile(filepath.Join(cfg.Dir, "checkpoint"), b, 0o644)
	s = mustOpen(t, cfg)
	defer mustClose(t, s)
	if n := checkQueuesMatchLog(t, s, cfg); n != 300 {
		t.Fatalf("%d records", n)
	}
}

func TestDeleteTopicAndClose(t *testing.T) {
	cfg := smallConfig(t.TempDir())
	s := mustOpen(t, cfg)
	for i := 0; i < 50; i++ {
		mustAppend(t, s, newMsg("gone", int32(i%2), body(i), "", ""))
		mustAppend(t, s, newMsg("kept", 0, body(i), "", ""))
	}
	r, _ := s.GetMessages("gone", 0, 0, 4, 1<<20, nil) // pinned across the delete
	if err := s.DeleteTopic("gone"); err != nil {
		t.Fatal(err)
	}
	if rec, err := message.ParseStored(r.Buffers[0], true); err != nil || !bytes.Equal(rec.Body, body(0)) {
		t.Fatalf("pinned slice damaged by DeleteTopic: %v", err)
	}
	r.Release()
	r, _ = s.GetMessages("gone", 0, 0, 4, 1<<20, nil)
	if r.Status != NoMatchedLogicQueue {
		t.Fatalf("deleted topic: %v", r.Status)
	}
	r.Release()
	if _, err := os.Stat(filepath.Join(cfg.Dir, "consumequeue", "gone")); !os.IsNotExist(err) {
		t.Fatalf("consume queue dir survives: %v", err)
	}
	if left, _ := filepath.Glob(filepath.Join(cfg.Dir, "consumequeue", ".*")); len(left) != 0 {
		t.Fatalf("tombstones left behind: %v", left)
	}
	// A new message for the deleted topic starts a fresh queue.
	if r := mustAppend(t, s, newMsg("gone", 0, []byte("again"), "", "")); r.QueueOffset != 0 {
		t.Fatalf("queue offset after delete %d", r.QueueOffset)
	}
	done := make(chan error, 1)
	s.AppendAsync(newMsg("kept", 0, []byte("async"), "", ""), func(r AppendResult, err error) { done <- err })
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	mustClose(t, s)
	if err := s.Close(context.Background()); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := s.Append(context.Background(), newMsg("kept", 0, nil, "", "")); !errors.Is(err, ErrClosed) {
		t.Fatalf("append after close: %v", err)
	}
	if _, err := s.GetMessages("kept", 0, 0, 1, 1, nil); !errors.Is(err, ErrClosed) {
		t.Fatalf("get after close: %v", err)
	}
	if _, err := os.Stat(filepath.Join(cfg.Dir, "abort")); !os.IsNotExist(err) {
		t.Fatalf("abort marker left after clean close")
	}
	s = mustOpen(t, cfg)
	defer mustClose(t, s)
	if n := len(readAll(t, s, "kept", 0)); n != 51 {
		t.Fatalf("kept: %d", n)
	}
	if n := len(readAll(t, s, "gone", 0)); n != 1 {
		t.Fatalf("gone after reopen: %d", n)
	}
}

func TestConcurrentAppendersAndReaders(t *testing.T) {
	cfg := smallConfig(t.TempDir())
	s := mustOpen(t, cfg)
	defer mustClose(t, s)
	var wg sync.WaitGroup
	const per = 300
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < per; i++ {
				if _, err := s.Append(context.Background(), newMsg("cc", int32(g%2), body(g*per+i), "", "")); err != nil {
					t.Error(err)
					return
				}
			}
		}(g)
	}
	stop := make(chan struct{})
	var rwg sync.WaitGroup
	rwg.Add(1)
	go func() { // readers tail the queue while appends run
		defer rwg.Done()
		off := int64(0)
		for {
			select {
			case <-stop:
				return
			default:
			}
			r, err := s.GetMessages("cc", 0, off, 16, 1<<20, nil)
			if err != nil {
				t.Error(err)
				return
			}
			for _, b := range r.Buffers {
				if rec, err := message.ParseStored(b, true); err != nil || rec.QueueOffset != off {
					t.Errorf("tail read at %d: %v", off, err)
				}
				off++
			}
			r.Release()
		}
	}()
	wg.Wait()
	close(stop)
	rwg.Wait()
	if got := len(readAll(t, s, "cc", 0)) + len(readAll(t, s, "cc", 1)); got != 4*per {
		t.Fatalf("%d messages", got)
	}
}

func TestConfigValidation(t *testing.T) {
	bad := []Config{
		{},
		{Dir: "x", CommitLogSegmentSize: 100},
		{Dir: "x", CommitLogSegmentSize: 1 << 20, MaxMessageSize: 2 << 20},
		{Dir: "x", DeleteWhen: 25},
		{Dir: "x", FlushDiskType: 7},
		{Dir: "x", ConsumeQueueEntriesPerFile: -1},
	}
	for i, c := range bad {
		if _, err := Open(c); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("config %d: %v, want ErrInvalidConfig", i, err)
		}
	}
	c, err := Config{Dir: "x"}.withDefaults()
	if err != nil || c.CommitLogSegmentSize != 1<<30 || c.ConsumeQueueEntriesPerFile != 300_000 ||
		c.FlushInterval != 500*time.Millisecond || c.SyncFlushTimeout != 5*time.Second ||
		c.IndexSlots != 5_000_000 || c.IndexEntries != 20_000_000 || c.FileReservedTime != 72*time.Hour ||
		c.DeleteWhen != 4 || c.DiskMaxUsedSpaceRatio != 75 || c.MaxMessageSize != 4<<20 || c.FlushDiskType != AsyncFlush {
		t.Fatalf("defaults: %+v %v", c, err)
	}
	if c, _ := (Config{Dir: "x", DeleteWhen: 24}).withDefaults(); c.DeleteWhen != 0 {
		t.Fatalf("DeleteWhen 24 should mean midnight, got %d", c.DeleteWhen)
	}
	if AsyncFlush.String() != "ASYNC_FLUSH" || SyncFlush.String() != "SYNC_FLUSH" || FlushDiskTimeout.String() != "FLUSH_DISK_TIMEOUT" {
		t.Fatal("names")
	}
}

// A hung fsync must not hang appenders: they get FLUSH_DISK_TIMEOUT once
// SyncFlushTimeout has passed, the store keeps the message, and appends
// after the disk recovers are acknowledged normally.
func TestSyncFlushHungDisk(t *testing.T) {
	cfg := smallConfig(t.TempDir())
	cfg.FlushDiskType = SyncFlush
	cfg.SyncFlushTimeout = 50 * time.Millisecond
	s := mustOpen(t, cfg)
	defer mustClose(t, s)
	hung, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	s.o.beforeSync = func() { // set before the first append wakes the flusher
		once.Do(func() { close(hung); <-release })
	}
	ctx := context.Background()
	type out struct {
		r   AppendResult
		err error
	}
	res := make(chan out, 3)
	for i := 0; i < 3; i++ {
		go func() {
			r, err := s.Append(ctx, newMsg("hung", 0, []byte("x"), "", ""))
			res <- out{r, err}
		}()
	}
	<-hung
	for i := 0; i < 3; i++ {
		select {
		case o := <-res:
			if o.err != nil || o.r.Status != FlushDiskTimeout {
				t.Fatalf("append %d during a hung flush: status %v, err %v", i, o.r.Status, o.err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("append still blocked long after SyncFlushTimeout")
		}
	}
	// The disk recovers. The append after it must be acknowledged normally;
	// its own fsync gets the default budget, so that a loaded machine's
	// slow (but working) fsync is not mistaken for a hung one.
	s.fmu.Lock()
	s.cfg.SyncFlushTimeout = DefaultSyncFlushTimeout
	s.fmu.Unlock()
	close(release)
	r, err := s.Append(ctx, newMsg("hung", 0, []byte("y"), "", ""))
	if err != nil || r.Status != AppendOK {
		t.Fatalf("append after recovery: status %v, err %v", r.Status, err)
	}
	if recs := readAll(t, s, "hung", 0); len(recs) != 4 {
		t.Fatalf("want 4 stored messages, got %d", len(recs))
	}
}

func TestSyncFlushTimeoutStatus(t *testing.T) {
	cfg := smallConfig(t.TempDir())
	cfg.FlushDiskType = SyncFlush
	cfg.SyncFlushTimeout = time.Nanosecond // every flush is "late"
	s := mustOpen(t, cfg)
	defer mustClose(t, s)
	r, err := s.Append(context.Background(), newMsg("late", 0, []byte("x"), "", ""))
	if err != nil || r.Status != FlushDiskTimeout {
		t.Fatalf("want FlushDiskTimeout status without error, got %v %v", r.Status, err)
	}
	if recs := readAll(t, s, "late", 0); len(recs) != 1 {
		t.Fatal("timed-out message must still be stored")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	cfg2 := smallConfig(t.TempDir())
	cfg2.FlushDiskType = SyncFlush
	s2 := mustOpen(t, cfg2)
	defer mustClose(t, s2)
	if _, err := s2.Append(ctx, newMsg("c", 0, nil, "", "")); err != nil && !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled wait: %v", err)
	}
}

func TestDeleteExpiredFilesManual(t *testing.T) {
	clk := &fakeClock{t: time.Date(2026, 1, 1, 10, 0, 0, 0, time.UTC)}
	cfg := smallConfig(t.TempDir())
	cfg.FileReservedTime = time.Hour
	s := mustOpen(t, cfg, WithClock(clk.now), WithDiskUsageFunc(func(string) (float64, error) { return 0.1, nil }))
	defer mustClose(t, s)
	for i := 0; i < 1000; i++ {
		mustAppend(t, s, newMsg("M", 0, body(i), "", ""))
	}
	if n, err := s.DeleteExpiredFiles(context.Background(), true); err != nil || n != 0 {
		t.Fatalf("nothing is expired yet: %d %v", n, err)
	}
	clk.set(clk.now().Add(2 * time.Hour)) // 12:00, not the delete hour
	if n, _ := s.DeleteExpiredFiles(context.Background(), false); n != 0 {
		t.Fatalf("deleted %d outside the hour without force", n)
	}
	n, err := s.DeleteExpiredFiles(context.Background(), true)
	if err != nil || n != len(s.cl.load().files)+n-1 || n == 0 {
		t.Fatalf("forced delete: %d %v", n, err)
	}
	if got := s.Stats(); got.GroupCommits != 0 {
		t.Fatalf("async store counted group commits: %+v", got)
	}
}

// A crash between creating the newest index file and reserving its blocks
// leaves an empty file; opening the store must not take it for a layout
// mismatch (SIGKILL test found it).
func TestEmptyNewestIndexFileIsDropped(t *testing.T) {
	cfg := smallConfig(t.TempDir())
	s := mustOpen(t, cfg)
	for i := 0; i < 50; i++ {
		mustAppend(t, s, newMsg("K", 0, body(i), "", fmt.Sprintf("key-%d", i)))
	}
	mustClose(t, s)
	empty := filepath.Join(cfg.Dir, "index", "29991231235959999")
	if err := os.WriteFile(empty, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	s = mustOpen(t, cfg)
	defer mustClose(t, s)
	if _, err := os.Stat(empty); !os.IsNotExist(err) {
		t.Fatalf("empty index file kept: %v", err)
	}
	res, err := s.QueryByKey("K", "key-7", 10, 0, time.Now().Add(time.Hour).UnixMilli())
	if err != nil {
		t.Fatal(err)
	}
	defer res.Release()
	if res.MsgCount != 1 {
		t.Fatalf("query after reopen found %d messages", res.MsgCount)
	}
}

func TestGetMatchingFiltersOnProperties(t *testing.T) {
	s := mustOpen(t, smallConfig(t.TempDir()))
	defer mustClose(t, s)
	for i := 0; i < 40; i++ {
		m := newMsg("P", 0, body(i), "tagA", "")
		m.Properties = string(message.AppendProperty([]byte(m.Properties), "n", strconv.Itoa(i)))
		mustAppend(t, s, m)
	}
	even := func(props []byte) bool {
		v, ok := message.LookupProperty(props, "n")
		n, _ := strconv.Atoi(string(v))
		return ok && n%2 == 0
	}
	var got []int
	for off := int64(0); off < 40; {
		r, err := s.GetMatching("P", 0, off, 8, 1<<20, Filter{TagsCode: func(int64) bool { return true }, Properties: even})
		if err != nil {
			t.Fatal(err)
		}
		if r.Status != Found {
			t.Fatalf("read at %d: %v", off, r.Status)
		}
		for _, b := range r.Buffers {
			rec, _ := message.ParseStored(b, true)
			v, _ := message.LookupProperty(rec.Properties, "n")
			n, _ := strconv.Atoi(string(v))
			got = append(got, n)
		}
		off = r.NextBeginOffset
		r.Release()
	}
	if len(got) != 20 || got[0] != 0 || got[19] != 38 {
		t.Fatalf("want the 20 even messages in order, got %v", got)
	}
	// Nothing matching: the read says so and moves past what it scanned.
	r, err := s.GetMatching("P", 0, 0, 8, 1<<20, Filter{Properties: func([]byte) bool { return false }})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Release()
	if r.Status != NoMatchedMessage || r.NextBeginOffset != 40 || r.MsgCount != 0 {
		t.Fatalf("no match: status %v next %d count %d", r.Status, r.NextBeginOffset, r.MsgCount)
	}
}

// TestWideIndexTopic: a message of a WideIndexTopics topic is found by its
// 100th key, one of an ordinary topic only by its first 32 (UNIQ_KEY
// included); both still hold after a restart.
func TestWideIndexTopic(t *testing.T) {
	dir := t.TempDir()
	cfg := smallConfig(dir)
	cfg.WideIndexTopics = []string{"TRACE"}
	keys := make([]string, 100)
	for i := range keys {
		keys[i] = fmt.Sprintf("id%03d", i)
	}
	found := func(s *Store, topic, key string) bool {
		t.Helper()
		q, err := s.QueryByKey(topic, key, 4, 0, 1<<62)
		if err != nil {
			t.Fatal(err)
		}
		defer q.Release()
		return q.MsgCount == 1
	}
	check := func(s *Store) {
		t.Helper()
		if !found(s, "TRACE", "id099") || !found(s, "TRACE", "id000") {
			t.Fatal("wide topic: key not indexed")
		}
		if !found(s, "PLAIN", "id030") || found(s, "PLAIN", "id031") || found(s, "PLAIN", "id099") {
			t.Fatal("plain topic: want exactly the first 32 keys (31 KEYS tokens after UNIQ_KEY) indexed")
		}
	}
	s := mustOpen(t, cfg)
	for _, topic := range []string{"TRACE", "PLAIN"} {
		m := newMsg(topic, 0, []byte("x"), "", strings.Join(keys, " "))
		m.Properties = string(message.AppendProperty([]byte(m.Properties), "UNIQ_KEY", "U-"+topic))
		mustAppend(t, s, m)
	}
	check(s)
	mustClose(t, s)
	s = mustOpen(t, cfg)
	defer mustClose(t, s)
	check(s)
}

// Without WithClock an append's store time is the wall-clock time it took
// the commit-log lock at (one clock read serves both).
func TestStoreTimestampIsWallClock(t *testing.T) {
	s := mustOpen(t, smallConfig(t.TempDir()))
	defer mustClose(t, s)
	before := time.Now().UnixMilli()
	r := mustAppend(t, s, newMsg("W", 0, []byte("x"), "", ""))
	after := time.Now().UnixMilli()
	if r.StoreTimestamp < before || r.StoreTimestamp > after {
		t.Fatalf("store timestamp %d outside [%d, %d]", r.StoreTimestamp, before, after)
	}
	if !s.o.wallClock {
		t.Fatal("default store does not know its clock is the wall clock")
	}
	if s2 := mustOpen(t, smallConfig(t.TempDir()), WithClock(func() time.Time { return time.UnixMilli(42) })); s2.o.wallClock {
		mustClose(t, s2)
		t.Fatal("WithClock store treated as wall clock")
	} else {
		if r := mustAppend(t, s2, newMsg("W", 0, []byte("x"), "", "")); r.StoreTimestamp != 42 {
			t.Fatalf("WithClock store timestamp %d, want 42", r.StoreTimestamp)
		}
		mustClose(t, s2)
	}
}
