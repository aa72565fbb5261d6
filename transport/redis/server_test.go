package redis

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/pcapdaemon/pcapdaemon/internal/testenv"
)

const redisServer = "/usr/bin/redis-server"

// server is a real redis-server on a loopback port, owned by one test.
type server struct {
	t    testing.TB
	port int
	dir  string
	conf string
	tls  bool // listen with TLS (tls-port) instead of plain TCP
	sent bool // run as a sentinel
	cmd  *exec.Cmd
	out  *testenv.SyncBuffer
}

// startServer starts redis-server on a free loopback port with the extra
// config lines given, and stops it when the test ends.
func startServer(t testing.TB, extra ...string) *server {
	t.Helper()
	s := newServer(t, extra...)
	s.start()
	return s
}

// newServer prepares a server without starting it.
func newServer(t testing.TB, extra ...string) *server {
	t.Helper()
	if _, err := os.Stat(redisServer); err != nil {
		testenv.Skip(t, "redis-server is not installed (apt-get install redis-server)")
	}
	s := &server{t: t, port: testenv.FreePort(t), dir: t.TempDir()}
	for _, l := range extra {
		if strings.HasPrefix(l, "tls-cert-file") {
			s.tls = true
		}
		if strings.HasPrefix(l, "sentinel ") {
			s.sent = true
		}
	}
	portLine := fmt.Sprintf("port %d", s.port)
	if s.tls {
		portLine = fmt.Sprintf("port 0\ntls-port %d", s.port)
	}
	base := []string{portLine, "bind 127.0.0.1", "dir " + s.dir, "daemonize no", `logfile ""`}
	if slices.Contains(extra, "cluster-enabled yes") {
		// The cluster bus port defaults to port+10000, which may lie in
		// the ephemeral range and be taken (CI once found it so): a free
		// one of its own.
		base = append(base, fmt.Sprintf("cluster-port %d", testenv.FreePort(t)))
	}
	if !s.sent {
		base = append(base, `save ""`, "appendonly no")
	}
	conf := strings.Join(append(base, extra...), "\n") + "\n"
	s.conf = filepath.Join(s.dir, "redis.conf")
	if err := os.WriteFile(s.conf, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.kill)
	return s
}

func (s *server) addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port)) }

// start runs redis-server and waits until it accepts connections.
func (s *server) start() {
	s.t.Helper()
	s.out = new(testenv.SyncBuffer)
	s.cmd = exec.Command(redisServer, s.conf)
	if s.sent {
		s.cmd.Args = append(s.cmd.Args, "--sentinel")
	}
	s.cmd.Stdout = s.out
	s.cmd.Stderr = s.cmd.Stdout
	if err := s.cmd.Start(); err != nil {
		s.t.Fatalf("starting redis-server: %v", err)
	}
	if err := testenv.WaitTCP(context.Background(), s.addr(), 10*time.Second); err != nil {
		s.kill()
		s.t.Fatalf("redis-server on %s not accepting connections: %v\n%s", s.addr(), err, s.out.String())
	}
}

// kill stops the server this test started (by its PID only) and waits.
func (s *server) kill() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	s.cmd.Process.Signal(syscall.SIGKILL)
	s.cmd.Wait()
	s.cmd = nil
}

// deadPort listens on addr in place of a server that is down: it accepts
// each connection and closes it at once, counting them, so that a test can
// wait for the client's reconnect attempts instead of sleeping. free
// frees the port for the server again.
func deadPort(t testing.TB, addr string) (attempts func() int, free func()) {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("listen on %s in place of the server: %v", addr, err)
	}
	var mu sync.Mutex
	n := 0
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
			mu.Lock()
			n++
			mu.Unlock()
		}
	}()
	var once sync.Once
	stop := func() { once.Do(func() { ln.Close(); <-done }) }
	t.Cleanup(stop)
	return func() int { mu.Lock(); defer mu.Unlock(); return n }, stop
}
