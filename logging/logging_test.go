package logging

import (
	"bufio"
	"context"
	"errors"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pcapdaemon/pcapdaemon/internal/testenv"
)

// localRE matches a message in the local socket's format and captures the
// priority, tag and text.
var localRE = regexp.MustCompile(`^<(\d+)>[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d ([^\[ ]+)\[(\d+)\]: (.*)\n$`)

// networkRE matches a message in the network format (RFC 3339 time and
// host name) and captures the priority, host, tag and text.
var networkRE = regexp.MustCompile(`^<(\d+)>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:Z|[+-]\d\d:\d\d) (\S+) ([^\[ ]+)\[(\d+)\]: (.*)\n$`)

// fast are options that retry quickly, for tests.
func fast(o Options) Options {
	o.MinBackoff, o.MaxBackoff = 10*time.Millisecond, 40*time.Millisecond
	return o
}

// listenUnixgram listens on a datagram socket at path, as a local syslog
// daemon does.
func listenUnixgram(t *testing.T, path string) *net.UnixConn {
	t.Helper()
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// readDatagram reads one message within 5s.
func readDatagram(t *testing.T, conn net.Conn) string {
	t.Helper()
	buf := make([]byte, 64<<10)
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, err := conn.Read(buf)
	if err != nil {
		t.Fatalf("reading a syslog message: %v", err)
	}
	return string(buf[:n])
}

// parseLocal splits a local-format message into priority, tag and text.
func parseLocal(t *testing.T, msg string) (pri int, tag, text string) {
	t.Helper()
	m := localRE.FindStringSubmatch(msg)
	if m == nil {
		t.Fatalf("syslog message %q not in <PRI>Mmm dd hh:mm:ss TAG[PID]: MSG form", msg)
	}
	if m[3] != strconv.Itoa(os.Getpid()) {
		t.Errorf("message %q: pid %s, want %d", msg, m[3], os.Getpid())
	}
	pri, _ = strconv.Atoi(m[1])
	return pri, m[2], m[4]
}

// countNotes counts the lines of the stderr log that carry msg.
func countNotes(stderr, msg string) int {
	return strings.Count(stderr, `msg="`+msg)
}

// TestSyslog sends records to a real unixgram socket, as a local syslog
// daemon would receive them, and checks priority, tag and text.
func TestSyslog(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "log")
	conn := listenUnixgram(t, sock)

	var stderr testenv.SyncBuffer
	// 25 = LOG_DAEMON (3<<3) | LOG_ALERT (1), the seed's example.
	log, closer, err := New(context.Background(), &stderr, slog.LevelDebug, Options{Priority: 25, Tag: "pcapdaemon", Network: "unixgram", Address: sock})
	if err != nil {
		t.Fatal(err)
	}
	defer closer.Close()
	if pri, _, text := parseLocal(t, readDatagram(t, conn)); pri != 3<<3|6 || !strings.HasPrefix(text, `msg="syslog connected"`) {
		t.Fatalf("first message: priority %d, %q; want 30 and the connected note", pri, text)
	}
	log = log.With("node", "h1").WithGroup("req")
	log.Error("capture failed", "id", "a1")
	log.Warn("redis down")
	log.Info("subscribed")
	log.Debug("frame")

	tests := []struct {
		pri  int
		text string
	}{
		{3<<3 | 3, `msg="capture failed" node=h1 req.id=a1`},
		{3<<3 | 4, `msg="redis down" node=h1`},
		{3<<3 | 6, `msg=subscribed node=h1`},
		{3<<3 | 7, `msg=frame node=h1`},
	}
	for _, tt := range tests {
		pri, tag, text := parseLocal(t, readDatagram(t, conn))
		if pri != tt.pri || tag != "pcapdaemon" || text != tt.text {
			t.Errorf("got <%d> %s: %q, want <%d> pcapdaemon: %q", pri, tag, text, tt.pri, tt.text)
		}
	}
	if !strings.Contains(stderr.String(), `level=ERROR msg="capture failed" node=h1 req.id=a1`) {
		t.Errorf("stderr missing the error record:\n%s", stderr.String())
	}
}

func TestStderrOnly(t *testing.T) {
	var stderr testenv.SyncBuffer
	log, closer, err := New(context.Background(), &stderr, slog.LevelInfo, Options{Tag: "x"})
	if err != nil {
		t.Fatal(err)
	}
	log.Debug("hidden")
	log.Info("shown", "k", 1)
	if err := closer.Close(); err != nil {
		t.Fatal(err)
	}
	if s := stderr.String(); strings.Contains(s, "hidden") || !strings.Contains(s, "msg=shown k=1") {
		t.Errorf("stderr = %q", s)
	}
}

