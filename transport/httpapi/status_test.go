package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pcapdaemon/pcapdaemon/agent"
	"github.com/pcapdaemon/pcapdaemon/bpfcompile"
	"github.com/pcapdaemon/pcapdaemon/transport"
)

// Hostile values a requester controls: each must reach the page escaped.
const (
	hostileTags     = `<script>window.pwned="tags"</script>`
	hostileCustomer = `"><img src=x onerror=window.pwned=1>`
	hostileBPF      = `tcp</code><script>window.pwned="bpf"</script>`
	hostileNode     = `node<b>1</b>`
	hostileIface    = `ev<i>l0`
	hostileError    = `<iframe src="//evil.example">`
)

// fakeStatus is a StatusSource with a fixed agent and a real agent for
// CheckFilter (real compiler, fake interfaces).
type fakeStatus struct {
	ag *agent.Agent
	at time.Time
}

func newFakeStatus(t *testing.T) *fakeStatus {
	t.Helper()
	ag, err := agent.New(agent.Config{Hostname: "cap1", Snaplen: 500, NoFilterNames: true},
		agent.WithInterfaceLookup(func(name string) (agent.InterfaceInfo, error) {
			switch name {
			case "eth0":
				return agent.InterfaceInfo{LinkType: 1, Netmask: 0xffffff00}, nil
			case "tun0":
				return agent.InterfaceInfo{LinkType: 101}, nil
			}
			return agent.InterfaceInfo{}, fmt.Errorf("interface %q: %w", name, os.ErrNotExist)
		}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ag.Shutdown(context.Background()) })
	return &fakeStatus{ag: ag, at: time.Date(2026, 5, 4, 3, 2, 1, 0, time.UTC)}
}

func (f *fakeStatus) Agent() AgentInfo {
	return AgentInfo{
		Host: "cap1<x>", Version: "v1.2.3", Started: f.at, Running: 1, Snaplen: 500, Format: "pcap",
		Interfaces: []InterfaceInfo{
			{Name: "eth0", Aliases: []string{"main", "public"}, LinkType: "EN10MB", DLT: 1},
			{Name: "tun0", LinkType: "RAW", DLT: 101},
			{Name: hostileIface, LinkType: "EN10MB", DLT: 1},
		},
	}
}

func (f *fakeStatus) CheckFilter(ctx context.Context, expr, iface string, snap int64) (agent.FilterCheck, error) {
	return f.ag.CheckFilter(ctx, expr, iface, snap)
}

// contractCaptures is what the list endpoint answers in these tests: the
// JSON of GET /v1/captures as the page expects it, one running capture
// with live counters and finished ones with hostile echoed fields.
func contractCaptures(at time.Time) map[string][]map[string]any {
	return map[string][]map[string]any{
		"running": {{
			"id": "run-1", "state": "running", "source": "http", "submitted": at, "interfaces": []string{"eth0", hostileIface},
			"bpf": hostileBPF,
			"live": []map[string]any{
				{"interface": "eth0", "packets": 1234, "bytes": 56789, "kernel_drops": 7, "since": at},
				{"interface": hostileIface, "packets": 5, "bytes": 500, "kernel_drops": 0, "since": at},
			},
			"results": nil,
		}},
		"done": {
			{"id": "done-1", "state": "done", "submitted": at, "interfaces": []string{"eth0"}, "results": []map[string]any{{
				"id": "done-1", "node": hostileNode, "interface": "eth0", "status": "ok", "stop_reason": "packets",
				"packets": 10, "bytes": 1500, "kernel_drops": 0, "started": at, "ended": at.Add(3 * time.Second),
				"tags": hostileTags, "customer": hostileCustomer, "alertid": 4242,
				"locations": []string{"/var/lib/pcapdaemon/cap1-eth0-1-done-1.pcap", "s3://b/k"},
			}}},
			{"id": "done-2", "state": "done", "submitted": at, "results": []map[string]any{{
				"id": "done-2", "node": "cap1", "status": "rejected", "error": hostileError,
			}}},
		},
	}
}

