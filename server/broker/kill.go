package broker

import (
	"context"
	"time"
)

// Kill stops the broker the way a crash would, for failover tests that
// cannot afford a child process: every connection drops at once (clients,
// name servers, controllers and slaves see the peer vanish), goroutines
// end, but consumer offsets are not persisted, the broker does not
// unregister, and the store is abandoned without a checkpoint (its next
// Open runs crash recovery). Use Shutdown to stop a broker.
func (b *Broker) Kill() {
	b.shutdown.Do(func() {
		if b.stop == nil {
			return
		}
		if b.ctl != nil && b.ctl.manager != nil {
			b.ctl.manager.Close()
		}
		b.rpc.Close() // controller and name-server connections first: they notice the death
		b.stop()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		b.pulls.stopAll()
		if b.ha != nil {
			b.ha.close(ctx)
		}
		b.server.Shutdown(ctx)
		b.stopSendWorkers()
		b.wg.Wait()
		if b.pop != nil {
			b.pop.Abandon()
		}
		b.store.Abandon()
		b.log.Info("broker killed")
	})
}
