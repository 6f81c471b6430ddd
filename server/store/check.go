package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"syscall"
	"time"

	"github.com/rocketgo/rocketgo/message"
)

// The offline checker (`rocketgo store check`). It reads a stopped store's
// files without changing them and reports every inconsistency between the
// commit log, the consume queues, the index and the checkpoint; Repair
// makes the store consistent the way recovery would, then checks again.

// ProblemKind classifies what the checker found.
type ProblemKind int

const (
	// BadRecord: records inside the log fail their checks (body CRC,
	// layout, framing) with intact records after them. Readers refuse them;
	// Repair quarantines them.
	BadRecord ProblemKind = iota
	// DamagedTail: the log ends in bytes that are not a record: a torn
	// write or garbage. Recovery cuts the log there.
	DamagedTail
	// GarbageAfterEnd: non-zero bytes, or whole segments, after the end of
	// the log.
	GarbageAfterEnd
	// FileSize: a file is shorter or longer than its layout says.
	FileSize
	// CheckpointMismatch: the checkpoint is unreadable, or a clean
	// shutdown's checkpoint does not end where the log does.
	CheckpointMismatch
	// QueueEntryPastLog: a consume-queue entry points past the end of the log.
	QueueEntryPastLog
	// QueueEntryMismatch: a consume-queue entry points at bytes that are not
	// its record (another topic, queue or offset, a wrong size, damage).
	QueueEntryMismatch
	// QueueGap: an empty entry inside a queue, or a jump in a queue's
	// offsets in the log that no damage explains.
	QueueGap
	// QueueEntryMissing: a record has no entry at the end of its queue.
	QueueEntryMissing
	// IndexEntryPastLog: an index entry points past the end of the log.
	IndexEntryPastLog
	// IndexCorrupt: an index file's header, slots or chains are inconsistent,
	// or an entry points at something that is not a record.
	IndexCorrupt
)

var problemKindNames = [...]string{"bad-record", "damaged-tail", "garbage-after-end", "file-size",
	"checkpoint-mismatch", "queue-entry-past-log", "queue-entry-mismatch", "queue-gap",
	"queue-entry-missing", "index-entry-past-log", "index-corrupt"}

func (k ProblemKind) String() string {
	if k >= 0 && int(k) < len(problemKindNames) {
		return problemKindNames[k]
	}
	return "ProblemKind(" + strconv.Itoa(int(k)) + ")"
}

// Problem is one inconsistency.
type Problem struct {
	Kind ProblemKind
	// Path is the file concerned, relative to the store directory.
	Path string
	// Offset is a commit-log offset for log and index problems, a queue
	// offset for consume-queue problems.
	Offset  int64
	Topic   string // consume-queue problems
	QueueID int32
	Detail  string
}

func (p Problem) String() string {
	where := p.Path
	if p.Topic != "" {
		where = fmt.Sprintf("%s (queue %s/%d)", p.Path, p.Topic, p.QueueID)
	}
	return fmt.Sprintf("%s at %d in %s: %s", p.Kind, p.Offset, where, p.Detail)
}

// maxProblemsPerKind bounds the problems listed per kind; Counts has them all.
const maxProblemsPerKind = 100

// CheckReport is what Check found.
type CheckReport struct {
	Dir           string // the store directory checked
	CleanShutdown bool   // no abort marker: the last stop was clean
	// LogStart and LogEnd bound the valid log, as recovery would see it.
	LogStart, LogEnd int64
	Records          int64 // intact records
	Quarantined      int64 // runs an earlier repair marked as damaged
	Queues           int
	QueueEntries     int64 // entries checked
	Holes            int64 // queue offsets recovery found lost to damage
	IndexEntries     int64
	// Problems lists up to 100 problems of each kind, in the order found;
	// Counts has the number of each.
	Problems []Problem
	Counts   map[ProblemKind]int64
	// Notes are observations that are not damage.
	Notes []string
}

// OK reports whether no problem was found.
func (r *CheckReport) OK() bool { return len(r.Problems) == 0 }

