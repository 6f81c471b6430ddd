package client_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rocketgo/rocketgo/client"
	"github.com/rocketgo/rocketgo/consumer"
	"github.com/rocketgo/rocketgo/message"
	"github.com/rocketgo/rocketgo/producer"
	"github.com/rocketgo/rocketgo/remoting"
	"github.com/rocketgo/rocketgo/server/embedded/embeddedtest"
)

// recorder implements every hook interface and counts what it saw.
type recorder struct {
	mu        sync.Mutex
	connects  []string
	connErrs  int
	discs     int
	written   map[int16]int
	read      map[int16]int
	readErrs  int
	sends     []string
	sendErrs  int
	pulls     int
	pulledMsg int
	minLat    time.Duration
	received  map[string]int // group/topic
}

func newRecorder() *recorder {
	return &recorder{written: map[int16]int{}, read: map[int16]int{}, minLat: time.Hour, received: map[string]int{}}
}

func (r *recorder) OnConnect(addr string, _ time.Duration, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err != nil {
		r.connErrs++
		return
	}
	r.connects = append(r.connects, addr)
}

func (r *recorder) OnDisconnect(string, error) {
	r.mu.Lock()
	r.discs++
	r.mu.Unlock()
}

func (r *recorder) OnRequestWritten(_ string, code int16, n int, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err == nil && n > 0 {
		r.written[code]++
	}
}

func (r *recorder) OnResponseRead(_ string, code int16, resp *remoting.Command, lat time.Duration, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err != nil || resp == nil {
		r.readErrs++
		return
	}
	r.read[code]++
	r.minLat = min(r.minLat, lat)
}

func (r *recorder) OnSend(topic string, n int, _ time.Duration, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err != nil {
		r.sendErrs++
		return
	}
	for range n {
		r.sends = append(r.sends, topic)
	}
}

func (r *recorder) OnPull(_, _ string, _ int32, n int, _ time.Duration, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err == nil {
		r.pulls++
		r.pulledMsg += n
	}
}

func (r *recorder) OnReceive(group, topic string, delivery time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if delivery >= 0 && delivery < time.Minute {
		r.received[group+"/"+topic]++
	}
}

// connectOnly implements a single hook, to show hooks may pick a subset.
type connectOnly struct{ n *atomic.Int32 }

func (c connectOnly) OnConnect(string, time.Duration, error) { c.n.Add(1) }

func TestHooksSeeConnectionsRequestsSendsAndPulls(t *testing.T) {
	srv := embeddedtest.Start(t)
	rec := newRecorder()
	var connects atomic.Int32
	cl, err := client.New(client.WithNameServers(srv.NamesrvAddr()), client.WithHooks(rec, connectOnly{&connects}))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	p, err := producer.New(producer.WithClient(cl), producer.WithGroup("hooks-pg"))
	if err != nil {
		t.Fatal(err)
	}
	const topic = "HookTopic"
	for i := range 3 {
		if _, err := p.SendSync(ctx, message.New(topic, []byte{byte('a' + i)})); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}

	c, err := consumer.NewLitePull(consumer.WithClient(cl), consumer.WithGroup("hooks-cg"),
		consumer.WithConsumeFrom(consumer.ConsumeFromFirstOffset))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Subscribe(topic, "*"); err != nil {
		t.Fatal(err)
	}
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	got := 0
	for got < 3 && ctx.Err() == nil {
		pctx, pcancel := context.WithTimeout(ctx, time.Second)
		msgs, err := c.Poll(pctx)
		pcancel()
		if err != nil && !errors.Is(err, context.DeadlineExceeded) {
			t.Fatal(err)
		}
		got += len(msgs)
	}
	if err := c.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got != 3 {
		t.Fatalf("polled %d messages, want 3", got)
	}

	rec.mu.Lock()
	defer rec.mu.Unlock()
	if len(rec.connects) < 2 { // a name server and a broker at least
		t.Errorf("connects %v, want the name server and the broker", rec.connects)
	}
	if int(connects.Load()) != len(rec.connects)+rec.connErrs {
		t.Errorf("single-interface hook saw %d connects, full hook %d", connects.Load(), len(rec.connects)+rec.connErrs)
	}
	for _, code := range []int16{remoting.GetRouteInfoByTopic, remoting.SendMessageV2, remoting.PullMessage} {
		if rec.written[code] == 0 || rec.read[code] == 0 {
			t.Errorf("code %s: written %d, read %d", remoting.CodeName(code, false), rec.written[code], rec.read[code])
		}
	}
	if rec.minLat <= 0 {
		t.Errorf("response latency %v", rec.minLat)
	}
	if len(rec.sends) != 3 || rec.sendErrs != 0 || rec.sends[0] != topic {
		t.Errorf("sends %v, errors %d", rec.sends, rec.sendErrs)
	}
	if rec.pulls == 0 || rec.pulledMsg != 3 {
		t.Errorf("pull hook saw %d pulls with %d messages, want 3 messages", rec.pulls, rec.pulledMsg)
	}
	if rec.received["hooks-cg/"+topic] != 3 || len(rec.received) != 1 {
		t.Errorf("receive hook saw %v, want 3 messages of hooks-cg/%s with a delivery latency under a minute", rec.received, topic)
	}
}

func TestDisconnectHookOnClose(t *testing.T) {
	srv := embeddedtest.Start(t)
	rec := newRecorder()
	cl, err := client.New(client.WithNameServers(srv.NamesrvAddr()), client.WithHooks(rec))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req := remoting.NewRequest(remoting.GetBrokerClusterInfo, nil, nil)
	resp, addr, err := cl.NameServerRequest(ctx, req)
	if err != nil || resp.Code != remoting.Success || addr != srv.NamesrvAddr() {
		t.Fatalf("name server request: %v %v %q", resp, err, addr)
	}
	if err := cl.Close(); err != nil {
		t.Fatal(err)
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if len(rec.connects) != 1 || rec.discs != 1 {
		t.Errorf("connects %v, disconnects %d, want one of each", rec.connects, rec.discs)
	}
}

func TestNoNameServer(t *testing.T) {
	if _, err := client.New(); !errors.Is(err, client.ErrNoNameServer) {
		t.Fatalf("New without name servers: %v", err)
	}
}
