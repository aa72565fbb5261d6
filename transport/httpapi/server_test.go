package httpapi

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pcapdaemon/pcapdaemon/agent"
	"github.com/pcapdaemon/pcapdaemon/internal/testenv"
	"github.com/pcapdaemon/pcapdaemon/transport"
)

// fakeAgent accepts requests that contain "node", rejects the rest with a
// validation error, and remembers them for Lookup and Cancel.
type fakeAgent struct {
	mu       sync.Mutex
	requests map[string]string
	gate     chan struct{} // when set, Submit waits until it is closed
	waiting  int           // Submits waiting at the gate
	// entered, when set, is closed as Submit starts, which then waits
	// until release is closed.
	entered, release chan struct{}
}

func (a *fakeAgent) Submit(ctx context.Context, msg []byte, source string) (string, error) {
	if a.entered != nil {
		close(a.entered)
		<-a.release
	}
	if a.gate != nil {
		a.mu.Lock()
		a.waiting++
		a.mu.Unlock()
		<-a.gate
	}
	var req struct {
		ID   string `json:"id"`
		Node string `json:"node"`
	}
	if err := json.Unmarshal(msg, &req); err != nil {
		return "", err
	}
	switch req.Node {
	case "":
		return "rej1", &agent.ValidationError{Field: "node", Reason: `one of "node" or "nodere" is required`}
	case "other":
		return req.ID, agent.ErrNotForNode
	case "busy":
		return req.ID, fmt.Errorf("2 captures running: %w", agent.ErrNotAdmitted)
	case "closing":
		return "", agent.ErrShuttingDown
	}
	if req.ID == "dup" {
		return req.ID, agent.ErrDuplicate
	}
	if req.ID == "" {
		req.ID = "gen1"
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.requests == nil {
		a.requests = make(map[string]string)
	}
	a.requests[req.ID] = source
	return req.ID, nil
}

func (a *fakeAgent) Lookup(id string) (map[string]any, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	src, ok := a.requests[id]
	if !ok {
		return nil, false
	}
	return map[string]any{"id": id, "state": "running", "source": src, "results": []any{}}, true
}

func (a *fakeAgent) Cancel(id string) error {
	if _, ok := a.Lookup(id); !ok {
		return fmt.Errorf("cancel %q: %w", id, agent.ErrUnknownID)
	}
	return nil
}

// serve runs s on its loopback listener until the test ends and returns
// its base URL.
func serve(t *testing.T, s *Server) string {
	t.Helper()
	addr, err := s.Listen()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve = %v", err)
		}
	})
	scheme := "http"
	if s.tls != nil {
		scheme = "https"
	}
	return scheme + "://" + addr.String()
}

// call sends one request over a real connection and returns the status,
// the body and the response's headers.
func call(t *testing.T, c *http.Client, method, url, body string, hdr map[string]string) (int, string, http.Header) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		if k == "Host" {
			req.Host = v
			continue
		}
		req.Header.Set(k, v)
	}
	if c == nil {
		c = http.DefaultClient
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b), resp.Header
}

func TestAPI(t *testing.T) {
	a := &fakeAgent{}
	a.Submit(context.Background(), []byte(`{"id":"known","node":"any"}`), "redis")
	guarded := transport.NewGuard(transport.GuardOptions{MaxMessage: 100}, a)
	s, err := New(Options{Listen: "127.0.0.1:0", Token: "tok", MaxBody: 200}, guarded, Adapt(a.Lookup, a.Cancel), nil)
	if err != nil {
		t.Fatal(err)
	}
	base := serve(t, s)
	auth := "Bearer tok"
	tests := []struct {
		name, method, path, body, auth string
		code                           int
		want                           string // substring of the response body
	}{
		{"submit", "POST", "/v1/captures", `{"id":"c1","node":"any","interface":["lo"]}`, auth, 202, `{"id":"c1"}`},
		{"submit generated id", "POST", "/v1/captures", `{"node":"any"}`, auth, 202, `{"id":"gen1"}`},
		{"invalid request", "POST", "/v1/captures", `{"interface":["lo"]}`, auth, 400, `{"error":"invalid request: node: one of \"node\" or \"nodere\" is required","id":"rej1"}`},
		{"not for this node", "POST", "/v1/captures", `{"id":"o1","node":"other"}`, auth, 422, `"id":"o1"`},
		{"duplicate", "POST", "/v1/captures", `{"id":"dup","node":"any"}`, auth, 409, `duplicate request id`},
		{"not admitted", "POST", "/v1/captures", `{"node":"busy"}`, auth, 429, `2 captures running`},
		{"shutting down", "POST", "/v1/captures", `{"node":"closing"}`, auth, 503, `shutting down`},
		{"not json", "POST", "/v1/captures", `hello`, auth, 400, `"error":"invalid character`},
		{"guard limit", "POST", "/v1/captures", `{"node":"any","tags":"` + strings.Repeat("x", 120) + `"}`, auth, 413, "exceeds the limit of 100"},
		{"body limit", "POST", "/v1/captures", strings.Repeat("x", 201), auth, 413, "request body exceeds 200 bytes"},
		{"get", "GET", "/v1/captures/known", "", auth, 200, `"state":"running"`},
		{"get unknown", "GET", "/v1/captures/nope", "", auth, 404, `no capture request with id \"nope\"`},
		{"cancel", "DELETE", "/v1/captures/known", "", auth, 204, ""},
		{"cancel unknown", "DELETE", "/v1/captures/nope", "", auth, 404, "no running capture"},
		{"wrong method", "PUT", "/v1/captures", "", auth, 405, ""},
		{"unknown endpoint", "GET", "/v1/other", "", auth, 404, "not found"},
		{"no token", "POST", "/v1/captures", `{"node":"any"}`, "", 401, "bearer token"},
		{"wrong token", "POST", "/v1/captures", `{"node":"any"}`, "Bearer toc", 401, "bearer token"},
		{"token prefix", "GET", "/v1/captures/known", "", "Bearer to", 401, "bearer token"},
		{"basic auth", "GET", "/v1/captures/known", "", "Basic tok", 401, "bearer token"},
		{"scheme case", "GET", "/v1/captures/known", "", "bearer tok", 200, "running"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hdr := map[string]string{"Content-Type": "application/json"}
			if tt.auth != "" {
				hdr["Authorization"] = tt.auth
			}
			code, body, h := call(t, nil, tt.method, base+tt.path, tt.body, hdr)
			if code != tt.code || !strings.Contains(body, tt.want) {
				t.Errorf("%s %s = %d %s, want %d containing %s", tt.method, tt.path, code, body, tt.code, tt.want)
			}
			if tt.code == 401 && h.Get("WWW-Authenticate") == "" {
				t.Error("401 without WWW-Authenticate")
			}
			if tt.code == 202 && !strings.HasPrefix(h.Get("Location"), "/v1/captures/") {
				t.Errorf("202 with Location %q", h.Get("Location"))
			}
		})
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if src := a.requests["c1"]; src != "http" {
		t.Errorf("request c1 submitted with source %q, want http", src)
	}
}

