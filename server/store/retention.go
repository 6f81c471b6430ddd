package store

import (
	"context"
	"fmt"
	"syscall"
	"time"

	"github.com/rocketgo/rocketgo/message"
)

// diskUsage is the used fraction of the file system holding dir.
func diskUsage(dir string) (float64, error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return 0, fmt.Errorf("store: statfs %s: %w", dir, err)
	}
	if st.Blocks == 0 {
		return 0, nil
	}
	// Like df: blocks reserved for root count as unavailable.
	used := st.Blocks - st.Bfree
	total := used + st.Bavail
	if total == 0 {
		return 0, nil
	}
	return float64(used) / float64(total), nil
}

// checkDisk refreshes the disk-full flag and reports the usage ratio.
func (s *Store) checkDisk() float64 {
	u, err := s.o.usage(s.cfg.Dir)
	if err != nil {
		s.log.Warn("disk usage probe failed", "err", err)
		return 0
	}
	full := u*100 >= float64(s.cfg.DiskCriticalRatio)
	if full != s.diskFull.Load() {
		if full {
			s.log.Error("disk critically full: refusing writes", "usage", u, "limit", s.cfg.DiskCriticalRatio)
		} else {
			s.log.Info("disk usage back below the critical ratio: accepting writes", "usage", u)
		}
	}
	s.diskFull.Store(full)
	return u
}

func (s *Store) cleanLoop() {
	defer s.wg.Done()
	t := time.NewTicker(s.cfg.CleanInterval)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
			if _, err := s.clean(false); err != nil {
				s.log.Error("retention failed", "err", err)
			}
		}
	}
}

// DeleteExpiredFiles runs retention now. With force, expired segments are
// deleted whatever the hour (RocketMQ's manual delete); without it the usual
// rules apply. It returns the number of commit-log segments deleted.
func (s *Store) DeleteExpiredFiles(ctx context.Context, force bool) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	if s.isClosed.Load() {
		return 0, ErrClosed
	}
	return s.clean(force)
}

// clean deletes commit-log segments that are past FileReservedTime when the
// clock is at DeleteWhen (or force is set), and the oldest segments
// regardless of age while disk usage is above DiskMaxUsedSpaceRatio. The
// segment being written is never deleted. Consume-queue and index files that
// only point below the new minimum follow.
func (s *Store) clean(force bool) (int, error) {
	s.maintMu.Lock()
	defer s.maintMu.Unlock()
	if s.filesClosed {
		return 0, ErrClosed
	}
	usage := s.checkDisk()
	now := s.o.clock()
	spaceFull := usage*100 >= float64(s.cfg.DiskMaxUsedSpaceRatio)
	timeUp := force || now.Hour() == s.cfg.DeleteWhen
	if !timeUp && !spaceFull {
		return 0, nil
	}
	segs := s.cl.load()
	drop := 0
	for i := 0; i+1 < len(segs.files) && drop < DefaultMaxDeleteFilesPerRound; i++ {
		// A segment stopped changing when its successor got its first
		// record, so that record's store time bounds the segment's age.
		lastWrite, ok := s.firstStoreTime(segs.files[i+1])
		expired := ok && now.UnixMilli()-lastWrite >= s.cfg.FileReservedTime.Milliseconds()
		if !(expired && timeUp) && !spaceFull {
			break
		}
		drop++
	}
	if drop == 0 {
		return 0, nil
	}
	newMin := segs.files[drop].base
	s.clMin.Store(newMin)
	s.cl.dropFront(drop)
	s.log.Info("deleted commit-log segments", "count", drop, "minOffset", newMin, "diskUsage", usage)

	s.qmu.RLock()
	qs := make([]*consumeQueue, 0, len(s.queuesR))
	for _, cq := range s.queuesR {
		qs = append(qs, cq)
	}
	s.qmu.RUnlock()
	for _, cq := range qs {
		cq.deleteBelow(newMin)
	}
	if s.ix != nil {
		s.ix.deleteBelow(newMin)
	}
	return drop, nil
}

// firstStoreTime reads the store timestamp of a segment's first record.
func (s *Store) firstStoreTime(f *mappedFile) (int64, bool) {
	if !f.hold() {
		return 0, false
	}
	defer f.release()
	if f.base >= s.wrote.Load() {
		return 0, false
	}
	if n, err := recordAt(f, f.base, false); err != nil || n < 0 {
		return 0, false
	}
	sys := int32(get32(f.data[message.OffSysFlag:]))
	p := message.StoreTimestampOffset(sys)
	return int64(uint64(get32(f.data[p:]))<<32 | uint64(get32(f.data[p+4:]))), true
}
