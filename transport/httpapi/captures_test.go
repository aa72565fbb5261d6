package httpapi

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pcapdaemon/pcapdaemon/agent"
)

// listBackend records the queries of List and answers them with a page
// (or, for state "bad", agent's error for a bad query).
type listBackend struct {
	mu      sync.Mutex
	queries []agent.ListQuery
}

func (b *listBackend) Lookup(string) (any, bool) { return nil, false }
func (b *listBackend) Cancel(string) error       { return agent.ErrUnknownID }
func (b *listBackend) List(q agent.ListQuery) (agent.ListPage, error) {
	b.mu.Lock()
	b.queries = append(b.queries, q)
	b.mu.Unlock()
	if q.State == "bad" {
		return agent.ListPage{}, fmt.Errorf("%w: state %q: must be running or done", agent.ErrBadQuery, q.State)
	}
	return agent.ListPage{Captures: []agent.RequestState{{ID: "r1", Phase: agent.PhaseRunning, Results: []agent.Result{},
		Live: []agent.Live{{Interface: "eth0", Packets: 3}}}}, Next: "CUR"}, nil
}

func (b *listBackend) last() agent.ListQuery {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.queries[len(b.queries)-1]
}

// startServer serves be with token on a loopback port until the test ends.
func startServer(t *testing.T, token string, be Backend) string {
	t.Helper()
	s, err := New(Options{Listen: "127.0.0.1:0", Token: token}, &fakeAgent{}, be, nil)
	if err != nil {
		t.Fatal(err)
	}
	addr, err := s.Listen()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.Serve(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return "http://" + addr.String()
}

// TestListRoute: GET /v1/captures hands state, limit and cursor to the
// Lister and sends its page as JSON; a bad parameter is a 400 naming it;
// the token is required.
func TestListRoute(t *testing.T) {
	be := &listBackend{}
	base := startServer(t, "tok", be)
	do := func(path string, auth bool) (int, string) {
		req, _ := http.NewRequest("GET", base+path, nil)
		if auth {
			req.Header.Set("Authorization", "Bearer tok")
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
			t.Errorf("GET %s: Content-Type %q", path, ct)
		}
		return resp.StatusCode, string(b)
	}
	for _, tt := range []struct {
		path string
		code int
		want agent.ListQuery // the query the Lister got
		says string          // in the answer
	}{
		{"/v1/captures", 200, agent.ListQuery{}, `"next":"CUR"`},
		{"/v1/captures?state=running&limit=1000&cursor=CUR", 200, agent.ListQuery{State: "running", Limit: 1000, Cursor: "CUR"}, `"live":[{"interface":"eth0","packets":3`},
		{"/v1/captures?limit=1", 200, agent.ListQuery{Limit: 1}, `"captures":[{"id":"r1"`},
		{"/v1/captures?state=bad", 400, agent.ListQuery{State: "bad"}, `state \"bad\"`},
		{"/v1/captures?limit=0", 400, agent.ListQuery{}, `limit \"0\": must be a whole number, 1 to 1000`},
		{"/v1/captures?limit=1001", 400, agent.ListQuery{}, `limit \"1001\"`},
		{"/v1/captures?limit=ten", 400, agent.ListQuery{}, `limit \"ten\"`},
	} {
		n := len(be.queries)
		code, body := do(tt.path, true)
		if code != tt.code || !strings.Contains(body, tt.says) {
			t.Errorf("GET %s = %d %s, want %d saying %s", tt.path, code, body, tt.code, tt.says)
		}
		if tt.code == 200 || tt.want.State != "" {
			if len(be.queries) != n+1 || be.last() != tt.want {
				t.Errorf("GET %s: Lister got %+v, want %+v", tt.path, be.queries[n:], tt.want)
			}
		} else if len(be.queries) != n {
			t.Errorf("GET %s: a bad limit reached the Lister", tt.path)
		}
	}
	if code, _ := do("/v1/captures", false); code != http.StatusUnauthorized {
		t.Errorf("GET /v1/captures without the token = %d, want 401", code)
	}
}

// TestCaptureRoutesWithoutSupport: a Backend that neither lists nor serves
// files answers those routes with 404 and a JSON reason.
func TestCaptureRoutesWithoutSupport(t *testing.T) {
	base := startServer(t, "", Adapt[any](nil, nil))
	for _, path := range []string{"/v1/captures", "/v1/captures/x/file"} {
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		var e errorBody
		json.NewDecoder(resp.Body).Decode(&e)
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound || !strings.Contains(e.Error, "not supported") {
			t.Errorf("GET %s = %d %+v, want 404 not supported", path, resp.StatusCode, e)
		}
	}
}

// slowFile is a capture file that hands out its bytes slowly.
type slowFile struct {
	*strings.Reader
	delay time.Duration
}

func (f *slowFile) Read(p []byte) (int, error) {
	time.Sleep(f.delay)
	return f.Reader.Read(p[:min(len(p), 4096)])
}
func (f *slowFile) Close() error { return nil }

type fileBackend struct{ f *File }

func (b fileBackend) Lookup(string) (any, bool) { return nil, false }
func (b fileBackend) Cancel(string) error       { return nil }
func (b fileBackend) CaptureFile(id, iface string) (*File, error) {
	if iface != "eth1" {
		return nil, fmt.Errorf("%w: only eth1", agent.ErrNoFile)
	}
	return b.f, nil
}

// TestFileRouteOutlastsWriteTimeout: a download that makes progress is
// not cut by the server's 30 s write timeout (shortened here): each write
// gets its own deadline. It is a pcapng attachment.
func TestFileRouteOutlastsWriteTimeout(t *testing.T) {
	content := strings.Repeat("pcapng", 20000) // 120000 bytes in 30 reads
	be := fileBackend{&File{Name: "h-eth1-1-x.pcapng", Format: agent.FormatPcapNG, ModTime: time.Unix(1700000000, 0),
		Content: &slowFile{Reader: strings.NewReader(content), delay: 20 * time.Millisecond}}}
	s, err := New(Options{Listen: "127.0.0.1:0"}, &fakeAgent{}, be, nil)
	if err != nil {
		t.Fatal(err)
	}
	s.srv.WriteTimeout = 200 * time.Millisecond // the download takes about 600 ms
	addr, err := s.Listen()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go s.Serve(ctx)

	resp, err := http.Get("http://" + addr.String() + "/v1/captures/x/file?interface=eth1")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || string(b) != content {
		t.Fatalf("download: %d of %d bytes, %v", len(b), len(content), err)
	}
	if ct, cd := resp.Header.Get("Content-Type"), resp.Header.Get("Content-Disposition"); ct != ContentTypePcapNG ||
		cd != `attachment; filename=h-eth1-1-x.pcapng` {
		t.Errorf("Content-Type %q, Content-Disposition %q", ct, cd)
	}
	resp2, err := http.Get("http://" + addr.String() + "/v1/captures/x/file")
	if err != nil {
		t.Fatal(err)
	}
	resp2.Body.Close()
	if resp2.StatusCode != http.StatusNotFound {
		t.Errorf("file of another interface: %d, want 404", resp2.StatusCode)
	}
}
