package producer

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rocketgo/rocketgo/client"
	iclient "github.com/rocketgo/rocketgo/internal/client"
	"github.com/rocketgo/rocketgo/remoting"

	"github.com/rocketgo/rocketgo/message"
	"github.com/rocketgo/rocketgo/selector"
	"github.com/rocketgo/rocketgo/server/broker"
)

func TestSendSyncRoundTrip(t *testing.T) {
	srv := startServer(t)
	rc := newRC(t)
	createTopicWait(t, rc, srv, "RT", 4)
	p := newProducer(t, srv, WithGroup("PG_RT"))
	ctx := testCtx(t)

	m := message.New("RT", []byte("hello")).WithTags("tagA").WithKeys("k1", "k2").WithProperty("color", "blue")
	res, err := p.SendSync(ctx, m)
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != SendOK || res.MsgID == "" || len(res.OffsetMsgID) != 32 || res.Queue.Topic != "RT" || res.Queue.BrokerName != "broker-a" {
		t.Fatalf("result %+v", res)
	}
	if _, ok := m.Property(message.PropertyUniqKey); ok {
		t.Fatal("SendSync modified the caller's message")
	}
	msgs, _ := pull(t, rc, srv.BrokerAddr(), "RT", res.Queue.QueueID, res.QueueOffset)
	if len(msgs) != 1 {
		t.Fatalf("pulled %d messages", len(msgs))
	}
	got := msgs[0]
	if string(got.Body) != "hello" || got.Tags() != "tagA" || strings.Join(got.Keys(), ",") != "k1,k2" {
		t.Fatalf("got body %q tags %q keys %v", got.Body, got.Tags(), got.Keys())
	}
	if v, _ := got.Property("color"); v != "blue" {
		t.Fatalf("user property = %q", v)
	}
	if got.UniqKey() != res.MsgID || got.OffsetMsgID() != res.OffsetMsgID {
		t.Fatalf("ids: stored %s/%s, result %s/%s", got.UniqKey(), got.OffsetMsgID(), res.MsgID, res.OffsetMsgID)
	}
	// A caller-provided unique key is kept.
	m2 := message.New("RT", []byte("x")).WithProperty(message.PropertyUniqKey, "MYKEY")
	if res2, err := p.SendSync(ctx, m2); err != nil || res2.MsgID != "MYKEY" {
		t.Fatalf("own key: %v %v", res2, err)
	}
}

func TestSendBatch(t *testing.T) {
	srv := startServer(t)
	rc := newRC(t)
	createTopicWait(t, rc, srv, "BT", 2)
	p := newProducer(t, srv)
	msgs := []*message.Message{
		message.New("BT", []byte("b0")).WithTags("t0"),
		message.New("BT", []byte("b1")).WithKeys("key1"),
		message.New("BT", []byte("b2")).WithProperty("p", "v"),
	}
	res, err := p.SendSync(testCtx(t), msgs...)
	if err != nil {
		t.Fatal(err)
	}
	ids := strings.Split(res.MsgID, ",")
	if len(ids) != 3 || len(strings.Split(res.OffsetMsgID, ",")) != 3 {
		t.Fatalf("batch result %+v", res)
	}
	got, _ := pull(t, rc, srv.BrokerAddr(), "BT", res.Queue.QueueID, res.QueueOffset)
	if len(got) != 3 {
		t.Fatalf("pulled %d", len(got))
	}
	for i, g := range got {
		if string(g.Body) != fmt.Sprintf("b%d", i) || g.UniqKey() != ids[i] {
			t.Fatalf("message %d: body %q uniq %q want %q", i, g.Body, g.UniqKey(), ids[i])
		}
	}
	if got[0].Tags() != "t0" || got[1].Keys()[0] != "key1" {
		t.Fatal("batch lost tags or keys")
	}
	if v, _ := got[2].Property("p"); v != "v" {
		t.Fatal("batch lost a property")
	}
}

