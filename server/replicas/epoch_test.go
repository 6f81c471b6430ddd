package replicas

import (
	"errors"
	"math"
	"path/filepath"
	"slices"
	"testing"
)

func TestEpochFilePersistsAndTruncates(t *testing.T) {
	path := filepath.Join(t.TempDir(), "epochFileCheckpoint")
	f, err := OpenEpochFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if f.LastEpoch() != -1 {
		t.Fatal("a new file has an epoch")
	}
	for _, e := range []Entry{{Epoch: 1, Start: 0}, {Epoch: 2, Start: 0}, {Epoch: 4, Start: 500}, {Epoch: 7, Start: 900}} {
		if err := f.Append(e.Epoch, e.Start); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.Append(7, 1000); !errors.Is(err, ErrEpochFile) {
		t.Fatalf("a repeated epoch: %v", err)
	}
	if err := f.Append(8, 800); !errors.Is(err, ErrEpochFile) {
		t.Fatalf("a start going back: %v", err)
	}
	g, err := OpenEpochFile(path)
	if err != nil {
		t.Fatal(err)
	}
	want := []Entry{{1, 0, 0}, {2, 0, 500}, {4, 500, 900}, {7, 900, math.MaxInt64}}
	if got := g.Entries(); !slices.Equal(got, want) {
		t.Fatalf("reopened: %v, want %v", got, want)
	}
	if err := g.TruncateFromOffset(600); err != nil {
		t.Fatal(err)
	}
	if g.LastEpoch() != 4 {
		t.Fatalf("after truncating from 600 the last epoch is %d", g.LastEpoch())
	}
	if err := g.TruncateFromEpoch(2); err != nil {
		t.Fatal(err)
	}
	if got := g.Entries(); len(got) != 1 || got[0].Epoch != 1 {
		t.Fatalf("after truncating from epoch 2: %v", got)
	}
}

func TestConsistentPoint(t *testing.T) {
	e := func(pairs ...int64) []Entry {
		var out []Entry
		for i := 0; i < len(pairs); i += 2 {
			out = append(out, Entry{Epoch: int32(pairs[i]), Start: pairs[i+1]})
		}
		return out
	}
	cases := []struct {
		name      string
		local     []Entry
		localEnd  int64
		master    []Entry
		masterEnd int64
		want      int64
	}{
		{"a demoted master with an unreplicated tail", e(1, 0, 2, 100), 180, e(1, 0, 2, 100, 3, 150), 400, 150},
		{"a slave behind its master", e(1, 0, 2, 100), 120, e(1, 0, 2, 100, 3, 150), 400, 120},
		{"an epoch the master never had", e(1, 0, 2, 100, 3, 130), 200, e(1, 0, 2, 100, 4, 110), 300, 110},
		{"an empty epoch kept on the master", e(1, 0), 90, e(1, 0, 2, 0), 50, 0},
		{"no epoch shared: only what precedes both histories", e(1, 0), 0, e(2, 0), 0, 0},
		{"no epoch shared, the master's history starts later", e(5, 100), 190, e(6, 300), 500, 100},
		{"no history", nil, 90, e(6, 0), 50, -1},
	}
	for _, tc := range cases {
		if got := ConsistentPoint(tc.local, tc.localEnd, tc.master, tc.masterEnd); got != tc.want {
			t.Errorf("%s: %d, want %d", tc.name, got, tc.want)
		}
	}
}
