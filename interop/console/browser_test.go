// Package console_test drives rocketgo's web console in a real headless
// Chromium (through chromedp, the DevTools protocol) against an embedded
// name server and broker, the way a user would: every page is opened, and
// the write actions go through the console's own forms (CSRF token, Origin
// check, Content-Security-Policy and all).
//
// chromedp lives in this module, not in the root one: it is a test-only
// dependency and applications importing the SDK must not inherit it.
//
// The browser: $ROCKETGO_CHROMIUM, else chromium, chromium-browser,
// google-chrome or headless-shell on $PATH (Debian: apt-get install
// chromium). Without one the test skips with a loud message, unless
// $ROCKETGO_REQUIRE_BROWSER=1 (set by .ci/run), which makes it fail.
//
// Screenshots of every page go to $ROCKETGO_ARTIFACTS/console-browser/
// when that variable is set, else to a directory under the test's
// t.TempDir() (gone after the run); the test logs the path.
// docs/console.png in the README is the group page shot (group-lag-up.png).
//
//	ROCKETGO_ARTIFACTS=/tmp/art go test -run Browser -v ./console/
package console_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/rocketgo/rocketgo/interop/internal/headless"

	"github.com/rocketgo/rocketgo/admin"
	"github.com/rocketgo/rocketgo/console"
	"github.com/rocketgo/rocketgo/consumer"
	"github.com/rocketgo/rocketgo/message"
	"github.com/rocketgo/rocketgo/producer"
	"github.com/rocketgo/rocketgo/server/embedded"
)

const (
	topic         = "BrowserOrders"
	group         = "BrowserGroup"
	producerGroup = "BrowserProducer"
)

// producerSender backs the console's re-send with an SDK producer, as
// `rocketgo console` does.
type producerSender struct{ p *producer.Producer }

func (s producerSender) Send(ctx context.Context, m *message.Message) (string, error) {
	res, err := s.p.SendSync(ctx, m)
	if err != nil {
		return "", err
	}
	return res.OffsetMsgID, nil
}

// sink is the push consumer's listener state: it can hold deliveries (so
// the group's lag grows), send the "poison" message straight to the DLQ,
// and counts what it consumed.
type sink struct {
	mu         sync.Mutex
	gate       chan struct{} // non-nil: deliveries wait until it closes
	poison     atomic.Bool   // fail messages keyed "poison" into the DLQ
	consumed   atomic.Int64
	poisonOK   atomic.Int64
	wrongTopic string // a topic other than BrowserOrders that reached the listener
}

func (s *sink) hold() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.gate == nil {
		s.gate = make(chan struct{})
	}
}

func (s *sink) release() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.gate != nil {
		close(s.gate)
		s.gate = nil
	}
}

func (s *sink) listen(ctx context.Context, cc *consumer.ConcurrentContext, msgs []*message.MessageExt) consumer.ConsumeResult {
	for _, m := range msgs {
		if slicesContains(m.Keys(), "poison") && s.poison.Load() {
			cc.DelayLevel = -1 // straight to the DLQ
			return consumer.ConsumeRetryLater
		}
	}
	s.mu.Lock()
	gate := s.gate
	s.mu.Unlock()
	if gate != nil {
		select {
		case <-gate:
		case <-ctx.Done():
			return consumer.ConsumeRetryLater
		}
	}
	s.mu.Lock()
	for _, m := range msgs {
		if slicesContains(m.Keys(), "poison") {
			s.poisonOK.Add(1)
		}
		if m.Topic != topic {
			s.wrongTopic = m.Topic
		}
	}
	s.mu.Unlock()
	s.consumed.Add(int64(len(msgs)))
	return consumer.ConsumeSuccess
}

func slicesContains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