// CheckOptions describes the store layout. Zero fields are inferred from
// the files (index files assume RocketMQ's four entries per slot).
type CheckOptions struct {
	CommitLogSegmentSize       int64
	ConsumeQueueEntriesPerFile int
	IndexSlots, IndexEntries   int
	// Logger receives Repair's recovery log (default: discarded).
	Logger *slog.Logger
}

// storeDir accepts the store directory itself (a broker's
// storePathRootDir) or the root of an older broker, which kept the store
// one level deeper, in <root>/store.
func storeDir(dir string) string {
	if _, err := os.Stat(filepath.Join(dir, "commitlog")); err != nil {
		if _, err := os.Stat(filepath.Join(dir, "store", "commitlog")); err == nil {
			return filepath.Join(dir, "store")
		}
	}
	return dir
}

// Check reads the store in dir (or dir/store) and reports its
// inconsistencies. It changes nothing; run it on a stopped store.
func Check(ctx context.Context, dir string, opts CheckOptions) (*CheckReport, error) {
	dir = storeDir(dir)
	if _, err := os.Stat(filepath.Join(dir, "commitlog")); err != nil {
		return nil, fmt.Errorf("store: check %s: no commitlog directory: %w", dir, err)
	}
	c := &checker{dir: dir, rep: &CheckReport{Dir: dir, Counts: map[ProblemKind]int64{}}}
	if err := c.layout(opts); err != nil {
		return nil, err
	}
	defer c.closeLog()
	if _, err := os.Stat(filepath.Join(dir, "abort")); err == nil {
		c.note("abort marker present: the store was not shut down cleanly, or is running now")
	} else {
		c.rep.CleanShutdown = true
	}
	if err := c.openLog(); err != nil {
		return nil, err
	}
	steps := []func(context.Context) error{c.walkLog, c.checkQueues, c.checkIndex, c.checkCheckpoint}
	for _, step := range steps {
		if err := step(ctx); err != nil {
			return nil, err
		}
	}
	return c.rep, nil
}

// Repair makes the store in dir (or dir/store) consistent the way recovery
// does, over the whole log: the damaged end is cut, damaged runs inside it
// are quarantined (readers refuse them; later records keep their queue
// offsets), every consume-queue and index entry is rebuilt from the log,
// and a clean checkpoint is written. It returns the check of the repaired
// store. The store must not be in use.
func Repair(ctx context.Context, dir string, opts CheckOptions) (*CheckReport, error) {
	dir = storeDir(dir)
	c := &checker{dir: dir, rep: &CheckReport{Dir: dir, Counts: map[ProblemKind]int64{}}}
	if err := c.layout(opts); err != nil {
		return nil, err
	}
	cfg := Config{
		Dir:                        dir,
		CommitLogSegmentSize:       c.segSize,
		ConsumeQueueEntriesPerFile: c.cqEntries,
		IndexSlots:                 c.ixSlots,
		IndexEntries:               c.ixEntries,
		CleanInterval:              365 * 24 * time.Hour, // retention must not run during a repair
		CheckpointInterval:         time.Hour,
	}
	if c.ixEntries == 0 {
		cfg.IndexEntries = -1 // there is no index: do not start one
	}
	openOpts := []Option{withRepair()}
	if opts.Logger != nil {
		openOpts = append(openOpts, WithLogger(opts.Logger))
	}
	s, err := Open(cfg, openOpts...)
	if err != nil {
		return nil, fmt.Errorf("store: repair: %w", err)
	}
	if err := s.Close(ctx); err != nil {
		return nil, fmt.Errorf("store: repair: %w", err)
	}
	return Check(ctx, dir, opts)
}

// withRepair makes recovery rebuild everything and quarantine damage.
func withRepair() Option { return func(o *options) { o.repair = true } }

