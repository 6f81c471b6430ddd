package broker

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rocketgo/rocketgo/message"
	"github.com/rocketgo/rocketgo/remoting"
	"github.com/rocketgo/rocketgo/remoting/netclient"
	"github.com/rocketgo/rocketgo/server/store"
)

// stall is a store fault: while armed, the next append blocks inside the
// commit-log lock until released — a page cache that cannot keep up.
// slowOnce makes the next append hold the lock that long instead.
type stall struct {
	slowOnce atomic.Int64 // nanoseconds
	armed    atomic.Bool
	entered  chan struct{} // one value per stalled append
	release  chan struct{}
	once     sync.Once
}

// open ends the stall (idempotent).
func (s *stall) open() { s.once.Do(func() { close(s.release) }) }

func newStall() *stall {
	return &stall{entered: make(chan struct{}, 1), release: make(chan struct{})}
}

func (s *stall) hook() {
	if d := s.slowOnce.Swap(0); d > 0 {
		time.Sleep(time.Duration(d)) // the fault itself, not a wait
	}
	if s.armed.CompareAndSwap(true, false) {
		s.entered <- struct{}{}
		<-s.release
	}
}

// overloadBroker starts a broker whose store stalls on demand, with one
// send worker so that a stalled append holds every queued send. It sends
// "warm" (creating the topic) and then reports a stalled append: from then
// on sends go through the queue for inlineCooldown, so the stalls the tests
// arm hit a worker, never the event loop (see inlineSlowAppend).
func overloadBroker(t *testing.T, mutate func(*Config)) (*Broker, *netclient.Client, *stall, func(body string) *remoting.Command) {
	t.Helper()
	st := newStall()
	b, rc := testBrokerWith(t, func(c *Config) {
		c.SendMessageThreadPoolNums = 1
		if mutate != nil {
			mutate(c)
		}
	}, WithStoreOptions(store.WithAppendStall(st.hook)))
	t.Cleanup(st.open) // before the broker's shutdown, which waits for the workers
	sendBody := func(body string) *remoting.Command {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		resp, err := rc.InvokeSync(ctx, b.Addr(), remoting.NewRequest(remoting.SendMessage, sendHeader("Busy", 0, ""), []byte(body)))
		if err != nil {
			t.Errorf("send %s: %v", body, err)
			return nil
		}
		return resp
	}
	if resp := sendBody("warm"); resp == nil || resp.Code != remoting.Success {
		t.Fatalf("warm-up send: %+v", resp)
	}
	// As if the page cache had stalled one append: worker mode for
	// inlineCooldown (TestSendsRunInlineUntilAppendsAreSlow drives the
	// switch through real slow appends).
	b.sends.noteAppend(time.Now(), b.sends.stallHold+time.Millisecond)
	if b.sends.inlineAllowed(time.Now()) {
		t.Fatal("sends still run inline after an append held the lock for osPageCacheBusyTimeOutMills")
	}
	return b, rc, st, sendBody
}

// storedBodies pulls queue 0 of Busy from the start and returns every body.
func storedBodies(t *testing.T, b *Broker, rc *netclient.Client) map[string]bool {
	t.Helper()
	heartbeat(t, rc, b.Addr(), "BusyCG", "Busy", "*")
	bodies := map[string]bool{}
	for off := int64(0); ; {
		pr := invoke(t, rc, b.Addr(), pullRequest("BusyCG", "Busy", 0, off, 0))
		if pr.Code != remoting.Success {
			return bodies
		}
		msgs, err := message.DecodeMessages(pr.Body)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range msgs {
			bodies[string(m.Body)] = true
		}
		off = pullHeader(t, pr).NextBeginOffset
	}
}