// TestConsoleInBrowser: open every page; create a topic through the form;
// send with the SDK and find the messages in Messages; watch the group's
// lag go up while the consumer holds its deliveries and down once it lets
// them go; reset the group's offsets through the form and see the consumer
// get everything again; send a message into the DLQ and re-send it to its
// topic from the DLQ page; and no page throws a script error or trips the
// Content-Security-Policy.
func TestConsoleInBrowser(t *testing.T) {
	browser := headless.Require(t, "the console")
	shots := headless.ShotsDir(t, "console-browser")
	t.Logf("browser %s; screenshots in %s", browser, shots)

	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()

	// The cluster, the console over admin, and its re-send producer.
	srv, err := embedded.StartLocal(ctx, embedded.SmallConfig(t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Shutdown(context.Background()) })
	adm, err := admin.Dial(srv.NamesrvAddr())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { adm.Close() })
	resender, err := producer.New(producer.WithClient(adm.Client()), producer.WithGroup("rocketgo-console"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resender.Shutdown(context.Background()) })
	con, err := console.New(adm, console.Config{Sender: producerSender{resender}, SampleEvery: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { con.Close() })
	web, err := console.Listen("127.0.0.1:0", con)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { web.Shutdown(context.Background()) })
	base := "http://" + web.Addr()

	// The browser, with a fresh profile and nothing reaching out; script
	// and console errors (a CSP violation is one) fail the test.
	br := headless.Start(t, ctx, browser, 1280, 860)
	bctx := br.Ctx

	b := &driver{t: t, ctx: bctx, base: base, shots: shots, start: time.Now()}

	// Cluster: the embedded broker, its role and version.
	b.open("/cluster")
	b.contains("main", "DefaultCluster", "master", "V5_3_3")
	b.shot("cluster")

	// Topics: create one through the form, landing on its page.
	b.open("/topics")
	b.shot("topics")
	b.set(`form.write input[name="topic"]`, topic)
	b.set(`form.write input[name="queues"]`, "4")
	b.submit(`form.write button[type="submit"]`)
	b.contains("h1", "Topic "+topic)
	b.contains(".flash", "created")
	b.contains("#queues", "3") // four queues: 0..3
	b.shot("topic-created")

	// A push consumer of the group, and messages sent with our SDK.
	var s sink
	c, err := consumer.NewPush(consumer.WithNameServers(srv.NamesrvAddr()), consumer.WithGroup(group),
		consumer.WithConsumeFrom(consumer.ConsumeFromFirstOffset), consumer.WithPersistInterval(100*time.Millisecond),
		consumer.WithRebalanceInterval(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Subscribe(topic, "*", s.listen); err != nil {
		t.Fatal(err)
	}
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.release(); c.Shutdown(context.Background()) })
	p, err := producer.New(producer.WithNameServers(srv.NamesrvAddr()), producer.WithGroup(producerGroup))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Shutdown(context.Background()) })
	send := func(n int, prefix string) {
		t.Helper()
		for i := 0; i < n; i++ {
			body := fmt.Sprintf(`{"order":"%s-%d","item":"book","qty":%d}`, prefix, i, i+1)
			m := message.New(topic, []byte(body)).WithKeys(fmt.Sprintf("%s-%d", prefix, i)).WithTags("paid")
			if _, err := p.SendSync(ctx, m); err != nil {
				t.Fatal(err)
			}
		}
	}
	send(5, "first")
	waitFor(t, ctx, "the consumer to get the first 5 messages", func() bool { return s.consumed.Load() >= 5 })

	// Messages: search by time through the form, open one.
	b.open("/messages")
	b.set(`form.filter:nth-of-type(1) input[name="topic"]`, topic)
	b.submit(`form.filter:nth-of-type(1) button[type="submit"]`)
	b.contains("main", "5 messages")
	b.contains("#results", "first-0", "first-4", "paid")
	b.shot("messages")
	b.submit(`#results tbody tr:first-child a`)
	b.contains("#body-json", `"item": "book"`)
	b.contains("#props", "KEYS")
	b.shot("message")

	// Groups: the group is listed; its lag grows while the consumer holds
	// deliveries, and falls to 0 once it lets them go.
	b.open("/groups")
	b.contains("#groups", group)
	b.shot("groups")
	s.hold()
	send(10, "second")
	b.reloadUntil("/groups/"+group, "#total-lag", func(v string) bool { return v == "10" })
	b.contains("main", "BrowserGroup", "CLUSTERING") // a member is online
	b.shot("group-lag-up")
	s.release()
	b.reloadUntil("/groups/"+group, "#total-lag", func(v string) bool { return v == "0" })
	b.shot("group-lag-down")
	waitFor(t, ctx, "15 messages consumed", func() bool { return s.consumed.Load() >= 15 })

	// Reset the group's offsets to an hour ago through the form: the
	// broker moves them back and tells the consumer, which gets all 15
	// messages again.
	b.set(`#reset select[name="topic"]`, topic)
	b.set(`#reset input[name="confirm"]`, group)
	b.submit(`#reset button[type="submit"]`)
	b.contains(".flash", "queues of "+topic+" reset")
	b.shot("group-reset")
	waitFor(t, ctx, "the 15 messages consumed again after the reset", func() bool { return s.consumed.Load() >= 30 })

	// DLQ: a message the consumer refuses goes to %DLQ%group; the DLQ page
	// lists it, and its detail page re-sends it to BrowserOrders.
	s.poison.Store(true)
	if _, err := p.SendSync(ctx, message.New(topic, []byte(`{"order":"poison"}`)).WithKeys("poison")); err != nil {
		t.Fatal(err)
	}
	dlq := "%DLQ%" + group
	b.reloadUntil("/dlq", "main", func(v string) bool { return strings.Contains(v, dlq) })
	b.shot("dlq")
	b.submit(`#dlq tbody tr:first-child td:last-child a`)
	b.contains("main", "1 messages", "poison")
	b.shot("dlq-messages")
	b.submit(`#results tbody tr:first-child a`)
	b.contains("h1", "Message")
	if got := b.value(`#resend input[name="target"]`); got != topic {
		t.Errorf("re-send target offered: %q, want the original topic %q", got, topic)
	}
	b.shot("dlq-message")
	s.poison.Store(false)

	// Consume it directly: the group is guessed from the DLQ topic, its
	// online member chosen, and the member's listener runs the message
	// (CONSUME_MESSAGE_DIRECTLY through the broker) as one of BrowserOrders.
	if got := b.value(`#choose-group input[name="group"]`); got != group {
		t.Errorf("group offered for a DLQ message: %q", got)
	}
	b.submit(`#choose-group button[type="submit"]`)
	b.contains(`#consume select[name="client"]`, "@")
	b.submit(`#consume button[type="submit"]`)
	b.contains(".flash", "of "+group+" answered CR_SUCCESS")
	b.shot("consumed-directly")
	if n := s.poisonOK.Load(); n != 1 {
		t.Errorf("the listener consumed the DLQ message %d times, want 1", n)
	}

	b.submit(`#resend button[type="submit"]`)
	b.contains(".flash", "re-sent to "+topic)
	b.contains("main", "1 messages")
	b.shot("resent")
	waitFor(t, ctx, "the re-sent DLQ message consumed", func() bool { return s.poisonOK.Load() >= 2 })
	s.mu.Lock()
	if s.wrongTopic != "" {
		t.Errorf("the listener got a message as one of %q", s.wrongTopic)
	}
	s.mu.Unlock()

	// Producers: our SDK producer's connection.
	b.open("/producers")
	b.set(`input[name="group"]`, producerGroup)
	b.set(`input[name="topic"]`, topic)
	b.submit(`form.filter button[type="submit"]`)
	b.contains("#producers", "GO")
	b.shot("producers")

	// Live: the sampler's charts are drawn by live.js (allowed by the CSP).
	b.open("/live")
	b.reloadUntil("/live", "#chart-lag", func(v string) bool { return strings.Contains(v, group) })
	b.shot("live")

	br.CheckErrors(t)
}

