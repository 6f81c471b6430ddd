// Package embeddedtest starts an embedded name server and broker for a test
// (on free loopback ports, under the test's temporary directory, with small
// store files) and stops it when the test ends.
package embeddedtest

import (
	"context"
	"testing"
	"time"

	"github.com/rocketgo/rocketgo/server/broker"
	"github.com/rocketgo/rocketgo/server/embedded"
)

// Start starts a server configured by embedded.SmallConfig, adjusted by
// mutate, and registers its shutdown with t.Cleanup.
func Start(t testing.TB, mutate ...func(*broker.Config)) *embedded.Server {
	t.Helper()
	cfg := embedded.SmallConfig(t.TempDir())
	for _, m := range mutate {
		m(&cfg)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	srv, err := embedded.StartLocal(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("embedded server shutdown: %v", err)
		}
	})
	return srv
}
