package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
)

// checkpoint records how far the store is known to be durable. SafeOffset is
// the commit-log offset below which the log, the consume queues and the index
// are all on disk; recovery re-verifies and re-dispatches only from there.
// After a clean close it is the exact end of the log.
type checkpoint struct {
	SafeOffset         int64
	PhysicMsgTimestamp int64 // store time of the last record below SafeOffset
	LogicsMsgTimestamp int64
	IndexMsgTimestamp  int64
}

const checkpointLen = 4*8 + 4

func (c checkpoint) encode() []byte {
	b := make([]byte, checkpointLen)
	binary.BigEndian.PutUint64(b[0:], uint64(c.SafeOffset))
	binary.BigEndian.PutUint64(b[8:], uint64(c.PhysicMsgTimestamp))
	binary.BigEndian.PutUint64(b[16:], uint64(c.LogicsMsgTimestamp))
	binary.BigEndian.PutUint64(b[24:], uint64(c.IndexMsgTimestamp))
	binary.BigEndian.PutUint32(b[32:], crc32.ChecksumIEEE(b[:32]))
	return b
}

// readCheckpoint returns the zero checkpoint when the file does not exist or
// does not verify: recovering from offset zero is slow but always correct.
func readCheckpoint(dir string) (checkpoint, bool, error) {
	b, err := os.ReadFile(filepath.Join(dir, "checkpoint"))
	if errors.Is(err, os.ErrNotExist) {
		return checkpoint{}, false, nil
	}
	if err != nil {
		return checkpoint{}, false, fmt.Errorf("store: read checkpoint: %w", err)
	}
	if len(b) != checkpointLen || crc32.ChecksumIEEE(b[:32]) != binary.BigEndian.Uint32(b[32:]) {
		return checkpoint{}, false, nil
	}
	return checkpoint{
		SafeOffset:         int64(binary.BigEndian.Uint64(b[0:])),
		PhysicMsgTimestamp: int64(binary.BigEndian.Uint64(b[8:])),
		LogicsMsgTimestamp: int64(binary.BigEndian.Uint64(b[16:])),
		IndexMsgTimestamp:  int64(binary.BigEndian.Uint64(b[24:])),
	}, true, nil
}

// writeCheckpoint replaces the file atomically (write, fsync, rename), so a
// crash leaves either the old or the new checkpoint, never a torn one.
func writeCheckpoint(dir string, c checkpoint) error {
	tmp := filepath.Join(dir, "checkpoint.tmp")
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return fmt.Errorf("store: write checkpoint: %w", classifyIOError(err))
	}
	_, err = f.Write(c.encode())
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, filepath.Join(dir, "checkpoint"))
	}
	if err != nil {
		return fmt.Errorf("store: write checkpoint: %w", classifyIOError(err))
	}
	return nil
}
