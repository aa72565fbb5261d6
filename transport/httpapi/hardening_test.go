package httpapi

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pcapdaemon/pcapdaemon/internal/testenv"
)

func TestListenNeedsToken(t *testing.T) {
	tests := []struct {
		listen, token string
		wantErr       bool
	}{
		{"127.0.0.1:0", "", false},
		{"127.0.0.2:0", "", false},
		{"localhost:0", "", false},
		{"[::1]:0", "", false},
		{"0.0.0.0:8657", "", true},
		{":8657", "", true},
		{"[::]:8657", "", true},
		{"198.18.0.1:8657", "", true},
		{"api.example.net:8657", "", true},
		{"0.0.0.0:8657", "tok", false},
		{":8657", "tok", false},
	}
	for _, tt := range tests {
		_, err := New(Options{Listen: tt.listen, Token: tt.token}, &fakeAgent{}, nil, nil)
		if (err != nil) != tt.wantErr {
			t.Errorf("New(listen %q, token %q) = %v, want error: %v", tt.listen, tt.token, err, tt.wantErr)
			continue
		}
		if tt.wantErr && (!errors.Is(err, ErrNoToken) || !strings.Contains(err.Error(), "[http] token") || !strings.Contains(err.Error(), tt.listen)) {
			t.Errorf("New(listen %q) = %v, want ErrNoToken naming [http] token and the address", tt.listen, err)
		}
	}
}

// TestBrowserGuards sends POST and DELETE as a web page could (form and
// text bodies, another Origin) and as curl or the CLI do, over a real
// connection: only the latter reach the agent.
func TestBrowserGuards(t *testing.T) {
	a := &fakeAgent{}
	a.Submit(context.Background(), []byte(`{"id":"known","node":"any"}`), "redis")
	s, err := New(Options{Listen: "127.0.0.1:0"}, a, Adapt(a.Lookup, a.Cancel), nil)
	if err != nil {
		t.Fatal(err)
	}
	base := serve(t, s)
	own := strings.TrimPrefix(base, "http://")
	_, port, _ := net.SplitHostPort(own)
	const json = "application/json"
	tests := []struct {
		name, method string
		hdr          map[string]string
		code         int
		want         string // in the JSON error
	}{
		{"curl", "POST", map[string]string{"Content-Type": json}, 202, ""},
		{"json with charset", "POST", map[string]string{"Content-Type": "application/json; charset=utf-8"}, 202, ""},
		{"json upper case", "POST", map[string]string{"Content-Type": "Application/JSON"}, 202, ""},
		{"same origin", "POST", map[string]string{"Content-Type": json, "Origin": base}, 202, ""},
		{"same origin via localhost", "POST", map[string]string{"Content-Type": json, "Origin": "http://localhost:" + port, "Host": "localhost:" + port}, 202, ""},
		{"no content type", "POST", nil, 415, `Content-Type must be application/json, found \"\"`},
		{"form", "POST", map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, 415, `Content-Type must be application/json, found \"application/x-www-form-urlencoded\"`},
		{"text", "POST", map[string]string{"Content-Type": "text/plain"}, 415, "Content-Type must be application/json"},
		{"multipart", "POST", map[string]string{"Content-Type": "multipart/form-data; boundary=x"}, 415, "Content-Type must be application/json"},
		{"json-ish", "POST", map[string]string{"Content-Type": "application/jsonp"}, 415, "Content-Type must be application/json"},
		{"other origin", "POST", map[string]string{"Content-Type": json, "Origin": "https://evil.example"}, 403, `Origin \"https://evil.example\" is not this API's own (http://` + own + `)`},
		{"null origin", "POST", map[string]string{"Content-Type": json, "Origin": "null"}, 403, "is not this API's own"},
		{"other port", "POST", map[string]string{"Content-Type": json, "Origin": "http://127.0.0.1:1"}, 403, "is not this API's own"},
		{"other scheme", "POST", map[string]string{"Content-Type": json, "Origin": "https://" + own}, 403, "is not this API's own"},
		{"origin with a path", "POST", map[string]string{"Content-Type": json, "Origin": base + "/x"}, 403, "is not this API's own"},
		{"other origin, form", "POST", map[string]string{"Content-Type": "text/plain", "Origin": "https://evil.example"}, 403, "is not this API's own"},
		{"delete", "DELETE", map[string]string{"Content-Type": json}, 204, ""},
		{"delete without content type", "DELETE", nil, 415, "Content-Type must be application/json"},
		{"delete from another origin", "DELETE", map[string]string{"Content-Type": json, "Origin": "http://evil.example"}, 403, "is not this API's own"},
		{"get from another origin", "GET", map[string]string{"Origin": "http://evil.example"}, 200, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a.mu.Lock()
			before := len(a.requests)
			a.mu.Unlock()
			path, body := "/v1/captures", `{"id":"b1","node":"any"}`
			if tt.method != "POST" {
				path, body = "/v1/captures/known", ""
			}
			code, got, h := call(t, nil, tt.method, base+path, body, tt.hdr)
			if code != tt.code {
				t.Fatalf("%s = %d %s, want %d", tt.method, code, got, tt.code)
			}
			if tt.want == "" {
				return
			}
			if h.Get("Content-Type") != "application/json" || !strings.Contains(got, `"error":`) || !strings.Contains(got, tt.want) {
				t.Errorf("answer %s %q, want a JSON error containing %s", h.Get("Content-Type"), got, tt.want)
			}
			a.mu.Lock()
			defer a.mu.Unlock()
			if len(a.requests) != before {
				t.Error("a refused request reached the agent")
			}
		})
	}
}