// TestCompressionRoundTrip sends a compressible body with each compression
// type through our broker and pulls it back: stored compressed with the
// Java 5.x flags, inflated on decode.
func TestCompressionRoundTrip(t *testing.T) {
	srv := startServer(t)
	rc := newRC(t)
	createTopicWait(t, rc, srv, "ZT", 1)
	body := []byte(strings.Repeat("compress me please ", 1000)) // ~19 KiB
	cases := []struct {
		opts []Option
		flag int32
	}{
		{nil, 0x301}, // default: zlib, flagged as Java 5.x flags it
		{[]Option{WithCompressionType(message.CompressLZ4)}, 0x101},
		{[]Option{WithCompressionType(message.CompressZstd), WithCompression(4096, 19)}, 0x201},
		{[]Option{WithCompressionType(message.CompressZlib), WithCompression(4096, 9)}, 0x301},
	}
	for i, tc := range cases {
		p := newProducer(t, srv, append(tc.opts, WithGroup(fmt.Sprintf("PG_ZT%d", i)))...)
		res, err := p.SendSync(testCtx(t), message.New("ZT", body))
		if err != nil {
			t.Fatal(err)
		}
		got, _ := pull(t, rc, srv.BrokerAddr(), "ZT", res.Queue.QueueID, res.QueueOffset)
		if len(got) == 0 {
			t.Fatalf("case %d: pulled nothing", i)
		}
		m := got[0]
		if m.SysFlag&(message.SysFlagCompressed|message.SysFlagCompressMask) != tc.flag || len(m.StoredBody()) >= len(body)/4 {
			t.Fatalf("case %d: stored with sysFlag %#x (want %#x), %d bytes", i, m.SysFlag, tc.flag, len(m.StoredBody()))
		}
		if m.Err != nil || string(m.Body) != string(body) {
			t.Fatalf("case %d: inflated body differs: %v", i, m.Err)
		}
		ct, _ := message.CompressionTypeOf(m.SysFlag)
		if plain, err := message.DecompressWith(ct, m.StoredBody(), 0); err != nil || string(plain) != string(body) {
			t.Fatalf("case %d: stored body does not inflate as %v: %v", i, ct, err)
		}
	}
	// Below the threshold nothing is compressed.
	p := newProducer(t, srv, WithGroup("PG_ZT_small"), WithCompressionType(message.CompressZstd))
	res, err := p.SendSync(testCtx(t), message.New("ZT", body[:4095]))
	if err != nil {
		t.Fatal(err)
	}
	got, _ := pull(t, rc, srv.BrokerAddr(), "ZT", res.Queue.QueueID, res.QueueOffset)
	if got[0].SysFlag&(message.SysFlagCompressed|message.SysFlagCompressMask) != 0 {
		t.Fatalf("4095-byte body compressed: sysFlag %#x", got[0].SysFlag)
	}
}

func TestCompressionOptions(t *testing.T) {
	srv := startServer(t)
	cases := []struct {
		opts  []Option
		typ   message.CompressionType
		level int
	}{
		{nil, message.CompressZlib, 5},
		{[]Option{WithCompression(4096, 9)}, message.CompressZlib, 9},
		{[]Option{WithCompression(4096, 15)}, message.CompressZlib, 5},                                             // zlib tops out at 9
		{[]Option{WithCompression(4096, 15), WithCompressionType(message.CompressZstd)}, message.CompressZstd, 15}, // order does not matter
		{[]Option{WithCompressionType(message.CompressZstd), WithCompression(4096, 23)}, message.CompressZstd, 5},
		{[]Option{WithCompressionType(message.CompressZstd), WithCompression(4096, -1)}, message.CompressZstd, 5},
		{[]Option{WithCompressionType(message.CompressLZ4), WithCompression(4096, 42)}, message.CompressLZ4, 42}, // ignored by LZ4
		{[]Option{WithCompression(4096, 7), WithCompression(8192, 0)}, message.CompressZlib, 7},
		{[]Option{WithCompressionType(message.CompressionType(0x400))}, message.CompressZlib, 5},
	}
	for i, tc := range cases {
		p := newProducer(t, srv, append(tc.opts, WithGroup(fmt.Sprintf("PG_OPT%d", i)))...)
		if p.cfg.compressType != tc.typ || p.cfg.compressLevel != tc.level {
			t.Errorf("case %d: type %v level %d, want %v %d", i, p.cfg.compressType, p.cfg.compressLevel, tc.typ, tc.level)
		}
	}
}