// checker holds the state of one check.
type checker struct {
	dir                 string
	rep                 *CheckReport
	segSize             int64
	cqEntries           int
	ixSlots, ixEntries  int
	segs                []*roFile
	list                *segmentList
	runs                []checkRun // damaged or quarantined runs, in log order
	queues              map[queueKey]*queueCheck
	deletedQueueRecords int64
}

type checkRun struct {
	span
	quarantined bool
}

// queueCheck is what the log walk learns about one queue.
type queueCheck struct {
	files   []*roFile
	size    int64 // bytes per file
	max     int64 // first empty entry, as recovery computes it
	first   int64 // first entry of the first file
	lastOff int64 // queue offset of the last record met in the log
	lastPhy int64
	seen    bool
}

func (c *checker) note(format string, args ...any) {
	c.rep.Notes = append(c.rep.Notes, fmt.Sprintf(format, args...))
}

func (c *checker) add(p Problem) {
	c.rep.Counts[p.Kind]++
	if c.rep.Counts[p.Kind] <= maxProblemsPerKind {
		c.rep.Problems = append(c.rep.Problems, p)
	}
}

// layout infers the file sizes the store was written with.
func (c *checker) layout(opts CheckOptions) error {
	c.segSize = opts.CommitLogSegmentSize
	if c.segSize == 0 {
		bases, sizes, err := numberedFiles(filepath.Join(c.dir, "commitlog"), 20)
		if err != nil {
			return err
		}
		for i := range bases {
			c.segSize = max(c.segSize, sizes[i])
			if i > 0 {
				c.segSize = max(c.segSize, bases[i]-bases[i-1])
			}
		}
		if c.segSize == 0 {
			c.segSize = DefaultCommitLogSegmentSize
		}
	}
	c.cqEntries = opts.ConsumeQueueEntriesPerFile
	if c.cqEntries == 0 {
		var biggest int64
		filepath.WalkDir(filepath.Join(c.dir, "consumequeue"), func(p string, d os.DirEntry, err error) error {
			if err == nil && !d.IsDir() && len(d.Name()) == 20 {
				if fi, err := d.Info(); err == nil {
					biggest = max(biggest, fi.Size())
				}
			}
			return nil
		})
		c.cqEntries = int(biggest / cqEntrySize)
		if c.cqEntries == 0 {
			c.cqEntries = DefaultConsumeQueueEntriesPerFile
		}
	}
	c.ixSlots, c.ixEntries = opts.IndexSlots, opts.IndexEntries
	if c.ixSlots == 0 || c.ixEntries == 0 {
		c.ixSlots, c.ixEntries = 0, 0
		names, _ := indexFileNames(filepath.Join(c.dir, "index"))
		for i := len(names) - 1; i >= 0 && c.ixSlots == 0; i-- {
			c.ixSlots, c.ixEntries = inferIndexGeometry(filepath.Join(c.dir, "index", names[i]))
		}
		if c.ixSlots == 0 && len(names) > 0 {
			c.note("the index geometry cannot be inferred (no file has entries): pass it to check the index")
		}
	}
	return nil
}

// inferIndexGeometry finds the slot and entry counts an index file was
// written with. Its size fixes 4·slots + 20·entries; among the splits, the
// right one puts the header's last entry where its offset matches the
// header's end offset and its hash slot points back at it. RocketMQ's four
// entries per slot is tried first.
func inferIndexGeometry(path string) (slots, entries int) {
	fi, err := os.Stat(path)
	if err != nil || fi.Size() < idxHeaderLen+idxSlotLen+idxEntryLen {
		return 0, 0
	}
	size := fi.Size()
	f, _, err := openRO(path, 0, size)
	if err != nil {
		return 0, 0
	}
	defer f.close()
	ix := &indexFile{mf: f.mappedFile}
	count := int64(ix.count())
	endPhy := ix.hdr64(hdrEndPhy)
	rest := size - idxHeaderLen
	fits := func(s int64) bool {
		if s <= 0 || (rest-idxSlotLen*s)%idxEntryLen != 0 {
			return false
		}
		e := (rest - idxSlotLen*s) / idxEntryLen
		if count < 1 || count > e {
			return false
		}
		pos := idxHeaderLen + idxSlotLen*s + (count-1)*idxEntryLen
		b := f.data[pos:]
		h := get32(b)
		return get64(b[4:]) == endPhy && int64(get32(f.data[idxHeaderLen+int64(h%uint32(s))*idxSlotLen:])) == count
	}
	if s := rest / (idxSlotLen + 4*idxEntryLen); rest%(idxSlotLen+4*idxEntryLen) == 0 && fits(s) {
		return int(s), int(4 * s)
	}
	for s := int64(1); idxSlotLen*s < rest; s++ {
		if fits(s) {
			return int(s), int((rest - idxSlotLen*s) / idxEntryLen)
		}
	}
	return 0, 0
}

