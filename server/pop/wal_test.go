package pop

import (
	"os"
	"path/filepath"
	"testing"
)

func replayAll(t *testing.T, dir string) (*journal, []string) {
	t.Helper()
	var got []string
	j, err := openJournal(dir, func(rec []byte) error {
		got = append(got, string(rec))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return j, got
}

// A crash mid-append leaves a torn frame: replay keeps every intact record
// before it, truncates the tail, and appends continue after the cut.
func TestJournalTornTailIsCutAndAppendsContinue(t *testing.T) {
	dir := t.TempDir()
	j, _ := replayAll(t, dir)
	for _, r := range []string{"one", "two", "three"} {
		if _, err := j.append([]byte(r)); err != nil {
			t.Fatal(err)
		}
	}
	if err := j.close(); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, journalName)
	intact, _ := os.Stat(path)
	f, _ := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	f.Write([]byte{0, 0, 0, 9, 1, 2, 3, 4, 'p', 'a'}) // header + part of a payload
	f.Close()

	j, got := replayAll(t, dir)
	if len(got) != 3 || got[2] != "three" {
		t.Fatalf("replayed %q", got)
	}
	if st, _ := os.Stat(path); st.Size() != intact.Size() {
		t.Fatalf("size %d after replay, want the intact %d", st.Size(), intact.Size())
	}
	if _, err := j.append([]byte("four")); err != nil {
		t.Fatal(err)
	}
	j.close()
	_, got = replayAll(t, dir)
	if len(got) != 4 || got[3] != "four" {
		t.Fatalf("after append: %q", got)
	}
}

// A flipped byte fails the checksum: replay stops before that record.
func TestJournalCorruptRecordEndsReplay(t *testing.T) {
	dir := t.TempDir()
	j, _ := replayAll(t, dir)
	j.append([]byte("good"))
	j.append([]byte("bad!"))
	j.close()
	path := filepath.Join(dir, journalName)
	b, _ := os.ReadFile(path)
	b[len(b)-1] ^= 0xff
	os.WriteFile(path, b, 0o644)
	j, got := replayAll(t, dir)
	defer j.close()
	if len(got) != 1 || got[0] != "good" {
		t.Fatalf("replayed %q", got)
	}
}

// Compaction replaces the journal with the snapshot, which later appends
// follow.
func TestJournalRewrite(t *testing.T) {
	dir := t.TempDir()
	j, _ := replayAll(t, dir)
	for range 100 {
		j.append([]byte("old"))
	}
	if err := j.rewrite(func(emit func([]byte) error) error { return emit([]byte("live")) }); err != nil {
		t.Fatal(err)
	}
	j.append([]byte("after"))
	j.close()
	_, got := replayAll(t, dir)
	if len(got) != 2 || got[0] != "live" || got[1] != "after" {
		t.Fatalf("replayed %q", got)
	}
	if _, err := os.Stat(filepath.Join(dir, journalName+".tmp")); !os.IsNotExist(err) {
		t.Errorf("temp file left behind: %v", err)
	}
}