func TestDelayLevel(t *testing.T) {
	srv := startServer(t)
	rc := newRC(t)
	createTopicWait(t, rc, srv, "DT", 1)
	p := newProducer(t, srv)
	sent := time.Now()
	if _, err := p.SendSync(testCtx(t), message.New("DT", []byte("later")).WithDelayLevel(1)); err != nil {
		t.Fatal(err)
	}
	if msgs := pullAll(t, rc, srv.BrokerAddr(), "DT", 1); len(msgs) != 0 {
		t.Fatal("delayed message visible at once")
	}
	msgs := waitMessages(t, rc, srv.BrokerAddr(), "DT", 1, 1, 10*time.Second)
	if string(msgs[0].Body) != "later" || msgs[0].StoreTimestamp < sent.UnixMilli()+900 {
		t.Fatalf("delayed message %q stored at +%d ms", msgs[0].Body, msgs[0].StoreTimestamp-sent.UnixMilli())
	}
}

func TestSendAsyncAndOneway(t *testing.T) {
	srv := startServer(t)
	rc := newRC(t)
	createTopicWait(t, rc, srv, "AT", 4)
	createTopicWait(t, rc, srv, "OT", 4)
	p := newProducer(t, srv)
	ctx := testCtx(t)
	const n = 20
	var wg sync.WaitGroup
	var ok atomic.Int32
	wg.Add(n)
	for i := 0; i < n; i++ {
		err := p.SendAsync(ctx, func(r *SendResult, err error) {
			defer wg.Done()
			if err == nil && r.Status == SendOK {
				ok.Add(1)
			}
		}, message.New("AT", []byte(fmt.Sprint(i))))
		if err != nil {
			t.Fatal(err)
		}
	}
	wg.Wait()
	if ok.Load() != n {
		t.Fatalf("%d of %d async sends succeeded", ok.Load(), n)
	}
	if got := pullAll(t, rc, srv.BrokerAddr(), "AT", 4); len(got) != n {
		t.Fatalf("stored %d async messages", len(got))
	}
	for i := 0; i < 5; i++ {
		if err := p.SendOneway(ctx, message.New("OT", []byte("one"))); err != nil {
			t.Fatal(err)
		}
	}
	waitMessages(t, rc, srv.BrokerAddr(), "OT", 4, 5, 5*time.Second)
	// Validation errors come back from SendAsync itself, callback unused.
	called := false
	if err := p.SendAsync(ctx, func(*SendResult, error) { called = true }, message.New("", []byte("x"))); !errors.Is(err, message.ErrEmptyTopic) || called {
		t.Fatalf("SendAsync(empty topic) = %v, called %v", err, called)
	}
}

