package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	"github.com/pcapdaemon/pcapdaemon/bpfcompile"
	"github.com/pcapdaemon/pcapdaemon/internal/browsertest"
)

// recordingAgent takes every request and keeps its message.
type recordingAgent struct {
	mu   sync.Mutex
	msgs [][]byte
}

func (a *recordingAgent) Submit(_ context.Context, msg []byte, _ string) (string, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.msgs = append(a.msgs, append([]byte(nil), msg...))
	return "form-1", nil
}

func (a *recordingAgent) last() []byte {
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.msgs) == 0 {
		return nil
	}
	return a.msgs[len(a.msgs)-1]
}

// TestStatusPageInBrowser drives the page in a real headless chromium,
// with a token: the shell asks for the token and keeps it in
// sessionStorage only; the sections load with it; the running capture's
// live counters refresh; hostile request fields show as text and run
// nothing; the form checks a filter (the listing, and the caret under a
// syntax error) and starts a capture with the form's fields as JSON; a
// finished capture's file downloads with the token.
func TestStatusPageInBrowser(t *testing.T) {
	const tok = "browser-token-0123456789"
	rec := &recordingAgent{}
	env := statusServer(t, tok, true, rec)
	b := browsertest.Start(t)
	ctx := b.Tab(t, 90*time.Second)

	browsertest.Do(t, ctx, "open the page", chromedp.Navigate(env.base+"/"),
		chromedp.WaitVisible(chromedp.ID("tokenform")))
	browsertest.Screenshot(t, ctx, "token")
	if got := browsertest.Text(t, ctx, "#agent"); strings.Contains(got, "cap1") {
		t.Errorf("the shell shows the agent before the token: %q", got)
	}
	browsertest.Do(t, ctx, "give the token", chromedp.SendKeys(chromedp.ID("token"), tok),
		chromedp.Click(chromedp.CSS(`#tokenform button`)))
	browsertest.WaitTrue(t, ctx, "the sections", `document.querySelector("#agent[data-host]") && document.querySelector("#finished")`)
	if got := browsertest.Eval[string](t, ctx, `sessionStorage.getItem("pcapdaemon.token")`); got != tok {
		t.Errorf("sessionStorage holds %q, want the token", got)
	}
	if c := browsertest.Eval[string](t, ctx, `document.cookie + location.href`); strings.Contains(c, tok) {
		t.Errorf("the token is in a cookie or the URL: %q", c)
	}
	if got := browsertest.Text(t, ctx, `#agent td`); got != "cap1<x>" {
		t.Errorf("host cell %q, want the host name as text", got)
	}
	if got := browsertest.Eval[string](t, ctx, `document.title`); got != "pcapdaemon on cap1<x>" {
		t.Errorf("title %q", got)
	}

	// Live counters refresh.
	if got := browsertest.Text(t, ctx, `#running tr[data-interface="eth0"] td.packets`); got != "1234" {
		t.Errorf("running eth0 packets %q, want 1234", got)
	}
	env.api.update(func(caps map[string][]map[string]any) {
		caps["running"][0]["live"].([]map[string]any)[0]["packets"] = 99999
	})
	browsertest.WaitTrue(t, ctx, "the refreshed counter",
		`(document.querySelector('#running tr[data-interface="eth0"] td.packets')||{}).textContent === "99999"`)

	// Hostile fields are text, and ran nothing.
	if got := browsertest.Text(t, ctx, `#finished .tags`); got != hostileTags {
		t.Errorf("tags cell %q, want %q as text", got, hostileTags)
	}
	if got := browsertest.Text(t, ctx, `#running code`); got != hostileBPF {
		t.Errorf("filter cell %q, want %q as text", got, hostileBPF)
	}
	if p := browsertest.Eval[bool](t, ctx, `window.pwned !== undefined || document.querySelector("#captures img, #captures script, #captures iframe") !== null`); p {
		t.Error("a hostile request field became markup")
	}

	// The filter check prints what "pcapdaemon bpf -d" prints.
	prog, err := bpfcompile.Compile("tcp port 443", bpfcompile.Options{LinkType: 1, Snaplen: 500, Netmask: 0xffffff00, Live: true})
	if err != nil {
		t.Fatal(err)
	}
	var listing strings.Builder
	bpfcompile.Dump(&listing, prog, bpfcompile.DumpListing)
	browsertest.Do(t, ctx, "check a filter", chromedp.SetValue(chromedp.ID("f-interface"), "eth0"),
		chromedp.SetValue(chromedp.ID("f-bpf"), "tcp port 443"), chromedp.Click(chromedp.ID("checkbtn")))
	browsertest.WaitTrue(t, ctx, "the listing", `!document.getElementById("program").hidden`)
	if got := browsertest.Text(t, ctx, "#program"); got != listing.String() {
		t.Errorf("listing on the page:\n%s\nwant:\n%s", got, listing.String())
	}
	browsertest.Screenshot(t, ctx, "filter")
	browsertest.Do(t, ctx, "check a bad filter", chromedp.SetValue(chromedp.ID("f-bpf"), "tcp port"),
		chromedp.Click(chromedp.ID("checkbtn")))
	browsertest.WaitTrue(t, ctx, "the error", `document.getElementById("formmsg").className === "err"`)
	if got := browsertest.Text(t, ctx, "#program"); got != "tcp port\n        ^" {
		t.Errorf("error marker %q, want the caret under column 9", got)
	}
	if msg := browsertest.Text(t, ctx, "#formmsg"); !strings.Contains(msg, "1:9") {
		t.Errorf("error message %q names no position", msg)
	}

	// The form starts a capture: JSON with the form's fields.
	browsertest.Do(t, ctx, "start a capture", chromedp.SetValue(chromedp.ID("f-bpf"), "udp"),
		chromedp.SetValue(chromedp.ID("f-packets"), "5"), chromedp.SetValue(chromedp.ID("f-tags"), hostileTags),
		chromedp.Click(chromedp.ID("startbtn")))
	browsertest.WaitTrue(t, ctx, "the started message", `document.getElementById("formmsg").dataset.id === "form-1"`)
	var req map[string]any
	if err := json.Unmarshal(rec.last(), &req); err != nil {
		t.Fatalf("the form sent %q: %v", rec.last(), err)
	}
	want := map[string]any{"node": "cap1<x>", "interface": []any{"eth0"}, "bpf": "udp", "packets": 5.0, "tags": hostileTags}
	if g, w := mustJSON(t, req), mustJSON(t, want); g != w {
		t.Errorf("the form sent %s, want %s", g, w)
	}

	// Stop cancels the running capture through the API.
	browsertest.ClickLive(t, ctx, "stop a capture", `#running button.cancel[data-id="run-1"]`)
	select {
	case id := <-env.cancelled:
		if id != "run-1" {
			t.Errorf("Stop cancelled %q, want run-1", id)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("Stop cancelled nothing; the page says %q", browsertest.Text(t, ctx, "#notice"))
	}
	if msg := browsertest.Text(t, ctx, "#notice"); msg != "" {
		t.Errorf("notice after Stop: %q", msg)
	}

	// The download goes through the API with the token.
	browsertest.ClickLive(t, ctx, "download", `#finished a.download`)
	file := b.WaitDownload(t, 20*time.Second)
	if got, err := os.ReadFile(file); err != nil || !bytes.Equal(got, contractFile) || filepath.Base(file) != "cap1-eth0-1-done-1.pcap" {
		t.Errorf("downloaded %s: %q %v, want %q", file, got, err, contractFile)
	}
	browsertest.Screenshot(t, ctx, "loaded")
}

// TestStatusPageWithoutJavaScript: without a token the page reads in a
// browser that runs no script: the agent, the interfaces, the running
// capture's counters and the finished captures with their links.
func TestStatusPageWithoutJavaScript(t *testing.T) {
	env := statusServer(t, "", true, nil)
	b := browsertest.Start(t)
	ctx := b.Tab(t, 60*time.Second)
	if _, err := chromedp.Call(ctx, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: true}); err != nil {
		t.Fatal(err)
	}
	browsertest.Do(t, ctx, "open the page", chromedp.Navigate(env.base+"/"), chromedp.WaitVisible(chromedp.ID("finished")))
	for sel, want := range map[string]string{
		`#agent td`: "cap1<x>",
		`#interfaces tr[data-name="eth0"] td:nth-child(2)`: "main, public",
		`#running tr[data-interface="eth0"] td.packets`:    "1234",
		`#finished tr[data-id="done-1"] td.status`:         "ok",
		`#finished a.download`:                             "download",
		`#finished .tags`:                                  hostileTags,
	} {
		if got := browsertest.Text(t, ctx, sel); got != want {
			t.Errorf("%s = %q, want %q", sel, got, want)
		}
	}
	browsertest.Screenshot(t, ctx, "nojs")
	// Without a token the link is a plain download.
	browsertest.Do(t, ctx, "download", chromedp.Click(chromedp.CSS(`#finished a.download`)))
	if got, err := os.ReadFile(b.WaitDownload(t, 20*time.Second)); err != nil || !bytes.Equal(got, contractFile) {
		t.Errorf("downloaded %q %v", got, err)
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
