package daemon

import (
	"context"
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

// localSyslogRE is a message on the local socket: <PRI>TIME TAG[PID]: MSG.
var localSyslogRE = regexp.MustCompile(`^<(\d+)>[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d (\S+)\[(\d+)\]: (.*)\n$`)

// TestDaemonLocalSyslogAbsent runs the daemon with the seed's [syslog]
// (priority 25, the local syslog) where no local syslog socket exists: it
// runs and answers its HTTP API, warns once, and when a syslog daemon
// starts listening at the path it connects and delivers records with the
// facility of priority 25 and the seed's tag.
func TestDaemonLocalSyslogAbsent(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "dev-log") // does not exist yet
	port := testenv.FreePort(t)
	cfg := syslogDaemonConfig(t, port, "")
	var stderr testenv.SyncBuffer
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var runErr error
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		runErr = Run(ctx, Options{Args: []string{"-config", cfg}, Stderr: &stderr, SyslogPaths: []string{sock}})
	}()
	defer func() {
		cancel()
		select {
		case <-stopped:
		case <-time.After(45 * time.Second):
			t.Error("the daemon did not stop")
		}
	}()

	waitHealthy(t, port, stderr.String)
	if !testenv.WaitFor(5*time.Second, func() bool { return strings.Contains(stderr.String(), "syslog unreachable") }) {
		t.Fatalf("no warning that syslog is unreachable:\n%s", stderr.String())
	}

	srv, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	// read returns the next message's priority, tag, pid and text; the
	// deadline covers the client's backoff (1s, 2s, 4s ...).
	read := func() (int, string, string, string) {
		t.Helper()
		buf := make([]byte, 64<<10)
		srv.SetReadDeadline(time.Now().Add(10 * time.Second))
		n, err := srv.Read(buf)
		if err != nil {
			t.Fatalf("no syslog message: %v\n%s", err, stderr.String())
		}
		m := localSyslogRE.FindStringSubmatch(string(buf[:n]))
		if m == nil {
			t.Fatalf("message %q not in the local syslog format", buf[:n])
		}
		pri, _ := strconv.Atoi(m[1])
		return pri, m[2], m[3], m[4]
	}
	pri, tag, pid, text := read()
	if pri != 3<<3|6 || tag != "pcapdaemon" || pid != strconv.Itoa(os.Getpid()) || !strings.HasPrefix(text, `msg="syslog connected"`) {
		t.Errorf("first message <%d> %s[%s]: %q; want <30> pcapdaemon[%d]: the connected note", pri, tag, pid, text, os.Getpid())
	}
	// Records logged from now on reach syslog: the shutdown's.
	cancel()
	<-stopped
	if runErr != nil {
		t.Errorf("Run = %v", runErr)
	}
	for {
		pri, _, _, text := read()
		if strings.HasPrefix(text, `msg="pcapdaemon stopped"`) {
			if pri != 3<<3|6 {
				t.Errorf("stop record priority %d, want 30", pri)
			}
			break
		}
	}
	if n := strings.Count(stderr.String(), "syslog unreachable"); n != 1 {
		t.Errorf("%d unreachable warnings, want 1:\n%s", n, stderr.String())
	}
}