// TestHostCheck: a loopback listener answers only loopback Host names, on
// every route; a listener beyond loopback does not check them.
func TestHostCheck(t *testing.T) {
	s, err := New(Options{Listen: "127.0.0.1:0"}, &fakeAgent{}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	s.Handle("GET /healthz", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }))
	base := serve(t, s)
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(base, "http://"))
	tests := []struct {
		host string
		ok   bool
	}{
		{"127.0.0.1:" + port, true},
		{"127.0.0.1", true},
		{"127.9.8.7:80", true},
		{"localhost:" + port, true},
		{"LocalHost", true},
		{"localhost.:" + port, true},
		{"[::1]:" + port, true},
		{"[::1]", true},
		{"evil.example:" + port, false},
		{"evil.example", false},
		{"127.0.0.1.evil.example", false},
		{"localhost.evil.example:" + port, false},
		{"198.18.0.1:" + port, false},
		{"[::ffff:198.18.0.1]", false},
	}
	for _, tt := range tests {
		for _, route := range []struct{ method, path, ctype string }{
			{"GET", "/healthz", ""},
			{"GET", "/v1/captures/x", ""},
			{"POST", "/v1/captures", "application/json"},
		} {
			code, body, _ := call(t, nil, route.method, base+route.path, `{"node":"any"}`, map[string]string{"Host": tt.host, "Content-Type": route.ctype})
			if refused := code == http.StatusMisdirectedRequest; refused == tt.ok {
				t.Errorf("Host %q, %s %s = %d %s; want refused: %v", tt.host, route.method, route.path, code, body, !tt.ok)
			}
			if !tt.ok && !strings.Contains(body, "is not a loopback name") {
				t.Errorf("Host %q: answer %s, want an error saying why", tt.host, body)
			}
		}
	}

	// Beyond loopback (with a token), every Host name is answered: the
	// token is the defence there. Not bound: no traffic leaves loopback.
	wide, err := New(Options{Listen: "0.0.0.0:0", Token: "tok"}, &fakeAgent{}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	r := httptest.NewRequest("GET", "http://api.example.net/v1/captures/x", nil)
	r.Header.Set("Authorization", "Bearer tok")
	w := httptest.NewRecorder()
	wide.Handler().ServeHTTP(w, r)
	if w.Code != http.StatusNotFound {
		t.Errorf("beyond loopback, Host api.example.net: %d %s, want 404 (answered)", w.Code, w.Body)
	}
}