func TestPageCacheBusyShedsQueuedSends(t *testing.T) {
	b, rc, st, send := overloadBroker(t, func(c *Config) {
		c.OsPageCacheBusyTimeOutMills = 100 * time.Millisecond
		c.WaitTimeMillsInSendQueue = 10 * time.Second // only the page cache sheds here
	})
	if resp := send("before"); resp == nil || resp.Code != remoting.Success {
		t.Fatalf("send before the stall: %+v", resp)
	}

	st.armed.Store(true)
	var wg sync.WaitGroup
	var first *remoting.Command
	wg.Add(1)
	go func() { defer wg.Done(); first = send("stalled") }()
	<-st.entered

	// Queued behind the stalled append: shed once the lock has been held
	// for osPageCacheBusyTimeOutMills, by the sweeper ([PCBUSY_CLEAN_QUEUE])
	// or, arriving later, at the door ([REJECTREQUEST]).
	const n = 8
	answers := make([]*remoting.Command, n)
	for i := range n {
		wg.Add(1)
		go func() { defer wg.Done(); answers[i] = send(fmt.Sprintf("queued-%d", i)) }()
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		if b.pageCacheBusy() && len(b.sends.tasks) == 0 && b.stats.sendBusy.Load() >= n {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("queued sends not shed: queue %d, shed %d", len(b.sends.tasks), b.stats.sendBusy.Load())
		}
		time.Sleep(5 * time.Millisecond)
	}
	// A send arriving while the page cache is busy is refused at the door.
	if resp := send("refused"); resp == nil || resp.Code != remoting.SystemBusy || resp.Remark != remarkRejectRequest {
		t.Fatalf("send during the stall: %+v", resp)
	}
	st.open()
	wg.Wait()
	if first == nil || first.Code != remoting.Success {
		t.Fatalf("stalled send: %+v", first)
	}
	for i, a := range answers {
		if a == nil || a.Code != remoting.SystemBusy || !strings.HasPrefix(a.Remark, "[PCBUSY_CLEAN_QUEUE]broker busy, start flow control for a while, period in queue: ") {
			t.Fatalf("queued send %d: %+v", i, a)
		}
	}
	// Recovery: the next send is stored.
	if resp := send("after"); resp == nil || resp.Code != remoting.Success {
		t.Fatalf("send after the stall: %+v", resp)
	}
	got := storedBodies(t, b, rc)
	want := map[string]bool{"warm": true, "before": true, "stalled": true, "after": true}
	if len(got) != len(want) {
		t.Fatalf("stored %v, want exactly %v: shed sends must not be stored", got, want)
	}
	for k := range want {
		if !got[k] {
			t.Fatalf("acknowledged %q missing from the store (stored %v)", k, got)
		}
	}
}

func TestSendWaitingTooLongInQueueIsShed(t *testing.T) {
	const wait = 50 * time.Millisecond
	b, rc, st, send := overloadBroker(t, func(c *Config) {
		c.WaitTimeMillsInSendQueue = wait
		c.OsPageCacheBusyTimeOutMills = time.Hour // only the queue wait sheds here
	})
	st.armed.Store(true)
	var wg sync.WaitGroup
	var first *remoting.Command
	wg.Add(1)
	go func() { defer wg.Done(); first = send("stalled") }()
	<-st.entered
	const n = 4
	answers := make([]*remoting.Command, n)
	for i := range n {
		wg.Add(1)
		go func() { defer wg.Done(); answers[i] = send(fmt.Sprintf("queued-%d", i)) }()
	}
	deadline := time.Now().Add(10 * time.Second)
	for len(b.sends.tasks) < n {
		if time.Now().After(deadline) {
			t.Fatalf("only %d sends queued", len(b.sends.tasks))
		}
		time.Sleep(2 * time.Millisecond)
	}
	// Every queued send has now waited at least this long when the worker
	// gets to it.
	queuedBy := time.Now()
	for time.Since(queuedBy) <= wait {
		time.Sleep(5 * time.Millisecond)
	}
	st.open()
	wg.Wait()
	if first == nil || first.Code != remoting.Success {
		t.Fatalf("stalled send: %+v", first)
	}
	for i, a := range answers {
		if a == nil || a.Code != remoting.SystemBusy || !strings.HasPrefix(a.Remark, "[TIMEOUT_CLEAN_QUEUE]broker busy, start flow control for a while, period in queue: ") {
			t.Fatalf("queued send %d: %+v", i, a)
		}
	}
	// Recovery. With a 50 ms queue limit a loaded machine may still shed a
	// send whose worker was scheduled late; each retry has a new body, and
	// only the one acknowledged may be stored.
	after := ""
	for i, deadline := 0, time.Now().Add(10*time.Second); after == ""; i++ {
		body := fmt.Sprintf("after-%d", i)
		resp := send(body)
		switch {
		case resp != nil && resp.Code == remoting.Success:
			after = body
		case resp != nil && resp.Code == remoting.SystemBusy && time.Now().Before(deadline):
		default:
			t.Fatalf("send after the stall: %+v", resp)
		}
	}
	if got := storedBodies(t, b, rc); len(got) != 3 || !got["warm"] || !got["stalled"] || !got[after] {
		t.Fatalf("stored %v, want warm, stalled and %s only", got, after)
	}
}

