package httpapi

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/pcapdaemon/pcapdaemon/internal/testenv"
)

// serveMetrics runs m until the test ends and returns its address.
func serveMetrics(t *testing.T, m *MetricsServer) string {
	t.Helper()
	addr, err := m.Listen()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Serve(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve = %v", err)
		}
	})
	return addr.String()
}

// metricsConns returns the connections open on m's listener.
func metricsConns(m *MetricsServer) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.ln == nil {
		return 0
	}
	return m.ln.count()
}

// TestMetricsServer: the metrics listener answers its routes whatever the
// Host header (a scraper names the node by its address), nothing else,
// and holds at most MaxConns connections, closing slow clients to make
// room as the API's listener does.
func TestMetricsServer(t *testing.T) {
	const limit = 2
	m, err := NewMetrics(MetricsOptions{Listen: "127.0.0.1:0", MaxConns: limit}, nil)
	if err != nil {
		t.Fatal(err)
	}
	m.Handle("GET /metrics", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "up 1\n") }))
	m.Handle("GET /healthz", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok\n") }))
	addr := serveMetrics(t, m)
	base := "http://" + addr

	for _, tt := range []struct {
		name, method, path, host string
		want                     int
		body                     string
	}{
		{"metrics by the node's address", "GET", "/metrics", "198.18.0.7:8658", 200, "up 1\n"},
		{"metrics by a DNS name", "GET", "/metrics", "node-1.example.net:8658", 200, "up 1\n"},
		{"health", "GET", "/healthz", "127.0.0.1", 200, "ok\n"},
		{"no API", "GET", "/v1/captures/x", "127.0.0.1", 404, ""},
		{"no status page", "GET", "/", "127.0.0.1", 404, ""},
		{"no POST", "POST", "/metrics", "127.0.0.1", 405, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			code, body, _ := call(t, nil, tt.method, base+tt.path, "", map[string]string{"Host": tt.host})
			if code != tt.want || (tt.body != "" && body != tt.body) {
				t.Errorf("%s %s (Host %s) = %d %q, want %d %q", tt.method, tt.path, tt.host, code, body, tt.want, tt.body)
			}
		})
	}

	// The API's timeouts.
	api, err := New(Options{Listen: "127.0.0.1:0"}, &fakeAgent{}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if m.srv.ReadHeaderTimeout != api.srv.ReadHeaderTimeout || m.srv.ReadTimeout != api.srv.ReadTimeout ||
		m.srv.WriteTimeout != api.srv.WriteTimeout || m.srv.IdleTimeout != api.srv.IdleTimeout ||
		m.srv.MaxHeaderBytes != api.srv.MaxHeaderBytes || m.srv.ReadHeaderTimeout == 0 {
		t.Errorf("metrics server timeouts %+v differ from the API's", m.srv)
	}

	// Slow clients take every slot; complete requests still get through.
	for range limit {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		io.WriteString(c, "GET /metrics HTTP/1.1\r\nHost: x\r\n") // headers unfinished
	}
	if !testenv.WaitFor(5*time.Second, func() bool { return metricsConns(m) == limit }) {
		t.Fatalf("%d connections open, want %d", metricsConns(m), limit)
	}
	for i := range 3 {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		io.WriteString(c, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
		c.SetReadDeadline(time.Now().Add(2 * time.Second)) // well within the 5s header timeout
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatalf("scrape %d beyond the cap: %v", i, err)
		}
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 5))
		if resp.StatusCode != 200 || !strings.HasPrefix(string(b), "up 1") {
			t.Errorf("scrape %d = %d %q", i, resp.StatusCode, b)
		}
		if n := metricsConns(m); n > limit {
			t.Errorf("%d connections open, the cap is %d", n, limit)
		}
	}
}

func TestMetricsServerOptions(t *testing.T) {
	for _, o := range []MetricsOptions{{}, {Listen: "9100"}, {Listen: ":9100", MaxConns: -1}} {
		if _, err := NewMetrics(o, nil); err == nil {
			t.Errorf("NewMetrics(%+v) = nil error", o)
		}
	}
	m, err := NewMetrics(MetricsOptions{Listen: "127.0.0.1:0"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Listen(); err != nil {
		t.Fatal(err)
	}
	taken := m.ln.Addr().String()
	other, _ := NewMetrics(MetricsOptions{Listen: taken}, nil)
	if err := other.Serve(context.Background()); err == nil || !strings.Contains(err.Error(), taken) {
		t.Errorf("Serve on a taken port = %v, want an error naming %s", err, taken)
	}
	m.ln.Close()
}