func TestNoTokenNoLookup(t *testing.T) {
	s, err := New(Options{Listen: "127.0.0.1:0"}, &fakeAgent{}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	base := serve(t, s)
	for _, tt := range []struct {
		method, path string
		code         int
	}{
		{"POST", "/v1/captures", 202},
		{"GET", "/v1/captures/x", 404},
		{"DELETE", "/v1/captures/x", 405}, // no cancel function
	} {
		code, body, _ := call(t, nil, tt.method, base+tt.path, `{"node":"any"}`, map[string]string{"Content-Type": "application/json"})
		if code != tt.code {
			t.Errorf("%s %s = %d %s, want %d", tt.method, tt.path, code, body, tt.code)
		}
	}
	if _, err := New(Options{}, &fakeAgent{}, nil, nil); err == nil {
		t.Error("New with no listen address succeeded")
	}
}

// TestServeAndGracefulShutdown runs the API on a real loopback listener,
// ends Serve's context while a request is in flight, and checks that the
// request still completes and Serve returns nil.
func TestServeAndGracefulShutdown(t *testing.T) {
	a := &fakeAgent{entered: make(chan struct{}), release: make(chan struct{})}
	s, err := New(Options{Listen: "127.0.0.1:0", Token: "tok", ShutdownTimeout: 5 * time.Second}, a, Adapt(a.Lookup, nil), nil)
	if err != nil {
		t.Fatal(err)
	}
	s.Handle("GET /healthz", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }))
	addr, err := s.Listen()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx) }()
	base := "http://" + addr.String()

	resp, err := http.Get(base + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(b) != "ok" {
		t.Fatalf("GET /healthz (no token needed) = %d %q", resp.StatusCode, b)
	}

	type result struct {
		code int
		body string
		err  error
	}
	inflight := make(chan result, 1)
	go func() {
		req, _ := http.NewRequest("POST", base+"/v1/captures", strings.NewReader(`{"id":"slow","node":"any"}`))
		req.Header.Set("Authorization", "Bearer tok")
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			inflight <- result{err: err}
			return
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		inflight <- result{code: resp.StatusCode, body: string(b)}
	}()
	<-a.entered // the POST is inside Submit now
	cancel()
	// Shutdown has begun once new requests are refused; Serve still waits
	// for the one in Submit.
	if !testenv.WaitFor(5*time.Second, func() bool {
		resp, err := http.Get(base + "/healthz")
		if err == nil {
			resp.Body.Close()
		}
		return err != nil
	}) {
		t.Fatal("the server still takes requests after its context ended")
	}
	select {
	case err := <-done:
		t.Fatalf("Serve returned (%v) with a request still in Submit", err)
	default:
	}
	close(a.release)
	r := <-inflight
	if r.err != nil || r.code != 202 || !strings.Contains(r.body, `"slow"`) {
		t.Fatalf("request in flight during shutdown: %d %q %v, want 202", r.code, r.body, r.err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Serve = %v, want nil", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return after shutdown")
	}
	if _, err := http.Get(base + "/healthz"); err == nil {
		t.Error("server still answers after shutdown")
	}
}

func TestListenError(t *testing.T) {
	s1, _ := New(Options{Listen: "127.0.0.1:0"}, &fakeAgent{}, nil, nil)
	addr, err := s1.Listen()
	if err != nil {
		t.Fatal(err)
	}
	defer s1.ln.Close()
	s2, _ := New(Options{Listen: addr.String()}, &fakeAgent{}, nil, nil)
	if err := s2.Serve(context.Background()); err == nil || !strings.Contains(err.Error(), addr.String()) {
		t.Fatalf("Serve on a taken port = %v, want an error naming %s", err, addr)
	}
}

func BenchmarkPost(b *testing.B) {
	a := &fakeAgent{}
	s, _ := New(Options{Listen: "127.0.0.1:0", Token: "tok"}, a, Adapt(a.Lookup, a.Cancel), nil)
	h := s.Handler()
	body := `{"id":"b1","node":"any","interface":["eth0"],"bpf":"tcp port 443","packets":100}`
	b.ReportAllocs()
	for b.Loop() {
		r := httptest.NewRequest("POST", "http://127.0.0.1/v1/captures", strings.NewReader(body))
		r.Header.Set("Authorization", "Bearer tok")
		r.Header.Set("Content-Type", "application/json")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != 202 {
			b.Fatal(w.Code, w.Body)
		}
	}
}
