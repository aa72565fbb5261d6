package e2e

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pcapdaemon/pcapdaemon/internal/testenv"
)

// seedSyslog returns the seed example's [syslog] table, verbatim (priority
// 25: LOG_DAEMON|LOG_ALERT, tag "pcapdaemon").
func seedSyslog(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(testenv.SeedConfig(t))
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

// syslogDaemonConfig writes a config with the seed's [syslog] table plus
// extra lines in it, the HTTP API on port and a local sink, and returns its
// path.
func syslogDaemonConfig(t *testing.T, port int, extra string) string {
	t.Helper()
	dir := t.TempDir()
	cfg := fmt.Sprintf("[general]\nwritelocal = true\nlocaldir = %q\n\n%s%s\n[http]\nlisten = \"127.0.0.1:%d\"\n",
		dir, seedSyslog(t), extra, port)
	path := filepath.Join(dir, "pcapdaemon.toml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// waitHealthy waits until the daemon's HTTP API answers /healthz.
func waitHealthy(t *testing.T, port int, logs func() string) {
	t.Helper()
	url := "http://127.0.0.1:" + strconv.Itoa(port) + "/healthz"
	ok := testenv.WaitFor(15*time.Second, func() bool {
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

// TestDaemonNetworkSyslogAppearsLater runs the real binary with a TCP
// syslog on loopback that is not listening at start: the daemon runs and
// answers its HTTP API, and connects once the server listens.
func TestDaemonNetworkSyslogAppearsLater(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	addr := "127.0.0.1:" + strconv.Itoa(testenv.FreePort(t))
	port := testenv.FreePort(t)
	cfg := syslogDaemonConfig(t, port, fmt.Sprintf("network = \"tcp\"\naddress = %q\n", addr))
	d := startDaemon(t, "-config", cfg)
	waitHealthy(t, port, d.Logs)
	if !testenv.WaitFor(5*time.Second, func() bool { return strings.Contains(d.Logs(), "syslog unreachable") }) {
		t.Fatalf("no warning that syslog is unreachable:\n%s", d.Logs())
	}

	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	ln.(*net.TCPListener).SetDeadline(time.Now().Add(10 * time.Second))
	c, err := ln.Accept()
	if err != nil {
		t.Fatalf("the daemon never connected to the syslog: %v\n%s", err, d.Logs())
	}
	defer c.Close()
	c.SetReadDeadline(time.Now().Add(20 * time.Second))
	r := bufio.NewReader(c)
	re := regexp.MustCompile(`^<(\d+)>\S+ (\S+) (\S+)\[(\d+)\]: (.*)\n$`)
	next := func() []string {
		t.Helper()
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("reading the syslog stream: %v\n%s", err, d.Logs())
		}
		m := re.FindStringSubmatch(line)
		if m == nil {
			t.Fatalf("message %q not in the network syslog format", line)
		}
		return m
	}
	m := next()
	if m[1] != "30" || m[2] != hostname(t) || m[3] != "pcapdaemon" || m[4] != strconv.Itoa(d.cmd.Process.Pid) ||
		!strings.HasPrefix(m[5], `msg="syslog connected"`) {
		t.Errorf("first message %q: want <30> from %s, pcapdaemon[%d], the connected note", m[0], hostname(t), d.cmd.Process.Pid)
	}
	if err := d.cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	for m := next(); !strings.HasPrefix(m[5], `msg="pcapdaemon stopped"`); m = next() {
	}
}
