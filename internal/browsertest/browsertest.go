// Package browsertest runs a real headless browser for tests: Debian's
// chromium, driven over the Chrome DevTools Protocol by chromedp (a kept
// library that speaks the protocol from generated, typed bindings, so that
// the tests name actions, not JSON messages). It is used by tests only;
// the daemon never links it.
package browsertest

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/chromedp"

	"github.com/pcapdaemon/pcapdaemon/internal/testenv"
)

// ScreenshotsEnv names a directory where Screenshot also saves its PNGs,
// for a person to look at (they are never committed).
const ScreenshotsEnv = "PCAPDAEMON_SCREENSHOTS"

// Browser is one headless chromium process for a test.
type Browser struct {
	ctx context.Context // the browser's first tab
	// Downloads is where the browser saves downloaded files.
	Downloads string
}

// findChromium returns the browser binary's path, or "".
func findChromium() string {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// Start launches chromium with a fresh profile and stops it when the test
// ends. Without a chromium it skips the test (or fails it, see
// testenv.Skip: CI installs Debian's chromium).
func Start(t testing.TB) *Browser {
	t.Helper()
	path := findChromium()
	if path == "" {
		testenv.Skip(t, "no chromium installed (apt-get install chromium)")
		return nil
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.Headless,
		// As root there is no user namespace sandbox for the renderer.
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		// Nothing leaves the machine but what the test asks for.
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-default-apps", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("metrics-recording-only", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1400, 1000),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	b := &Browser{ctx: ctx, Downloads: t.TempDir()}
	t.Cleanup(func() {
		cancel()
		cancelAlloc() // ends the browser process it started
	})
	// The first action starts the browser and binds it to ctx, which has
	// no deadline: a deadline there would end the browser with it.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("starting %s: %v", path, err)
	}
	if _, err := chromedp.CallBrowser(ctx, browser.SetDownloadBehavior, browser.SetDownloadBehaviorParams{
		Behavior: browser.SetDownloadBehaviorBehaviorAllow, DownloadPath: b.Downloads,
	}); err != nil {
		t.Fatalf("allowing downloads: %v", err)
	}
	return b
}

// Tab returns the browser's tab, bounded by timeout: the deadline ends any
// action still waiting, and leaves the browser running.
func (b *Browser) Tab(t testing.TB, timeout time.Duration) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, timeout)
	t.Cleanup(cancel)
	return ctx
}

// Screenshot saves a PNG of the whole page as name.png in the test's
// temporary directory or, when PCAPDAEMON_SCREENSHOTS names a directory,
// there; it returns the path, which it logs.
func Screenshot(t testing.TB, ctx context.Context, name string) string {
	t.Helper()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	dir := os.Getenv(ScreenshotsEnv)
	if dir == "" {
		dir = t.TempDir()
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	file := strings.NewReplacer("/", "_", " ", "_").Replace(t.Name() + "-" + name)
	path := filepath.Join(dir, file+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot %s (%d bytes)", path, len(png))
	return path
}

// WaitDownload waits until b.Downloads holds one finished download (no
// .crdownload part left) and returns its path.
func (b *Browser) WaitDownload(t testing.TB, timeout time.Duration) string {
	t.Helper()
	var got string
	ok := testenv.WaitFor(timeout, func() bool {
		names := testenv.ReadDirNames(b.Downloads)
		for _, n := range names {
			if strings.HasSuffix(n, ".crdownload") {
				return false
			}
		}
		if len(names) == 1 {
			got = names[0] // ReadDirNames gives whole paths
			return true
		}
		return false
	})
	if !ok {
		t.Fatalf("no download finished in %s within %v: %v", b.Downloads, timeout, testenv.ReadDirNames(b.Downloads))
	}
	return got
}

// Do runs actions in the tab, failing the test on an error.
func Do(t testing.TB, ctx context.Context, what string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(ctx, actions...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// Text returns the text of the first element matching the CSS selector
// sel, once there is one.
func Text(t testing.TB, ctx context.Context, sel string) string {
	t.Helper()
	s, err := chromedp.Run(ctx, chromedp.TextContent(chromedp.CSS(sel)))
	if err != nil {
		t.Fatalf("text of %s: %v", sel, err)
	}
	return s
}

// Eval evaluates a JavaScript expression in the page and returns its value.
func Eval[T any](t testing.TB, ctx context.Context, expr string) T {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		t.Fatalf("evaluating %s: %v", expr, err)
	}
	return v
}

// WaitTrue polls a JavaScript expression every 50 ms until it is truthy,
// within the tab's deadline; what says what it waits for.
func WaitTrue(t testing.TB, ctx context.Context, what, expr string) {
	t.Helper()
	if _, err := chromedp.Run(ctx, chromedp.Poll[chromedp.Void](expr, chromedp.WithPollingInterval(50*time.Millisecond))); err != nil {
		t.Fatalf("waiting for %s (%s): %v", what, expr, err)
	}
}

// ClickLive clicks the first element matching the CSS selector sel in one
// step of the page's own script, once there is one. Use it for elements of
// sections the page re-renders on a timer: chromedp.Click finds the node,
// then asks for its box and dispatches mouse events in separate round
// trips, and a re-render in between leaves it holding a node that is gone.
func ClickLive(t testing.TB, ctx context.Context, what, sel string) {
	t.Helper()
	q, err := json.Marshal(sel)
	if err != nil {
		t.Fatal(err)
	}
	WaitTrue(t, ctx, what, `(() => { const e = document.querySelector(`+string(q)+`); if (!e) return false; e.click(); return true; })()`)
}