// TestTLS serves HTTPS with a certificate from files, reloads it, and
// refuses half a TLS configuration.
func TestTLS(t *testing.T) {
	cert := testenv.NewCert(t)
	a := &fakeAgent{}
	s, err := New(Options{Listen: "127.0.0.1:0", TLSCert: cert.CertFile, TLSKey: cert.KeyFile}, a, Adapt(a.Lookup, a.Cancel), nil)
	if err != nil {
		t.Fatal(err)
	}
	base := serve(t, s)
	if !strings.HasPrefix(base, "https://") {
		t.Fatalf("base %s", base)
	}
	client := func(pool *testenv.Cert) *http.Client {
		return &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool.Pool}}}
	}
	code, body, _ := call(t, client(cert), "POST", base+"/v1/captures", `{"id":"t1","node":"any"}`, map[string]string{"Content-Type": "application/json", "Origin": base})
	if code != http.StatusAccepted {
		t.Fatalf("POST over https = %d %s", code, body)
	}
	// Plain HTTP to the HTTPS port is refused by the TLS layer.
	if code, body, _ := call(t, nil, "GET", "http"+strings.TrimPrefix(base, "https")+"/v1/captures/t1", "", nil); code != http.StatusBadRequest {
		t.Errorf("plain http to the https port = %d %s, want 400", code, body)
	}

	// A new certificate in the same files: ReloadTLS serves it to new
	// connections; the old one is no longer trusted by the new client.
	next := testenv.NewCert(t)
	for _, f := range [][2]string{{next.CertFile, cert.CertFile}, {next.KeyFile, cert.KeyFile}} {
		b, err := os.ReadFile(f[0])
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(f[1], b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.ReloadTLS(); err != nil {
		t.Fatal(err)
	}
	if code, body, _ := call(t, client(next), "GET", base+"/v1/captures/t1", "", nil); code != http.StatusOK {
		t.Errorf("GET with the reloaded certificate = %d %s", code, body)
	}
	if err := os.WriteFile(cert.KeyFile, []byte("not a key"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := s.ReloadTLS(); err == nil || !strings.Contains(err.Error(), "tlskey") {
		t.Errorf("ReloadTLS of a broken key = %v, want an error naming tlskey", err)
	}
	if code, _, _ := call(t, client(next), "GET", base+"/v1/captures/t1", "", nil); code != http.StatusOK {
		t.Errorf("after a failed reload the certificate in use changed: %d", code)
	}

	for _, o := range []Options{
		{Listen: "127.0.0.1:0", TLSCert: cert.CertFile},
		{Listen: "127.0.0.1:0", TLSKey: cert.KeyFile},
	} {
		if _, err := New(o, a, nil, nil); err == nil || !strings.Contains(err.Error(), "tlscert and tlskey must be set together") {
			t.Errorf("New(%+v) = %v, want an error naming tlscert and tlskey", o, err)
		}
	}
	if _, err := New(Options{Listen: "127.0.0.1:0", TLSCert: "/nonexistent/c.pem", TLSKey: "/nonexistent/k.pem"}, a, nil, nil); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("New with missing certificate files = %v, want ErrNotExist", err)
	}
}

// TestMaxConnsEvictsSlowClients fills every connection slot with clients
// that send half their headers and wait, then sends complete requests on
// more connections: the slow clients are closed to make room, the
// requests are answered, and the server never holds more connections
// than the cap.
func TestMaxConnsEvictsSlowClients(t *testing.T) {
	const limit, extra = 3, 7
	s, err := New(Options{Listen: "127.0.0.1:0", MaxConns: limit}, &fakeAgent{}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	s.Handle("GET /healthz", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }))
	var mu sync.Mutex
	peak := 0
	s.srv.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			mu.Lock()
			peak = max(peak, s.limit.count())
			mu.Unlock()
		}
	}
	addr := strings.TrimPrefix(serve(t, s), "http://")
	var holders []net.Conn
	for range limit {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		io.WriteString(c, "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n") // no blank line: headers unfinished
		holders = append(holders, c)
	}
	if !testenv.WaitFor(5*time.Second, func() bool { return s.limit.count() == limit }) {
		t.Fatalf("%d connections open in the server, want %d", s.limit.count(), limit)
	}
	for i := range extra {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		// Kept open (idle) after the answer: older connections go first.
		io.WriteString(c, "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
		// Well within the 5s header timeout that would free a slot anyway.
		c.SetReadDeadline(time.Now().Add(2 * time.Second))
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatalf("request %d beyond the cap: %v", i, err)
		}
		b := make([]byte, 2)
		if _, err := io.ReadFull(resp.Body, b); err != nil || resp.StatusCode != 200 || string(b) != "ok" {
			t.Errorf("request %d = %d %q %v", i, resp.StatusCode, b, err)
		}
	}
	for i, c := range holders {
		c.SetReadDeadline(time.Now().Add(2 * time.Second))
		if _, err := c.Read(make([]byte, 1)); errors.Is(err, os.ErrDeadlineExceeded) {
			t.Errorf("slow client %d still connected", i)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if peak > limit {
		t.Errorf("%d connections were open at once, the cap is %d", peak, limit)
	}
}

// TestMaxConnsWaitsForBusyHandlers: connections whose requests are being
// handled are never closed to make room; a connection beyond the cap then
// waits, and is served once a handler is done.
func TestMaxConnsWaitsForBusyHandlers(t *testing.T) {
	const limit = 2
	a := &fakeAgent{gate: make(chan struct{})}
	s, err := New(Options{Listen: "127.0.0.1:0", MaxConns: limit}, a, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	base := serve(t, s)
	type answer struct {
		code int
		err  error
	}
	post := func(id string, out chan<- answer) {
		req, _ := http.NewRequest("POST", base+"/v1/captures", strings.NewReader(`{"id":"`+id+`","node":"any"}`))
		req.Header.Set("Content-Type", "application/json")
		resp, err := (&http.Client{Transport: &http.Transport{}}).Do(req) // a connection each
		if err != nil {
			out <- answer{err: err}
			return
		}
		resp.Body.Close()
		out <- answer{code: resp.StatusCode}
	}
	busy := make(chan answer, limit)
	for i := range limit {
		go post("busy"+strconv.Itoa(i), busy)
	}
	if !testenv.WaitFor(5*time.Second, func() bool { a.mu.Lock(); defer a.mu.Unlock(); return a.waiting == limit }) {
		t.Fatal("the first requests never reached the agent")
	}
	late := make(chan answer, 1)
	go post("late", late)
	select {
	case r := <-late:
		t.Fatalf("a request beyond the cap was answered while every slot was busy: %+v", r)
	case r := <-busy:
		t.Fatalf("a busy request ended early: %+v", r)
	case <-time.After(300 * time.Millisecond):
	}
	close(a.gate)
	for _, ch := range []chan answer{busy, busy, late} {
		select {
		case r := <-ch:
			if r.err != nil || r.code != http.StatusAccepted {
				t.Errorf("answer %+v, want 202", r)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("a request was never answered")
		}
	}
}

// TestTokenNeverLogged: whatever a client sends, the bearer token appears
// in no log line, even at debug level.
func TestTokenNeverLogged(t *testing.T) {
	const token = "the-api-token-of-this-test"
	var logs testenv.SyncBuffer
	log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	a := &fakeAgent{}
	s, err := New(Options{Listen: "127.0.0.1:0", Token: token}, a, Adapt(a.Lookup, a.Cancel), log)
	if err != nil {
		t.Fatal(err)
	}
	base := serve(t, s)
	for _, auth := range []string{"Bearer " + token, "Bearer " + token + "x", "Basic " + token, token} {
		for _, body := range []string{`{"node":"any"}`, `{"interface":["lo"]}`, `{"node":"busy"}`, `not json`} {
			call(t, nil, "POST", base+"/v1/captures", body, map[string]string{"Authorization": auth, "Content-Type": "application/json"})
		}
		call(t, nil, "GET", base+"/v1/captures/x", "", map[string]string{"Authorization": auth})
	}
	if strings.Contains(logs.String(), token) {
		t.Errorf("the token is logged:\n%s", logs.String())
	}
	if !bytes.Contains([]byte(logs.String()), []byte("request not taken")) {
		t.Errorf("nothing logged; the test shows nothing:\n%s", logs.String())
	}
}