// waitFor polls cond until it holds or ctx ends.
func waitFor(t *testing.T, ctx context.Context, what string, cond func() bool) {
	t.Helper()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatalf("waiting for %s: %v", what, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// driver runs one tab; every failure stops the test with the page's URL.
type driver struct {
	t     *testing.T
	ctx   context.Context
	base  string
	shots string
	n     int
	start time.Time
}

func (d *driver) fail(what string, err error) {
	d.t.Helper()
	loc, _ := chromedp.Run(d.ctx, chromedp.Location())
	d.t.Fatalf("%s (at %s): %v", what, loc, err)
}

// open navigates to path and checks the page rendered with status 200.
func (d *driver) open(path string) {
	d.t.Helper()
	resp, err := chromedp.Run(d.ctx, chromedp.NavigateResponse(d.base+path))
	if err != nil {
		d.fail("open "+path, err)
	}
	if resp.Status != 200 {
		d.fail("open "+path, fmt.Errorf("status %d", resp.Status))
	}
}

// submit clicks sel (a submit button or a link) and waits for the page it
// leads to, which must be a 200 (after redirects).
func (d *driver) submit(sel string) {
	d.t.Helper()
	resp, err := chromedp.RunResponse(d.ctx, chromedp.Click(chromedp.CSS(sel), chromedp.NodeVisible))
	if err != nil {
		d.fail("click "+sel, err)
	}
	if resp.Status != 200 {
		text, _ := chromedp.Run(d.ctx, chromedp.Text(chromedp.CSS("main")))
		d.fail("click "+sel, fmt.Errorf("status %d: %s", resp.Status, text))
	}
}

func (d *driver) set(sel, value string) {
	d.t.Helper()
	if err := chromedp.Do(d.ctx, chromedp.SetValue(chromedp.CSS(sel), value, chromedp.NodeVisible)); err != nil {
		d.fail("set "+sel, err)
	}
}

func (d *driver) value(sel string) string {
	d.t.Helper()
	v, err := chromedp.Run(d.ctx, chromedp.Value(chromedp.CSS(sel)))
	if err != nil {
		d.fail("value of "+sel, err)
	}
	return v
}

func (d *driver) text(sel string) string {
	d.t.Helper()
	tctx, cancel := context.WithTimeout(d.ctx, 5*time.Second)
	defer cancel()
	v, err := chromedp.Run(tctx, chromedp.Text(chromedp.CSS(sel), chromedp.NodeReady))
	if err != nil {
		d.fail("text of "+sel, err)
	}
	return v
}

// contains checks that the text of sel holds every want.
func (d *driver) contains(sel string, want ...string) {
	d.t.Helper()
	got := d.text(sel)
	for _, w := range want {
		if !strings.Contains(got, w) {
			d.fail("text of "+sel, fmt.Errorf("lacks %q:\n%s", w, got))
		}
	}
}

// reloadUntil opens path until the text of sel satisfies ok (the console
// renders on the server, so news needs a reload).
func (d *driver) reloadUntil(path, sel string, ok func(string) bool) {
	d.t.Helper()
	var last string
	for {
		d.open(path)
		tctx, cancel := context.WithTimeout(d.ctx, time.Second)
		v, err := chromedp.Run(tctx, chromedp.Text(chromedp.CSS(sel), chromedp.NodeReady))
		cancel()
		if err == nil {
			last = v
			if ok(v) {
				return
			}
		}
		select {
		case <-d.ctx.Done():
			d.t.Fatalf("%s: %s never became what the test waits for; last %q", path, sel, last)
		case <-time.After(150 * time.Millisecond):
		}
	}
}

// shot saves a full-page PNG as NN-name.png.
func (d *driver) shot(name string) {
	d.t.Helper()
	buf, err := chromedp.Run(d.ctx, chromedp.FullScreenshot(100))
	if err != nil {
		d.fail("screenshot "+name, err)
	}
	d.n++
	file := fmt.Sprintf("%02d-%s.png", d.n, name)
	if err := os.WriteFile(filepath.Join(d.shots, file), buf, 0o644); err != nil {
		d.t.Fatal(err)
	}
	d.t.Logf("%5.1fs %s (%d KB)", time.Since(d.start).Seconds(), file, len(buf)>>10)
}