// contractAPI serves GET /v1/captures and GET /v1/captures/{id}/file as
// the page expects them (the other parts of the daemon provide the real
// ones); the test may change what it lists.
type contractAPI struct {
	mu   sync.Mutex
	caps map[string][]map[string]any
}

// update changes the listed captures under the lock.
func (c *contractAPI) update(f func(caps map[string][]map[string]any)) {
	c.mu.Lock()
	defer c.mu.Unlock()
	f(c.caps)
}

// List implements Lister over the contract's captures (JSON as the page
// expects it, decoded into the agent's types as the real list sends them).
func (c *contractAPI) List(q agent.ListQuery) (agent.ListPage, error) {
	c.mu.Lock()
	var caps []map[string]any
	if q.State == "" {
		caps = append(append(caps, c.caps["running"]...), c.caps["done"]...)
	} else {
		caps = c.caps[q.State]
	}
	b, err := json.Marshal(caps)
	c.mu.Unlock()
	page := agent.ListPage{Captures: []agent.RequestState{}}
	if err != nil {
		return page, err
	}
	err = json.Unmarshal(b, &page.Captures)
	return page, err
}

// contractFile is the file the contract's download serves.
var contractFile = []byte("\xd4\xc3\xb2\xa1 pcap bytes")

// CaptureFile implements Filer: every capture's file is contractFile.
func (c *contractAPI) CaptureFile(id, iface string) (*File, error) {
	return &File{Name: "cap1-eth0-1-" + id + ".pcap", Format: agent.FormatPcap,
		Content: nopCloser{bytes.NewReader(contractFile)}}, nil
}

type nopCloser struct{ io.ReadSeeker }

func (nopCloser) Close() error { return nil }

// contractBackend is the Backend of the status tests: DELETE reports the
// cancelled ids; with the contract's captures it also lists and serves
// files.
type contractBackend struct {
	Backend
	*contractAPI
}

// statusEnv is a served Server with the status page.
type statusEnv struct {
	s         *Server
	base      string
	st        *fakeStatus
	api       *contractAPI // nil without the list
	cancelled chan string  // the ids DELETE cancelled
}

// statusServer serves a Server with the status page, the contract's list
// and file endpoints when withList is set, and the token tok ("" for
// none); sub takes the requests (nil: a fakeAgent).
func statusServer(t *testing.T, tok string, withList bool, sub transport.Submitter) statusEnv {
	t.Helper()
	st := newFakeStatus(t)
	if sub == nil {
		sub = &fakeAgent{}
	}
	cancelled := make(chan string, 10)
	var be Backend = Adapt[any](nil, func(id string) error { cancelled <- id; return nil })
	var api *contractAPI
	if withList {
		api = &contractAPI{caps: contractCaptures(st.at)}
		be = contractBackend{be, api}
	}
	s, err := New(Options{Listen: "127.0.0.1:0", Token: tok}, sub, be, nil)
	if err != nil {
		t.Fatal(err)
	}
	s.ServeStatus(st)
	s.status.now = func() time.Time { return st.at.Add(90 * time.Minute) }
	env := statusEnv{s: s, st: st, cancelled: cancelled, api: api}
	env.base = serve(t, s)
	return env
}

// scriptNonce returns the nonce of the page's only script, failing the
// test if the page has another script or an external asset.
func scriptNonce(t *testing.T, page string, hdr http.Header) string {
	t.Helper()
	scripts := regexp.MustCompile(`<script[^>]*>`).FindAllString(page, -1)
	if len(scripts) != 1 {
		t.Fatalf("page has %d script tags, want 1: %q", len(scripts), scripts)
	}
	m := regexp.MustCompile(`^<script nonce="([^"]+)">$`).FindStringSubmatch(scripts[0])
	if m == nil {
		t.Fatalf("script tag %q has no nonce", scripts[0])
	}
	csp := hdr.Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'none'", "script-src 'nonce-" + m[1] + "'", "frame-ancestors 'none'", "connect-src 'self'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("Content-Security-Policy %q lacks %q", csp, want)
		}
	}
	if ext := regexp.MustCompile(`(?i)(src|href)="(https?:)?//`).FindString(page); ext != "" {
		t.Errorf("page loads an external asset: %s", ext)
	}
	return m[1]
}