func TestSelectors(t *testing.T) {
	srv := startServer(t)
	rc := newRC(t)
	createTopicWait(t, rc, srv, "ST", 4)
	ctx := testCtx(t)

	// Default round-robin: 8 sequential sends cover the 4 queues twice.
	p := newProducer(t, srv, WithGroup("PG_RR"))
	counts := map[int]int{}
	for i := 0; i < 8; i++ {
		r, err := p.SendSync(ctx, message.New("ST", []byte("rr")))
		if err != nil {
			t.Fatal(err)
		}
		counts[r.Queue.QueueID]++
	}
	for q := 0; q < 4; q++ {
		if counts[q] != 2 {
			t.Fatalf("round robin counts %v", counts)
		}
	}

	// Hash: a key always lands on one queue, with SendOrderly's arg or the
	// sharding key and a hash selector.
	for _, key := range []string{"order-1", "order-2", "order-3"} {
		first := -1
		for i := 0; i < 5; i++ {
			r, err := p.SendOrderly(ctx, key, message.New("ST", []byte(key)))
			if err != nil {
				t.Fatal(err)
			}
			if first == -1 {
				first = r.Queue.QueueID
			} else if r.Queue.QueueID != first {
				t.Fatalf("key %s moved from queue %d to %d", key, first, r.Queue.QueueID)
			}
		}
		if want := selector.HashIndex(selector.JavaHash(key), 4); first != want {
			t.Fatalf("key %s on queue %d, Java would use %d", key, first, want)
		}
	}
	ph := newProducer(t, srv, WithGroup("PG_HASH"), WithSelector(selector.Hash{}))
	seen := map[int]bool{}
	for i := 0; i < 5; i++ {
		r, err := ph.SendSync(ctx, message.New("ST", []byte("s")).WithShardingKey("user-42"))
		if err != nil {
			t.Fatal(err)
		}
		seen[r.Queue.QueueID] = true
	}
	if len(seen) != 1 {
		t.Fatalf("sharding key spread over queues %v", seen)
	}

	// Custom and random selectors.
	pc := newProducer(t, srv, WithGroup("PG_FUNC"), WithSelector(selector.Func(func(_ selector.SelectInput, qs []selector.Queue, _ string) selector.Queue {
		return qs[2]
	})))
	for i := 0; i < 3; i++ {
		r, err := pc.SendSync(ctx, message.New("ST", []byte("f")))
		if err != nil || r.Queue.QueueID != 2 {
			t.Fatalf("custom selector: %v %v", r, err)
		}
	}
	pr := newProducer(t, srv, WithGroup("PG_RAND"), WithSelector(selector.Random{}))
	for i := 0; i < 3; i++ {
		if _, err := pr.SendSync(ctx, message.New("ST", []byte("r"))); err != nil {
			t.Fatal(err)
		}
	}
}

func TestValidationBeforeNetwork(t *testing.T) {
	// Nothing listens on port 1: any network work would fail differently.
	p, err := New(WithNameServers("127.0.0.1:1"), WithMaxMessageSize(16))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Shutdown(context.Background())
	ctx := context.Background()
	cases := []struct {
		name string
		msgs []*message.Message
		want error
	}{
		{"none", nil, ErrNoMessage},
		{"nil", []*message.Message{nil}, message.ErrNilMessage},
		{"empty topic", []*message.Message{message.New("", []byte("x"))}, message.ErrEmptyTopic},
		{"bad topic", []*message.Message{message.New("a b", []byte("x"))}, message.ErrInvalidTopic},
		{"empty body", []*message.Message{message.New("T", nil)}, message.ErrEmptyBody},
		{"too large", []*message.Message{message.New("T", make([]byte, 17))}, ErrMessageTooLarge},
		{"bad delay", []*message.Message{message.New("T", []byte("x")).WithDelayLevel(19)}, message.ErrInvalidDelayLevel},
		{"bad property", []*message.Message{message.New("T", []byte("x")).WithProperty("k", "a\x01b")}, message.ErrInvalidProperty},
		{"mixed batch", []*message.Message{message.New("T", []byte("x")), message.New("U", []byte("y"))}, ErrBatchMixed},
		{"delayed batch", []*message.Message{message.New("T", []byte("x")), message.New("T", []byte("y")).WithDelayLevel(2)}, ErrBatchDelay},
		{"batch too large", []*message.Message{message.New("T", make([]byte, 10)), message.New("T", make([]byte, 10))}, ErrMessageTooLarge},
	}
	for _, tc := range cases {
		if _, err := p.SendSync(ctx, tc.msgs...); !errors.Is(err, tc.want) {
			t.Errorf("%s: SendSync err = %v, want %v", tc.name, err, tc.want)
		}
		if err := p.SendOneway(ctx, tc.msgs...); !errors.Is(err, tc.want) {
			t.Errorf("%s: SendOneway err = %v, want %v", tc.name, err, tc.want)
		}
	}
	if _, err := p.SendMessageInTransaction(ctx, message.New("T", []byte("x")), nil); !errors.Is(err, ErrNotTransactional) {
		t.Errorf("transaction without listener: %v", err)
	}
}

