package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/pcapdaemon/pcapdaemon/internal/browsertest"
	"github.com/pcapdaemon/pcapdaemon/internal/netns"
	"github.com/pcapdaemon/pcapdaemon/internal/testenv"
)

// waitDoneWithToken waits until request id is done, asking the API with
// the e2e token, and returns its state.
func waitDoneWithToken(t *testing.T, api apiClient, id string, timeout time.Duration) requestState {
	t.Helper()
	var s requestState
	ok := testenv.WaitFor(timeout, func() bool {
		code, body := api.do(t, "GET", "/v1/captures/"+id, "", nil)
		return code == http.StatusOK && json.Unmarshal([]byte(body), &s) == nil && s.State == "done"
	})
	if !ok {
		t.Fatalf("request %s not done within %v: %+v", id, timeout, s)
	}
	return s
}

// TestStatusPageBrowser runs the real daemon (HTTP API with a token, a
// local sink) capturing on a veth pair, and drives its status page in a
// real headless chromium: the page asks for the token; it shows the agent
// and the pair's interface with its link type; it lists a capture started
// through the API; its form prints a filter as "pcapdaemon bpf -i IFACE
// -d" does and starts a capture, whose frames are sent on the pair; the
// file downloads from the page, and tcpdump -r reads the frames sent.
// The list and the download are the API's GET /v1/captures and
// GET /v1/captures/{id}/file: a build without them must say so on the
// page, and the file is then read where the local sink put it.
func TestStatusPageBrowser(t *testing.T) {
	testenv.RequireRoot(t)
	if _, err := exec.LookPath("tcpdump"); err != nil {
		testenv.Skip(t, "tcpdump not installed")
	}
	pair := netns.NewVethPair(t)
	dir := t.TempDir()
	port := testenv.FreePort(t)
	api := apiClient{base: apiURL(port)}
	cfg := filepath.Join(dir, "pcapdaemon.toml")
	conf := fmt.Sprintf("[general]\nwritelocal = true\nlocaldir = %q\nsnaplength = 1500\nshutdowngrace = 10\n\n"+
		"[http]\nlisten = \"127.0.0.1:%d\"\ntoken = %q\n", dir, port, e2eAPIToken)
	if err := os.WriteFile(cfg, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	d := startDaemon(t, "-config", cfg)
	waitHTTP(t, d, api.base)

	// A capture to list, started through the API.
	const tags = `<script>window.pwned=1</script>`
	code, body := api.do(t, "POST", "/v1/captures", fmt.Sprintf(
		`{"id":"listed-1","node":"any","interface":[%q],"bpf":"udp port 7001","packets":2,"tags":%q}`, pair.Host, tags), nil)
	if code != http.StatusAccepted {
		t.Fatalf("POST = %d %s", code, body)
	}
	listed := [][]byte{udpFrame(pair, 7001, []byte("listed"))}
	sendUntil(t, pair, listed, func() bool {
		_, b := api.do(t, "GET", "/v1/captures/listed-1", "", nil)
		return strings.Contains(b, `"state":"done"`)
	})
	waitDoneWithToken(t, api, "listed-1", 10*time.Second)
	listCode, _ := api.do(t, "GET", "/v1/captures?state=done", "", nil)
	hasList := listCode == http.StatusOK
	t.Logf("GET /v1/captures: %d (list served: %v)", listCode, hasList)

	b := browsertest.Start(t)
	ctx := b.Tab(t, 120*time.Second)
	browsertest.Do(t, ctx, "open the page", chromedp.Navigate(api.base+"/"), chromedp.WaitVisible(chromedp.ID("tokenform")))
	browsertest.Do(t, ctx, "give the token", chromedp.SendKeys(chromedp.ID("token"), e2eAPIToken),
		chromedp.Click(chromedp.CSS(`#tokenform button`)))
	browsertest.WaitTrue(t, ctx, "the agent", `document.querySelector("#agent[data-host]")`)
	if got, want := browsertest.Text(t, ctx, "#agent td"), hostname(t); got != want {
		t.Errorf("agent host %q, want %q", got, want)
	}
	if got := browsertest.Text(t, ctx, fmt.Sprintf(`#interfaces tr[data-name=%q] td:nth-child(3)`, pair.Host)); got != "EN10MB" {
		t.Errorf("link type of %s on the page: %q, want EN10MB", pair.Host, got)
	}
	if hasList {
		browsertest.WaitTrue(t, ctx, "the listed capture", `document.querySelector('#finished tr[data-id="listed-1"]')`)
		if got := browsertest.Text(t, ctx, `#finished tr[data-id="listed-1"] .tags`); got != tags {
			t.Errorf("tags of listed-1 on the page: %q, want %q", got, tags)
		}
	} else {
		browsertest.WaitTrue(t, ctx, "the note that the API lists nothing", `document.querySelector("#nolist")`)
	}

	// The form's filter check prints what "pcapdaemon bpf -i IFACE -d" does
	// with the daemon's snap length.
	const filter = "udp port 7002"
	out, err := exec.Command(daemonBinary(t), "bpf", "-i", pair.Host, "-s", "1500", "-d", filter).Output()
	if err != nil {
		t.Fatalf("pcapdaemon bpf: %v", err)
	}
	browsertest.Do(t, ctx, "check the filter", chromedp.SetValue(chromedp.ID("f-interface"), pair.Host),
		chromedp.SetValue(chromedp.ID("f-bpf"), filter), chromedp.Click(chromedp.ID("checkbtn")))
	browsertest.WaitTrue(t, ctx, "the listing", `!document.getElementById("program").hidden`)
	if got := browsertest.Text(t, ctx, "#program"); got != string(out) {
		t.Errorf("listing on the page:\n%s\npcapdaemon bpf -d prints:\n%s", got, out)
	}

	// The form starts a capture; frames go out on the pair until it ends.
	browsertest.Do(t, ctx, "start a capture", chromedp.SetValue(chromedp.ID("f-packets"), "5"),
		chromedp.SetValue(chromedp.ID("f-customer"), "e2e"), chromedp.Click(chromedp.ID("startbtn")))
	browsertest.WaitTrue(t, ctx, "the started message", `document.getElementById("formmsg").dataset.id`)
	id := browsertest.Eval[string](t, ctx, `document.getElementById("formmsg").dataset.id`)
	var sent [][]byte
	for i := range 5 {
		sent = append(sent, udpFrame(pair, 7002, []byte("form frame "+strconv.Itoa(i))))
	}
	noise := [][]byte{udpFrame(pair, 7003, []byte("not matched"))}
	sendUntil(t, pair, append(noise, sent...), func() bool {
		_, b := api.do(t, "GET", "/v1/captures/"+id, "", nil)
		return strings.Contains(b, `"state":"done"`)
	})
	st := waitDoneWithToken(t, api, id, 10*time.Second)
	if len(st.Results) != 1 || st.Results[0].Status != "ok" || st.Results[0].Packets != 5 {
		t.Fatalf("the form's capture: %+v", st)
	}

	file := ""
	if hasList {
		row := fmt.Sprintf(`#finished tr[data-id=%q]`, id)
		browsertest.WaitTrue(t, ctx, "the form's capture in the finished list", `document.querySelector('`+row+`')`)
		if browsertest.Eval[bool](t, ctx, `document.querySelector('`+row+` a.download') !== null`) {
			browsertest.ClickLive(t, ctx, "download", row+` a.download`)
			file = b.WaitDownload(t, 30*time.Second)
		}
	}
	if file == "" {
		t.Logf("no download link (this build serves no GET /v1/captures/{id}/file): reading %v", st.Results[0].Locations)
		file = st.Results[0].Locations[0]
	}
	browsertest.Screenshot(t, ctx, "daemon")
	lines := tcpdumpRead(t, file)
	if len(lines) != 5 {
		t.Fatalf("tcpdump -r %s: %d packets, want 5:\n%s", file, len(lines), strings.Join(lines, "\n"))
	}
	for _, l := range lines {
		if !strings.Contains(l, pair.HostAddr.String()+".7002: ") {
			t.Errorf("tcpdump line %q is not a frame to port 7002", l)
		}
	}
	checkPcapFile(t, file, sent)
	if p := browsertest.Eval[bool](t, ctx, `window.pwned !== undefined`); p {
		t.Error("a request's tags ran as script on the page")
	}
}