// TestStatusPageRendered: without a token the page is rendered whole by
// the server (readable without JavaScript): the agent, its interfaces, the
// running capture's live counters, the finished ones with their results
// and download links, every requester-controlled value escaped.
func TestStatusPageRendered(t *testing.T) {
	base := statusServer(t, "", true, nil).base
	code, page, hdr := call(t, nil, "GET", base+"/", "", nil)
	if code != 200 || hdr.Get("Content-Type") != "text/html; charset=utf-8" {
		t.Fatalf("GET / = %d %s", code, hdr.Get("Content-Type"))
	}
	n1 := scriptNonce(t, page, hdr)
	_, page2, hdr2 := call(t, nil, "GET", base+"/", "", nil)
	if n2 := scriptNonce(t, page2, hdr2); n1 == n2 {
		t.Errorf("two pages share the nonce %s", n1)
	}
	for _, want := range []string{
		`data-auth="none"`,
		`<td>v1.2.3</td>`, `2026-05-04 03:02:01Z (1h30m00s)`, `snap 500, pcap`,
		`data-host="cap1&lt;x&gt;"`, `<td>main, public</td>`, `<td>RAW</td>`,
		// the running capture's live counters
		`<td class="num packets">1234</td><td class="num bytes">56789</td><td class="num drops">7</td>`,
		`2026-05-04 03:02:01Z (1h30m00s)`,
		// the finished capture, its result and file
		`<td class="status ok">ok</td><td>packets</td>`, `2026-05-04 03:02:01Z (3s)</td>`,
		`<a class="download" href="/v1/captures/done-1/file?interface=eth0">download</a>`,
		`<div class="loc">s3://b/k</div>`, `<div>alert 4242</div>`,
		`<td class="status rejected">rejected</td>`,
		// escaped hostile values
		`&lt;script&gt;window.pwned=&#34;tags&#34;&lt;/script&gt;`,
		`customer &#34;&gt;&lt;img src=x onerror=window.pwned=1&gt;`,
		`<code>tcp&lt;/code&gt;&lt;script&gt;window.pwned=&#34;bpf&#34;&lt;/script&gt;</code>`,
		`<td>ev&lt;i&gt;l0</td>`, `data-interface="ev&lt;i&gt;l0"`,
		`&lt;iframe src=&#34;//evil.example&#34;&gt;`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %s", want)
		}
	}
	for _, raw := range []string{hostileTags, hostileCustomer, hostileBPF, hostileIface, hostileError, "<x>", "onerror=window.pwned=1>"} {
		if strings.Contains(page, raw) {
			t.Errorf("page holds %q unescaped", raw)
		}
	}
	for _, h := range []string{"X-Frame-Options", "Referrer-Policy", "X-Content-Type-Options", "Cache-Control"} {
		if hdr.Get(h) == "" {
			t.Errorf("page without %s", h)
		}
	}
	// The page answers only loopback Host names, as the API does.
	if code, _, _ := call(t, nil, "GET", base+"/", "", map[string]string{"Host": "rebind.example"}); code != http.StatusMisdirectedRequest {
		t.Errorf("GET / with Host rebind.example = %d, want 421", code)
	}
	// Other paths are not the page.
	if code, _, _ := call(t, nil, "GET", base+"/index.html", "", nil); code != 404 {
		t.Errorf("GET /index.html = %d, want 404", code)
	}
}