// numberedFiles lists the files of dir named by nameLen-digit numbers,
// sorted, with their sizes.
func numberedFiles(dir string, nameLen int) (bases, sizes []int64, err error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("store: check: %w", err)
	}
	for _, e := range entries {
		b, perr := strconv.ParseInt(e.Name(), 10, 64)
		if e.IsDir() || len(e.Name()) != nameLen || perr != nil {
			continue
		}
		fi, err := e.Info()
		if err != nil {
			return nil, nil, fmt.Errorf("store: check: %w", err)
		}
		bases = append(bases, b)
		sizes = append(sizes, fi.Size())
	}
	idx := make([]int, len(bases))
	for i := range idx {
		idx[i] = i
	}
	sort.Slice(idx, func(i, j int) bool { return bases[idx[i]] < bases[idx[j]] })
	sb, ss := make([]int64, len(idx)), make([]int64, len(idx))
	for k, i := range idx {
		sb[k], ss[k] = bases[i], sizes[i]
	}
	return sb, ss, nil
}

func indexFileNames(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, e := range entries {
		if !e.IsDir() && len(e.Name()) == 17 {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	return names, nil
}

// roFile is a file mapped read-only, or read into memory when it is
// shorter than its layout says (mapping past the end of a file faults).
type roFile struct {
	*mappedFile
	mapped bool
}

func openRO(path string, base, size int64) (*roFile, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, fmt.Errorf("store: check: %w", err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, fmt.Errorf("store: check: %w", err)
	}
	m := &mappedFile{path: path, base: base, size: size, f: f}
	if fi.Size() >= size && size > 0 {
		data, err := syscall.Mmap(int(f.Fd()), 0, int(size), syscall.PROT_READ, syscall.MAP_SHARED)
		if err != nil {
			f.Close()
			return nil, 0, fmt.Errorf("store: check: mmap %s: %w", path, err)
		}
		m.data = data
		return &roFile{m, true}, fi.Size(), nil
	}
	m.data = make([]byte, size)
	if _, err := f.ReadAt(m.data[:fi.Size()], 0); err != nil && err != io.EOF {
		f.Close()
		return nil, 0, fmt.Errorf("store: check: read %s: %w", path, err)
	}
	return &roFile{m, false}, fi.Size(), nil
}

func (r *roFile) close() {
	if r.mapped {
		syscall.Munmap(r.data)
	}
	r.f.Close()
}

func (c *checker) rel(path string) string {
	if p, err := filepath.Rel(c.dir, path); err == nil {
		return p
	}
	return path
}

// openLog maps the commit-log segments that form one contiguous run.
func (c *checker) openLog() error {
	dir := filepath.Join(c.dir, "commitlog")
	bases, sizes, err := numberedFiles(dir, 20)
	if err != nil {
		return err
	}
	c.list = &segmentList{}
	for i, b := range bases {
		p := filepath.Join(dir, segmentName(b))
		if b%c.segSize != 0 || (i > 0 && b != bases[i-1]+c.segSize) {
			c.add(Problem{Kind: GarbageAfterEnd, Path: c.rel(p), Offset: b, Detail: fmt.Sprintf("segment out of sequence (segment size %d): recovery refuses to open the store", c.segSize)})
			break
		}
		if sizes[i] != c.segSize {
			c.add(Problem{Kind: FileSize, Path: c.rel(p), Offset: b, Detail: fmt.Sprintf("%d bytes, segments are %d: truncated or grown", sizes[i], c.segSize)})
		}
		f, _, err := openRO(p, b, c.segSize)
		if err != nil {
			return err
		}
		c.segs = append(c.segs, f)
		c.list.files = append(c.list.files, f.mappedFile)
	}
	return nil
}

func (c *checker) closeLog() {
	for _, f := range c.segs {
		f.close()
	}
	for _, q := range c.queues {
		for _, f := range q.files {
			f.close()
		}
	}
}

// walkLog verifies every record, as recovery does but over the whole log,
// and cross-checks each against its consume queue.
func (c *checker) walkLog(ctx context.Context) error {
	if err := c.openQueues(); err != nil {
		return err
	}
	last := c.list.last()
	if last == nil {
		c.note("the commit log is empty")
		return nil
	}
	off := c.list.files[0].base
	c.rep.LogStart = off
	bad := int64(-1)
	var badErr error
	seg := (*mappedFile)(nil)
	for {
		if s := c.list.find(off, c.segSize); s != seg {
			if s == nil {
				break
			}
			seg = s
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		b := seg.data[off-seg.base:]
		if isQuarantined(b) {
			if next := resyncAfter(seg, off, c.segSize, last.base+c.segSize, seg == last); next > off && int64(int32(get32(b))) == next-off {
				if bad >= 0 {
					c.badRun(bad, off, badErr)
					bad = -1
				}
				c.runs = append(c.runs, checkRun{span{off, next}, true})
				c.rep.Quarantined++
				off = next
				continue
			}
		}
		size, err := recordAt(seg, off, true)
		if err == nil && size < 0 {
			if bad >= 0 {
				c.badRun(bad, off, badErr)
				bad = -1
			}
			off = seg.base + c.segSize
			continue
		}
		if err == nil && off-seg.base+int64(size)+blankLen > c.segSize {
			err = fmt.Errorf("%w: record at %d overruns its segment", message.ErrCorrupt, off)
		}
		if err == nil {
			if bad >= 0 {
				c.badRun(bad, off, badErr)
				bad = -1
			}
			rec, _ := message.ParseStored(b, false)
			c.record(rec)
			off += int64(size)
			continue
		}
		if bad < 0 {
			bad, badErr = off, err
		}
		next := resyncAfter(seg, off, c.segSize, last.base+c.segSize, seg == last)
		if next < 0 {
			break
		}
		off = next
	}
	end := off
	if bad >= 0 {
		end = bad
		seg := c.list.find(bad, c.segSize)
		if !allZero(seg.data[bad-seg.base : min(bad-seg.base+64, seg.size)]) {
			c.add(Problem{Kind: DamagedTail, Path: c.rel(seg.path), Offset: bad, Detail: fmt.Sprintf("the log ends in bytes that are not a record (%v); recovery cuts it here", badErr)})
		}
	}
	c.rep.LogEnd = end
	c.afterEnd(end)
	if c.deletedQueueRecords > 0 {
		c.note("%d records belong to queues that no longer exist (deleted topics); retention removes them", c.deletedQueueRecords)
	}
	return nil
}

// badRun reports damaged bytes [from, to) with intact records after them.
func (c *checker) badRun(from, to int64, cause error) {
	c.runs = append(c.runs, checkRun{span{from, to}, false})
	seg := c.list.find(from, c.segSize)
	c.add(Problem{Kind: BadRecord, Path: c.rel(seg.path), Offset: from,
		Detail: fmt.Sprintf("%d damaged bytes before intact records (%v); readers refuse them, repair quarantines them", to-from, cause)})
}

// afterEnd looks for anything past the end of the log.
func (c *checker) afterEnd(end int64) {
	seg := c.list.find(end, c.segSize)
	if seg != nil {
		from := end - seg.base
		if c.rep.Counts[DamagedTail] > 0 {
			from = seg.size // the damaged tail was reported already
		}
		var zero [64 << 10]byte
		for p := from; p < seg.size; p += int64(len(zero)) {
			chunk := seg.data[p:min(p+int64(len(zero)), seg.size)]
			if !bytes.Equal(chunk, zero[:len(chunk)]) {
				i := int64(0)
				for chunk[i] == 0 {
					i++
				}
				c.add(Problem{Kind: GarbageAfterEnd, Path: c.rel(seg.path), Offset: seg.base + p + i, Detail: fmt.Sprintf("non-zero bytes after the end of the log at %d", end)})
				break
			}
		}
	}
	for _, f := range c.list.files {
		if f.base > end && f.base >= end-end%c.segSize+c.segSize {
			c.add(Problem{Kind: GarbageAfterEnd, Path: c.rel(f.path), Offset: f.base, Detail: fmt.Sprintf("segment after the end of the log at %d; recovery deletes it", end)})
		}
	}
}

// openQueues maps every consume queue and finds where each ends.
func (c *checker) openQueues() error {
	c.queues = map[queueKey]*queueCheck{}
	root := filepath.Join(c.dir, "consumequeue")
	topics, err := os.ReadDir(root)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("store: check: %w", err)
	}
	size := int64(c.cqEntries) * cqEntrySize
	for _, t := range topics {
		if !t.IsDir() || !validTopic(t.Name()) {
			continue
		}
		qdirs, err := os.ReadDir(filepath.Join(root, t.Name()))
		if err != nil {
			return fmt.Errorf("store: check: %w", err)
		}
		for _, qd := range qdirs {
			id, ok := parseQueueDir(qd.Name())
			if !qd.IsDir() || !ok {
				continue
			}
			dir := filepath.Join(root, t.Name(), qd.Name())
			bases, sizes, err := numberedFiles(dir, 20)
			if err != nil {
				return err
			}
			q := &queueCheck{size: size, lastOff: -1}
			for i, b := range bases {
				p := filepath.Join(dir, segmentName(b))
				if b%size != 0 || (i > 0 && b != bases[i-1]+size) {
					c.add(Problem{Kind: QueueGap, Path: c.rel(p), Topic: t.Name(), QueueID: id, Offset: b / cqEntrySize, Detail: "consume-queue file out of sequence: recovery refuses to open the store"})
					break
				}
				if sizes[i] != size {
					c.add(Problem{Kind: FileSize, Path: c.rel(p), Topic: t.Name(), QueueID: id, Offset: b / cqEntrySize, Detail: fmt.Sprintf("%d bytes, consume-queue files are %d", sizes[i], size)})
				}
				f, _, err := openRO(p, b, size)
				if err != nil {
					return err
				}
				q.files = append(q.files, f)
			}
			if len(q.files) > 0 {
				q.first = q.files[0].base / cqEntrySize
				lastF := q.files[len(q.files)-1]
				lo, hi := int64(0), size/cqEntrySize
				for lo < hi {
					mid := (lo + hi) / 2
					if _, sz, _ := cqEntry(lastF.mappedFile, lastF.base/cqEntrySize+mid); sz != 0 {
						lo = mid + 1
					} else {
						hi = mid
					}
				}
				q.max = lastF.base/cqEntrySize + lo
			}
			c.queues[queueKey{t.Name(), id}] = q
		}
	}
	c.rep.Queues = len(c.queues)
	return nil
}

// entry returns entry n of q.
func (q *queueCheck) entry(n int64) (phy int64, size int32, ok bool) {
	if n < q.first || n >= q.max {
		return 0, 0, false
	}
	f := q.files[(n*cqEntrySize-q.files[0].base)/q.size]
	phy, size, _ = cqEntry(f.mappedFile, n)
	return phy, size, true
}

// record checks one intact record against its queue's sequence and entry.
func (c *checker) record(rec message.StoredRecord) {
	c.rep.Records++
	if tx := rec.SysFlag & message.SysFlagTxMask; tx == message.SysFlagTxPrepared || tx == message.SysFlagTxRollback {
		return
	}
	q := c.queues[queueKey{string(rec.Topic), rec.QueueID}]
	if q == nil {
		c.deletedQueueRecords++
		return
	}
	topic, qoff, phy := string(rec.Topic), rec.QueueOffset, rec.PhysicalOffset
	if q.seen && qoff != q.lastOff+1 && qoff != 0 && !c.damageBetween(q.lastPhy, phy) {
		c.add(Problem{Kind: QueueGap, Path: c.rel(c.list.find(phy, c.segSize).path), Offset: phy, Topic: topic, QueueID: rec.QueueID,
			Detail: fmt.Sprintf("the queue's records in the log go from offset %d to %d", q.lastOff, qoff)})
	}
	q.seen, q.lastOff, q.lastPhy = true, qoff, phy
	if qoff >= q.max && qoff >= q.first {
		c.add(Problem{Kind: QueueEntryMissing, Path: filepath.Join("consumequeue", topic, strconv.Itoa(int(rec.QueueID))), Offset: qoff, Topic: topic, QueueID: rec.QueueID,
			Detail: fmt.Sprintf("record at %d has no entry: the queue ends at %d", phy, q.max)})
	}
}

// damageBetween reports whether a damaged run starts in (from, to).
func (c *checker) damageBetween(from, to int64) bool {
	i := sort.Search(len(c.runs), func(i int) bool { return c.runs[i].from > from })
	return i < len(c.runs) && c.runs[i].from < to
}

// inRun reports whether phy lies in a damaged or quarantined run.
func (c *checker) inRun(phy int64) bool {
	i := sort.Search(len(c.runs), func(i int) bool { return c.runs[i].to > phy })
	return i < len(c.runs) && c.runs[i].from <= phy
}

// checkQueues checks every consume-queue entry against the log.
func (c *checker) checkQueues(ctx context.Context) error {
	keys := make([]queueKey, 0, len(c.queues))
	for k := range c.queues {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].topic != keys[j].topic {
			return keys[i].topic < keys[j].topic
		}
		return keys[i].id < keys[j].id
	})
	for _, k := range keys {
		if err := ctx.Err(); err != nil {
			return err
		}
		q := c.queues[k]
		path := filepath.Join("consumequeue", k.topic, strconv.Itoa(int(k.id)))
		for n := q.first; n < q.max; n++ {
			phy, size, _ := q.entry(n)
			c.rep.QueueEntries++
			prob := Problem{Path: path, Offset: n, Topic: k.topic, QueueID: k.id}
			switch {
			case size == 0:
				prob.Kind, prob.Detail = QueueGap, "empty entry inside the queue"
			case size == holeSize:
				c.rep.Holes++
				continue
			case phy < c.rep.LogStart && phy >= 0:
				continue // its segment was deleted by retention
			case phy < 0 || phy+int64(size) > c.rep.LogEnd || size < 0:
				prob.Kind, prob.Detail = QueueEntryPastLog, fmt.Sprintf("entry (%d, %d bytes) points past the end of the log at %d", phy, size, c.rep.LogEnd)
			case c.inRun(phy):
				continue // the damaged run is reported (or quarantined) already
			default:
				seg := c.list.find(phy, c.segSize)
				pos := phy - seg.base
				if size >= minRecordLen && pos+int64(size) <= seg.size && headerMatches(seg.data[pos:pos+int64(size)], size, phy, k.id, n) &&
					checkFromDisk(seg.data[pos:pos+int64(size)], k.topic) == nil {
					continue
				}
				prob.Kind, prob.Detail = QueueEntryMismatch, fmt.Sprintf("entry (%d, %d bytes) does not point at this queue's record %d", phy, size, n)
			}
			c.add(prob)
		}
	}
	return nil
}