func TestBadOptions(t *testing.T) {
	for _, o := range []Options{
		{Priority: -1, Tag: "t"},
		{Priority: 192, Tag: "t"},
		{Priority: 25},
		{Priority: 25, Tag: "t", Network: "sctp", Address: "h:514"},
		{Priority: 25, Tag: "t", Network: "udp"},
	} {
		if _, _, err := New(context.Background(), &testenv.SyncBuffer{}, slog.LevelInfo, o); !errors.Is(err, ErrOptions) {
			t.Errorf("New(%+v) = %v, want ErrOptions", o, err)
		}
	}
}

// TestLocalSyslogAppearsLater starts with no local syslog socket at any
// of the configured paths: logging goes on, on stderr, with one warning;
// records logged meanwhile are dropped for syslog, not kept. When the
// socket appears, the client connects, says so once, and delivers.
func TestLocalSyslogAppearsLater(t *testing.T) {
	dir := t.TempDir()
	sock := filepath.Join(dir, "log")
	var stderr testenv.SyncBuffer
	o := fast(Options{Priority: 25, Tag: "pcapd", LocalPaths: []string{filepath.Join(dir, "nothing"), sock}})
	s, err := NewSyslog(context.Background(), o, slog.New(slog.NewTextHandler(&stderr, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	log := slog.New(NewSyslogHandler(s, nil))

	const away = 100
	for i := range away {
		log.Info("while away", "i", i)
	}
	if !testenv.WaitFor(5*time.Second, func() bool { return s.Dropped() == away }) {
		t.Fatalf("Dropped() = %d, want %d: records logged with no syslog must be dropped", s.Dropped(), away)
	}
	// Several attempts have failed by now (10ms backoff): one warning.
	if !testenv.WaitFor(5*time.Second, func() bool { return countNotes(stderr.String(), "syslog unreachable") == 1 }) {
		t.Fatalf("stderr, want one warning:\n%s", stderr.String())
	}
	if !strings.Contains(stderr.String(), filepath.Join(dir, "nothing")+": connect: no such file or directory; "+sock+": connect: no such file or directory") {
		t.Errorf("the warning does not say why each path failed:\n%s", stderr.String())
	}

	conn := listenUnixgram(t, sock)
	pri, tag, text := parseLocal(t, readDatagram(t, conn))
	if pri != 3<<3|6 || tag != "pcapd" || !strings.HasPrefix(text, `msg="syslog connected"`) || !strings.Contains(text, sock) {
		t.Errorf("first message <%d> %s: %q, want <30> pcapd: the connected note naming %s", pri, tag, text, sock)
	}
	if !strings.HasSuffix(text, " dropped="+strconv.Itoa(away)) {
		t.Errorf("connected note %q does not count the %d dropped records", text, away)
	}
	log.Error("after", "k", "v")
	if pri, _, text := parseLocal(t, readDatagram(t, conn)); pri != 3<<3|3 || text != `msg=after k=v` {
		t.Errorf("record after connecting: <%d> %q, want <27> msg=after k=v", pri, text)
	}
	out := stderr.String()
	if n := countNotes(out, "syslog unreachable"); n != 1 {
		t.Errorf("%d unreachable warnings, want 1:\n%s", n, out)
	}
	if n := countNotes(out, "syslog connected"); n != 1 {
		t.Errorf("%d connected notes, want 1:\n%s", n, out)
	}
	if !s.Connected() {
		t.Error("Connected() = false after delivering")
	}
}

// TestLocalStreamSocket checks a local syslog that listens on a stream
// socket (as some syslog daemons do) rather than a datagram one.
func TestLocalStreamSocket(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "log")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	s, err := NewSyslog(context.Background(), Options{Priority: 8, Tag: "st", LocalPaths: []string{sock}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ln.(*net.UnixListener).SetDeadline(time.Now().Add(5 * time.Second))
	c, err := ln.Accept()
	if err != nil {
		t.Fatalf("no connection on the stream socket: %v", err)
	}
	defer c.Close()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	r := bufio.NewReader(c)
	s.Err("boom")
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("reading: %v", err)
		}
		if pri, tag, text := parseLocal(t, line); text == "boom" {
			if pri != 11 || tag != "st" {
				t.Errorf("<%d> %s, want <11> st", pri, tag)
			}
			break
		}
	}
}

// TestTCPSyslogReconnects runs a TCP syslog that is absent at start,
// appears, drops the connection and is still listening: the client warns
// once, connects, notes the failed write once, and reconnects.
func TestTCPSyslogReconnects(t *testing.T) {
	addr := "127.0.0.1:" + strconv.Itoa(testenv.FreePort(t))
	var stderr testenv.SyncBuffer
	log, closer, err := New(context.Background(), &stderr, slog.LevelInfo, fast(Options{Priority: 14, Tag: "t", Network: "tcp", Address: addr}))
	if err != nil {
		t.Fatal(err)
	}
	defer closer.Close()
	if !testenv.WaitFor(5*time.Second, func() bool { return countNotes(stderr.String(), "syslog unreachable") == 1 }) {
		t.Fatalf("no warning for the absent syslog:\n%s", stderr.String())
	}

	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accept := func() (net.Conn, *bufio.Reader) {
		t.Helper()
		ln.(*net.TCPListener).SetDeadline(time.Now().Add(5 * time.Second))
		c, err := ln.Accept()
		if err != nil {
			t.Fatalf("the client did not connect: %v\n%s", err, stderr.String())
		}
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		return c, bufio.NewReader(c)
	}
	readLine := func(r *bufio.Reader) []string {
		t.Helper()
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("reading a message: %v", err)
		}
		m := networkRE.FindStringSubmatch(line)
		if m == nil {
			t.Fatalf("message %q not in <PRI>TIME HOST TAG[PID]: MSG form", line)
		}
		return m
	}

	c1, r1 := accept()
	if m := readLine(r1); m[1] != "14" || m[3] != "t" || !strings.HasPrefix(m[5], `msg="syslog connected"`) {
		t.Fatalf("first message %q, want <14> from t, the connected note", m[0])
	}
	log.Warn("one")
	if m := readLine(r1); m[1] != "12" || m[5] != "msg=one" {
		t.Errorf("record %q, want <12> msg=one", m[0])
	}

	// The server drops the connection; writes fail within a few records
	// (the first may still reach the closed socket's buffer).
	c1.Close()
	for i := 0; i < 500 && countNotes(stderr.String(), "syslog write failed") == 0; i++ {
		log.Info("probe", "i", i)
		time.Sleep(2 * time.Millisecond)
	}
	if n := countNotes(stderr.String(), "syslog write failed"); n != 1 {
		t.Fatalf("%d write-failed notes, want 1:\n%s", n, stderr.String())
	}
	_, r2 := accept()
	if m := readLine(r2); !strings.HasPrefix(m[5], `msg="syslog connected"`) {
		t.Errorf("after reconnecting: %q, want the connected note", m[0])
	}
	log.Error("two")
	if m := readLine(r2); m[1] != "11" || m[5] != "msg=two" {
		t.Errorf("record %q, want <11> msg=two", m[0])
	}
	out := stderr.String()
	if u, c, f := countNotes(out, "syslog unreachable"), countNotes(out, "syslog connected"), countNotes(out, "syslog write failed"); u != 1 || c != 2 || f != 1 {
		t.Errorf("notes: %d unreachable, %d connected, %d write failed; want 1, 2, 1:\n%s", u, c, f, out)
	}
}

// TestUDPSyslogAppearsLater sends to a UDP port with no listener: the
// datagrams are lost (counted), with no reconnect notes; once a server
// listens, records arrive in the network format.
func TestUDPSyslogAppearsLater(t *testing.T) {
	probe, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := probe.LocalAddr().String()
	probe.Close()

	var stderr testenv.SyncBuffer
	s, err := NewSyslog(context.Background(), fast(Options{Priority: 25, Tag: "u", Network: "udp", Address: addr}),
		slog.New(slog.NewTextHandler(&stderr, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for i := 0; i < 20; i++ {
		s.Info("nobody listens")
		time.Sleep(2 * time.Millisecond)
	}
	srv, err := net.ListenPacket("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	buf := make([]byte, 64<<10)
	var got string
	for i := 0; i < 100 && got == ""; i++ {
		s.Err("hello")
		srv.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
		for {
			n, _, err := srv.ReadFrom(buf)
			if err != nil {
				break
			}
			if msg := string(buf[:n]); strings.HasSuffix(msg, ": hello\n") {
				got = msg
				break
			}
		}
	}
	m := networkRE.FindStringSubmatch(got)
	if m == nil {
		t.Fatalf("no record reached the UDP syslog (got %q)\n%s", got, stderr.String())
	}
	host, _ := os.Hostname()
	if m[1] != "27" || m[2] != host || m[3] != "u" {
		t.Errorf("message %q: want <27> from host %s, tag u", got, host)
	}
	if n := countNotes(stderr.String(), "syslog write failed"); n != 0 {
		t.Errorf("refused datagrams made %d reconnect notes:\n%s", n, stderr.String())
	}
}

// TestCloseFlushes checks that records queued before Close are sent.
func TestCloseFlushes(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "log")
	conn := listenUnixgram(t, sock)
	s, err := NewSyslog(context.Background(), Options{Priority: 8, Tag: "f", Network: "unixgram", Address: sock}, nil)
	if err != nil {
		t.Fatal(err)
	}
	readDatagram(t, conn) // the connected note
	for i := range 10 {
		s.Info("r" + strconv.Itoa(i))
	}
	s.Close()
	for i := range 10 {
		if _, _, text := parseLocal(t, readDatagram(t, conn)); text != "r"+strconv.Itoa(i) {
			t.Fatalf("message %d = %q after Close, want r%d", i, text, i)
		}
	}
}

// TestStopEndsTheLoop checks every way the client stops: Close returns
// promptly (even when dialling, waiting or writing to a reader that does
// not read), a second Close does nothing, and no goroutine is left.
func TestStopEndsTheLoop(t *testing.T) {
	stuck := func(t *testing.T) Options {
		// A TCP syslog that accepts and never reads: writes block once
		// the socket buffers are full.
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ln.Close() })
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				t.Cleanup(func() { c.Close() })
			}
		}()
		return Options{Priority: 8, Tag: "s", Network: "tcp", Address: ln.Addr().String()}
	}
	tests := []struct {
		name   string
		opts   func(t *testing.T) Options
		cancel bool // stop by the context instead of Close
	}{
		{"never reachable, long backoff", func(t *testing.T) Options {
			return Options{Priority: 8, Tag: "s", LocalPaths: []string{filepath.Join(t.TempDir(), "none")}, MinBackoff: time.Minute}
		}, false},
		{"reader that never reads", stuck, false},
		{"context cancelled while waiting", func(t *testing.T) Options {
			return Options{Priority: 8, Tag: "s", LocalPaths: []string{filepath.Join(t.TempDir(), "none")}, MinBackoff: time.Minute}
		}, true},
		{"context cancelled while writing", stuck, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := tt.opts(t)
			o.QueueLen = 4096
			base := runtime.NumGoroutine()
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			s, err := NewSyslog(ctx, o, nil)
			if err != nil {
				t.Fatal(err)
			}
			big := strings.Repeat("x", maxMessage)
			for range o.QueueLen { // 32 MiB: more than the socket buffers hold
				s.Info(big)
			}
			time.Sleep(100 * time.Millisecond) // let the loop dial and block; what follows must not depend on it
			start := time.Now()
			if tt.cancel {
				cancel()
				select {
				case <-s.done:
				case <-time.After(3 * time.Second):
					t.Fatal("the loop did not end when its context was cancelled")
				}
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			// Close gives the queue closeTimeout; the bound leaves a loaded
			// machine slack (CI once took 2.2 s) and stays below
			// writeTimeout, which a Close that waited for the stuck write
			// would take.
			if limit := 3 * closeTimeout; limit >= writeTimeout {
				t.Fatalf("closeTimeout %v and writeTimeout %v leave the test no bound", closeTimeout, writeTimeout)
			} else if d := time.Since(start); d > limit {
				t.Errorf("stopping took %v, want at most %v", d, limit)
			}
			if err := s.Close(); err != nil {
				t.Errorf("second Close = %v", err)
			}
			s.Info("after close") // must neither block nor panic
			if !testenv.WaitFor(3*time.Second, func() bool { return runtime.NumGoroutine() <= base }) {
				buf := make([]byte, 1<<20)
				t.Errorf("goroutines: %d before, %d after Close\n%s", base, runtime.NumGoroutine(), buf[:runtime.Stack(buf, true)])
			}
		})
	}
}

func BenchmarkSyslogHandler(b *testing.B) {
	h := NewSyslogHandler(discard{}, nil)
	log := slog.New(h).With("node", "h1")
	b.ReportAllocs()
	for b.Loop() {
		log.Info("capture done", "id", "abc", "packets", 10)
	}
}

type discard struct{}

func (discard) Err(string) error     { return nil }
func (discard) Warning(string) error { return nil }
func (discard) Info(string) error    { return nil }
func (discard) Debug(string) error   { return nil }