func TestPermanentErrorsAreNotRetried(t *testing.T) {
	srv := startServer(t, func(c *broker.Config) { c.AutoCreateTopicEnable = false; c.MaxMessageSize = 1024 })
	rc := newRC(t)
	createTopicWait(t, rc, srv, "PT", 1)
	p := newProducer(t, srv)
	ctx := testCtx(t)

	// Without auto-creation the name server has no TBW102 either.
	if _, err := p.SendSync(ctx, message.New("NoSuchTopic", []byte("x"))); !errors.Is(err, ErrTopicNotExist) {
		t.Fatalf("unknown topic: err = %v, want ErrTopicNotExist", err)
	}
	// MESSAGE_ILLEGAL (the broker's limit is below ours) is final.
	_, err := p.SendSync(ctx, message.New("PT", make([]byte, 2000)))
	var be *remoting.ResponseError
	if !errors.As(err, &be) || !errors.Is(err, ErrMessageIllegal) || be.Broker != "broker-a" || Retriable(err) {
		t.Fatalf("oversized for broker: err = %v, want a MESSAGE_ILLEGAL *remoting.ResponseError", err)
	}
	if !strings.Contains(err.Error(), "after 1 attempt(s)") {
		t.Fatalf("retried a permanent error: %v", err)
	}
}

func TestResponseErrorClassification(t *testing.T) {
	retriable := map[int16]bool{1: true, 2: true, 14: true, 16: true, 17: true, 204: true, 205: true, 1500: true, 13: false, 29: false, 3: false}
	for code, want := range retriable {
		if got := Retriable(fmt.Errorf("wrapped: %w", &remoting.ResponseError{Code: code})); got != want {
			t.Errorf("code %d retriable = %v, want %v", code, got, want)
		}
	}
	sentinels := map[int16]error{1: ErrSystemError, 2: ErrSystemBusy, 13: ErrMessageIllegal, 14: ErrServiceNotAvailable, 16: ErrNoPermission, 17: ErrTopicNotExist}
	for code, s := range sentinels {
		err := fmt.Errorf("wrapped: %w", &remoting.ResponseError{Code: code})
		if !errors.Is(err, s) {
			t.Errorf("code %d does not match %v", code, s)
		}
		if errors.Is(err, ErrProducerClosed) {
			t.Errorf("code %d matches an unrelated sentinel", code)
		}
	}
}

func TestInterceptorOrder(t *testing.T) {
	srv := startServer(t)
	var mu sync.Mutex
	var log []string
	type key struct{}
	mk := func(name string) Interceptor {
		return InterceptorFuncs{
			Before: func(ctx context.Context, info *SendInfo) context.Context {
				mu.Lock()
				log = append(log, "before "+name+" "+info.Topic)
				mu.Unlock()
				return context.WithValue(ctx, key{}, name)
			},
			After: func(ctx context.Context, info *SendInfo, res *SendResult, err error) {
				mu.Lock()
				log = append(log, fmt.Sprintf("after %s ctx=%v ok=%v", name, ctx.Value(key{}), err == nil && res != nil))
				mu.Unlock()
			},
		}
	}
	p := newProducer(t, srv, WithInterceptors(mk("a"), mk("b")))
	if _, err := p.SendSync(testCtx(t), message.New("IT", []byte("x"))); err != nil {
		t.Fatal(err)
	}
	want := "before a IT|before b IT|after b ctx=b ok=true|after a ctx=b ok=true"
	if got := strings.Join(log, "|"); got != want {
		t.Fatalf("interceptor log\n got %s\nwant %s", got, want)
	}
}

