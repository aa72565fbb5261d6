package testenv

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Redis is a real redis-server started by a test on a loopback port, with
// persistence off and its files in a temporary directory.
type Redis struct {
	t    testing.TB
	Port int
	Addr string // 127.0.0.1:Port
	args []string
	dir  string

	mu  sync.Mutex
	cmd *exec.Cmd
	log bytes.Buffer
}

// StartRedis starts redis-server (skipping, or failing in CI, when it is not
// installed) and stops it when the test ends. extra are more server options,
// e.g. "--requirepass", "secret".
func StartRedis(t testing.TB, extra ...string) *Redis {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		Skip(t, "redis-server not installed (apt-get install redis-server)")
		return nil
	}
	r := &Redis{t: t, Port: FreePort(t), dir: t.TempDir()}
	r.Addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(r.Port))
	r.args = append([]string{"--port", strconv.Itoa(r.Port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", r.dir}, extra...)
	r.args = append([]string{bin}, r.args...)
	r.Start()
	t.Cleanup(r.Stop)
	return r
}

// Start (re)starts the server on the same port and waits until it answers.
func (r *Redis) Start() {
	r.t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cmd != nil {
		return
	}
	cmd := exec.Command(r.args[0], r.args[1:]...)
	cmd.Stdout, cmd.Stderr = &r.log, &r.log
	if err := cmd.Start(); err != nil {
		r.t.Fatalf("start redis-server: %v", err)
	}
	r.cmd = cmd
	if err := WaitTCP(context.Background(), r.Addr, 10*time.Second); err != nil {
		r.t.Fatalf("redis-server on %s did not come up: %v\n%s", r.Addr, err, r.log.String())
	}
}

// Stop kills the server (the process this helper started, by its PID) and
// waits for it to exit.
func (r *Redis) Stop() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cmd == nil {
		return
	}
	_ = r.cmd.Process.Kill()
	_ = r.cmd.Wait()
	r.cmd = nil
}

// CLI runs redis-cli against the server and returns its trimmed output.
func (r *Redis) CLI(args ...string) (string, error) {
	all := append([]string{"-h", "127.0.0.1", "-p", strconv.Itoa(r.Port)}, args...)
	out, err := exec.Command("redis-cli", all...).CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("redis-cli %s: %v: %s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out)), nil
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago, for
// a server the test starts next. It is taken below the kernel's ephemeral
// range: a port the kernel hands out for :0 is also what it gives the
// outgoing connections of everything running meanwhile (two dozen daemons
// connecting to Redis), which may take it before the server binds it.
// Ports are handed out in turn from a random start, so one test process
// never gets the same port twice; another process's are refused by the
// listen check.
func FreePort(t testing.TB) int {
	t.Helper()
	for range freePortTries {
		p := freePorts.next()
		l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p)))
		if err != nil {
			continue
		}
		l.Close()
		return p
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// freePortTries bounds FreePort's search below the ephemeral range.
const freePortTries = 200

// portTurns hands out ports in turn from a random start in [low, high):
// below the ephemeral range, above the ports of well-known services.
type portTurns struct {
	once      sync.Once
	mu        sync.Mutex
	low, high int
	cur       int
}

// freePorts is the test process's turn of ports: the one piece of shared
// state of this package, since FreePort's callers are the test functions
// of a package, which share nothing else.
var freePorts portTurns

func (pt *portTurns) next() int {
	pt.once.Do(func() {
		pt.low, pt.high = 10000, 32768
		if b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range"); err == nil {
			if f := strings.Fields(string(b)); len(f) == 2 {
				if lo, err := strconv.Atoi(f[0]); err == nil && lo > pt.low+1000 {
					pt.high = lo
				}
			}
		}
		pt.cur = pt.low + rand.IntN(pt.high-pt.low)
	})
	pt.mu.Lock()
	defer pt.mu.Unlock()
	p := pt.cur
	pt.cur++
	if pt.cur >= pt.high {
		pt.cur = pt.low
	}
	return p
}

// WaitFor polls cond every 20ms until it is true or d passes.
func WaitFor(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// ReadDirNames lists the names in dir (nil when it cannot be read).
func ReadDirNames(dir string) []string {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	var names []string
	for _, e := range ents {
		names = append(names, filepath.Join(dir, e.Name()))
	}
	return names
}
