package daemon

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pcapdaemon/pcapdaemon/internal/testenv"
)

// jsonRecords parses the JSON log lines of out; a line that is not JSON
// fails the test.
func jsonRecords(t *testing.T, out string) []map[string]any {
	t.Helper()
	var recs []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		var r map[string]any
		if err := json.Unmarshal([]byte(l), &r); err != nil {
			t.Fatalf("stderr line is not JSON (%v): %q", err, l)
		}
		recs = append(recs, r)
	}
	return recs
}

// countMsg counts the records with message msg.
func countMsg(recs []map[string]any, msg string) int {
	n := 0
	for _, r := range recs {
		if r["msg"] == msg {
			n++
		}
	}
	return n
}

// TestDaemonMetricsListenerAndLog runs the daemon with [metrics] listen
// and a JSON log at level info:
//   - /metrics, /healthz and /readyz answer on the metrics listener, by
//     any Host name, and nothing else does there; the API's listener no
//     longer serves them, and serves the API;
//   - every stderr line is a JSON object; a debug record is left out until
//     a SIGHUP brings [log] level = "debug", and then it is logged;
//   - a reload that changes log.format or [metrics] says they need a
//     restart.
func TestDaemonMetricsListenerAndLog(t *testing.T) {
	apiPort, metricsPort := testenv.FreePort(t), testenv.FreePort(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "pcapdaemon.toml")
	write := func(level, format string, mport int) {
		t.Helper()
		cfg := fmt.Sprintf("[general]\nwritelocal = true\nlocaldir = %q\n\n[http]\nlisten = \"127.0.0.1:%d\"\n\n"+
			"[metrics]\nlisten = \"127.0.0.1:%d\"\n\n[log]\nlevel = %q\nformat = %q\n", dir, apiPort, mport, level, format)
		if err := os.WriteFile(path+".tmp", []byte(cfg), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(path+".tmp", path); err != nil {
			t.Fatal(err)
		}
	}
	write("info", "json", metricsPort)
	var stderr testenv.SyncBuffer
	reload := make(chan os.Signal, 1)
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan error, 1)
	go func() {
		stopped <- Run(ctx, Options{Args: []string{"-config", path}, Stderr: &stderr, Reload: reload, Version: "v-test"})
	}()
	defer func() {
		cancel()
		select {
		case err := <-stopped:
			if err != nil {
				t.Errorf("Run = %v", err)
			}
		case <-time.After(45 * time.Second):
			t.Error("the daemon did not stop")
		}
	}()

	metricsURL := fmt.Sprintf("http://127.0.0.1:%d", metricsPort)
	apiURL := fmt.Sprintf("http://127.0.0.1:%d", apiPort)
	if !testenv.WaitFor(15*time.Second, func() bool {
		code, _ := getHost(metricsURL+"/healthz", "")
		return code == http.StatusOK
	}) {
		t.Fatalf("the metrics listener never answered /healthz:\n%s", stderr.String())
	}
	for _, tt := range []struct {
		name, url, host string
		want            int
		body            string
	}{
		{"metrics by the node's name", metricsURL + "/metrics", "node-1.example.net", 200, `pcapdaemon_build_info{version="v-test"} 1`},
		{"readyz", metricsURL + "/readyz", "198.18.0.1:9999", 200, "ready"},
		{"healthz", metricsURL + "/healthz", "", 200, "ok"},
		{"no API on the metrics listener", metricsURL + "/v1/captures/x", "", 404, ""},
		{"no metrics on the API's listener", apiURL + "/metrics", "", 404, ""},
		{"no health on the API's listener", apiURL + "/healthz", "", 404, ""},
		{"the API on its listener", apiURL + "/v1/captures/x", "", 404, `no capture request with id \"x\"`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			code, body := getHost(tt.url, tt.host)
			if code != tt.want || !strings.Contains(body, tt.body) {
				t.Errorf("GET %s (Host %q) = %d %q, want %d with %q", tt.url, tt.host, code, body, tt.want, tt.body)
			}
		})
	}

	// A request for another node: the agent says so at debug level.
	post := func() {
		t.Helper()
		req, _ := http.NewRequest("POST", apiURL+"/v1/captures", strings.NewReader(`{"node":"another-node","interface":["lo"]}`))
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnprocessableEntity {
			t.Fatalf("POST for another node = %d, want 422", resp.StatusCode)
		}
	}
	const debugMsg = "request is for other nodes"
	post()
	if n := countMsg(jsonRecords(t, stderr.String()), debugMsg); n != 0 {
		t.Fatalf("a debug record was logged at level info:\n%s", stderr.String())
	}
	write("debug", "json", metricsPort)
	reload <- os.Interrupt
	if !testenv.WaitFor(10*time.Second, func() bool { return strings.Contains(stderr.String(), "configuration reloaded") }) {
		t.Fatalf("no reload:\n%s", stderr.String())
	}
	post()
	if !testenv.WaitFor(5*time.Second, func() bool { return countMsg(jsonRecords(t, stderr.String()), debugMsg) == 1 }) {
		t.Fatalf("after the reload to level debug, the debug record is not logged:\n%s", stderr.String())
	}
	for _, r := range jsonRecords(t, stderr.String()) {
		if r["msg"] == debugMsg && (r["level"] != "DEBUG" || r["node"] != "another-node") {
			t.Errorf("debug record %v", r)
		}
	}

	// The format and the metrics listener change at the next start.
	write("debug", "text", metricsPort+1)
	reload <- os.Interrupt
	if !testenv.WaitFor(10*time.Second, func() bool { return strings.Contains(stderr.String(), "only after a restart") }) {
		t.Fatalf("no restart warning:\n%s", stderr.String())
	}
	for _, r := range jsonRecords(t, stderr.String()) {
		if strings.Contains(fmt.Sprint(r["msg"]), "only after a restart") {
			if got := fmt.Sprint(r["changed"]); got != "[[metrics] log.format]" {
				t.Errorf("restart warning names %s, want [metrics] and log.format", got)
			}
		}
	}
}

// get sends GET url with an optional Host header and returns the status
// and body ("" and 0 when the connection fails).
func getHost(url, host string) (int, string) {
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		return 0, ""
	}
	if host != "" {
		req.Host = host
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, ""
	}
	defer resp.Body.Close()
	var b strings.Builder
	buf := make([]byte, 64<<10)
	for {
		n, err := resp.Body.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			break
		}
	}
	return resp.StatusCode, b.String()
}