func TestSharedAndIndependentProducers(t *testing.T) {
	srv := startServer(t)
	rc := newRC(t)
	createTopicWait(t, rc, srv, "SH", 2)
	ctx := testCtx(t)
	cl, err := client.New(client.WithNameServers(srv.NamesrvAddr()), client.WithInstanceName("shared"))
	if err != nil {
		t.Fatal(err)
	}
	p1 := newProducer(t, srv, WithClient(cl), WithGroup("G1"))
	p2 := newProducer(t, srv, WithClient(cl), WithGroup("G2"), WithRetries(0), WithSendTimeout(time.Second))
	p3 := newProducer(t, srv, WithGroup("G1"), WithCompression(0, 0)) // private client: same group is fine
	if _, err := New(WithClient(cl), WithGroup("G1")); err == nil {
		t.Fatal("a second G1 producer on one client was accepted")
	}
	if p1.Client() != p2.Client() || p1.Client() == p3.Client() {
		t.Fatal("client sharing is wrong")
	}
	for _, p := range []*Producer{p1, p2, p3} {
		if _, err := p.SendSync(ctx, message.New("SH", []byte(p.Group()))); err != nil {
			t.Fatal(err)
		}
	}
	if err := p1.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := p1.SendSync(ctx, message.New("SH", []byte("x"))); !errors.Is(err, ErrProducerClosed) {
		t.Fatalf("send after shutdown: %v", err)
	}
	if _, err := p2.SendSync(ctx, message.New("SH", []byte("still"))); err != nil {
		t.Fatalf("p2 broken by p1's shutdown: %v", err)
	}
	p2.Shutdown(ctx)
	if iclient.Of(cl).Closed() {
		t.Fatal("shared client closed by its producers: only its owner closes it")
	}
	if err := cl.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := New(WithClient(cl), WithGroup("G3")); !errors.Is(err, client.ErrClosed) {
		t.Fatalf("producer on a closed client: %v, want client.ErrClosed", err)
	}
	if _, err := p3.SendSync(ctx, message.New("SH", []byte("p3"))); err != nil {
		t.Fatal(err)
	}
}

func TestShutdownWaitsForAsyncAndLeaksNothing(t *testing.T) {
	srv := startServer(t)
	rc := newRC(t)
	createTopicWait(t, rc, srv, "GT", 4)
	before, _ := clientGoroutines()
	p, err := New(WithNameServers(srv.NamesrvAddr()))
	if err != nil {
		t.Fatal(err)
	}
	ctx := testCtx(t)
	const n = 200
	var done atomic.Int32
	for i := 0; i < n; i++ {
		if err := p.SendAsync(ctx, func(*SendResult, error) { done.Add(1) }, message.New("GT", []byte("x"))); err != nil {
			t.Fatal(err)
		}
	}
	if running, _ := clientGoroutines(); running <= before {
		t.Fatal("no producer goroutines seen while running: the leak check would be vacuous")
	}
	if err := p.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if got := done.Load(); got != n {
		t.Fatalf("Shutdown returned with %d of %d callbacks run", got, n)
	}
	if err := p.SendAsync(ctx, nil, message.New("GT", []byte("x"))); !errors.Is(err, ErrProducerClosed) {
		t.Fatalf("SendAsync after Shutdown = %v", err)
	}
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		n, stacks := clientGoroutines()
		if n <= before {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("client goroutines before %d after %d:\n%s", before, n, stacks)
		}
	}
}

