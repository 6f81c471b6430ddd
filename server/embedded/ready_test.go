package embedded_test

import (
	"context"
	"errors"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/rocketgo/rocketgo/internal/nsclient"
	"github.com/rocketgo/rocketgo/message"
	"github.com/rocketgo/rocketgo/producer"
	"github.com/rocketgo/rocketgo/remoting"
	"github.com/rocketgo/rocketgo/remoting/netclient"
	"github.com/rocketgo/rocketgo/server/embedded"
)

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// TestClientStartedWithServerNeverSeesMissingTopic asks the name server for
// a topic's route from before Start is called until it answers: while the
// broker recovers its store the name server already accepts connections,
// and none of its answers may say the broker's topic does not exist.
func TestClientStartedWithServerNeverSeesMissingTopic(t *testing.T) {
	const topic = "ReadyTopic"
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	// A first run creates the topic (auto-create on the first send).
	srv, err := embedded.StartLocal(ctx, embedded.SmallConfig(dir))
	if err != nil {
		t.Fatal(err)
	}
	p, err := producer.New(producer.WithNameServers(srv.NamesrvAddr()), producer.WithGroup("ready-pg"))
	if err == nil {
		_, err = p.SendSync(ctx, message.New(topic, []byte("before the restart")))
		p.Shutdown(context.Background())
	}
	if err != nil {
		srv.Shutdown(context.Background())
		t.Fatal(err)
	}
	if err := srv.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}

	port := freePort(t)
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	rc := netclient.New()
	defer rc.Close()
	ns, err := nsclient.New(rc, addr, nsclient.WithTimeout(10*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	type result struct {
		answers, refused int
		missing          error
	}
	done := make(chan result, 1)
	go func() {
		var r result
		for ctx.Err() == nil {
			_, err := ns.Route(ctx, topic)
			switch {
			case err == nil:
				r.answers++
				done <- r
				return
			case errors.Is(err, remoting.ErrTopicNotExist):
				r.answers++
				r.missing = err
				done <- r
				return
			}
			r.refused++ // not listening yet
			time.Sleep(time.Millisecond)
		}
		done <- r
	}()

	srv, err = embedded.Start(ctx, embedded.Config{Host: "127.0.0.1", NamesrvPort: port, BrokerPort: -1, Broker: embedded.SmallConfig(dir)})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown(context.Background())
	r := <-done
	if r.missing != nil {
		t.Fatalf("the name server answered before its broker registered: %v", r.missing)
	}
	if r.answers != 1 {
		t.Fatalf("no route answer before the deadline (%d refused connections)", r.refused)
	}
	t.Logf("route found after %d refused connection attempts", r.refused)
}