// TestStatusPageToken: with a token, GET / is the shell alone: no host,
// no interface, no capture; the sections and the agent come from the API
// with the token.
func TestStatusPageToken(t *testing.T) {
	const tok = "page-token-0123456789"
	base := statusServer(t, tok, true, nil).base
	code, page, hdr := call(t, nil, "GET", base+"/", "", nil)
	if code != 200 {
		t.Fatalf("GET / = %d", code)
	}
	scriptNonce(t, page, hdr)
	if !strings.Contains(page, `data-auth="bearer"`) || !strings.Contains(page, `id="tokenform"`) {
		t.Error("the shell does not ask for the token")
	}
	for _, secret := range []string{"cap1", "v1.2.3", "eth0", "tun0", "run-1", "done-1", "1234", "alert 4242", tok} {
		if strings.Contains(page, secret) {
			t.Errorf("the shell shows %q without the token", secret)
		}
	}
	auth := map[string]string{"Authorization": "Bearer " + tok}
	for _, tt := range []struct {
		path, want string
	}{
		{"/v1/ui/agent", `data-host="cap1&lt;x&gt;"`},
		{"/v1/ui/interfaces", `<tr data-name="tun0">`},
		{"/v1/ui/captures", `<a class="download" href="/v1/captures/done-1/file?interface=eth0">`},
		{"/v1/agent", `"host":"cap1\u003cx\u003e"`},
	} {
		if code, body, _ := call(t, nil, "GET", base+tt.path, "", nil); code != http.StatusUnauthorized || strings.Contains(body, "cap1") {
			t.Errorf("GET %s without the token = %d %q, want 401", tt.path, code, body)
		}
		code, body, h := call(t, nil, "GET", base+tt.path, "", auth)
		if code != 200 || !strings.Contains(body, tt.want) {
			t.Errorf("GET %s with the token = %d %q, want it to hold %s", tt.path, code, body, tt.want)
		}
		if strings.HasPrefix(tt.path, "/v1/ui/") && !strings.HasPrefix(h.Get("Content-Security-Policy"), "default-src 'none'") {
			t.Errorf("fragment %s with CSP %q", tt.path, h.Get("Content-Security-Policy"))
		}
	}
	if code, _, _ := call(t, nil, "GET", base+"/v1/ui/nope", "", auth); code != 404 {
		t.Errorf("GET /v1/ui/nope = %d, want 404", code)
	}
}

// TestStatusPageWithoutListing: a build without GET /v1/captures and
// GET /v1/captures/{id}/file shows the rest of the page, says the list is
// missing, and offers no download link.
func TestStatusPageWithoutListing(t *testing.T) {
	base := statusServer(t, "", false, nil).base
	code, page, _ := call(t, nil, "GET", base+"/", "", nil)
	if code != 200 || !strings.Contains(page, `id="nolist"`) || !strings.Contains(page, `<td>main, public</td>`) {
		t.Fatalf("GET / = %d:\n%s", code, page)
	}
	if strings.Contains(page, `class="download"`) || strings.Contains(page, "rendering the page failed") {
		t.Errorf("page without the list offers downloads or failed:\n%s", page)
	}
}