// checkIndex checks the index files' structure and where entries point.
func (c *checker) checkIndex(ctx context.Context) error {
	dir := filepath.Join(c.dir, "index")
	names, err := indexFileNames(dir)
	if err != nil || len(names) == 0 || c.ixSlots == 0 {
		return nil
	}
	fileSize := int64(idxHeaderLen + c.ixSlots*idxSlotLen + c.ixEntries*idxEntryLen)
	for i, n := range names {
		if err := ctx.Err(); err != nil {
			return err
		}
		p := filepath.Join(dir, n)
		rf, got, err := openRO(p, 0, fileSize)
		if err != nil {
			return err
		}
		if got != fileSize {
			if !(got == 0 && i == len(names)-1) { // a crash before allocation: recovery drops it
				c.add(Problem{Kind: FileSize, Path: c.rel(p), Detail: fmt.Sprintf("%d bytes, index files are %d", got, fileSize)})
			}
			rf.close()
			continue
		}
		c.checkIndexFile(&indexFile{mf: rf.mappedFile, slots: c.ixSlots, entries: c.ixEntries}, c.rel(p))
		rf.close()
	}
	return nil
}

func (c *checker) checkIndexFile(f *indexFile, path string) {
	count := f.count()
	if count > f.entries || count < 0 {
		c.add(Problem{Kind: IndexCorrupt, Path: path, Detail: fmt.Sprintf("header counts %d entries, the file holds %d", count, f.entries)})
		return
	}
	badSlots := 0
	for s := 0; s < f.slots; s++ {
		if v := f.hdr32(idxHeaderLen + s*idxSlotLen); v > count {
			badSlots++
		}
	}
	if badSlots > 0 {
		c.add(Problem{Kind: IndexCorrupt, Path: path, Detail: fmt.Sprintf("%d slots point past the %d entries", badSlots, count)})
	}
	var pastLog, chain, stray int
	first := int64(-1)
	for n := 1; n <= count; n++ {
		_, phy, _, prev := f.entry(n)
		c.rep.IndexEntries++
		switch {
		case prev >= n:
			chain++
		case phy >= c.rep.LogEnd || phy < 0:
			pastLog++
		case phy >= c.rep.LogStart && !c.inRun(phy):
			seg := c.list.find(phy, c.segSize)
			if seg == nil || !claimsOffset(seg, phy) || isQuarantined(seg.data[phy-seg.base:]) {
				stray++
			} else {
				continue
			}
		default:
			continue
		}
		if first < 0 {
			first = int64(n)
		}
	}
	if pastLog > 0 {
		c.add(Problem{Kind: IndexEntryPastLog, Path: path, Offset: c.rep.LogEnd, Detail: fmt.Sprintf("%d entries point past the end of the log (first: entry %d)", pastLog, first)})
	}
	if chain+stray > 0 {
		c.add(Problem{Kind: IndexCorrupt, Path: path, Detail: fmt.Sprintf("%d entries break their hash chain, %d point at no record (first: entry %d)", chain, stray, first)})
	}
}

// checkCheckpoint compares the checkpoint with the log.
func (c *checker) checkCheckpoint(context.Context) error {
	cp, ok, err := readCheckpoint(c.dir)
	if err != nil {
		return err
	}
	if _, serr := os.Stat(filepath.Join(c.dir, "checkpoint")); serr != nil {
		c.note("no checkpoint: the next start verifies and re-indexes the whole log")
		return nil
	}
	switch {
	case !ok:
		c.add(Problem{Kind: CheckpointMismatch, Path: "checkpoint", Detail: "unreadable (bad length or checksum): the next start verifies and re-indexes the whole log"})
	case c.rep.CleanShutdown && cp.SafeOffset != c.rep.LogEnd:
		c.add(Problem{Kind: CheckpointMismatch, Path: "checkpoint", Offset: cp.SafeOffset, Detail: fmt.Sprintf("a clean shutdown's checkpoint says the log ends at %d; it ends at %d", cp.SafeOffset, c.rep.LogEnd)})
	}
	return nil
}
