package testenv

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// SeedSyslog returns the seed example's [syslog] table, verbatim (priority
// 25: LOG_DAEMON|LOG_ALERT, tag "pcapdaemon").
func SeedSyslog(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(SeedConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(b), "[syslog]\n")
	table, _, _ := strings.Cut(rest, "\n\n")
	if !ok || !strings.Contains(table, "priority    = 25") {
		t.Fatalf("the seed example's [syslog] table is not the one this test expects: %q", table)
	}
	return "[syslog]\n" + table + "\n"
}

// SyslogDaemonConfig writes a config with the seed's [syslog] table plus
// extra lines in it, the HTTP API on port and a local sink, and returns its
// path.
func SyslogDaemonConfig(t *testing.T, port int, extra string) string {
	t.Helper()
	dir := t.TempDir()
	cfg := fmt.Sprintf("[general]\nwritelocal = true\nlocaldir = %q\n\n%s%s\n[http]\nlisten = \"127.0.0.1:%d\"\n",
		dir, SeedSyslog(t), extra, port)
	path := filepath.Join(dir, "pcapdaemon.toml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// WaitHealthy waits until the daemon's HTTP API answers /healthz.
func WaitHealthy(t *testing.T, port int, logs func() string) {
	t.Helper()
	url := "http://127.0.0.1:" + strconv.Itoa(port) + "/healthz"
	ok := WaitFor(15*time.Second, func() bool {
		resp, err := http.Get(url)
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	if !ok {
		t.Fatalf("the daemon's HTTP API never answered %s\n%s", url, logs())
	}
}
