package replicas

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"
	"sync"

	"github.com/rocketgo/rocketgo/internal/atomicfile"
)

// The epoch file records, for every master epoch this broker's log has
// data of, the physical offset where that epoch's data begins — upstream's
// EpochFileCache. Each master appends an entry when it takes office (the
// end of its log then); each slave copies the entries from the stream. Two
// brokers' logs agree up to the end of the newest epoch whose start both
// record alike, which is where a demoted master truncates before it
// follows its successor.

// ErrEpochFile reports a malformed epoch file or an entry that would break
// its order.
var ErrEpochFile = errors.New("replicas: bad epoch file")

// Entry is one epoch. End is the next epoch's start, or the log's end for
// the newest (math.MaxInt64 when it is still open).
type Entry struct {
	Epoch int32
	Start int64
	End   int64
}

// EpochFile is an on-disk, ordered list of entries. It is safe for
// concurrent use.
type EpochFile struct {
	path string

	mu      sync.Mutex
	entries []Entry // ascending epochs and starts; End filled in on copy
}

// OpenEpochFile reads path ("<epoch>-<startOffset>" per line, upstream's
// checkpoint line format); a missing file is an empty list.
func OpenEpochFile(path string) (*EpochFile, error) {
	f := &EpochFile{path: path}
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return f, nil
	}
	if err != nil {
		return nil, fmt.Errorf("replicas: %w", err)
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		e, s, ok := strings.Cut(line, "-")
		epoch, err1 := strconv.ParseInt(e, 10, 32)
		start, err2 := strconv.ParseInt(s, 10, 64)
		if !ok || err1 != nil || err2 != nil || start < 0 {
			return nil, fmt.Errorf("%w: %s line %d: %q", ErrEpochFile, path, n, line)
		}
		if k := len(f.entries); k > 0 && (int32(epoch) <= f.entries[k-1].Epoch || start < f.entries[k-1].Start) {
			return nil, fmt.Errorf("%w: %s line %d: epoch %d at %d does not follow %d at %d", ErrEpochFile, path, n, epoch, start, f.entries[k-1].Epoch, f.entries[k-1].Start)
		}
		f.entries = append(f.entries, Entry{Epoch: int32(epoch), Start: start})
	}
	return f, nil
}

// persistLocked rewrites the file atomically.
func (f *EpochFile) persistLocked() error {
	if f.path == "" {
		return nil
	}
	var b strings.Builder
	for _, e := range f.entries {
		fmt.Fprintf(&b, "%d-%d\n", e.Epoch, e.Start)
	}
	return atomicfile.Write(f.path, []byte(b.String()), 0o644)
}

// Entries returns a copy with End filled in; the newest entry's End is
// math.MaxInt64.
func (f *EpochFile) Entries() []Entry {
	f.mu.Lock()
	defer f.mu.Unlock()
	return withEnds(f.entries, math.MaxInt64)
}

func withEnds(entries []Entry, lastEnd int64) []Entry {
	out := make([]Entry, len(entries))
	copy(out, entries)
	for i := range out {
		if i+1 < len(out) {
			out[i].End = out[i+1].Start
		} else {
			out[i].End = lastEnd
		}
	}
	return out
}

// Last returns the newest entry.
func (f *EpochFile) Last() (Entry, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.entries) == 0 {
		return Entry{}, false
	}
	e := f.entries[len(f.entries)-1]
	e.End = math.MaxInt64
	return e, true
}

// LastEpoch is the newest epoch, or -1.
func (f *EpochFile) LastEpoch() int32 {
	if e, ok := f.Last(); ok {
		return e.Epoch
	}
	return -1
}

// Append records that epoch's data starts at start. An epoch that starts
// where the previous one did holds no data, but it is kept: a broker that
// was master of that epoch compares its log against it (upstream refuses
// such an entry and loses the new epoch instead).
func (f *EpochFile) Append(epoch int32, start int64) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if k := len(f.entries); k > 0 {
		last := f.entries[k-1]
		switch {
		case epoch <= last.Epoch:
			return fmt.Errorf("%w: epoch %d does not follow %d", ErrEpochFile, epoch, last.Epoch)
		case start < last.Start:
			return fmt.Errorf("%w: epoch %d starts at %d, before epoch %d at %d", ErrEpochFile, epoch, start, last.Epoch, last.Start)
		}
	}
	f.entries = append(f.entries, Entry{Epoch: epoch, Start: start})
	return f.persistLocked()
}

// TruncateFromOffset drops the entries whose data starts at or after off:
// their data was truncated.
func (f *EpochFile) TruncateFromOffset(off int64) error {
	return f.truncate(func(e Entry) bool { return e.Start >= off })
}

// TruncateFromEpoch drops the entries of epoch and later.
func (f *EpochFile) TruncateFromEpoch(epoch int32) error {
	return f.truncate(func(e Entry) bool { return e.Epoch >= epoch })
}

func (f *EpochFile) truncate(drop func(Entry) bool) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	k := len(f.entries)
	for k > 0 && drop(f.entries[k-1]) {
		k--
	}
	if k == len(f.entries) {
		return nil
	}
	f.entries = f.entries[:k]
	return f.persistLocked()
}

// ConsistentPoint finds where a slave's log (its entries, its log end)
// and its master's agree: walking the slave's epochs newest first, the
// first one the master records with the same start is shared up to the
// smaller of the two ends. When they share no epoch, the master holds no
// data of any of the slave's epochs (a broker records an epoch before its
// first byte), so they agree only below where both histories begin. It
// returns -1 when either side has no entries.
func ConsistentPoint(local []Entry, localEnd int64, master []Entry, masterEnd int64) int64 {
	if len(local) == 0 || len(master) == 0 {
		return -1
	}
	local = withEnds(local, localEnd)
	master = withEnds(master, masterEnd)
	for i := len(local) - 1; i >= 0; i-- {
		for _, m := range master {
			if m.Epoch == local[i].Epoch {
				if m.Start == local[i].Start {
					return min(local[i].End, m.End)
				}
				break
			}
		}
	}
	return min(local[0].Start, master[0].Start, localEnd)
}
