package store

import (
	"context"
	"errors"
	"fmt"
	"testing"
)

func TestTruncateDropsTheTailEverywhere(t *testing.T) {
	dir := t.TempDir()
	cfg := smallConfig(dir)
	s := mustOpen(t, cfg)
	var ends []int64
	for i := range 600 { // several segments, several consume-queue files
		r := mustAppend(t, s, newMsg("T", int32(i%2), body(i), "", fmt.Sprintf("k%d", i)))
		ends = append(ends, r.PhysicalOffset+int64(r.WroteBytes))
	}
	cut := ends[299] // keep messages 0..299
	if err := s.Truncate(cut + 1); !errors.Is(err, ErrBadTruncation) {
		t.Fatalf("a cut inside a record: %v", err)
	}
	if err := s.Truncate(cut); err != nil {
		t.Fatal(err)
	}
	if got := s.MaxPhysicalOffset(); got != cut {
		t.Fatalf("log ends at %d, want %d", got, cut)
	}
	for q := int32(0); q < 2; q++ {
		if got := s.MaxOffset("T", q); got != 150 {
			t.Fatalf("queue %d max %d, want 150", q, got)
		}
	}
	for key, want := range map[string]int{"k450": 0, "k10": 1} {
		q, err := s.QueryByKey("T", key, 10, 0, 1<<62)
		if err != nil {
			t.Fatal(err)
		}
		if q.MsgCount != want {
			t.Fatalf("index finds %d messages with key %s, want %d", q.MsgCount, key, want)
		}
		q.Release()
	}
	// Appends continue right at the cut with the next queue offsets.
	r := mustAppend(t, s, newMsg("T", 0, []byte("after"), "", ""))
	if r.PhysicalOffset != cut || r.QueueOffset != 150 {
		t.Fatalf("append after truncation at %d/%d, want %d/150", r.PhysicalOffset, r.QueueOffset, cut)
	}
	recs := readAll(t, s, "T", 0)
	if len(recs) != 151 || string(recs[150].Body) != "after" || string(recs[149].Body) != string(body(298)) {
		t.Fatalf("queue 0 after truncation has %d records", len(recs))
	}
	// The cut survives a crash (the abort marker stays, so the next open
	// rescans the log): recovery must not find the truncated records.
	s.Abandon()
	s = mustOpen(t, cfg)
	defer mustClose(t, s)
	if got := s.MaxPhysicalOffset(); got != r.PhysicalOffset+int64(r.WroteBytes) {
		t.Fatalf("after a crash the log ends at %d, want %d", got, r.PhysicalOffset+int64(r.WroteBytes))
	}
	if got := len(readAll(t, s, "T", 1)); got != 150 {
		t.Fatalf("queue 1 has %d records after recovery, want 150", got)
	}
}

func TestTruncateDropsAPartialReplicatedRecord(t *testing.T) {
	master := mustOpen(t, smallConfig(t.TempDir()))
	defer mustClose(t, master)
	for i := range 3 {
		mustAppend(t, master, newMsg("T", 0, body(i), "", ""))
	}
	buf := make([]byte, master.MaxPhysicalOffset())
	n, err := master.ReadLog(0, buf)
	if err != nil {
		t.Fatal(err)
	}
	replica := mustOpen(t, smallConfig(t.TempDir()))
	defer mustClose(t, replica)
	if err := replica.AppendLog(0, buf[:n-10]); err != nil { // the last record arrives only in part
		t.Fatal(err)
	}
	if replica.LastRecordEnd() >= replica.MaxPhysicalOffset() {
		t.Fatalf("no partial record: %d vs %d", replica.LastRecordEnd(), replica.MaxPhysicalOffset())
	}
	// Promoted: drop the partial record, then take ordinary appends.
	if err := replica.Truncate(replica.LastRecordEnd()); err != nil {
		t.Fatal(err)
	}
	if replica.MaxPhysicalOffset() != replica.LastRecordEnd() {
		t.Fatal("partial record kept")
	}
	r, err := replica.Append(context.Background(), newMsg("T", 0, []byte("new master"), "", ""))
	if err != nil {
		t.Fatal(err)
	}
	if r.QueueOffset != 2 {
		t.Fatalf("queue offset %d, want 2", r.QueueOffset)
	}
	if recs := readAll(t, replica, "T", 0); len(recs) != 3 || string(recs[2].Body) != "new master" {
		t.Fatalf("replica queue: %d records", len(recs))
	}
}