func TestSendQueueFullIsOverload(t *testing.T) {
	b, _, st, send := overloadBroker(t, func(c *Config) {
		c.SendThreadPoolQueueCapacity = 1
		c.OsPageCacheBusyTimeOutMills = time.Hour
		c.WaitTimeMillsInSendQueue = time.Hour
	})
	st.armed.Store(true)
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); send("stalled") }()
	<-st.entered
	go func() { defer wg.Done(); send("queued") }()
	deadline := time.Now().Add(10 * time.Second)
	for len(b.sends.tasks) < 1 {
		if time.Now().After(deadline) {
			t.Fatal("send not queued")
		}
		time.Sleep(2 * time.Millisecond)
	}
	if resp := send("overflow"); resp == nil || resp.Code != remoting.SystemBusy || resp.Remark != remarkOverload {
		t.Fatalf("send into a full queue: %+v", resp)
	}
	st.open()
	wg.Wait()
}

// TestStalePullAndHeartbeatAreShed: a pull or heartbeat that waited in the
// worker queue longer than its limit is answered SYSTEM_BUSY, not served.
// A limit of 1 ns makes every queued request stale.
func TestStalePullAndHeartbeatAreShed(t *testing.T) {
	b, rc := testBroker(t, func(c *Config) {
		c.WaitTimeMillsInPullQueue = time.Nanosecond
		c.WaitTimeMillsInHeartbeatQueue = time.Nanosecond
	})
	const stale = "[TIMEOUT_CLEAN_QUEUE]broker busy, start flow control for a while, period in queue: "
	if pr := invoke(t, rc, b.Addr(), pullRequest("CG", "Busy", 0, 0, 0)); pr.Code != remoting.SystemBusy || !strings.HasPrefix(pr.Remark, stale) {
		t.Fatalf("stale pull: %d %s", pr.Code, pr.Remark)
	}
	hb := remoting.NewRequest(remoting.HeartBeat, nil, []byte(`{"clientID":"127.0.0.1@stale","consumerDataSet":[],"producerDataSet":[]}`))
	if resp := invoke(t, rc, b.Addr(), hb); resp.Code != remoting.SystemBusy || !strings.HasPrefix(resp.Remark, stale) {
		t.Fatalf("stale heartbeat: %d %s", resp.Code, resp.Remark)
	}
	// With fast failure off the same requests are served.
	b2, rc2 := testBroker(t, func(c *Config) {
		c.WaitTimeMillsInPullQueue = time.Nanosecond
		c.WaitTimeMillsInHeartbeatQueue = time.Nanosecond
		c.BrokerFastFailureEnable = false
	})
	heartbeat(t, rc2, b2.Addr(), "CG", "Busy", "*")
	if resp := send(t, rc2, b2.Addr(), "Busy", 0, "", []byte("x")); resp.Code != remoting.Success {
		t.Fatalf("send with fast failure off: %d %s", resp.Code, resp.Remark)
	}
	if pr := invoke(t, rc2, b2.Addr(), pullRequest("CG", "Busy", 0, 0, 0)); pr.Code != remoting.Success {
		t.Fatalf("pull with fast failure off: %d %s", pr.Code, pr.Remark)
	}
}

// TestSendsRunInlineUntilAppendsAreSlow: while the store is healthy, sends
// to an existing topic are served on the event loop; one append that held
// the commit-log lock longer than inlineSlowAppend does not change that,
// slowBurst of them in a row send everything through the worker queue.
// Every send is stored either way.
func TestSendsRunInlineUntilAppendsAreSlow(t *testing.T) {
	st := newStall()
	b, rc := testBrokerWith(t, nil, WithStoreOptions(store.WithAppendStall(st.hook)))
	t.Cleanup(st.open)
	sendOK := func(body string) {
		t.Helper()
		if resp := send(t, rc, b.Addr(), "Busy", 0, "", []byte(body)); resp.Code != remoting.Success {
			t.Fatalf("send %s: %d %s", body, resp.Code, resp.Remark)
		}
	}
	expect := func(what string, n int, inline bool) {
		t.Helper()
		inlined, queued := b.sends.inlined.Load(), b.sends.queued.Load()
		for i := range n {
			sendOK(fmt.Sprintf("%s-%d", what, i))
		}
		di, dq := b.sends.inlined.Load()-inlined, b.sends.queued.Load()-queued
		if inline && (di != int64(n) || dq != 0) || !inline && (dq != int64(n) || di != 0) {
			t.Fatalf("%s: %d sends inline, %d queued, want all %s", what, di, dq, map[bool]string{true: "inline", false: "queued"}[inline])
		}
	}
	sendOK("create") // auto-creates the topic: on a worker
	expect("healthy", 5, true)
	sent := 6
	// The default osPageCacheBusyTimeOutMills (1 s) is well above these
	// holds: only their number switches the mode.
	for i := range slowBurst {
		st.slowOnce.Store(int64(3 * inlineSlowAppend / 2))
		sendOK(fmt.Sprintf("slow-%d", i))
		sent++
		if i < slowBurst-1 {
			expect(fmt.Sprintf("after-slow-%d", i), 2, true)
			sent += 2
		}
	}
	expect("after-burst", 3, false)
	sent += 3
	if got := b.sends.toWorkers.Load(); got != 1 {
		t.Fatalf("switched to worker mode %d times, want 1", got)
	}
	if got := storedBodies(t, b, rc); len(got) != sent {
		t.Fatalf("stored %d messages, want %d: %v", len(got), sent, got)
	}
}

