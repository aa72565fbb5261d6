package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pcapdaemon/pcapdaemon/agent"
	"github.com/pcapdaemon/pcapdaemon/internal/sinktest"
	"github.com/pcapdaemon/pcapdaemon/internal/testenv"
)

// The secrets of TestEndToEndAPI's daemon: none may appear in a log line,
// a result or an answer.
const (
	e2eCloudsharkToken = "cs5ecret0123456789abcdef01234567"
	e2eAPIToken        = "api-token-secret-of-the-e2e-test"
	e2eRedisAuth       = "redis-auth-secret-of-the-e2e-test"
)

// apiClient calls the daemon's HTTP API with its bearer token.
type apiClient struct {
	base string
}

// do sends one request and returns the status and the body.
func (c apiClient) do(t *testing.T, method, path, body string, hdr map[string]string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, c.base+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+e2eAPIToken)
	if method == http.MethodPost || method == http.MethodDelete {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range hdr {
		if k == "Host" {
			req.Host = v
		} else {
			req.Header.Set(k, v)
		}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// state returns GET /v1/captures/{id} as sent.
func (c apiClient) state(t *testing.T, id string) string {
	t.Helper()
	code, body := c.do(t, "GET", "/v1/captures/"+id, "", nil)
	if code != http.StatusOK {
		t.Fatalf("GET /v1/captures/%s = %d %s", id, code, body)
	}
	return body
}

// TestEndToEndAPI runs the real binary with a Redis source (with a
// password), the HTTP API (with a token) and a CloudShark sink whose fake
// server drops every connection (so that retries log warnings naming the
// upload URL). It checks, on the daemon's sockets:
//   - no secret in the log, the result events or the API's answers;
//   - an id held by a stored request is refused (HTTP 409 with a JSON error;
//     a rejected result on Redis) and the stored request is unchanged;
//     an id made of dots is refused naming the field;
//   - web pages are kept out (415, 403, 421);
//   - "pcapdaemon request -http" gets through.
func TestEndToEndAPI(t *testing.T) {
	testenv.RequireRoot(t)
	redis := testenv.StartRedis(t) // no password: the daemon's is still sent (and accepted)
	cs := sinktest.NewCloudshark(e2eCloudsharkToken)
	for range 16 {
		cs.Faults = append(cs.Faults, sinktest.FaultClose)
	}
	csURL := cs.Start(t, false).URL
	_, csPort, _ := net.SplitHostPort(strings.TrimPrefix(csURL, "http://"))
	httpPort := testenv.FreePort(t)
	api := apiClient{base: "http://127.0.0.1:" + strconv.Itoa(httpPort)}
	cfg := filepath.Join(t.TempDir(), "pcapdaemon.toml")
	conf := fmt.Sprintf(`[general]
writelocal = false
snaplength = 1500
shutdowngrace = 10

[redis]
listen = true
host = "127.0.0.1"
port = %d
channel = "capture"
auth = %q

[http]
listen = "127.0.0.1:%d"
token = %q
maxconns = 64

[cloudshark]
upload = true
scheme = "http"
host = "127.0.0.1"
port = %s
token = %q
timeout = 5
`, redis.Port, e2eRedisAuth, httpPort, e2eAPIToken, csPort, e2eCloudsharkToken)
	if err := os.WriteFile(cfg, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	results := subscribeResults(t, redis.Addr, "capture.results")
	d := startDaemon(t, "-config", cfg)
	waitHTTP(t, d, api.base)
	waitSubscribed(t, redis, "capture", 1, 15*time.Second)

	// A capture on lo of UDP datagrams to a port of ours; its upload fails.
	udp, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer udp.Close()
	port := udp.LocalAddr().(*net.UDPAddr).Port
	const id = "e2e-api-1"
	msg := fmt.Sprintf(`{"id":%q,"node":"any","interface":["lo"],"bpf":"udp and dst port %d","packets":3,"timeout":20}`, id, port)
	if code, body := api.do(t, "POST", "/v1/captures", msg, nil); code != http.StatusAccepted {
		t.Fatalf("POST = %d %s", code, body)
	}
	conn, err := net.Dial("udp", udp.LocalAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	for i := 0; len(results.byID(id)) == 0; i++ {
		if i > 2000 {
			t.Fatalf("no result after %d datagrams\n%s", i, d.Logs())
		}
		conn.Write([]byte("pcapdaemon e2e api"))
		time.Sleep(5 * time.Millisecond)
	}
	res := results.byID(id)[0]
	if res.Status != agent.StatusError || !strings.Contains(res.Error, "/api/v1/REDACTED/upload") {
		t.Fatalf("result %+v, want an error naming the redacted upload URL", res)
	}
	if !strings.Contains(d.Logs(), "retrying") {
		t.Errorf("no retry warning in the log:\n%s", d.Logs())
	}
	stored := api.state(t, id)

	t.Run("id held by a stored request", func(t *testing.T) {
		other := fmt.Sprintf(`{"id":%q,"node":"any","interface":["lo"],"duration":1}`, id)
		for _, body := range []string{other, msg} {
			code, reply := api.do(t, "POST", "/v1/captures", body, nil)
			var e struct{ Error, ID string }
			if code != http.StatusConflict || json.Unmarshal([]byte(reply), &e) != nil || !strings.Contains(e.Error, "duplicate request id") || e.ID != id {
				t.Errorf("POST with a held id = %d %s, want 409 with a JSON error", code, reply)
			}
		}
		publish(t, publisher(t, redis.Addr), "capture", []byte(other), 1)
		got := results.waitID(t, id, 2, 10*time.Second)
		if r := got[1]; r.Status != agent.StatusRejected || !strings.Contains(r.Error, "belongs to another request") {
			t.Errorf("result of a Redis request with a held id: %+v, want rejected", r)
		}
		if now := api.state(t, id); now != stored {
			t.Errorf("stored request changed:\nbefore %s\nafter  %s", stored, now)
		}
		for _, dots := range []string{".", ".."} {
			code, reply := api.do(t, "POST", "/v1/captures", `{"id":"`+dots+`","node":"any","interface":["lo"]}`, nil)
			if code != http.StatusBadRequest || !strings.Contains(reply, "invalid request: id: ") {
				t.Errorf("POST with id %q = %d %s, want 400 naming the id", dots, code, reply)
			}
		}
	})

	t.Run("web pages kept out", func(t *testing.T) {
		tests := []struct {
			name, method, path string
			hdr                map[string]string
			code               int
			want               string
		}{
			{"form body", "POST", "/v1/captures", map[string]string{"Content-Type": "text/plain"}, 415, "Content-Type must be application/json"},
			{"other origin", "POST", "/v1/captures", map[string]string{"Origin": "https://evil.example"}, 403, "is not this API's own"},
			{"other origin, delete", "DELETE", "/v1/captures/" + id, map[string]string{"Origin": "https://evil.example"}, 403, "is not this API's own"},
			{"rebound host", "GET", "/healthz", map[string]string{"Host": "evil.example:" + strconv.Itoa(httpPort)}, 421, "is not a loopback name"},
			{"rebound host, api", "GET", "/v1/captures/" + id, map[string]string{"Host": "evil.example"}, 421, "is not a loopback name"},
		}
		for _, tt := range tests {
			code, body := api.do(t, tt.method, tt.path, `{"node":"any","interface":["lo"]}`, tt.hdr)
			if code != tt.code || !strings.Contains(body, `"error":`) || !strings.Contains(body, tt.want) {
				t.Errorf("%s: %d %s, want %d with a JSON error containing %q", tt.name, code, body, tt.code, tt.want)
			}
		}
	})

	t.Run("request -http", func(t *testing.T) {
		out, err := exec.Command(daemonBinary(t), "request", "-http", api.base, "-token", e2eAPIToken,
			"-id", "e2e-api-cli", "-node", "any", "-interface", "lo", "-duration", "1").CombinedOutput()
		if err != nil {
			t.Fatalf("pcapdaemon request -http: %v\n%s", err, out)
		}
		if st := api.state(t, "e2e-api-cli"); !strings.Contains(st, `"id":"e2e-api-cli"`) {
			t.Errorf("request from the CLI: %s", st)
		}
	})

	// Last: everything the daemon said, published and answered.
	var shown strings.Builder
	shown.WriteString(d.Logs())
	for _, r := range results.all() {
		b, _ := json.Marshal(r)
		shown.Write(b)
	}
	shown.WriteString(api.state(t, id))
	for name, secret := range map[string]string{"cloudshark token": e2eCloudsharkToken, "API token": e2eAPIToken, "Redis password": e2eRedisAuth} {
		if strings.Contains(shown.String(), secret) {
			t.Errorf("the %s is shown:\n%s", name, shown.String())
		}
	}
}

// fdCount is the number of open file descriptors of pid.
func fdCount(t *testing.T, pid int) int {
	t.Helper()
	ents, err := os.ReadDir(filepath.Join("/proc", strconv.Itoa(pid), "fd"))
	if err != nil {
		t.Fatal(err)
	}
	return len(ents)
}

// TestEndToEndMaxConns opens 1,000 connections to the real binary's HTTP
// API, each sending half its headers and then nothing (a slow-headers
// client), and samples the daemon's open files and RSS past the server's
// header timeout: the connections open in the daemon stay within [http]
// maxconns, the API still answers a real request at once (the slow
// clients make room), and the files are given back when they are gone.
func TestEndToEndMaxConns(t *testing.T) {
	const conns, maxconns = 1000, 256
	httpPort := testenv.FreePort(t)
	api := "http://127.0.0.1:" + strconv.Itoa(httpPort)
	cfg := filepath.Join(t.TempDir(), "pcapdaemon.toml")
	conf := fmt.Sprintf("[general]\nwritelocal = true\nlocaldir = %q\n\n[http]\nlisten = \"127.0.0.1:%d\"\nmaxconns = %d\n", t.TempDir(), httpPort, maxconns)
	if err := os.WriteFile(cfg, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	d := startDaemon(t, "-config", cfg)
	waitHTTP(t, d, api)
	pid := d.cmd.Process.Pid
	baseFDs := fdCount(t, pid)
	_, baseRSS := memStatus(t, pid)

	start := time.Now()
	held := make([]net.Conn, 0, conns)
	defer func() {
		for _, c := range held {
			c.Close()
		}
	}()
	for range conns {
		c, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(httpPort), 5*time.Second)
		if err != nil {
			t.Fatalf("connection %d: %v", len(held), err)
		}
		held = append(held, c)
		io.WriteString(c, "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")
	}
	// The API still answers at once: the slow clients make room.
	t0 := time.Now()
	resp, err := (&http.Client{Timeout: 2 * time.Second}).Get(api + "/healthz")
	if err != nil {
		t.Errorf("GET /healthz among %d slow clients: %v", conns, err)
	} else {
		resp.Body.Close()
		t.Logf("GET /healthz among %d slow clients: %d in %v", conns, resp.StatusCode, time.Since(t0).Round(time.Millisecond))
	}
	// Sample for 7s: past the 5s header timeout.
	peakFDs, peakRSS := 0, int64(0)
	for time.Since(start) < 7*time.Second {
		peakFDs = max(peakFDs, fdCount(t, pid))
		_, rss := memStatus(t, pid)
		peakRSS = max(peakRSS, rss)
		time.Sleep(50 * time.Millisecond)
	}
	for _, c := range held {
		c.Close()
	}
	held = held[:0]
	t.Logf("%d slow-header connections, maxconns %d: daemon fds %d before, peak %d; RSS %d KiB before, peak %d KiB",
		conns, maxconns, baseFDs, peakFDs, baseRSS, peakRSS)
	if peakFDs > baseFDs+maxconns+8 {
		t.Errorf("the daemon held %d files, %d more than before: the cap is %d connections", peakFDs, peakFDs-baseFDs, maxconns)
	}
	if !testenv.WaitFor(15*time.Second, func() bool { return fdCount(t, pid) <= baseFDs+8 }) {
		t.Errorf("the daemon still holds %d files (before: %d)", fdCount(t, pid), baseFDs)
	}
	waitHTTP(t, d, api)
}
