package store

import (
	"context"
	"os"
	"path/filepath"
	"testing"
)

func TestCheckIntactStore(t *testing.T) {
	fx, s := newIntegrityFixture(t, 240)
	mustAppend(t, s, newMsg("D", 0, []byte("x"), "", "")) // index entries exist
	mustClose(t, s)
	rep, err := Check(context.Background(), fx.cfg.Dir, CheckOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK() || !rep.CleanShutdown || rep.Records != 241 || rep.QueueEntries != 241 || rep.IndexEntries == 0 || rep.Queues != 4 {
		t.Fatalf("intact store: %+v", rep)
	}
	// A broker's storePathRootDir is accepted too.
	root := t.TempDir()
	if err := os.Rename(fx.cfg.Dir, filepath.Join(root, "store")); err != nil {
		t.Fatal(err)
	}
	if rep, err := Check(context.Background(), root, CheckOptions{}); err != nil || !rep.OK() || rep.Records != 241 {
		t.Fatalf("check of the broker root: %v %+v", err, rep)
	}
}

// TestCheckFindsAndRepairsEachDamage injects each damage kind, checks that
// Check reports it, repairs, and checks that the repaired store passes and
// serves every intact record.
func TestCheckFindsAndRepairsEachDamage(t *testing.T) {
	expect := map[string][]ProblemKind{
		"garbage-after-tail":          {DamagedTail},
		"zeroed-half-last-record":     {DamagedTail, CheckpointMismatch, QueueEntryPastLog},
		"truncated-last-record":       {FileSize, DamagedTail, CheckpointMismatch, QueueEntryPastLog},
		"flipped-body-byte-mid-file":  {BadRecord},
		"zeroed-half-record-mid-file": {BadRecord},
		"zeroed-header-mid-file":      {BadRecord},
		"queue-entry-past-log":        {QueueEntryPastLog},
	}
	for _, stop := range stopKinds {
		for _, dk := range damageKinds {
			t.Run(stop.name+"/"+dk.name, func(t *testing.T) {
				fx, s := newIntegrityFixture(t, 240)
				if err := stop.stop(s); err != nil {
					t.Fatal(err)
				}
				lostIdx, _ := dk.damage(t, fx)
				ctx := context.Background()
				rep, err := Check(ctx, fx.cfg.Dir, CheckOptions{})
				if err != nil {
					t.Fatal(err)
				}
				if rep.OK() {
					t.Fatalf("check found nothing: %+v", rep)
				}
				for _, k := range expect[dk.name] {
					if k == CheckpointMismatch && stop.name != "clean" {
						continue // only a clean stop's checkpoint claims the exact end
					}
					if rep.Counts[k] == 0 {
						t.Errorf("check did not report %s; it reported %v", k, rep.Problems)
					}
				}
				if rep.CleanShutdown != (stop.name == "clean") {
					t.Errorf("CleanShutdown %v after a %s stop", rep.CleanShutdown, stop.name)
				}
				rep, err = Repair(ctx, fx.cfg.Dir, CheckOptions{})
				if err != nil {
					t.Fatal(err)
				}
				if !rep.OK() {
					t.Fatalf("repaired store fails the check: %v", rep.Problems)
				}
				lost := map[int]bool{}
				for _, i := range lostIdx {
					lost[i] = true
				}
				s = mustOpen(t, fx.cfg)
				defer mustClose(t, s)
				checkServedD(t, s, fx.stored, lost)
				if n := s.Stats().DamagedRecords; n != 0 && len(lost) == 0 {
					t.Errorf("%d damaged records met after repair", n)
				}
			})
		}
	}
}

func TestCheckDamagedIndexAndCheckpoint(t *testing.T) {
	fx, s := newIntegrityFixture(t, 60)
	mustClose(t, s)
	// An index entry pointing past the log, and a stale checkpoint.
	names, _ := indexFileNames(filepath.Join(fx.cfg.Dir, "index"))
	p := filepath.Join(fx.cfg.Dir, "index", names[0])
	b, _ := os.ReadFile(p)
	f := &indexFile{mf: &mappedFile{data: b}, slots: fx.cfg.IndexSlots, entries: fx.cfg.IndexEntries}
	put64(b[f.entryPos(2)+4:], fx.end+100)
	os.WriteFile(p, b, 0o644)
	if err := writeCheckpoint(fx.cfg.Dir, checkpoint{SafeOffset: 1234}); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	rep, err := Check(ctx, fx.cfg.Dir, CheckOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Counts[IndexEntryPastLog] != 1 || rep.Counts[CheckpointMismatch] != 1 {
		t.Fatalf("problems: %v", rep.Problems)
	}
	if rep, err = Repair(ctx, fx.cfg.Dir, CheckOptions{}); err != nil || !rep.OK() {
		t.Fatalf("after repair: %v %v", err, rep.Problems)
	}
}