// clientGoroutines counts goroutines running producer or client code
// (this package, the client instance, remoting client connections) other
// than tests; the embedded broker's own pools come and go by themselves.
func clientGoroutines() (int, string) {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	n := 0
	var found []string
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(g, "producer.Test") {
			continue
		}
		if strings.Contains(g, "rocketgo/producer.") || strings.Contains(g, "rocketgo/internal/client.") ||
			strings.Contains(g, "remoting.(*clientConn)") || strings.Contains(g, "remoting.(*Client)") {
			n++
			found = append(found, g)
		}
	}
	return n, strings.Join(found, "\n\n")
}

func TestNamespace(t *testing.T) {
	srv := startServer(t)
	rc := newRC(t)
	createTopicWait(t, rc, srv, "ns1%NT", 1)
	p := newProducer(t, srv, WithNamespace("ns1"), WithGroup("PG"))
	if p.Group() != "ns1%PG" {
		t.Fatalf("group on the wire = %q", p.Group())
	}
	res, err := p.SendSync(testCtx(t), message.New("NT", []byte("namespaced")))
	if err != nil {
		t.Fatal(err)
	}
	if res.Queue.Topic != "NT" {
		t.Fatalf("result topic %q, want the application's name", res.Queue.Topic)
	}
	got, _ := pull(t, rc, srv.BrokerAddr(), "ns1%NT", res.Queue.QueueID, res.QueueOffset)
	if len(got) != 1 || string(got[0].Body) != "namespaced" {
		t.Fatalf("stored under ns1%%NT: %v", got)
	}
}

// TestSendBudgetStartsAfterCompression: the send timeout bounds the network
// part of a send, not a slow compression before it. The compressor here
// takes longer than the whole budget; the send must still succeed.
func TestSendBudgetStartsAfterCompression(t *testing.T) {
	srv := startServer(t)
	rc := newRC(t)
	createTopicWait(t, rc, srv, "ZB", 1)
	slow := func(dst, body []byte) []byte {
		time.Sleep(1500 * time.Millisecond)
		return append(dst, body...)
	}
	p := newProducer(t, srv, WithGroup("PG_ZB"), WithSendTimeout(time.Second), WithCompressor(slow))
	// The route is cached first, so the slow send has only its request to make.
	if _, err := p.SendSync(testCtx(t), message.New("ZB", []byte("small"))); err != nil {
		t.Fatal(err)
	}
	if _, err := p.SendSync(testCtx(t), message.New("ZB", make([]byte, 8192))); err != nil {
		t.Fatalf("send after a compression longer than the send timeout: %v", err)
	}
}

// TestInterceptorsAddNoAllocation: with interceptors a send's state and
// its SendInfo are one allocation, so interceptors (the tracer on every
// traced send) add none to preparing a send.
func TestInterceptorsAddNoAllocation(t *testing.T) {
	srv := startServer(t)
	rc := newRC(t)
	createTopicWait(t, rc, srv, "AllocIcpt", 1)
	plain := newProducer(t, srv, WithGroup("PG_AllocA"))
	hooked := newProducer(t, srv, WithGroup("PG_AllocB"), WithInterceptors(InterceptorFuncs{}))
	ctx := context.Background()
	allocs := func(p *Producer) float64 {
		msgs := []*message.Message{message.New("AllocIcpt", make([]byte, 128))}
		if _, err := p.SendSync(ctx, msgs...); err != nil { // the route
			t.Fatal(err)
		}
		return testing.AllocsPerRun(200, func() {
			st, err := p.prepare(ctx, ModeSync, msgs, false)
			if err != nil {
				t.Fatal(err)
			}
			st.finish(nil, nil)
		})
	}
	if a, b := allocs(plain), allocs(hooked); b > a {
		t.Fatalf("preparing a send allocates %.2f times with an interceptor, %.2f without", b, a)
	}
}
