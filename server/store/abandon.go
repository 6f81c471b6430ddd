package store

// Abandon stops the store as a crash of its process would leave it: its
// goroutines end and its files are unmapped, but nothing more is flushed,
// no checkpoint is written and the abort marker stays, so the next Open
// runs crash recovery. What the page cache holds survives, as it survives
// a kill -9 (the operating system does not crash). It exists for failover
// tests that kill a broker in-process; Close is the way to stop a store.
func (s *Store) Abandon() {
	s.closeOnce.Do(func() {
		s.appendMu.Lock()
		s.closed = true
		s.isClosed.Store(true)
		s.appendMu.Unlock()
		close(s.stop)
		s.wg.Wait()
		s.fmu.Lock()
		reqs := s.pending
		s.pending, s.pendingLate = nil, nil
		s.flushClosed = true
		s.fmu.Unlock()
		completeAll(reqs, ErrClosed)
		s.maintMu.Lock()
		s.filesClosed = true
		s.closeFiles()
		s.maintMu.Unlock()
		s.closeErr = ErrClosed
	})
}