// TestFilterCheck: POST /v1/filter/check prints the program as
// "pcapdaemon bpf -d" does, for the interface's link type, or answers 400
// with the error, the field and the position; it takes JSON from the
// API's own origin only, with the token.
func TestFilterCheck(t *testing.T) {
	const tok = "check-token-0123456789"
	base := statusServer(t, tok, false, nil).base
	listing := func(expr string, lt bpfcompile.LinkType, snap int) string {
		prog, err := bpfcompile.Compile(expr, bpfcompile.Options{LinkType: lt, Snaplen: snap, Netmask: 0xffffff00, Live: true})
		if err != nil {
			t.Fatal(err)
		}
		var b strings.Builder
		bpfcompile.Dump(&b, prog, bpfcompile.DumpListing)
		return b.String()
	}
	json200 := map[string]string{"Content-Type": "application/json", "Authorization": "Bearer " + tok}
	for _, tt := range []struct {
		name, body string
		hdr        map[string]string
		code       int
		want       any // FilterCheckResult, FilterCheckError or a substring
	}{
		{"ethernet", `{"bpf":"tcp port 443","interface":"eth0"}`, json200, 200,
			FilterCheckResult{Interface: "eth0", LinkType: "EN10MB", DLT: 1, Snaplen: 500, Listing: listing("tcp port 443", 1, 500)}},
		{"raw IP with snap", `{"bpf":"udp","interface":"tun0","snap":1500}`, json200, 200,
			FilterCheckResult{Interface: "tun0", LinkType: "RAW", DLT: 101, Snaplen: 1500, Listing: listing("udp", 101, 1500)}},
		{"no filter", `{"bpf":"","interface":"eth0"}`, json200, 200,
			FilterCheckResult{Interface: "eth0", LinkType: "EN10MB", DLT: 1, Snaplen: 500}},
		{"syntax error", `{"bpf":"tcp port","interface":"eth0"}`, json200, 400,
			FilterCheckError{Field: "bpf", Position: &Position{Offset: 8, Line: 1, Col: 9}}},
		{"names off", `{"bpf":"host www.example.com","interface":"eth0"}`, json200, 400,
			FilterCheckError{Field: "bpf"}},
		{"unknown interface", `{"bpf":"tcp","interface":"eth9"}`, json200, 400, FilterCheckError{Field: "interface"}},
		{"unknown field", `{"bpf":"tcp","iface":"eth0"}`, json200, 400, `unknown field`},
		{"two objects", `{"bpf":"tcp","interface":"eth0"}{}`, json200, 400, `one JSON object`},
		{"no token", `{"bpf":"tcp","interface":"eth0"}`, map[string]string{"Content-Type": "application/json"}, 401, "bearer token"},
		{"form post", `bpf=tcp`, map[string]string{"Content-Type": "application/x-www-form-urlencoded", "Authorization": "Bearer " + tok}, 415, "application/json"},
		{"other origin", `{"bpf":"tcp","interface":"eth0"}`, map[string]string{"Content-Type": "application/json", "Authorization": "Bearer " + tok, "Origin": "http://evil.example"}, 403, "Origin"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			code, body, _ := call(t, nil, "POST", base+"/v1/filter/check", tt.body, tt.hdr)
			if code != tt.code {
				t.Fatalf("POST = %d %s, want %d", code, body, tt.code)
			}
			switch want := tt.want.(type) {
			case string:
				if !strings.Contains(body, want) {
					t.Errorf("answer %s lacks %q", body, want)
				}
			case FilterCheckResult:
				var got FilterCheckResult
				if err := json.Unmarshal([]byte(body), &got); err != nil {
					t.Fatal(err)
				}
				want.Instructions = strings.Count(want.Listing, "\n")
				if got != want {
					t.Errorf("answer\n%+v\nwant\n%+v", got, want)
				}
			case FilterCheckError:
				if want.Position != nil && !strings.Contains(body, `"position":{"offset":8,"line":1,"col":9}`) {
					t.Errorf("position not in lower case JSON: %s", body)
				}
				var got FilterCheckError
				if err := json.Unmarshal([]byte(body), &got); err != nil {
					t.Fatal(err)
				}
				if got.Field != want.Field || got.Error == "" || (want.Position == nil) != (got.Position == nil) ||
					(want.Position != nil && *got.Position != *want.Position) {
					t.Errorf("answer %s, want field %s, position %v", body, want.Field, want.Position)
				}
			}
		})
	}
	// The same origin is the page's own: its POST passes.
	hdr := map[string]string{"Content-Type": "application/json", "Authorization": "Bearer " + tok, "Origin": base}
	if code, body, _ := call(t, nil, "POST", base+"/v1/filter/check", `{"bpf":"tcp","interface":"eth0"}`, hdr); code != 200 {
		t.Errorf("POST from the page's own origin = %d %s", code, body)
	}
}
