package store

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"
)

// FlushDiskType selects when an append counts as durable.
type FlushDiskType int

const (
	// AsyncFlush acknowledges after the record is in the page cache; a
	// background flusher writes it out every FlushInterval (RocketMQ's
	// default ASYNC_FLUSH).
	AsyncFlush FlushDiskType = iota
	// SyncFlush acknowledges only once an fsync covers the record. Appends
	// waiting at the same moment share one fsync (group commit).
	SyncFlush
)

func (t FlushDiskType) String() string {
	if t == SyncFlush {
		return "SYNC_FLUSH"
	}
	return "ASYNC_FLUSH"
}

// Defaults, copied from RocketMQ's MessageStoreConfig.
const (
	DefaultCommitLogSegmentSize       = 1 << 30
	DefaultConsumeQueueEntriesPerFile = 300_000
	DefaultFlushInterval              = 500 * time.Millisecond
	DefaultFlushLeastPages            = 4
	DefaultSyncFlushTimeout           = 5 * time.Second
	DefaultCheckpointInterval         = time.Second
	DefaultIndexSlots                 = 5_000_000
	DefaultIndexEntries               = 20_000_000
	DefaultFileReservedTime           = 72 * time.Hour
	DefaultDeleteWhen                 = 4
	DefaultDiskMaxUsedSpaceRatio      = 75
	DefaultDiskCriticalRatio          = 90
	DefaultMaxMessageSize             = 4 << 20
	DefaultCleanInterval              = 10 * time.Second
	DefaultMaxDeleteFilesPerRound     = 10
	DefaultRecoveryVerifyBytes        = 256 << 20
	DefaultCleanRecoveryVerifyBytes   = 32 << 20
)

// Config configures a Store. Zero fields take the documented default.
type Config struct {
	// Dir holds commitlog/, consumequeue/, index/, checkpoint and abort.
	Dir string
	// CommitLogSegmentSize is the size of each commit-log file (1 GiB).
	CommitLogSegmentSize int64
	// ConsumeQueueEntriesPerFile is the number of 20-byte entries per
	// consume-queue file (300,000).
	ConsumeQueueEntriesPerFile int
	// FlushDiskType is AsyncFlush (default) or SyncFlush.
	FlushDiskType FlushDiskType
	// FlushInterval is the async flusher's period (500 ms).
	FlushInterval time.Duration
	// FlushLeastPages: the async flusher skips a round with fewer dirty
	// pages than this (4), except for a thorough flush every 10 s.
	FlushLeastPages int
	// SyncFlushTimeout bounds the wait for a group commit (5 s); past it the
	// append reports FlushDiskTimeout.
	SyncFlushTimeout time.Duration
	// CheckpointInterval is how often consume queues and the index are
	// flushed and the checkpoint rewritten (1 s).
	CheckpointInterval time.Duration
	// IndexSlots and IndexEntries size each index file (5 M / 20 M).
	// IndexEntries < 0 disables the key index.
	IndexSlots, IndexEntries int
	// WideIndexTopics lists topics whose messages may add up to
	// maxKeysPerWideMessage index entries each instead of
	// maxKeysPerMessage: the message-trace topic, whose messages carry the
	// ids and keys of every record they batch. Default none.
	WideIndexTopics []string
	// FileReservedTime is how long commit-log segments are kept (72 h).
	FileReservedTime time.Duration
	// DeleteWhen is the hour of day expired files are deleted (4). Use 24
	// for midnight, since 0 selects the default.
	DeleteWhen int
	// DiskMaxUsedSpaceRatio (percent, 75): above it old segments are
	// deleted at once, whatever the hour or their age.
	DiskMaxUsedSpaceRatio int
	// DiskCriticalRatio (percent, 90): above it appends fail with ErrDiskFull.
	DiskCriticalRatio int
	// MaxMessageSize bounds one stored record, and one batch (4 MiB, or
	// the segment size less 8 bytes when that is smaller).
	MaxMessageSize int
	// CleanInterval is the retention check period (10 s).
	CleanInterval time.Duration
	// RecoveryVerifyBytes is how much of the log before the checkpoint
	// Open re-verifies record by record (layout and body CRC) after a crash
	// (256 MiB). It bounds restart time whatever the store size; older
	// records are verified when they are read. Negative verifies the whole
	// log, after a clean shutdown too.
	RecoveryVerifyBytes int64
	// CleanRecoveryVerifyBytes is the same window after a clean shutdown
	// (32 MiB). Close fsynced the log and wrote the checkpoint at its end,
	// so only damage done to the files since can be found there, and reads
	// verify every record anyway; walking 256 MiB cost most of a clean
	// restart (record parsing, about 1 s on a busy 2-core machine), as
	// upstream too checks only the last files after a normal shutdown.
	// Negative verifies the whole log.
	CleanRecoveryVerifyBytes int64
}

