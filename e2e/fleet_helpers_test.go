package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pcapdaemon/pcapdaemon/internal/testenv"
	"github.com/pcapdaemon/pcapdaemon/transport"
	"github.com/pcapdaemon/pcapdaemon/transport/redis"
)

// The fleet tests run several real daemons of different [general]
// hostname on one redis-server: presence, "nodes", "request -wait" for
// some of them, "cancel", and Ctrl-C of the real command.

// fleetKey signs the fleet tests' requests and cancels.
const fleetKey = "fleet-test-hmac-key"

// fleetDaemon is one daemon of a fleet test.
type fleetDaemon struct {
	*daemon
	name, dir, api string
}

// startFleet starts one daemon per name on the Redis server at redisPort,
// channel channel, each with its own local directory and HTTP API, the
// interface iface under the alias "main", and signed requests.
func startFleet(t *testing.T, redisPort int, channel, iface string, names ...string) []*fleetDaemon {
	t.Helper()
	var out []*fleetDaemon
	for _, name := range names {
		fd := &fleetDaemon{name: name, dir: t.TempDir()}
		port := testenv.FreePort(t)
		fd.api = apiURL(port)
		path := filepath.Join(t.TempDir(), "pcapdaemon.toml")
		writeConf(t, path, daemonConf{redisPort: redisPort, channel: channel, httpPort: port, localDir: fd.dir,
			hmacKey: fleetKey, aliases: [][2]string{{iface, "main"}}, general: []string{fmt.Sprintf("hostname = %q", name)}})
		fd.daemon = startDaemon(t, "-config", path)
		out = append(out, fd)
	}
	return out
}

// cliRun is one run of the binary's sub-command.
type cliRun struct {
	code           int
	stdout, stderr string
	took           time.Duration
}

// runCLI runs "pcapdaemon args..." with the test's environment, bounded by
// two minutes.
func runCLI(t *testing.T, args ...string) cliRun {
	t.Helper()
	return runCLIEnv(t, nil, args...)
}

// runCLIEnv is runCLI with the environment environ (nil: the test's).
func runCLIEnv(t *testing.T, environ []string, args ...string) cliRun {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, daemonBinary(t), args...)
	cmd.Env = environ
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	start := time.Now()
	err := cmd.Run()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatalf("%v: %v", args, err)
	}
	return cliRun{code: cmd.ProcessState.ExitCode(), stdout: out.String(), stderr: errb.String(), took: time.Since(start)}
}

// bgCLI is a run of the binary started in the background, for signals.
type bgCLI struct {
	cmd         *exec.Cmd
	out, errOut *testenv.SyncBuffer
	done        chan struct{}
}

// startCLI starts "pcapdaemon args..." and kills it (by its PID) if it is
// still running when the test ends.
func startCLI(t *testing.T, args ...string) *bgCLI {
	t.Helper()
	b := &bgCLI{cmd: exec.Command(daemonBinary(t), args...), out: new(testenv.SyncBuffer), errOut: new(testenv.SyncBuffer), done: make(chan struct{})}
	b.cmd.Stdout, b.cmd.Stderr = b.out, b.errOut
	if err := b.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { _ = b.cmd.Wait(); close(b.done) }()
	t.Cleanup(func() {
		select {
		case <-b.done:
		default:
			_ = b.cmd.Process.Kill()
			<-b.done
		}
	})
	return b
}

// wait waits up to d for the command to exit and returns its status, or
// -1 when it is still running.
func (b *bgCLI) wait(d time.Duration) int {
	select {
	case <-b.done:
		return b.cmd.ProcessState.ExitCode()
	case <-time.After(d):
		return -1
	}
}

// interrupt sends SIGINT, as Ctrl-C does.
func (b *bgCLI) interrupt(t *testing.T) {
	t.Helper()
	if err := b.cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
}

// waitRunning waits until every agent named has request id among its
// running captures, as its presence record tells (renewed every 10s).
func waitRunning(t *testing.T, addr, channel, id string, names []string) {
	t.Helper()
	c, err := redis.Dial(redis.Options{Addrs: []string{addr}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var running []string
	ok := testenv.WaitFor(30*time.Second, func() bool {
		nodes, err := c.Nodes(context.Background(), channel)
		if err != nil {
			return false
		}
		running = nil
		for _, n := range nodes {
			for _, r := range n.Running {
				if r.ID == id {
					running = append(running, n.Node)
				}
			}
		}
		return len(running) == len(names)
	})
	if !ok {
		sort.Strings(running)
		t.Fatalf("request %s runs on %v, want %d agents", id, running, len(names))
	}
}

// publishSigned publishes msg signed with fleetKey and returns when it
// was published.
func publishSigned(t *testing.T, c *redis.Client, channel string, msg []byte, want int64) time.Time {
	t.Helper()
	at := time.Now()
	publish(t, c, channel, transport.Sign([]byte(fleetKey), msg, at), want)
	return at
}

// latencies summarises arrival times after t0: first, median and last.
func latencies(t0 time.Time, at []time.Time) string {
	d := make([]time.Duration, len(at))
	for i, a := range at {
		d[i] = a.Sub(t0)
	}
	sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
	if len(d) == 0 {
		return "none"
	}
	r := func(x time.Duration) string { return x.Round(100 * time.Microsecond).String() }
	return fmt.Sprintf("first %s, median %s, last %s (%d results)", r(d[0]), r(d[len(d)/2]), r(d[len(d)-1]), len(d))
}

// procCPU returns the user and system CPU time pid has used.
func procCPU(t *testing.T, pid int) time.Duration {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatal(err)
	}
	// The fields after the command name (which may hold spaces) start
	// after its closing parenthesis; utime and stime are the 14th and
	// 15th fields, in clock ticks (100 a second on Linux).
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+2:]))
	var u, s int64
	fmt.Sscan(f[11], &u)
	fmt.Sscan(f[12], &s)
	return time.Duration(u+s) * 10 * time.Millisecond
}
