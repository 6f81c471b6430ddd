package producer

import (
	"context"
	"sort"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rocketgo/rocketgo/message"
)

type testListener struct {
	checks atomic.Int32
}

func (l *testListener) ExecuteLocalTransaction(_ context.Context, m *message.Message, arg any) LocalTransactionState {
	switch string(m.Body) {
	case "commit":
		return CommitMessage
	case "rollback":
		return RollbackMessage
	case "panic":
		panic("local transaction blew up")
	}
	return Unknown
}

func (l *testListener) CheckLocalTransaction(_ context.Context, m *message.MessageExt) LocalTransactionState {
	l.checks.Add(1)
	if string(m.Body) == "unknown" || string(m.Body) == "panic" {
		return CommitMessage
	}
	return RollbackMessage
}

func TestTransactionCommitRollbackCheck(t *testing.T) {
	srv := startServer(t)
	rc := newRC(t)
	createTopicWait(t, rc, srv, "TX", 1)
	l := &testListener{}
	p := newProducer(t, srv, WithGroup("PG_TX"), WithTransactionListener(l))
	ctx := testCtx(t)
	states := map[string]LocalTransactionState{}
	ids := map[string]string{}
	for _, body := range []string{"commit", "rollback", "unknown", "panic"} {
		r, err := p.SendMessageInTransaction(ctx, message.New("TX", []byte(body)).WithTags("tx"), body)
		if err != nil {
			t.Fatal(err)
		}
		states[body] = r.State
		ids[body] = r.MsgID
	}
	if states["commit"] != CommitMessage || states["rollback"] != RollbackMessage || states["unknown"] != Unknown || states["panic"] != Unknown {
		t.Fatalf("states %v", states)
	}
	// commit is visible at once; unknown and panic after a check-back commits them.
	msgs := waitMessages(t, rc, srv.BrokerAddr(), "TX", 1, 3, 15*time.Second)
	var bodies []string
	for _, m := range msgs {
		bodies = append(bodies, string(m.Body))
		if m.UniqKey() != ids[string(m.Body)] || m.Tags() != "tx" {
			t.Fatalf("committed %q: uniq %q want %q, tags %q", m.Body, m.UniqKey(), ids[string(m.Body)], m.Tags())
		}
		if v, _ := m.Property(message.PropertyTransactionPrepared); v != "true" {
			t.Fatalf("committed message lost TRAN_MSG: %q", v)
		}
	}
	sort.Strings(bodies)
	if len(bodies) != 3 || bodies[0] != "commit" || bodies[1] != "panic" || bodies[2] != "unknown" {
		t.Fatalf("visible messages %v; rollback must never appear", bodies)
	}
	if l.checks.Load() < 2 {
		t.Fatalf("%d check-backs, want at least 2", l.checks.Load())
	}
}
