package main

import (
	"bytes"
	"context"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/rocketgo/rocketgo/internal/syncbuf"
	"github.com/rocketgo/rocketgo/message"
	"github.com/rocketgo/rocketgo/producer"
)

// TestServeWithConsole: `serve -console` serves the console against the
// embedded cluster: the cluster page lists its broker, the topics page
// its topics, and shutdown stops it.
func TestServeWithConsole(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out, errOut syncbuf.Buffer
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"serve", "-data", t.TempDir(), "-namesrv-port", "0", "-broker-port", "0", "-grpc-port", "0", "-console", "127.0.0.1:0"}, &out, &errOut)
	}()
	re := regexp.MustCompile(`rocketgo: console on (http://127\.0\.0\.1:\d+)\n`)
	deadline := time.Now().Add(20 * time.Second)
	var m []string
	for m = re.FindStringSubmatch(out.String()); m == nil; m = re.FindStringSubmatch(out.String()) {
		select {
		case code := <-done:
			t.Fatalf("serve exited %d: %s %s", code, out.String(), errOut.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("no console line: %q %q", out.String(), errOut.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	// A message sent through the SDK is found by time and by key, and its
	// detail page shows its body.
	ns := regexp.MustCompile(`name server (127\.0\.0\.1:\d+)`).FindStringSubmatch(out.String())[1]
	p, err := producer.New(producer.WithNameServers(ns), producer.WithGroup("console-test"))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Shutdown(context.Background())
	sctx, scancel := context.WithTimeout(ctx, 20*time.Second)
	defer scancel()
	for i := 0; i < 3; i++ {
		if _, err := p.SendSync(sctx, message.New("ConsoleTopic", []byte(`{"hello":"console"}`)).WithKeys(fmt.Sprintf("k-%d", i))); err != nil {
			t.Fatal(err)
		}
	}
	now := time.Now()
	q := url.Values{"mode": {"time"}, "topic": {"ConsoleTopic"}, "begin": {now.Add(-time.Hour).Format("2006-01-02T15:04")}, "end": {now.Add(time.Hour).Format("2006-01-02T15:04")}}
	for path, want := range map[string]string{"/cluster": "DefaultCluster", "/topics?system=1": "TBW102",
		"/messages?" + q.Encode(): "3 messages", "/messages?mode=key&topic=ConsoleTopic&key=k-1": "1 messages",
		firstMessageLink(t, m[1]+"/messages?"+q.Encode()): "&#34;hello&#34;: &#34;console&#34;",
		"/topics/ConsoleTopic":                            "3 messages kept", "/live": `id="chart-lag"`} {
		resp, err := http.Get(m[1] + path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(b), want) {
			t.Errorf("%s: %d, want %q in:\n%s", path, resp.StatusCode, want, b)
		}
	}
	// Re-send the first message to another topic through the console's
	// form (CSRF cookie and field), then find it there.
	jar, _ := cookiejar.New(nil)
	hc := &http.Client{Jar: jar}
	link := firstMessageLink(t, m[1]+"/messages?"+q.Encode())
	resp, err := hc.Get(m[1] + link)
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	csrf := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindSubmatch(page)
	id := regexp.MustCompile(`name="id" value="([^"]+)"`).FindSubmatch(page)
	if csrf == nil || id == nil {
		t.Fatalf("no re-send form:\n%s", page)
	}
	resp, err = hc.PostForm(m[1]+"/message/resend", url.Values{"csrf": {string(csrf[1])}, "id": {string(id[1])}, "target": {"ConsoleResent"}})
	if err != nil {
		t.Fatal(err)
	}
	page, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(page), "re-sent to ConsoleResent") || !strings.Contains(string(page), "1 messages") {
		t.Fatalf("re-send: %d\n%s", resp.StatusCode, page)
	}
	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("serve exited %d: %s", code, errOut.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not stop")
	}
}

// firstMessageLink returns the first message detail link on a result page.
func firstMessageLink(t *testing.T, page string) string {
	resp, err := http.Get(page)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	m := regexp.MustCompile(`href="(/message\?[^"]+)"`).FindSubmatch(b)
	if m == nil {
		t.Fatalf("no message link on %s:\n%s", page, b)
	}
	return html.UnescapeString(string(m[1]))
}

func TestConsoleRefusesOpenBindWithoutUsers(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := run(context.Background(), []string{"console", "-listen", "0.0.0.0:0"}, &out, &errOut); code != 2 || !strings.Contains(errOut.String(), "-users") {
		t.Fatalf("exit %d, stderr %q", code, errOut.String())
	}
	errOut.Reset()
	if code := run(context.Background(), []string{"console", "-access-key", "ak"}, &out, &errOut); code != 2 {
		t.Fatalf("half credentials: exit %d, stderr %q", code, errOut.String())
	}
}