func (c Config) withDefaults() (Config, error) {
	if c.Dir == "" {
		return c, fmt.Errorf("%w: Dir is required", ErrInvalidConfig)
	}
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	defDur := func(v *time.Duration, d time.Duration) {
		if *v == 0 {
			*v = d
		}
	}
	if c.CommitLogSegmentSize == 0 {
		c.CommitLogSegmentSize = DefaultCommitLogSegmentSize
	}
	def(&c.ConsumeQueueEntriesPerFile, DefaultConsumeQueueEntriesPerFile)
	def(&c.FlushLeastPages, DefaultFlushLeastPages)
	def(&c.IndexSlots, DefaultIndexSlots)
	def(&c.IndexEntries, DefaultIndexEntries)
	def(&c.DeleteWhen, DefaultDeleteWhen)
	def(&c.DiskMaxUsedSpaceRatio, DefaultDiskMaxUsedSpaceRatio)
	def(&c.DiskCriticalRatio, DefaultDiskCriticalRatio)
	if c.MaxMessageSize == 0 {
		// Small segments (tests, embedded use) shrink the default limit
		// rather than failing: a record must fit one segment.
		c.MaxMessageSize = int(min(DefaultMaxMessageSize, c.CommitLogSegmentSize-blankLen))
	}
	if c.RecoveryVerifyBytes == 0 {
		c.RecoveryVerifyBytes = DefaultRecoveryVerifyBytes
	}
	if c.CleanRecoveryVerifyBytes == 0 {
		c.CleanRecoveryVerifyBytes = DefaultCleanRecoveryVerifyBytes
	}
	if c.RecoveryVerifyBytes < 0 {
		c.CleanRecoveryVerifyBytes = c.RecoveryVerifyBytes
	}
	defDur(&c.FlushInterval, DefaultFlushInterval)
	defDur(&c.SyncFlushTimeout, DefaultSyncFlushTimeout)
	defDur(&c.CheckpointInterval, DefaultCheckpointInterval)
	defDur(&c.FileReservedTime, DefaultFileReservedTime)
	defDur(&c.CleanInterval, DefaultCleanInterval)
	switch {
	case c.CommitLogSegmentSize < 4096:
		return c, fmt.Errorf("%w: CommitLogSegmentSize %d < 4096", ErrInvalidConfig, c.CommitLogSegmentSize)
	case c.ConsumeQueueEntriesPerFile < 1:
		return c, fmt.Errorf("%w: ConsumeQueueEntriesPerFile %d", ErrInvalidConfig, c.ConsumeQueueEntriesPerFile)
	case c.MaxMessageSize < 128 || int64(c.MaxMessageSize)+blankLen > c.CommitLogSegmentSize:
		return c, fmt.Errorf("%w: MaxMessageSize %d must fit a %d-byte segment", ErrInvalidConfig, c.MaxMessageSize, c.CommitLogSegmentSize)
	case c.IndexEntries > 0 && c.IndexSlots < 1:
		return c, fmt.Errorf("%w: IndexSlots %d", ErrInvalidConfig, c.IndexSlots)
	case c.DeleteWhen < 0 || c.DeleteWhen > 24:
		return c, fmt.Errorf("%w: DeleteWhen %d is not an hour", ErrInvalidConfig, c.DeleteWhen)
	case c.FlushDiskType != AsyncFlush && c.FlushDiskType != SyncFlush:
		return c, fmt.Errorf("%w: FlushDiskType %d", ErrInvalidConfig, c.FlushDiskType)
	}
	if c.DeleteWhen == 24 {
		c.DeleteWhen = 0
	}
	return c, nil
}