// TestSendModeHysteresis drives the mode switch with made-up hold times:
// one outlier keeps sends inline, a burst or one stall-length hold sends
// them to the workers, a hold seen twice counts once, and sends return
// inline only after inlineCooldown without a slow hold.
func TestSendModeHysteresis(t *testing.T) {
	t0 := time.Unix(1_000_000, 0)
	at := func(d time.Duration) time.Time { return t0.Add(d) }
	slow := 2 * inlineSlowAppend
	const stallHold = time.Second

	t.Run("one outlier", func(t *testing.T) {
		q := newSendQueue(1, stallHold)
		q.noteAppend(at(0), slow)
		q.noteAppend(at(5*time.Second), slow) // far apart: not a burst
		q.noteAppend(at(10*time.Second), inlineSlowAppend)
		if !q.inlineAllowed(at(10*time.Second + time.Millisecond)) {
			t.Fatal("isolated slow holds switched to worker mode")
		}
	})
	t.Run("burst", func(t *testing.T) {
		q := newSendQueue(1, stallHold)
		for i := range slowBurst {
			switched := q.noteAppend(at(time.Duration(i)*slowWindow/slowBurst), slow)
			want := i < slowBurst-1 // inline until the burst is complete
			if switched == want {
				t.Fatalf("slow hold %d reported switched = %v", i+1, switched)
			}
			if got := q.inlineAllowed(at(slowWindow)); got != want {
				t.Fatalf("after %d slow holds inline allowed = %v, want %v", i+1, got, want)
			}
		}
		end := at((slowBurst-1)*slowWindow/slowBurst + slow)
		if q.inlineAllowed(end.Add(inlineCooldown - time.Millisecond)) {
			t.Fatal("inline before the cooldown passed")
		}
		if !q.inlineAllowed(end.Add(inlineCooldown + time.Millisecond)) {
			t.Fatal("still in worker mode after a quiet cooldown")
		}
		if q.toWorkers.Load() != 1 {
			t.Fatalf("toWorkers = %d", q.toWorkers.Load())
		}
	})
	t.Run("same hold seen repeatedly", func(t *testing.T) {
		q := newSendQueue(1, stallHold)
		// The sweeper sees one 400 ms hold at three ticks, then the
		// inline sender that held it reports it: one hold, not four.
		for _, tick := range []time.Duration{150, 250, 350} {
			q.noteAppend(at(0), tick*time.Millisecond)
		}
		q.noteAppend(at(-time.Millisecond), 401*time.Millisecond)
		if !q.inlineAllowed(at(time.Second)) {
			t.Fatal("one hold reported four times counted as a burst")
		}
	})
	t.Run("stall", func(t *testing.T) {
		q := newSendQueue(1, stallHold)
		// Growing ticks of one hold: it switches once it reaches stallHold.
		q.noteAppend(at(0), stallHold/2)
		if !q.inlineAllowed(at(stallHold / 2)) {
			t.Fatal("a hold shorter than stallHold switched alone")
		}
		q.noteAppend(at(0), stallHold)
		if q.inlineAllowed(at(stallHold)) {
			t.Fatal("a stall-length hold left sends inline")
		}
	})
	t.Run("worker mode extends on any slow hold", func(t *testing.T) {
		q := newSendQueue(1, stallHold)
		q.noteAppend(at(0), stallHold)
		// One outlier while in worker mode keeps it there: leaving takes
		// a full quiet cooldown.
		if q.noteAppend(at(8*time.Second), slow) {
			t.Fatal("a slow hold in worker mode reported a switch")
		}
		if q.inlineAllowed(at(stallHold + inlineCooldown + time.Millisecond)) {
			t.Fatal("worker mode ended although a slow hold came during the cooldown")
		}
		if !q.inlineAllowed(at(8*time.Second + slow + inlineCooldown + time.Millisecond)) {
			t.Fatal("worker mode outlasted a quiet cooldown")
		}
		if q.toWorkers.Load() != 1 {
			t.Fatalf("toWorkers = %d, want 1", q.toWorkers.Load())
		}
	})
}

