// Package headless starts the headless Chromium that the interop module's
// browser tests drive through chromedp, and collects what the pages
// report as errors. Finding no browser skips a test, unless
// ROCKETGO_REQUIRE_BROWSER=1 (as CI sets it) turns that into a failure.
package headless

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// Find returns the Chromium to drive: $ROCKETGO_CHROMIUM, else the first
// known name on PATH, else "".
func Find() string {
	if p := os.Getenv("ROCKETGO_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "headless-shell"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// Require returns the browser, or skips t (what names what was not tested
// in a browser); with ROCKETGO_REQUIRE_BROWSER=1 it fails t instead.
func Require(t *testing.T, what string) string {
	t.Helper()
	browser := Find()
	if browser == "" {
		msg := fmt.Sprintf("NO BROWSER: %s needs Chromium (apt-get install chromium, or set ROCKETGO_CHROMIUM); %s was NOT tested in a browser", t.Name(), what)
		if os.Getenv("ROCKETGO_REQUIRE_BROWSER") == "1" {
			t.Fatal(msg + " and ROCKETGO_REQUIRE_BROWSER=1 requires it")
		}
		t.Skip("\n\n*** " + msg + " ***\n")
	}
	return browser
}

// ShotsDir returns the directory for t's screenshots, created:
// $ROCKETGO_ARTIFACTS/name when that is set, else a temporary one.
func ShotsDir(t *testing.T, name string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), name)
	if root := os.Getenv("ROCKETGO_ARTIFACTS"); root != "" {
		dir = filepath.Join(root, name)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// Browser is a running headless Chromium with a fresh profile.
type Browser struct {
	// Ctx runs chromedp actions in the browser's tab.
	Ctx context.Context

	mu   sync.Mutex
	errs []string
}

// Start launches browser for the life of t (or of ctx) with a window of
// width×height, nothing reaching out to the network on its own, and starts
// recording script exceptions and console errors (a CSP violation is one;
// a missing favicon is no error of a page).
func Start(t *testing.T, ctx context.Context, browser string, width, height int) *Browser {
	t.Helper()
	// Chromium keeps its singleton socket in a directory it makes under
	// TMPDIR and leaves behind; pointing TMPDIR at the test's own
	// directory has the test remove it.
	tmp := t.TempDir()
	alloc, cancelAlloc := chromedp.NewExecAllocator(ctx, chromedp.Env("TMPDIR="+tmp),
		chromedp.ExecPath(browser), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true), chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true), chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(width, height))
	t.Cleanup(cancelAlloc)
	bctx, cancelBrowser := chromedp.NewContext(alloc)
	t.Cleanup(cancelBrowser)
	if err := chromedp.Do(bctx); err != nil {
		t.Fatalf("starting %s: %v", browser, err)
	}
	b := &Browser{Ctx: bctx}
	go func() {
		for ev, err := range chromedp.Events(bctx, runtime.ExceptionThrown) {
			if err != nil {
				return
			}
			b.record("exception: " + ev.ExceptionDetails.Text)
		}
	}()
	go func() {
		for ev, err := range chromedp.Events(bctx, log.EntryAdded) {
			if err != nil {
				return
			}
			if ev.Entry.Level == log.EntryLevelError && !strings.Contains(ev.Entry.URL, "favicon") {
				b.record(fmt.Sprintf("console %s: %s (%s)", ev.Entry.Source, ev.Entry.Text, ev.Entry.URL))
			}
		}
	}()
	return b
}

func (b *Browser) record(e string) {
	b.mu.Lock()
	b.errs = append(b.errs, e)
	b.mu.Unlock()
}

// Errors returns the page errors recorded so far.
func (b *Browser) Errors() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.errs...)
}

// CheckErrors fails t with every page error recorded so far.
func (b *Browser) CheckErrors(t *testing.T) {
	t.Helper()
	for _, e := range b.Errors() {
		t.Errorf("page error: %s", e)
	}
}