// Sentinel errors. Every returned error wraps one of these (or an I/O error
// from the operating system) with context.
var (
	ErrInvalidConfig  = errors.New("store: invalid config")
	ErrClosed         = errors.New("store: closed")
	ErrDiskFull       = errors.New("store: disk full")
	ErrMessageTooBig  = errors.New("store: message too large")
	ErrInvalidMessage = errors.New("store: invalid message")
	ErrNotFound       = errors.New("store: not found")
	ErrCorruptStore   = errors.New("store: corrupt store files")
	// ErrWouldBlock is TryAppendAsync's answer when the append lock is
	// held by another append or the append needs a new file: nothing was
	// stored, and the caller should append from a goroutine that may wait.
	ErrWouldBlock = errors.New("store: append would block")
)

// ArrivalListener is told about every consume-queue entry right after it
// became readable (the broker wakes long-polling pulls with it). It runs on
// the appending goroutine and must not block.
type ArrivalListener func(topic string, queueID int32, queueOffset int64, tagsCode int64)

// TagsCodeFunc lets the broker override a record's consume-queue tag code
// (the delay topic stores the due time there). def is the default code:
// TagsHashCode of the TAGS property, 0 without one. It runs under the append
// lock and must be fast.
type TagsCodeFunc func(topic string, properties []byte, storeTimestamp int64, def int64) int64

// Option customises a Store.
type Option func(*options)

type options struct {
	logger   *slog.Logger
	arrival  ArrivalListener
	tagsCode TagsCodeFunc
	clock    func() time.Time
	// wallClock: clock is time.Now (no WithClock), so an append may use
	// the time it read when it took the lock instead of reading it again.
	wallClock bool
	usage     func(dir string) (float64, error)
	alloc     allocFunc
	// beforeSync, when set (by tests), runs before every commit-log flush;
	// blocking in it simulates a hung disk.
	beforeSync func()
	// readAheadOnAppend (benchmarks only) leaves read-ahead on for the
	// segment being appended to, to measure what adviseAppend saves.
	readAheadOnAppend bool
	// noSpare (benchmarks only) creates every commit-log segment in the
	// append path, as before spares (spare.go), to measure what they save.
	noSpare bool
	// onWriteback, when set (by tests), runs on the write-back goroutine
	// after each range it started (writeback.go).
	onWriteback func(from, to int64)
	// inAppendLock, when set (WithAppendStall), runs while an append holds
	// the commit-log lock.
	inAppendLock func()
	// repair (Repair only) makes recovery rebuild every consume-queue and
	// index entry from the whole log and quarantine damaged runs.
	repair bool
}

// WithLogger sets the logger (default: discard everything).
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.logger = l } }

// WithArrivalListener registers the new-message hook (default: none).
func WithArrivalListener(f ArrivalListener) Option { return func(o *options) { o.arrival = f } }

// WithTagsCodeFunc overrides how tag codes are computed (default: tag hash).
func WithTagsCodeFunc(f TagsCodeFunc) Option { return func(o *options) { o.tagsCode = f } }

// WithClock replaces time.Now for store timestamps and retention decisions.
func WithClock(now func() time.Time) Option { return func(o *options) { o.clock = now } }

// WithDiskUsageFunc replaces the statfs-based disk usage probe; it returns
// the used fraction in [0, 1] of the file system holding dir.
func WithDiskUsageFunc(f func(dir string) (float64, error)) Option {
	return func(o *options) { o.usage = f }
}

// WithAppendStall registers f to run inside every append's ordered section,
// with the commit-log lock held: fault injection for tests of overload
// handling (a blocking f is a page cache that cannot keep up). Default none.
func WithAppendStall(f func()) Option { return func(o *options) { o.inAppendLock = f } }

func buildOptions(opts []Option) options {
	o := options{
		logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		usage:  diskUsage,
		alloc:  fallocate,
	}
	for _, opt := range opts {
		if opt != nil {
			opt(&o)
		}
	}
	if o.clock == nil {
		o.clock, o.wallClock = time.Now, true
	}
	return o
}