// Sends arrive on the event loop with bodies in the connection's read
// buffer; a send queued for a worker must take its body along (KeepBody),
// because the loop reads the next frames into the same buffer while the
// worker is still busy. Same-sized bodies queued behind a stalled append
// are all stored as sent.
func TestQueuedSendsKeepTheirBodies(t *testing.T) {
	b, rc, st, send := overloadBroker(t, func(c *Config) {
		c.WaitTimeMillsInSendQueue = 10 * time.Second
		c.OsPageCacheBusyTimeOutMills = 10 * time.Second
	})
	st.armed.Store(true)
	var wg sync.WaitGroup
	const n = 6
	bodies := make([]string, n)
	answers := make([]*remoting.Command, n)
	for i := range n {
		bodies[i] = strings.Repeat(string(rune('a'+i)), 4096)
		wg.Add(1)
		go func() { defer wg.Done(); answers[i] = send(bodies[i]) }()
		if i == 0 {
			<-st.entered // the worker holds the first; the rest queue behind it
			continue
		}
		// One at a time, so that each arrives in a read of its own.
		deadline := time.Now().Add(10 * time.Second)
		for len(b.sends.tasks) < i {
			if time.Now().After(deadline) {
				t.Fatalf("only %d sends queued", len(b.sends.tasks))
			}
			time.Sleep(time.Millisecond)
		}
	}
	st.open()
	wg.Wait()
	for i, a := range answers {
		if a == nil || a.Code != remoting.Success {
			t.Fatalf("send %d: %+v", i, a)
		}
	}
	got := storedBodies(t, b, rc)
	for i, body := range bodies {
		if !got[body] {
			t.Errorf("body %d (%c…) not stored as sent", i, body[0])
		}
	}
}

// TestSendQueuedAtOnceWhileLockHeld: a send that arrives while another
// append holds the commit-log lock goes to the send workers without an
// inline try (which would prepare and encode it only to be refused), and
// is stored once the lock is free.
func TestSendQueuedAtOnceWhileLockHeld(t *testing.T) {
	st := newStall()
	b, rc := testBrokerWith(t, nil, WithStoreOptions(store.WithAppendStall(st.hook)))
	t.Cleanup(st.open)
	if resp := send(t, rc, b.Addr(), "Busy", 0, "", []byte("create")); resp.Code != remoting.Success {
		t.Fatalf("create: %d %s", resp.Code, resp.Remark)
	}
	if resp := send(t, rc, b.Addr(), "Busy", 0, "", []byte("free")); resp.Code != remoting.Success || b.sends.lockBusy.Load() != 0 {
		t.Fatalf("send with the lock free: code %d, %d queued for a held lock", resp.Code, b.sends.lockBusy.Load())
	}
	inlined := b.sends.inlined.Load()

	st.armed.Store(true)
	held := make(chan error, 1)
	go func() {
		_, err := b.store.Append(context.Background(), &message.StoredMessage{Topic: "Busy", Body: []byte("holder"), StoreHost: b.storeHost, BornHost: b.storeHost})
		held <- err
	}()
	<-st.entered
	sent := make(chan *remoting.Command, 1)
	go func() { sent <- send(t, rc, b.Addr(), "Busy", 0, "", []byte("while-held")) }()
	deadline := time.Now().Add(10 * time.Second)
	for b.sends.lockBusy.Load() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the send was not queued for the held lock")
		}
		time.Sleep(time.Millisecond)
	}
	st.open()
	if err := <-held; err != nil {
		t.Fatal(err)
	}
	if resp := <-sent; resp.Code != remoting.Success {
		t.Fatalf("send while held: %d %s", resp.Code, resp.Remark)
	}
	if got := b.sends.inlined.Load() - inlined; got != 0 {
		t.Fatalf("%d sends ran inline while the lock was held", got)
	}
	if got := storedBodies(t, b, rc); !got["while-held"] || !got["holder"] || len(got) != 4 {
		t.Fatalf("stored %v", got)
	}
}
