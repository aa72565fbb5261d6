package logging

import (
	"bytes"
	"log/slog"
	"net"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pcapdaemon/pcapdaemon/config"
)

// TestSyslog sends records to a real unixgram socket, as a local syslog
// daemon would receive them, and checks priority, tag and text.
func TestSyslog(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "log")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()

	var stderr bytes.Buffer
	// 25 = LOG_DAEMON (3<<3) | LOG_ALERT (1), the seed's example.
	log, closer, err := New(&stderr, slog.LevelDebug, config.Syslog{Priority: 25, Tag: "pcapdaemon", Network: "unixgram", Address: sock})
	if err != nil {
		t.Fatal(err)
	}
	defer closer.Close()
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
	buf := make([]byte, 4096)
	for _, tt := range tests {
		conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		n, err := conn.Read(buf)
		if err != nil {
			t.Fatalf("reading syslog datagram: %v", err)
		}
		got := string(buf[:n])
		re := regexp.MustCompile(`^<(\d+)>[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d pcapdaemon\[\d+\]: (.*?)\n?$`)
		m := re.FindStringSubmatch(got)
		if m == nil {
			t.Fatalf("syslog datagram %q not in <PRI>TIME TAG[PID]: MSG form", got)
		}
		if m[1] != strconv.Itoa(tt.pri) {
			t.Errorf("datagram %q: priority want %d", got, tt.pri)
		}
		if m[2] != tt.text {
			t.Errorf("message = %q, want %q", m[2], tt.text)
		}
	}
	if !strings.Contains(stderr.String(), `level=ERROR msg="capture failed" node=h1 req.id=a1`) {
		t.Errorf("stderr missing the error record:\n%s", stderr.String())
	}
}

func TestStderrOnly(t *testing.T) {
	var stderr bytes.Buffer
	log, closer, err := New(&stderr, slog.LevelInfo, config.Syslog{Tag: "x"})
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

func TestSyslogUnreachable(t *testing.T) {
	_, _, err := New(&bytes.Buffer{}, slog.LevelInfo, config.Syslog{Priority: 25, Tag: "t", Network: "unixgram", Address: filepath.Join(t.TempDir(), "none")})
	if err == nil || !strings.Contains(err.Error(), "none") {
		t.Fatalf("New with no syslog listening = %v, want an error naming the address", err)
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
