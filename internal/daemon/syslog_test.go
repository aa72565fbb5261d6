package daemon

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pcapdaemon/pcapdaemon/internal/testenv"
)

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
	cfg := testenv.SyslogDaemonConfig(t, port, "")
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

	testenv.WaitHealthy(t, port, stderr.String)
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
