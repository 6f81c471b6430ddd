package embedded_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rocketgo/rocketgo/message"
	"github.com/rocketgo/rocketgo/producer"
	"github.com/rocketgo/rocketgo/server/embedded"
)

// TestClassicStoreJoinsControllerMode upgrades a classic master/slave pair:
// both stores hold the same log and no epoch file (the slave's is a copy of
// the master's, as a caught-up classic slave's would be). Started in
// controller mode, whichever is elected, the other must replicate from it
// without truncating anything, every classic message must stay readable,
// and both must record the classic log as epoch 0 from offset 0.
func TestClassicStoreJoinsControllerMode(t *testing.T) {
	dir := t.TempDir()
	const topic, classic = "Upgraded", 40
	cfg := fastFailover(dir, 1, 2)

	bc := cfg.Broker
	bc.BrokerName = "broker-a"
	bc.StorePathRootDir = filepath.Join(dir, "broker-0")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	srv, err := embedded.Start(ctx, embedded.Config{Host: "127.0.0.1", NamesrvPort: -1, BrokerPort: -1, Broker: bc})
	if err != nil {
		t.Fatal(err)
	}
	p, err := producer.New(producer.WithNameServers(srv.NamesrvAddr()), producer.WithGroup("upgrade"))
	if err != nil {
		t.Fatal(err)
	}
	for i := range classic {
		if res, err := p.SendSync(ctx, message.New(topic, []byte(fmt.Sprint("classic-", i)))); err != nil || res.Status != producer.SendOK {
			t.Fatalf("classic send %d: %v %v", i, res, err)
		}
	}
	p.Shutdown(ctx)
	if err := srv.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if err := os.CopyFS(filepath.Join(dir, "broker-1"), os.DirFS(filepath.Join(dir, "broker-0"))); err != nil {
		t.Fatal(err)
	}

	c := startCluster(t, cfg)
	_, m := waitInSync(t, c, 2, 30*time.Second)
	p2, err := producer.New(producer.WithNameServers(c.NamesrvAddr()), producer.WithGroup("upgrade-2"))
	if err != nil {
		t.Fatal(err)
	}
	defer p2.Shutdown(context.Background())
	for i := range 10 {
		if res, err := p2.SendSync(ctx, message.New(topic, []byte(fmt.Sprint("controller-", i)))); err != nil || res.Status != producer.SendOK {
			t.Fatalf("controller-mode send %d: %v %v", i, res, err)
		}
	}
	got := storedIDs(t, m.Addr(), topic, 4) // auto-created with 4 queues
	for i := range classic {
		if id := fmt.Sprint("classic-", i); got[id] != 1 {
			t.Fatalf("%s read %d times from the master", id, got[id])
		}
	}
	for i := range 10 {
		if id := fmt.Sprint("controller-", i); got[id] != 1 {
			t.Fatalf("%s read %d times from the master", id, got[id])
		}
	}
	if a, b := c.Broker(0).LogEnd(), c.Broker(1).LogEnd(); a != b {
		deadline := time.Now().Add(10 * time.Second)
		for a != b && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
			a, b = c.Broker(0).LogEnd(), c.Broker(1).LogEnd()
		}
		if a != b {
			t.Fatalf("log ends differ: %d and %d", a, b)
		}
	}
	// The slave learns epoch 1 from the stream, with the first record of it.
	for i := range 2 {
		b, err := os.ReadFile(filepath.Join(dir, fmt.Sprintf("broker-%d", i), "epochFileCheckpoint"))
		if err != nil {
			t.Fatal(err)
		}
		if lines := strings.Fields(string(b)); len(lines) < 2 || lines[0] != "0-0" {
			t.Fatalf("broker %d epoch file %q: want the classic log as 0-0, then the first controller epoch", i, b)
		}
	}
}
