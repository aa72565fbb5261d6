package e2e

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pcapdaemon/pcapdaemon/internal/testenv"
)

// TestDaemonNetworkSyslogAppearsLater runs the real binary with a TCP
// syslog on loopback that is not listening at start: the daemon runs and
// answers its HTTP API, and connects once the server listens.
func TestDaemonNetworkSyslogAppearsLater(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	addr := "127.0.0.1:" + strconv.Itoa(testenv.FreePort(t))
	port := testenv.FreePort(t)
	cfg := testenv.SyslogDaemonConfig(t, port, fmt.Sprintf("network = \"tcp\"\naddress = %q\n", addr))
	d := startDaemon(t, "-config", cfg)
	testenv.WaitHealthy(t, port, d.Logs)
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
